import pandas as pd
import pytest

from pipeline.nlp import pipeline_for
from pipeline.records import Segment
from pipeline.suggest import Suggester, SuggestionModel, featurize
from pipeline.suggest.features import code_frame, direction_frame
from pipeline.suggest.rules import CodebookRules, cue_counts, cue_direction


@pytest.fixture(scope="module")
def rules(codebook):
    return CodebookRules(codebook)


def _doc(config, text, lang="id"):
    return pipeline_for(lang, config.section("nlp"))(text)


def test_rules_match_keywords_of_both_languages_in_mixed_text(config, rules):
    doc = _doc(config, "Jadi kita udah bikin workshop, but the budget-nya gak cukup buat pelatihan lanjutan.")
    hits = {code: [s.text for s in spans] for code, spans in rules(doc).hits.items()}
    assert hits["training"] == ["workshop", "pelatihan"]
    assert hits["funding"] == ["budget"]


def test_rules_match_through_lemmas_clitics_and_prefixes(config, rules):
    doc = _doc(config, "Anggarannya dipangkas, para mentornya pindah, dan sertifikat halalnya belum keluar.")
    hits = rules(doc).hits
    assert [s.text for s in hits["funding"]] == ["Anggaran"]  # clitic split off: Anggaran + nya
    assert [s.text for s in hits["training"]] == ["mentor"]
    assert {s.text for s in hits["certification"]} == {"sertifikat", "halal"}


@pytest.mark.parametrize(
    "text, lang, expected",
    [
        ("Tidak ada dukungan dari pimpinan.", "id", "constraining"),
        ("Kurang dukungan dari dinas.", "id", "constraining"),
        ("Pameran itu sangat membantu kami.", "id", "supporting"),
        ("Izinnya gak sulit kok.", "id", "supporting"),
        ("The budget was not a problem at all.", "en", "supporting"),
        ("There was a lack of support from the ministry.", "en", "constraining"),
        ("The fair helped us find buyers.", "en", "supporting"),
    ],
)
def test_rules_negation_flips_direction(config, rules, text, lang, expected):
    doc = _doc(config, text, lang)
    assert cue_direction(cue_counts(rules(doc).cues)) == expected


def _segment(i, text, lang="id", speaker="Ani"):
    return Segment(id=f"d:{i}", document_id="d", index=i, start=0, end=len(text), text=text, speaker=speaker, language=lang)


def test_suggester_rules_only_gives_code_direction_type_and_evidence(config, codebook):
    suggester = Suggester(codebook, None, config.section("suggest"))
    segment = _segment(0, "Anggaran program dipotong, jadi pelatihan untuk UMKM ditunda.")
    items = [(segment, _doc(config, segment.text))]
    by_code = {s.code: s for s in suggester(items)}
    assert set(by_code) == {"funding", "training"}
    funding = by_code["funding"]
    assert (funding.direction, funding.factor_type, funding.source, funding.evidence) == (
        "constraining", "funding", "rule", "Anggaran")
    assert funding.segment_id == "d:0"


def test_suggester_skips_the_interviewers_turns(config, codebook):
    suggester = Suggester(codebook, None, config.section("suggest"))
    segment = _segment(0, "Bagaimana dengan anggaran pelatihan?", speaker="Pewawancara")
    assert suggester([(segment, _doc(config, segment.text))]) == []


def test_suggester_with_model_learns_codes_and_explains(config, codebook, rules):
    texts = (
        ["Anggaran kami dipotong lagi tahun ini.", "Dana APBD untuk program ini kurang."] * 6
        + ["Pelatihan pengemasan sangat membantu.", "Magang di pabrik Jepang membuka wawasan."] * 6
        + ["Kami ngobrol soal cuaca saja.", "Tidak ada yang istimewa hari itu."] * 6
    )
    codes = [{"funding"}] * 12 + [{"training"}] * 12 + [set()] * 12
    features = [featurize(_doc(config, t), rules) for t in texts]
    ids = [c.id for c in codebook.codable()]
    X = code_frame(features, ids)
    Y = pd.DataFrame({c: [int(c in s) for s in codes] for c in ids})
    pairs = [(f, c) for f, s in zip(features, codes) for c in s]
    directions = ["constraining" if c == "funding" else "supporting" for _, c in pairs]
    model = SuggestionModel(min_examples=5).fit(X, Y, direction_frame(pairs), directions)
    assert set(model.classifiers_) == {"funding", "training"}
    assert all(0.1 <= t <= 0.9 for t in model.thresholds_.values())
    suggester = Suggester(codebook, model, config.section("suggest"))
    [proposals] = suggester.propose([featurize(_doc(config, "Dana APBD dipotong."), rules)])
    top = proposals[0]
    assert top["code"] == "funding" and top["direction"] == "constraining"
    assert top["source"] == "rule+model" and 0.5 < top["score"] <= 1.0
    explanation = model.explain(code_frame([featurize(_doc(config, "Dana APBD dipotong."), rules)], ids), "funding")
    assert set(explanation[0]) <= {"dana", "apbd", "potong", "dana apbd", "dipotong"} and explanation[0]
