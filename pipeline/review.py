"""Review exports: the sheet analysts fill in (xlsx) and the same table as CSV.

The sheet has a row for every suggestion in force, every decision in force (pre-filled,
so a re-export never loses review work) and every segment still without either (a row
where the analyst can *add* a code). The analyst's columns are ``decision`` (accept /
reject / edit / add), ``corrected_code``, ``corrected_direction``, ``comment`` and
``reviewer``; ``pipeline.decisions`` reads them back. Decisions whose segment's text has
changed since are listed on a sheet of their own, *Stale decisions*.

Nothing from the data becomes a live formula: text that a spreadsheet would read as one
(``= + - @``, tab, CR at the start) is stored as a text cell in the xlsx and prefixed with
``'`` in the CSV (OWASP's advice); the store keeps the original.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from pipeline.codebook import Codebook
from pipeline.outputs import (CELL_LIMIT, FORMULA_START, csv_safe, digest, replacing, safe_text, workbook,
                              write_value, writing)
from pipeline.store import CARRIED
from pipeline.records import DECISIONS, DECISIONS_ID, DIRECTIONS, DIRECTIONS_ID, RESEARCHER, SUGGESTION_COLUMNS

_WIDTHS = {"segment_text": 70, "evidence": 28, "code_label": 28, "document": 30, "suggestion_id": 14,
           "segment_id": 14, "comment": 30, "corrected_code": 18, "corrected_direction": 13, "case": 20,
           "speaker": 14, "factor_type": 20, "direction": 13, "confidence": 10}
_WRAP = {"segment_text", "evidence", "code_label", "comment", "document", "case"}
REVIEW_COLUMNS = ("decision", "corrected_code", "corrected_direction", "comment", "reviewer")
STALE_SHEET = "Stale decisions"
STALE_COLUMNS = ("document", "speaker", "decided_text", "code", "direction", "decision", "reviewer",
                 "decided_at", "comment", "segment_id", "suggestion_id")
EXTRA_ROWS = 500  # dropdowns reach this many rows below the last, for rows the analyst adds


def review_frame(
    store,
    codebook: Codebook,
    document_ids: list[str] | None = None,
    reviewer: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The review table (``SUGGESTION_COLUMNS``) and the stale decisions of these documents.

    ``reviewer``: pre-fill only this reviewer's decisions (a blind sheet for a second
    coder); by default each row shows the latest decision in force, whoever made it.
    The researcher's own turns (``Segment.role``) get no blank row.
    """
    segments = store.segments_frame(document_ids)
    segments = segments[segments["segment_role"] != RESEARCHER]
    decisions = store.decisions_frame(in_force=True, reviewer=reviewer)
    if document_ids is not None:
        decisions = decisions[decisions["document_id"].isin(document_ids)]
    carried_from = set(store.carried_segments())  # stale, but their decisions live on on the edited text
    stale = decisions[decisions["stale"] & ~decisions["segment_id"].isin(carried_from)]
    decided = decisions[~decisions["stale"]].drop_duplicates(["segment_id", "key"], keep="last")
    decided = decided[decided["segment_id"].isin(segments["segment_id"])]
    pending = store.suggestions_frame(document_ids, pending=True, reviewer=reviewer, places=False)
    pending = pending[pending["segment_id"].isin(segments["segment_id"])]
    place = segments.set_index("segment_id")
    decided_rows = pd.DataFrame({
        "segment_id": decided["segment_id"],
        "suggestion_id": decided["suggestion_id"].fillna(""),
        "code": decided["key"],
        "direction": decided["seen_direction"].fillna(decided["direction"]).fillna(""),
        "score": decided["seen_score"],
        "confidence": decided["seen_confidence"].fillna(""),
        "evidence": decided["seen_evidence"].fillna(""),
        "source": [CARRIED if source == CARRIED else "analyst" if pd.isna(seen) else seen  # carried: said so
                   for source, seen in zip(decided["source"], decided["seen_source"])],
        "decision": decided["decision"],
        "corrected_code": [c if d == "add" or c != k else "" for d, c, k in
                           zip(decided["decision"], decided["code"], decided["key"])],
        "corrected_direction": [(v or "") if d == "add" or (v or "") != (s or "") else "" for d, v, s in
                                zip(decided["decision"], decided["direction"], decided["seen_direction"])],
        "comment": decided["comment"],
        "reviewer": decided["reviewer"],
    })
    pending_rows = pending[["segment_id", "suggestion_id", "code", "direction", "score", "confidence",
                            "evidence", "source"]]
    covered = set(decided_rows["segment_id"]) | set(pending_rows["segment_id"])
    blank = pd.DataFrame({"segment_id": [s for s in segments["segment_id"] if s not in covered]})
    frame = pd.concat([decided_rows, pending_rows, blank], ignore_index=True)
    for column in ("document", "metadata", "speaker", "timestamp", "segment_start", "segment_end", "language",
                   "segment_text"):
        frame[column] = frame["segment_id"].map(place[column])
    frame = frame.sort_values(["document", "segment_start", "score", "code"], ascending=[True, True, False, True],
                              na_position="last", kind="stable")
    return _shape(frame, codebook), _stale_frame(stale)


