from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pipeline.nlp import pipeline_for
from pipeline.records import RESEARCHER, Segment
from pipeline.suggest import Suggester, featurize
from pipeline.suggest.model import SuggestionModel
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
        "constraining", "funding", "rule", "Anggaran · constraining: dipotong, ditunda")  # the cues shown too
    assert funding.segment_id == "d:0"


def test_suggester_skips_the_interviewers_turns(config, codebook):
    suggester = Suggester(codebook, None, config.section("suggest"))
    segment = _segment(0, "Bagaimana dengan anggaran pelatihan?", speaker="Pewawancara")
    assert suggester([(segment, _doc(config, segment.text))])  # the role, not the label, decides
    researcher = replace(segment, role=RESEARCHER)  # as segmentation marks [suggest] skip_speakers' turns
    assert suggester([(researcher, _doc(config, segment.text))]) == []


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


def _features_token_by_token(doc, negators):
    """``featurize``'s fields, read a token at a time as the rule says: spaces and fillers
    left out; punctuation and contrasts end a negation's scope and a clause; a negator's
    scope is the next ``NEGATION_WINDOW`` words."""
    from pipeline.nlp.extensions import FILLERS
    from pipeline.suggest.features import CONTRAST
    from pipeline.suggest.rules import NEGATION_WINDOW

    fillers = doc.user_data.get(FILLERS, ())
    lemmas, words, marked, clauses, clause, first, scope = [], [], [], [], [], 0, 0
    for token in doc:
        norm = token.norm_.lower()
        if token.is_space or token.lower_ in fillers:
            continue
        if token.is_punct or norm in CONTRAST:
            scope = 0
            if clause:
                clauses.append((first, token.i, " ".join(clause)))
            clause, first = [], token.i + 1
            if norm in CONTRAST:
                words.append(norm)
                marked.append(norm)
            continue
        if not token.like_num:
            lemmas.append(token.lemma_)
        words.append(norm)
        if norm in negators or token.lower_ in negators:
            form, scope = norm, NEGATION_WINDOW
        else:
            form, scope = ("NOT_" + norm if scope else norm), max(0, scope - 1)
        marked.append(form)
        clause.append(form)
    if clause:
        clauses.append((first, len(doc), " ".join(clause)))
    starts = tuple(sent.start for sent in doc.sents)[1:] if len(doc) else ()
    return " ".join(lemmas), " ".join(words), " ".join(marked), tuple(clauses), starts


