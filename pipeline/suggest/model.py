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

With a ``vector`` column in the code frame (sentence vectors from ``pipeline.embed``), both
models also read each segment's centred vector (``vector_weight``,
``direction_vector_weight``). A code with 1 to ``MEANING_BELOW`` coded segments also gets
a meaning model (``pipeline.suggest.meaning``: the vectors, with the codebook's texts of
the code counted as coded segments), and is suggested where its word model or its meaning
model says so. Codes without a word model keep a few coded examples, which the
``Suggester`` shows as the evidence of a suggestion by meaning and, for a code left to the
rules, matches by meaning (``semantic.examples_of``).
"""

from __future__ import annotations

import functools
import gzip
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from pipeline.checksums import file_sha256
from pipeline.metrics import cohen_kappa, ready
from pipeline.records import DIRECTIONS
from pipeline.suggest import meaning
from pipeline.suggest.features import direction_rows
from pipeline.suggest.scoring import (MODEL_FILE, MODEL_FORMAT, META_FILE, PresenceScoring, Scorer, TermWeights, focus,
                                      vector_block, vector_rows)

DIRECTION_CS = (2.0, 8.0, 32.0)  # candidates for the direction model, chosen by CV
# Candidates for the length of the sentence vector beside the direction model's words,
# chosen with C by CV: a whole-segment vector says how a NusaX sentence feels (0.45 -> 0.65
# macro-F1 at 25 rows, held-out train rows) but misleads where one review praises one
# aspect and faults another (HoASA at 25 rows: 0.44 -> 0.40 with a fixed length of 3).
DIRECTION_VECTOR_WEIGHTS = (0.0, 1.0, 3.0)
# The direction model's C and vector length are chosen on at most this many (segment, code)
# rows: 45 fits on all of 3,710 reviewed interview segments' rows took 80 s of a 104 s fit
# (lbfgs over their character n-grams); the final model still learns from every row.
DIRECTION_SEARCH_ROWS = 1500
# Coded examples kept per code the model cannot learn yet (fewer than ``min_examples``):
# with the encoder, a segment close to one of them is suggested that code by meaning
# (``semantic.examples_of``), in either language: nearest examples below the model.
EXAMPLES_PER_CODE = 10
# ``vector_weight="auto"``: the vectors' length beside the words, 1 up to 200 rows, falling
# (in log rows) to 0.5 at 1,000 and beyond. Held-out HoASA train rows: at 25-200 rows 1
# beat 0.5 (micro-F1 0.613/0.670/0.750/0.801 against 0.573/0.649/0.743/0.794), at 1,500
# rows 0.5 beat 1 (0.896 against 0.888; words alone 0.893): with many rows the words say
# more, and the vectors' 384 dense features weigh on the regularised fit.
AUTO_VECTOR_WEIGHT = ((200, 1.0), (1000, 0.5))
EXAMPLE_TEXT_CHARS = 160
CV_FOLDS = 5
# The fewest decided suggestions of a code (accepted, rejected or edited away) on which its
# precision may switch it off. Below ten, one decision moves the precision by more than a
# tenth: 1 accepted of 5 (0.2) is as consistent with a true precision of one in two as with
# one in ten. Switching a code off hides all its suggestions, while a poor suggestion costs
# one rejection, so the evidence must be more than a first handful of rejections.
MIN_DECIDED_TO_SWITCH_OFF = 10
# The Platt offset of a part (words or meaning) a code has no model in: a probability of e^-50.
NEVER = 50.0
# The meaning model's probability is sigmoid(slope x decision): a decision of 0.5 (half way
# to a clear example) is at least 0.88.
MEANING_MIN_SLOPE = 4.0
UPPER_GRID = np.round(np.arange(0.5, 0.91, 0.05), 2)
# A code has a meaning model while it has fewer coded segments than this; from then on its
# word model (with the vectors among its features) suggests it alone. Held-out train rows
# (``--dev``), micro-F1 at 25/50/100/200/600 rows, 30 against 80 (against no meaning model):
# HoASA 0.623/0.696/0.753/0.809/0.863 against 0.623/0.696/0.747/0.805/0.861
# (0.614/0.670/0.750/0.807/0.865); CASA 0.483/0.590/0.661/0.769/0.825 against
# 0.483/0.590/0.670/0.736/0.825 (0.424/0.566/0.677/0.769/0.825); with every code at any
# count, CASA at 600 rows fell to 0.780.
MEANING_BELOW = 30


def _single_threaded(method):
    """Run with one BLAS/OpenMP thread: these fits are small, and with a second thread
    competing for a busy core (2-core machines) a calibrated fit took 6 s instead of 0.06 s."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1):
            return method(*args, **kwargs)

    return wrapper