def _shape(frame: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    frame = frame.copy()
    metadata = frame.pop("metadata").map(lambda m: json.loads(m) if isinstance(m, str) else {})
    frame["case"] = [m.get("case", "") for m in metadata]
    frame["code"] = frame["code"].fillna("")
    frame["code_label"] = [
        codebook.codes[c].label_in(lang) if c in codebook.codes else ""
        for c, lang in zip(frame["code"], frame["language"])
    ]
    frame["factor_type"] = [codebook.codes[c].factor_type or "" if c in codebook.codes else "" for c in frame["code"]]
    frame = frame.reindex(columns=list(SUGGESTION_COLUMNS)).astype(object)
    return frame.where(frame.notna(), "").reset_index(drop=True)


def _stale_frame(stale: pd.DataFrame) -> pd.DataFrame:
    out = stale.rename(columns={"segment_text": "decided_text"})
    out = out.assign(suggestion_id=out["suggestion_id"].fillna(""))
    return out.reindex(columns=list(STALE_COLUMNS)).fillna("").reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """UTF-8 with BOM, so Excel opens Indonesian text correctly; no cell can run as a formula.
    Rows end in CRLF, so that a CR inside a cell is quoted like a newline. Written all or
    nothing (``pipeline.outputs.replacing``)."""
    with replacing(path) as (temporary, _), CsvSheet(temporary, list(frame.columns)) as sheet:
        sheet.add(frame)
    return path


class CsvSheet:
    """A review table written to CSV part by part (``add``), as ``write_csv`` writes it whole.
    CSV has one table: ``stale`` decisions are listed in the workbook only."""

    def __init__(self, path: Path, columns: list[str]):
        self.path = path
        self.stale: pd.DataFrame | None = None
        pd.DataFrame(columns=columns).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")

    def add(self, frame: pd.DataFrame) -> None:
        frame.map(csv_safe).to_csv(self.path, mode="a", header=False, index=False, encoding="utf-8",
                                   lineterminator="\r\n")

    def __enter__(self) -> "CsvSheet":
        return self

    def __exit__(self, *exc) -> None:
        pass


def append_rows(sheet, frame: pd.DataFrame) -> None:
    """Append a frame's rows as values, never formulas: text that openpyxl would store as a
    formula (a leading ``=``) goes in as a text cell, shown with Excel's quote prefix."""
    for row in frame.itertuples(index=False):
        sheet.append([_value_cell(sheet, value) for value in row])


def _value_cell(sheet, value: object) -> object:
    value = safe_text(value)
    if isinstance(value, str) and value.startswith("="):
        cell = Cell(sheet, value=value)
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell
    return value


def write_xlsx(frame: pd.DataFrame, path: Path, codebook: Codebook, stale: pd.DataFrame | None = None) -> Path:
    """The review workbook: a frozen, filterable, wrapped suggestions sheet with dropdowns
    for ``decision``, ``corrected_code`` and ``corrected_direction`` on every row, the
    codebook on a second sheet and the stale decisions on a third (see ``XlsxSheet``).
    Written all or nothing (``pipeline.outputs.replacing``)."""
    with replacing(path) as (temporary, _), XlsxSheet(temporary, codebook, list(frame.columns)) as sheet:
        sheet.add(frame)
        sheet.stale = stale
    return path


class XlsxSheet:
    """The review workbook written part by part: ``add`` appends rows, leaving the ``with``
    block adds the dropdowns, filters, the codebook and the ``stale`` decisions.

    Written with XlsxWriter row by row (``constant_memory``): memory stays flat and a sheet
    of 100,000 rows takes seconds, where openpyxl's cell objects took minutes. Every text
    goes in with ``write_string``, so nothing from the data can become a formula or a link.
    """

    def __init__(self, path: Path, codebook: Codebook, columns: list[str]):
        self.path, self.codebook, self.columns = path, codebook, columns
        self.stale: pd.DataFrame | None = None
        self.rows = 0
        self.book = workbook(path)
        self.formats = _Formats(self.book)
        self.sheet = self.book.add_worksheet("Suggestions")
        self.wrap = [column in _WRAP for column in columns]
        for index, column in enumerate(columns):
            self.sheet.set_column(index, index, _WIDTHS.get(column, 11), self.formats.cell(self.wrap[index]))
        _write_header(self.sheet, columns, self.formats)

    def add(self, frame: pd.DataFrame) -> None:
        heights = _row_heights(frame)
        for row, height in zip(frame.itertuples(index=False), heights):
            self.rows += 1
            self.sheet.set_row(self.rows, height)
            _write_row(self.sheet, self.rows, row, self.wrap, self.formats)

    def __enter__(self) -> "XlsxSheet":
        return self

    def __exit__(self, *exc) -> None:
        self._finish()
        # XlsxWriter's workbook and sheets refer to each other: closed, they are garbage that
        # only the cycle collector frees, and it had not run before the report was built on
        # top of them (30 MB at 100,000 rows, 10,000 documents). Freed here (0.2 s).
        self.book = self.sheet = None
        gc.collect()

    def _finish(self) -> None:
        """Dropdowns, filters, print settings, the codebook and stale sheets; close the file."""
        sheet, columns, last = self.sheet, self.columns, max(self.rows, 1)
        codes = self.codebook.codable()
        lists = {
            "decision": (list(DECISIONS + DECISIONS_ID), "Decision", f"Choose one of: {', '.join(DECISIONS + DECISIONS_ID)}"),
            "corrected_code": (f"=Codebook!$A$2:$A${len(codes) + 1}", "Corrected code",
                               "Choose a code from the Codebook sheet"),
            "corrected_direction": (list(DIRECTIONS + DIRECTIONS_ID), "Corrected direction",
                                    f"Choose one of: {', '.join(DIRECTIONS + DIRECTIONS_ID)}"),
        }
        for name, (source, title, message) in lists.items():
            column = columns.index(name)
            sheet.data_validation(1, column, last + EXTRA_ROWS, column, {
                "validate": "list", "source": source, "ignore_blank": True,
                "error_title": title, "error_message": message})
        sheet.freeze_panes(1, 0)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(0)
        sheet.autofilter(0, 0, last, len(columns) - 1)
        _codebook_sheet(self.book, codes, self.formats)
        if self.stale is not None and len(self.stale):
            _stale_sheet(self.book, self.stale, self.formats)
        self.book.close()


class _Formats:
    """The workbook's cell formats: header, top-aligned, wrapped, and each with Excel's
    quote prefix for text that Excel would otherwise read as a formula when edited."""

    def __init__(self, book):
        self.header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "valign": "top"})
        self._cells = {(wrap, quoted): book.add_format({"valign": "top", "text_wrap": wrap, "quote_prefix": quoted})
                       for wrap in (False, True) for quoted in (False, True)}

    def cell(self, wrap: bool, quoted: bool = False):
        return self._cells[(wrap, quoted)]


