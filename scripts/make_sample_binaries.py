"""Build the sample corpus's binary documents from their plain-text sources.

    python scripts/make_sample_binaries.py [--sources DIR] [--out DIR]

* ``mou_sister_province.txt`` -> ``mou_sister_province.docx`` (python-docx): the first
  paragraph in the Title style, paragraphs starting "Article N" / "Pasal N" as Heading 2,
  the rest as normal paragraphs.
* ``berita_food_fair.txt`` -> ``berita_food_fair.pdf`` (fpdf2): the first paragraph as a
  bold headline, paragraphs separated by a blank line. Uses DejaVu Sans when the system
  has it, else core Helvetica with characters outside Latin-1 replaced.

Paragraphs in a source are separated by blank lines. The output is deterministic: fixed
dates and metadata, and the .docx zip entries are rewritten with a fixed timestamp.
"""

from __future__ import annotations

import argparse
import io
import re
import unicodedata
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import docx
from fpdf import FPDF

REPO = Path(__file__).resolve().parent.parent
FIXED_DATE = datetime(2024, 11, 1, tzinfo=timezone.utc)
AUTHOR = "Pilah sample corpus"
HEADING = re.compile(r"^(Article|Pasal)\s+\d")
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
# Close Latin-1 stand-ins for what core Helvetica cannot show.
LATIN1_STAND_INS = str.maketrans(
    {"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "•": "*"}
)


def paragraphs(source: Path) -> list[str]:
    """The paragraphs of a text file: blocks separated by blank lines, lines joined."""
    blocks = re.split(r"\n\s*\n", source.read_text(encoding="utf-8").replace("\r\n", "\n"))
    return [" ".join(block.split()) for block in blocks if block.strip()]


def write_docx(source: Path, target: Path) -> None:
    """Write ``source`` as a Word document with a title and "Article"/"Pasal" headings."""
    texts = paragraphs(source)
    document = docx.Document()
    for i, text in enumerate(texts):
        style = "Title" if i == 0 else "Heading 2" if HEADING.match(text) else None
        document.add_paragraph(text, style=style)
    properties = document.core_properties
    properties.title = texts[0] if texts else source.stem
    properties.author = properties.last_modified_by = AUTHOR
    properties.created = properties.modified = FIXED_DATE.replace(tzinfo=None)
    properties.last_printed = FIXED_DATE.replace(tzinfo=None)
    properties.revision = 1
    buffer = io.BytesIO()
    document.save(buffer)
    target.write_bytes(_with_fixed_zip_dates(buffer.getvalue()))


def _with_fixed_zip_dates(package: bytes) -> bytes:
    """Rewrite a zip so that every entry has the same timestamp (python-docx uses now)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as old, zipfile.ZipFile(out, "w") as new:
        for entry in old.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=FIXED_DATE.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            new.writestr(fixed, old.read(entry.filename))
    return out.getvalue()


def write_pdf(source: Path, target: Path) -> None:
    """Write ``source`` as a PDF with a bold headline and blank lines between paragraphs."""
    texts = paragraphs(source)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(texts[0] if texts else source.stem)
    pdf.set_author(AUTHOR)
    pdf.set_creator("scripts/make_sample_binaries.py")
    pdf.set_producer("fpdf2")
    family = _unicode_font(pdf)
    prepare = (lambda text: text) if family else _latin1
    family = family or "Helvetica"
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    for i, text in enumerate(texts):
        size, height = (16, 8) if i == 0 else (11, 6)
        pdf.set_font(family, "B" if i == 0 else "", size)
        pdf.multi_cell(0, height, prepare(text), align="L")
        pdf.ln(height)
    pdf.output(str(target))


def _unicode_font(pdf: FPDF) -> str | None:
    """Register DejaVu Sans (regular and bold) if the system has it; return its name."""
    for folder in map(Path, FONT_DIRS):
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu"
    return None


def _latin1(text: str) -> str:
    """Replace what Latin-1 cannot encode by a close equivalent (or drop its accents)."""
    text = text.translate(LATIN1_STAND_INS)
    if all(ord(char) < 256 for char in text):
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", kept).encode("latin-1", "replace").decode("latin-1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=Path, default=REPO / "scripts" / "sample_sources")
    parser.add_argument("--out", type=Path, default=REPO / "corpus" / "documents")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = (
        (write_docx, "mou_sister_province.txt", "mou_sister_province.docx"),
        (write_pdf, "berita_food_fair.txt", "berita_food_fair.pdf"),
    )
    for write, source, target in jobs:
        write(args.sources / source, args.out / target)
        print(f"wrote {args.out / target}")


if __name__ == "__main__":
    main()
