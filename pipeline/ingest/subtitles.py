"""Subtitle files (``.vtt``, ``.srt``): cues merged into speaker turns.

The speaker of a cue is its ``<v Speaker>`` voice tag or, failing that, a leading
``Speaker:`` label in its text (as Zoom writes it); a cue with neither belongs to the
previous speaker. Consecutive cues of one speaker are merged into one turn, joined by a
space. Before anyone has spoken, unlabelled cues are merged until one ends a sentence.
Each turn keeps its first cue's start (``HH:MM:SS``) and its last cue's end.

The parser is lenient on purpose: a cue whose timing line is damaged keeps its text
(without a time) and is reported in the document's warnings with its line number, so
that no words vanish and no neighbours are merged across it silently. NOTE, STYLE and
REGION blocks of WebVTT are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.base import Reading, Turn
from pipeline.ingest.transcript import DEFAULT_TURN
from pipeline.ingest.text import decode, normalise

_TIME = r"(?:(\d{1,2}):)?(\d{2}):(\d{2})[.,](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s.*)?$")
# What a timing line looks like, damaged or not: a time, then an arrow of dashes.
_LOOSE_TIMING = re.compile(r"^\s*(?:\d{1,2}:)?\d{1,2}:\d{1,2}(?:[.,]\d*)?\s*-+>")
_DAMAGED = re.compile(r"->|^\s*\d{1,2}:\d{2}")  # a cue's first line that meant to be its timing
_VOICE = re.compile(r"^\s*<v(?:\.[\w-]+)*\s+([^>]*?)\s*>")
_TAGS = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # cue tags, and SRT's {\an8}-style overrides
_SENTENCE_END = re.compile(r"[.?!…][\"'”’)\]]*$")
_SKIPPED_BLOCKS = ("NOTE", "STYLE", "REGION")


@dataclass
class Cue:
    """One subtitle cue: its times (``HH:MM:SS``, None when its timing was damaged),
    its text lines and the line of the file where it starts."""

    start: str | None
    end: str | None
    lines: list[str]
    line: int


def read(path: Path, data: bytes) -> Reading:
    """Read a ``.vtt`` or ``.srt`` file as speaker turns.

    Raises
    ------
    InputError
        If the file cannot be decoded, a ``.vtt`` does not start with ``WEBVTT``, or
        the file holds no cue with a valid timing at all.
    """
    content, warnings = decode(data, path)
    kind = path.suffix.lower().lstrip(".")
    cues, problems = parse_cues(normalise(content), kind, path)
    warnings += problems
    return Reading(turns=_turns(cues), warnings=warnings)


def parse_cues(content: str, kind: str, path: Path | str = "") -> tuple[list[Cue], list[str]]:
    """Split subtitle text into cues; returns (cues, warnings about damaged cues).

    A cue starts at its timing line (``00:00:01,000 --> 00:00:04,000``), with the cue
    number or identifier on the line before it: cues are found by their timing lines, so
    that a file without blank lines between cues is read cue by cue. A timing line that is
    damaged (``->``, a missing part) or impossible (``00:99:00.000``: minutes and seconds
    run 00-59, and a cue ends no earlier than it starts) is never taken as text: its cue
    keeps its text without a time, and a warning names the line.

    Examples
    --------
    >>> cues, warnings = parse_cues("1\\n00:00:01,000 --> 00:00:02,000\\nSatu\\n\\n"
    ...                             "2\\n00:00:03,000 -> 00:00:04\\nDua\\n", "srt")
    >>> [(c.start, c.lines) for c in cues], warnings
    ([('00:00:01', ['Satu']), (None, ['Dua'])], ["line 6: no valid cue timing ('00:00:03,000 -> 00:00:04'); its text is kept without a time"])
    >>> cues, _ = parse_cues("1\\n00:00:01,000 --> 00:00:02,000\\nSatu\\n2\\n00:00:03,000 --> 00:00:04,000\\nDua", "srt")
    >>> [(c.start, c.lines) for c in cues]
    [('00:00:01', ['Satu']), ('00:00:03', ['Dua'])]
    """
    lines = content.lstrip("\ufeff").split("\n")
    first = 0
    if kind == "vtt":
        if not lines or not lines[0].startswith("WEBVTT"):
            raise InputError(path, "is not a valid WebVTT file: it must start with WEBVTT")
        first = 1
        while first < len(lines) and lines[first].strip():
            first += 1  # header lines after WEBVTT
    cues: list[Cue] = []
    warnings: list[str] = []
    for number, block in _blocks(lines, first):
        if kind == "vtt" and block[0].startswith(_SKIPPED_BLOCKS):
            continue
        timing = next((i for i, line in enumerate(block[:3]) if _LOOSE_TIMING.match(line)), None)
        if timing is not None:
            problem = _timing_problem(block[timing])
            if problem is None:
                match = _TIMING.match(block[timing])
                cues.append(Cue(_stamp(match.groups()[:4]), _stamp(match.groups()[4:]),
                                block[timing + 1:], number + timing))
                continue
            shown = repr(block[timing].strip()) if problem == "damaged" else f"{problem}: {block[timing].strip()!r}"
            text, line = block[timing + 1:], number + timing
        else:
            offset = 1 if kind == "srt" and block[0].strip().isdigit() else 0
            damaged = offset < len(block) and bool(_DAMAGED.search(block[offset]))
            text, line = block[offset + damaged:], number + offset
            shown = repr(block[offset]) if damaged else "none"
        if not any(piece.strip() for piece in text):
            warnings.append(f"line {line}: a cue without text or valid timing was skipped")
            continue
        warnings.append(f"line {line}: no valid cue timing ({shown}); its text is kept without a time")
        cues.append(Cue(None, None, text, number))
    if not any(cue.start for cue in cues):
        expected = "SubRip (.srt)" if kind == "srt" else "WebVTT"
        raise InputError(path, f"is not a valid {expected} file: no cue has a timing line "
                               "('00:00:01,000 --> 00:00:04,000')")
    return cues, warnings


def _timing_problem(line: str) -> str | None:
    """What is wrong with a line that looks like a cue timing; ``None`` when it is valid."""
    match = _TIMING.match(line)
    if match is None:
        return "damaged"
    parts = match.groups()
    times = []
    for hours, minutes, seconds, millis in (parts[:4], parts[4:]):
        if int(minutes) > 59 or int(seconds) > 59:
            return "impossible time"
        times.append(((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + int(millis.ljust(3, "0")))
    if times[1] < times[0]:
        return "the cue ends before it starts"
    return None


def _blocks(lines: list[str], first: int):
    """Yield (1-based line number, lines) per cue: a run of non-blank lines, also cut before
    each timing line after its first lines (with the cue number before it), so that cues
    written without blank lines between them come apart."""
    block: list[str] = []
    start = first
    for index in range(first, len(lines) + 1):
        line = lines[index] if index < len(lines) else ""
        if line.strip():
            if block and len(block) >= 2 and _LOOSE_TIMING.match(line) and not _LOOSE_TIMING.match(block[-1]):
                cut = len(block) - 1 if block[-1].strip().isdigit() else len(block)
                if cut > 0 and any(_LOOSE_TIMING.match(previous) for previous in block[:cut]):
                    yield start + 1, block[:cut]
                    block, start = block[cut:], start + cut
            if not block:
                start = index
            block.append(line)
        elif block:
            yield start + 1, block
            block = []


def _stamp(parts: tuple) -> str:
    hours, minutes, seconds, _ = parts
    return f"{int(hours or 0):02d}:{int(minutes):02d}:{int(seconds):02d}"


def _turns(cues: list[Cue]) -> list[Turn]:
    turns: list[Turn] = []
    speaker: str | None = None
    for cue in cues:
        for cue_speaker, text in _voices(cue):
            speaker = cue_speaker or speaker
            last = turns[-1] if turns else None
            if last and last.speaker == speaker and (speaker or not _SENTENCE_END.search(last.text)):
                last.text = f"{last.text} {text}"
                last.end_time = cue.end or last.end_time
                last.metadata["cues"] += 1
            else:
                turns.append(Turn(text, speaker, cue.start, cue.end, {"line": cue.line, "cues": 1}))
    return turns


def _voices(cue: Cue) -> list[tuple[str | None, str]]:
    """Split a cue into (speaker or None, text) pieces, one per voice it holds."""
    pieces: list[tuple[str | None, list[str]]] = []
    for line in cue.lines:
        voice = _VOICE.match(line)
        text = " ".join(unescape(_TAGS.sub("", line)).split())
        if voice:
            pieces.append((" ".join(voice.group(1).split()) or None, [text]))
        elif pieces:
            pieces[-1][1].append(text)
        else:
            pieces.append((None, [text]))
    voices = [(speaker, " ".join(t for t in texts if t)) for speaker, texts in pieces]
    return [_labelled(speaker, text) for speaker, text in voices if text]


def _labelled(speaker: str | None, text: str) -> tuple[str | None, str]:
    """Take a leading ``Speaker:`` label out of an unvoiced cue's text."""
    turn = DEFAULT_TURN.match(text)
    if speaker or not turn or turn.group("timestamp") or turn.group("time_after"):
        return speaker, text
    return " ".join(turn.group("speaker").split()), text[turn.end():].strip()
