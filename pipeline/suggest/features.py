"""What the suggestion models see of a segment: its words, its rule matches, its cues."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import re

import numpy as np
import pandas as pd
from spacy.attrs import IS_PUNCT, IS_SPACE, LEMMA, LIKE_NUM, LOWER, NORM, SENT_START
from spacy.tokens import Doc

from pipeline.caches import WordCache
from pipeline.nlp.extensions import FILLERS
from pipeline.records import Segment
from pipeline.suggest.rules import CUE_COLUMNS, NEGATION_WINDOW, TEXTS, CodebookRules, Match, RuleMatches, cue_counts
from pipeline.suggest.scoring import NEGATED, VECTOR, word_ngrams
from pipeline.vocabulary import FUNCTION_WORDS


# Words that end a negation's scope: a contrast starts a new clause ("tidak mahal, tapi jauh").
CONTRAST = frozenset({"tapi", "tetapi", "namun", "sedangkan", "padahal", "melainkan", "walaupun",
                      "meskipun", "but", "however", "although", "though", "whereas", "yet"})
# Function words of both languages carry no code and make poor evidence (the direction
# model keeps them: *tidak, belum, kurang, not* are what flips a direction).
STOP_WORDS = sorted(w for w in FUNCTION_WORDS if re.fullmatch(r"\w\w+", w))
WORD_PATTERN = r"(?u)\b\w+\b"  # one-letter words count too (chat shorthand: *g* = tidak, *d* = di)
# The word 1-2-grams the suggestion model counts, read once per segment here rather than by
# its vectorizers: training refits them in every cross-validation fold, and on long
# documents this reading was a large share of training. They are the n-grams a
# TfidfVectorizer with these settings would count (tests/test_scoring.py).
_WORD = re.compile(WORD_PATTERN)
_STOP_WORDS = frozenset(STOP_WORDS)


_TERM_TOKENS: dict[str, list[str]] = WordCache()  # per written word, its tokens that are not stop words


def _terms(words: str) -> tuple[str, ...]:
    """The 1-2-grams of ``WORD_PATTERN``'s tokens of the lower-cased words, stop words left
    out. A token never spans white space, so the text's tokens are its words' tokens in
    order: each written word's are found once and kept."""
    _TERM_TOKENS.make_room()
    tokens: list[str] = []
    for word in words.split():
        kept = _TERM_TOKENS.get(word)
        if kept is None:
            kept = _TERM_TOKENS[word] = [t for t in _WORD.findall(word.lower()) if t not in _STOP_WORDS]
        tokens += kept
    return tuple(word_ngrams(tokens, (1, 2)))


def _marked_terms(marked: str) -> tuple[str, ...]:
    return tuple(word_ngrams(marked.lower().split(), (1, 2)))


@dataclass(frozen=True)
class SegmentFeatures:
    """Model inputs for one segment plus the matches needed to explain a suggestion."""

    text: str  # lemmas of content tokens, space-separated
    matches: RuleMatches
    doc: Doc
    words: str = ""  # normalised forms (gak -> tidak) of the words, space-separated
    marked: str = ""  # the same with NOT_ before each word in a negation's scope
    # clauses (split at punctuation and contrasts): (first token, end token, marked words)
    clauses: tuple[tuple[int, int, str], ...] = ()
    raw: str = ""  # the segment's text, lower case (``Doc.text`` rebuilds it on every call)
    # first token of every sentence after the first: ``Span.sent`` walks the tokens on
    # each call, which was most of the cost of a long document's features
    sentence_starts: tuple[int, ...] = ()
    # a speaker's turn or a table's row (a survey answer): what someone said, never a
    # document's heading, whatever its capitals (``chatter.is_chatter``)
    turn: bool = False

    def evidence_spans(self, code: str) -> list[Match]:
        return self.matches.hits.get(code, [])

    def local_cues(self, code: str) -> dict[str, int]:
        """Cues in the sentences holding the code's keywords (the whole segment if none)."""
        return cue_counts(self.local_cue_matches(code))

    def local_cue_matches(self, code: str) -> list:
        """The ``(direction, match, negated)`` cues :meth:`local_cues` counts."""
        spans = self.evidence_spans(code)
        if not spans:
            return list(self.matches.cues)
        sentences = {bisect_right(self.sentence_starts, span.start) for span in spans}
        return [cue for cue in self.matches.cues if bisect_right(self.sentence_starts, cue[1].start) in sentences]

    def cue_words(self, code: str, direction: str) -> list[str]:
        """The cue words near the code's evidence that point to ``direction`` (a negated
        cue of the other direction shown as ``not <word>``): what a reader checks the
        direction against. None for ``neutral``."""
        opposite = {"supporting": "constraining", "constraining": "supporting"}.get(direction)
        if opposite is None:
            return []
        words = [span.text if cue == direction else f"not {span.text}"
                 for cue, span, negated in self.local_cue_matches(code)
                 if (cue == direction and not negated) or (cue == opposite and negated)]
        return list(dict.fromkeys(w.lower() for w in words))

    def evidence_clauses(self, code: str) -> list[int]:
        """Indices of the clauses that hold the code's keyword matches."""
        firsts = [first for first, _, _ in self.clauses]
        found = set()
        for span in self.evidence_spans(code):
            i = bisect_right(firsts, span.start) - 1
            if i >= 0 and span.start < self.clauses[i][1]:
                found.add(i)
        return sorted(found)


