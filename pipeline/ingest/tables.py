"""Survey answers in ``.csv`` and ``.xlsx`` tables: one answer per row, as speaker turns.

The first row holds the column names. The answer is in the first column named (in any
case) ``text, answer, jawaban, response, respons, comment, komentar``, else in the text
column with the longest answers on average. The speaker is in the first column named
``speaker, respondent, responden, name, nama, participant, id``; without one, a row is
labelled ``R01``, ``R02``... by its position among the data rows. Each non-empty answer
becomes a line ``Speaker: answer`` (newlines inside it become spaces), and lines are
separated by a blank line. Only the first sheet of a workbook is read.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.text import decode, speaker_label

TEXT_COLUMNS = ("text", "answer", "jawaban", "response", "respons", "comment", "komentar")
SPEAKER_COLUMNS = ("speaker", "respondent", "responden", "name", "nama", "participant", "id")
DELIMITERS = (",", ";", "\t", "|")


def read(path: Path) -> str:
    """Read a ``.csv`` or ``.xlsx`` table of answers as speaker turns.

    Parameters
    ----------
    path : Path
        The table; a ``.csv`` may use ``,``, ``;``, tab or ``|`` between columns.

    Returns
    -------
    str
        One ``Speaker: answer`` line per non-empty answer, separated by blank lines.

    Raises
    ------
    InputError
        If the file cannot be read as a table or has no column holding text.
    """
    table = _load(path)
    speaker = _named_column(table, SPEAKER_COLUMNS)
    answer = _named_column(table, TEXT_COLUMNS) or _longest_text_column(table, speaker)
    if answer is None:
        raise InputError(
            path,
            f"has no text column: expected one named {', '.join(TEXT_COLUMNS)} (any case) "
            f"or a column of text; found {', '.join(map(str, table.columns)) or 'none'}",
        )
    width = max(2, len(str(len(table))))
    prefix = speaker_label(str(speaker)) if speaker is not None else None
    turns = []
    for number, row in enumerate(table.itertuples(index=False), start=1):
        values = dict(zip(table.columns, row))
        text = _cell_text(values[answer])
        if not text:
            continue
        name = _cell_text(values[speaker]) if speaker is not None else ""
        label = speaker_label(name, prefix or "Speaker") or f"R{number:0{width}d}"
        turns.append(f"{label}: {text}")
    return "\n\n".join(turns)


def sniff_delimiter(text: str) -> str:
    """Guess a CSV file's delimiter from its first line (``,`` when in doubt).

    Examples
    --------
    >>> sniff_delimiter("id;jawaban\\n1;Ya, setuju")
    ';'
    """
    header = text.split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _load(path: Path) -> pd.DataFrame:
    options = {"keep_default_na": False, "na_values": [""]}
    try:
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path, sheet_name=0, engine="openpyxl", **options)
        text = decode(path.read_bytes(), path)
        return pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text), **options)
    except InputError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise InputError(path, "is empty: expected a header row and answers") from exc
    except Exception as exc:  # openpyxl and pandas raise many kinds on damaged files
        raise InputError(
            path, f"is not a readable table ({type(exc).__name__}: {exc})"
        ) from exc


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
