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
class Block:
    """A turn, subtitle cue group or table answer as its reader found it.

    ``document.text[start:end]`` is its text (the words spoken or written, without the
    speaker label or time stamp); ``timestamp`` and ``end_time`` are as written in the
    source; ``metadata`` holds what else the source says about it (a table row's other
    columns, the line it starts on).
    """

    start: int
    end: int
    speaker: str | None = None
    timestamp: str | None = None
    end_time: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """One source file as stored: NFC text with normalised newlines.

    ``id`` is the document's place in the corpus: its manifest ``id`` where the manifest
    gives one, else ``path`` (relative to the corpus folder). It stays the same when the
    file is edited; ``version`` (the SHA-256 of ``text``) changes. Two files with the same
    text are two documents.
    ``layout`` tells the segmenter whether the text is speaker turns or paragraphs.
    ``blocks`` are the turns, cues or answers its reader found, with their offsets in
    ``text`` (empty for prose: the segmenter cuts paragraphs). ``warnings`` say what was
    repaired while reading (bytes replaced, control characters removed, a bad cue kept).
    ``source`` is the file's signature when it was read (``pipeline.ingest.source_signature``),
    by which a later run knows it unchanged without reading it; ``None`` when it cannot tell.
    """

    id: str
    path: str
    format: str
    layout: Layout
    text: str
    metadata: dict = field(default_factory=dict)
    blocks: tuple[Block, ...] = ()
    warnings: tuple[str, ...] = ()
    source: str | None = field(default=None, compare=False)

    @cached_property
    def version(self) -> str:
        """SHA-256 of the stored text: what changes when the file is edited."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Unread:
    """A file of the corpus left unread: its signature shows it unchanged since its document
    was stored (see ``pipeline.ingest.iter_documents``)."""

    id: str
    path: str


RESEARCHER = "researcher"  # Segment.role of the researcher's own turns


def role_of(speaker: str | None, researchers: set[str]) -> str:
    """A turn's role: ``RESEARCHER`` when ``speaker`` is one of ``researchers`` (casefolded
    labels), else "".

    >>> role_of("Pewawancara", {"pewawancara"}), role_of("Bu Ani", {"pewawancara"})
    ('researcher', '')
    """
    return RESEARCHER if speaker and speaker.casefold() in researchers else ""


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
    end_time: str | None = None
    metadata: dict = field(default_factory=dict, hash=False)  # e.g. a table row's other columns
    # RESEARCHER for the researcher's own turns (``[suggest] skip_speakers``), decided once at
    # segmentation and stored: they get no suggestions and are no one's evidence; "" otherwise
    role: str = ""


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
    confidence: str = ""  # "low" for codes whose model agrees too little with the analysts


@dataclass(frozen=True)
class Failure:
    """An input that could not be processed, kept so that nothing fails silently."""

    path: str
    stage: str
    reason: str
    # where an unexpected error (a bug, not bad input) was raised: its Python traceback
    traceback: str = ""


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
    "confidence",
    "evidence",
    "decision",
    "corrected_code",
    "corrected_direction",
    "comment",
    "reviewer",
    "case",
    "timestamp",
    "language",
    "source",
    "segment_start",
    "segment_end",
    "segment_id",
    "suggestion_id",
)
# What an analyst writes in the ``decision`` column. ``add`` puts the code written in
# ``corrected_code`` on the row's segment (on a row with no suggestion, or beside one).
DECISIONS: tuple[str, ...] = ("accept", "reject", "edit", "add")
# The same decisions and directions in Indonesian, as the workspace shows them and sheets accept.
DECISIONS_ID: tuple[str, ...] = ("terima", "tolak", "ubah", "tambah")
DIRECTIONS_ID: tuple[str, ...] = ("pendukung", "penghambat", "netral")

# A time as transcribers type it: h:mm, mm:ss or hh:mm:ss, with ":" or "." between the
# parts and optional fractions of a second ("1:05.5", "00:01:02,500", "00.00.28").
TIME_PATTERN = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[.,]\d{1,3})?"
# A speaker turn at the start of a line, in the forms Indonesian and English transcripts
# use: an optional time before the label (bare, in [brackets] or (parentheses), possibly
# a range "00:01 - 00:05", possibly followed by "-"), a capitalised label of at most 41
# characters (honorifics and single letters included: "Bu Warsini", "P"), an optional
# time after it ("Ani (00:05):", as Rev writes it), optional Markdown bold, a colon, which
# may have a space before it, then the text: on the same line, or on the next one when a
# time follows the label. Shared by ingest (to recognise and read transcripts) and by a
# project's own pattern in [ingest] turn_pattern (same group names).
TURN_PATTERN = (
    r"^[ \t]*(?:\*\*|__)?"
    rf"(?:[\[(]?(?P<timestamp>{TIME_PATTERN})"
    rf"(?:[ \t]*[-–][ \t]*(?P<end_time>{TIME_PATTERN}))?[\])]?[ \t]*(?:[-–|][ \t]*)?)?"
    r"(?:\*\*|__)?(?P<speaker>[A-Z][\w .'-]{0,40}?)"
    rf"(?:[ \t]*[\[(](?P<time_after>{TIME_PATTERN})[\])])?"
    r"[ \t]*(?:\*\*|__)?[ \t]*:(?:\*\*|__)?"
    r"(?:[ \t]+(?=\S)|(?(time_after)[ \t]*$|(?!)))"
)
# Turns whose label stands on a line of its own, the words on the lines below, as
# transcription services export them: "Speaker 1  0:05" (Otter: name, then the time) and
# "00:00:05 Speaker 1" (Word's Transcribe: the time in full, then the name). The label
# line must be followed by text that is not itself such a label (an agenda's "09:00:00
# Pembukaan" lines are not turns).
LABEL_LINE_PATTERNS = (
    r"^(?P<speaker>[A-Z][\w.'-]*(?:[ \t][\w.'-]+){0,4})[ \t]+(?P<time_after>\d{1,2}:\d{2}(?::\d{2})?)[ \t]*$",
    r"^(?P<timestamp>\d{1,2}:\d{2}:\d{2})[ \t]+(?P<speaker>[A-Z][\w .'-]{0,40}?)[ \t]*$",
)
