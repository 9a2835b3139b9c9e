"""Bytes to stored text, shared by every text format; plain ``.txt`` and ``.md`` files.

Decoding tries, in order: a byte-order mark (UTF-8, UTF-16 LE/BE), strict UTF-8, then
Windows-1252 (which also covers Latin-1 text). The stored form of every document is
NFC with ``\\n`` newlines (see :func:`normalise` and :func:`tidy`).
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from pathlib import Path

from pipeline import records
from pipeline.errors import InputError

logger = logging.getLogger(__name__)

# A speaker turn line: optional "[HH:MM:SS]" or "[MM:SS]" stamp, a capitalised speaker
# label of at most 41 characters, a colon, then text. Defined once, in pipeline.records.
TURN_PATTERN = re.compile(records.TURN_PATTERN)
# Share of non-empty lines that must be turns for a text file to count as a transcript.
TRANSCRIPT_SHARE = 0.6

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Line breaks other than \n that str.splitlines() would also split on.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n{3,}")
_NOT_IN_LABEL = re.compile(r"[^\w .'-]+")


def decode(data: bytes, path: str | Path) -> str:
    """Decode the bytes of a text file.

    Parameters
    ----------
    data : bytes
        The file's content.
    path : str or Path
        The file, named in the error if the bytes cannot be decoded.

    Returns
    -------
    str
        The text, without byte-order mark; newlines and Unicode form are left as found.

    Raises
    ------
    InputError
        If the bytes hold NUL characters (a binary file, or UTF-16 without a byte-order
        mark) or are neither UTF-8 nor Windows-1252.

    Examples
    --------
    >>> decode("café".encode("utf-16"), "a.txt")
    'café'
    >>> decode("café".encode("cp1252"), "a.txt")
    'café'
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
            return text
    if b"\x00" in data:
        raise _nul_error(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputError(
            path,
            f"undecodable byte 0x{data[exc.start]:02x} at offset {exc.start}: expected "
            "UTF-8, UTF-16 with a byte-order mark or Windows-1252; save it as UTF-8",
        ) from exc
    logger.info("%s is not UTF-8; read it as Windows-1252", path)
    return text


def _nul_error(path: str | Path) -> InputError:
    return InputError(
        path,
        "contains NUL characters: a binary file, or UTF-16/UTF-32 text without a "
        "byte-order mark; save it as UTF-8",
    )


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


def is_transcript(text: str) -> bool:
    """Tell whether at least 60 % of the non-empty lines are speaker turns.

    Examples
    --------
    >>> is_transcript("[00:01] Ani: Halo.\\n\\nBudi: Hi, apa kabar?")
    True
    >>> is_transcript("Sebuah paragraf biasa.\\n\\nNote: a remark.")
    False
    """
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return False
    turns = sum(1 for line in lines if TURN_PATTERN.match(line))
    return turns >= TRANSCRIPT_SHARE * len(lines)


def speaker_label(name: str, prefix: str = "Speaker") -> str | None:
    """Turn a speaker's name into a label that :data:`TURN_PATTERN` recognises.

    Characters other than letters, digits, spaces and ``.'-_`` become spaces, the label
    is cut to 41 characters and its first letter capitalised; a label that still does
    not start with a capital A-Z gets ``prefix`` in front (``"3"`` -> ``"Speaker 3"``).

    Parameters
    ----------
    name : str
        The name as found (a voice tag, a spreadsheet cell).
    prefix : str
        What to put in front of a label that does not start with a letter.

    Returns
    -------
    str or None
        The label, or None when ``name`` holds nothing usable.

    Examples
    --------
    >>> speaker_label("Dr. Ani (Dinas KUMKM)")
    'Dr. Ani Dinas KUMKM'
    >>> speaker_label("budi"), speaker_label("7", prefix="Responden")
    ('Budi', 'Responden 7')
    """
    label = " ".join(_NOT_IN_LABEL.sub(" ", name).split())[:41].rstrip()
    if not label:
        return None
    label = label[0].upper() + label[1:]
    if not TURN_PATTERN.match(f"{label}: x"):
        label = f"{prefix} {label}"[:41].rstrip()
    return label


def read(path: Path) -> str:
    """Read a ``.txt`` or ``.md`` file as text (Markdown is kept as written)."""
    return decode(path.read_bytes(), path)
