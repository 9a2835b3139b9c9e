"""Codebook rules: keyword matches per code, and direction cues with negation.

Keywords and cues of both languages are matched in every segment, against each token's
lower-case text, normalised form and lemma, so code-switched text matches either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from pipeline.codebook import Codebook

_KEYWORD_TOKEN = re.compile(r"n't|\w+\*?|[^\w\s]")
_ATTRS = ("LOWER", "NORM", "LEMMA")
NEGATION_WINDOW = 3  # a negator flips a cue up to this many tokens after it
CUE_COLUMNS = ("supporting", "constraining", "supporting_negated", "constraining_negated")


@dataclass(frozen=True)
class RuleMatches:
    """What the rules found in one segment."""

    hits: dict[str, list[Span]]  # code id -> keyword spans
    cues: list[tuple[str, Span, bool]]  # (direction, span, negated)


def keyword_patterns(phrases: list[str]) -> list[list[dict]]:
    """spaCy Matcher patterns for keywords and phrases ("mentor*" = any word starting so).

    Single words are folded into one pattern per token attribute (an ``IN`` set for whole
    words, one anchored regex for prefixes), so matching cost does not grow with the size
    of the keyword lists; phrases get one pattern per attribute each.

    Examples
    --------
    >>> keyword_patterns(["mentor*"])[0]
    [{'LOWER': {'REGEX': '^(?:mentor)'}}]
    """
    words, prefixes, phrases_tokens = set(), set(), []
    for phrase in phrases:
        tokens = _KEYWORD_TOKEN.findall(phrase.lower())
        if len(tokens) == 1 and tokens[0].endswith("*") and len(tokens[0]) > 1:
            prefixes.add(tokens[0][:-1])
        elif len(tokens) == 1:
            words.add(tokens[0])
        elif tokens:
            phrases_tokens.append(tokens)
    patterns = []
    for attr in _ATTRS:
        if words:
            patterns.append([{attr: {"IN": sorted(words)}}])
        if prefixes:
            patterns.append([{attr: {"REGEX": "^(?:" + "|".join(map(re.escape, sorted(prefixes))) + ")"}}])
        for tokens in phrases_tokens:
            patterns.append([_token_pattern(attr, token) for token in tokens])
    return patterns


def _token_pattern(attr: str, token: str) -> dict:
    if token.endswith("*") and len(token) > 1:
        return {attr: {"REGEX": "^" + re.escape(token[:-1])}}
    return {attr: token}


class CodebookRules:
    """Finds codebook keywords and direction cues in spaCy ``Doc``s."""

    def __init__(self, codebook: Codebook):
        self.codebook = codebook
        self._matchers: dict[int, tuple[Matcher, Matcher]] = {}

    def __call__(self, doc: Doc) -> RuleMatches:
        keywords, cues = self._matchers_for(doc)
        hits: dict[str, list[Span]] = {}
        seen = set()
        for match_id, start, end in keywords(doc) if len(keywords) else ():
            code = doc.vocab.strings[match_id]
            if (code, start, end) not in seen and not _only_fillers(doc[start:end]):
                seen.add((code, start, end))
                hits.setdefault(code, []).append(doc[start:end])
        return RuleMatches(hits=hits, cues=self._cues(doc, cues))

    def _cues(self, doc: Doc, matcher: Matcher) -> list[tuple[str, Span, bool]]:
        found = {(doc.vocab.strings[m], s, e) for m, s, e in matcher(doc)} if len(matcher) else set()
        negator_ends = sorted(e for label, _, e in found if label == "negator")
        cues = []
        for label, start, end in sorted(found, key=lambda item: item[1]):
            if label == "negator":
                continue
            negated = any(start - NEGATION_WINDOW <= e <= start for e in negator_ends if e <= start)
            cues.append((label, doc[start:end], negated))
        return cues

    def _matchers_for(self, doc: Doc) -> tuple[Matcher, Matcher]:
        key = id(doc.vocab)
        if key not in self._matchers:
            keywords = Matcher(doc.vocab)
            for code in self.codebook.codable():
                phrases = [p for words in code.keywords.values() for p in words]
                if phrases:
                    keywords.add(code.id, keyword_patterns(phrases))
            cues = Matcher(doc.vocab)
            for direction, by_language in self.codebook.cues.items():
                phrases = [p for words in by_language.values() for p in words]
                if phrases:
                    cues.add(direction, keyword_patterns(phrases))
            negators = [p for words in self.codebook.negators.values() for p in words]
            if negators:
                cues.add("negator", keyword_patterns(negators))
            self._matchers[key] = (keywords, cues)
        return self._matchers[key]


def cue_counts(cues: list[tuple[str, Span, bool]], within: list[Span] | None = None) -> dict[str, int]:
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


def _only_fillers(span: Span) -> bool:
    return all(token._.is_filler for token in span)
