import pandas as pd
import pytest

from pipeline.nlp import pipeline_for
from pipeline.records import Segment
from pipeline.suggest import Suggester, SuggestionModel, featurize
from pipeline.suggest.features import code_frame, direction_frame, label_frame
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
    Y = label_frame([{c: "constraining" if c == "funding" else "supporting" for c in s} for s in codes], ids)
    model = SuggestionModel(min_examples=5).fit(X, Y)
    assert set(model.learned_) == {"funding", "training"}
    assert all(0.1 <= t <= 0.9 for t in model.thresholds_.values())
    suggester = Suggester(codebook, model, config.section("suggest"))
    [proposals] = suggester.propose([featurize(_doc(config, "Dana APBD dipotong."), rules)])
    top = proposals[0]
    assert top["code"] == "funding" and top["direction"] == "constraining"
    # the keywords find every funding segment of the training rows: the model is not
    # better than the rules there, so the rules suggest it
    assert model.sources_["funding"]["use"] == "rules" and model.sources_["funding"]["rules"]["f1"] == 1.0
    assert top["source"] == "rule" and 0.3 < top["score"] < 0.9 and top["confidence"] == ""
    explanation = model.explain(code_frame([featurize(_doc(config, "Dana APBD dipotong."), rules)], ids), "funding")
    assert set(explanation[0]) <= {"dana", "apbd", "potong", "dana apbd", "dipotong"} and explanation[0]


@pytest.mark.parametrize(
    "text, lang, marked",
    [
        # the negator's scope: three words, ended by punctuation or a contrast
        ("Tidak ada dukungan dari dinas, tapi pelatihan bagus.", "id",
         "tidak NOT_ada NOT_dukungan NOT_dari dinas tapi pelatihan bagus"),
        ("Izinnya gak sulit kok.", "id", "izin nya tidak NOT_sulit"),  # "kok" is a filler
        ("There was no support, but the fair helped.", "en",
         "there was no NOT_support but the fair helped"),
    ],
)
def test_featurize_marks_the_scope_of_negation(config, rules, text, lang, marked):
    assert featurize(_doc(config, text, lang), rules).marked == marked


def test_featurize_splits_clauses_at_punctuation_and_contrast(config, rules):
    features = featurize(_doc(config, "Kamarnya bersih, tapi AC-nya rusak dan wifi lambat."), rules)
    assert [text for _, _, text in features.clauses] == ["kamar nya bersih", "ac -nya rusak dan wifi lambat"]
    doc = features.doc
    assert [doc[start:end].text for start, end, _ in features.clauses] == ["Kamarnya bersih", "AC-nya rusak dan wifi lambat"]


def _review_model(config, rules):
    """A model trained on reviews that praise one thing and fault another in one sentence."""
    rows = [
        ("Kamarnya bersih, tapi AC-nya rusak.", {"clean": "supporting", "ac": "constraining"}),
        ("AC dingin sekali, tapi kamarnya kotor.", {"ac": "supporting", "clean": "constraining"}),
        ("Kamar bersih dan wangi.", {"clean": "supporting"}),
        ("Kamar kotor dan bau.", {"clean": "constraining"}),
        ("AC-nya mati terus.", {"ac": "constraining"}),
        ("AC-nya sejuk.", {"ac": "supporting"}),
        ("Sarapannya enak.", {}),
        ("Lokasinya dekat stasiun.", {}),
    ] * 4
    features = [featurize(_doc(config, text), rules) for text, _ in rows]
    codes = ["clean", "ac"]
    return SuggestionModel(min_examples=3).fit(code_frame(features, codes), label_frame([r for _, r in rows], codes))


def test_direction_reads_the_clause_about_each_code(config, rules):
    model = _review_model(config, rules)
    assert set(model.learned_) == {"clean", "ac"}
    assert model.word_weights_["ac"]["ac"] > 0 and "ac" not in model.word_weights_["clean"]
    new = featurize(_doc(config, "Kamarnya kotor, tapi AC-nya dingin."), rules)
    frame = direction_frame([(new, "clean"), (new, "ac")])
    focused = model.focus(frame)
    assert list(focused["local"]) == ["kamar nya kotor", "ac -nya dingin"]
    assert list(focused["coded"])[1] == "ac|ac ac|-nya ac|dingin"
    assert list(model.predict_direction(frame)) == ["constraining", "supporting"]


def test_suggester_scores_and_explains_from_one_matrix(config, rules):
    model = _review_model(config, rules)
    features = [featurize(_doc(config, t), rules) for t in ("AC-nya rusak.", "Lokasinya dekat pantai.")]
    frame = code_frame(features, ["clean", "ac"])
    proba = model.predict_proba(frame)
    assert proba.loc[0, "ac"] > model.thresholds_["ac"] > proba.loc[1, "ac"]
    assert proba.loc[0, "ac"] == pytest.approx(model.proba_from_matrix(model.transform(frame))[0, 1])
    assert model.explain(frame, "ac")[0][0] == "ac"
