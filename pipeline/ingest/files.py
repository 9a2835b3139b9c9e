"""What may be read at all: regular files inside the corpus folder, within the size limits.

Checked before any reader opens a file, so that no file can stop or swamp the batch:

- only regular files are read: a named pipe (FIFO) would block the run for ever and a
  device (``/dev/zero``) would fill memory;
- a symbolic link is followed only when it stays inside the corpus folder: a link to
  ``/etc/passwd`` must not put that file into the project database;
- a file larger than ``[ingest] max_file_mb`` is refused before it is read, and a document
  whose text is longer than ``[ingest] max_text_mb`` million characters after reading
  (a whole document's segments are processed together, so its length bounds memory);
- a zip-based file (``.docx``, ``.xlsx``) whose parts would expand beyond
  ``[ingest] max_unpacked_mb`` is refused before it is unpacked (a 3 MB ``.docx`` can
  expand to gigabytes).
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputError

MB = 1024 * 1024
ZIP_SUFFIXES = frozenset({".docx", ".xlsx"})
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


@dataclass(frozen=True)
class Limits:
    """Size limits of one run, from the ``[ingest]`` section of the configuration (whose
    defaults live in ``configs/pilah.toml``, not here)."""

    max_file_mb: float
    max_unpacked_mb: float
    max_text_mb: float

    @classmethod
    def from_settings(cls, settings: dict) -> Limits:
        return cls(*(settings[key] for key in ("max_file_mb", "max_unpacked_mb", "max_text_mb")))

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_unpacked_bytes(self) -> int:
        return int(self.max_unpacked_mb * MB)

    @property
    def max_text_chars(self) -> int:
        return int(self.max_text_mb * MB)


def check_file(path: Path, root: Path, limits: Limits) -> None:
    """Refuse ``path`` unless it is a regular file inside ``root`` within the limits.

    Raises
    ------
    InputError
        Naming the problem: a link leading out of the corpus folder, not a regular file
        (FIFO, device, socket, folder), larger than ``max_file_mb``, or (``.docx``,
        ``.xlsx``) expanding beyond ``max_unpacked_mb``.
    """
    path, root = Path(path), Path(root)
    real_root = (root.parent if root.is_file() else root).resolve()
    if path.is_symlink() or path.resolve() != path.absolute():
        target = path.resolve()
        if not target.is_relative_to(real_root):
            raise InputError(
                path,
                f"is a link to {target}, outside the corpus folder: not followed; copy the "
                "file into the corpus folder if it belongs to it",
            )
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    for is_kind, kind in _KINDS:
        if is_kind(info.st_mode):
            raise InputError(path, f"is {kind}, not a regular file: only regular files are read")
    if info.st_size > limits.max_file_bytes:
        raise InputError(
            path,
            f"is {info.st_size / MB:.1f} MB, over the limit of {limits.max_file_mb:g} MB "
            "([ingest] max_file_mb): split it, or raise the limit in your config",
        )
    if path.suffix.lower() in ZIP_SUFFIXES:
        check_unpacked_size(path, limits)


def check_unpacked_size(path: Path, limits: Limits) -> None:
    """Refuse a zip-based file whose parts would expand beyond ``max_unpacked_mb``.

    The sizes are those the archive declares; Python's ``zipfile`` never inflates a part
    beyond its declared size, so the declared total bounds what any reader unpacks. A
    file that is not a zip archive is left to its reader to report.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.max_unpacked_bytes:
        raise InputError(
            path,
            f"would expand to {unpacked / MB:,.0f} MB when unpacked, over the limit of "
            f"{limits.max_unpacked_mb:g} MB ([ingest] max_unpacked_mb): refused as a "
            "possible zip bomb; raise the limit if the file is genuine",
        )


def check_workbook(path: Path, limits: Limits) -> None:
    """Refuse an ``.xlsx`` that is no zip archive, or whose parts would expand beyond
    ``max_unpacked_mb`` (:func:`check_unpacked_size`), before a spreadsheet library opens
    it: a review sheet is checked as a corpus file is.

    Raises
    ------
    InputError
        Naming the file and the problem.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(path, f"is not a readable .xlsx workbook (not a zip archive: {exc}); save it again "
                               "from Excel or LibreOffice as .xlsx") from None
    check_unpacked_size(path, limits)


def check_text_size(path: Path, text: str, limits: Limits) -> None:
    """Refuse a document whose text is longer than ``max_text_mb`` million characters."""
    if len(text) > limits.max_text_chars:
        raise InputError(
            path,
            f"holds {len(text) / MB:.1f} million characters of text, over the limit of "
            f"{limits.max_text_mb:g} million ([ingest] max_text_mb): split it into parts "
            "(a long interview is about 0.1 million), or raise the limit",
        )


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """Read a regular file's bytes, never blocking on a pipe and never beyond ``limit``.

    The file is opened without blocking and checked to be regular on the open handle, so
    a file swapped for a FIFO after :func:`check_file` still cannot hang the run.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputError(path, "is not a regular file: only regular files are read")
        data = handle.read() if limit is None else handle.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise InputError(path, f"is larger than {limit / MB:g} MB ([ingest] max_file_mb)")
    return data
