import pytest

from pipeline.codebook import load_codebook, parse_codebook
from pipeline.errors import ConfigError


def _minimal(**code):
    return {
        "factor": {
            "directions": {d: {"label": {"id": d, "en": d}} for d in ("supporting", "constraining", "neutral")},
            "types": [{"id": "funding", "label": {"id": "Pendanaan", "en": "Funding"}}],
        },
        "codes": [{"id": "funding", "label": {"id": "Dana", "en": "Funds"}, "factor_type": "funding", **code}],
    }


def test_codebook_sample_loads_with_hierarchy_and_bilingual_labels(codebook):
    assert len(codebook.codable()) == 17
    assert codebook.path_of("funding") == ["factor", "funding"]
    assert codebook.codes["strategy"].codable is False
    funding = codebook.codes["funding"]
    assert funding.label_in("en") == "Funding and budget"
    assert funding.label_in("mixed") == "Pendanaan dan anggaran"
    assert "anggaran" in funding.keywords["id"] and "budget*" in funding.keywords["en"]
    assert set(codebook.factor_types) >= {"human_resources", "funding", "regulation_bureaucracy", "language_culture",
                                          "market_access", "technology", "institutional_coordination", "infrastructure"}
    assert all(code.factor_type in codebook.factor_types for code in codebook.codable())


def test_codebook_reports_every_problem_with_its_location():
    raw = _minimal()
    raw["codes"].append({"id": "funding", "label": {"id": "x"}, "factor_type": "nope"})
    raw["codes"].append({"id": "a;b", "label": {"id": "x", "en": "y"}, "factor_type": "funding",
                         "keywords": {"fr": ["argent"]}})
    with pytest.raises(ConfigError) as caught:
        parse_codebook(raw, source="book.yaml")
    problems = caught.value.problems
    assert any("codes[1] (funding): duplicate code id" in p for p in problems)
    assert any("codes[1] (funding): needs a label in both languages" in p and "missing: en" in p for p in problems)
    assert any("factor_type 'nope' is not in factor.types" in p for p in problems)
    assert any("codes[2] (a;b): id may not contain" in p for p in problems)
    assert any("keywords.fr: unknown language" in p for p in problems)
    assert "book.yaml" in str(caught.value)


def test_codebook_codable_code_needs_factor_type():
    raw = _minimal()
    del raw["codes"][0]["factor_type"]
    with pytest.raises(ConfigError, match="needs a 'factor_type'"):
        parse_codebook(raw)


def test_codebook_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_codebook(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("codes: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_codebook(bad)


def test_codebook_for_codes_searches_for_the_words_of_each_code_name(codebook, config):
    from pipeline.codebook import codebook_for_codes
    from pipeline.nlp import pipeline_for
    from pipeline.suggest.rules import CodebookRules

    book = codebook_for_codes(["air_panas", "wifi", "Q3_barriers", "x"], codebook, "hoasa")
    assert book.codes["air_panas"].keywords == {"id": ("air", "panas"), "en": ("air", "panas")}
    assert book.codes["Q3_barriers"].keywords["en"] == ("barriers",)
    assert book.codes["x"].keywords["id"] == ()
    # function words are no keywords, nor a word naming several codes (it cannot tell them
    # apart); a code with no word of its own keeps its words that are not function words
    names = ["lack_of_time", "lack_of_communication", "customer_does_not_know_what_he_wants",
             "customer_dissatisfaction", "lack_customer", "not_at_all"]
    keywords = {c.id: c.keywords["en"] for c in codebook_for_codes(names, codebook).codes.values()}
    assert keywords == {"lack_of_time": ("time",), "lack_of_communication": ("communication",),
                        "customer_does_not_know_what_he_wants": ("know", "wants"),
                        "customer_dissatisfaction": ("dissatisfaction",), "lack_customer": ("lack", "customer"),
                        "not_at_all": ("not", "at", "all")}
    assert book.negators == codebook.negators  # direction cues and negators come from the frame
    doc = pipeline_for("id", config.section("nlp"))("Air panasnya mati, wifi-nya lambat sekali.")
    hits = {code: [s.text for s in spans] for code, spans in CodebookRules(book)(doc).hits.items()}
    assert hits == {"air_panas": ["Air", "panas"], "wifi": ["wifi"]}


def test_codebook_unknown_keys_are_errors_naming_key_and_place():
    raw = _minimal(keyword={"id": ["dana"]})
    raw["factor"]["negator"] = {"id": ["tidak"]}
    raw["title"] = "x"
    with pytest.raises(ConfigError) as caught:
        parse_codebook(raw, source="book.yaml")
    problems = caught.value.problems
    assert any(p.startswith("codes[0] (funding): unknown key 'keyword'") and "keywords" in p for p in problems)
    assert any(p.startswith("factor: unknown key 'negator'") for p in problems)
    assert any(p.startswith("top level: unknown key 'title'") for p in problems)


def test_codebook_lemmas_setting_and_prefix_are_read():
    book = parse_codebook(_minimal(keywords={"id": ["lemma:laku", "dana"]}, lemmas=False))
    assert book.codes["funding"].keywords["id"] == ("lemma:laku", "dana") and not book.codes["funding"].lemmas
    with pytest.raises(ConfigError, match="lemmas: must be true or false"):
        parse_codebook(_minimal(lemmas="yes"))
    with pytest.raises(ConfigError, match="names no word"):
        parse_codebook(_minimal(keywords={"id": ["lemma:"]}))
