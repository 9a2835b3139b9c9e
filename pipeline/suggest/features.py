"""What the suggestion models see of a segment: its words, its rule matches, its cues."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import re

import numpy as np
import pandas as pd
from spacy.attrs import IS_PUNCT, IS_SPACE, LEMMA, LIKE_NUM, LOWER, NORM, SENT_START
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS
from spacy.tokens import Doc, Span

from pipeline.nlp.extensions import FILLERS
from pipeline.records import Segment
from pipeline.suggest.rules import CUE_COLUMNS, NEGATION_WINDOW, CodebookRules, RuleMatches, cue_counts
from pipeline.suggest.scoring import NEGATED, word_ngrams


# Words that end a negation's scope: a contrast starts a new clause ("tidak mahal, tapi jauh").
CONTRAST = frozenset({"tapi", "tetapi", "namun", "sedangkan", "padahal", "melainkan", "walaupun",
                      "meskipun", "but", "however", "although", "though", "whereas", "yet"})
# Function words of both languages carry no code and make poor evidence (the direction
# model keeps them: *tidak, belum, kurang, not* are what flips a direction).
STOP_WORDS = sorted(w for w in set(EN_STOP_WORDS) | set(ID_STOP_WORDS) if re.fullmatch(r"\w\w+", w))
WORD_PATTERN = r"(?u)\b\w+\b"  # one-letter words count too (chat shorthand: *g* = tidak, *d* = di)
# The word 1-2-grams the suggestion model counts, read once per segment here rather than by
# its vectorizers: training refits them in every cross-validation fold, and on long
# documents this reading was a large share of training. They are the n-grams a
# TfidfVectorizer with these settings would count (tests/test_scoring.py).
_WORD = re.compile(WORD_PATTERN)
_STOP_WORDS = frozenset(STOP_WORDS)


def _terms(words: str) -> tuple[str, ...]:
    return tuple(word_ngrams(_WORD.findall(words.lower()), (1, 2), _STOP_WORDS))


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

    def evidence_spans(self, code: str) -> list[Span]:
        return self.matches.hits.get(code, [])

    def local_cues(self, code: str) -> dict[str, int]:
        """Cues in the sentences holding the code's keywords (the whole segment if none)."""
        spans = self.evidence_spans(code)
        if not spans:
            return cue_counts(self.matches.cues)
        sentences = {bisect_right(self.sentence_starts, span.start) for span in spans}
        return cue_counts([cue for cue in self.matches.cues
                           if bisect_right(self.sentence_starts, cue[1].start) in sentences])

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

    ``marked`` carries negation the way sentiment models since Das & Chen (2001) do: after
    a negator of the codebook (*tidak, belum, kurang, not, lack*), the next
    ``NEGATION_WINDOW`` words get a ``NOT_`` prefix, so *tidak NOT_ada NOT_dukungan* and
    *ada dukungan* are different features; punctuation and a contrast (*tapi, namun, but*)
    end the scope.
    """
    lemmas, words, marked = [], [], []
    clauses, clause, first = [], [], 0
    scope = 0
    # token attributes read as arrays of string hashes: a ``Token`` object per word and
    # its properties cost more than the rest of this loop on long documents
    attributes = doc.to_array([IS_SPACE, IS_PUNCT, LIKE_NUM, LOWER, NORM, LEMMA]).tolist()
    strings, fillers, negators = doc.vocab.strings, doc.user_data.get(FILLERS, ()), rules.negator_words
    text_of: dict[int, str] = {}  # string hash -> string, each looked up once
    for i, (is_space, is_punct, like_num, lower_key, norm_key, lemma_key) in enumerate(attributes):
        lower = text_of.get(lower_key)
        if lower is None:
            lower = text_of[lower_key] = strings[lower_key]
        if is_space or lower in fillers:
            continue
        norm = text_of.get(norm_key)
        if norm is None:
            norm = text_of[norm_key] = strings[norm_key]
        norm = norm.lower()
        if is_punct or norm in CONTRAST:
            scope = 0
            if clause:
                clauses.append((first, i, " ".join(clause)))
            clause, first = [], i + 1
            if norm in CONTRAST:
                words.append(norm)
                marked.append(norm)
            continue
        if not like_num:
            lemma = text_of.get(lemma_key)
            if lemma is None:
                lemma = text_of[lemma_key] = strings[lemma_key]
            lemmas.append(lemma)
        words.append(norm)
        if norm in negators or lower in negators:
            form = norm
            scope = NEGATION_WINDOW
        else:
            form = NEGATED + norm if scope else norm
            scope = max(0, scope - 1)
        marked.append(form)
        clause.append(form)
    if clause:
        clauses.append((first, len(doc), " ".join(clause)))
    starts = doc.to_array(SENT_START)
    return SegmentFeatures(text=" ".join(lemmas), matches=rules(doc) if matches is None else matches, doc=doc,
                           words=" ".join(words), marked=" ".join(marked), clauses=tuple(clauses),
                           raw=(doc.text if text is None else text).lower(), sentence_starts=tuple((np.flatnonzero(starts[1:] == 1) + 1).tolist()))


def featurize_many(items: Sequence[tuple[Segment, Doc]], rules: CodebookRules) -> list[SegmentFeatures]:
    """``featurize`` for ``(segment, doc)`` pairs, the rules of the whole batch found at once
    (``CodebookRules.many``)."""
    matches = rules.many([doc for _, doc in items])
    return [featurize(doc, rules, segment.text, found) for (segment, doc), found in zip(items, matches)]


PRESENT = "coded"  # a label frame's cell for a code given without a direction


def code_frame(features: list[SegmentFeatures], codes: list[str]) -> pd.DataFrame:
    """The table a suggestion model reads: one row per segment.

    ``words`` (normalised forms) and their 1-2-grams without stop words (``terms``),
    lower-case ``raw`` text, a ``rule:<code>`` flag per code and segment-level ``cue:``
    counts for the presence of codes; for their direction the negation-``marked`` words and
    their 1-2-grams (``marked_terms``), the ``clauses`` (marked words), and per code with
    keyword matches the indices of the clauses holding them (``evidence``) and the cues
    there (``local``). ``direction_rows`` turns rows of it into (segment, code) rows.
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
        marked_terms=[_marked_terms(item.marked) for item in features],
        clauses=[tuple(text for _, _, text in item.clauses) for item in features],
        evidence=[{code: tuple(item.evidence_clauses(code)) for code in item.matches.hits} for item in features],
        local=[{code: item.local_cues(code) for code in item.matches.hits} for item in features],
    )
    return pd.DataFrame(columns, index=pd.RangeIndex(len(features)))