def featurize(doc: Doc, rules: CodebookRules, text: str | None = None,
              matches: RuleMatches | None = None) -> SegmentFeatures:
    """Extract ``SegmentFeatures`` from a processed ``Doc``; ``text`` is its text when the
    caller has it (``Doc.text`` rebuilds it from a ``Token`` per word), ``matches`` what
    ``rules`` find in it when the caller has them (``CodebookRules.many``, for a batch).

    Filler words and spaces are left out. The features' ``text`` holds the lemmas of the
    words that are not numbers, ``words`` the normalised forms of the words and of
    contrasts (*tapi, namun, but*). ``marked`` carries negation the way sentiment models since Das & Chen
    (2001) do: after a negator of the codebook (*tidak, belum, kurang, not, lack*), the
    next ``NEGATION_WINDOW`` words get a ``NOT_`` prefix, so *tidak NOT_ada NOT_dukungan*
    and *ada dukungan* are different features; punctuation and a contrast end the scope,
    and end a clause.
    """
    return _featurize([doc], [doc.text if text is None else text], [rules(doc) if matches is None else matches],
                      rules.negator_words)[0]


def featurize_many(items: Sequence[tuple[Segment, Doc]], rules: CodebookRules) -> list[SegmentFeatures]:
    """``featurize`` for ``(segment, doc)`` pairs, the rules of the whole batch found at once
    (``CodebookRules.many``)."""
    docs = [doc for _, doc in items]
    turns = [bool(segment.speaker) or "row" in segment.metadata for segment, _ in items]
    return _featurize(docs, [segment.text for segment, _ in items], rules.many(docs), rules.negator_words, turns)


_FEATURE_ATTRS = [IS_SPACE, IS_PUNCT, LIKE_NUM, LOWER, NORM, LEMMA, SENT_START]


def _featurize(docs: list[Doc], texts: list[str], matches: list[RuleMatches], negators,
               turns: list[bool] | None = None) -> list[SegmentFeatures]:
    """``featurize`` for a batch, the documents read by pipeline (their string stores and
    fillers differ); ``turns``: per document, whether it is a turn or a row
    (``SegmentFeatures.turn``)."""
    features: list[SegmentFeatures | None] = [None] * len(docs)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, doc in enumerate(docs):
        groups.setdefault((id(doc.vocab), id(doc.user_data.get(FILLERS))), []).append(i)
    for chosen in groups.values():
        for i, found in zip(chosen, _featurize_alike([docs[i] for i in chosen], negators)):
            features[i] = SegmentFeatures(raw=texts[i].lower(), matches=matches[i], doc=docs[i],
                                          turn=bool(turns and turns[i]), **found)
    return features


