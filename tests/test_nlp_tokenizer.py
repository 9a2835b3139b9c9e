"""Tokenization rules of the fast backend, family by family, in both languages."""

import pytest

from pipeline.nlp import pipeline_for


@pytest.fixture(scope="module")
def id_nlp(config):
    return pipeline_for("id", config.section("nlp"))


@pytest.fixture(scope="module")
def en_nlp(config):
    return pipeline_for("en", config.section("nlp"))


def _words(doc):
    return [t.text for t in doc]


@pytest.mark.parametrize(
    "text, words",
    [
        ("Bukunya hilang", ["Buku", "nya", "hilang"]),
        ("Apakah programnya jalan?", ["Apa", "kah", "program", "nya", "jalan", "?"]),
        ("Meskipun begitu, datanglah", ["Meski", "pun", "begitu", ",", "datang", "lah"]),
        ("Rumahku dan bukumu", ["Rumah", "ku", "dan", "buku", "mu"]),
        ("Kubaca suratnya", ["Ku", "baca", "surat", "nya"]),
        ("Masalah sekolah kurang", ["Masalah", "sekolah", "kurang"]),  # words, not clitics
        ("Mentornya bagus, branding-nya juga", ["Mentor", "nya", "bagus", ",", "branding", "-nya", "juga"]),
    ],
)
def test_tokenizer_splits_clitics_as_words_of_one_written_token(id_nlp, text, words):
    doc = id_nlp(text)
    assert _words(doc) == words
    assert doc.text == text
    joined = [t for t in doc if t.i and t._.surface_id == doc[t.i - 1]._.surface_id]
    assert all(not doc[t.i - 1].whitespace_ for t in joined)


def test_tokenizer_clitic_lemmas(id_nlp):
    lemmas = {t.text: t.lemma_ for t in id_nlp("Rumahku, kubaca bukumu")}
    assert lemmas["ku"] in {"aku"} and lemmas["mu"] == "kamu"


@pytest.mark.parametrize(
    "text, words",
    [
        ("UMKM-UMKM dan anak-anak", ["UMKM-UMKM", "dan", "anak-anak"]),
        ("anak2 bermain", ["anak2", "bermain"]),
        ("tahun 1960-an ke-5 kali", ["tahun", "1960-an", "ke-5", "kali"]),
        ("aplikasinya di-upgrade dan men-download", ["aplikasi", "nya", "di-upgrade", "dan", "men-download"]),
    ],
)
def test_tokenizer_keeps_reduplication_and_hyphenated_affixes(id_nlp, text, words):
    assert _words(id_nlp(text)) == words


def test_tokenizer_reduplication_lemmas_and_norms(id_nlp):
    doc = id_nlp("anak-anak anak2 besar-besaran di-upgrade")
    assert [t.lemma_ for t in doc] == ["anak", "anak", "besar", "upgrade"]
    assert doc[1].norm_ == "anak-anak"


def test_tokenizer_abbreviations_do_not_end_sentences(id_nlp):
    doc = id_nlp("Bantuan untuk Pemprov Jatim, Disperindag, dll. sudah cair s.d. Maret. Kantor di Jl. Sudirman No. 5 Kab. Lembah.")
    assert {"dll.", "s.d.", "Jl.", "No.", "Kab.", "Pemprov", "Jatim", "Disperindag"} <= set(_words(doc))
    assert [s.text for s in doc.sents] == [
        "Bantuan untuk Pemprov Jatim, Disperindag, dll. sudah cair s.d. Maret.",
        "Kantor di Jl. Sudirman No. 5 Kab. Lembah.",
    ]


def test_tokenizer_money_and_numbers(id_nlp):
    assert _words(id_nlp("Rp 1.500.000,00 dan Rp2,5 juta, naik 10%")) == [
        "Rp", "1.500.000,00", "dan", "Rp", "2,5", "juta", ",", "naik", "10", "%"]


@pytest.mark.parametrize("lang", ["id", "en"])
def test_tokenizer_urls_emails_hashtags_and_punctuation_runs(config, lang):
    nlp = pipeline_for(lang, config.section("nlp"))
    text = "Lihat https://kencana.go.id/umkm?id=5 atau tulis ke info@kencana.go.id #UMKMNaikKelas @dinaskop!!! ***"
    assert _words(nlp(text)) == ["Lihat", "https://kencana.go.id/umkm?id=5", "atau", "tulis", "ke",
                                 "info@kencana.go.id", "#UMKMNaikKelas", "@dinaskop", "!!!", "***"]