class OncePerSegment(TransformerMixin, BaseEstimator):
    """Fits and applies ``transformer`` to the distinct segments of its input only: the
    rows are told apart by the first column, and ``transformer`` reads the last.

    The direction frame has one row per (segment, code): a segment with five codes is the
    same words five times. Fitting on distinct segments also makes document frequencies
    count segments, not pairs.
    """

    def __init__(self, transformer):
        self.transformer = transformer

    def fit(self, X: pd.DataFrame, y=None) -> "OncePerSegment":
        self.fit_transform(X)
        return self

    def fit_transform(self, X: pd.DataFrame, y=None):
        """Fit on the distinct segments and return their rows, reading each segment once."""
        rows, values = self._distinct(X)
        self.transformer_ = clone(self.transformer)
        return sparse.csr_matrix(self.transformer_.fit_transform(values))[rows]

    def transform(self, X: pd.DataFrame):
        rows, values = self._distinct(X)
        return sparse.csr_matrix(self.transformer_.transform(values))[rows]

    @staticmethod
    def _distinct(X: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
        """Per row, the number of its segment; per segment, the value of its first row."""
        rows, _ = pd.factorize(X.iloc[:, 0].astype(str))  # numbered by first appearance
        _, first = np.unique(rows, return_index=True)
        return rows, X.iloc[first, -1]

    def get_feature_names_out(self, input_features=None):
        return self.transformer_.get_feature_names_out()


def _given_terms(terms):
    """The analyser of vectorizers over n-grams already read (``features.code_frame``)."""
    return terms


THRESHOLD_GRID = np.round(np.arange(0.1, 0.91, 0.05), 2)
# Measured on held-out training rows (bench/learning_curve.py --dev): the SVMs are better
# with few rows (ridge -0.02 to -0.09 micro-F1 at 25-50 rows, level at 100-200, -0.007 on
# 2,400 NaPiRE answers with 98 codes) but cost one fit per code and fold: 123 s against
# 14 s for ridge on those 2,400 answers. Ridge takes over where SVMs would take minutes.
RIDGE_FROM_ROW_CODES = 100_000
LONG_TEXT_CHARS = 2_000
# Up to this many rows the code SVMs are solved on the Gram matrix of the rows (one for
# every code and fold) rather than by liblinear on the features: the same models (weights
# within 1e-5), but a fit on 300 long documents (~1,000 features a row) took 2.5 s instead
# of 4.6 s, on 200 HoASA reviews 0.39 s instead of 0.54 s; the dual's solves cost
# O(rows^3), and on 900 reviews liblinear was faster (2.0 s against 3.3 s).
GRAM_SVM_MAX_ROWS = 500


class SuggestionModel(PresenceScoring, BaseEstimator):
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
        A code whose chosen source (model or rules) made at least ``MIN_DECIDED_TO_SWITCH_OFF``
        suggestions that an analyst decided on (``decided`` in :meth:`fit`), out of fold,
        with a lower precision among them is not suggested at all
        (``sources_[code]["suggest"]`` is false; ``sources_[code]["decided"]`` holds the
        counts).
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
        Seed for the cross-validation splits and liblinear's row order, so training is
        deterministic.
    vector_weight, direction_vector_weight : float
        With a ``vector`` column in the code frame (sentence vectors from the encoder), the
        length of each segment's centred vector beside the word, character and rule
        features of the presence and the direction model (0: vectors left out;
        ``vector_weight="auto"``: by the number of rows, ``AUTO_VECTOR_WEIGHT``);
        ``direction_vector_weight=None`` chooses it from ``DIRECTION_VECTOR_WEIGHTS`` with
        the direction model's C, by cross-validated macro-F1.
    codebook_weight : float
        With vectors, the meaning model (``pipeline.suggest.meaning``: a ridge classifier
        per code on the segment vectors, learned from a single coded segment up) counts
        the codebook's texts of a code (``fit``'s ``code_vectors``) as this many coded
        segments; a code's probability is the better of its word model's and its meaning
        model's. 0: no meaning model.
    """

    def __init__(self, min_examples: int = 3, C: float = 0.5, char_ngrams: bool | str = "auto",
                 threshold_shrinkage: float = 1000.0, min_precision: float = 0.3, direction_Cs: tuple = DIRECTION_CS,
                 classifier: str = "auto", alpha: float = 1.0, random_state: int = 0,
                 vector_weight: float | str = "auto", direction_vector_weight: float | None = None,
                 codebook_weight: float = meaning.CODEBOOK_WEIGHT):
        self.min_examples = min_examples
        self.codebook_weight = codebook_weight
        self.vector_weight = vector_weight
        self.direction_vector_weight = direction_vector_weight
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
    def fit(self, X: pd.DataFrame, Y: pd.DataFrame, decided: np.ndarray | None = None,
            code_vectors=None) -> "SuggestionModel":
        """Learn from a code frame ``X`` and a label frame ``Y`` (rows aligned).

        ``decided``: rows x codes (``Y``'s columns), true where an analyst decided on the
        code for the row (accepted, rejected, edited or added it); ``None``: every code of
        every row was decided (a gold coding, a labelled table). Only decided suggestions
        count toward the precision that can switch a code off.

        ``code_vectors`` (``semantic.CodeVectors``, the codebook's texts embedded by the
        encoder that made ``X``'s vectors): with vectors, those texts are training rows of
        the meaning model (``pipeline.suggest.meaning``)."""
        X, Y = X.reset_index(drop=True), Y.reset_index(drop=True)
        decided = None if decided is None else np.asarray(decided, bool).reshape(len(Y), len(Y.columns))
        present = Y.notna().to_numpy()
        self.codes_ = list(Y.columns)
        self.support_ = {code: int(present[:, k].sum()) for k, code in enumerate(self.codes_)}
        self.prior_codes_, self.thresholds_ = [], {}
        words_learned: list[str] = []  # codes with a word model
        self.direction_ = None
        fitted, held_out = {}, {}
        n = len(Y)
        self.features_ = None
        vectors = vector_rows(X)
        self.vector_mean_ = None
        if vectors is not None and vectors.any():
            self.vector_mean_ = vectors[vectors.any(axis=1)].mean(axis=0)
        self.encoder_id_ = getattr(self, "encoder_id_", "")
        self.vector_weight_ = _auto_weight(len(X)) if self.vector_weight == "auto" else float(self.vector_weight)
        self.use_chars_ = self.char_ngrams is True or (
            self.char_ngrams == "auto" and bool(n) and X["raw"].str.len().mean() <= LONG_TEXT_CHARS)
        if n >= 2 * self.min_examples:  # else no code can have enough examples on both sides
            rule_columns = [c for c in X.columns if c.startswith(("rule:", "cue:"))]
            chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2,
                                    dtype=np.float32)
            self.features_ = ColumnTransformer(
                [
                    # word 1-2-grams without stop words, read by features.code_frame
                    ("words", TfidfVectorizer(analyzer=_given_terms, sublinear_tf=True, dtype=np.float32), "terms"),
                    ("chars", chars if self.use_chars_ else "drop", "raw"),
                    # scaled to at most 1: the cue counts of a long document (dozens) made
                    # the SVM's dual solver run to its iteration limit (1.3 s per fit, 60 documents)
                    ("rules", MaxAbsScaler(), rule_columns),
                ]
            )
            matrix = sparse.csr_matrix(self.features_.fit_transform(X))
            if self.vector_mean_ is not None:
                matrix = sparse.hstack([matrix, vector_block(X, self.vector_mean_, self.vector_weight_)], format="csr")
        self.feature_names_ = (np.array([], dtype=str) if self.features_ is None
                               else self.features_.get_feature_names_out().astype(str))
        if self.features_ is not None and self.vector_mean_ is not None:
            self.feature_names_ = np.concatenate(
                [self.feature_names_, np.array([f"vectors__{k}" for k in range(len(self.vector_mean_))])])
        for k, code in enumerate(self.codes_):
            y = present[:, k].astype(int)
            positives, negatives = int(y.sum()), n - int(y.sum())
            if self.features_ is not None and min(positives, negatives) >= self.min_examples:
                words_learned.append(code)
            elif positives >= self.min_examples and positives > negatives:
                self.prior_codes_.append(code)
        meaning_fitted, meaning_held_out = self._fit_meaning(X, vectors, present, code_vectors)
        self.learned_ = [c for c in self.codes_ if c in words_learned or c in meaning_fitted]
        self.meaning_codes_ = [c for c in self.codes_ if c in meaning_fitted]
        columns = [self.codes_.index(code) for code in words_learned]
        self.classifier_ = self.classifier
        if self.classifier == "auto":
            self.classifier_ = "ridge" if n * len(columns) >= RIDGE_FROM_ROW_CODES else "svm"
        if self.classifier_ == "ridge" and columns:
            fitted, held_out = self._fit_ridge(matrix, present[:, columns].astype(int), words_learned)
        gram = None
        if self.classifier_ != "ridge" and columns and n <= GRAM_SVM_MAX_ROWS:
            gram = (matrix @ matrix.T).toarray() + 1.0
        for code, k in zip(words_learned, columns):
            if self.classifier_ != "ridge":
                fitted[code], held_out[code] = self._fit_code(matrix, present[:, k].astype(int), gram)
        self._set_thresholds(present, held_out)
        if meaning_fitted:
            held_out.update(self._at_one_threshold(present, fitted, held_out, meaning_held_out))
        self._stack_weights(fitted, present)
        self._stack_meaning(meaning_fitted)
        self._keep_examples(X, vectors, present, words_learned)
        self.sources_ = self._sources(X, present, held_out, decided)
        directed = [(i, code) for code in self.codes_ for i, d in enumerate(Y[code]) if d in DIRECTIONS]
        if directed and self.features_ is not None:
            self._fit_direction(direction_rows(X, directed), np.array([Y.at[i, c] for i, c in directed]), matrix)
        return self

    @_single_threaded
    def transform(self, X: pd.DataFrame):
        """The presence features of a code frame (sparse, one row per segment)."""
        if self.features_ is None:
            return sparse.csr_matrix((len(X), 0), dtype=np.float32)
        matrix = sparse.csr_matrix(self.features_.transform(X))
        if self.vector_mean_ is not None:
            matrix = sparse.hstack([matrix, vector_block(X, self.vector_mean_, self.vector_weight_)], format="csr")
        return matrix

    def _keep_examples(self, X: pd.DataFrame, vectors: np.ndarray | None, present: np.ndarray,
                       words_learned: list[str]) -> None:
        """With vectors: for each code without a word model nor scored by its prior, up to
        ``EXAMPLES_PER_CODE`` of its coded rows (vector and the start of the text), and the
        mean and spread of the cosines between training rows that share no code (what
        unrelated segments score)."""
        self.example_codes_, self.example_texts_, self.example_vectors_ = [], [], None
        self.example_background_ = None
        if vectors is None or self.vector_mean_ is None:
            return
        has = vectors.any(axis=1)
        kept = []
        for k, code in enumerate(self.codes_):
            if code in words_learned or code in self.prior_codes_:
                continue
            rows = np.flatnonzero(present[:, k] & has)[:EXAMPLES_PER_CODE]
            kept += [(code, int(i)) for i in rows]
        sample = np.flatnonzero(has)[:400]
        if not kept or len(sample) < 3:
            return
        sims = vectors[sample] @ vectors[sample].T
        coded = present[sample].astype(np.float32)
        unrelated = (coded @ coded.T) == 0  # rows that share no code (nor are one row)
        np.fill_diagonal(unrelated, False)
        off = sims[unrelated] if unrelated.sum() >= 10 else sims[~np.eye(len(sample), dtype=bool)]
        self.example_background_ = (float(off.mean()), max(float(off.std()), 1e-3))
        raw = X["raw"].tolist()
        self.example_codes_ = [code for code, _ in kept]
        self.example_texts_ = [raw[i][:EXAMPLE_TEXT_CHARS] for _, i in kept]
        self.example_vectors_ = vectors[[i for _, i in kept]].astype(np.float16)

    def _word_features(self) -> np.ndarray:
        return self._feature_names[1]

    @property
    def _feature_names(self) -> tuple[np.ndarray, np.ndarray]:
        return self.feature_names_, np.char.startswith(self.feature_names_, "words__")

    def _svm(self) -> LinearSVC:
        """liblinear's SVM, its row order seeded (unseeded, it drew a seed from numpy's
        global generator: two fits on the same rows differed)."""
        return LinearSVC(C=self.C, random_state=self.random_state)

    def _fit_code(self, matrix, y: np.ndarray, gram: np.ndarray | None = None) -> tuple[tuple, np.ndarray]:
        """A linear SVM, Platt scaling fitted on its out-of-fold decisions, and those
        out-of-fold probabilities (for the thresholds and the model's figures).

        With ``gram`` (``matrix @ matrix.T + 1``, for tables of at most ``GRAM_SVM_MAX_ROWS``
        rows) the SVMs are solved in their dual on it (:func:`_svm_dual`), the same problem
        ``LinearSVC`` solves; the Gram matrix is shared by every code and fold."""
        folds = StratifiedKFold(min(CV_FOLDS, int(min(y.sum(), len(y) - y.sum()))), shuffle=True,
                                random_state=self.random_state)
        decisions = np.zeros(len(y))
        signs = np.where(y == 1, 1.0, -1.0)
        for train, test in folds.split(matrix, y):
            if gram is None:
                decisions[test] = self._svm().fit(matrix[train], y[train]).decision_function(matrix[test])
            else:
                dual = _svm_dual(gram[np.ix_(train, train)], signs[train], self.C) * signs[train]
                decisions[test] = gram[np.ix_(test, train)] @ dual
        slope, offset = _platt(decisions, y)
        held_out = 1.0 / (1.0 + np.exp(slope * decisions + offset))
        if gram is None:
            svm = self._svm().fit(matrix, y)
            return (svm.coef_[0], float(svm.intercept_[0]), slope, offset), held_out
        dual = _svm_dual(gram, signs, self.C) * signs
        coef = np.asarray(matrix.T @ dual, dtype=np.float64).ravel()
        return (coef, float(dual.sum()), slope, offset), held_out

    def _fit_meaning(self, X: pd.DataFrame, vectors: np.ndarray | None, present: np.ndarray,
                     code_vectors) -> tuple[dict, dict]:
        """The meaning model (``pipeline.suggest.meaning``) of every code with at least one
        coded segment and fewer than ``MEANING_BELOW``, and ``min_examples`` segments
        without it, not scored by its prior:
        per code, its weights (on ``meaning.unit_centred`` vectors), Platt slope and offset,
        and its out-of-fold probabilities. Nothing without vectors or word features."""
        if (vectors is None or self.vector_mean_ is None or self.features_ is None
                or not self.vector_weight_ or not self.codebook_weight):
            return {}, {}
        n = len(present)
        codes = [k for k, code in enumerate(self.codes_) if code not in self.prior_codes_
                 and 1 <= present[:, k].sum() < MEANING_BELOW and n - present[:, k].sum() >= self.min_examples]
        if not codes:
            return {}, {}
        rows = meaning.unit_centred(vectors, self.vector_mean_)
        texts = labels = weights = None
        if code_vectors is not None and code_vectors.dim == vectors.shape[1]:
            texts, labels, weights = meaning.text_rows(self.codes_, code_vectors.codes, code_vectors.matrix,
                                                       self.codebook_weight)
            texts, labels = meaning.unit_centred(texts, self.vector_mean_), labels[:, codes]
        y = present[:, codes]
        coef, decisions = meaning.fit_meaning(rows, y, texts, labels, weights, random_state=self.random_state)
        # the probability's scale from Platt's slope on the out-of-fold decisions (at least
        # MEANING_MIN_SLOPE steep); its cut stays at the boundary, decision 0
        slopes = np.minimum(_platt(decisions, y)[0], -MEANING_MIN_SLOPE)
        has = vectors.any(axis=1)  # a row without a vector: no meaning, no suggestion by it
        fitted, held_out = {}, {}
        for j, k in enumerate(codes):
            code = self.codes_[k]
            fitted[code] = (coef[:, j], float(slopes[j]), 0.0)
            held_out[code] = np.where(has, 1.0 / (1.0 + np.exp(slopes[j] * decisions[:, j])), 0.0)
        return fitted, held_out

    def _at_one_threshold(self, present: np.ndarray, fitted: dict, held_out: dict,
                          meaning_held_out: dict) -> dict:
        """A code with a meaning model has the higher of its two parts as its probability,
        each at 0.5 on its own cut: the word model's threshold is folded into its Platt offset
        (its probability p becomes ``sigmoid(logit(p) - logit(threshold))``), the meaning
        model's cut is its decision boundary (decision 0: balanced classes). One threshold
        for every such code, chosen on the out-of-fold probabilities so combined, pooled
        over codes, may only raise that cut (``UPPER_GRID``): either part at its own cut is
        the most a suggestion needs. Returns those codes' out-of-fold probabilities.

        Held-out train rows (``bench/learning_curve.py --dev``), mean micro-F1 over 25-200
        rows: NaPiRE 0.286 (the meaning model Platt-scaled, its threshold chosen like the
        words': 0.269), HoASA 0.717 (cut at 0.5 without choosing: 0.693)."""
        combined = {}
        for code in meaning_held_out:
            parts = [meaning_held_out[code]]
            if code in fitted:
                threshold = min(max(self.thresholds_[code], 1e-3), 1 - 1e-3)
                shift = float(np.log(threshold / (1 - threshold)))
                weights, intercept, slope, offset = fitted[code]
                fitted[code] = (weights, intercept, slope, offset + shift)
                p = np.clip(held_out[code], 1e-12, 1 - 1e-12)
                parts.append(1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) - shift))))
            combined[code] = np.maximum.reduce(parts)
        columns = [self.codes_.index(code) for code in combined]
        gold = present[:, columns].astype(bool).ravel(order="F")
        pooled = np.concatenate(list(combined.values()))
        scores = [_f1(gold, pooled >= t) for t in UPPER_GRID]
        cut = float(UPPER_GRID[int(np.argmax(scores))])
        for code in combined:
            self.thresholds_[code] = cut
        return combined

    def _stack_meaning(self, fitted: dict[str, tuple]) -> None:
        """The meaning model's weights of every scored code (``PresenceScoring``), read off
        the vector block of :meth:`transform`'s output (whose rows have length
        ``vector_weight_``): the vector part divided by that length. A code without one
        gets zero weights and a probability of about 0."""
        self.meaning_weights_ = self.meaning_slopes_ = self.meaning_offsets_ = None
        if not fitted:
            return
        dim = len(self.vector_mean_) + 1
        weights = np.zeros((dim, len(self.scored_)))
        slopes, offsets = np.zeros(len(self.scored_)), np.full(len(self.scored_), NEVER)
        for j, code in enumerate(self.scored_):
            if code in fitted:
                weights[:, j], slopes[j], offsets[j] = fitted[code]
        weights[:-1] /= self.vector_weight_
        self.meaning_weights_, self.meaning_slopes_, self.meaning_offsets_ = weights, slopes, offsets

    def _fit_ridge(self, matrix, Y: np.ndarray, codes: list[str]) -> tuple[dict, dict]:
        """Every learned code at once: ridge regression on +1/-1 targets in its dual form,
        ``A = (K + alpha I)^-1 Y`` with the Gram matrix ``K = X X^T + 1`` (the 1 is an
        intercept), so one ``n x n`` solve per fold serves all codes; out-of-fold decisions
        come from ``KFold`` folds shared by the codes, then Platt scaling per code."""
        # single precision: the solves take half the time of double precision (0.14 s against
        # 0.37 s at 2,470 rows) and the decisions move by about 1e-5 of their size
        targets = (2.0 * Y - 1.0).astype(np.float32)
        matrix = sparse.csr_matrix(matrix, dtype=np.float32)
        gram = (matrix @ matrix.T).toarray() + np.float32(1.0)
        n = len(gram)
        decisions = np.zeros(targets.shape)
        folds = KFold(min(CV_FOLDS, n), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(gram):
            dual = _solve(gram[np.ix_(train, train)], self.alpha, targets[train])
            decisions[test] = gram[np.ix_(test, train)] @ dual
        dual = _solve(gram, self.alpha, targets)
        weights = np.asarray(matrix.T @ dual, dtype=np.float64)  # features x codes
        intercepts = dual.sum(axis=0, dtype=np.float64)
        slopes, offsets = _platt(decisions, Y)
        fitted, held_out = {}, {}
        for j, code in enumerate(codes):
            fitted[code] = (weights[:, j], float(intercepts[j]), float(slopes[j]), float(offsets[j]))
            held_out[code] = 1.0 / (1.0 + np.exp(slopes[j] * decisions[:, j] + offsets[j]))
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
        # a code learned by meaning alone has no word weights: its words' probability is about 0
        columns = [fitted.get(code, (np.zeros(len(names)), 0.0, 0.0, NEVER)) for code in self.learned_]
        for code in self.prior_codes_:
            y = present[:, self.codes_.index(code)]
            prior = (y.sum() + 1) / (len(y) + 2)
            columns.append((np.zeros(len(names)), 0.0, 0.0, -float(np.log(prior / (1 - prior)))))
        self.weights_ = np.array([c[0] for c in columns]).T if columns else np.zeros((len(names), 0))
        self.intercepts_, self.slopes_, self.offsets_ = (np.array([c[i] for c in columns]) for i in (1, 2, 3))
        unigrams = np.array([i for i in np.flatnonzero(is_word) if " " not in names[i]], dtype=int)
        words = np.array([name[7:] for name in names[unigrams]], dtype=object)
        self.word_weights_ = {}
        for k, code in enumerate(self.learned_):
            weights = self.weights_[unigrams, k]
            positive = np.flatnonzero(weights > 0)
            self.word_weights_[code] = dict(zip(words[positive].tolist(), weights[positive].tolist()))

    def _sources(self, X: pd.DataFrame, present: np.ndarray, held_out: dict[str, np.ndarray],
                 decided: np.ndarray | None = None) -> dict:
        """Per code, the model's out-of-fold figures and the rules' on the training rows,
        and which of the two suggests it: the model where its F1 is higher, or as high with
        fewer wrong suggestions (a code with one coded segment that neither found: the
        rules fired on other segments, the model on none). Otherwise the rules: a codebook's
        keywords are the analyst's own words. Held-out train rows of NaPiRE, micro-F1 at
        25/50/100/200 rows: 0.285/0.327/0.335/0.363 against 0.285/0.323/0.335/0.360 (ties
        to the rules); the user trial of ``tests/test_retrain_trust.py`` is unchanged.

        A code is switched off (``suggest`` false) only on the suggestions of the chosen
        source that an analyst decided on (``decided``; all of them when ``None``): at
        least ``MIN_DECIDED_TO_SWITCH_OFF`` of them, with a precision below
        ``min_precision``. A suggestion left undecided on a reviewed segment (another code
        added there, say) is no evidence that it was wrong."""
        sources = {}
        for k, code in enumerate(self.codes_):
            y = present[:, k].astype(bool)
            rule_column = f"rule:{code}"
            fired = X[rule_column].to_numpy() > 0 if rule_column in X.columns else np.zeros(len(y), bool)
            entry = {"support": int(y.sum()), "rules": agreement(y, fired)}
            by_model = (held_out[code] >= self.thresholds_[code] if code in held_out
                        else np.ones(len(y), bool) if code in self.prior_codes_ else None)
            use_model = False
            if by_model is not None:
                entry["model"] = agreement(y, by_model)
                wrong = int((by_model & ~y).sum()), int((fired & ~y).sum())
                use_model = (entry["model"]["f1"], -wrong[0]) > (entry["rules"]["f1"], -wrong[1])
            entry["use"] = "model" if use_model else "rules"
            chosen = entry[entry["use"]]
            entry["ready"] = ready(chosen["kappa"])  # else "low confidence" (pipeline.metrics)
            suggested = by_model if use_model else fired
            counted = suggested if decided is None else suggested & decided[:, k]
            accepted = int((counted & y).sum())
            entry["decided"] = {"suggested": int(counted.sum()), "accepted": accepted,
                                "precision": round(accepted / int(counted.sum()), 4) if counted.any() else None}
            entry["suggest"] = (int(counted.sum()) < MIN_DECIDED_TO_SWITCH_OFF
                                or accepted / int(counted.sum()) >= self.min_precision)
            sources[code] = entry
        return sources

    def focus(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` plus the clauses a direction is read from (``scoring.focus``)."""
        return focus(X, getattr(self, "word_weights_", {}))

    # -- direction -------------------------------------------------------------------
    def _fit_direction(self, X: pd.DataFrame, y: np.ndarray, features) -> None:
        """Words with negation marked, character n-grams, the code and the cue counts; the
        regularisation strength is chosen by cross-validated macro-F1 from ``direction_Cs``.
        ``features`` is :meth:`transform`'s output for the code frame ``X`` was cut from."""
        classes, counts = np.unique(y, return_counts=True) if len(y) else ([], [])
        if len(classes) < 2 or len(y) < 2 * self.min_examples:
            return
        cue_columns = [c for c in X.columns if c.startswith(("local:", "cue:"))]
        X = self.focus(X)
        self.direction_features_ = ColumnTransformer(
            [
                ("segment", OncePerSegment(TfidfVectorizer(analyzer=_given_terms, sublinear_tf=True,
                                                           dtype=np.float32)), ["marked", "marked_terms"]),
                ("local", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+",
                                          dtype=np.float32), "local"),
                ("coded", TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+", lowercase=False,
                                          dtype=np.float32), "coded"),
                ("code", OneHotEncoder(handle_unknown="ignore"), ["code"]),
                ("cues", MaxAbsScaler(), cue_columns),
            ]
        )
        # the features are built once; only the classifier's C (and the vectors' length) is
        # searched over them (the vocabularies then include the inner validation rows: 15
        # refits of the character n-grams of long documents cost more than all the rest)
        self.direction_vector_weight_ = 0.0
        words = self._direction_matrix(X, features, fit=True)
        weights = [0.0]
        if self.vector_mean_ is not None:
            unit = vector_block(X, self.vector_mean_, 1.0)
            weights = list(DIRECTION_VECTOR_WEIGHTS if self.direction_vector_weight is None
                           else [self.direction_vector_weight])
        matrices = [words if not w else sparse.hstack([words, unit * w], format="csr") for w in weights]
        # the search reads at most DIRECTION_SEARCH_ROWS rows (a seeded stratified sample)
        searched = np.arange(len(y))
        if len(y) > DIRECTION_SEARCH_ROWS:
            searched, _ = train_test_split(searched, train_size=DIRECTION_SEARCH_ROWS, stratify=y,
                                           random_state=self.random_state)
        smallest = int(np.unique(y[searched], return_counts=True)[1].min())
        scores = [self._choose_direction_C(m[searched], y[searched], smallest) for m in matrices]
        best = max(range(len(weights)), key=lambda k: (scores[k][1], -k))  # the shorter of ties
        self.direction_C_, self.direction_vector_weight_ = scores[best][0], float(weights[best])
        self.direction_ = self._direction_classifier(self.direction_C_).fit(matrices[best], y)

    def _direction_matrix(self, X: pd.DataFrame, features=None, fit: bool = False):
        """The direction features of focused (segment, code) rows: the direction model's own
        and the presence model's character n-grams of each segment, taken from ``features``
        (rows numbered by ``X["row"]``) when given, else built once per distinct text."""
        own = self.direction_features_.fit_transform(X) if fit else self.direction_features_.transform(X)
        blocks = [sparse.csr_matrix(own)]
        if self.use_chars_:
            chars = self.features_.output_indices_["chars"]
            if features is not None:
                segment = sparse.csr_matrix(features)[X["row"].to_numpy()][:, chars]
            else:
                rows, texts = pd.factorize(X["raw"].astype(str))
                segment = sparse.csr_matrix(self.features_.named_transformers_["chars"].transform(texts))[rows]
            blocks.append(segment)
        if not fit and self.vector_mean_ is not None and self.direction_vector_weight_:
            blocks.append(vector_block(X, self.vector_mean_, self.direction_vector_weight_))
        return sparse.hstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]

    def _choose_direction_C(self, matrix, y: np.ndarray, smallest_class: int) -> tuple[float, float]:
        """The C of ``direction_Cs`` with the best macro-F1 over stratified folds (the first
        of ties, as ``GridSearchCV`` takes) and that macro-F1 summed over the folds; in each
        fold the fits go from the smallest C up, each starting from the last one's weights."""
        Cs = list(self.direction_Cs)
        folds = min(CV_FOLDS, smallest_class)
        if folds < 2 or len(Cs) < 2:
            return float(Cs[len(Cs) // 2]), 0.0
        scores = np.zeros(len(Cs))
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=self.random_state).split(matrix, y):
            classifier = self._direction_classifier(1.0).set_params(warm_start=True)
            for j in np.argsort(Cs, kind="stable"):
                classifier.set_params(C=Cs[j]).fit(matrix[train], y[train])
                scores[j] += f1_score(y[test], classifier.predict(matrix[test]), average="macro")
        return float(Cs[int(np.argmax(scores))]), float(scores.max())

    @staticmethod
    def _direction_classifier(C: float) -> LogisticRegression:
        return LogisticRegression(C=C, max_iter=2000, class_weight="balanced")

    @_single_threaded
    def predict_direction(self, X: pd.DataFrame, features=None) -> np.ndarray | None:
        """Direction per (segment, code) row (``features.direction_rows``), or ``None`` when
        no direction model was learned. ``features``: :meth:`transform`'s output for the code
        frame the rows come from (their ``row`` column numbers its rows), so that a batch's
        character n-grams are built once for both models."""
        if self.direction_ is None or X.empty:
            return None
        return self.direction_.predict(self._direction_matrix(self.focus(X), features))

    # -- scoring without scikit-learn ----------------------------------------------
    def scorer(self) -> Scorer:
        """This fitted model's vocabularies, scales and coefficients as a ``Scorer``, which
        scores the same without importing scikit-learn."""
        words = chars = None
        rule_columns, rule_scale = [], np.zeros(0)
        if self.features_ is not None:
            fitted = self.features_.named_transformers_
            words = _term_weights(fitted["words"], "given")
            if self.use_chars_:
                chars = _term_weights(fitted["chars"], "char_wb")
            rule_columns = list(dict((name, columns) for name, _, columns in self.features_.transformers_)["rules"])
            rule_scale = fitted["rules"].scale_.astype(np.float64)
        scorer = Scorer(codes_=list(self.codes_), learned_=list(self.learned_), prior_codes_=list(self.prior_codes_),
                        thresholds_=dict(self.thresholds_), sources_=self.sources_, support_=dict(self.support_),
                        words=words, chars=chars, rule_columns=rule_columns, rule_scale=rule_scale,
                        feature_names_=self.feature_names_, weights_=self.weights_, intercepts_=self.intercepts_,
                        slopes_=self.slopes_, offsets_=self.offsets_, word_weights_=self.word_weights_,
                        vector_mean=getattr(self, "vector_mean_", None), vector_weight=float(getattr(self, "vector_weight_", 0.0)),
                        direction_vector_weight=float(getattr(self, "direction_vector_weight_", 0.0)),
                        encoder_id=getattr(self, "encoder_id_", ""),
                        example_codes=list(getattr(self, "example_codes_", [])),
                        example_texts=list(getattr(self, "example_texts_", [])),
                        example_vectors=getattr(self, "example_vectors_", None),
                        example_background=getattr(self, "example_background_", None),
                        meaning_weights_=getattr(self, "meaning_weights_", None),
                        meaning_slopes_=getattr(self, "meaning_slopes_", None),
                        meaning_offsets_=getattr(self, "meaning_offsets_", None))
        if self.direction_ is not None:
            fitted = self.direction_features_.named_transformers_
            scorer.direction_terms = _term_weights(fitted["segment"].transformer_, "given")
            scorer.direction_local = _term_weights(fitted["local"], "words")
            scorer.direction_coded = _term_weights(fitted["coded"], "words")
            scorer.direction_codes = [str(c) for c in fitted["code"].categories_[0]]
            scorer.cue_columns = list(dict((n, c) for n, _, c in self.direction_features_.transformers_)["cues"])
            scorer.cue_scale = fitted["cues"].scale_.astype(np.float64)
            scorer.direction_coef = self.direction_.coef_
            scorer.direction_intercept = self.direction_.intercept_
            scorer.direction_classes = self.direction_.classes_
        return scorer

    # -- persistence -----------------------------------------------------------------
    def save(self, directory: str | Path, meta: dict) -> dict:
        """Write the model's ``Scorer`` (``MODEL_FILE``) and ``meta.json`` (with the file's
        checksum) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # mtime=0: the same model makes the same bytes, so its checksum says what it is
        with gzip.GzipFile(directory / MODEL_FILE, "wb", compresslevel=6, mtime=0) as handle:
            pickle.dump(self.scorer(), handle, protocol=pickle.HIGHEST_PROTOCOL)
        meta = {**meta, "format": MODEL_FORMAT, "files": {MODEL_FILE: file_sha256(directory / MODEL_FILE)}}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return meta


def _auto_weight(rows: int) -> float:
    """``AUTO_VECTOR_WEIGHT`` at ``rows``: flat outside its two points, linear in log rows
    between them."""
    (low, high), (few, many) = zip(*AUTO_VECTOR_WEIGHT)
    if rows <= low:
        return few
    if rows >= high:
        return many
    share = np.log(rows / low) / np.log(high / low)
    return round(float(few + share * (many - few)), 4)


def _term_weights(vectorizer: TfidfVectorizer, kind: str) -> TermWeights:
    """The transform of a fitted ``TfidfVectorizer`` (l2 norm, sublinear tf, float32)."""
    if vectorizer.norm != "l2" or not vectorizer.sublinear_tf or not vectorizer.use_idf:
        raise ValueError("a Scorer reproduces l2-normed, sublinear TF-IDF only")
    return TermWeights(vocabulary=dict(vectorizer.vocabulary_), idf=vectorizer.idf_.astype(np.float32), kind=kind,
                       ngram_range=tuple(vectorizer.ngram_range), token_pattern=vectorizer.token_pattern,
                       lowercase=vectorizer.lowercase)


def agreement(gold: np.ndarray, predicted: np.ndarray) -> dict:
    """F1, precision, recall and Cohen's kappa of 0/1 ``predicted`` against ``gold``."""
    gold, predicted = np.asarray(gold, bool), np.asarray(predicted, bool)
    tp = int((gold & predicted).sum())
    fp, fn = int(predicted.sum()) - tp, int(gold.sum()) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4),
            "kappa": cohen_kappa(gold, predicted), "predicted": int(predicted.sum())}


def _solve(gram: np.ndarray, alpha: float, targets: np.ndarray) -> np.ndarray:
    """``(gram + alpha I)^-1 targets`` for a symmetric positive semi-definite ``gram`` (left
    as it is), by Cholesky."""
    matrix = gram.copy()
    matrix.flat[:: len(gram) + 1] += alpha
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(matrix, overwrite_a=True, check_finite=False), targets,
                                  overwrite_b=False, check_finite=False)


def _svm_dual(gram: np.ndarray, signs: np.ndarray, C: float) -> np.ndarray:
    """The dual of ``LinearSVC(C=C)`` (squared hinge loss, the intercept a constant feature
    of 1, regularised like the weights): ``alpha >= 0`` minimising
    ``1/2 alpha' (S K S + I / 2C) alpha - sum(alpha)``, with ``K`` the Gram matrix of the
    rows plus 1 and ``S`` the diagonal of +1/-1 labels. Then ``w = X' S alpha`` and the
    intercept is ``sum(S alpha)``.

    Solved by the primal-dual active-set method (Hintermüller, Ito & Kunisch 2002): with
    small ``C`` nearly every row is a support vector, and the first solve (all rows free)
    is already close; each step solves the system of the free rows. Falls back to
    ``scipy.optimize.nnls`` should the active set cycle.
    """
    n = len(signs)
    hessian = signs[:, None] * gram * signs[None, :]
    hessian.flat[:: n + 1] += 1.0 / (2.0 * C)
    free = np.ones(n, bool)
    for _ in range(50):
        alpha = np.zeros(n)
        rows = np.flatnonzero(free)
        if len(rows):
            block = hessian[np.ix_(rows, rows)]
            alpha[rows] = scipy.linalg.cho_solve(scipy.linalg.cho_factor(block, check_finite=False), np.ones(len(rows)),
                                                 check_finite=False)
        multiplier = hessian @ alpha - 1.0  # the KKT multiplier of alpha >= 0 (0 where free)
        following = alpha - multiplier > 0
        if (following == free).all():
            return np.maximum(alpha, 0.0)
        free = following
    factor = scipy.linalg.cholesky(hessian, lower=True)
    alpha, _ = scipy.optimize.nnls(factor.T, scipy.linalg.solve_triangular(factor, np.ones(n), lower=True))
    return alpha


def _best_threshold(gold: np.ndarray, proba: np.ndarray) -> float:
    """The threshold of ``THRESHOLD_GRID`` with the best F1 (the lowest of ties)."""
    gold = np.asarray(gold, bool)
    scores = [_f1(gold, proba >= t) for t in THRESHOLD_GRID]
    return float(THRESHOLD_GRID[int(np.argmax(scores))])


def _platt(decisions: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Platt's sigmoid ``1 / (1 + exp(a * d + b))`` fitted to decision values, with his
    smoothed targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` (Platt 1999): with three
    positives the calibrated scores stay away from 0 and 1.

    ``decisions`` and ``y`` are ``rows x codes`` (or one column as a vector); every code is
    fitted at once by Newton's method with a backtracking line search (Lin, Lin & Weng
    2007), vectorised over codes: 150 codes by ``scipy.optimize.minimize`` one at a time
    took 0.4 s per fit. Returns ``a`` and ``b`` per code (floats for a vector).
    """
    vector = np.ndim(decisions) == 1
    d = np.asarray(decisions, dtype=np.float64).reshape(len(decisions), -1)
    y = np.asarray(y).reshape(d.shape).astype(bool)
    positives = y.sum(axis=0)
    negatives = len(d) - positives
    target = np.where(y, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a, b, columns=slice(None)):
        z = a * d[:, columns] + b  # -logit(p); -log p = log(1 + exp(z)), -log(1 - p) = log(1 + exp(-z))
        t = target[:, columns]
        return (t * np.logaddexp(0, z) + (1 - t) * np.logaddexp(0, -z)).sum(axis=0)

    a = np.zeros(d.shape[1])
    b = np.log((negatives + 1) / (positives + 1))
    value = loss(a, b)
    active = np.ones(d.shape[1], bool)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(a * d + b))
        grad_z = target - p  # d loss / d z
        ga, gb = (grad_z * d).sum(axis=0), grad_z.sum(axis=0)
        h = p * (1 - p)
        haa, hab, hbb = (h * d * d).sum(axis=0) + 1e-12, (h * d).sum(axis=0), h.sum(axis=0) + 1e-12
        det = haa * hbb - hab**2
        with np.errstate(divide="ignore", invalid="ignore"):
            da, db = -(hbb * ga - hab * gb) / det, -(haa * gb - hab * ga) / det
        # done where Newton's decrement says the loss can fall by no more than rounding
        active &= np.isfinite(da) & np.isfinite(db) & (-(ga * da + gb * db) > 1e-10 * np.maximum(1.0, value))
        pending, step = np.flatnonzero(active), 1.0
        while len(pending) and step > 1e-8:  # halve the step of the codes whose loss did not fall enough
            trial = loss(a[pending] + step * da[pending], b[pending] + step * db[pending], pending)
            accepted = trial <= value[pending] + 1e-4 * step * (ga * da + gb * db)[pending]
            done = pending[accepted]
            a[done], b[done], value[done] = a[done] + step * da[done], b[done] + step * db[done], trial[accepted]
            pending, step = pending[~accepted], step / 2
        active[pending] = False  # no step lowered the loss: as good as rounding allows
        if not active.any():
            break
    if vector:
        return float(a[0]), float(b[0])
    return a, b


def _f1(y: np.ndarray, predicted: np.ndarray) -> float:
    tp = int((y & predicted).sum())
    return 0.0 if tp == 0 else 2 * tp / (int(y.sum()) + int(predicted.sum()))
