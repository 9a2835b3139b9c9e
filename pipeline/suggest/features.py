"""What the suggestion models see of a segment: its words, its rule matches, its cues."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from spacy.tokens import Doc, Span

from pipeline.suggest.rules import CUE_COLUMNS, CodebookRules, RuleMatches, cue_counts


@dataclass(frozen=True)
class SegmentFeatures:
    """Model inputs for one segment plus the matches needed to explain a suggestion."""

    text: str  # lemmas of content tokens, space-separated
    matches: RuleMatches
    doc: Doc

    def evidence_spans(self, code: str) -> list[Span]:
        return self.matches.hits.get(code, [])

    def local_cues(self, code: str) -> dict[str, int]:
        """Cues in the sentences holding the code's keywords (the whole segment if none)."""
        spans = self.evidence_spans(code)
        sentences = [span.sent for span in spans] if spans else None
        return cue_counts(self.matches.cues, sentences)


def featurize(doc: Doc, rules: CodebookRules) -> SegmentFeatures:
    """Extract ``SegmentFeatures`` from a processed ``Doc``."""
    words = [
        token.lemma_
        for token in doc
        if not (token.is_punct or token.is_space or token.like_num or token._.is_filler)
    ]
    return SegmentFeatures(text=" ".join(words), matches=rules(doc), doc=doc)


def code_frame(features: list[SegmentFeatures], codes: list[str]) -> pd.DataFrame:
    """One row per segment: ``text``, a ``rule:<code>`` flag per code, segment-level cues."""
    rows = []
    for item in features:
        row = {"text": item.text}
        row.update({f"rule:{code}": float(code in item.matches.hits) for code in codes})
        row.update({f"cue:{k}": float(v) for k, v in cue_counts(item.matches.cues).items()})
        rows.append(row)
    columns = ["text", *(f"rule:{c}" for c in codes), *(f"cue:{k}" for k in CUE_COLUMNS)]
    return pd.DataFrame(rows, columns=columns)


def direction_frame(pairs: list[tuple[SegmentFeatures, str]]) -> pd.DataFrame:
    """One row per (segment, code): ``text``, ``code``, local and segment-level cues."""
    rows = []
    for item, code in pairs:
        row = {"text": item.text, "code": code}
        row.update({f"local:{k}": float(v) for k, v in item.local_cues(code).items()})
        row.update({f"cue:{k}": float(v) for k, v in cue_counts(item.matches.cues).items()})
        rows.append(row)
    columns = ["text", "code", *(f"local:{k}" for k in CUE_COLUMNS), *(f"cue:{k}" for k in CUE_COLUMNS)]
    return pd.DataFrame(rows, columns=columns)
