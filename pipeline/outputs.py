"""Files written for people: every export goes through here.

Two rules hold for every file Pilah writes into an output folder (review sheets, the
report, ``displays.xlsx``, ``run.json``, qdpx/qdc, ``pilah suggest`` tables):

- **All or nothing.** A file is written to a temporary file in the same folder, flushed,
  ``fsync``-ed and renamed over the old one (:func:`replacing`). A full disk, a killed
  process or an exception leaves the previous file as it was, never a truncated or empty
  one; the error names the file and what ran out (:class:`~pipeline.errors.OutputError`).
  The file keeps the permissions of the one it replaces; what a killed writer left (a
  hidden ``.NAME.*.tmp``) is removed by the next writer of that file.
- **A sheet an analyst may have saved is never overwritten unseen.** :func:`replacing`
  takes the digest of the file as the caller last read it (``expected``); when the file
  changed since, the new one is kept beside it (``NAME.new.xlsx``) and the caller is told
  (:attr:`Replacement.path`), so that no typed decision is lost.

And one rule for what goes into a cell: text is text. :func:`write_value` is the one way
Pilah writes a value into an xlsx sheet (XlsxWriter): never a formula or a link, Excel's
quote prefix on text that starts like a formula, control characters replaced, cut at
Excel's cell limit with a marker. :func:`write_table_xlsx` writes a plain table with it
(``pilah suggest --out X.xlsx``); the review sheets and ``displays.xlsx`` use it cell by cell.

:func:`writable_text` is the door for strings the store accepts from a sheet, a REFI-QDA
file or a corpus file: without control characters, any exporter can write them.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import logging
import numbers
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import OutputError

log = logging.getLogger(__name__)

# Characters no document needs and neither XML (xlsx, qdpx, the report's SVG) nor a
# spreadsheet can hold: C0 controls but tab and newline, DEL, C1 controls, and the
# non-characters U+FFFE / U+FFFF.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
_LINE_BREAKS = re.compile("\r\n|\r")
# What XML 1.0 (so xlsx) cannot hold at all; a CR can (as ``_x000D_``) and round-trips.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CELL_LIMIT = 32_767  # Excel holds at most this many characters in a cell
STALE_TEMPORARY_SECONDS = 6 * 3600  # a temporary file this old was left by a killed writer
# errno values that mean "the disk (or the user's share of it) is full".
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def writable_text(value: object) -> object:
    """A string as the store keeps what it accepts from outside: CR and CRLF as ``\\n``,
    without control characters (see :data:`CONTROL_CHARACTERS`); other values as given.

    Examples
    --------
    >>> writable_text("Ani\\x07 setuju\\r\\nya")
    'Ani setuju\\nya'
    >>> writable_text(3)
    3
    """
    if not isinstance(value, str):
        return value
    return CONTROL_CHARACTERS.sub("", _LINE_BREAKS.sub("\n", value))


def one_line(value: object) -> object:
    """A name (a reviewer, a coder, a code) as the store keeps it: :func:`writable_text` on
    one line, its runs of white space (tabs and line breaks among them) one space.

    Examples
    --------
    >>> one_line(" Rina\\t\\nS.\\x07 ")
    'Rina S.'
    """
    return " ".join(value.split()) if isinstance(value := writable_text(value), str) else value


def digest(path: Path) -> str | None:
    """The SHA-256 of a file's bytes; ``None`` when there is no such file."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        return None


@dataclass
class Replacement:
    """Where a :func:`replacing` block's file went: ``path`` is the file written (the
    target, or ``NAME.new.SUFFIX`` beside it when the target changed under the writer);
    ``kept_beside`` says which."""

    target: Path
    path: Path | None = None
    kept_beside: bool = False


def beside(path: Path) -> Path:
    """Where a new file goes when ``path`` changed after it was read: ``NAME.new.SUFFIX``."""
    return path.with_name(f"{path.stem}.new{path.suffix}")


