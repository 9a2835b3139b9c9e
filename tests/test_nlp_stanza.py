"""The Stanza backend with the shipped models in ``models/stanza``, and the training helpers."""

from __future__ import annotations

import shutil

import pytest

from pipeline.config import PROJECT_ROOT
from tests.conftest import SHARED_DATA
from pipeline.errors import ModelError
from pipeline.nlp.stanza_backend import StanzaBackend, verify_models
from pipeline.nlp.evaluate import to_conllu
from pipeline.train_stanza import normalise_sentence

MODEL_DIR = PROJECT_ROOT / "models" / "stanza"
UD_DIR = SHARED_DATA / "ud"

CLITICS = "Programnya sudah berjalan, apakah kamu tahu meskipun belum lama? Rumahnya dekat."
COLLOQUIAL = "Eh gak tau deh, aku udah capek banget sama kerjaannya."


@pytest.fixture(scope="module")
def backend() -> StanzaBackend:
    return StanzaBackend(MODEL_DIR)


def surface_groups(doc):
    """Tokens grouped by ``._.surface_id``, in order."""
    groups: dict[int, list] = {}
    for token in doc:
        groups.setdefault(token._.surface_id, []).append(token)
    return list(groups.values())


@pytest.mark.parametrize("text", [
    CLITICS,
    COLLOQUIAL,
    "  Dinas  Pendidikan\tKota Surabaya menjelaskan programnya.\n\nAnggarannya Rp 1.500.000,00 .  ",
    "Saya pakai aplikasinya tiap hari, di-upgrade terus sama timnya!!",
])
def test_stanza_round_trips_text_and_offsets(backend, text):
    doc = backend(text)
    assert doc.text == text
    for token in doc:
        assert text[token.idx:token.idx + len(token.text)] == token.text
        assert isinstance(token._.surface_id, int)
    for group in surface_groups(doc):  # words of one written token are adjacent, no gaps
        assert all(not t.whitespace_ for t in group[:-1])
        assert all(a.idx + len(a.text) == b.idx for a, b in zip(group, group[1:]))


def test_stanza_splits_clitics_into_words_sharing_a_surface_id(backend):
    doc = backend(CLITICS)
    words = [t.text for t in doc]
    assert words[:2] == ["Program", "nya"]
    assert doc[0]._.surface_id == doc[1]._.surface_id
    assert doc[1].lemma_ in {"nya", "dia"} and doc[1].pos_ == "PRON"
    rumah = next(t for t in doc if t.text == "Rumah")
    assert rumah.nbor(1).text == "nya" and rumah.nbor(1)._.surface_id == rumah._.surface_id
    assert len({t._.surface_id for t in doc}) < len(doc)


def test_stanza_doc_uses_the_shared_blank_vocab(backend):
    from pipeline.nlp.fast import build_pipeline

    doc = backend(CLITICS)
    assert doc.vocab is backend.nlp.vocab
    assert backend.nlp is build_pipeline("id", *(str(p) for p in _forms_paths()))


def _forms_paths():
    from pipeline.config import load_config

    nlp = load_config().section("nlp")
    return nlp["colloquial_lexicon"], nlp["fillers"]


def test_stanza_lemmas_and_pos_of_clear_words(backend):
    doc = backend("Mereka membeli buku baru di pasar kemarin.")
    by_text = {t.text: t for t in doc}
    assert by_text["membeli"].lemma_ == "beli" and by_text["membeli"].pos_ == "VERB"
    assert by_text["buku"].pos_ == "NOUN" and by_text["buku"].lemma_ == "buku"
    assert by_text["di"].pos_ == "ADP"
    assert by_text["Mereka"].pos_ == "PRON"
    assert by_text["."].pos_ == "PUNCT"
    assert all(t.lemma_ == t.lemma_.lower() for t in doc)


def test_stanza_norms_and_fillers_keep_stanza_lemmas(backend):
    doc = backend(COLLOQUIAL)
    by_text = {t.text: t for t in doc}
    assert by_text["gak"].norm_ == "tidak"
    assert by_text["udah"].norm_ == "sudah"
    assert by_text["Eh"]._.is_filler
    assert not by_text["capek"]._.is_filler
    stanza_doc = backend.pipeline_(COLLOQUIAL)
    stanza_lemmas = [w.lemma.lower() for s in stanza_doc.sentences for w in s.words]
    assert [t.lemma_ for t in doc if not t.is_space] == stanza_lemmas


def test_stanza_sentences_follow_stanza(backend):
    doc = backend("Saya pergi ke pasar. Dia tinggal di rumah bersama ibunya.")
    sentences = [s.text for s in doc.sents]
    assert sentences == ["Saya pergi ke pasar. ", "Dia tinggal di rumah bersama ibunya."] or \
        sentences == ["Saya pergi ke pasar.", "Dia tinggal di rumah bersama ibunya."]


def test_stanza_pipe_matches_call_and_handles_empty_text(backend):
    texts = ["", "   ", CLITICS, "\n", COLLOQUIAL]
    docs = list(backend.pipe(texts, batch_size=2))
    assert [d.text for d in docs] == texts
    assert len(docs[0]) == 0
    assert all(t.is_space for t in docs[1]) and all(t.is_space for t in docs[3])
    single = backend(CLITICS)
    assert [(t.text, t.lemma_, t.pos_) for t in docs[2]] == [(t.text, t.lemma_, t.pos_) for t in single]
    spaces = backend(" ")  # white space alone: one sentence of one space token
    assert [(s.start, s.end, s.text) for s in spaces.sents] == [(0, 1, " ")] and [t.is_space for t in spaces] == [True]