def _write_header(sheet, columns, formats: _Formats) -> None:
    for index, column in enumerate(columns):
        sheet.write_string(0, index, str(column), formats.header)


def _write_row(sheet, row_index: int, values, wrap: list[bool], formats: _Formats) -> None:
    for column, value in enumerate(values):
        write_value(sheet, row_index, column, value, formats.cell(wrap[column]), formats.cell(wrap[column], True))


def _stale_sheet(book, stale: pd.DataFrame, formats: _Formats) -> None:
    sheet = book.add_worksheet(STALE_SHEET)
    columns = list(stale.columns)
    for index, column in enumerate(columns):
        sheet.set_column(index, index, 60 if column == "decided_text" else 16)
    _write_header(sheet, columns, formats)
    for offset, row in enumerate(stale.itertuples(index=False), start=1):
        _write_row(sheet, offset, row, [column == "decided_text" for column in columns], formats)
    sheet.freeze_panes(1, 0)


def _row_heights(frame: pd.DataFrame, max_lines: int = 12) -> list[float]:
    """Each row's height in points, to show its wrapped text (Excel and LibreOffice do not
    re-measure rows a program wrote); very long segments stay scrollable in the cell."""
    wrapped = [(c, _WIDTHS.get(c, 11)) for c in frame.columns if c in _WRAP]
    heights = []
    for row in frame[[c for c, _ in wrapped]].itertuples(index=False):
        lines = max(
            (sum(max(1, -(-len(part) // int(width * 1.1))) for part in str(value).split("\n"))
             for value, (_, width) in zip(row, wrapped)),
            default=1,
        )
        heights.append(15 * min(lines, max_lines))
    return heights


def _codebook_sheet(book, codes, formats: _Formats) -> None:
    sheet = book.add_worksheet("Codebook")
    header = ["code", "label_id", "label_en", "parent", "factor_type", "definition", "include", "exclude"]
    for index, width in enumerate((18, 30, 30, 12, 24, 60, 40, 40)):
        sheet.set_column(index, index, width)
    _write_header(sheet, header, formats)
    for offset, code in enumerate(codes, start=1):
        _write_row(sheet, offset, [code.id, code.label["id"], code.label["en"], code.parent or "",
                                   code.factor_type or "", code.definition, code.include, code.exclude],
                   [False] * len(header), formats)
    sheet.freeze_panes(1, 0)


def _style_header(sheet, columns) -> None:
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(vertical="top")


def export_suggestions(frame: pd.DataFrame, out_dir: Path, codebook: Codebook, formats: list[str],
                       stale: pd.DataFrame | None = None, name: str = "suggestions") -> list[Path]:
    """Write ``NAME.<fmt>`` for each requested format; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if "csv" in formats:
        written.append(write_csv(frame, out_dir / f"{name}.csv"))
    if "xlsx" in formats:
        written.append(write_xlsx(frame, out_dir / f"{name}.xlsx", codebook, stale))
    return written


@dataclass
class ReviewExport:
    """What ``export_review`` wrote: the files, and the counts ``run.json`` reports."""

    paths: list[Path]
    kept_beside: list[Path] = field(default_factory=list)  # new sheets written beside one saved meanwhile
    rows: int = 0
    prefilled: int = 0
    stale: int = 0
    suggestions_per_document: Counter = field(default_factory=Counter)


def export_review(store, codebook: Codebook, document_ids: list[str], out_dir: Path, formats: list[str],
                  documents_at_once: int = 500,
                  read: dict[str, str | None] | None = None) -> ReviewExport:
    """``export_suggestions(*review_frame(...))`` for a whole corpus, ``documents_at_once``
    documents at a time in the sheet's order (by path), so memory does not grow with the
    corpus; the files are the same.

    Each sheet is written all or nothing (``pipeline.outputs.replacing``). ``read``: the
    digest of each sheet (by file name; ``None``: there was none) as the caller last read
    it; a sheet that changed since is not replaced: the new one goes beside it
    (``suggestions.new.xlsx``), listed in ``kept_beside``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "suggestions.csv", "xlsx": out_dir / "suggestions.xlsx"}
    wanted = [fmt for fmt in ("csv", "xlsx") if fmt in formats]
    columns = list(SUGGESTION_COLUMNS)
    export = ReviewExport([paths[fmt] for fmt in wanted])
    stale_parts = []
    read = read or {}
    with ExitStack() as open_sheets:
        sheets, replaced = [], []
        for fmt in wanted:  # each sheet closes before its file is renamed into place (last in, first out)
            temporary, done = open_sheets.enter_context(replacing(paths[fmt], read.get(paths[fmt].name, False)))
            replaced.append(done)
            sheets.append(open_sheets.enter_context(CsvSheet(temporary, columns) if fmt == "csv"
                                                    else XlsxSheet(temporary, codebook, columns)))
        for part in _in_sheet_order(store, document_ids, documents_at_once):
            frame, stale = review_frame(store, codebook, part)
            for sheet, fmt in zip(sheets, wanted):
                with writing(paths[fmt]):
                    sheet.add(frame)
            stale_parts.append(stale)
            export.rows += len(frame)
            export.prefilled += int((frame["decision"] != "").sum())
            export.suggestions_per_document.update(frame.loc[frame["suggestion_id"] != "", "document"])
        stale = pd.concat(stale_parts, ignore_index=True) if stale_parts else None
        export.stale = 0 if stale is None else len(stale)
        for sheet in sheets:
            sheet.stale = stale  # the workbook lists them on its sheet when it closes
    export.paths = [done.path for done in replaced]
    export.kept_beside = [done.path for done in replaced if done.kept_beside]
    return export


def _in_sheet_order(store, document_ids: list[str], size: int):
    """``document_ids`` in parts of ``size``, in the order of their paths (the sheet's order)."""
    paths = store.document_paths(document_ids)
    ordered = sorted(document_ids, key=lambda d: (paths.get(d, ""), d))
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]


def write_sheet(frame: pd.DataFrame, path: Path, codebook: Codebook, stale: pd.DataFrame | None = None) -> Path:
    """Write a review sheet to ``path``, as xlsx or csv by its suffix."""
    from pipeline.errors import InputError

    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError(path, f"a review sheet is .xlsx or .csv, not {suffix or 'a file without an extension'}")
    return export_suggestions(frame, path.parent, codebook, [suffix[1:]], stale, name=path.stem)[0]


CANDIDATES_SHEET = "Candidate codes"
_CANDIDATE_WIDTHS = {"candidate": 13, "language": 9, "label": 30, "size": 7, "share": 7, "cohesion": 9,
                     "exemplar_1": 55, "exemplar_2": 55, "exemplar_3": 55, "top_terms": 34,
                     "exemplar_sources": 40, "segment_ids": 40}
_CANDIDATE_WRAP = {"label", "exemplar_1", "exemplar_2", "exemplar_3", "top_terms", "exemplar_sources"}


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
    with replacing(out_dir / "candidates.xlsx") as (temporary, _):
        book.save(temporary)
    written.append(out_dir / "candidates.xlsx")
    review = out_dir / "suggestions.xlsx"
    if review.exists():
        try:
            read = digest(review)
            book = load_workbook(review)
        except (OSError, ValueError, KeyError) as exc:
            from pipeline.errors import InputError

            raise InputError(review, f"cannot add the candidate sheet: {exc}") from None
        if CANDIDATES_SHEET in book.sheetnames:
            book.remove(book[CANDIDATES_SHEET])
        _candidate_sheet(book, frame)
        with replacing(review, read) as (temporary, done):  # a sheet saved meanwhile is not overwritten
            book.save(temporary)
        written.append(done.path)
    return written


def _candidate_sheet(book: Workbook, frame: pd.DataFrame):
    """The candidates as a readable sheet: frozen header, filters, wrapped exemplars."""
    sheet = book.create_sheet(CANDIDATES_SHEET)
    columns = list(frame.columns)
    sheet.append(columns)
    append_rows(sheet, frame)
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
