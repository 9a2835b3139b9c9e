from pipeline.nlp import pipeline_for, tokenize_segments
from pipeline.records import Segment


def test_nlp_normalises_colloquial_forms_without_changing_text(config):
    nlp = pipeline_for("id", config.section("nlp"))
    doc = nlp("Eh, anggarannya gak cukup, udah dipotong aja.")
    forms = {t.text: (t.norm_, t._.is_filler) for t in doc}
    assert forms["gak"] == ("tidak", False)
    assert forms["udah"] == ("sudah", False)
    assert forms["aja"] == ("saja", False)
    assert forms["anggaran"][0] == "anggaran" and forms["nya"][0] == "nya"
    assert forms["Eh"][1] is True
    assert doc.text == "Eh, anggarannya gak cukup, udah dipotong aja."


def test_nlp_lemmas_for_both_languages(config):
    nlp_id = pipeline_for("id", config.section("nlp"))
    assert {t.text: t.lemma_ for t in nlp_id("pelatihan dan trainings")} == {
        "pelatihan": "latih",
        "dan": "dan",
        "trainings": "training",
    }
    nlp_en = pipeline_for("en", config.section("nlp"))
    assert [t.lemma_ for t in nlp_en("budgets were delayed")] == ["budget", "be", "delay"]


def test_nlp_tokens_keep_offsets_and_order(config):
    segments = [
        Segment(id=str(i), document_id="d", index=i, start=0, end=len(t), text=t, language=lang)
        for i, (t, lang) in enumerate([("The fair helped.", "en"), ("Pamerannya membantu.", "id")])
    ]
    pairs = list(tokenize_segments(segments, config.section("nlp")))
    assert [s.id for s, _ in pairs] == ["0", "1"]
    for segment, doc in pairs:
        assert all(segment.text[t.idx : t.idx + len(t)] == t.text for t in doc)
    assert pairs[0][1].lang_ == "en" and pairs[1][1].lang_ == "id"