def label_frame(parsed: list[dict], codes: list[str]) -> pd.DataFrame:
    """What a model learns from: one row per segment, one column per code, each cell
    ``None`` (not coded), the direction given, or ``PRESENT`` (coded, no direction)."""
    return pd.DataFrame({code: [(p[code] or PRESENT) if code in p else None for p in parsed] for code in codes},
                        index=range(len(parsed)), dtype=object)


def direction_rows(X: pd.DataFrame, pairs: list[tuple[int, str]]) -> pd.DataFrame:
    """One row per (row position in ``X``, code): that position (``row``), ``marked`` words
    and their ``marked_terms``, ``raw`` text, ``code``, ``clauses``, the ``evidence`` clauses
    of the code, its ``local:`` cues (the segment's where it has no keyword match) and the
    segment's ``cue:`` counts."""
    cue_columns = [f"cue:{k}" for k in CUE_COLUMNS]
    rows = [i for i, _ in pairs]
    codes = [code for _, code in pairs]
    columns_of = {c: X[c].tolist() for c in ("marked", "marked_terms", "raw", "clauses", "evidence", "local")}
    local = [columns_of["local"][i].get(code) for i, code in pairs]  # None: no keyword match
    segment_cues = {c: X[c].to_numpy(dtype=float)[rows] if rows else np.zeros(0) for c in cue_columns}
    columns: dict[str, object] = {
        "row": rows,
        **{c: [columns_of[c][i] for i in rows] for c in ("marked", "marked_terms", "raw")},
        "code": codes,
        "clauses": [columns_of["clauses"][i] for i in rows],
        "evidence": [columns_of["evidence"][i].get(code, ()) for i, code in pairs],
    }
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
