"""HTML pages: the visible text, one paragraph per block element.

Scripts, styles, navigation, the ``<head>`` and other non-text elements are dropped.
Each block element (``p``, ``h1``-``h6``, ``li``, ``blockquote``, ``div``, ...) starts and
ends a paragraph; ``<br>`` is a line break inside one (two in a row end it). A table
gives one paragraph per row, its cells joined by `` | ``, unless its cells hold blocks of
their own (a layout table): then those blocks are read like the rest of the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, CData, NavigableString, Tag

from pipeline.ingest.base import Reading
from pipeline.ingest.text import decode

CELL_SEPARATOR = " | "
DROPPED = (
    "script style nav noscript template head svg math iframe object canvas button select"
).split()
BLOCKS = frozenset(
    """p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd blockquote pre address article aside
    section header footer main figure figcaption details summary table thead tbody tfoot
    tr td th caption hr form fieldset legend body center""".split()
)
_BLOCKS_IN_CELLS = sorted(BLOCKS - {"tr", "td", "th"})
_WHITESPACE = re.compile(r"\s+")
_BLOCK_END = object()  # on the walk's stack: close the paragraph of the block just walked


def read(path: Path, data: bytes) -> Reading:
    """Read the visible text of an ``.html`` / ``.htm`` page.

    Parameters
    ----------
    path : Path
        The HTML file, named in errors.
    data : bytes
        Its content (decoded like every text file; ``<meta charset>`` is not consulted).

    Returns
    -------
    Reading
        The paragraphs, separated by a blank line, and what decoding repaired.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> with TemporaryDirectory() as tmp:
    ...     page = Path(tmp, "a.html")
    ...     _ = page.write_text("<h1>Judul</h1><p>Satu <b>dua</b>.</p><script>x()</script>")
    ...     read(page, page.read_bytes()).text
    'Judul\\n\\nSatu dua.'
    """
    content, warnings = decode(data, path)
    soup = BeautifulSoup(content, "lxml")
    for tag in soup.find_all(DROPPED):
        tag.decompose()
    paragraphs = _Paragraphs()
    paragraphs.walk(soup)
    paragraphs.end()
    return Reading(text="\n\n".join(paragraphs.done), warnings=warnings)


class _Paragraphs:
    """Collects the text of a document tree into paragraphs."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self._parts: list[str] = []

    def walk(self, node: Tag) -> None:
        """Collect the text under ``node``, depth first, with a stack instead of recursion:
        a page nested 100,000 elements deep is read like any other."""
        stack: list = [iter(node.children)]
        while stack:
            top = stack[-1]
            if top is _BLOCK_END:
                stack.pop()
                self.end()
                continue
            child = next(top, None)
            if child is None:
                stack.pop()
            elif isinstance(child, NavigableString):
                if type(child) in (NavigableString, CData):
                    self._parts.append(_WHITESPACE.sub(" ", child))
            elif child.name == "br":
                self._parts.append("\n")
            elif child.name == "tr" and not child.find(_BLOCKS_IN_CELLS):
                self.end()
                cells = (" ".join(cell.get_text(" ").split()) for cell in child(["td", "th"]))
                self._parts = [CELL_SEPARATOR.join(cell for cell in cells if cell)]
                self.end()
            elif child.name in BLOCKS:
                self.end()
                stack += [_BLOCK_END, iter(child.children)]  # the block's paragraph ends after its children
            else:
                stack.append(iter(child.children))

    def end(self) -> None:
        """Close the paragraph being collected, if it holds any text."""
        lines = "".join(self._parts).split("\n")
        text = "\n".join(" ".join(line.split()) for line in lines).strip()
        if text:
            self.done.append(text)
        self._parts = []