def _featurize_alike(docs: list[Doc], negators) -> list[dict]:
    """The fields of ``SegmentFeatures`` read from the tokens of ``docs`` (of one pipeline),
    for the whole batch at once: token attributes as arrays of string hashes, each distinct
    string looked at once, and negation scopes and clauses found with array operations (a
    Python loop over the tokens, and a ``Token`` object per word before it, were most of
    the suggest stage's cost)."""
    lengths = np.array([len(doc) for doc in docs], dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = ends - lengths
    total = int(ends[-1]) if len(docs) else 0
    if not total:
        return [dict(text="", words="", marked="", clauses=(), sentence_starts=()) for _ in docs]
    table = np.concatenate([doc.to_array(_FEATURE_ATTRS).reshape(-1, len(_FEATURE_ATTRS)) for doc in docs])
    strings, fillers = docs[0].vocab.strings, docs[0].user_data.get(FILLERS, ())
    position = np.arange(total)
    owner = np.repeat(np.arange(len(docs)), lengths)
    first_of_doc = np.zeros(total, bool)
    first_of_doc[offsets[lengths > 0]] = True

    lower_keys, lower_of = np.unique(table[:, 3], return_inverse=True)
    lowers = TEXTS(lower_keys.tolist(), strings)
    norm_keys, norm_of = np.unique(table[:, 4], return_inverse=True)
    norms = [text.lower() for text in TEXTS(norm_keys.tolist(), strings)]
    skip = (table[:, 0] != 0) | np.array([w in fillers for w in lowers], bool)[lower_of]
    contrast = ~skip & np.array([w in CONTRAST for w in norms], bool)[norm_of]
    boundary = contrast | (~skip & (table[:, 1] != 0))
    word = ~skip & ~boundary
    negator = word & (np.array([w in negators for w in norms], bool)[norm_of]
                      | np.array([w in negators for w in lowers], bool)[lower_of])
    # a word is in a negation's scope when a negator came before it since the last
    # punctuation, contrast or document start, at most NEGATION_WINDOW words before it
    reset = np.where(boundary, position, -1)
    reset[first_of_doc & ~boundary] = position[first_of_doc & ~boundary] - 1
    last_reset = np.maximum.accumulate(reset)
    last_negator = np.maximum.accumulate(np.where(negator, position, -1))
    counted = np.cumsum(word)
    in_scope = (word & ~negator & (last_negator > last_reset)
                & (counted - counted[np.maximum(last_negator, 0)] <= NEGATION_WINDOW))

    plain = np.array(norms, dtype=object)[norm_of]
    forms = np.where(in_scope, np.array([NEGATED + w for w in norms], dtype=object)[norm_of], plain)
    lemma_rows = np.flatnonzero(word & (table[:, 2] == 0))
    lemma_keys, lemma_of = np.unique(table[lemma_rows, 5], return_inverse=True)
    lemmas = np.array(TEXTS(lemma_keys.tolist(), strings), dtype=object)[lemma_of]
    word_rows = np.flatnonzero(word | contrast)
    marked = np.where(contrast, plain, forms)
    # clauses: the words between two boundaries of one document, from the token after the
    # first boundary (or the document's start) to the second (or the document's end)
    opened = np.where(first_of_doc, position, -1)
    opened[boundary] = position[boundary] + 1
    clause_first = np.maximum.accumulate(opened)
    closing = np.where(boundary, position, total)
    clause_end = np.minimum(np.minimum.accumulate(closing[::-1])[::-1], ends[owner])
    clause_rows = np.flatnonzero(word)
    run_starts = np.flatnonzero(np.diff(clause_first[clause_rows], prepend=-1) != 0)
    run_rows = clause_rows[run_starts]
    clauses: list[list] = [[] for _ in docs]
    clause_forms = forms[clause_rows].tolist()
    for document, first, end, start, stop in zip(
            owner[run_rows].tolist(), (clause_first[run_rows] - offsets[owner[run_rows]]).tolist(),
            (clause_end[run_rows] - offsets[owner[run_rows]]).tolist(), run_starts.tolist(),
            [*run_starts[1:].tolist(), len(clause_rows)]):
        clauses[document].append((first, end, " ".join(clause_forms[start:stop])))
    sentence_starts = np.flatnonzero((table[:, 6] == 1) & ~first_of_doc)

    def per_document(rows: np.ndarray, values: list) -> list[list]:
        cuts = np.searchsorted(rows, ends).tolist()
        return [values[a:b] for a, b in zip([0, *cuts[:-1]], cuts)]

    return [
        dict(text=" ".join(lemma_texts), words=" ".join(word_texts), marked=" ".join(marked_texts),
             clauses=tuple(found), sentence_starts=tuple(starts_at))
        for lemma_texts, word_texts, marked_texts, found, starts_at in zip(
            per_document(lemma_rows, lemmas.tolist()), per_document(word_rows, plain[word_rows].tolist()),
            per_document(word_rows, marked[word_rows].tolist()), clauses,
            per_document(sentence_starts, (sentence_starts - offsets[owner[sentence_starts]]).tolist()))
    ]


PRESENT = "coded"  # a label frame's cell for a code given without a direction


def code_frame(features: list[SegmentFeatures], codes: list[str], vectors: np.ndarray | None = None) -> pd.DataFrame:
    """The table a suggestion model reads: one row per segment.

    ``words`` (normalised forms) and their 1-2-grams without stop words (``terms``),
    lower-case ``raw`` text, a ``rule:<code>`` flag per code and segment-level ``cue:``
    counts for the presence of codes; for their direction the negation-``marked`` words,
    the ``clauses`` (marked words), and per code with keyword matches the indices of the
    clauses holding them (``evidence``) and the cues there (``local``). With ``vectors``
    (one row per segment, from the encoder) a ``vector`` column holds each segment's (None
    for a row of zeros: a segment not embedded). ``direction_rows`` turns rows of it into
    (segment, code) rows.
    """
    counts = [cue_counts(item.matches.cues) for item in features]
    # built column by column: a dict per row made pandas infer every column's type row by row
    columns: dict[str, object] = {
        "words": [item.words for item in features],
        "terms": [_terms(item.words) for item in features],
        "raw": [item.raw for item in features],
    }
    flags = np.zeros((len(features), len(codes)))
    column = {code: k for k, code in enumerate(codes)}
    for i, item in enumerate(features):
        for code in item.matches.hits:
            if code in column:
                flags[i, column[code]] = 1.0
    columns.update({f"rule:{code}": flags[:, k] for k, code in enumerate(codes)})
    columns.update({f"cue:{k}": np.array([c[k] for c in counts], dtype=float) for k in CUE_COLUMNS})
    columns.update(
        marked=[item.marked for item in features],
        clauses=[tuple(text for _, _, text in item.clauses) for item in features],
        evidence=[{code: tuple(item.evidence_clauses(code)) for code in item.matches.hits} for item in features],
        local=[{code: item.local_cues(code) for code in item.matches.hits} for item in features],
    )
    if vectors is not None:
        columns[VECTOR] = vector_column(vectors)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(features)))


