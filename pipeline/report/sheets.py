"""The displays as sheets (``displays.xlsx``), for people who prefer spreadsheets.

Each sheet starts with a line saying what it shows (accepted codings, pending
suggestions), then one block per status: its title, a header row and the rows. Every
value, headers included (case and actor names come from the manifest), follows the review
sheet's rules (``pipeline.review.safe_text``; a cell openpyxl would store as a formula is a
text cell): no cell from the data is ever a live formula.

``_Writer`` counts rows itself and writes each cell once, bold headers and wrapped long
text cell by cell; its rule for values is ``pipeline.review.append_rows``'s: a cell openpyxl
would store as a formula becomes a text cell with a quote prefix.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from pipeline.display import DIMENSIONS, Displays
from pipeline.report.labels import Labels
from pipeline.review import safe_text

_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


def write_displays_xlsx(displays: Displays, labels: Labels, path: Path) -> Path:
    book = Workbook()
    book.remove(book.active)
    _sheet(book, labels["sheet_overview"], labels, displays, {"": _overview(displays, labels)})
    _sheet(book, labels["sheet_progress"], labels, None, {"": _labelled(displays.progress, labels, "code")})
    _sheet(book, labels["sheet_factors"], labels, displays,
           {s: _factor_cells(displays.factor_cells[s], labels) for s in displays.statuses})
    for dimension in ("case", "actor"):
        _sheet(book, labels[f"sheet_factors_{dimension}"], labels, displays,
               {s: _flat(displays.factor_by[dimension][s], labels) for s in displays.statuses})
    for dimension in DIMENSIONS:
        _sheet(book, labels[f"sheet_codes_{dimension}"], labels, displays,
               {s: _labelled(displays.code_by[dimension][s], labels, "code") for s in displays.statuses})
    _sheet(book, labels["sheet_cooccurrence"], labels, displays,
           {s: _labelled(displays.cooccurrence[s].rename(columns=labels.code), labels, "code")
            for s in displays.statuses})
    _sheet(book, labels["sheet_direction"], labels, displays,
           {s: _labelled(displays.code_direction[s].rename(columns=labels.direction), labels, "code")
            for s in displays.statuses})
    _sheet(book, labels["sheet_language"], labels, displays,
           {s: _labelled(displays.code_language[s].rename(columns=labels.language), labels, "code")
            for s in displays.statuses})
    _sheet(book, labels["sheet_quotes"], labels, displays,
           {s: _quotes(displays.units[displays.units["status"] == s], labels) for s in displays.statuses})
    book.save(path)
    return path


class _Writer:
    """Appends rows of values to a sheet; never a formula, long text wrapped."""

    def __init__(self, sheet):
        self.sheet, self.row = sheet, 0

    def append(self, values, bold: bool = False) -> None:
        self.row += 1
        for column, value in enumerate(values, start=1):
            if value is None or (isinstance(value, float) and pd.isna(value)):
                continue
            cell = self.sheet.cell(row=self.row, column=column, value=safe_text(value))
            if cell.data_type == "f":
                cell.data_type, cell.quotePrefix = "s", True
            if bold:
                cell.font = _BOLD
            elif isinstance(cell.value, str) and len(cell.value) > 40:
                cell.alignment = _WRAP


def _sheet(book: Workbook, title: str, labels: Labels, displays: Displays | None, blocks: dict[str, pd.DataFrame]) -> None:
    writer = _Writer(book.create_sheet(title[:31]))
    if displays is not None:
        writer.append([f"{labels['shown']}: {labels.source(displays.source)}"], bold=True)
    for status, frame in blocks.items():
        if status:
            writer.append([labels.status(status)], bold=True)
        writer.append([str(c) for c in frame.columns], bold=True)
        for values in frame.itertuples(index=False):
            writer.append(values)
        writer.append([])
    writer.sheet.column_dimensions["A"].width = 34
    for letter in "BCDEFGHIJKLMNOPQRSTUVWXYZ":
        writer.sheet.column_dimensions[letter].width = 14


def _labelled(frame: pd.DataFrame, labels: Labels, key: str) -> pd.DataFrame:
    out = frame.copy()
    out.insert(0, labels[key], [labels.code(c) for c in out.index])
    out.insert(0, "id", list(out.index))
    return out.reset_index(drop=True)


def _flat(frame: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    out = frame.copy()
    out.columns = [f"{value} · {labels.direction(direction)}" for value, direction in out.columns]
    out.insert(0, labels["factor_type"], [labels.factor_type(f) for f in out.index])
    return out.reset_index(drop=True)


def _factor_cells(cells: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    return pd.DataFrame({
        labels["factor_type"]: [labels.factor_type(f) for f in cells["factor_type"]],
        labels["direction"]: [labels.direction(d) for d in cells["direction"]],
        labels["count"]: cells["count"],
        labels["by_case_counts"]: ["; ".join(f"{k}: {v}" for k, v in c.items()) for c in cells["by_case"]],
        labels["codes"]: ["; ".join(f"{labels.code(k)}: {v}" for k, v in c.items()) for c in cells["codes"]],
        labels["quote"]: cells["quote"],
        labels["code"]: [labels.code(c) if c else "" for c in cells["quote_code"]],
        labels["document"]: cells["quote_document"],
        labels["actor"]: cells["quote_actor"],
        labels["speaker"]: cells["quote_speaker"],
        labels["timestamp"]: cells["quote_timestamp"],
        labels["score"]: cells["quote_score"].round(3),
    })


def _overview(displays: Displays, labels: Labels) -> pd.DataFrame:
    overview = displays.overview
    rows = [(labels["documents"], overview["documents"]), (labels["segments"], overview["segments"]),
            (labels["words"], overview["words"]), (labels["cases"], len(overview["cases"])),
            (labels["actors"], len(overview["actors"]))]
    rows += [(f"{labels['languages']}: {labels.language(k)}", v) for k, v in overview["languages"].items()]
    rows += [(labels.status(s), overview["units"].get(s, 0)) for s in displays.statuses]
    rows += [(labels["cases"], "; ".join(overview["cases"]))]
    return pd.DataFrame(rows, columns=["", labels["count"]])


def _quotes(units: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    units = units.sort_values(["code", "document", "segment_id"], kind="stable")
    return pd.DataFrame({
        labels["code"]: [labels.code(c) for c in units["code"]],
        "code_id": units["code"].to_numpy(),
        labels["direction"]: [labels.direction(d) for d in units["direction"]],
        labels["factor_type"]: [labels.factor_type(f) for f in units["factor_type"]],
        labels["text"]: units["text"].to_numpy(),
        labels["evidence"]: units["evidence"].to_numpy(),
        labels["document"]: units["document"].to_numpy(),
        labels["case"]: units["case"].to_numpy(),
        labels["actor"]: units["actor"].to_numpy(),
        labels["role"]: units["role"].to_numpy(),
        labels["speaker"]: units["speaker"].to_numpy(),
        labels["timestamp"]: units["timestamp"].to_numpy(),
        labels["language"]: units["language"].to_numpy(),
        labels["score"]: units["score"].round(3).to_numpy(),
        "segment_id": units["segment_id"].to_numpy(),
    })
