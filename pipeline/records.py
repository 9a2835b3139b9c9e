"""The small typed records that cross stage boundaries, and the columns of their tables."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

Layout = Literal["transcript", "paragraphs"]
Language = Literal["id", "en", "mixed", "und"]
Direction = Literal["supporting", "constraining", "neutral"]
DIRECTIONS: tuple[str, ...] = ("supporting", "constraining", "neutral")


@dataclass(frozen=True)
class Document:
    """One source file as stored: NFC text with normalised newlines.

    ``id`` is the document's place in the corpus: its manifest ``id`` where the manifest
    gives one, else ``path`` (relative to the corpus folder). It stays the same when the
    file is edited; ``version`` (the SHA-256 of ``text``) changes. Two files with the same
    text are two documents.
    ``layout`` tells the segmenter whether the text is speaker turns or paragraphs.
    """

    id: str
    path: str
    format: str
    layout: Layout
    text: str
    metadata: dict = field(default_factory=dict)

    @cached_property
    def version(self) -> str:
        """SHA-256 of the stored text: what changes when the file is edited."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Segment:
    """A speaker turn, paragraph or answer: ``text == document.text[start:end]``."""

    id: str
    document_id: str
    index: int
    start: int
    end: int
    text: str
    speaker: str | None = None
    timestamp: str | None = None
    language: str = "und"
    language_score: float = 0.0


@dataclass(frozen=True)
class Suggestion:
    """A proposed code for a segment, for an analyst to accept, reject or edit."""

    segment_id: str
    code: str
    direction: str
    factor_type: str
    score: float
    source: str  # "rule", "model" or "rule+model"
    evidence: str
    confidence: str = ""  # "low": the code's cross-validated kappa was below 0.4 in training


@dataclass(frozen=True)
class Failure:
    """An input that could not be processed, kept so that nothing fails silently."""

    path: str
    stage: str
    reason: str


# The review sheet's columns, in order (suggestions.xlsx and suggestions.csv): what the
# analyst reads and fills in first, the technical references after.
SUGGESTION_COLUMNS: tuple[str, ...] = (
    "document",
    "speaker",
    "segment_text",
    "code",
    "code_label",
    "direction",
    "factor_type",
    "score",
    "evidence",
    "decision",
    "corrected_code",
    "comment",
    "reviewer",
    "case",
    "timestamp",
    "language",
    "source",
    "segment_start",
    "segment_end",
    "suggestion_id",
)
DECISIONS: tuple[str, ...] = ("accept", "reject", "edit")

# A speaker turn at the start of a line: "[00:01:02] Speaker: text" or "Speaker: text".
# Shared by ingest (to recognise transcripts) and segment (to cut them into turns).
TURN_PATTERN = (
    r"^(?:\[(?P<timestamp>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)\][ \t]*)?"
    r"(?P<speaker>[A-Z][\w .'-]{0,40}?):[ \t]+(?=\S)"
)
