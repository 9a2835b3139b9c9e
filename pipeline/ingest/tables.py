"""Survey answers in ``.csv`` and ``.xlsx`` tables: one answer per row, as speaker turns.

The first row holds the column names. The answer is in the first column named (in any
case) ``text, answer, jawaban, response, respons, comment, komentar``, else in the text
column with the longest answers on average. The speaker is in the first column named
``speaker, respondent, responden, name, nama, participant, id``; without one, a row is
labelled ``R01``, ``R02``... by its position among the data rows (so is a row whose
speaker cell is empty), and a speaker that is only a number gets the column's name in
front (``Responden 7``). Each non-empty answer becomes one turn (newlines inside it become
spaces) carrying its row number and the row's other cells as metadata. Only the first
sheet of a workbook is read.

:func:`load_table` is the one table loader of Pilah (ingest, labelled tables, ``pilah
suggest``...): a ``.csv`` is decoded like every text file (UTF-8 with or without BOM,
UTF-16 with BOM, Windows-1252) and its delimiter is detected (``,``, ``;`` as Indonesian
Excel writes it, tab, ``|``).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.base import Reading, Turn
from pipeline.ingest.text import CONTROL_CHARACTERS, decode, normalise

TEXT_COLUMNS = ("text", "answer", "jawaban", "response", "respons", "comment", "komentar")
SPEAKER_COLUMNS = ("speaker", "respondent", "responden", "name", "nama", "participant", "id")
DELIMITERS = (",", ";", "\t", "|")


def read(path: Path, data: bytes) -> Reading:
    """Read a ``.csv`` or ``.xlsx`` table of answers as speaker turns.

    Raises
    ------
    InputError
        If the file cannot be read as a table or has no column holding text.
    """
    table, warnings = _load(path, data, strings=False)
    speaker = _named_column(table, SPEAKER_COLUMNS)
    answer = _named_column(table, TEXT_COLUMNS) or _longest_text_column(table, speaker)
    if answer is None:
        raise InputError(
            path,
            f"has no text column: expected one named {', '.join(TEXT_COLUMNS)} (any case) "
            f"or a column of text; found {', '.join(map(str, table.columns)) or 'none'}",
        )
    width = max(2, len(str(len(table))))
    turns = []
    for number, row in enumerate(table.itertuples(index=False), start=1):
        values = dict(zip(table.columns, row))
        text = _cell_text(values[answer])
        if not text:
            continue
        name = _cell_text(values[speaker]) if speaker is not None else ""
        if name.isdigit():
            name = f"{str(speaker).strip()} {name}"
        others = {  # control characters dropped here; ingest drops them from turns, with a warning
            CONTROL_CHARACTERS.sub("", str(column)): CONTROL_CHARACTERS.sub("", _cell_text(value))
            for column, value in values.items()
            if column not in (answer, speaker) and _cell_text(value)
        }
        turns.append(Turn(text, name or f"R{number:0{width}d}", metadata={"row": number + 1, "columns": others}))
    return Reading(turns=turns, warnings=warnings)


def load_table(path: str | Path, data: bytes | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read a ``.csv`` or ``.xlsx`` table with every cell as a string ('' when empty).

    Parameters
    ----------
    path : str or Path
        The table; its suffix says which kind it is.
    data : bytes, optional
        Its content, when already read (ingest reads every file once, within limits).

    Returns
    -------
    table : DataFrame
        Column names stripped of surrounding spaces.
    warnings : list of str
        What decoding repaired or guessed.

    Raises
    ------
    InputError
        If the file is missing, not a table, empty, or damaged.
    """
    return _load(Path(path), data, strings=True)


def sniff_delimiter(text: str) -> str:
    """Guess a CSV file's delimiter from its header line (``,`` when in doubt).

    Delimiters inside quoted column names do not count.

    Examples
    --------
    >>> sniff_delimiter("id;jawaban\\n1;Ya, setuju")
    ';'
    >>> sniff_delimiter('"nama, lengkap"\\tjawaban\\n')
    '\\t'
    """
    header = text.split("\n", 1)[0]
    unquoted = "".join(part for i, part in enumerate(header.split('"')) if i % 2 == 0)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _load(path: Path, data: bytes | None, strings: bool) -> tuple[pd.DataFrame, list[str]]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(path, f"expected a .csv or .xlsx table, found {suffix or 'no extension'}")
    options = {"keep_default_na": False, "na_values": [""]}
    if strings:
        options = {"keep_default_na": False, "dtype": str}
    warnings: list[str] = []
    try:
        if data is None:
            data = path.read_bytes()
        if suffix == ".xlsx":
            table = pd.read_excel(io.BytesIO(data), sheet_name=0, engine="openpyxl", **options)
        else:
            text, warnings = decode(data, path)
            text = normalise(text)
            table = pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text), **options)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except pd.errors.EmptyDataError as exc:
        raise InputError(path, "is empty: expected a header row and answers") from exc
    except Exception as exc:  # openpyxl and pandas raise many kinds on damaged files
        raise InputError(
            path, f"is not a readable table ({type(exc).__name__}: {exc})"
        ) from exc
    table.columns = [str(column).strip() for column in table.columns]
    if strings:
        table = table.fillna("")
    return table, warnings


def _named_column(table: pd.DataFrame, names: tuple[str, ...]) -> object | None:
    columns: dict[str, object] = {}
    for column in table.columns:
        columns.setdefault(str(column).strip().lower(), column)
    return next((columns[name] for name in names if name in columns), None)


def _longest_text_column(table: pd.DataFrame, speaker: object | None) -> object | None:
    lengths = {
        column: table[column].dropna().astype(str).str.len().mean()
        for column in table.columns
        if column != speaker and _holds_text(table[column])
    }
    lengths = {column: length for column, length in lengths.items() if length > 0}
    return max(lengths, key=lengths.__getitem__) if lengths else None


def _holds_text(column: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)


def _cell_text(value: object) -> str:
    """A cell as one line of text: '' for an empty cell, 3 for 3.0, whitespace collapsed."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())