def test_featurize_many_reads_a_mixed_batch_as_each_token_says(config, rules, sample_corpus):
    """The batch's fields are worked out with array operations over all its tokens: they
    are those of reading each segment a token at a time, on the sample corpus and on
    negations, fillers, contrasts, numbers and empty segments, in both pipelines at once."""
    from pipeline.suggest.features import featurize_many

    texts = [line for path in sorted(sample_corpus.rglob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["Tidak tidak ada dana, eh, hmm tapi tidak 3 4 lima enam tujuh.", "", "   ", "eh hmm sih",
              "bukan, tidak! belum", "not bad but not good either, although the fair was not helpful",
              "Ga ada dana; namun kami tidak menyerah, kurang modal dan tidak didukung pemerintah",
              "... , ; tapi", "tidak\n\ntidak ada 2024 dukungan lagi. Tidak. Ada."]
    items = [(_segment(i, text, lang), _doc(config, text, lang))
             for i, text in enumerate(texts) for lang in ("id", "en")]
    found = featurize_many(items, rules)
    assert len(found) == len(items) > 200
    for (segment, doc), features in zip(items, found):
        expected = _features_token_by_token(doc, rules.negator_words)
        assert (features.text, features.words, features.marked, features.clauses,
                features.sentence_starts) == expected, segment.text
        assert features.raw == segment.text.lower()
    assert sum("NOT_" in f.marked for f in found) > 10 and sum(len(f.clauses) > 1 for f in found) > 50


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


def test_explain_matrix_gives_each_rows_heaviest_words_best_first(config, rules):
    model = _review_model(config, rules)
    texts = ("AC-nya rusak dan kamar kotor.", "Lokasinya dekat pantai.", "AC dingin, AC sejuk.")
    frame = code_frame([featurize(_doc(config, t), rules) for t in texts], ["clean", "ac"])
    matrix = model.transform(frame)
    explained = model.explain_matrix(matrix, "ac", top=2)
    names, coef = model.feature_names_, model.weights_[:, model.scored_.index("ac")]
    for row, words in enumerate(explained):  # the same as ranking one row at a time
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        weight = {names[c][7:]: v * coef[c] for c, v in zip(matrix.indices[start:end], matrix.data[start:end])
                  if names[c].startswith("words__") and v * coef[c] > 0}
        assert words == sorted(weight, key=lambda w: -weight[w])[:2]
    assert explained[0][0] == "ac" and len(explained) == 3


def test_platt_scaling_of_many_codes_at_once_matches_one_at_a_time():
    from pipeline.suggest.model import _platt

    rng = np.random.default_rng(0)
    present = rng.random((300, 6)) < [0.02, 0.05, 0.1, 0.3, 0.5, 0.0]
    decisions = present * rng.uniform(0.5, 2, 6) + rng.normal(0, 1, (300, 6))
    slopes, offsets = _platt(decisions, present)
    for k in range(6):
        assert (slopes[k], offsets[k]) == pytest.approx(_platt(decisions[:, k], present[:, k]), abs=1e-6)
    assert (slopes[:5] < 0).all()  # higher decisions, higher probabilities
    proba = 1 / (1 + np.exp(slopes * decisions + offsets))
    assert (proba > 0).all() and (proba < 1).all()
    assert proba[:, 5].max() < 0.01  # no positives: Platt's smoothed target 1 / (N- + 2)


@pytest.mark.parametrize("C", [0.5, 20.0])
def test_svms_solved_on_the_gram_matrix_are_liblinears(C):
    """The dual solved on the rows' Gram matrix gives the model LinearSVC gives, whether
    every row is a support vector (small C) or many fall beyond the margin (large C)."""
    from scipy import sparse
    from sklearn.svm import LinearSVC

    from pipeline.suggest.model import _svm_dual

    rng = np.random.default_rng(0)
    y = (rng.random(80) < 0.3).astype(int)
    matrix = sparse.csr_matrix(rng.normal(0, 1, (80, 12)) + 2.0 * y[:, None] * (np.arange(12) < 3))
    svm = LinearSVC(C=C, tol=1e-10, max_iter=1_000_000).fit(matrix, y)
    signs = np.where(y == 1, 1.0, -1.0)
    dual = _svm_dual((matrix @ matrix.T).toarray() + 1.0, signs, C) * signs
    assert np.asarray(matrix.T @ dual).ravel() == pytest.approx(svm.coef_[0], abs=1e-5)
    assert dual.sum() == pytest.approx(svm.intercept_[0], abs=1e-5)
    assert (dual * signs >= 0).all()
    if C > 1:
        assert (dual == 0).sum() > 10  # rows beyond the margin drop out


def test_suggestion_model_is_a_clonable_estimator():
    from sklearn.base import clone

    model = SuggestionModel(min_examples=4, threshold_shrinkage=5.0)
    assert model.get_params()["threshold_shrinkage"] == 5.0
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "learned_")


def test_a_code_on_every_row_is_suggested_by_its_prior_with_a_predicted_direction(config, codebook, rules):
    """A stance table: one code on every row, only its direction varies."""
    texts = ["Pelatihan itu sangat membantu kami.", "Program ini berhasil dan bermanfaat.",
             "Dananya kurang dan izinnya sulit.", "Prosesnya lambat dan rumit sekali."] * 4
    stance = ["supporting", "supporting", "constraining", "constraining"] * 4
    features = [featurize(_doc(config, t), rules) for t in texts]
    X = code_frame(features, ["stance"])
    model = SuggestionModel().fit(X, label_frame([{"stance": d} for d in stance], ["stance"]))
    assert model.prior_codes_ == ["stance"] and model.learned_ == []
    assert model.sources_["stance"]["use"] == "model"  # the keywordless rules never fire
    from pipeline.codebook import codebook_for_codes

    book = codebook_for_codes(["stance"], codebook)
    new = [featurize(_doc(config, t), CodebookRules(book)) for t in ("Pameran itu berhasil.", "Izinnya rumit dan lambat.")]
    proposals = Suggester(book, model, config.section("suggest")).propose(new)
    assert [[(p["code"], p["source"]) for p in row] for row in proposals] == [[("stance", "model")]] * 2
    assert [row[0]["direction"] for row in proposals] == ["supporting", "constraining"]


def test_rule_scores_rank_by_how_much_and_how_specific_the_evidence_is(config, codebook):
    suggester = Suggester(codebook, None, config.section("suggest"))
    rules = suggester.rules
    texts = [
        "Pelatihan dan pendampingan untuk UMKM.",  # two training keywords, short
        "Pelatihan untuk UMKM.",  # one keyword, short
        "Pelatihan untuk UMKM sudah ada, " + "lalu kami bicara tentang banyak hal lain di kantor " * 6,  # one, long
    ]
    proposals = suggester.propose([featurize(_doc(config, t), rules) for t in texts])
    scores = [next(p["score"] for p in row if p["code"] == "training") for row in proposals]
    assert scores[0] > scores[1] > scores[2] and all(0.3 < s < 0.9 for s in scores)


def _lemma_book(codebook, keywords, **code):
    from pipeline.codebook import parse_codebook

    raw = {"factor": codebook.raw["factor"],
           "codes": [{"id": "sales", "label": {"id": "Penjualan", "en": "Sales"}, "factor_type": "market_access",
                      "keywords": {"id": keywords}, **code}]}
    return CodebookRules(parse_codebook(raw))


def test_keywords_match_lemmas_only_where_the_codebook_asks(config, codebook):
    doc = _doc(config, "Kami melakukan promosi, dan produknya laku keras.")
    plain = _lemma_book(codebook, ["laku"])(doc).hits
    assert [s.text for s in plain["sales"]] == ["laku"]  # not "melakukan" (lemma laku)
    asked = _lemma_book(codebook, ["lemma:laku"])(doc).hits
    assert [s.text for s in asked["sales"]] == ["melakukan", "laku"]
    whole_code = _lemma_book(codebook, ["laku"], lemmas=True)(doc).hits
    assert [s.text for s in whole_code["sales"]] == ["melakukan", "laku"]


def test_codes_whose_model_is_not_better_fall_back_to_rules_and_weak_codes_are_low_confidence(config, codebook, rules):
    texts = (["Anggaran kami dipotong lagi tahun ini.", "Dana APBD untuk program ini kurang."] * 5
             + ["Kami ngobrol soal cuaca saja.", "Tidak ada yang istimewa hari itu.",
                "Pameran di Jepang ramai.", "Kantor dinas pindah ke gedung baru."] * 5)
    # the analyst coded "training" on segments no keyword or word pattern gives away
    codes = [{"funding": "constraining"}] * 10 + [{"training": "neutral"}, {}, {}, {"training": "neutral"}] * 5
    features = [featurize(_doc(config, t), rules) for t in texts]
    ids = [c.id for c in codebook.codable()]
    model = SuggestionModel().fit(code_frame(features, ids), label_frame(codes, ids))
    sources = model.sources_
    assert set(sources) == set(ids)
    assert sources["funding"]["use"] == "rules" and sources["funding"]["ready"]
    assert set(sources["funding"]) >= {"use", "model", "rules", "ready"}
    assert set(sources["funding"]["model"]) >= {"f1", "precision", "kappa"}
    assert sources["exchange"]["use"] == "rules" and "model" not in sources["exchange"]  # never coded: not learned
    suggester = Suggester(codebook, model, config.section("suggest"))
    assert "funding" not in suggester.model_codes()
    weak = [c for c, entry in sources.items() if not entry["ready"]]
    assert weak and all(suggester.confidence(c) == "low" for c in weak) and suggester.confidence("funding") == ""


def test_a_tie_between_model_and_rules_goes_to_the_one_that_suggested_less_wrongly():
    """Same F1 on the training rows: the model where it made fewer wrong suggestions,
    else the rules (the analyst's own keywords)."""
    import pandas as pd

    model = SuggestionModel()
    model.codes_, model.prior_codes_ = ["once", "quiet", "both"], []
    model.thresholds_ = dict.fromkeys(model.codes_, 0.5)
    coded = {"once": [5], "quiet": [5], "both": [3, 4]}
    present = np.array([[i in coded[c] for c in model.codes_] for i in range(6)])
    X = pd.DataFrame({"rule:once": [1, 1, 1, 0, 0, 0],  # three wrong, and not the coded one
                      "rule:quiet": [0] * 6, "rule:both": [0, 0, 0, 1, 1, 0]})
    silent = np.zeros(6)
    held_out = {"once": silent, "quiet": silent, "both": np.array([0, 0, 0, 0.9, 0.9, 0])}
    sources = model._sources(X, present, held_out)
    assert sources["once"]["rules"]["f1"] == sources["once"]["model"]["f1"] == 0.0
    assert sources["once"]["use"] == "model"  # nothing right either way, and the rules were wrong three times
    assert sources["quiet"]["use"] == "rules"  # nothing either way: the keywords stay
    assert sources["both"]["model"]["f1"] == sources["both"]["rules"]["f1"] == 1.0 and sources["both"]["use"] == "rules"
    held_out["both"] = np.array([0.9, 0, 0, 0.9, 0.9, 0])  # one wrong more: lower F1
    assert model._sources(X, present, held_out)["both"]["use"] == "rules"


def test_ridge_fits_every_code_at_once_and_long_texts_drop_character_ngrams(config, rules):
    rows = [("Kamarnya bersih, tapi AC-nya rusak.", {"clean": "supporting", "ac": "constraining"}),
            ("Kamar bersih dan wangi.", {"clean": "supporting"}), ("AC-nya mati terus.", {"ac": "constraining"}),
            ("AC-nya sejuk.", {"ac": "supporting"}), ("Sarapannya enak.", {}), ("Lokasinya dekat stasiun.", {})] * 4
    features = [featurize(_doc(config, text), rules) for text, _ in rows]
    X, Y = code_frame(features, ["clean", "ac"]), label_frame([r for _, r in rows], ["clean", "ac"])
    ridge = SuggestionModel(classifier="ridge").fit(X, Y)
    assert ridge.classifier_ == "ridge" and set(ridge.learned_) == {"clean", "ac"} and ridge.use_chars_
    proba = ridge.predict_proba(code_frame([featurize(_doc(config, "AC-nya rusak."), rules)], ["clean", "ac"]))
    assert proba.loc[0, "ac"] >= ridge.thresholds_["ac"] and proba.loc[0, "ac"] > proba.loc[0, "clean"]
    assert SuggestionModel().fit(X, Y).classifier_ == "svm"  # 24 rows x 2 codes: far below RIDGE_FROM_ROW_CODES
    long = X.assign(raw=X["raw"] * 100)
    assert not SuggestionModel().fit(long, Y).use_chars_


def test_phrases_match_as_spacys_matcher_matches_them(config, codebook, rules, sample_corpus):
    """Keyword phrases are found from their first word on the token arrays; on the sample
    corpus they are exactly what one spaCy Matcher pattern per phrase and attribute finds."""
    import re

    from spacy.matcher import Matcher

    from pipeline.suggest.rules import FORM_ATTRS

    def pattern(attr, words):
        return [{attr: {"REGEX": "^" + re.escape(w[:-1])}} if w.endswith("*") and len(w) > 1 else {attr: w}
                for w in words]

    lemmas = _lemma_book(codebook, ["lemma:jual produk*", "lemma:laku keras", "pasar ekspor"]).keywords
    checked = 0
    for index in (rules.keywords, rules.cues, lemmas):
        if not index.phrases:  # the sample codebook's cues are single words
            continue
        texts = [line for path in sorted((sample_corpus / "interviews").glob("*.txt"))
                 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        texts += ["Kami menjual produknya ke pasar ekspor, dan produk itu laku keras.", "Dia menjual produk-produk"]
        for lang in ("id", "en"):
            nlp = pipeline_for(lang, config.section("nlp"))
            matcher = Matcher(nlp.vocab)
            for label, phrases in index.phrases.items():
                matcher.add(label, [pattern(attr, words) for words, lemma in phrases
                                    for attr in (("LOWER", "NORM", "LEMMA") if lemma else ("LOWER", "NORM"))])
            docs = list(nlp.pipe(texts))
            batch = index.find_many([doc.to_array(FORM_ATTRS) for doc in docs], nlp.vocab.strings)
            for doc, found in zip(docs, batch):
                expected = {(nlp.vocab.strings[m], start, end) for m, start, end in matcher(doc)}
                assert {match for match in found if match[2] - match[1] > 1} == expected, doc.text
                checked += len(expected)
    assert checked > 100


def _single_words(index, doc):
    """The single-word matches of ``index`` in ``doc``, token by token: each token's lower
    case text and normalised form against every keyword, its lemma against those that ask
    for lemmas."""
    return {(label, token.i, token.i + 1) for token in doc
            for form, through_lemma in ((token.lower_, False), (token.norm_, False), (token.lemma_, True))
            for label, lemma in index.words.lookup(form) if lemma or not through_lemma}


def test_single_keywords_of_a_batch_are_those_found_token_by_token(config, codebook, rules, sample_corpus):
    """A batch's words are looked up the first time they are seen and found by array
    searches after that: the same matches as looking every token up, whatever came before."""
    from pipeline.suggest.rules import FORM_ATTRS

    texts = [line for path in sorted(sample_corpus.rglob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["Kami menjual produknya, mentornya pindah.", "", "Dana dana DANA dana-dana."]
    lemmas = _lemma_book(codebook, ["lemma:jual", "lemma:laku keras", "mentor*"]).keywords
    checked = 0
    for index in (rules.keywords, rules.cues, lemmas):
        for lang in ("id", "en"):
            nlp = pipeline_for(lang, config.section("nlp"))
            docs = list(nlp.pipe(texts))
            for batch in (docs, docs[::-1], docs[:7]):  # seen before, in another order
                for doc, found in zip(batch, index.find_many([doc.to_array(FORM_ATTRS) for doc in batch],
                                                             nlp.vocab.strings)):
                    expected = _single_words(index, doc)
                    assert {match for match in found if match[2] - match[1] == 1} == expected, doc.text
                    checked += len(expected)
    assert checked > 1000


def test_rules_of_a_batch_of_both_languages_are_those_of_each_segment(config, rules, sample_corpus):
    """``CodebookRules.many`` looks a batch's words up at once, the Indonesian and the English
    pipeline's words apart (their string stores differ): the same hits and cues as alone."""
    texts = [line for path in sorted(sample_corpus.rglob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    docs = [_doc(config, text, "en" if i % 3 == 0 else "id") for i, text in enumerate(texts)]

    def plain(matches):
        return ({code: [(s.start, s.end) for s in spans] for code, spans in matches.hits.items()},
                [(label, s.start, s.end, negated) for label, s, negated in matches.cues])

    together = [plain(m) for m in rules.many(docs)]
    assert together == [plain(rules(doc)) for doc in docs]
    assert sum(len(hits) for hits, _ in together) > 200 and sum(len(cues) for _, cues in together) > 50


def test_the_same_rows_make_the_same_model_whatever_numpys_global_seed(config, rules, sample_corpus, monkeypatch):
    """liblinear shuffles its rows; without a seed of its own it took one from numpy's global
    generator, which a fresh process seeds at random, so two retrains on the same decisions
    gave (slightly) different weights. Past ``GRAM_SVM_MAX_ROWS`` rows the SVMs are liblinear's."""
    import pipeline.suggest.model as model_module

    monkeypatch.setattr(model_module, "GRAM_SVM_MAX_ROWS", 0)
    lines = [line.strip() for path in sorted((sample_corpus / "interviews").glob("*.txt"))
             for line in path.read_text(encoding="utf-8").splitlines() if len(line.strip()) > 40][:60]
    rows = [(text, {"funding": "constraining"} if any(w in text.lower() for w in ("dana", "anggaran", "modal", "biaya"))
             else {"training": "supporting"} if i % 3 == 0 else {}) for i, text in enumerate(lines)]
    features = [featurize(_doc(config, text), rules) for text, _ in rows]
    codes = ["funding", "training"]
    X, Y = code_frame(features, codes), label_frame([r for _, r in rows], codes)
    assert Y.notna().sum().min() >= 5  # both codes learned, each by liblinear
    weights = []
    for seed in (1, 2):
        np.random.seed(seed)
        weights.append(SuggestionModel().fit(X, Y).weights_)
    assert weights[0].shape[1] == 2 and np.array_equal(weights[0], weights[1])