def vector_column(vectors: np.ndarray) -> list:
    """A code frame's ``vector`` column from one row per segment: each row as float32, None
    for a row of zeros (a segment not embedded)."""
    return [row if row.any() else None for row in np.asarray(vectors, dtype=np.float32)]


def label_frame(parsed: list[dict], codes: list[str]) -> pd.DataFrame:
    """What a model learns from: one row per segment, one column per code, each cell
    ``None`` (not coded), the direction given, or ``PRESENT`` (coded, no direction)."""
    return pd.DataFrame({code: [(p[code] or PRESENT) if code in p else None for p in parsed] for code in codes},
                        index=range(len(parsed)), dtype=object)


def direction_rows(X: pd.DataFrame, pairs: list[tuple[int, str]]) -> pd.DataFrame:
    """One row per (row position in ``X``, code): that position (``row``), ``marked`` words
    and their 1-2-grams (``marked_terms``, read here: only the segments given a direction
    need them), ``raw`` text, ``code``, ``clauses``, the ``evidence`` clauses of the code,
    its ``local:`` cues (the segment's where it has no keyword match) and the segment's
    ``cue:`` counts."""
    cue_columns = [f"cue:{k}" for k in CUE_COLUMNS]
    rows = [i for i, _ in pairs]
    codes = [code for _, code in pairs]
    columns_of = {c: X[c].tolist() for c in ("marked", "raw", "clauses", "evidence", "local")}
    marked_terms = {i: _marked_terms(columns_of["marked"][i]) for i in dict.fromkeys(rows)}
    local = [columns_of["local"][i].get(code) for i, code in pairs]  # None: no keyword match
    segment_cues = {c: X[c].to_numpy(dtype=float)[rows] if rows else np.zeros(0) for c in cue_columns}
    columns: dict[str, object] = {
        "row": rows,
        "marked": [columns_of["marked"][i] for i in rows],
        "marked_terms": [marked_terms[i] for i in rows],
        "raw": [columns_of["raw"][i] for i in rows],
        "code": codes,
        "clauses": [columns_of["clauses"][i] for i in rows],
        "evidence": [columns_of["evidence"][i].get(code, ()) for i, code in pairs],
    }
    if VECTOR in X.columns:
        vectors = X[VECTOR].tolist()
        columns[VECTOR] = [vectors[i] for i in rows]
    for k in CUE_COLUMNS:
        columns[f"local:{k}"] = np.array([float(found[k]) if found is not None else segment
                                          for found, segment in zip(local, segment_cues[f"cue:{k}"].tolist())])
    columns.update(segment_cues)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(pairs)))


def direction_frame(pairs: list[tuple[SegmentFeatures, str]]) -> pd.DataFrame:
    """``direction_rows`` for (features, code) pairs."""
    features = list({id(item): item for item, _ in pairs}.values())
    position = {id(item): i for i, item in enumerate(features)}
    return direction_rows(code_frame(features, []), [(position[id(item)], code) for item, code in pairs])
