"""Labelled tables: segments with the codes an analyst gave them.

A labelled table (CSV or XLSX, header row) has a ``text`` column and a ``codes`` column:
code ids separated by ``;``, each optionally suffixed ``=supporting``, ``=constraining`` or
``=neutral`` (``funding=constraining;training``). Optional columns: ``lang``, ``document``,
``speaker``, ``segment_id``; any other column is kept as metadata.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
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


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or XLSX table as strings, naming the file in any error."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".xlsx":
            frame = pd.read_excel(path, dtype=str)
        elif path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        else:
            raise InputError(path, f"expected a .csv or .xlsx table, found {path.suffix or 'no extension'}")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(path, f"cannot read the table: {exc}") from None
    return frame.fillna("")


def read_labels(path: str | Path, known_codes: set[str] | None = None, require_codes: bool = False) -> pd.DataFrame:
    """Read and check a labelled table; every bad row is reported at once.

    ``require_codes``: a table in which no row has a code is an error (there is nothing
    to train on).

    Returns the table with a parsed ``labels`` column (dict code -> direction or None).
    """
    frame = read_table(path)
    missing = [c for c in ("text", "codes") if c not in frame.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}")
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
