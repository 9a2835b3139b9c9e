"""Codes learned by meaning from a handful of decisions, the codebook counted among them.

A real coding project has 5-60 examples per code, and a codebook that says what each code
means. The encoder puts a code's label, definition and example quotes (e5 *queries*,
``semantic.code_texts``) near the segments that code is given, so those texts can be
training rows: each is a weighted positive example of its code, and a negative one of every
other code. Over the segments' vectors (centred on the training rows' mean, unit length)
and those texts, one ridge classifier per code, with balanced class weights, is fitted in
closed form; ``fit_meaning`` also gives its out-of-fold decisions, with the codebook's
texts in every training fold.

Measured on held-out training rows (``bench/learning_curve.py --dev``), ridge on the
vectors without the codebook's texts, against with them (``CODEBOOK_WEIGHT`` 12, since raised to 24), micro-F1
mean over 25/50/100/200 rows: NaPiRE 0.280 against 0.349, HoASA 0.633 against 0.691, CASA
0.532 against 0.584 (TF-IDF baseline 0.232 / 0.553 / 0.470). A logistic regression on the
same rows scored within 0.005 of the ridge; the ridge needs no iterations, and its
per-code systems share one Gram matrix, so 3,000 rows cost about what 30 do.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold

# The codebook's texts of one code weigh as much as this many coded segments together
# (split among its texts: a code with a label and a definition gives each 12). Held-out
# train rows, micro-F1 at 25/50/100/200 rows: the ridge alone, mean over the sizes, NaPiRE
# 6 → 0.347, 12 → 0.349, 24 → 0.349, HoASA 0.691 / 0.691 / 0.687; in Pilah (keywords that
# tell codes apart), 12 against 24 against 48: NaPiRE 0.285/0.327/0.335/0.363,
# 0.287/0.328/0.342/0.365, 0.284/0.328/0.342/0.363; HoASA 0.632/0.696/0.752/0.809,
# 0.636/0.697/0.763/0.810, 0.637/0.699/0.764/0.809; CASA 0.453/0.590/0.661/0.769,
# 0.486/0.584/0.662/0.769, 0.491/0.584/0.664/0.769. The user trial of
# ``tests/test_retrain_trust.py``: codes F1 0.808 at 12, 0.826 at 24.
CODEBOOK_WEIGHT = 24.0
# Ridge penalty on unit-length vectors. Held-out NaPiRE train rows: 0.3 → 0.320, 1 → 0.338,
# 3 → 0.346, 10 → 0.343 (HoASA 3 → 0.691, 10 → 0.676).
ALPHA = 3.0
FOLDS = 5


def unit_centred(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``vectors`` less ``mean``, each scaled to unit length, with a last column of ones
    (the intercept); a row of zeros (no vector) stays zero, its intercept too."""
    has = vectors.any(axis=1)
    out = np.zeros((len(vectors), vectors.shape[1] + 1), np.float64)
    centred = vectors[has].astype(np.float64) - mean
    out[has, :-1] = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)
    out[has, -1] = 1.0
    return out


