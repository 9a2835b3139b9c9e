"""PDF files: the text layer, read with pypdf, lines joined into paragraphs by vertical gaps.

pypdf's plain extraction gives one line per printed line and loses the space between
paragraphs; its layout mode adds a blank line only where a gap exceeds a whole font
height (which misses the usual 6-8 pt "space after" of Word documents) and pads words
with spaces to keep columns. So this reader records where each extracted line sits on the
page and starts a new paragraph where the step down from the previous line is clearly
larger than both the font size and the document's usual line pitch (so double-spaced
text is not cut at every line). Lines within a paragraph are joined by a space; a jump
upwards (a new column) starts a new paragraph, and so does a new page unless the last
page stopped mid-sentence or the new one starts in lower case. Known limits: in a
text made mostly of one-line paragraphs the paragraph gap looks like the line pitch, and
lines are not de-hyphenated. Pages without a text layer (scans) give no text: run OCR.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pypdf

from pipeline.errors import InputError
from pipeline.ingest.base import Reading

# A step down larger than this many font sizes *and* this many usual line pitches
# starts a new paragraph.
BREAK_FONT_SIZES = 1.75
BREAK_LINE_PITCHES = 1.3
_SENTENCE_END = re.compile(r"[.?!:;…][\"'”’)\]]*$")


@dataclass(frozen=True)
class _Line:
    y: float
    size: float
    text: str


def read(path: Path, data: bytes) -> Reading:
    """Read the text layer of a PDF, paragraphs separated by a blank line.

    Parameters
    ----------
    path : Path
        The PDF file, named in errors.
    data : bytes
        Its content, read once by ingest within the size limits.

    Returns
    -------
    Reading
        Its text, paragraphs separated by blank lines.

    Raises
    ------
    InputError
        If the file is not a readable PDF, is password-protected, or has no text layer.
    """
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(path, "is password-protected; save an unprotected copy")
        pages = [_page_lines(page) for page in reader.pages]
    except InputError:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise InputError(
            path, f"is not a readable PDF ({type(exc).__name__}: {exc})"
        ) from exc
    if not any(pages):
        raise InputError(
            path,
            "has no text layer (a scanned or image-only PDF?); run OCR on it first, "
            "e.g. `ocrmypdf --language ind+eng in.pdf out.pdf`",
        )
    return Reading(text="\n\n".join(_paragraphs(pages, _usual_pitch(pages))))


def _page_lines(page: pypdf.PageObject) -> list[_Line]:
    collector = _LineCollector()
    page.extract_text(visitor_text=collector)
    collector.end_line()
    return collector.lines


class _LineCollector:
    """pypdf text visitor that keeps each extracted line with its height on the page."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self._parts: list[str] = []
        self._y = 0.0
        self._size = 0.0

    def __call__(
        self, text: str, cm: list[float], tm: list[float], font_dict: object, font_size: float
    ) -> None:
        for i, piece in enumerate(text.split("\n")):
            if i:
                self.end_line()
            if piece.strip() and not self._parts:
                self._y, self._size = _position(cm, tm, font_size)
            elif piece.strip():
                self._size = max(self._size, _position(cm, tm, font_size)[1])
            if piece and (self._parts or piece.strip()):
                self._parts.append(piece)

    def end_line(self) -> None:
        text = " ".join("".join(self._parts).split())
        if text:
            self.lines.append(_Line(self._y, self._size, text))
        self._parts = []


def _position(cm: list[float], tm: list[float], font_size: float) -> tuple[float, float]:
    """Return the baseline height on the page and the rendered font size."""
    a = tm[0] * cm[0] + tm[1] * cm[2]
    b = tm[0] * cm[1] + tm[1] * cm[3]
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
    scale = math.sqrt(abs(a * d - b * c)) or 1.0
    return y, abs(font_size) * scale


def _usual_pitch(pages: list[list[_Line]]) -> float:
    """The usual step down from one line to the next, in points (0 when there is none).

    Taken as the lower quartile of all steps: most steps are within a paragraph, and the
    lower quartile stays there even in short texts whose paragraphs have one line or two.
    """
    steps = sorted(
        above.y - below.y
        for lines in pages
        for above, below in zip(lines, lines[1:])
        if above.y - below.y > 0.5 * max(above.size, below.size)
    )
    return steps[len(steps) // 4] if steps else 0.0


def _paragraphs(pages: list[list[_Line]], pitch: float) -> list[str]:
    paragraphs: list[list[str]] = []
    above: _Line | None = None
    for lines in pages:
        for i, line in enumerate(lines):
            if above is None:
                new = True
            elif i == 0:  # first line of a page: a paragraph runs on mid-sentence
                new = bool(_SENTENCE_END.search(above.text)) and not line.text[:1].islower()
            else:
                new = _starts_paragraph(above, line, pitch)
            if new:
                paragraphs.append([])
            paragraphs[-1].append(line.text)
            above = line
    return [" ".join(texts) for texts in paragraphs]


def _starts_paragraph(above: _Line, line: _Line, pitch: float) -> bool:
    size = max(above.size, line.size)
    step = above.y - line.y
    if abs(step) < 0.5 * size:  # the same printed line, extracted in two pieces
        return False
    if step < 0:  # back up the page: a new column or text box
        return True
    return step > max(BREAK_FONT_SIZES * size, BREAK_LINE_PITCHES * pitch)
