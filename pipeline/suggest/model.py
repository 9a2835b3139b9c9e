"""The statistical half of the suggester: which codes, and in which direction.

``SuggestionModel`` follows scikit-learn's habits: ``__init__`` stores settings, ``fit``
learns attributes ending in ``_`` and returns ``self``. Codes with enough examples get a
sigmoid-calibrated logistic regression over word and character n-grams plus the codebook
rule flags (so the model learns how far to trust each keyword list) and a decision
threshold chosen by cross-validation to maximise F1. Direction is a separate classifier
over the segment's words, the code, and negation-aware cue counts near the code's evidence.
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
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder
from threadpoolctl import threadpool_limits
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS

from pipeline.checksums import file_sha256
from pipeline.errors import ModelError

# Function words of both languages carry no code and make poor evidence (the direction
# model keeps them: *tidak, belum, kurang, not* are what flips a direction).
STOP_WORDS = sorted(w for w in set(EN_STOP_WORDS) | set(ID_STOP_WORDS) if re.fullmatch(r"\w\w+", w))
DIRECTION_C = 4.0


def _single_threaded(method):
    """Run with one BLAS/OpenMP thread: these fits are small, and with a second thread
    competing for a busy core (2-core machines) a calibrated fit took 6 s instead of 0.06 s."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1):
            return method(*args, **kwargs)

    return wrapper
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
        Inverse regularisation strength of the logistic regressions.
    random_state : int
        Seed for the cross-validation splits, so training is deterministic.
    """

    def __init__(self, min_examples: int = 8, C: float = 16.0, char_ngrams: bool = True, random_state: int = 0):
        self.min_examples = min_examples
        self.C = C
        self.char_ngrams = char_ngrams
        self.random_state = random_state

    # -- code presence ---------------------------------------------------------------
    @_single_threaded
    def fit(self, X: pd.DataFrame, Y: pd.DataFrame, X_direction: pd.DataFrame, y_direction) -> "SuggestionModel":
        """Learn from a code frame ``X``, a 0/1 frame ``Y`` (one column per code) and the
        (segment, code) direction frame with its labels."""
        rule_columns = [c for c in X.columns if c.startswith(("rule:", "cue:"))]
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2, max_features=30000)
        self.features_ = ColumnTransformer(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words=STOP_WORDS), "text"),
                ("chars", chars if self.char_ngrams else "drop", "text"),
                ("rules", "passthrough", rule_columns),
            ]
        )
        matrix = self.features_.fit_transform(X)
        self.classifiers_, self.thresholds_, self.support_ = {}, {}, {}
        for code in Y.columns:
            y = Y[code].to_numpy().astype(int)
            self.support_[code] = int(y.sum())
            if min(y.sum(), len(y) - y.sum()) < self.min_examples:
                continue
            self.classifiers_[code] = self._classifier().fit(matrix, y)
            self.thresholds_[code] = self._best_threshold(matrix, y)
        self.codes_ = list(Y.columns)
        self._fit_direction(X_direction, np.asarray(y_direction))
        return self

    @_single_threaded
    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """Calibrated probability per learned code (columns) and segment (rows)."""
        matrix = self.features_.transform(X)
        return pd.DataFrame(
            {code: clf.predict_proba(matrix)[:, 1] for code, clf in self.classifiers_.items()},
            index=X.index,
        )

    @_single_threaded
    def explain(self, X: pd.DataFrame, code: str, top: int = 3) -> list[list[str]]:
        """The segment words that weighed most for ``code``, per row of ``X``."""
        clf = self.classifiers_[code]
        coef = np.mean([c.estimator.coef_[0] for c in clf.calibrated_classifiers_], axis=0)
        names, is_word = self._feature_names
        matrix = self.features_.transform(X).tocsr()
        explanations = []
        for row in range(matrix.shape[0]):
            start, end = matrix.indptr[row], matrix.indptr[row + 1]
            cols, values = matrix.indices[start:end], matrix.data[start:end]
            weights = [(values[i] * coef[c], names[c][7:]) for i, c in enumerate(cols) if is_word[c]]
            explanations.append([word for weight, word in sorted(weights, reverse=True)[:top] if weight > 0])
        return explanations

    @cached_property
    def _feature_names(self) -> tuple[np.ndarray, np.ndarray]:
        names = self.features_.get_feature_names_out().astype(str)
        return names, np.char.startswith(names, "words__")

    def _classifier(self) -> CalibratedClassifierCV:
        base = LogisticRegression(C=self.C, solver="liblinear")
        return CalibratedClassifierCV(base, method="sigmoid", cv=3)

    def _best_threshold(self, matrix, y: np.ndarray) -> float:
        folds = StratifiedKFold(3, shuffle=True, random_state=self.random_state)
        proba = cross_val_predict(self._classifier(), matrix, y, cv=folds, method="predict_proba")[:, 1]
        scores = [_f1(y, proba >= t) for t in THRESHOLD_GRID]
        return float(THRESHOLD_GRID[int(np.argmax(scores))])

    # -- direction -------------------------------------------------------------------
    def _fit_direction(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self.direction_ = None
        classes, counts = np.unique(y, return_counts=True) if len(y) else ([], [])
        if len(classes) < 2 or len(y) < 2 * self.min_examples:
            return
        cue_columns = [c for c in X.columns if c.startswith(("local:", "cue:"))]
        features = ColumnTransformer(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), "text"),
                ("code", OneHotEncoder(handle_unknown="ignore"), ["code"]),
                ("cues", MaxAbsScaler(), cue_columns),
            ]
        )
        classifier = LogisticRegression(C=DIRECTION_C, max_iter=1000, class_weight="balanced")
        self.direction_ = Pipeline([("features", features), ("classifier", classifier)]).fit(X, y)

    @_single_threaded
    def predict_direction(self, X: pd.DataFrame) -> np.ndarray | None:
        """Direction per (segment, code) row, or ``None`` when no direction model was learned."""
        if self.direction_ is None or X.empty:
            return None
        return self.direction_.predict(X)

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
