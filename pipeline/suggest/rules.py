"""Codebook rules: keyword matches per code, and direction cues with negation.

Keywords and cues of both languages are matched in every segment, against each token's
lower-case text and normalised form (and its lemma where a keyword asks for it), so
code-switched text matches either way.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from spacy.attrs import LEMMA, LOWER, NORM
from spacy.tokens import Doc

from pipeline.caches import WordCache, WordSet
from pipeline.codebook import LEMMA_PREFIX, Codebook
from pipeline.nlp.extensions import FILLERS

_KEYWORD_TOKEN = re.compile(r"n't|\w+\*?|[^\w\s]")
_ATTRS = ("LOWER", "NORM", "LEMMA")
FORM_ATTRS = [LOWER, NORM, LEMMA]
NEGATION_WINDOW = 3  # a negator flips a cue up to this many tokens after it
CUE_COLUMNS = ("supporting", "constraining", "supporting_negated", "constraining_negated")
# What ``_WordIndex`` keeps per word: its single-word labels as a text or normalised form,
# as a lemma, and from ``_PHRASES`` on the phrases it starts, per attribute of ``_ATTRS``.
_SURFACE, _LEMMA, _PHRASES = 0, 1, 2
_ROLES = _PHRASES + len(_ATTRS)


class _Texts:
    """The texts of spaCy string hashes, each looked up once. A hash stands for the same
    text in every pipeline's string store; one that ``strings`` lacks reads as ""."""

    def __init__(self):
        self.known: dict[int, str] = WordCache()  # bounded (pipeline.caches)

    def __call__(self, keys: list[int], strings) -> list[str]:
        known = self.known
        known.make_room()
        found = []
        for key in keys:
            text = known.get(key)
            if text is None:
                text = strings[key] if key in strings else ""
                if text:
                    known[key] = text
            found.append(text)
        return found


TEXTS = _Texts()


class Match:
    """A stretch of a ``Doc``'s tokens that a rule matched, from ``start`` to ``end``; read
    like a spaCy ``Span`` (``text``, ``len``), which it makes only when its text is read:
    a ``Span`` per match was a fifth of rule matching, and most matches are only counted."""

    __slots__ = ("doc", "start", "end")

    def __init__(self, doc: Doc, start: int, end: int):
        self.doc, self.start, self.end = doc, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def __repr__(self) -> str:
        return f"Match({self.start}, {self.end}, {self.text!r})"

    @property
    def text(self) -> str:
        return self.doc[self.start:self.end].text


@dataclass(frozen=True)
class RuleMatches:
    """What the rules found in one segment."""

    hits: dict[str, list[Match]]  # code id -> keyword matches
    cues: list[tuple[str, Match, bool]]  # (direction, match, negated)


