"""What the suggestion models see of a segment: its words, its rule matches, its cues."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from spacy.tokens import Doc, Span

from pipeline.suggest.rules import CUE_COLUMNS, NEGATION_WINDOW, CodebookRules, RuleMatches, cue_counts


# Words that end a negation's scope: a contrast starts a new clause ("tidak mahal, tapi jauh").
CONTRAST = frozenset({"tapi", "tetapi", "namun", "sedangkan", "padahal", "melainkan", "walaupun",
                      "meskipun", "but", "however", "although", "though", "whereas", "yet"})
NEGATED = "NOT_"  # prefix of a word inside a negation's scope in ``marked``


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

    def evidence_spans(self, code: str) -> list[Span]:
        return self.matches.hits.get(code, [])

    def local_cues(self, code: str) -> dict[str, int]:
        """Cues in the sentences holding the code's keywords (the whole segment if none)."""
        spans = self.evidence_spans(code)
        sentences = [span.sent for span in spans] if spans else None
        return cue_counts(self.matches.cues, sentences)

    def evidence_clauses(self, code: str) -> list[int]:
        """Indices of the clauses that hold the code's keyword matches."""
        starts = [span.start for span in self.evidence_spans(code)]
        return [i for i, (first, end, _) in enumerate(self.clauses) if any(first <= s < end for s in starts)]


def featurize(doc: Doc, rules: CodebookRules) -> SegmentFeatures:
    """Extract ``SegmentFeatures`` from a processed ``Doc``.

    ``marked`` carries negation the way sentiment models since Das & Chen (2001) do: after
    a negator of the codebook (*tidak, belum, kurang, not, lack*), the next
    ``NEGATION_WINDOW`` words get a ``NOT_`` prefix, so *tidak NOT_ada NOT_dukungan* and
    *ada dukungan* are different features; punctuation and a contrast (*tapi, namun, but*)
    end the scope.
    """
    lemmas, words, marked = [], [], []
    clauses, clause, first = [], [], 0
    scope = 0
    for token in doc:
        if token.is_space or token._.is_filler:
            continue
        norm = token.norm_.lower()
        if token.is_punct or norm in CONTRAST:
            scope = 0
            if clause:
                clauses.append((first, token.i, " ".join(clause)))
            clause, first = [], token.i + 1
            if norm in CONTRAST:
                words.append(norm)
                marked.append(norm)
            continue
        if not token.like_num:
            lemmas.append(token.lemma_)
        words.append(norm)
        if norm in rules.negator_words or token.lower_ in rules.negator_words:
            form = norm
            scope = NEGATION_WINDOW
        else:
            form = NEGATED + norm if scope else norm
            scope = max(0, scope - 1)
        marked.append(form)
        clause.append(form)
    if clause:
        clauses.append((first, len(doc), " ".join(clause)))
    return SegmentFeatures(text=" ".join(lemmas), matches=rules(doc), doc=doc,
                           words=" ".join(words), marked=" ".join(marked), clauses=tuple(clauses),
                           raw=doc.text.lower())


def code_frame(features: list[SegmentFeatures], codes: list[str]) -> pd.DataFrame:
    """One row per segment: ``words``, lower-case ``raw`` text, a ``rule:<code>`` flag per
    code, segment-level cues."""
    rows = []
    for item in features:
        row = {"words": item.words, "raw": item.raw}
        row.update({f"rule:{code}": float(code in item.matches.hits) for code in codes})
        row.update({f"cue:{k}": float(v) for k, v in cue_counts(item.matches.cues).items()})
        rows.append(row)
    columns = ["words", "raw", *(f"rule:{c}" for c in codes), *(f"cue:{k}" for k in CUE_COLUMNS)]
    return pd.DataFrame(rows, columns=columns)


def direction_frame(pairs: list[tuple[SegmentFeatures, str]]) -> pd.DataFrame:
    """One row per (segment, code): negation-``marked`` words, lower-case ``raw`` text,
    ``code``, the segment's ``clauses`` (marked words) with the indices of those holding the
    code's keywords (``evidence``), local and segment-level cues."""
    rows = []
    for item, code in pairs:
        row = {"marked": item.marked, "raw": item.raw, "code": code,
               "clauses": tuple(text for _, _, text in item.clauses),
               "evidence": tuple(item.evidence_clauses(code))}
        row.update({f"local:{k}": float(v) for k, v in item.local_cues(code).items()})
        row.update({f"cue:{k}": float(v) for k, v in cue_counts(item.matches.cues).items()})
        rows.append(row)
    columns = ["marked", "raw", "code", "clauses", "evidence", *(f"local:{k}" for k in CUE_COLUMNS), *(f"cue:{k}" for k in CUE_COLUMNS)]
    return pd.DataFrame(rows, columns=columns)
