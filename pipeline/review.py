"""Review exports: the sheet analysts fill in (xlsx) and the same table as CSV.

Each row is one suggestion with its segment, code, direction, factor type, score and
evidence, and four empty columns for the analyst: ``decision`` (accept / reject / edit),
``corrected_code``, ``comment`` and ``reviewer``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pipeline.codebook import Codebook
from pipeline.records import DECISIONS, SUGGESTION_COLUMNS

_WIDTHS = {"segment_text": 70, "evidence": 28, "code_label": 28, "document": 30, "suggestion_id": 14,
           "comment": 30, "corrected_code": 18, "case": 20, "speaker": 14, "factor_type": 20, "direction": 13}
_WRAP = {"segment_text", "evidence", "code_label", "comment", "document", "case"}
_REVIEW_COLUMNS = ("decision", "corrected_code", "comment", "reviewer")


def review_frame(suggestions: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Shape stored suggestions into the review table (``SUGGESTION_COLUMNS``)."""
    frame = suggestions.copy()
    metadata = frame.pop("metadata").map(json.loads) if "metadata" in frame else pd.Series(dtype=object)
    frame["case"] = [m.get("case", "") for m in metadata]
    frame["code_label"] = [
        codebook.codes[c].label_in(lang) if c in codebook.codes else ""
        for c, lang in zip(frame["code"], frame["language"])
    ]
    for column in _REVIEW_COLUMNS:
        frame[column] = ""
    return frame.reindex(columns=list(SUGGESTION_COLUMNS)).fillna("")


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """UTF-8 with BOM, so Excel opens Indonesian text correctly."""
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def write_xlsx(frame: pd.DataFrame, path: Path, codebook: Codebook) -> Path:
    """The review workbook: a frozen, filterable, wrapped suggestions sheet with dropdowns
    for ``decision`` and ``corrected_code``, and the codebook on a second sheet."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Suggestions"
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(list(row))
    _style_header(sheet, frame.columns)
    last = max(len(frame) + 1, 2)
    for index, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = _WIDTHS.get(column, 11)
        alignment = Alignment(wrap_text=column in _WRAP, vertical="top")
        for cell in sheet[letter][1:]:
            cell.alignment = alignment
    columns = list(frame.columns)
    _fit_row_heights(sheet, frame)
    decision = DataValidation(type="list", formula1=f'"{",".join(DECISIONS)}"', allow_blank=True)
    decision.error, decision.errorTitle = f"Choose one of: {', '.join(DECISIONS)}", "Decision"
    codes_sheet = _codebook_sheet(book, codebook)
    corrected = DataValidation(type="list", formula1=f"=Codebook!$A$2:$A${codes_sheet.max_row}", allow_blank=True)
    for validation, name in ((decision, "decision"), (corrected, "corrected_code")):
        letter = get_column_letter(columns.index(name) + 1)
        validation.add(f"{letter}2:{letter}{max(last, 1000)}")
        sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last}"
    book.save(path)
    return path


def _fit_row_heights(sheet, frame: pd.DataFrame, max_lines: int = 12) -> None:
    """Set each row's height to show its wrapped text (Excel and LibreOffice do not
    re-measure rows written by openpyxl); very long segments stay scrollable in the cell."""
    wrapped = [(c, _WIDTHS.get(c, 11)) for c in frame.columns if c in _WRAP]
    for offset, row in enumerate(frame[[c for c, _ in wrapped]].itertuples(index=False), start=2):
        lines = max(
            sum(max(1, -(-len(part) // int(width * 1.1))) for part in str(value).split("\n"))
            for value, (_, width) in zip(row, wrapped)
        )
        sheet.row_dimensions[offset].height = 15 * min(lines, max_lines)


def _codebook_sheet(book: Workbook, codebook: Codebook):
    sheet = book.create_sheet("Codebook")
    header = ["code", "label_id", "label_en", "parent", "factor_type", "definition", "include", "exclude"]
    sheet.append(header)
    for code in codebook.codable():
        sheet.append([code.id, code.label["id"], code.label["en"], code.parent or "", code.factor_type or "",
                      code.definition, code.include, code.exclude])
    _style_header(sheet, header)
    for letter, width in zip("ABCDEFGH", (18, 30, 30, 12, 24, 60, 40, 40)):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    return sheet


def _style_header(sheet, columns) -> None:
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(vertical="top")


def export_suggestions(frame: pd.DataFrame, out_dir: Path, codebook: Codebook, formats: list[str]) -> list[Path]:
    """Write ``suggestions.<fmt>`` for each requested format; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if "csv" in formats:
        written.append(write_csv(frame, out_dir / "suggestions.csv"))
    if "xlsx" in formats:
        written.append(write_xlsx(frame, out_dir / "suggestions.xlsx", codebook))
    return written


CANDIDATES_SHEET = "Candidate codes"
_CANDIDATE_WIDTHS = {"candidate": 13, "language": 9, "label": 30, "size": 7, "share": 7, "cohesion": 9,
                     "exemplar_1": 55, "exemplar_2": 55, "exemplar_3": 55, "top_terms": 34,
                     "exemplar_sources": 40, "segment_ids": 40}
_CANDIDATE_WRAP = {"label", "exemplar_1", "exemplar_2", "exemplar_3", "top_terms", "exemplar_sources"}
_CELL_LIMIT = 32_000  # Excel holds at most 32,767 characters in a cell


def export_candidates(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Write ``candidates.csv`` and ``candidates.xlsx`` (sheet *Candidate codes*), and add or
    replace that sheet in ``suggestions.xlsx`` when it exists, leaving its other sheets as they
    are. Returns the paths written."""
    from openpyxl import load_workbook

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [write_csv(frame, out_dir / "candidates.csv")]
    book = Workbook()
    book.remove(book.active)
    _candidate_sheet(book, frame)
    book.save(out_dir / "candidates.xlsx")
    written.append(out_dir / "candidates.xlsx")
    review = out_dir / "suggestions.xlsx"
    if review.exists():
        try:
            book = load_workbook(review)
        except (OSError, ValueError, KeyError) as exc:
            from pipeline.errors import InputError

            raise InputError(review, f"cannot add the candidate sheet: {exc}") from None
        if CANDIDATES_SHEET in book.sheetnames:
            book.remove(book[CANDIDATES_SHEET])
        _candidate_sheet(book, frame)
        book.save(review)
        written.append(review)
    return written


def _candidate_sheet(book: Workbook, frame: pd.DataFrame):
    """The candidates as a readable sheet: frozen header, filters, wrapped exemplars."""
    sheet = book.create_sheet(CANDIDATES_SHEET)
    columns = list(frame.columns)
    sheet.append(columns)
    for row in frame.itertuples(index=False):
        sheet.append([v[:_CELL_LIMIT] if isinstance(v, str) else v for v in row])
    _style_header(sheet, columns)
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = _CANDIDATE_WIDTHS.get(column, 11)
        alignment = Alignment(wrap_text=column in _CANDIDATE_WRAP, vertical="top")
        for cell in sheet[letter][1:]:
            cell.alignment = alignment
    wrapped = [(c, _CANDIDATE_WIDTHS.get(c, 11)) for c in columns if c in _CANDIDATE_WRAP]
    for offset, row in enumerate(frame[[c for c, _ in wrapped]].itertuples(index=False), start=2):
        lines = max((-(-len(str(value)) // int(width * 1.1)) for value, (_, width) in zip(row, wrapped)), default=1)
        sheet.row_dimensions[offset].height = 15 * min(max(lines, 1), 12)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(columns), 1))}{max(len(frame) + 1, 2)}"
    return sheet
