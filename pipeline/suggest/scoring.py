"""A trained ``SuggestionModel`` reduced to what scoring needs: arrays, vocabularies, no
scikit-learn.

Suggesting needs only the fitted vocabularies, IDF weights, scales and coefficients of a
model, yet unpickling the estimator imports scikit-learn (1.5-1.8 s here, most of it
``scipy.stats``), more than half of the start-up budget of ``pilah suggest``. ``Scorer``
holds those arrays and applies them with the same arithmetic as the fitted transformers
(``TfidfVectorizer.transform``, ``MaxAbsScaler``, ``OneHotEncoder``, the linear models'
decision functions); ``tests/test_scoring.py`` checks its matrices and decisions against the
estimator's on real segments.

Character n-grams are counted per distinct word and the counts of a text summed over its
words, which is what ``analyzer="char_wb"`` counts (its n-grams never cross a word's
edge): the n-grams of a frequent word are read once, not once per occurrence.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline.caches import WordCache
from pipeline.checksums import file_sha256
from pipeline.errors import ModelError

MODEL_FILE = "model.pkl.gz"
META_FILE = "meta.json"
# The layout of the pickled model; a model of another layout is refused with a clear error
# instead of failing halfway through a run. 2: the vectorizers read code_frame's ``terms``
# and ``marked_terms``, and the direction model takes the presence features explicitly.
# 3: the file holds the model's ``Scorer`` (arrays and vocabularies, no scikit-learn
# object), gzipped, instead of the pickled estimator.
MODEL_FORMAT = 3
VECTOR = "vector"  # a code frame's column of segment vectors (``pipeline.embed``), one array or None per row
NEGATED = "NOT_"  # prefix of a word inside a negation's scope in ``features.SegmentFeatures.marked``


def word_ngrams(tokens: list[str], ngram_range: tuple[int, int], stop_words: frozenset[str] = frozenset()) -> list[str]:
    """Word n-grams of ``tokens`` as scikit-learn's word analyser makes them: stop words
    removed first, then every n from the range joined by a space, shortest first."""
    if stop_words:
        tokens = [w for w in tokens if w not in stop_words]
    low, high = ngram_range
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams += map(" ".join, zip(*(tokens[k:] for k in range(n))))  # each run of n words
    return grams


def char_wb_ngrams(word: str, ngram_range: tuple[int, int]) -> list[str]:
    """The character n-grams of one word as ``analyzer="char_wb"`` reads them: the word
    padded with a space on each side; a padded word no longer than n is one n-gram, and the
    longer n are then skipped."""
    padded = f" {word} "
    grams = []
    low, high = ngram_range
    for n in range(low, high + 1):
        if len(padded) <= n:
            grams.append(padded)
            break
        grams += [padded[i:i + n] for i in range(len(padded) - n + 1)]
    return grams


@dataclass
class TermWeights:
    """The transform of a fitted ``TfidfVectorizer`` (``norm="l2"``, ``sublinear_tf``, float32).

    ``kind`` says what a document is: ``"given"`` a sequence of terms already read;
    ``"words"`` a text split by ``token_pattern`` (lower-cased first if ``lowercase``) into
    ``ngram_range`` word n-grams; ``"char_wb"`` a text read as the character n-grams of its
    words.
    """

    vocabulary: dict[str, int]
    idf: np.ndarray
    kind: str
    ngram_range: tuple[int, int] = (1, 1)
    token_pattern: str = r"\S+"
    lowercase: bool = True
    sublinear_tf: bool = True
    # distinct words' character n-grams, kept between batches (bounded: pipeline.caches)
    _word_columns: dict[str, np.ndarray] = field(default_factory=WordCache, repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.idf)

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_word_columns"}

    def __setstate__(self, state):
        self.__dict__.update(state, _word_columns=WordCache())

    def transform(self, documents) -> sparse.csr_matrix:
        """TF-IDF rows (float32, unit length) of ``documents``."""
        if self.kind == "char_wb":
            counts = self._char_counts(documents)
        else:
            counts = self._term_counts(documents)
        counts.sum_duplicates()  # also sorts each row's columns, as scikit-learn's counts are
        data = counts.data.astype(np.float32)
        if self.sublinear_tf:
            np.log(data, out=data)
            data += np.float32(1.0)
        data *= self.idf[counts.indices]
        lengths = np.diff(counts.indptr)
        squares = np.zeros(len(lengths), np.float32)
        filled = lengths > 0
        if filled.any():
            squares[filled] = np.add.reduceat(data * data, counts.indptr[:-1][filled])
        norms = np.sqrt(squares)
        norms[norms == 0] = 1.0
        data /= np.repeat(norms, lengths)
        return sparse.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape)

    def _term_counts(self, documents) -> sparse.csr_matrix:
        """Counts of the vocabulary's terms (rows: documents), terms outside it dropped; the
        terms of the whole batch are looked up in one pass."""
        if self.kind == "words":
            # r"\S+" finds what str.split() returns (both read white space as str.isspace does)
            split = str.split if self.token_pattern == r"\S+" else re.compile(self.token_pattern).findall
            documents = [word_ngrams(split(text.lower() if self.lowercase else text), self.ngram_range)
                         for text in documents]
        documents = list(documents)
        terms = list(itertools.chain.from_iterable(documents))
        found = np.fromiter(map(self.vocabulary.get, terms, itertools.repeat(-1)), np.int64, len(terms))
        # each document's terms that the vocabulary holds
        ends = np.cumsum(np.fromiter(map(len, documents), np.int64, len(documents)))
        kept = np.concatenate([[0], np.cumsum(found >= 0)])[np.concatenate([[0], ends])]
        return _counts(found[found >= 0], np.diff(kept), self.size)

    def _char_counts(self, texts) -> sparse.csr_matrix:
        """Counts of the vocabulary's character n-grams: (texts x distinct words) word
        counts times (distinct words x n-grams) counts of each word's n-grams. A text's
        words are those ``analyzer="char_wb"`` reads: split at white space."""
        columns = self._word_columns
        columns.make_room()
        split = [text.lower().split() for text in texts]
        numbers, words = pd.factorize(pd.Series(list(itertools.chain.from_iterable(split)), dtype=object))
        words = words.tolist()
        for word in words:
            if word not in columns:
                found = [self.vocabulary.get(g) for g in char_wb_ngrams(word, self.ngram_range)]
                columns[word] = np.array([j for j in found if j is not None], np.int64)
        per_word = [columns[w] for w in words]
        grams = _counts(np.concatenate(per_word) if per_word else np.zeros(0, np.int64),
                        [len(c) for c in per_word], self.size)
        occurrences = _counts(numbers.astype(np.int64), [len(found) for found in split], len(words))
        # the product holds each n-gram once per row, in no order: transposed there and back
        # (two linear passes) its rows come out sorted, which sorting row by row took twice as long
        return (occurrences @ grams).T.tocsr().T.tocsr()


def _counts(columns: np.ndarray, lengths, width: int) -> sparse.csr_matrix:
    """A matrix of ``width`` columns with a row per entry of ``lengths``, counting the
    ``columns`` each row has (``lengths[i]`` of them for row i, one row after the other)."""
    indptr = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    return sparse.csr_matrix((np.ones(len(columns), np.int64), columns, indptr), shape=(len(indptr) - 1, width))


def heaviest_words(matrix, coef: np.ndarray, names: np.ndarray, top: int) -> list[list[str]]:
    """Per row of a feature matrix, the ``top`` words with the largest positive weight x
    value, best first, found with one sort for the whole batch; ``coef`` is 0 for the
    features that are not words, whose ``names`` start with ``words__``."""
    contributions = sparse.csr_matrix(matrix).multiply(coef).tocoo()
    positive = contributions.data > 0
    rows, cols, weights = contributions.row[positive], contributions.col[positive], contributions.data[positive]
    order = np.lexsort((-weights, rows))
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, rows)  # where each row's run starts
    keep = np.arange(len(rows)) - first < top
    explanations = [[] for _ in range(matrix.shape[0])]
    for row, name in zip(rows[keep].tolist(), names[cols[keep]].tolist()):
        explanations[row].append(name[len("words__"):])
    return explanations


def vector_rows(X: pd.DataFrame) -> np.ndarray | None:
    """The ``vector`` column of a frame as one float32 matrix (a row of zeros where a
    segment has none: skipped, or embedded by no encoder), or ``None`` when the frame has no
    such column or not one vector in it."""
    if VECTOR not in X.columns:
        return None
    column = X[VECTOR].tolist()
    dim = next((len(v) for v in column if v is not None), 0)
    if not dim:
        return None
    matrix = np.zeros((len(column), dim), np.float32)
    for i, vector in enumerate(column):
        if vector is not None:
            matrix[i] = vector
    return matrix


def vector_block(X: pd.DataFrame, mean: np.ndarray, weight: float) -> sparse.csr_matrix:
    """The vector features of a frame's rows: each segment vector less ``mean`` (the
    training rows' mean: e5's vectors all point much the same way, and a linear model
    regularised toward zero learns their differences better), scaled to length ``weight``;
    zeros for a row without a vector.

    Raises
    ------
    ModelError
        If the frame has no vectors at all: a model trained with an encoder's vectors
        needs the same encoder to score.
    """
    matrix = vector_rows(X)
    if matrix is None:
        if len(X) == 0:
            return sparse.csr_matrix((0, len(mean)), dtype=np.float32)
        raise ModelError("this model was trained on sentence vectors, but none were given: run it with the "
                         "encoder it names in meta.json ([suggest] encoder), or retrain it without one")
    if matrix.shape[1] != len(mean):
        raise ModelError(f"this model was trained on {len(mean)}-dimensional vectors, given {matrix.shape[1]}: "
                         "run it with the encoder it names in meta.json, or retrain it")
    has = matrix.any(axis=1)
    matrix[has] -= mean
    norms = np.linalg.norm(matrix[has], axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    matrix[has] *= np.float32(weight) / norms
    return sparse.csr_matrix(matrix)


def focus(X: pd.DataFrame, word_weights: dict[str, dict[str, float]]) -> pd.DataFrame:
    """``X`` plus the clauses a direction is read from, per (segment, code) row.

    A review can praise one thing and fault another in one sentence (*kamar bersih, tapi
    AC rusak*): the direction of *AC* is in the clause about it. The focus is the clauses
    holding the code's keywords; without keywords, the clause whose words weigh most for
    the code in its presence model (``word_weights``: per code, word → positive weight);
    otherwise the whole segment. ``local`` holds those words, ``coded`` the same words joined
    to the code (``ac|rusak``), so that the direction model can learn words that point one
    way for one code only.
    """
    local, coded = [], []
    plain: dict[tuple, list[list[str]]] = {}  # a segment's clauses without NOT_, for each of its codes
    tags: dict[str, str] = {}
    for clauses, evidence, code in zip(X["clauses"], X["evidence"], X["code"]):
        weights = word_weights.get(code)
        if evidence:
            chosen = [clauses[i] for i in evidence]
        elif clauses and weights:
            if clauses not in plain:  # words are lower case: NOT_ only ever starts one
                plain[clauses] = [c.replace(NEGATED, "").split() for c in clauses]
            scores = [sum(map(weights.get, words, itertools.repeat(0.0))) for words in plain[clauses]]
            chosen = [clauses[scores.index(max(scores))]]  # the first of the heaviest
        else:
            chosen = list(clauses)
        words = " ".join(chosen).split()
        if code not in tags:
            tags[code] = re.sub(r"\s+", "_", str(code))
        local.append(" ".join(words))
        coded.append(" ".join([f"{tags[code]}|{w}" for w in words]))
    return X.assign(local=local, coded=coded)


class PresenceScoring:
    """Scoring with a fitted presence model, shared by the estimator
    (``model.SuggestionModel``) and its ``Scorer``: each gives ``transform`` (a code
    frame's features), the stacked ``weights_``, ``intercepts_``, ``slopes_`` and
    ``offsets_`` of the scored codes, ``learned_`` and ``prior_codes_``,
    ``feature_names_`` and ``_word_features()`` (which features are word n-grams)."""

    @property
    def scored_(self) -> list[str]:
        """The codes the model gives a probability: learned ones, then prior ones."""
        return self.learned_ + self.prior_codes_

    def proba_from_matrix(self, matrix) -> np.ndarray:
        """Calibrated probabilities (segments x scored codes) from :meth:`transform`'s output:
        one matrix product for every code at once; with a meaning model
        (``pipeline.suggest.meaning``), per code the higher of the words' probability and
        the meaning model's."""
        scores = np.asarray(matrix @ self.weights_) + self.intercepts_
        proba = 1.0 / (1.0 + np.exp(self.slopes_ * scores + self.offsets_))
        weights = getattr(self, "meaning_weights_", None)
        if weights is None:
            return proba
        # the vector block closes the features: segment vectors less the training mean, of
        # length vector_weight (the weights were divided by it), zeros without a vector (no
        # meaning: no suggestion by it)
        block = sparse.csr_matrix(matrix)[:, matrix.shape[1] - (len(weights) - 1):]
        has = block.getnnz(axis=1) > 0
        decisions = np.asarray(block @ weights[:-1]) + weights[-1]
        meant = 1.0 / (1.0 + np.exp(self.meaning_slopes_ * decisions + self.meaning_offsets_))
        return np.maximum(proba, np.where(has[:, None], meant, 0.0))

    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """Calibrated probability per scored code (columns) and segment (rows)."""
        if not self.scored_:
            return pd.DataFrame(index=X.index)
        return pd.DataFrame(self.proba_from_matrix(self.transform(X)), columns=self.scored_, index=X.index)

    def explain(self, X: pd.DataFrame, code: str, top: int = 3) -> list[list[str]]:
        """The segment words that weighed most for ``code``, per row of ``X``."""
        return self.explain_matrix(self.transform(X), code, top)

    def explain_matrix(self, matrix, code: str, top: int = 3) -> list[list[str]]:
        """Per row of :meth:`transform`'s output, the words with the largest positive
        weight x value, best first (one sort for the whole batch)."""
        coef = np.where(self._word_features(), self.weights_[:, self.scored_.index(code)], 0.0)
        return heaviest_words(matrix, coef, self.feature_names_, top)


@dataclass
class Scorer(PresenceScoring):
    """What a fitted ``SuggestionModel`` scores with (``SuggestionModel.scorer()`` makes
    one), with the same scoring methods and attributes: ``transform``,
    ``proba_from_matrix``, ``predict_proba``, ``explain``, ``explain_matrix``,
    ``predict_direction``; ``codes_``, ``scored_``, ``learned_``, ``prior_codes_``,
    ``thresholds_``, ``sources_``, ``support_``.

    Presence features are, side by side: ``words`` (TF-IDF of the code frame's ``terms``),
    ``chars`` (of ``raw``, or none) and the ``rule_columns`` divided by ``rule_scale``.
    Direction features: ``direction_terms`` (one ``marked_terms`` per segment),
    ``direction_local`` and ``direction_coded`` (of the focus), the code one-hot
    (``direction_codes``), the ``cue_columns`` divided by ``cue_scale``, then the presence
    model's character n-grams of the segment.
    """

    codes_: list[str]
    learned_: list[str]
    prior_codes_: list[str]
    thresholds_: dict[str, float]
    sources_: dict
    support_: dict[str, int]
    words: TermWeights | None
    chars: TermWeights | None
    rule_columns: list[str]
    rule_scale: np.ndarray
    feature_names_: np.ndarray
    weights_: np.ndarray
    intercepts_: np.ndarray
    slopes_: np.ndarray
    offsets_: np.ndarray
    word_weights_: dict[str, dict[str, float]]
    direction_terms: TermWeights | None = None
    direction_local: TermWeights | None = None
    direction_coded: TermWeights | None = None
    direction_codes: list[str] = field(default_factory=list)
    cue_columns: list[str] = field(default_factory=list)
    cue_scale: np.ndarray | None = None
    direction_coef: np.ndarray | None = None  # classes (or 1 for two classes) x features
    direction_intercept: np.ndarray | None = None
    direction_classes: np.ndarray | None = None
    # trained on sentence vectors: the training vectors' mean, the length of the vector block
    # in the presence and the direction features, and the encoder that made them (None, 0 and
    # "" for a model trained on words alone, as every model before them)
    vector_mean: np.ndarray | None = None
    vector_weight: float = 0.0
    direction_vector_weight: float = 0.0
    encoder_id: str = ""
    # coded examples of the codes too rare to learn, matched by meaning (``semantic.examples_of``)
    example_codes: list | None = None
    example_texts: list | None = None
    example_vectors: np.ndarray | None = None
    example_background: tuple | None = None
    # the meaning model (``pipeline.suggest.meaning``), per scored code: weights on the vector
    # block (the last row the intercept), Platt slope and offset; None without one
    meaning_weights_: np.ndarray | None = None
    meaning_slopes_: np.ndarray | None = None
    meaning_offsets_: np.ndarray | None = None

    @property
    def has_direction(self) -> bool:
        return self.direction_coef is not None

    def transform(self, X: pd.DataFrame) -> sparse.csr_matrix:
        """The presence features of a code frame (sparse, one row per segment)."""
        if self.words is None:
            return sparse.csr_matrix((len(X), 0), dtype=np.float32)
        blocks = [self.words.transform(X["terms"])]
        if self.chars is not None:
            blocks.append(self.chars.transform(X["raw"]))
        blocks.append(sparse.csr_matrix(X[self.rule_columns].to_numpy(dtype=np.float64) / self.rule_scale))
        if self.vector_mean is not None:
            blocks.append(vector_block(X, self.vector_mean, self.vector_weight))
        return sparse.hstack(blocks, format="csr")

    def _word_features(self) -> np.ndarray:
        return self._is_word

    @functools.cached_property
    def _is_word(self) -> np.ndarray:
        """Which features are word n-grams (what explanations show)."""
        return np.char.startswith(self.feature_names_.astype(str), "words__")

    def predict_direction(self, X: pd.DataFrame, features=None) -> np.ndarray | None:
        """Direction per (segment, code) row (``features.direction_rows``), or ``None``
        without a direction model; ``features``: :meth:`transform`'s output for the code
        frame the rows come from (numbered by their ``row`` column)."""
        if not self.has_direction or X.empty:
            return None
        X = focus(X, self.word_weights_)
        rows, _ = pd.factorize(X["marked"].astype(str))  # one segment's rows share its terms
        _, first = np.unique(rows, return_index=True)
        terms = self.direction_terms.transform(X["marked_terms"].iloc[first])[rows]
        column = {code: k for k, code in enumerate(self.direction_codes)}
        hits = [(i, column[code]) for i, code in enumerate(X["code"]) if code in column]
        codes = sparse.csr_matrix((np.ones(len(hits)), ([i for i, _ in hits], [k for _, k in hits])),
                                  shape=(len(X), len(self.direction_codes)))
        blocks = [terms, self.direction_local.transform(X["local"]), self.direction_coded.transform(X["coded"]), codes,
                  sparse.csr_matrix(X[self.cue_columns].to_numpy(dtype=np.float64) / self.cue_scale)]
        if self.chars is not None:
            if features is not None:
                start = self.words.size
                blocks.append(sparse.csr_matrix(features)[X["row"].to_numpy()][:, start:start + self.chars.size])
            else:
                texts, found = pd.factorize(X["raw"].astype(str))
                blocks.append(self.chars.transform(list(found))[texts])
        if self.vector_mean is not None and self.direction_vector_weight:
            blocks.append(vector_block(X, self.vector_mean, self.direction_vector_weight))
        matrix = sparse.hstack(blocks, format="csr")
        scores = np.asarray(matrix @ self.direction_coef.T) + self.direction_intercept
        if scores.shape[1] == 1:
            return self.direction_classes[(scores[:, 0] > 0).astype(int)]
        return self.direction_classes[scores.argmax(axis=1)]


def load_model(directory: str | Path) -> tuple[Scorer, dict]:
    """Load the ``Scorer`` of a model directory written by ``SuggestionModel.save``,
    checking its checksum.

    Raises
    ------
    ModelError
        If a file is missing, the model file does not match the checksum in ``meta.json``, or
        the model is of another format than ``MODEL_FORMAT`` (an older Pilah's).
    """
    directory = Path(directory)
    meta_path, model_path = directory / META_FILE, directory / MODEL_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else None
    if meta is not None and meta.get("format", 1) != MODEL_FORMAT:
        raise ModelError(f"{directory} holds a model of format {meta.get('format', 1)}, written by another version of "
                         f"Pilah; this one reads format {MODEL_FORMAT}: retrain it with `pilah train`")
    for path in (meta_path, model_path):
        if not path.exists():
            raise ModelError(f"{path} is missing; rebuild the model with `pilah train`")
    if model_checksum(meta) != file_sha256(model_path):
        raise ModelError(f"{model_path} does not match the checksum in {meta_path}; rebuild it with `pilah train`")
    with gzip.open(model_path, "rb") as handle:
        return pickle.load(handle), meta


def model_checksum(meta: dict | None) -> str | None:
    """The SHA-256 of the model file ``meta`` describes (``None`` without a model)."""
    return meta.get("files", {}).get(MODEL_FILE) if meta else None
