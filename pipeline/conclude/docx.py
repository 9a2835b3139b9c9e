"""``pilah report --format docx``: the conclusion displays as a Word document.

Each display is a real Word table (style "Table Grid", header row repeated on each page)
under a numbered caption in the project's language ("Tabel 1. …" with a SEQ field, so Word's
list of tables and cross-references find it), followed by its guide line. A supervisor can
read it as it is; a student can paste a table into a thesis and keep its numbering.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

from pipeline.conclude.displays import Conclusions
from pipeline.conclude.render import shown, tables
from pipeline.conclude.words import WORDS


def write_docx(conclusions: Conclusions, labels, out: Path, project: str = "") -> Path:
    """Write the displays to ``out`` (all or nothing, ``pipeline.outputs``)."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Pt

    from pipeline.outputs import write_bytes

    w = WORDS[labels.lang]
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    document.styles["Normal"].font.size = Pt(10)
    document.add_heading(w["title"], level=1)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    document.add_paragraph(_clean(f"{w['project']}: {project} · {w['generated']}: {stamp} · "
                                  f"{shown(conclusions, labels.lang)}"))
    for number, table in enumerate(tables(conclusions, labels), start=1):
        _caption(document, w["caption_table"], number, _clean(table.caption))
        grid = document.add_table(rows=1, cols=len(table.header))
        grid.style = "Table Grid"
        for cell, name in zip(grid.rows[0].cells, table.header):
            cell.text = ""
            run = cell.paragraphs[0].add_run(_clean(name))
            run.bold = True
        _repeat_header(grid.rows[0])
        for row in table.rows:
            cells = grid.add_row().cells
            for cell, value in zip(cells, row):
                cell.text = _clean(value)
        if not table.rows:
            cells = grid.add_row().cells
            cells[0].text = w["empty"]
        if table.guide:
            note = document.add_paragraph(_clean(table.guide))
            note.runs[0].italic = True
    buffer = io.BytesIO()
    document.save(buffer)
    write_bytes(Path(out), buffer.getvalue())
    return Path(out)


def _caption(document, word: str, number: int, text: str) -> None:
    """``Tabel N. text`` in Word's Caption style, N a SEQ Table field (shown as ``number``)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    paragraph = document.add_paragraph(style="Caption")
    paragraph.add_run(f"{word} ")
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    code = OxmlElement("w:instrText")
    code.set(qn("xml:space"), "preserve")
    code.text = " SEQ Table \\* ARABIC "
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, code, separate):
        run = paragraph.add_run()
        run._r.append(element)
    paragraph.add_run(str(number))
    closing = paragraph.add_run()
    closing._r.append(end)
    paragraph.add_run(f". {text}")


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def _clean(value: object) -> str:
    """Text Word can hold (no control characters but tab and newline)."""
    from pipeline.outputs import CONTROL_CHARACTERS

    return CONTROL_CHARACTERS.sub("\ufffd", str(value if value is not None else ""))
