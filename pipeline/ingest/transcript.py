"""Transcripts typed as text: find the speaker turns, the header and what lies between.

A turn starts at a line that :data:`~pipeline.records.TURN_PATTERN` (or a project's own
``[ingest] turn_pattern``) matches and runs to the next one. Recognised forms include::

    Ani: ...                      [00:01:02] Ani: ...        [01:02] Ani: ...
    (00:00:09) N: ...             00.00.28 Bu Warsini : ...  00:00:28 Ani: ...
    P: ... / N: ... / I: ...      [00.01.02] Ani: ...        [00:01 - 00:05] Ani: ...
    00:01 - Ani: ...              Ani (00:05):  (text on the next line)
    **Ani:** ...                  Dr. O'Brien-Smith: ...

A **header** is the run of ``Field: value`` lines before the first turn (``Informan:``,
``Tanggal:``, ``Lokasi:``...): a field counts as header when its name is a usual header
field (date, place, duration...) or when it never speaks again below and its value is
short and ends no sentence. Header fields become document metadata (``header``); their
lines stay in the text, as a paragraph without a speaker, so that nothing is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.records import LABEL_LINE_PATTERNS, TURN_PATTERN, Block

DEFAULT_TURN = re.compile(TURN_PATTERN, re.MULTILINE)
LABEL_LINES = tuple(re.compile(pattern, re.MULTILINE) for pattern in LABEL_LINE_PATTERNS)
DEFAULT_TURNS = (DEFAULT_TURN, *LABEL_LINES)
# Share of the non-empty lines (or of the paragraphs) that must start turns.
TRANSCRIPT_SHARE = 0.6
# Field names that head a transcript but never speak in one.
HEADER_FIELDS = frozenset(
    """tanggal hari waktu jam lokasi tempat durasi judul topik tema kode transkriptor
    pencatat catatan keterangan date day time location place venue duration title topic
    code transcriber notes""".split()
)
HEADER_VALUE_CHARS = 80
_FIELD = re.compile(r"^[ \t]*(?P<key>[A-Z][\w .'/-]{0,30}?)[ \t]*:[ \t]*(?P<value>.*?)[ \t]*$")
_SENTENCE_END = re.compile(r"[.?!…][\"'”’)]*$")
_BLOCK = re.compile(r"\S(?:.*\S)?(?:\n(?!\s*\n).*\S)*")  # text between blank lines


@dataclass
class Transcript:
    """The turns of a text (offsets into it), its header fields, and whether it is one."""

    blocks: list[Block] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)
    is_transcript: bool = False


def compile_turn_pattern(pattern: str | None) -> tuple[re.Pattern, ...]:
    """The turn patterns of a project: its own (``[ingest] turn_pattern``) or the built-in ones.

    A project's pattern must have a ``speaker`` group and may have ``timestamp`` and
    ``end_time`` groups (checked when the configuration is loaded).
    """
    return (re.compile(pattern, re.MULTILINE),) if pattern else DEFAULT_TURNS


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
    lines = [line for line in text.split("\n") if line.strip()]
    starts = len(turns)
    paragraphs = len(_BLOCK.findall(text)) - (1 if header_lines else 0)
    rest = max(len(lines) - len(header_lines), 1)
    result.is_transcript = starts >= 2 and (
        starts >= TRANSCRIPT_SHARE * rest or starts >= TRANSCRIPT_SHARE * max(paragraphs, 1)
    )
    if not result.is_transcript:
        return result
    result.blocks.extend(_paragraphs(text, 0, turns[0].start()))
    line, counted = 1, 0  # line numbers counted as we go: text.count from 0 each time is quadratic
    for match, following in zip(turns, turns[1:] + [None]):
        line += text.count("\n", counted, match.start())
        counted = match.start()
        end = following.start() if following else len(text)
        body = text[match.end():end]
        start = match.end() + len(body) - len(body.lstrip())
        stop = match.end() + len(body.rstrip())
        if stop <= start:
            continue
        groups = match.groupdict()
        result.blocks.append(Block(
            start=start,
            end=stop,
            speaker=" ".join(groups["speaker"].split()),
            timestamp=groups.get("timestamp") or groups.get("time_after"),
            end_time=groups.get("end_time"),
            metadata={"line": line},
        ))
    return result


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

    A header is a run of ``Field: value`` lines on consecutive lines at the top, each a
    usual header field or a quiet one (never speaks below, short value ending no sentence),
    with turns after it; a run of one quiet line is not enough (``A: satu`` is a turn).
    """
    speakers = [" ".join(m["speaker"].split()).casefold() for m in matches]
    run: list[tuple[int, str, str, bool]] = []
    previous_end = None
    for index, match in enumerate(matches):
        line_end = text.find("\n", match.start())
        line_end = len(text) if line_end < 0 else line_end
        found = _FIELD.match(text[match.start():line_end])
        groups = match.groupdict()
        if found is None or groups.get("timestamp") or groups.get("time_after"):
            break
        if previous_end is not None and match.start() != previous_end + 1:
            break  # a header's fields stand on consecutive lines
        key, value = found["key"].strip(), found["value"]
        later = speakers[index + 1:]
        usual = key.casefold() in HEADER_FIELDS
        quiet = (
            key.casefold() not in later
            and len(value) <= HEADER_VALUE_CHARS
            and not _SENTENCE_END.search(value)
        )
        if not later or not (usual or quiet):
            break
        run.append((match.start(), key, value, usual))
        previous_end = line_end
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