class _WordIndex:
    """Keywords of several labels (codes, directions), matched against each token's lower
    case text and normalised form, and against its lemma where the keyword asks for it
    (``lemma:`` prefix, or ``lemma=True`` for every keyword of a label): single words
    through dictionaries (whole words, and prefixes for "mentor*"); a phrase from the tokens
    where its first word matches, its other words matched on the same attribute (as one
    spaCy ``Matcher`` pattern per attribute would). Matching lemmas only when asked keeps
    keywords predictable: a lemma table maps *melakukan*, *selaku* and *pelaku* to *laku*,
    *berjalan* to *jalan*.

    The dictionaries replace one Matcher pattern per label and attribute, which cost about
    120 predicate checks per token and dominated the suggest stage; the phrases' Matcher
    still cost a third of it.
    """

    def __init__(self, phrases_by_label: dict[str, list[str]], lemma_labels: frozenset = frozenset()):
        self.words = _WordTable()  # single words: (label, through_lemma)
        self.phrases: dict[str, list[tuple[list[str], bool]]] = {}
        for label, phrases in phrases_by_label.items():
            for phrase in phrases:
                phrase = phrase.lower()
                lemma = label in lemma_labels or phrase.startswith(LEMMA_PREFIX)
                phrase = phrase.removeprefix(LEMMA_PREFIX).strip()
                words = _KEYWORD_TOKEN.findall(phrase)
                if " " not in phrase:  # also as one token: "e-commerce", "p-irt" stay whole in Indonesian
                    self._add_word(label, phrase, lemma)
                if len(words) > 1:
                    self.phrases.setdefault(label, []).append((words, lemma))
                elif words:
                    self._add_word(label, words[0], lemma)
        # per attribute (lower, norm, lemma): the phrases by first word, exact and as prefixes
        self.phrase_starts = [_WordTable() for _ in _ATTRS]
        for label, phrases in self.phrases.items():
            for words, lemma in phrases:
                for table in self.phrase_starts[: 3 if lemma else 2]:
                    table.add(words[0], (label, tuple(words)))
        self.any_lemma = any(lemma for _, lemma in self.words.values()) or any(
            lemma for phrases in self.phrases.values() for _, lemma in phrases)
        self._forget()

    def _forget(self) -> None:
        """Empty what is known of the words seen (``_learn``)."""
        self._seen: set[int] = WordSet()  # string hashes looked up (bounded: pipeline.caches)
        # per role (_SURFACE, _LEMMA, then the phrases' first words by attribute): string hash
        # -> what it matches, for the hashes that match something, and those hashes sorted
        self._found: list[dict[int, tuple]] = [{} for _ in range(_ROLES)]
        self._sorted = [np.zeros(0, np.uint64) for _ in range(_ROLES)]

    def _add_word(self, label: str, word: str, lemma: bool) -> None:
        self.words.add(word, (label, lemma))

    def find(self, doc: Doc, forms=None) -> set[tuple[str, int, int]]:
        """``(label, start, end)`` token spans of every match.

        ``forms`` is ``doc.to_array([LOWER, NORM, LEMMA])`` when the caller has it already:
        reading the hashes as an array is much cheaper than building a ``Token`` per word.
        """
        if forms is None:
            forms = doc.to_array(FORM_ATTRS)
        return self.find_many([forms], doc.vocab.strings)[0]

    def find_many(self, forms: list[np.ndarray], strings) -> list[set[tuple[str, int, int]]]:
        """:meth:`find` for many documents' ``forms`` arrays at once (``find_rows``)."""
        if not forms:
            return []
        return self.find_rows(_stacked(forms), [len(f) for f in forms], strings)

    def find_rows(self, every: np.ndarray, lengths: list[int], strings,
                  distinct: np.ndarray | None = None) -> list[set[tuple[str, int, int]]]:
        """The matches in each of a batch's documents, from ``every`` (their ``forms``
        arrays one after the other, ``lengths`` rows each) and ``distinct`` (``every``'s
        distinct values, when the caller has them).

        A word is looked up the first time it is seen (``_learn``); after that, the rows
        that match anything are found with array searches over the hashes that match, and
        only those are placed back in their documents: a look-up per token and form, and
        then one per distinct word of each batch, cost most of rule matching."""
        found: list[set[tuple[str, int, int]]] = [set() for _ in lengths]
        if not lengths:
            return found
        self._learn(np.unique(every) if distinct is None else distinct, strings)
        owner = np.repeat(np.arange(len(lengths)), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        columns = [(0, _SURFACE), (1, _SURFACE)] + ([(2, _LEMMA)] if self.any_lemma else [])
        for column, role in columns:
            keys = every[:, column]
            labels = self._found[role]
            for row in _rows_in(keys, self._sorted[role]).tolist():
                document = owner[row]
                i = row - starts[document]
                for label in labels[int(keys[row])]:
                    found[document].add((label, i, i + 1))
        if self.phrases:
            self._find_phrases(every, owner, starts, strings, found)
        return found

    def _learn(self, distinct: np.ndarray, strings) -> None:
        """Look up the words among ``distinct`` (string hashes) not seen before: their
        single-word labels as a text or normalised form and as a lemma, and the phrases they
        start per attribute."""
        if len(self._seen) > self._seen.limit:
            self._forget()
        new = set(distinct.tolist()).difference(self._seen)
        if not new:
            return
        self._seen.update(new)
        changed = set()
        new = list(new)
        for key, form in zip(new, TEXTS(new, strings)):
            pairs = self.words.lookup(form)
            looked_up = [tuple(sorted({label for label, _ in pairs})),
                         tuple(sorted({label for label, lemma in pairs if lemma}))]
            looked_up += [tuple(table.lookup(form)) for table in self.phrase_starts]
            for role, value in enumerate(looked_up):
                if value:
                    self._found[role][key] = value
                    changed.add(role)
        for role in changed:
            self._sorted[role] = np.array(sorted(self._found[role]), dtype=np.uint64)

    def _find_phrases(self, every: np.ndarray, owner: np.ndarray, starts: np.ndarray, strings,
                      found: list[set[tuple[str, int, int]]]) -> None:
        """Add the phrase matches of a batch (``find_rows``'s rows of every document) to
        ``found``: where a token's form starts a phrase, the phrase's other words are
        matched on the same form of the tokens after it, within its document."""
        ends = starts + np.bincount(owner, minlength=len(starts))
        for attr in range(len(_ATTRS)):
            keys = every[:, attr]
            phrases_at = self._found[_PHRASES + attr]
            for row in _rows_in(keys, self._sorted[_PHRASES + attr]).tolist():
                document = owner[row]
                for label, words in phrases_at[int(keys[row])]:
                    end = row + len(words)
                    if end <= ends[document] and all(_word_matches(form, word) for form, word in zip(
                            TEXTS(keys[row + 1:end].tolist(), strings), words[1:])):
                        found[document].add((label, row - starts[document], end - starts[document]))


def _stacked(forms: list[np.ndarray]) -> np.ndarray:
    """Documents' ``FORM_ATTRS`` arrays one after the other, as string hashes."""
    return np.concatenate([f.reshape(-1, len(FORM_ATTRS)) for f in forms]).astype(np.uint64)


def _rows_in(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """The positions in ``keys`` of the values that ``sorted_keys`` holds."""
    if not len(sorted_keys):
        return np.zeros(0, np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.flatnonzero(sorted_keys[at] == keys)


def _word_matches(form: str, word: str) -> bool:
    """Whether a token's form matches a keyword's word ("mission*": as a prefix)."""
    return form.startswith(word[:-1]) if word.endswith("*") and len(word) > 1 else form == word


class _WordTable:
    """Values by word, found by a form equal to the word or starting with it ("mission*")."""

    def __init__(self):
        self.exact: dict[str, list] = {}
        self.prefixes: dict[int, dict[str, list]] = {}

    def add(self, word: str, value) -> None:
        if word.endswith("*") and len(word) > 1:
            self.prefixes.setdefault(len(word) - 1, {}).setdefault(word[:-1], []).append(value)
        else:
            self.exact.setdefault(word, []).append(value)

    def lookup(self, form: str) -> list:
        found = list(self.exact.get(form, ()))
        for length, stems in self.prefixes.items():
            if len(form) >= length:
                found += stems.get(form[:length], ())
        return found

    def values(self):
        yield from (value for values in self.exact.values() for value in values)
        yield from (value for stems in self.prefixes.values() for values in stems.values() for value in values)

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)


class CodebookRules:
    """Finds codebook keywords and direction cues in spaCy ``Doc``s."""

    def __init__(self, codebook: Codebook):
        self.codebook = codebook
        self.keywords = _WordIndex(
            {code.id: [p for words in code.keywords.values() for p in words] for code in codebook.codable()},
            frozenset(code.id for code in codebook.codable() if code.lemmas),
        )
        cues = {direction: [p for words in by_language.values() for p in words]
                for direction, by_language in codebook.cues.items()}
        cues["negator"] = [p for words in codebook.negators.values() for p in words]
        # cue words are a sentiment lexicon, written as stems: they keep matching lemmas
        self.cues = _WordIndex(cues, frozenset(cues))
        self.negator_words = frozenset(w.lower() for w in cues["negator"] if " " not in w and "*" not in w)

    def __call__(self, doc: Doc) -> RuleMatches:
        return self.many([doc])[0]

    def many(self, docs: list[Doc]) -> list[RuleMatches]:
        """What the rules find in each of ``docs``, the keywords and cues of the whole batch
        found at once (``_WordIndex.find_rows``)."""
        forms = [doc.to_array(FORM_ATTRS) for doc in docs]
        keywords: list = [None] * len(docs)
        cues: list = [None] * len(docs)
        by_vocabulary: dict[int, list[int]] = {}  # the Indonesian and the English pipeline's
        for i, doc in enumerate(docs):
            by_vocabulary.setdefault(id(doc.vocab), []).append(i)
        for chosen in by_vocabulary.values():
            strings = docs[chosen[0]].vocab.strings
            every = _stacked([forms[i] for i in chosen])
            distinct = np.unique(every)
            for index, into in ((self.keywords, keywords), (self.cues, cues)):
                for i, found in zip(chosen, index.find_rows(every, [len(forms[i]) for i in chosen], strings, distinct)):
                    into[i] = found
        return [RuleMatches(hits=self._hits(doc, array, found), cues=self._cues(doc, signs))
                for doc, array, found, signs in zip(docs, forms, keywords, cues)]

    @staticmethod
    def _hits(doc: Doc, forms, found: set[tuple[str, int, int]]) -> dict[str, list[Match]]:
        hits: dict[str, list[Match]] = {}
        # one Match per matched stretch, shared by the codes it matches: a word can be a
        # keyword of dozens of codes (code names as keywords)
        spans: dict[tuple[int, int], Match | None] = {}
        fillers = doc.user_data.get(FILLERS, ())
        strings = doc.vocab.strings
        for code, start, end in sorted(found, key=lambda item: (item[1], item[2], item[0])):
            if (start, end) not in spans:
                only_fillers = all(strings[key] in fillers for key in forms[start:end, 0].tolist())
                spans[start, end] = None if only_fillers else Match(doc, start, end)
            if spans[start, end] is not None:
                hits.setdefault(code, []).append(spans[start, end])
        return hits

    @staticmethod
    def _cues(doc: Doc, found: set[tuple[str, int, int]]) -> list[tuple[str, Match, bool]]:
        negator_ends = sorted(e for label, _, e in found if label == "negator")
        cues = []
        for label, start, end in sorted(found, key=lambda item: (item[1], item[2], item[0])):
            if label == "negator":
                continue
            negated = any(start - NEGATION_WINDOW <= e <= start for e in negator_ends)
            cues.append((label, Match(doc, start, end), negated))
        return cues


def cue_counts(cues: list[tuple[str, Match, bool]], within: list[Match] | None = None) -> dict[str, int]:
    """Count cues per direction and negation, optionally only those inside ``within`` spans."""
    counts = dict.fromkeys(CUE_COLUMNS, 0)
    for direction, span, negated in cues:
        if within is not None and not any(s.start <= span.start < s.end for s in within):
            continue
        counts[direction + ("_negated" if negated else "")] += 1
    return counts


def cue_direction(counts: dict[str, int]) -> str:
    """Direction the cues point to: negated cues count for the opposite direction."""
    support = counts["supporting"] + counts["constraining_negated"]
    constrain = counts["constraining"] + counts["supporting_negated"]
    if support > constrain:
        return "supporting"
    if constrain > support:
        return "constraining"
    return "neutral"


def rule_score(hits: dict[str, list[Match]], code: str, words: int) -> float:
    """How strongly the keywords of ``code`` point at it in one segment, in (0, 1).

    Evidence adds up over the distinct keywords matched: a phrase of n words counts
    ``1 + (n - 1) / 2``, a word that is a keyword of k codes counts ``1 / k``, a keyword
    matched again adds a quarter. The evidence per ``sqrt(words / 10)`` (one match in a
    ten-word answer outweighs one in a page) is mapped to ``1 - exp(-e)`` and then into
    0.3-0.9, below what a confident model gives.
    """
    return rule_scores(hits, words, [code])[code]


def rule_scores(hits: dict[str, list[Match]], words: int, codes=None) -> dict[str, float]:
    """:func:`rule_score` of each of ``codes`` (default: every code in ``hits``), counting
    the codes that share each keyword once for all of them."""
    shared = Counter((span.start, span.end) for spans in hits.values() for span in spans)
    scale = max(1.0, float(np.sqrt(words / 10)))
    scores = {}
    for code in hits if codes is None else codes:
        weight: dict[str, float] = {}
        for span in hits.get(code, []):
            key = span.text.lower()
            weight[key] = max(weight.get(key, 0.0), (1 + (len(span) - 1) / 2) / shared[(span.start, span.end)])
        evidence = (sum(weight.values()) + 0.25 * (len(hits.get(code, [])) - len(weight))) / scale
        scores[code] = round(0.3 + 0.6 * (1 - float(np.exp(-evidence))), 4)
    return scores
