"""The statistical half of the suggester: which codes, and in which direction.

``SuggestionModel`` follows scikit-learn's habits: ``__init__`` stores settings, ``fit``
learns attributes ending in ``_`` and returns ``self``. Codes with enough examples get a
linear SVM over word n-grams of the normalised words, character n-grams of the text and
the codebook rule flags (so the model learns how far to trust each keyword list), with
Platt-scaled scores and one decision threshold, chosen on every code's out-of-fold scores
pooled; those out-of-fold figures also decide, per code, whether the model or the rules
suggest it.
Direction is a separate logistic regression over the words with negation marked
(*tidak NOT_ada NOT_dukungan*), character n-grams, the code, and negation-aware cue counts
near the code's evidence.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import scipy.linalg
from scipy import sparse
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS

from pipeline.checksums import file_sha256
from pipeline.errors import ModelError
from pipeline.records import DIRECTIONS
from pipeline.suggest.features import NEGATED, direction_rows

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
# Measured on held-out training rows (bench/learning_curve.py --dev): the SVMs are better
# with few rows (ridge -0.02 to -0.09 micro-F1 at 25-50 rows, level at 100-200, -0.007 on
# 2,400 NaPiRE answers with 98 codes) but cost one fit per code and fold: 123 s against
# 14 s for ridge on those 2,400 answers. Ridge takes over where SVMs would take minutes.
RIDGE_FROM_ROW_CODES = 100_000
LONG_TEXT_CHARS = 2_000
READY_KAPPA = 0.4  # codes whose suggestions agree less with the analyst are "low confidence"


class SuggestionModel(BaseEstimator):
    """Code presence and direction models for one codebook, as a scikit-learn estimator.

    ``fit(X, Y)`` reads a code frame (``features.code_frame``: one row per segment) and a
    label frame (``features.label_frame``: per code ``None``, a direction or ``PRESENT``);
    ``predict_proba(X)`` gives a probability per scored code; ``predict_direction`` reads
    (segment, code) rows (``features.direction_rows``).

    Per code, with enough examples on both sides, a linear SVM over word n-grams, character
    n-grams and the rule flags, Platt-scaled on its out-of-fold decisions. A code on (almost)
    every training row is scored by its prior. The threshold of a code is its own best
    out-of-fold threshold shrunk toward the one that is best over all codes pooled, with
    weight ``positives / (positives + threshold_shrinkage)``: a handful of examples moves it
    little. The same out-of-fold figures, set against the rules' on the training rows, say
    per code whether the model or the rules suggest it (``sources_``).

    Parameters
    ----------
    min_examples : int
        Examples a code needs on each side before it is learned; with fewer positives it is
        left to the codebook rules, with fewer negatives it is scored by its prior.
    C : float
        Inverse regularisation strength of the code SVMs.
    char_ngrams : bool or "auto"
        Character 3-5-grams of the text as features (presence and direction); ``"auto"``:
        when the texts average at most ``LONG_TEXT_CHARS`` characters. They catch typos
        and affixes in short answers; on long documents they cost most of the training
        time (300 documents of 1,500 words) and the words suffice.
    threshold_shrinkage : float
        Pseudo-count of positives pulling each code's threshold toward the pooled one.
    min_precision : float
        A code whose chosen source (model or rules) made at least ``2 * min_examples``
        suggestions on the training rows, out of fold, with a lower precision is not
        suggested at all (``sources_[code]["suggest"]`` is false).
    direction_Cs : tuple of float
        Candidates for the direction model's C, chosen by cross-validated macro-F1 (one
        value: no search).
    classifier : {"auto", "svm", "ridge"}
        ``"svm"``: a linear SVM per code; ``"ridge"``: ridge regression for all codes at
        once in its dual form (one solve per fold for every code); ``"auto"``: ridge when
        rows x learnable codes reach ``RIDGE_FROM_ROW_CODES``, else the SVM.
    alpha : float
        Regularisation of the ridge classifier.
    random_state : int
        Seed for the cross-validation splits, so training is deterministic.
    """

    def __init__(self, min_examples: int = 3, C: float = 0.5, char_ngrams: bool | str = "auto",
                 threshold_shrinkage: float = 1000.0, min_precision: float = 0.3, direction_Cs: tuple = DIRECTION_CS,
                 classifier: str = "auto", alpha: float = 1.0, random_state: int = 0):
        self.min_examples = min_examples
        self.classifier = classifier
        self.alpha = alpha
        self.min_precision = min_precision
        self.C = C
        self.char_ngrams = char_ngrams
        self.threshold_shrinkage = threshold_shrinkage
        self.direction_Cs = direction_Cs
        self.random_state = random_state

    # -- code presence ---------------------------------------------------------------
    @_single_threaded
    def fit(self, X: pd.DataFrame, Y: pd.DataFrame) -> "SuggestionModel":
        """Learn from a code frame ``X`` and a label frame ``Y`` (rows aligned)."""
        X, Y = X.reset_index(drop=True), Y.reset_index(drop=True)
        present = Y.notna().to_numpy()
        self.codes_ = list(Y.columns)
        self.support_ = {code: int(present[:, k].sum()) for k, code in enumerate(self.codes_)}
        self.learned_, self.prior_codes_, self.thresholds_ = [], [], {}
        self.direction_ = None
        fitted, held_out = {}, {}
        n = len(Y)
        self.features_ = None
        self.use_chars_ = self.char_ngrams is True or (
            self.char_ngrams == "auto" and bool(n) and X["raw"].str.len().mean() <= LONG_TEXT_CHARS)
        if n >= 2 * self.min_examples:  # else no code can have enough examples on both sides
            rule_columns = [c for c in X.columns if c.startswith(("rule:", "cue:"))]
            chars = LastBatchMemo(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                                  min_df=2, dtype=np.float32))
            self.features_ = ColumnTransformer(
                [
                    ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words=STOP_WORDS,
                                              token_pattern=WORD_PATTERN, dtype=np.float32), "words"),
                    ("chars", chars if self.use_chars_ else "drop", "raw"),
                    # scaled to at most 1: the cue counts of a long document (dozens) made
                    # the SVM's dual solver run to its iteration limit (1.3 s per fit, 60 documents)
                    ("rules", MaxAbsScaler(), rule_columns),
                ]
            )
            matrix = sparse.csr_matrix(self.features_.fit_transform(X))
        self.feature_names_ = (np.array([], dtype=str) if self.features_ is None
                               else self.features_.get_feature_names_out().astype(str))
        for k, code in enumerate(self.codes_):
            y = present[:, k].astype(int)
            positives, negatives = int(y.sum()), n - int(y.sum())
            if self.features_ is not None and min(positives, negatives) >= self.min_examples:
                self.learned_.append(code)
            elif positives >= self.min_examples and positives > negatives:
                self.prior_codes_.append(code)
        columns = [self.codes_.index(code) for code in self.learned_]
        self.classifier_ = self.classifier
        if self.classifier == "auto":
            self.classifier_ = "ridge" if n * len(columns) >= RIDGE_FROM_ROW_CODES else "svm"
        if self.classifier_ == "ridge" and columns:
            fitted, held_out = self._fit_ridge(matrix, present[:, columns].astype(int))
        for code, k in zip(self.learned_, columns):
            if self.classifier_ != "ridge":
                fitted[code], held_out[code] = self._fit_code(matrix, present[:, k].astype(int))
        self._set_thresholds(present, held_out)
        self._stack_weights(fitted, present)
        self.sources_ = self._sources(X, present, held_out)
        directed = [(i, code) for code in self.codes_ for i, d in enumerate(Y[code]) if d in DIRECTIONS]
        if directed and self.features_ is not None:
            self._fit_direction(direction_rows(X, directed), np.array([Y.at[i, c] for i, c in directed]))
        return self

    @property
    def scored_(self) -> list[str]:
        """The codes the model gives a probability: learned ones, then prior ones."""
        return self.learned_ + self.prior_codes_

    @_single_threaded
    def transform(self, X: pd.DataFrame):
        """The presence features of a code frame (sparse, one row per segment)."""
        if self.features_ is None:
            return sparse.csr_matrix((len(X), 0), dtype=np.float32)
        return sparse.csr_matrix(self.features_.transform(X))

    def proba_from_matrix(self, matrix) -> np.ndarray:
        """Calibrated probabilities (segments x scored codes) from :meth:`transform`'s output:
        one matrix product for every code at once."""
        scores = np.asarray(matrix @ self.weights_) + self.intercepts_
        return 1.0 / (1.0 + np.exp(self.slopes_ * scores + self.offsets_))

    @_single_threaded
    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """Calibrated probability per scored code (columns) and segment (rows)."""
        if not self.scored_:
            return pd.DataFrame(index=X.index)
        proba = self.proba_from_matrix(self.transform(X))
        return pd.DataFrame(proba, columns=self.scored_, index=X.index)

    def explain(self, X: pd.DataFrame, code: str, top: int = 3) -> list[list[str]]:
        """The segment words that weighed most for ``code``, per row of ``X``."""
        return self.explain_matrix(self.transform(X), code, top)

    def explain_matrix(self, matrix, code: str, top: int = 3) -> list[list[str]]:
        """:meth:`explain` on rows of :meth:`transform`'s output."""
        coef = self.weights_[:, self.scored_.index(code)]
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

    @property
    def _feature_names(self) -> tuple[np.ndarray, np.ndarray]:
        return self.feature_names_, np.char.startswith(self.feature_names_, "words__")

    def _fit_code(self, matrix, y: np.ndarray) -> tuple[tuple, np.ndarray]:
        """A linear SVM, Platt scaling fitted on its out-of-fold decisions, and those
        out-of-fold probabilities (for the thresholds and the model's figures)."""
        folds = StratifiedKFold(min(CV_FOLDS, int(min(y.sum(), len(y) - y.sum()))), shuffle=True,
                                random_state=self.random_state)
        decisions = np.zeros(len(y))
        for train, test in folds.split(matrix, y):
            svm = LinearSVC(C=self.C).fit(matrix[train], y[train])
            decisions[test] = svm.decision_function(matrix[test])
        slope, offset = _platt(decisions, y)
        svm = LinearSVC(C=self.C).fit(matrix, y)
        held_out = 1.0 / (1.0 + np.exp(slope * decisions + offset))
        return (svm.coef_[0], float(svm.intercept_[0]), slope, offset), held_out

    def _fit_ridge(self, matrix, Y: np.ndarray) -> tuple[dict, dict]:
        """Every learned code at once: ridge regression on +1/-1 targets in its dual form,
        ``A = (K + alpha I)^-1 Y`` with the Gram matrix ``K = X X^T + 1`` (the 1 is an
        intercept), so one ``n x n`` solve per fold serves all codes; out-of-fold decisions
        come from ``KFold`` folds shared by the codes, then Platt scaling per code."""
        targets = 2.0 * Y - 1.0
        gram = np.asarray((matrix @ matrix.T).todense(), dtype=np.float64) + 1.0
        n = len(gram)
        decisions = np.zeros(targets.shape)
        folds = KFold(min(CV_FOLDS, n), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(gram):
            dual = _solve(gram[np.ix_(train, train)] + self.alpha * np.eye(len(train)), targets[train])
            decisions[test] = gram[np.ix_(test, train)] @ dual
        dual = _solve(gram + self.alpha * np.eye(n), targets)
        weights = np.asarray(matrix.T @ dual)  # features x codes
        intercepts = dual.sum(axis=0)
        fitted, held_out = {}, {}
        for j, code in enumerate(self.learned_):
            slope, offset = _platt(decisions[:, j], Y[:, j])
            fitted[code] = (weights[:, j], float(intercepts[j]), slope, offset)
            held_out[code] = 1.0 / (1.0 + np.exp(slope * decisions[:, j] + offset))
        return fitted, held_out

    def _set_thresholds(self, present: np.ndarray, held_out: dict[str, np.ndarray]) -> None:
        """Each learned code's best out-of-fold threshold (F1), shrunk toward the best
        threshold of all codes pooled (micro-F1); prior codes take 0.5."""
        if held_out:
            columns = [self.codes_.index(code) for code in held_out]
            gold = present[:, columns].astype(bool).ravel(order="F")
            pooled = np.concatenate(list(held_out.values()))
            self.pooled_threshold_ = _best_threshold(gold, pooled)
        else:
            self.pooled_threshold_ = 0.5
        for code, proba in held_out.items():
            y = present[:, self.codes_.index(code)].astype(bool)
            weight = y.sum() / (y.sum() + self.threshold_shrinkage)
            own = _best_threshold(y, proba)
            self.thresholds_[code] = round(float(weight * own + (1 - weight) * self.pooled_threshold_), 3)
        for code in self.prior_codes_:
            self.thresholds_[code] = 0.5

    def _stack_weights(self, fitted: dict[str, tuple], present: np.ndarray) -> None:
        """One matrix of every scored code's weights, so that scoring a batch is a single
        matrix product; a prior code has no weights and a constant probability."""
        names, is_word = self._feature_names
        columns = [fitted[code] for code in self.learned_]
        for code in self.prior_codes_:
            y = present[:, self.codes_.index(code)]
            prior = (y.sum() + 1) / (len(y) + 2)
            columns.append((np.zeros(len(names)), 0.0, 0.0, -float(np.log(prior / (1 - prior)))))
        self.weights_ = np.array([c[0] for c in columns]).T if columns else np.zeros((len(names), 0))
        self.intercepts_, self.slopes_, self.offsets_ = (np.array([c[i] for c in columns]) for i in (1, 2, 3))
        unigrams = [i for i in np.flatnonzero(is_word) if " " not in names[i]]
        self.word_weights_ = {
            code: {names[i][7:]: float(self.weights_[i, k]) for i in unigrams if self.weights_[i, k] > 0}
            for k, code in enumerate(self.learned_)
        }

    def _sources(self, X: pd.DataFrame, present: np.ndarray, held_out: dict[str, np.ndarray]) -> dict:
        """Per code, the model's out-of-fold figures and the rules' on the training rows,
        and which of the two suggests it: the model only where its F1 is higher."""
        sources = {}
        for k, code in enumerate(self.codes_):
            y = present[:, k].astype(bool)
            rule_column = f"rule:{code}"
            fired = X[rule_column].to_numpy() > 0 if rule_column in X.columns else np.zeros(len(y), bool)
            entry = {"support": int(y.sum()), "rules": agreement(y, fired)}
            if code in held_out:
                entry["model"] = agreement(y, held_out[code] >= self.thresholds_[code])
            elif code in self.prior_codes_:
                entry["model"] = agreement(y, np.ones(len(y), bool))
            use_model = "model" in entry and entry["model"]["f1"] > entry["rules"]["f1"]
            entry["use"] = "model" if use_model else "rules"
            chosen = entry[entry["use"]]
            entry["ready"] = chosen["kappa"] >= READY_KAPPA
            entry["suggest"] = chosen["predicted"] < 2 * self.min_examples or chosen["precision"] >= self.min_precision
            sources[code] = entry
        return sources

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
        regularisation strength is chosen by cross-validated macro-F1 from ``direction_Cs``."""
        classes, counts = np.unique(y, return_counts=True) if len(y) else ([], [])
        if len(classes) < 2 or len(y) < 2 * self.min_examples:
            return
        cue_columns = [c for c in X.columns if c.startswith(("local:", "cue:"))]
        X = self.focus(X)
        # the character n-grams are the presence model's, already fitted on every segment:
        # scoring a batch then builds them once for both models (LastBatchMemo)
        chars = self.features_.named_transformers_["chars"] if self.use_chars_ else "drop"
        segment = ColumnTransformer(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+",
                                          dtype=np.float32), "marked"),
                ("chars", FrozenEstimator(chars) if self.use_chars_ else "drop", "raw"),
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
        Cs = list(self.direction_Cs)
        self.direction_C_ = float(Cs[len(Cs) // 2])
        # the features are built once; only the classifier's C is searched over them (the
        # vocabularies then include the inner validation rows: 15 refits of the character
        # n-grams of long documents cost more than all the rest of training)
        matrix = features.fit_transform(X)
        folds = min(CV_FOLDS, int(counts.min()))
        if folds >= 2 and len(Cs) > 1:
            search = GridSearchCV(
                self._direction_classifier(1.0), {"C": Cs}, scoring="f1_macro",
                cv=StratifiedKFold(folds, shuffle=True, random_state=self.random_state),
            ).fit(matrix, y)
            self.direction_C_ = float(search.best_params_["C"])
        self.direction_ = Pipeline(
            [("features", features), ("classifier", self._direction_classifier(self.direction_C_).fit(matrix, y))]
        )

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


def agreement(gold: np.ndarray, predicted: np.ndarray) -> dict:
    """F1, precision, recall and Cohen's kappa of 0/1 ``predicted`` against ``gold``."""
    gold, predicted = np.asarray(gold, bool), np.asarray(predicted, bool)
    tp = int((gold & predicted).sum())
    fp, fn = int(predicted.sum()) - tp, int(gold.sum()) - tp
    n = len(gold)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    observed = (n - fp - fn) / n if n else 1.0
    expected = ((gold.sum() * predicted.sum()) + ((n - gold.sum()) * (n - predicted.sum()))) / n**2 if n else 1.0
    kappa = 1.0 if expected == 1 else (observed - expected) / (1 - expected)
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4),
            "kappa": round(float(kappa), 4), "predicted": int(predicted.sum())}