@contextmanager
def replacing(path: Path, expected: str | None | bool = False) -> Iterator[tuple[Path, Replacement]]:
    """Write ``path`` all or nothing: yield a temporary path in the same folder to write
    to, then ``fsync`` it and rename it over ``path``.

    Parameters
    ----------
    path : Path
        The file to write.
    expected : str, None or False
        The digest of ``path`` as the caller last read it (``None``: there was no file);
        when ``path`` is no longer that file, the new file goes to :func:`beside` instead,
        with a warning. ``False`` (the default): replace whatever is there.

    Yields
    ------
    (Path, Replacement)
        The temporary path, and where the file went once the block is done.

    Raises
    ------
    OutputError
        Naming the file, when it cannot be written (a full disk says so); the temporary
        file is removed and the old file is left as it was.
    """
    path = Path(path)
    done = Replacement(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
    except OSError as exc:
        raise _output_error(path, exc) from None
    temporary = Path(name)
    try:
        yield temporary, done
        _fsync(temporary)
        os.chmod(temporary, _mode_for(path))  # mkstemp's 0600 would hide an export from the team
        target = path
        if expected is not False and digest(path) != expected:
            target = beside(path)
            done.kept_beside = True
            log.warning("%s changed while Pilah was working: the new file is %s; import the sheet "
                        "(`pilah review import %s`) and run again", path, target, path)
        os.replace(temporary, target)
        done.path = target
        _fsync_folder(path.parent)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        cause = None if isinstance(exc, OutputError) else _os_error(exc)  # another file's error: as it is
        if cause is not None:
            raise _output_error(path, cause) from None
        raise


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Blame ``path`` for an OSError raised within (when several files are written at once,
    each part written under its own file's name)."""
    try:
        yield
    except OutputError:
        raise
    except BaseException as exc:
        cause = _os_error(exc)
        if cause is None:
            raise
        raise _output_error(path, cause) from None


def write_bytes(path: Path, data: bytes, expected: str | None | bool = False) -> Replacement:
    """Write ``data`` to ``path`` all or nothing (see :func:`replacing`)."""
    with replacing(path, expected) as (temporary, done):
        with open(temporary, "wb") as handle:
            handle.write(data)
    return done


def write_text(path: Path, text: str, expected: str | None | bool = False) -> Replacement:
    """Write ``text`` as UTF-8 to ``path`` all or nothing (see :func:`replacing`)."""
    return write_bytes(path, text.encode("utf-8"), expected)


def _remove_stale_temporaries(path: Path) -> None:
    """Remove what a killed writer of ``path`` left (``.NAME.*.tmp``, hidden, older than
    ``STALE_TEMPORARY_SECONDS``: no live writer takes that long); one still being written by
    another command is younger and stays."""
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass


def _mode_for(path: Path) -> int:
    """The permissions of the file replaced, or a new file's (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a platform without folder handles skips it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError ``exc`` is or wraps (XlsxWriter raises ``FileCreateError(OSError)``)."""
    for _ in range(5):
        if isinstance(exc, OSError):
            return exc
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc.__cause__
        if wrapped is None:
            return None
        exc = wrapped
    return None


def _output_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno in _FULL:
        return OutputError(path, f"the disk is full ({exc.strerror or 'no space left on device'}) while writing it; "
                                 "the previous file is kept as it was: free some space and run again")
    return OutputError(path, f"cannot be written: {exc.strerror or exc}; the previous file is kept as it was")


# -- cells ------------------------------------------------------------------------------
def safe_text(value: object) -> object:
    """A value as a spreadsheet may hold it: control characters replaced by U+FFFD (xlsx
    cannot store them) and at most ``CELL_LIMIT`` characters, cut with a marker that says so."""
    if not isinstance(value, str):
        return value
    value = _NOT_IN_XML.sub("\ufffd", value)
    if len(value) > CELL_LIMIT:
        marker = f" … [cut: {len(value):,} characters in all; the whole text is in suggestions.csv and the project]"
        value = value[: CELL_LIMIT - len(marker)] + marker
    return value


def csv_safe(value: object) -> object:
    """Prefix text a spreadsheet would run as a formula with ``'`` (CSV has no cell types)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False}


def workbook(path: Path):
    """An XlsxWriter workbook that never turns a string into a formula, a link or a number."""
    import xlsxwriter

    return xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)


def write_value(sheet, row: int, column: int, value: object, plain, quoted) -> None:
    """Write one value to an XlsxWriter sheet as Pilah's workbooks hold values: text as text
    (``safe_text``; never a formula or a link), in the ``quoted`` format (with Excel's quote
    prefix) where it starts like a formula; numbers as numbers; nothing for an empty value
    (the column's format applies)."""
    value = safe_text(value)
    if value is None or (isinstance(value, float) and value != value) or _is_na(value):
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value, plain)
    elif isinstance(value, numbers.Number):
        sheet.write_number(row, column, value, plain)
    elif text := str(value):
        sheet.write_string(row, column, text, quoted if text.startswith(FORMULA_START) else plain)


def _is_na(value: object) -> bool:
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover
        return False


def write_table_xlsx(frame, path: Path, sheet_name: str = "Sheet1") -> Replacement:
    """A table (a DataFrame) as one xlsx sheet, header in bold, every value through
    :func:`write_value`; written all or nothing."""
    with replacing(path) as (temporary, done):
        book = workbook(temporary)
        sheet = book.add_worksheet(sheet_name[:31])
        bold = book.add_format({"bold": True})
        plain, quoted = book.add_format({}), book.add_format({"quote_prefix": True})
        for column, name in enumerate(frame.columns):
            write_value(sheet, 0, column, str(name), bold, bold)
        for row, values in enumerate(frame.itertuples(index=False), start=1):
            for column, value in enumerate(values):
                write_value(sheet, row, column, value, plain, quoted)
        book.close()
    return done


def write_table(frame, path: Path) -> Replacement:
    """A table as ``.xlsx`` (:func:`write_table_xlsx`) or ``.csv`` (UTF-8 with BOM, each
    formula-like cell prefixed with ``'``), by the suffix; written all or nothing.

    Raises
    ------
    OutputError
        When the suffix is neither, or the file cannot be written.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".xlsx":
        return write_table_xlsx(frame, path)
    if suffix != ".csv":
        raise OutputError(path, f"expected a .csv or .xlsx output file, found {suffix or 'no extension'}")
    with replacing(path) as (temporary, done):
        frame.map(csv_safe).to_csv(temporary, index=False, encoding="utf-8-sig")
    return done
