"""Collect: read the files of a corpus into :class:`~pipeline.records.Document` records.

One reader per format family turns a file into raw text (:mod:`.text`, :mod:`.docx`,
:mod:`.pdf`, :mod:`.html`, :mod:`.subtitles`, :mod:`.tables`); this module stores it in
one form for all: NFC, ``\\n`` newlines, no trailing spaces, at most one blank line in a
row, no blank lines at either end. Paragraphs and turns are separated by a blank line.

A corpus folder may hold ``manifest.csv``: a ``file`` column (paths relative to the
folder), optionally an ``id`` column (the document's identity in the project, kept when
the file is renamed), and metadata columns (title, case, actor, role, date, language, ...).
Then only listed files are read, each with its row as metadata. A ``gold.csv`` beside it is the
corpus's gold coding (read by ``pilah train``), never a document.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from pipeline.errors import InputError
from pipeline.ingest import docx, html, pdf, subtitles, tables, text
from pipeline.records import Document, Failure

logger = logging.getLogger(__name__)

STAGE = "ingest"
MANIFEST = "manifest.csv"
GOLD = "gold.csv"  # Pilah's gold coding of a corpus (see ``pipeline.train``), not a document
READERS: dict[str, Callable[[Path], str]] = {
    ".txt": text.read,
    ".md": text.read,
    ".docx": docx.read,
    ".pdf": pdf.read,
    ".html": html.read,
    ".htm": html.read,
    ".vtt": subtitles.read,
    ".srt": subtitles.read,
    ".csv": tables.read,
    ".xlsx": tables.read,
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(READERS)
# Formats whose reader always writes speaker turns; the others are checked line by line.
TRANSCRIPT_SUFFIXES = frozenset({".vtt", ".srt", ".csv", ".xlsx"})


def read_document(path: Path, root: Path, metadata: dict | None = None) -> Document:
    """Read one file of a corpus into a Document.

    Parameters
    ----------
    path : Path
        The file; its suffix (any case) chooses the reader.
    root : Path
        The corpus folder; ``Document.path`` is ``path`` relative to it.
    metadata : dict, optional
        Stored with the document as given (e.g. its row of ``manifest.csv``).

    Returns
    -------
    Document
        With ``id`` the manifest's ``id`` for the file or else its relative path,
        ``version`` the SHA-256 of the stored text, and ``layout`` "transcript" for
        subtitles, tables and text whose lines are mostly speaker turns.

    Raises
    ------
    InputError
        Naming the file and the problem: unsupported type, unreadable or damaged file,
        undecodable bytes, no text layer, no text column, or no text at all.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> with TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "a.txt").write_bytes(b"Ani: Halo.\\r\\nBudi: Hai.\\r\\n")
    ...     document = read_document(Path(tmp, "a.txt"), Path(tmp))
    >>> document.path, document.layout, document.text
    ('a.txt', 'transcript', 'Ani: Halo.\\nBudi: Hai.')
    """
    path, root = Path(path), Path(root)
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise InputError(
            path,
            f"unsupported file type '{suffix or path.name}': expected one of "
            f"{', '.join(SUPPORTED_SUFFIXES)}; convert it (e.g. .doc or .odt to .docx)",
        )
    try:
        raw = reader(path)
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from exc
    stored = text.tidy(text.normalise(raw))
    if not stored.strip():
        raise InputError(path, "holds no text")
    is_transcript = suffix in TRANSCRIPT_SUFFIXES or text.is_transcript(stored)
    relative = _relative(path, root)
    return Document(
        id=str((metadata or {}).get("id") or relative),
        path=relative,
        format=suffix[1:],
        layout="transcript" if is_transcript else "paragraphs",
        text=stored,
        metadata=dict(metadata or {}),
    )


def iter_documents(root: Path) -> Iterator[Document | Failure]:
    """Read every document of a corpus, recording each file that fails and going on.

    Parameters
    ----------
    root : Path
        A corpus folder, walked recursively in sorted order, skipping hidden files and
        folders and Office lock files (``~$...``); or a single file.

    Yields
    ------
    Document or Failure
        A Document per file read; a ``Failure(path, "ingest", reason)`` per file that
        could not be read, per file listed in ``manifest.csv`` but missing, and per
        supported file present but not listed. Listed files come in manifest order,
        then the unlisted ones. Files of unsupported types are logged, not yielded.

    Raises
    ------
    InputError
        If ``root`` does not exist, or its ``manifest.csv`` has no ``file`` column.
    """
    root = Path(root)
    if root.is_file():
        yield _attempt(root, root.parent, {})
    elif not root.is_dir():
        raise InputError(root, "no such file or folder")
    elif (root / MANIFEST).is_file():
        yield from _listed_documents(root)
    else:
        for path in _corpus_files(root):
            yield _attempt(path, root, {})


def _attempt(path: Path, root: Path, metadata: dict) -> Document | Failure:
    try:
        return read_document(path, root, metadata)
    except InputError as exc:
        logger.warning("skipped %s", exc)
        return Failure(_relative(path, root), STAGE, exc.problem)
    except Exception as exc:  # one file's surprise must not stop the batch
        logger.exception("unexpected error while reading %s", path)
        return Failure(_relative(path, root), STAGE, f"unexpected {type(exc).__name__}: {exc}")


def _listed_documents(root: Path) -> Iterator[Document | Failure]:
    listed: set[str] = set()
    for name, metadata in _manifest_rows(root / MANIFEST):
        if name in listed:
            yield Failure(name, STAGE, f"listed more than once in {MANIFEST}; first row used")
        elif name.startswith("/") or ".." in PurePosixPath(name).parts:
            yield Failure(name, STAGE, f"{MANIFEST} points outside the corpus folder")
        elif not (root / name).is_file():
            yield Failure(name, STAGE, f"listed in {MANIFEST} but not found")
        else:
            yield _attempt(root / name, root, metadata)
        listed.add(name)
    for path in _corpus_files(root):
        if _relative(path, root) not in listed:
            yield Failure(_relative(path, root), STAGE, f"not listed in {MANIFEST} — skipped")


def _manifest_rows(manifest: Path) -> Iterator[tuple[str, dict]]:
    """Yield (file relative to the corpus folder, metadata) per row of the manifest."""
    content = text.normalise(text.decode(manifest.read_bytes(), manifest))
    rows = csv.DictReader(io.StringIO(content), delimiter=tables.sniff_delimiter(content))
    fields = [name.strip() for name in rows.fieldnames or []]
    rows.fieldnames = fields
    file_column = next((name for name in fields if name.lower() == "file"), None)
    if file_column is None:
        raise InputError(
            manifest,
            f"has no 'file' column (found: {', '.join(fields) or 'nothing'}); add one "
            "holding each document's path relative to the corpus folder",
        )
    for row in rows:
        name = (row.get(file_column) or "").strip().replace("\\", "/")
        if name:
            metadata = {
                key: value.strip()
                for key, value in row.items()
                if key and key != file_column and isinstance(value, str) and value.strip()
            }
            yield PurePosixPath(name).as_posix(), metadata
        elif any(isinstance(value, str) and value.strip() for value in row.values()):
            logger.warning("%s line %d names no file; row ignored", manifest, rows.line_num)


def _corpus_files(root: Path) -> list[Path]:
    """Supported files under ``root``, sorted, without hidden ones, the manifest or the gold coding."""
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not _hidden(name)]
        for name in names:
            path = Path(folder, name)
            if _hidden(name) or path in (root / MANIFEST, root / GOLD):
                continue
            if path.suffix.lower() in READERS:
                found.append(path)
            else:
                logger.warning("skipped %s: unsupported file type", path)
    return sorted(found, key=lambda path: path.relative_to(root).parts)


def _hidden(name: str) -> bool:
    return name.startswith((".", "~$"))


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to the corpus folder, POSIX style."""
    root = root.parent if root.is_file() else root
    for inner, outer in ((path, root), (path.resolve(), root.resolve())):
        try:
            return inner.relative_to(outer).as_posix()
        except ValueError:
            continue
    raise InputError(path, f"is not inside the corpus folder {root}")