def test_tokenizer_english_contractions_and_offsets(en_nlp):
    text = "We don't have the budget, it's cut.  Can't wait!!"
    doc = en_nlp(text)
    assert _words(doc)[:4] == ["We", "do", "n't", "have"]
    assert all(text[t.idx : t.idx + len(t)] == t.text for t in doc)
    assert doc.text == text


def test_leaving_out_spacys_hyphenated_word_exceptions_changes_no_token(id_nlp):
    """The Indonesian tokenizer leaves out spaCy's exceptions that only keep a hyphenated
    word whole (a second of start-up); with them put back, every such word, bare or wrapped
    in punctuation or a clitic, tokenizes the same."""
    from spacy.lang.id import Indonesian
    from spacy.tokenizer import Tokenizer

    ours = id_nlp.tokenizer.tokenizer
    left_out = set(Indonesian.Defaults.tokenizer_exceptions) - set(ours.rules)
    assert len(left_out) > 15_000 and all("-" in word for word in left_out)
    full = Tokenizer(id_nlp.vocab, rules={**Indonesian.Defaults.tokenizer_exceptions, **ours.rules},
                     prefix_search=ours.prefix_search, suffix_search=ours.suffix_search,
                     infix_finditer=ours.infix_finditer, token_match=ours.token_match, url_match=ours.url_match)
    for word in sorted(left_out):
        for text in (word, f"({word.upper()}),", f'"{word}nya".', f"{word}-nya?"):
            assert _words(ours(text)) == _words(full(text)), text


def test_lemmas_that_depend_on_a_words_place_are_not_reused_from_another_place(id_nlp, en_nlp):
    """Norms and lemmas are worked out once per written form, except where the place
    matters: a clitic next to its host or standing alone, an English capitalised word
    inside a sentence (a name keeps its case) or starting one."""
    first = id_nlp("Rumahku jauh.")
    alone = id_nlp("Ku tidak tahu, mu juga.")
    again = id_nlp("Bukuku hilang.")
    assert [t.lemma_ for t in first if t.text == "ku"] == ["aku"]
    assert [t.lemma_ for t in again if t.text == "ku"] == ["aku"]
    assert {t.text: t.lemma_ for t in alone}["mu"] == "mu"  # no host: not the clitic
    inside = en_nlp("We met Budi. Budi said the Trainings helped.")
    lemmas = [(t.text, t.lemma_) for t in inside]
    assert lemmas[2] == ("Budi", "Budi") and lemmas[4] == ("Budi", "budi")  # a name inside; a sentence's first word
    assert ("Trainings", "training") in lemmas  # a word the table knows is lemmatised wherever it is


def test_clitic_splits_are_the_same_after_the_tokenizer_forgets_the_forms_it_knew(config, monkeypatch):
    """The clitic tokenizer keeps which written forms split; when it has kept too many it
    forgets them all and classifies every form of the next text again, also those it knew
    (each text here shares its clitic words with the one before and adds new words)."""
    from pipeline.nlp.fast import build_pipeline

    nlp = build_pipeline("id", config.section("nlp")["colloquial_lexicon"], config.section("nlp")["fillers"])
    texts = ["Anggarannya dipotong, programnya jalan.", "Anggarannya naik, programnya berhenti.",
             "Mentornya pindah, sertifikatnya belum keluar.", "Mentornya datang, branding-nya juga.",
             "Bukuku dan rumahmu jauh.", "Bukuku hilang di rumahmu."]
    expected = [_words(nlp(text)) for text in texts]
    assert sum(len(words) for words in expected) > sum(len(text.split()) for text in texts)  # clitics split
    fresh = build_pipeline.__wrapped__("id", config.section("nlp")["colloquial_lexicon"], config.section("nlp")["fillers"])
    fresh.tokenizer._seen.limit = 3  # the word cache's bound (pipeline.caches), here tiny
    forgotten = 0
    for _ in range(3):
        for text, words in zip(texts, expected):
            forgotten += len(fresh.tokenizer._seen) > 3  # over the bound: emptied before the next text
            assert _words(fresh(text)) == words
    assert forgotten and len(fresh.tokenizer._seen) <= 3 + max(len(text.split()) for text in texts) * 2
