"""What a reader hands to ingest: free text to tidy and parse, or the turns it found."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Turn:
    """A speaker turn, merged subtitle cues or a table answer, as the source gives it."""

    text: str
    speaker: str | None = None
    timestamp: str | None = None
    end_time: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Reading:
    """One file as read: either ``text`` (prose, or a transcript typed as text, which
    ingest parses into turns) or ``turns`` (subtitles, tables), plus ``warnings`` about
    what was repaired on the way (bad bytes replaced, a malformed cue kept)."""

    text: str | None = None
    turns: list[Turn] | None = None
    warnings: list[str] = field(default_factory=list)
