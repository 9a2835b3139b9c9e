"""Subtitle files (``.vtt``, ``.srt``): cues merged into speaker turns.

The speaker of a cue is its ``<v Speaker>`` voice tag or, failing that, a leading
``Speaker:`` label in its text (as Zoom writes it); a cue with neither belongs to the
previous speaker. Consecutive cues of one speaker are merged into one turn, joined by a
space. Before anyone has spoken, unlabelled cues are merged until one ends a sentence.
Each turn is one line ``[HH:MM:SS] Speaker: text`` (or ``[HH:MM:SS] text`` without a
speaker), stamped with its first cue's start, and turns are separated by a blank line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from pipeline.errors import InputError
from pipeline.ingest.text import TURN_PATTERN, decode, speaker_label

_VOICE = re.compile(r"^\s*<v(?:\.[\w-]+)*\s+([^>]*?)\s*>")
_TAGS = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # cue tags, and SRT's {\an8}-style overrides
_SENTENCE_END = re.compile(r"[.?!…][\"'”’)\]]*$")


@dataclass
class _Turn:
    stamp: str
    speaker: str | None
    texts: list[str] = field(default_factory=list)

    def line(self) -> str:
        label = f"{self.speaker}: " if self.speaker else ""
        return f"[{self.stamp}] {label}{' '.join(self.texts)}"


def read(path: Path) -> str:
    """Read a ``.vtt`` or ``.srt`` file as speaker turns.

    Parameters
    ----------
    path : Path
        The subtitle file; its suffix says which format it is.

    Returns
    -------
    str
        One turn per line, ``[HH:MM:SS] Speaker: text``, separated by blank lines.

    Raises
    ------
    InputError
        If the file cannot be decoded or is not valid WebVTT / SubRip.
    """
    content = decode(path.read_bytes(), path)
    kind = path.suffix.lower().lstrip(".")
    try:
        if kind == "srt":
            captions = webvtt.from_buffer(io.StringIO(content), format="srt").captions
        else:
            captions = webvtt.from_string(content).captions
    except (MalformedFileError, MalformedCaptionError) as exc:
        expected = "SubRip (.srt)" if kind == "srt" else "WebVTT (must start with WEBVTT)"
        raise InputError(path, f"is not a valid {expected} file: {exc}") from exc
    return "\n\n".join(turn.line() for turn in _turns(captions))


def _turns(captions: list[webvtt.Caption]) -> list[_Turn]:
    turns: list[_Turn] = []
    speaker: str | None = None
    for caption in captions:
        for cue_speaker, text in _voices(caption):
            speaker = cue_speaker or speaker
            last = turns[-1] if turns else None
            if last and last.speaker == speaker and (
                speaker or not _SENTENCE_END.search(last.texts[-1])
            ):
                last.texts.append(text)
            else:
                turns.append(_Turn(_stamp(caption), speaker, [text]))
    return turns


def _voices(caption: webvtt.Caption) -> list[tuple[str | None, str]]:
    """Split a cue into (speaker or None, text) pieces, one per voice it holds."""
    pieces: list[tuple[str | None, list[str]]] = []
    for line in caption.lines:
        voice = _VOICE.match(line)
        text = " ".join(unescape(_TAGS.sub("", line)).split())
        if voice:
            pieces.append((speaker_label(voice.group(1)), [text]))
        elif pieces:
            pieces[-1][1].append(text)
        else:
            pieces.append((None, [text]))
    voices = [(speaker, " ".join(t for t in texts if t)) for speaker, texts in pieces]
    return [_labelled(speaker, text) for speaker, text in voices if text]


def _labelled(speaker: str | None, text: str) -> tuple[str | None, str]:
    """Take a leading ``Speaker:`` label out of an unvoiced cue's text."""
    turn = TURN_PATTERN.match(text)
    if speaker or not turn or turn.group("timestamp"):
        return speaker, text
    return turn.group("speaker"), text[turn.end():].strip()


def _stamp(caption: webvtt.Caption) -> str:
    start = caption.start_time
    return f"{start.hours:02d}:{start.minutes:02d}:{start.seconds:02d}"
