"""The displays as sheets (``displays.xlsx``), for people who prefer spreadsheets.

Each sheet starts with a line saying what it shows (accepted codings, pending
suggestions), then one block per status: its title, a header row and the rows. Every
value, headers included (case and actor names come from the manifest), follows the review
sheet's rules (``pipeline.review.safe_text``): text is written as text, never a formula or
a link, with Excel's quote prefix where it starts like a formula.

Written with XlsxWriter row by row (``constant_memory``), like the review sheet: the quotes
sheet of a 10,000-document project has 100,000 rows, written ``QUOTES_AT_ONCE`` at a time
with their text read from the store for those rows only (``Displays.texts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from pipeline.display import DIMENSIONS, Displays, with_text
from pipeline.report.labels import Labels
from pipeline.outputs import replacing, workbook, write_value

QUOTES_AT_ONCE = 5_000


def write_displays_xlsx(displays: Displays, labels: Labels, path: Path, conclusions=None) -> Path:
    """Write the displays to ``path``, all or nothing (``pipeline.outputs.replacing``);
    ``conclusions`` (``pipeline.conclude.Conclusions``): their sheets after the others."""
    with replacing(path) as (temporary, _), workbook(temporary) as book:
        _write_sheets(book, displays, labels)
        if conclusions is not None:
            from pipeline.conclude.render import add_sheets

            add_sheets(book, conclusions, labels)
    return path


def _write_sheets(book, displays: Displays, labels: Labels) -> None:
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
           {s: _quotes(displays, s, labels, QUOTES_AT_ONCE) for s in displays.statuses})


class _Writer:
    """Appends rows of values to a sheet: text as text (never a formula), numbers as
    numbers, bold headers, long text wrapped."""

    def __init__(self, book, title: str):
        self.sheet, self.row = book.add_worksheet(title[:31]), -1
        self.sheet.set_column(0, 0, 34)
        self.sheet.set_column(1, 25, 14)
        self.bold = book.add_format({"bold": True})
        self.text = {(wrap, quoted): book.add_format({"text_wrap": wrap, "valign": "top" if wrap else "bottom",
                                                      "quote_prefix": quoted})
                     for wrap in (False, True) for quoted in (False, True)}

    def append(self, values, bold: bool = False) -> None:
        self.row += 1
        for column, value in enumerate(values):
            if bold:
                plain = quoted = self.bold
            else:
                wrap = isinstance(value, str) and len(value) > 40
                plain, quoted = self.text[(wrap, False)], self.text[(wrap, True)]
            write_value(self.sheet, self.row, column, value, plain, quoted)


def _sheet(book, title: str, labels: Labels, displays: Displays | None,
           blocks: dict[str, pd.DataFrame | Iterable[pd.DataFrame]]) -> None:
    """One block per status: a frame, or its rows in parts (a header from the first part)."""
    writer = _Writer(book, title)
    if displays is not None:
        writer.append([f"{labels['shown']}: {labels.source(displays.source)}"], bold=True)
    for status, parts in blocks.items():
        if status:
            writer.append([labels.status(status)], bold=True)
        for n, frame in enumerate([parts] if isinstance(parts, pd.DataFrame) else parts):
            if n == 0:
                writer.append([str(c) for c in frame.columns], bold=True)
            for values in frame.itertuples(index=False):
                writer.append(values)
        writer.append([])


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


def _quotes(displays: Displays, status: str, labels: Labels, at_once: int) -> Iterator[pd.DataFrame]:
    """Every unit of ``status`` by code, document and segment, ``at_once`` rows at a time
    (the first part, empty or not, gives the header)."""
    units = displays.units[displays.units["status"] == status]
    units = units.sort_values(["code", "document", "segment_id"], kind="stable")
    for start in range(0, max(len(units), 1), at_once):
        yield _quote_rows(with_text(units.iloc[start:start + at_once], displays.texts), labels)


def _quote_rows(units: pd.DataFrame, labels: Labels) -> pd.DataFrame:
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
