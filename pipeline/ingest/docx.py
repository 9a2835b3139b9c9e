"""Word ``.docx`` files: body paragraphs and tables, in document order.

Every non-empty paragraph (headings and list items included) becomes a paragraph of the
stored text; a table becomes one paragraph per row, its cells joined by `` | ``.
Headers, footers, footnotes, comments and text boxes are not read.
"""

from __future__ import annotations

import io
from pathlib import Path

import docx
from docx.table import Table

from pipeline.errors import InputError
from pipeline.ingest.base import Reading

CELL_SEPARATOR = " | "


def read(path: Path, data: bytes) -> Reading:
    """Read the text of a ``.docx`` file, paragraphs separated by a blank line.

    Parameters
    ----------
    path : Path
        The Word file, named in errors.
    data : bytes
        Its content, read once by ingest within the size limits.

    Returns
    -------
    Reading
        Its text, paragraphs separated by a blank line; empty when it holds no text.

    Raises
    ------
    InputError
        If the file is not a readable ``.docx`` (corrupt, truncated, an old ``.doc``
        renamed, or password-protected).
    """
    try:
        document = docx.Document(io.BytesIO(data))
        paragraphs = [
            text
            for block in document.iter_inner_content()
            for text in (_table_rows(block) if isinstance(block, Table) else [block.text])
        ]
    except Exception as exc:  # a damaged package can fail anywhere inside python-docx
        raise InputError(
            path,
            f"is not a readable .docx file ({type(exc).__name__}: {exc}); open it in "
            "Word or LibreOffice and save it again as .docx",
        ) from exc
    return Reading(text="\n\n".join(text.strip() for text in paragraphs if text.strip()))


def _table_rows(table: Table) -> list[str]:
    rows = []
    for row in table.rows:
        # python-docx repeats a merged cell once per grid column it spans.
        cells = row.cells
        unique = [cell for i, cell in enumerate(cells) if i == 0 or cell is not cells[i - 1]]
        texts = (" ".join(cell.text.split()) for cell in unique)
        rows.append(CELL_SEPARATOR.join(text for text in texts if text))
    return rows
