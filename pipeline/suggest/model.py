"""The statistical half of the suggester: which codes, and in which direction.

``SuggestionModel`` follows scikit-learn's habits: ``__init__`` stores settings, ``fit``
learns attributes ending in ``_`` and returns ``self``. Codes with enough examples get a
linear SVM over word n-grams of the normalised words, character n-grams of the text and
the codebook rule flags (so the model learns how far to trust each keyword list), with
Platt-scaled scores and a decision threshold chosen on out-of-fold scores to maximise F1.
Direction is a separate logistic regression over the words with negation marked
(*tidak NOT_ada NOT_dukungan*), character n-grams, the code, and negation-aware cue counts
near the code's evidence.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from functools import cached_property
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS

from pipeline.checksums import file_sha256
from pipeline.errors import ModelError
from pipeline.suggest.features import NEGATED

# Function words of both languages carry no code and make poor evidence (the direction
# model keeps them: *tidak, belum, kurang, not* are what flips a direction).
STOP_WORDS = sorted(w for w in set(EN_STOP_WORDS) | set(ID_STOP_WORDS) if re.fullmatch(r"\w\w+", w))
DIRECTION_CS = (2.0, 8.0, 32.0)  # candidates for the direction model, chosen by CV
CV_FOLDS = 5
WORD_PATTERN = r"(?u)\b\w+\b"  # one-letter words count too (chat shorthand: *g* = tidak, *d* = di)


def _single_threaded(method):
    """Run with one BLAS/OpenMP thread: these fits are small, and with a second thread
    competing for a busy core (2-core machines) a calibrated fit took 6 s instead of 0.06 s."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1):
            return method(*args, **kwargs)

    return wrapper


class OncePerSegment(TransformerMixin, BaseEstimator):
    """Fits and applies ``transformer`` to the distinct rows of its columns only.

    The direction frame has one row per (segment, code): a segment with five codes is the
    same words five times, and its character n-grams are the costliest features to build.
    Fitting on distinct rows also makes document frequencies count segments, not pairs.
    """

    def __init__(self, transformer):
        self.transformer = transformer

    def fit(self, X: pd.DataFrame, y=None) -> "OncePerSegment":
        self.transformer_ = clone(self.transformer).fit(X.drop_duplicates())
        return self

    def transform(self, X: pd.DataFrame):
        key = X.iloc[:, 0].astype(str)
        for column in X.columns[1:]:
            key = key + "\x1f" + X[column].astype(str)
        rows, _ = pd.factorize(key)
        _, first = np.unique(rows, return_index=True)  # codes number rows by first appearance
        return sparse.csr_matrix(self.transformer_.transform(X.iloc[first]))[rows]


class LastBatchMemo(TransformerMixin, BaseEstimator):
    """``transformer``, remembering its output for the texts of the last batch it transformed.

    The presence and the direction models share one fitted character n-gram vectorizer;
    when the suggester asks for the direction of codes it has just found, every text is in
    the batch the presence model saw, and the rows are reused instead of rebuilt.
    """

    def __init__(self, transformer):
        self.transformer = transformer

    def fit(self, X, y=None) -> "LastBatchMemo":
        self.transformer_ = clone(self.transformer).fit(X)
        self._memo = None
        return self

    def transform(self, X):
        texts = list(X)
        if getattr(self, "_memo", None) is not None:
            index, matrix = self._memo
            rows = [index.get(text) for text in texts]
            if None not in rows:
                return matrix[rows]
        matrix = sparse.csr_matrix(self.transformer_.transform(X))
        self._memo = ({text: i for i, text in enumerate(texts)}, matrix)
        return matrix

    def get_feature_names_out(self, input_features=None):
        return self.transformer_.get_feature_names_out()

    def __getstate__(self):
        return {**self.__dict__, "_memo": None}


MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
THRESHOLD_GRID = np.round(np.arange(0.1, 0.91, 0.05), 2)


