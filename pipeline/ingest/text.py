"""Bytes to stored text, shared by every text format; plain ``.txt`` and ``.md`` files.

Decoding tries, in order: a byte-order mark (UTF-8, UTF-16 LE/BE), strict UTF-8, UTF-8
with a few bad bytes replaced by U+FFFD (when the file holds valid multi-byte UTF-8, so
that two stray bytes never turn the whole text into Windows-1252 mojibake; a warning
names them), then Windows-1252 (which also covers Latin-1 text). Bytes that look like
binary data (many control bytes, or mostly high bytes that are not UTF-8) are refused.
The stored form of every document is NFC with ``\\n`` newlines and no control characters
(see :func:`normalise`, :func:`strip_controls` and :func:`tidy`).
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.base import Reading
from pipeline.outputs import CONTROL_CHARACTERS

logger = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Line breaks other than \n that str.splitlines() would also split on.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n{3,}")
# Characters no document needs and spreadsheets refuse (openpyxl raises on C0 controls):
# C0 controls but tab and newline (a DOS end-of-file Ctrl-Z among them), DEL, C1 controls,
# and the non-characters U+FFFE / U+FFFF. Removed at ingest, before offsets are counted;
# defined once, with what every other door of the store cleans (pipeline.outputs).
# Control bytes (not tab, newline, carriage return, form feed, Ctrl-Z or ESC): text has
# almost none, binary data plenty.
_CONTROL_BYTES = bytes(set(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1A, 0x1B}) + b"\x7f"
_KEEP_BYTES = bytes(set(range(256)) - set(_CONTROL_BYTES))
_HIGH_BYTES = bytes(range(0x80, 0x100))
BINARY_CONTROL_SHARE = 0.005  # of the bytes, and at least 8 of them
BINARY_HIGH_SHARE = 0.3  # of the bytes, in data that holds no valid multi-byte UTF-8
# UTF-8 with bad bytes: replaced while they are few; more, and the file mixes encodings.
MAX_BAD_UTF8 = 16


def decode(data: bytes, path: str | Path) -> tuple[str, list[str]]:
    """Decode the bytes of a text file.

    Parameters
    ----------
    data : bytes
        The file's content.
    path : str or Path
        The file, named in the error if the bytes cannot be decoded.

    Returns
    -------
    text : str
        The text, without byte-order mark; newlines and Unicode form are left as found.
    warnings : list of str
        What was repaired (bad UTF-8 bytes replaced) or guessed (Windows-1252).

    Raises
    ------
    InputError
        If the bytes hold NUL characters (a binary file, or UTF-16 without a byte-order
        mark), look like binary data, mix UTF-8 with many bytes of another encoding, or
        are neither UTF-8 nor Windows-1252.

    Examples
    --------
    >>> decode("café".encode("utf-16"), "a.txt")
    ('café', [])
    >>> decode("café".encode("cp1252"), "a.txt")[0]
    'café'
    >>> decode("kafé ".encode() + b"\\x92 ok", "a.txt")[0]
    'kafé \\ufffd ok'
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(
                    path,
                    f"starts with a {encoding.upper()} byte-order mark but byte "
                    f"{exc.start + len(bom)} is not valid {encoding.upper()}; "
                    "save the file again as UTF-8",
                ) from exc
            if "\x00" in text:
                raise _nul_error(path)
            return text, []
    if b"\x00" in data:
        raise _nul_error(path)
    controls = len(data.translate(None, _KEEP_BYTES))
    if controls >= 8 and controls > BINARY_CONTROL_SHARE * len(data):
        raise _binary_error(path, f"{controls:,} control bytes in {len(data):,}")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    multibyte = sum(1 for char in text if char > "\x7f") - bad
    if multibyte > 0:
        if bad > MAX_BAD_UTF8 and bad > multibyte:
            raise InputError(
                path,
                f"mixes UTF-8 ({multibyte:,} characters) with {bad:,} bytes of another "
                "encoding; save the whole file again as UTF-8",
            )
        where = [index for index, char in enumerate(text) if char == "\ufffd"][:5]
        more = ", ..." if bad > len(where) else ""
        warning = (
            f"{bad} byte(s) not valid UTF-8, replaced by U+FFFD at character(s) "
            f"{', '.join(map(str, where))}{more}; the rest read as UTF-8"
        )
        logger.warning("%s: %s", path, warning)
        return text, [warning]
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    if high > BINARY_HIGH_SHARE * len(data):
        raise _binary_error(path, f"{high:,} of {len(data):,} bytes above 0x7F, none of them UTF-8")
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputError(
            path,
            f"undecodable byte 0x{data[exc.start]:02x} at offset {exc.start}: expected "
            "UTF-8, UTF-16 with a byte-order mark or Windows-1252; save it as UTF-8",
        ) from exc
    logger.info("%s is not UTF-8; read it as Windows-1252", path)
    return text, ["not UTF-8: read as Windows-1252"]


def _nul_error(path: str | Path) -> InputError:
    return InputError(
        path,
        "contains NUL characters: a binary file, or UTF-16/UTF-32 text without a "
        "byte-order mark; save it as UTF-8",
    )


def _binary_error(path: str | Path, evidence: str) -> InputError:
    return InputError(
        path,
        f"looks like binary data, not text ({evidence}); check that it is the file you "
        "meant, or export it as UTF-8 text",
    )


def strip_controls(text: str) -> tuple[str, list[str]]:
    """Remove control characters (see :data:`CONTROL_CHARACTERS`), saying how many.

    Examples
    --------
    >>> strip_controls("Akhir.\\x1a")
    ('Akhir.', ['removed 1 control character(s) (U+001A first, at character 6)'])
    """
    first = CONTROL_CHARACTERS.search(text)
    if first is None:
        return text, []
    cleaned, count = CONTROL_CHARACTERS.subn("", text)
    return cleaned, [
        f"removed {count} control character(s) (U+{ord(first.group()):04X} first, "
        f"at character {first.start()})"
    ]


def normalise(text: str) -> str:
    """Return ``text`` in Unicode NFC with every line break turned into ``\\n``.

    Examples
    --------
    >>> normalise("cafe\\u0301\\r\\nok\\r")
    'café\\nok\\n'
    """
    return unicodedata.normalize("NFC", _LINE_BREAKS.sub("\n", text))


def tidy(text: str) -> str:
    """Strip trailing spaces of lines, keep at most one blank line in a row, trim the ends.

    Examples
    --------
    >>> tidy("\\n\\nA  \\n\\n\\n\\nB\\t\\n\\n")
    'A\\n\\nB'
    """
    lines = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", lines).strip("\n")


def read(path: Path, data: bytes) -> Reading:
    """Read a ``.txt`` or ``.md`` file as text (Markdown is kept as written)."""
    text, warnings = decode(data, path)
    return Reading(text=text, warnings=warnings)
