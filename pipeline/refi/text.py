"""Source text and selection offsets as other programs write them, brought to Pilah's form.

Pilah stores a document's text as ingest does (NFC, ``\\n`` newlines, no control characters,
lines without trailing spaces, at most one blank line in a row, no blank lines at either end) and counts offsets
in Unicode code points of that text. Other programs count differently, so an imported
selection's offsets are read in the unit that fits its source, then carried through the
same normalisation with a position map:

- ``codepoints``: code points of the text with ``\\r\\n`` as one character (the
  specification; ATLAS.ti; Pilah);
- ``codepoints-crlf``: code points of the text as written, ``\\r\\n`` counting two;
- ``utf16-crlf``: UTF-16 code units of the text as written (NVivo 12 for Windows: measured on
  its sample export, where every one of 303 selections lands on a cell boundary this way
  and on none of the others once the text holds an emoji);
- ``utf16``: UTF-16 code units with ``\\r\\n`` as one.

The unit of a source is the one under which its selections fall on word boundaries most
often (and match the quoted text where a selection's ``name`` quotes it, as ATLAS.ti's do);
a tie goes to the specification's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from pipeline.ingest import text as ingest_text

UNITS = ("codepoints", "codepoints-crlf", "utf16-crlf", "utf16")
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass(frozen=True)
class StoredText:
    """A source's text in Pilah's stored form and the map from the raw text's code points.

    ``starts[i]`` / ``ends[i]``: where raw code point offset ``i`` lands in ``text`` when it
    opens / closes a selection (a removed character moves a start forward, an end back).
    """

    raw: str
    text: str
    starts: np.ndarray
    ends: np.ndarray


def stored_text(raw: str) -> StoredText:
    """``raw`` (BOM already removed) → the text ingest would store, with position maps.

    Examples
    --------
    >>> s = stored_text("A  \\r\\n\\r\\n\\r\\nB\\r\\n")
    >>> s.text, int(s.starts[9]), int(s.ends[10])
    ('A\\n\\nB', 3, 4)
    """
    n = len(raw)
    # 1. line breaks → "\n" (a "\r\n" loses its "\r"); NFC by runs of a character and its
    #    combining marks where the text is not NFC already
    first = np.arange(n + 1, dtype=np.int64)
    last = np.arange(n + 1, dtype=np.int64)
    crlf = [m.start() for m in re.finditer("\r\n", raw)]
    out = _LINE_BREAKS.sub("\n", raw)
    if crlf:
        keep = np.ones(n, dtype=bool)
        keep[crlf] = False
        before = np.concatenate([[0], np.cumsum(keep)])
        first, last = before.copy(), before.copy()
        last[np.array(crlf) + 1] = before[crlf]  # an end inside "\r\n" stays before it
    if not unicodedata.is_normalized("NFC", out):
        out, nfc_first, nfc_last = _nfc(out)
        first, last = nfc_first[first], nfc_last[last]
    # 2. control characters ingest removes, then what its tidy removes: only deletions, so a
    #    kept-character count maps both ways
    controls = [m.start() for m in ingest_text.CONTROL_CHARACTERS.finditer(out)]
    if controls:
        keep = np.ones(len(out), dtype=bool)
        keep[controls] = False
        before = np.concatenate([[0], np.cumsum(keep)])
        first, last = before[first], before[last]
        out = ingest_text.CONTROL_CHARACTERS.sub("", out)
    keep = _tidy_keep(out)
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    codes = np.frombuffer(out.encode("utf-32-le"), dtype=np.uint32)
    text = codes[keep].tobytes().decode("utf-32-le")
    expected = ingest_text.tidy(ingest_text.strip_controls(ingest_text.normalise(raw))[0])
    if text != expected:  # a normalisation corner the maps do not follow: keep ingest's text exactly
        text = expected
    return StoredText(raw, text, kept_before[first], kept_before[last])


def _nfc(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    """NFC by runs of a character and its combining marks, with start and end maps."""
    n = len(text)
    first = np.zeros(n + 1, dtype=np.int64)
    last = np.zeros(n + 1, dtype=np.int64)
    parts, position, i = [], 0, 0
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        chunk = unicodedata.normalize("NFC", text[i:j])
        first[i:j] = position
        last[i + 1:j + 1] = position + len(chunk)
        position += len(chunk)
        parts.append(chunk)
        i = j
    first[n] = position
    return "".join(parts), first, last


_SPACES: np.ndarray | None = None


def _tidy_keep(text: str) -> np.ndarray:
    """Which characters ``ingest.text.tidy`` keeps: trailing spaces of lines go, runs of
    three or more newlines keep two, newlines at either end go."""
    global _SPACES
    if _SPACES is None:
        _SPACES = np.array([c for c in range(0x3001) if chr(c).isspace() and c != 10], dtype=np.uint32)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    n = len(codes)
    newline = codes == 10
    space = np.isin(codes, _SPACES)
    # a space goes when only spaces stand between it and the end of its line
    anchor = ~space
    following = np.where(anchor, np.arange(n), n)
    following = np.minimum.accumulate(following[::-1])[::-1]
    ends_line = np.ones(n, dtype=bool)
    inside = following < n
    ends_line[inside] = newline[following[inside]]
    keep = ~(space & ends_line)
    # among what is left: a run of newlines keeps two; none at either end
    kept = np.flatnonzero(keep)
    nl = newline[kept]
    if len(kept):
        run_start = nl & ~np.concatenate([[False], nl[:-1]])
        run_id = np.cumsum(run_start)
        start_index = np.flatnonzero(run_start)
        if len(start_index):
            position = np.arange(len(kept)) - start_index[np.maximum(run_id - 1, 0)]
            keep[kept[nl & (run_id > 0) & (position >= 2)]] = False
        kept = np.flatnonzero(keep)
        nl = newline[kept]
        text_at = np.flatnonzero(~nl)
        if len(text_at):
            keep[kept[: text_at[0]]] = False
            keep[kept[text_at[-1] + 1:]] = False
        else:
            keep[kept] = False
    return keep


def unit_offsets(raw: str, unit: str) -> np.ndarray:
    """``offsets[k]`` = the raw code point offset whose position in ``unit`` is ``k``; -1
    where no code point boundary falls (inside a surrogate pair or a ``\\r\\n``)."""
    if unit == "codepoints-crlf":
        return np.arange(len(raw) + 1)
    sizes = np.ones(len(raw), dtype=np.int64)
    if unit.startswith("utf16"):
        sizes += np.fromiter((ord(ch) > 0xFFFF for ch in raw), dtype=np.int64, count=len(raw))
    if not unit.endswith("crlf"):
        crlf = np.fromiter((raw[i] == "\r" and raw[i + 1:i + 2] == "\n" for i in range(len(raw))),
                           dtype=bool, count=len(raw))
        sizes[crlf] = 0
    position = np.concatenate([[0], np.cumsum(sizes)])
    offsets = np.full(int(position[-1]) + 1, -1, dtype=np.int64)
    offsets[position[::-1]] = np.arange(len(raw), -1, -1)  # the first code point at a position wins
    return offsets


def choose_unit(raw: str, selections: list[tuple[int, int, str]]) -> str:
    """The unit in which ``selections`` (``start, end, name``) fit ``raw`` best (see the module)."""
    if "\r" not in raw and all(ord(ch) <= 0xFFFF for ch in raw):
        return UNITS[0]
    best, best_score = UNITS[0], None
    for unit in UNITS:
        offsets = unit_offsets(raw, unit)
        score = 0.0
        for start, end, name in selections:
            if not (0 <= start <= end < len(offsets)) or offsets[start] < 0 or offsets[end] < 0:
                score -= 2
                continue
            a, b = int(offsets[start]), int(offsets[end])
            score += _boundary(raw, a) + _boundary(raw, b)
            quoted = name.rstrip("…. ").strip()
            if len(quoted) > 3 and " ".join(raw[a:b].split()).startswith(" ".join(quoted.split())[:40]):
                score += 4
        if best_score is None or score > best_score:
            best, best_score = unit, score
    return best


def _boundary(raw: str, i: int) -> float:
    if i <= 0 or i >= len(raw):
        return 1.0
    return 0.0 if raw[i - 1].isalnum() and raw[i].isalnum() else 1.0


def docx_text(document_xml) -> str:
    """The text of a ``word/document.xml`` as NVivo writes its plain-text twin: each
    paragraph a line, each table cell's paragraphs lines of their own, in reading order,
    lines ended by ``\r\n`` as Windows tools write them (so that positions counted with
    ``\r\n`` as one character or as two can both be read; the stored text has ``\n``)."""
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    lines: list[str] = []
    body = document_xml.getroot().find(f"{ns}body")
    if body is None:
        return ""
    for paragraph in body.iter(f"{ns}p"):
        parts = []
        nodes = (node for run in paragraph.iter(f"{ns}r") for node in run)  # not the tab stops of w:pPr
        for node in nodes:
            if node.tag == f"{ns}t":
                parts.append(node.text or "")
            elif node.tag == f"{ns}tab":
                parts.append("\t")
            elif node.tag in (f"{ns}br", f"{ns}cr"):
                parts.append("\n")
        lines.append("".join(parts))
    return "\r\n".join(lines)