class SuggestionModel:
    """Code presence and direction models for one codebook.

    Parameters
    ----------
    min_examples : int
        Positive (and negative) examples a code needs before it is learned; codes with
        fewer are left to the codebook rules.
    C : float
        Inverse regularisation strength of the code SVMs (the direction model picks its own
        from ``DIRECTION_CS`` by cross-validation).
    random_state : int
        Seed for the cross-validation splits, so training is deterministic.
    """

    def __init__(self, min_examples: int = 3, C: float = 0.5, char_ngrams: bool = True, random_state: int = 0):
        self.min_examples = min_examples
        self.C = C
        self.char_ngrams = char_ngrams
        self.random_state = random_state

    # -- code presence ---------------------------------------------------------------
    @_single_threaded
    def fit(self, X: pd.DataFrame, Y: pd.DataFrame, X_direction: pd.DataFrame, y_direction) -> "SuggestionModel":
        """Learn from a code frame ``X``, a 0/1 frame ``Y`` (one column per code) and the
        (segment, code) direction frame with its labels."""
        self.codes_ = list(Y.columns)
        self.classifiers_, self.thresholds_ = {}, {}
        self.support_ = {code: int(Y[code].sum()) for code in Y.columns}
        self.direction_ = None
        if len(X) < 2 * self.min_examples:  # no code can have enough examples on both sides
            self.features_ = None
            self._stack_weights()
            return self
        rule_columns = [c for c in X.columns if c.startswith(("rule:", "cue:"))]
        chars = LastBatchMemo(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                              min_df=2, dtype=np.float32))
        self.features_ = ColumnTransformer(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words=STOP_WORDS,
                                          token_pattern=WORD_PATTERN, dtype=np.float32), "words"),
                ("chars", chars if self.char_ngrams else "drop", "raw"),
                ("rules", "passthrough", rule_columns),
            ]
        )
        matrix = sparse.csr_matrix(self.features_.fit_transform(X))
        for code in Y.columns:
            y = Y[code].to_numpy().astype(int)
            if min(y.sum(), len(y) - y.sum()) >= self.min_examples:
                self.classifiers_[code], self.thresholds_[code] = self._fit_code(matrix, y)
        self._stack_weights()
        self._fit_direction(X_direction, np.asarray(y_direction))
        return self

    @_single_threaded
    def transform(self, X: pd.DataFrame):
        """The presence features of a code frame (sparse, one row per segment)."""
        return sparse.csr_matrix(self.features_.transform(X))

    def proba_from_matrix(self, matrix) -> np.ndarray:
        """Calibrated probabilities (segments x learned codes) from :meth:`transform`'s output:
        one matrix product for every code at once."""
        scores = np.asarray(matrix @ self.weights_) + self.intercepts_
        return 1.0 / (1.0 + np.exp(self.slopes_ * scores + self.offsets_))

    @_single_threaded
    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """Calibrated probability per learned code (columns) and segment (rows)."""
        if not self.classifiers_:
            return pd.DataFrame(index=X.index)
        proba = self.proba_from_matrix(self.transform(X))
        return pd.DataFrame(proba, columns=list(self.classifiers_), index=X.index)

    def explain(self, X: pd.DataFrame, code: str, top: int = 3) -> list[list[str]]:
        """The segment words that weighed most for ``code``, per row of ``X``."""
        return self.explain_matrix(self.transform(X), code, top)

    def explain_matrix(self, matrix, code: str, top: int = 3) -> list[list[str]]:
        """:meth:`explain` on rows of :meth:`transform`'s output."""
        coef = self.weights_[:, list(self.classifiers_).index(code)]
        names, is_word = self._feature_names
        explanations = []
        for row in range(matrix.shape[0]):
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            cols, values = matrix.indices[start:end], matrix.data[start:end]
            keep = is_word[cols]
            weights = values[keep] * coef[cols[keep]]
            best = np.argsort(-weights)[:top]
            explanations.append([names[cols[keep][b]][7:] for b in best if weights[b] > 0])
        return explanations

    @cached_property
    def _feature_names(self) -> tuple[np.ndarray, np.ndarray]:
        names = np.array([], dtype=str) if self.features_ is None else self.features_.get_feature_names_out().astype(str)
        return names, np.char.startswith(names, "words__")

    def _fit_code(self, matrix, y: np.ndarray) -> tuple[CalibratedClassifierCV, float]:
        """A linear SVM with Platt scaling fitted on out-of-fold scores, and the threshold
        on those same out-of-fold probabilities that maximises F1."""
        folds = StratifiedKFold(min(CV_FOLDS, int(min(y.sum(), len(y) - y.sum()))), shuffle=True,
                                random_state=self.random_state)
        base = LinearSVC(C=self.C)
        clf = CalibratedClassifierCV(base, method="sigmoid", cv=folds, ensemble=False).fit(matrix, y)
        held_out = cross_val_predict(base, matrix, y, cv=folds, method="decision_function")
        proba = clf.calibrated_classifiers_[0].calibrators[0].predict(held_out)
        scores = [_f1(y, proba >= t) for t in THRESHOLD_GRID]
        return clf, float(THRESHOLD_GRID[int(np.argmax(scores))])

    def _stack_weights(self) -> None:
        """One sparse-friendly matrix of every code's weights, so that scoring a batch is a
        single matrix product (the calibrated classifiers stay for inspection)."""
        weights, intercepts, slopes, offsets = [], [], [], []
        for clf in self.classifiers_.values():
            calibrated = clf.calibrated_classifiers_[0]
            weights.append(calibrated.estimator.coef_[0])
            intercepts.append(calibrated.estimator.intercept_[0])
            slopes.append(calibrated.calibrators[0].a_)
            offsets.append(calibrated.calibrators[0].b_)
        names, is_word = self._feature_names
        self.weights_ = np.array(weights).T if weights else np.zeros((len(names), 0))
        self.intercepts_, self.slopes_, self.offsets_ = (np.array(v) for v in (intercepts, slopes, offsets))
        unigrams = [i for i in np.flatnonzero(is_word) if " " not in names[i]]
        self.word_weights_ = {
            code: {names[i][7:]: float(self.weights_[i, k]) for i in unigrams if self.weights_[i, k] > 0}
            for k, code in enumerate(self.classifiers_)
        }

    def focus(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` plus the clauses a direction is read from, per (segment, code) row.

        A review can praise one thing and fault another in one sentence (*kamar bersih, tapi
        AC rusak*): the direction of *AC* is in the clause about it. The focus is the clauses
        holding the code's keywords; without keywords, the clause whose words weigh most
        for the code in its presence model; otherwise the whole segment. ``local`` holds
        those words, ``coded`` the same words joined to the code (``ac|rusak``), so that
        the direction model can learn words that point one way for one code only.
        """
        local, coded = [], []
        word_weights = getattr(self, "word_weights_", {})
        for clauses, evidence, code in zip(X["clauses"], X["evidence"], X["code"]):
            weights = word_weights.get(code)
            if evidence:
                chosen = [clauses[i] for i in evidence]
            elif clauses and weights:
                scores = [sum(weights.get(w.removeprefix(NEGATED), 0.0) for w in c.split()) for c in clauses]
                chosen = [clauses[int(np.argmax(scores))]]
            else:
                chosen = list(clauses)
            words = " ".join(chosen).split()
            tag = re.sub(r"\s+", "_", str(code))
            local.append(" ".join(words))
            coded.append(" ".join(f"{tag}|{w}" for w in words))
        return X.assign(local=local, coded=coded)

    # -- direction -------------------------------------------------------------------
    def _fit_direction(self, X: pd.DataFrame, y: np.ndarray) -> None:
        """Words with negation marked, character n-grams, the code and the cue counts; the
        regularisation strength is chosen by cross-validated macro-F1 from ``DIRECTION_CS``."""
        classes, counts = np.unique(y, return_counts=True) if len(y) else ([], [])
        if len(classes) < 2 or len(y) < 2 * self.min_examples:
            return
        cue_columns = [c for c in X.columns if c.startswith(("local:", "cue:"))]
        X = self.focus(X)
        # the character n-grams are the presence model's, already fitted on every segment:
        # scoring a batch then builds them once for both models (LastBatchMemo)
        chars = self.features_.named_transformers_["chars"] if self.char_ngrams else "drop"
        segment = ColumnTransformer(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+",
                                          dtype=np.float32), "marked"),
                ("chars", FrozenEstimator(chars) if self.char_ngrams else "drop", "raw"),
            ]
        )
        features = ColumnTransformer(
            [
                ("segment", OncePerSegment(segment), ["marked", "raw"]),
                ("local", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+",
                                          dtype=np.float32), "local"),
                ("coded", TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+", lowercase=False,
                                          dtype=np.float32), "coded"),
                ("code", OneHotEncoder(handle_unknown="ignore"), ["code"]),
                ("cues", MaxAbsScaler(), cue_columns),
            ]
        )
        self.direction_C_ = DIRECTION_CS[0]
        folds = min(CV_FOLDS, int(counts.min()))
        if folds >= 2 and len(DIRECTION_CS) > 1:
            search = GridSearchCV(
                Pipeline([("features", features), ("classifier", self._direction_classifier(1.0))]),
                {"classifier__C": DIRECTION_CS}, scoring="f1_macro",
                cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state),
            ).fit(X, y)
            self.direction_C_ = float(search.best_params_["classifier__C"])
        self.direction_ = Pipeline(
            [("features", features), ("classifier", self._direction_classifier(self.direction_C_))]
        ).fit(X, y)

    @staticmethod
    def _direction_classifier(C: float) -> LogisticRegression:
        return LogisticRegression(C=C, max_iter=2000, class_weight="balanced")

    @_single_threaded
    def predict_direction(self, X: pd.DataFrame) -> np.ndarray | None:
        """Direction per (segment, code) row, or ``None`` when no direction model was learned."""
        if self.direction_ is None or X.empty:
            return None
        return self.direction_.predict(self.focus(X))

    # -- persistence -----------------------------------------------------------------
    def save(self, directory: str | Path, meta: dict) -> dict:
        """Write ``model.joblib`` and ``meta.json`` (with the model's checksum) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, directory / MODEL_FILE, compress=3)
        meta = {**meta, "files": {MODEL_FILE: file_sha256(directory / MODEL_FILE)}}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return meta


def load_model(directory: str | Path) -> tuple[SuggestionModel, dict]:
    """Load a model directory written by ``SuggestionModel.save``, checking its checksum.

    Raises
    ------
    ModelError
        If a file is missing or the model file does not match the checksum in ``meta.json``.
    """
    directory = Path(directory)
    meta_path, model_path = directory / META_FILE, directory / MODEL_FILE
    for path in (meta_path, model_path):
        if not path.exists():
            raise ModelError(f"{path} is missing; rebuild the model with `pilah train`")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    expected = meta.get("files", {}).get(MODEL_FILE)
    if expected != file_sha256(model_path):
        raise ModelError(f"{model_path} does not match the checksum in {meta_path}; rebuild it with `pilah train`")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a model pickled by another scikit-learn release
        model = joblib.load(model_path)
    return model, meta


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = int((y & predicted).sum())
    return 0.0 if tp == 0 else 2 * tp / (int(y.sum()) + int(predicted.sum()))
