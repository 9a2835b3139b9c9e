"""Labelled tables: segments with the codes an analyst gave them.

A labelled table (CSV or XLSX, header row) has a ``text`` column and a ``codes`` column:
code ids separated by ``;``, each optionally suffixed ``=supporting``, ``=constraining`` or
``=neutral`` (``funding=constraining;training``). Optional columns: ``lang``, ``document``,
``speaker``, ``segment_id``; any other column is kept as metadata. Other names for the text
and codes columns are given with ``text_column`` / ``codes_column`` (``--text-column``,
``--codes-column``). A CSV may be UTF-8 (with or without BOM), UTF-16 with BOM or
Windows-1252, with ``,``, ``;``, tab or ``|`` between columns (see
:func:`pipeline.ingest.tables.load_table`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.tables import load_table
from pipeline.records import DIRECTIONS


def parse_codes(value: object) -> dict[str, str | None]:
    """Parse ``"funding=constraining;training"`` into ``{"funding": "constraining", "training": None}``.

    Raises
    ------
    ValueError
        On an unknown direction or an empty code id.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return {}
    codes: dict[str, str | None] = {}
    for part in str(value).split(";"):
        if not part.strip():
            continue
        code, _, direction = part.partition("=")
        code, direction = code.strip(), direction.strip().lower() or None
        if not code:
            raise ValueError(f"empty code id in {value!r}")
        if direction is not None and direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r} in {value!r}; expected one of {', '.join(DIRECTIONS)}")
        codes[code] = direction
    return codes


def format_codes(codes: dict[str, str | None]) -> str:
    """Inverse of ``parse_codes``."""
    return ";".join(code if direction is None else f"{code}={direction}" for code, direction in codes.items())


def read_table(
    path: str | Path,
    text_column: str = "text",
    codes_column: str | None = None,
) -> pd.DataFrame:
    """Read a CSV or XLSX table as strings, naming the file in any error.

    Parameters
    ----------
    path : str or Path
        The table (delimiter and encoding of a CSV are detected).
    text_column : str
        The column holding the text; it is named ``text`` in the frame returned.
    codes_column : str, optional
        The column holding the codes, named ``codes`` in the frame returned.

    Returns
    -------
    DataFrame
        Every cell a string ('' when empty). When a column was renamed, a column already
        called ``text`` (or ``codes``) is kept as ``text_original`` (``codes_original``),
        and ``frame.attrs["renamed"]`` maps the new names back (see :func:`restore_columns`).

    Raises
    ------
    InputError
        If the file cannot be read as a table, or a named column is missing.
    """
    path = Path(path)
    frame, _ = load_table(path)
    renamed: dict[str, str] = {}
    for canonical, chosen in (("text", text_column), ("codes", codes_column)):
        if chosen is None or chosen == canonical:
            continue
        if chosen not in frame.columns:
            raise InputError(
                path,
                f"no {chosen!r} column (given with --{canonical}-column); found "
                f"{', '.join(map(str, frame.columns)) or 'no columns'}",
            )
        if canonical in frame.columns:
            frame = frame.rename(columns={canonical: f"{canonical}_original"})
            renamed[f"{canonical}_original"] = canonical
        frame = frame.rename(columns={chosen: canonical})
        renamed[canonical] = chosen
    frame.attrs["renamed"] = renamed
    return frame


def restore_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Give the columns :func:`read_table` renamed their names from the file back.

    Examples
    --------
    >>> frame = pd.DataFrame({"text": ["x"], "text_original": ["y"]})
    >>> frame.attrs["renamed"] = {"text": "jawaban", "text_original": "text"}
    >>> list(restore_columns(frame).columns)
    ['jawaban', 'text']
    """
    return frame.rename(columns=frame.attrs.get("renamed", {}))


def missing_column_problem(frame: pd.DataFrame, column: str = "text") -> str | None:
    """The error text for a table without ``column``, naming the option that fixes it."""
    if column in frame.columns:
        return None
    return (
        f"no {column!r} column; found {', '.join(map(str, frame.columns)) or 'no columns'} "
        f"(choose one with --{column}-column NAME)"
    )


def read_labels(
    path: str | Path,
    known_codes: set[str] | None = None,
    require_codes: bool = False,
    text_column: str = "text",
    codes_column: str = "codes",
) -> pd.DataFrame:
    """Read and check a labelled table; every bad row is reported at once.

    ``require_codes``: a table in which no row has a code is an error (there is nothing
    to train on).

    Returns the table with a parsed ``labels`` column (dict code -> direction or None).
    """
    frame = read_table(path, text_column, codes_column)
    missing = [c for c in ("text", "codes") if c not in frame.columns]
    if missing:
        options = " and ".join(f"--{c}-column NAME" for c in missing)
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)} "
            f"(name the columns to use with {options})",
        )
    problems, labels = [], []
    for row, value in enumerate(frame["codes"], start=2):
        try:
            parsed = parse_codes(value)
        except ValueError as exc:
            problems.append(f"row {row}: {exc}")
            parsed = {}
        unknown = sorted(set(parsed) - known_codes) if known_codes is not None else []
        if unknown:
            problems.append(f"row {row}: code(s) not in the codebook: {', '.join(unknown)}")
        labels.append(parsed)
    if require_codes and not any(labels):
        problems.append("no row has a code in the 'codes' column: there is nothing to learn from")
    if problems:
        raise InputError(path, "; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
    frame["labels"] = labels
    return frame