def test_stanza_checksum_mismatch_names_file_and_fix(tmp_path):
    copy = tmp_path / "stanza"
    shutil.copytree(MODEL_DIR, copy)
    with open(copy / "id_pos.pt", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="id_pos.pt") as error:
        StanzaBackend(copy)
    assert "pilah train stanza" in str(error.value)


def test_stanza_missing_model_names_file_and_fix(tmp_path):
    with pytest.raises(ModelError, match="meta.json") as error:
        verify_models(tmp_path)
    assert "pilah train stanza" in str(error.value)
    copy = tmp_path / "stanza"
    shutil.copytree(MODEL_DIR, copy)
    (copy / "id_lemma.pt").unlink()
    with pytest.raises(ModelError, match=r"id_lemma.pt: missing"):
        verify_models(copy)


def test_stanza_meta_records_provenance():
    meta = verify_models(MODEL_DIR)
    assert {"stanza", "torch", "python"} <= set(meta["versions"])
    assert all(s["licence"] == "CC BY-SA 4.0" and len(s["sha256"]) == 64 for s in meta["data"]["sources"])
    assert not any("test" in s["file"] for s in meta["data"]["sources"])
    assert set(meta["test_metrics"]) == {"id_gsd-ud-test.conllu", "id_csui-ud-test.conllu"}


def test_train_stanza_normalise_drops_xpos_and_lowercases_lemmas():
    lines = ["# text = Bappenas-nya", "1-2\tBappenasnya\t_\t_\t_\t_\t_\t_\t_\t_",
             "1\tBappenas\tBappenas\tPROPN\tNNP\t_\t0\troot\t_\t_",
             "2\tnya\tnya\tPRON\tPRP\tPerson=3\t1\tnmod\t_\t_"]
    out = normalise_sentence(lines)
    assert out[:2] == lines[:2]
    assert out[2].split("\t")[2:5] == ["bappenas", "PROPN", "_"]
    assert out[3].split("\t")[4:6] == ["_", "_"]  # features dropped by default
    assert normalise_sentence(lines, keep_features=True)[3].split("\t")[4:6] == ["_", "Person=3"]


def test_train_stanza_writes_multiword_tokens_by_surface_id(backend):
    doc = backend("Programnya bagus.")
    sentence = to_conllu(doc).strip().splitlines()
    assert sentence[0].split("\t")[:2] == ["1-2", "Programnya"]
    assert [line.split("\t")[1] for line in sentence[1:]] == ["Program", "nya", "bagus", "."]


def test_train_stanza_scores_lemmas_against_lowercased_gold_too(tmp_path):
    from pipeline.train_stanza import score_model

    gold = tmp_path / "tiny.conllu"
    gold.write_text(
        "# text = Saya tinggal di Jakarta.\n"
        "1\tSaya\tsaya\tPRON\t_\t_\t2\tnsubj\t_\t_\n"
        "2\ttinggal\ttinggal\tVERB\t_\t_\t0\troot\t_\t_\n"
        "3\tdi\tdi\tADP\t_\t_\t4\tcase\t_\t_\n"
        "4\tJakarta\tJakarta\tPROPN\t_\t_\t2\tobl\t_\tSpaceAfter=No\n"
        "5\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_\n\n",
        encoding="utf-8",
    )
    scores = score_model(MODEL_DIR, [gold])["tiny.conllu"]
    assert scores["tokens_f1"] == 100.0
    assert scores["lemma_acc"] == 80.0  # Pilah's lemma is "jakarta"
    assert scores["lemma_acc_lowercase_gold"] == 100.0


@pytest.mark.shared_data
def test_build_pool_brings_csui_tags_to_gsd_conventions(tmp_path):
    from pipeline.train_stanza import SHORT_NAME, TREEBANK, build_pool, read_conllu

    counts = build_pool(UD_DIR, tmp_path, seed=1, dev_fraction=0.1, harmonise_upos=True)
    forms = counts["harmonised"]["forms"]
    # conventions where the treebanks disagree, read off GSD dev vs CSUI train
    assert forms["kata"] == "VERB->NOUN"  # "kata dia": GSD NOUN, CSUI VERB
    assert forms["sebesar"] == "NOUN->ADP"
    assert counts["harmonised"]["words_relabelled"] > 300
    pooled = [line.split("\t") for path in ("train", "dev")
              for sentence in read_conllu(tmp_path / TREEBANK / f"{SHORT_NAME}-ud-{path}.conllu")
              for line in sentence if line[:1].isdigit() and "-" not in line.split("\t")[0]]
    kata = [c[3] for c in pooled if c[1] == "kata"]
    assert kata.count("NOUN") > 100 and kata.count("VERB") == 1  # the one VERB is GSD's own
    # a common noun inside a name becomes PROPN, as GSD tags names: "Kementerian Keuangan"
    keuangan = [c[3] for c in pooled if c[1] == "Keuangan"]  # CSUI: 19 times, all NOUN
    assert len(keuangan) == 19 and keuangan.count("PROPN") >= 15
    # "Rp" before a number is not inside a name and stays NOUN
    assert {c[3] for c in pooled if c[1] == "Rp"} == {"NOUN"}


@pytest.mark.shared_data
def test_build_pool_leaves_tags_alone_without_harmonising(tmp_path):
    from pipeline.train_stanza import SHORT_NAME, TREEBANK, build_pool, read_conllu

    counts = build_pool(UD_DIR, tmp_path, seed=1, dev_fraction=0.1)
    assert "harmonised" not in counts
    kata = [line.split("\t")[3] for name in ("train", "dev")
            for s in read_conllu(tmp_path / TREEBANK / f"{SHORT_NAME}-ud-{name}.conllu")
            for line in s if line.split("\t")[1:2] == ["kata"]]
    assert kata.count("VERB") > 100  # CSUI's convention, as annotated