def text_rows(codes: list[str], text_codes: list[str], text_vectors: np.ndarray,
              weight: float = CODEBOOK_WEIGHT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The codebook's texts as training rows: their vectors, a rows x ``codes`` 0/1 label
    matrix (each text positive for its code only) and their weights (``weight`` shared
    among a code's texts). Texts of codes outside ``codes`` (a direction's) are left out."""
    column = {code: k for k, code in enumerate(codes)}
    rows = [i for i, code in enumerate(text_codes) if code in column]
    labels = np.zeros((len(rows), len(codes)), np.int8)
    counts = {}
    for r, i in enumerate(rows):
        labels[r, column[text_codes[i]]] = 1
        counts[text_codes[i]] = counts.get(text_codes[i], 0) + 1
    weights = np.array([weight / counts[text_codes[i]] for i in rows], np.float64)
    return np.asarray(text_vectors, np.float64)[rows], labels, weights


def fit_meaning(rows: np.ndarray, present: np.ndarray, texts: np.ndarray | None = None,
                text_labels: np.ndarray | None = None, text_weights: np.ndarray | None = None,
                alpha: float = ALPHA, folds: int = FOLDS, random_state: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Ridge classifiers (one per column of ``present``) on ``rows`` (``unit_centred``
    vectors of the coded segments) and the codebook's ``texts`` (the same, weighted by
    ``text_weights``, labelled ``text_labels``).

    Returns the weights (features x codes, the last feature the intercept; a decision of 0
    or more suggests the code) and the out-of-fold decisions of ``rows`` (rows x codes;
    ``KFold`` folds of the segments, the texts in every training fold). A code with rows of
    one class only (a training fold holding none of its segments, and no codebook text) is
    the ridge regression of that class's targets: it says no, not the undecided 0 of no
    model at all.
    """
    n, dim = rows.shape
    codes = present.shape[1]
    if texts is None or not len(texts):
        texts, text_labels, text_weights = np.zeros((0, dim)), np.zeros((0, codes)), np.zeros(0)
    everything = np.vstack([rows, texts])
    labels = np.vstack([present, text_labels]).astype(bool)
    weights = np.r_[np.ones(n), text_weights]
    is_text = np.r_[np.zeros(n, bool), np.ones(len(texts), bool)]
    held_out = np.zeros((n, codes))
    splits = list(KFold(min(folds, n), shuffle=True, random_state=random_state).split(rows)) if n >= 2 else []
    for train, test in splits:
        kept = np.r_[train, np.flatnonzero(is_text)]
        held_out[test] = rows[test] @ _solve(everything[kept], labels[kept], weights[kept], alpha)
    return _solve(everything, labels, weights, alpha), held_out


def _solve(X: np.ndarray, labels: np.ndarray, weights: np.ndarray, alpha: float) -> np.ndarray:
    """Per column of ``labels``: weighted ridge regression of +1/-1 targets on ``X``, the
    classes balanced (each class's weights sum to half the total).

    A code's system is ``M + c P`` with ``M = down * G + alpha I`` (``G`` the weighted Gram
    matrix of all rows), ``P`` the weighted Gram matrix of the code's positive rows (few)
    and ``c = up - down``. ``G`` is diagonalised once (``G = Q diag(l) Q'``), so ``M`` is
    diagonal in that basis for every code, and the positives enter by the Woodbury identity:
    a system of their own size per code instead of a factorisation of ``dim x dim`` (170
    codes on 3,000 rows: 0.1 s instead of 0.8 s a solve).
    """
    gram = (X * weights[:, None]).T @ X
    values, basis = np.linalg.eigh(gram)
    values = np.maximum(values, 0.0)
    totals = X.T @ weights
    positive_sums = X.T @ (weights[:, None] * labels)
    rotated = np.zeros((X.shape[1], labels.shape[1]))
    for k in range(labels.shape[1]):
        y = labels[:, k].astype(bool)
        positive, negative = float(weights[y].sum()), float(weights[~y].sum())
        if not positive or not negative:  # one class only (a fold without the code): its targets, unbalanced
            rotated[:, k] = basis.T @ (totals if positive else -totals) / (values + alpha)
            continue
        up, down = (positive + negative) / (2 * positive), (positive + negative) / (2 * negative)
        target = basis.T @ (up * positive_sums[:, k] - down * (totals - positive_sums[:, k]))
        diagonal = down * values + alpha
        solution = target / diagonal
        if abs(up - down) > 1e-12:
            U = basis.T @ X[y].T  # the positive rows in the eigenbasis (dim x positives)
            scaled = U / diagonal[:, None]
            inner = np.diag(1.0 / ((up - down) * weights[y])) + U.T @ scaled
            solution -= scaled @ np.linalg.solve(inner, U.T @ solution)
        rotated[:, k] = solution
    return basis @ rotated
