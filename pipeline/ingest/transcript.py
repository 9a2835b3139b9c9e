"""Transcripts typed as text: find the speaker turns, the header and what lies between.

A turn starts at a line that :data:`~pipeline.records.TURN_PATTERN` (or a project's own
``[ingest] turn_pattern``) matches and runs to the next one. Recognised forms include::

    Ani: ...                      [00:01:02] Ani: ...        [01:02] Ani: ...
    (00:00:09) N: ...             00.00.28 Bu Warsini : ...  00:00:28 Ani: ...
    P: ... / N: ... / I: ...      [00.01.02] Ani: ...        [00:01 - 00:05] Ani: ...
    00:01 - Ani: ...              Ani (00:05):  (text on the next line)
    **Ani:** ...                  Dr. O'Brien-Smith: ...

Chat exports and meeting transcripts are read too (:data:`CHAT_TURNS`)::

    [12/03/24 10.15.02] Pak Budi: ...        WhatsApp on an iPhone (Indonesian settings)
    [12/03/24, 10:15:02 AM] Pak Budi: ...    WhatsApp on an iPhone (English settings)
    12/03/24 10.15 - Pak Budi: ...           WhatsApp on Android (Indonesian settings)
    12/03/24, 10:15 - Pak Budi: ...          WhatsApp on Android (English settings)
    [Pak Budi] 10:15:02 ...                  Zoom's saved live transcript

A message that runs over several lines stays one turn; a WhatsApp system line (``12/03/24
10.14 - Pak Budi menambahkan Ani``) is a paragraph of its own, without a speaker. A time on
a line of its own (``00:05:12``, as Google Meet's transcript writes every few minutes) is a
time mark, not text: the next turn gets its time, and no turn's text runs over it.

A **header** is the run of ``Field: value`` lines at the top, before the first turn
(``Informan:``, ``Hari/Tanggal :``, ``Lokasi:``...), learnt from its place: a field counts
as header when its name is a usual header field (date, place, duration...) or when it never
speaks again below and its value is short and ends no sentence; the run ends at a blank
line, at a line that is no field, or at a field that speaks again (a turn). Header fields
become document metadata (``header``), never speakers; their lines stay in the text, as a
paragraph without a speaker, so that nothing is lost.

A project's own ``[ingest] turn_pattern`` is added to the built-in patterns (and tried first
on each line); with ``[ingest] turn_pattern_replaces = true`` it is the only one.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from pipeline.records import LABEL_LINE_PATTERNS, TIME_PATTERN, TURN_PATTERN, Block

DEFAULT_TURN = re.compile(TURN_PATTERN, re.MULTILINE)
LABEL_LINES = tuple(re.compile(pattern, re.MULTILINE) for pattern in LABEL_LINE_PATTERNS)
_DATE = r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
_CLOCK = r"\d{1,2}[.:]\d{2}(?:[.:]\d{2})?(?:[ \u202f\u00a0]?[AaPp]\.?[Mm]\.?)?"
# Chat and meeting exports (see the module docstring): date and time as one timestamp.
CHAT_TURNS = (
    re.compile(rf"^\u200e?\[(?P<timestamp>{_DATE},?[ \t]+{_CLOCK})\][ \t]*(?P<speaker>[^:\n\[\]]{{1,60}}?)[ \t]*:"
               r"(?:[ \t]+|$)", re.MULTILINE),
    re.compile(rf"^(?P<timestamp>{_DATE},?[ \t]+{_CLOCK})[ \t]+[-–][ \t]+(?P<speaker>[^:\n]{{1,60}}?)[ \t]*:"
               r"(?:[ \t]+|$)", re.MULTILINE),
    re.compile(rf"^\[(?P<speaker>[^\]\n:]{{1,60}})\][ \t]+(?P<timestamp>\d{{1,2}}:\d{{2}}:\d{{2}})(?:[ \t]+|$)",
               re.MULTILINE),
)
# A WhatsApp system line (no speaker): "12/03/24 10.14 - Pak Budi menambahkan Ani".
CHAT_NOTICE = re.compile(rf"^\u200e?\[?(?P<timestamp>{_DATE},?[ \t]+{_CLOCK})\]?[ \t]+(?:[-–][ \t]+)?(?=\S)",
                         re.MULTILINE)
# A time on a line of its own: a time mark of the turns below it (Google Meet).
TIME_MARK = re.compile(rf"^[ \t]*[\[(]?(?P<timestamp>{TIME_PATTERN})[\])]?[ \t]*$", re.MULTILINE)
DEFAULT_TURNS = (*CHAT_TURNS, DEFAULT_TURN, *LABEL_LINES)
# Share of the non-empty lines (or of the paragraphs) that must start turns.
TRANSCRIPT_SHARE = 0.6
# Field names that head a transcript but never speak in one.
HEADER_FIELDS = frozenset(
    """tanggal hari waktu jam lokasi tempat durasi judul topik tema kode transkriptor
    pencatat catatan keterangan date day time location place venue duration title topic
    code transcriber notes""".split()
)
HEADER_VALUE_CHARS = 80
HEADER_MAX_LINES = 40  # a header is a few lines; a longer run of fields is turns
_FIELD = re.compile(r"^[ \t]*(?P<key>[A-Z][\w .'/-]{0,30}?)[ \t]*:[ \t]*(?P<value>.*?)[ \t]*$")
_SENTENCE_END = re.compile(r"[.?!…][\"'”’)]*$")
_BLOCK = re.compile(r"\S(?:.*\S)?(?:\n(?!\s*\n).*\S)*")  # text between blank lines


@dataclass
class Transcript:
    """The turns of a text (offsets into it), its header fields, and whether it is one."""

    blocks: list[Block] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)
    is_transcript: bool = False


def compile_turn_pattern(pattern: str | None, replaces: bool = False) -> tuple[re.Pattern, ...]:
    """The turn patterns of a project: its own (``[ingest] turn_pattern``) first, then the
    built-in ones; only its own with ``replaces`` (``[ingest] turn_pattern_replaces``).

    A project's pattern must have a ``speaker`` group and may have ``timestamp`` and
    ``end_time`` groups (checked when the configuration is loaded).
    """
    if not pattern:
        return DEFAULT_TURNS
    own = re.compile(pattern, re.MULTILINE)
    return (own,) if replaces else (own, *DEFAULT_TURNS)


def turn_patterns(settings: dict) -> tuple[re.Pattern, ...]:
    """The turn patterns the ``[ingest]`` settings ask for (:func:`compile_turn_pattern`)."""
    return compile_turn_pattern(settings.get("turn_pattern"), bool(settings.get("turn_pattern_replaces", False)))


def parse_transcript(text: str, patterns: tuple[re.Pattern, ...] = DEFAULT_TURNS) -> Transcript:
    """Find the turns of ``text`` (already in stored form) and its header.

    Returns
    -------
    Transcript
        ``is_transcript`` when at least two lines start turns and they are at least 60 %
        of the non-empty lines, or of the paragraphs, outside the header. ``blocks`` cover the
        whole text in order: a paragraph per stretch of text before the first turn (the
        header among them), then one block per turn whose text is the words after the
        label. ``header`` maps field names to values as written.

    Examples
    --------
    >>> t = parse_transcript("Informan: Bu Warsini\\nTanggal: 3 Mei 2024\\n\\n"
    ...                      "(00:00:09) P: Apa kabar?\\n00.00.28 Bu Warsini : Baik.")
    >>> t.is_transcript, t.header
    (True, {'Informan': 'Bu Warsini', 'Tanggal': '3 Mei 2024'})
    >>> [(b.speaker, b.timestamp) for b in t.blocks]
    [(None, None), ('P', '00:00:09'), ('Bu Warsini', '00.00.28')]
    """
    matches = _matches(text, patterns)
    header_lines, header = _header(text, matches)
    turns = [m for m in matches if m.start() not in header_lines]
    result = Transcript(header=header)
    if not turns:
        return result
    chat = [m for m in turns if m.re in CHAT_TURNS]
    # time marks, but not in a chat, where a line "10.30" is part of a message
    marks = {} if chat else {m.start(): m for m in TIME_MARK.finditer(text)}
    if chat:  # a chat's system lines are turns without a speaker
        taken = {m.start() for m in turns} | set(header_lines)
        turns = sorted(turns + [m for m in CHAT_NOTICE.finditer(text) if m.start() not in taken],
                       key=lambda m: m.start())
    lines = [line for line in text.split("\n") if line.strip()]
    starts = len(turns)
    paragraphs = len(_BLOCK.findall(text)) - (1 if header_lines else 0)
    rest = max(len(lines) - len(header_lines) - len(marks), 1)
    result.is_transcript = starts >= 2 and (
        starts >= TRANSCRIPT_SHARE * rest or starts >= TRANSCRIPT_SHARE * max(paragraphs, 1)
        or len(chat) >= 2 and _starts_with_turn(text, chat[0], header_lines)
    )
    if not result.is_transcript:
        return result
    result.blocks.extend(_paragraphs(text, 0, min([turns[0].start(), *(m for m in marks if m < turns[0].start())])))
    ends = sorted([m.start() for m in turns] + list(marks) + [len(text)])
    mark_times = sorted((start, m["timestamp"]) for start, m in marks.items())
    turn_starts = [m.start() for m in turns]
    line, counted = 1, 0  # line numbers counted as we go: text.count from 0 each time is quadratic
    for match in turns:
        line += text.count("\n", counted, match.start())
        counted = match.start()
        end = ends[bisect.bisect_right(ends, match.start())]  # the next turn or time mark
        body = text[match.end():end]
        start = match.end() + len(body) - len(body.lstrip())
        stop = match.end() + len(body.rstrip())
        if stop <= start:
            continue
        groups = match.groupdict()
        timestamp = groups.get("timestamp") or groups.get("time_after") or _mark_before(mark_times, match, turn_starts)
        result.blocks.append(Block(
            start=start,
            end=stop,
            speaker=" ".join(groups["speaker"].split()) if groups.get("speaker") else None,
            timestamp=timestamp,
            end_time=groups.get("end_time"),
            metadata={"line": line},
        ))
    return result


def _mark_before(mark_times: list[tuple[int, str]], match: re.Match, turn_starts: list[int]) -> str | None:
    """The time of the time mark right above a turn (with no other turn between them)."""
    index = bisect.bisect_left(mark_times, (match.start(), "")) - 1
    if index < 0:
        return None
    position, time = mark_times[index]
    between = bisect.bisect_left(turn_starts, match.start()) - bisect.bisect_right(turn_starts, position)
    return None if between else time


def _starts_with_turn(text: str, first: re.Match, header_lines: set[int]) -> bool:
    """Whether nothing but a header and blank lines stands before a chat's first message
    (a chat export starts with its messages, or WhatsApp's notice about encryption)."""
    before = [line for line in text[:first.start()].split("\n") if line.strip()]
    return len(before) <= len(header_lines) + 2


def _matches(text: str, patterns: tuple[re.Pattern, ...]) -> list[re.Match]:
    """Turn labels of all patterns in reading order, one per line; a label line must be
    followed by a line of text that is not another label line."""
    found: dict[int, re.Match] = {}
    for pattern in patterns:
        for match in pattern.finditer(text):
            if pattern in LABEL_LINES and not _text_follows(text, match.end()):
                continue
            found.setdefault(match.start(), match)
    return [found[start] for start in sorted(found)]


def _text_follows(text: str, end: int) -> bool:
    following = text[end + 1: text.find("\n", end + 1) if text.find("\n", end + 1) >= 0 else len(text)]
    return bool(following.strip()) and not any(p.match(following) for p in LABEL_LINES)


def _header(text: str, matches: list[re.Match]) -> tuple[set[int], dict[str, str]]:
    """The header before the first real turn: (line starts, {field: value}).

    Learnt from its place: the run of ``Field: value`` lines on consecutive lines at the top
    (after a title, if any), each a usual header field or a quiet one (never speaks below,
    short value ending no sentence), ending at a blank line, at a line that is no field or
    at a turn; turns must follow it. A run of one quiet line is not enough (``A: satu`` is a
    turn); a field line with a time (``[00:01] A: ...``) is a turn.
    """
    by_start = {m.start(): m for m in matches}
    starts = sorted(by_start)
    speakers = [" ".join(by_start[start]["speaker"].split()).casefold() if by_start[start]["speaker"] else ""
                for start in starts]
    run: list[tuple[int, str, str, bool]] = []
    position = 0
    for line in text.split("\n"):
        here, position = position, position + len(line) + 1
        if not line.strip():
            if run:
                break
            continue
        match = by_start.get(here)
        found = _FIELD.match(line)
        if match is not None and (match.groupdict().get("timestamp") or match.groupdict().get("time_after")):
            break  # a timed turn
        if found is None:
            if run or match is not None:
                break
            continue  # a title above the header
        key, value = found["key"].strip(), found["value"]
        later = speakers[bisect.bisect_right(starts, here):]
        usual = key.casefold() in HEADER_FIELDS
        quiet = (
            key.casefold() not in later
            and len(value) <= HEADER_VALUE_CHARS
            and not _SENTENCE_END.search(value)
        )
        if not later or not (usual or quiet) or len(run) >= HEADER_MAX_LINES:
            break
        run.append((here, key, value, usual))
    if not run or (len(run) < 2 and not run[0][3]):
        return set(), {}
    return {start for start, *_ in run}, {key: value for _, key, value, _ in run}


def _paragraphs(text: str, start: int, end: int) -> list[Block]:
    blocks, line, counted = [], 1, 0
    for match in _BLOCK.finditer(text, start, end):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        blocks.append(Block(start=match.start(), end=match.end(), metadata={"line": line}))
    return blocks