def _solve(matrix: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``matrix^-1 targets`` for a symmetric positive definite ``matrix``."""
    return scipy.linalg.solve(matrix, targets, assume_a="pos")


def _best_threshold(gold: np.ndarray, proba: np.ndarray) -> float:
    """The threshold of ``THRESHOLD_GRID`` with the best F1 (the lowest of ties)."""
    gold = np.asarray(gold, bool)
    scores = [_f1(gold, proba >= t) for t in THRESHOLD_GRID]
    return float(THRESHOLD_GRID[int(np.argmax(scores))])


def _platt(decisions: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid ``1 / (1 + exp(a * d + b))`` fitted to decision values, with his
    smoothed targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` (Platt 1999): with three
    positives the calibrated scores stay away from 0 and 1."""
    positives = int(y.sum())
    negatives = len(y) - positives
    target = np.where(y == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(params):
        a, b = params
        z = a * decisions + b  # -logit(p)
        # -log p = log(1 + exp(z)), -log(1 - p) = log(1 + exp(-z))
        value = target * np.logaddexp(0, z) + (1 - target) * np.logaddexp(0, -z)
        p = 1.0 / (1.0 + np.exp(z))
        grad_z = target * (1 - p) - (1 - target) * p  # d loss / d z
        return value.sum(), np.array([(grad_z * decisions).sum(), grad_z.sum()])

    prior = np.log((negatives + 1) / (positives + 1))
    result = minimize(loss, np.array([-1.0, prior]), jac=True, method="L-BFGS-B")
    a, b = result.x
    return float(a), float(b)


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = int((y & predicted).sum())
    return 0.0 if tp == 0 else 2 * tp / (int(y.sum()) + int(predicted.sum()))
