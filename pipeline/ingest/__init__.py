"""Collect: read the files of a corpus into :class:`~pipeline.records.Document` records.

One reader per format family (:mod:`.text`, :mod:`.docx`, :mod:`.pdf`, :mod:`.html`,
:mod:`.subtitles`, :mod:`.tables`) returns either free text or the turns it found
(:class:`~pipeline.ingest.base.Reading`); this module stores both in one form: NFC,
``\\n`` newlines, no control characters, no trailing spaces, at most one blank line in
a row, no blank lines at either end. Free text that is mostly speaker turns is read as a
transcript (:mod:`.transcript`); the turns of every transcript, with their speaker,
times and offsets, travel with the document as ``blocks``, so the segmenter never parses
text back. Stored subtitle and table turns read ``[HH:MM:SS] Speaker: text``, one per
paragraph.

Before any reader opens a file, :mod:`.files` checks that it is a regular file inside
the corpus folder and within the ``[ingest]`` size limits. Every file either becomes a
Document or is reported as a Failure with its reason; nothing stops the batch.

A corpus folder may hold ``manifest.csv``: a ``file`` column (paths relative to the
folder), optionally an ``id`` column (the document's identity in the project, kept when
the file is renamed), and metadata columns (title, case, actor, role, date, language, ...).
Then only listed files are read, each with its row as metadata. A ``gold.csv`` beside it is the
corpus's gold coding (read by ``pilah train``), never a document.

A file whose signature (:func:`source_signature`: its place, its metadata and its size,
times and inode, as ``git`` and ``rsync`` tell a changed file) is the one its document was
stored from need not be read again: given ``unchanged``, :func:`iter_documents` yields it as
an :class:`~pipeline.records.Unread`.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from pipeline.config import load_config
from pipeline.errors import InputError
from pipeline.ingest import files, tables, text, transcript
from pipeline.ingest.base import Reading, Turn
from pipeline.ingest.files import Limits
from pipeline.records import Block, Document, Failure, Unread

logger = logging.getLogger(__name__)

STAGE = "ingest"
MANIFEST = "manifest.csv"
GOLD = "gold.csv"  # Pilah's gold coding of a corpus (see ``pipeline.train``), not a document
# The module of ``pipeline.ingest`` whose ``read(path, data) -> Reading`` reads each file
# type, imported when a file of that type is read: the Word, PDF and HTML readers' libraries
# take a tenth of a second to import, which ``pilah suggest`` and a corpus of text files
# need not pay.
READERS: dict[str, str] = {
    ".txt": "text",
    ".md": "text",
    ".docx": "docx",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".vtt": "subtitles",
    ".srt": "subtitles",
    ".csv": "tables",
    ".xlsx": "tables",
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(READERS)
# A file modified or changed this recently gets no signature: a second change within the
# file system's time stamp granularity (2 s on FAT, a few ms on ext4) would leave its
# signature as it was ("racy" files, as git calls them). Such a file is read on each run.
RECENT_SECONDS = 3.0


def read_document(
    path: Path,
    root: Path,
    metadata: dict | None = None,
    settings: dict | None = None,
) -> Document:
    """Read one file of a corpus into a Document.

    Parameters
    ----------
    path : Path
        The file; its suffix (any case) chooses the reader.
    root : Path
        The corpus folder; ``Document.path`` is ``path`` relative to it.
    metadata : dict, optional
        Stored with the document as given (e.g. its row of ``manifest.csv``).
    settings : dict, optional
        The ``[ingest]`` section of the configuration (size limits, ``turn_pattern``);
        the defaults of ``configs/pilah.toml`` when omitted.

    Returns
    -------
    Document
        With ``id`` the manifest's ``id`` for the file or else its relative path,
        ``version`` the SHA-256 of the stored text, ``layout`` "transcript" for
        subtitles, tables and text whose lines are mostly speaker turns, ``blocks`` the
        turns (and the paragraphs before the first), ``metadata["header"]`` the header
        fields of a typed transcript, and ``warnings`` what was repaired.

    Raises
    ------
    InputError
        Naming the file and the problem: unsupported type, not a regular file, a link
        out of the corpus, over a size limit, unreadable or damaged file, binary data,
        undecodable bytes, no text layer, no text column, or no text at all.

    Examples
    --------
    >>> from tempfile import TemporaryDirectory
    >>> with TemporaryDirectory() as tmp:
    ...     _ = Path(tmp, "a.txt").write_bytes(b"Ani: Halo.\\r\\nBudi: Hai.\\r\\n\\x1a")
    ...     document = read_document(Path(tmp, "a.txt"), Path(tmp))
    >>> document.path, document.layout, document.text
    ('a.txt', 'transcript', 'Ani: Halo.\\nBudi: Hai.')
    >>> [(b.speaker, document.text[b.start:b.end]) for b in document.blocks]
    [('Ani', 'Halo.'), ('Budi', 'Hai.')]
    """
    path, root = Path(path), Path(root)
    settings = _settings(settings)
    limits = Limits.from_settings(settings)
    suffix = path.suffix.lower()
    reader = _reader(suffix)
    if path.is_symlink():
        files.check_file(path, root, limits)  # a link out of the corpus, whatever its name
    if reader is None:
        raise InputError(
            path,
            f"unsupported file type '{suffix or path.name}': expected one of "
            f"{', '.join(SUPPORTED_SUFFIXES)}; convert it (e.g. .doc or .odt to .docx)",
        )
    files.check_file(path, root, limits)
    relative = _relative(path, root)
    source = source_signature(path, relative, metadata or {})  # before reading: a change while read shows next time
    odd = text.CONTROL_CHARACTERS.search(relative)
    if odd:
        raise InputError(
            path,
            f"its name holds a control character (U+{ord(odd.group()):04X}), which no "
            "spreadsheet can show; rename the file",
        )
    reading = reader(path, files.read_bytes(path, limits.max_file_bytes))
    warnings = list(reading.warnings)
    blocks: tuple[Block, ...] = ()
    header: dict[str, str] = {}
    if reading.turns is not None:
        stored, blocks = _render_turns(reading.turns, warnings)
        files.check_text_size(path, stored, limits)
        is_transcript = True
    else:
        files.check_text_size(path, reading.text or "", limits)
        cleaned, removed = text.strip_controls(text.normalise(reading.text or ""))
        warnings += removed
        stored = text.tidy(cleaned)
        parsed = transcript.parse_transcript(stored, transcript.turn_patterns(settings))
        is_transcript, header = parsed.is_transcript, parsed.header
        blocks = tuple(parsed.blocks) if is_transcript else ()
    if not stored.strip():
        raise InputError(path, "holds no text")
    for warning in warnings:
        logger.warning("%s: %s", path, warning)
    metadata = dict(metadata or {})
    if header:
        metadata["header"] = header
    return Document(
        id=str(metadata.get("id") or relative),
        path=relative,
        format=suffix[1:],
        layout="transcript" if is_transcript else "paragraphs",
        text=stored,
        metadata=metadata,
        blocks=blocks,
        warnings=tuple(warnings),
        source=source,
    )


def source_signature(path: Path, relative: str, metadata: dict) -> str | None:
    """What tells that a corpus file is as it was without reading it: a digest of its path
    in the corpus, the metadata given for it (its manifest row) and its ``lstat``: device,
    inode, size, and modification and change times in nanoseconds.

    An edit changes the size or the modification time; a tool that puts the modification
    time back (``touch -r``, ``rsync -t``) changes the change time, which no user can set;
    a file replaced by another, even a copy with its times, has another inode. ``None``
    (read it) for a link or anything not a regular file, and for a file changed in the
    last ``RECENT_SECONDS``.
    """
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < RECENT_SECONDS * 1e9:
        return None
    signed = [relative, metadata, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]
    return hashlib.sha256(json.dumps(signed, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _render_turns(turns: list[Turn], warnings: list[str]) -> tuple[str, tuple[Block, ...]]:
    """Store structured turns as ``[HH:MM:SS] Speaker: text`` paragraphs, with their blocks."""
    parts: list[str] = []
    blocks: list[Block] = []
    length = 0
    removed = 0
    for turn in turns:
        body, speaker = (_one_line(value) for value in (turn.text, turn.speaker or ""))
        removed += body[1] + speaker[1]
        if not body[0]:
            continue
        prefix = (f"[{turn.timestamp}] " if turn.timestamp else "") + (f"{speaker[0]}: " if speaker[0] else "")
        if parts:
            length += 2  # the blank line between turns
        start = length + len(prefix)
        parts.append(prefix + body[0])
        length += len(parts[-1])
        blocks.append(Block(start, length, speaker[0] or None, turn.timestamp, turn.end_time, dict(turn.metadata)))
    if removed:
        warnings.append(f"removed {removed} control character(s)")
    return "\n\n".join(parts), tuple(blocks)


def _one_line(value: str) -> tuple[str, int]:
    """A turn's text or speaker on one line, without control characters; and how many went."""
    cleaned, removed = text.CONTROL_CHARACTERS.subn("", text.normalise(value))
    return " ".join(cleaned.split()), removed


def _settings(settings: dict | None) -> dict:
    """The ``[ingest]`` settings given, or the defaults of ``configs/pilah.toml``."""
    return load_config().section("ingest") if settings is None else settings


def iter_documents(
    root: Path,
    settings: dict | None = None,
    unchanged: Callable[[str, str], bool] | None = None,
) -> Iterator[Document | Failure | Unread]:
    """Read every document of a corpus, recording each file that fails and going on.

    Parameters
    ----------
    root : Path
        A corpus folder, walked recursively in sorted order, skipping hidden files and
        folders and Office lock files (``~$...``); or a single file.
    settings : dict, optional
        The ``[ingest]`` section of the configuration (defaults when omitted).
    unchanged : callable, optional
        ``unchanged(document_id, signature)``: whether the document was stored from a file
        of this :func:`source_signature`. Such a file is not read.

    Yields
    ------
    Document, Failure or Unread
        A Document per file read; an ``Unread(id, path)`` per file left unread because
        ``unchanged`` said so; a ``Failure(path, "ingest", reason)`` per file that
        could not be read (including links out of the corpus folder and files that are
        not regular files), per file listed in ``manifest.csv`` but missing, and per
        supported file present but not listed. Listed files come in manifest order,
        then the unlisted ones. Files of unsupported types are logged, not yielded.

    Raises
    ------
    InputError
        If ``root`` does not exist, or its ``manifest.csv`` has no ``file`` column.
    """
    root = Path(root)
    settings = _settings(settings)
    if root.is_file():
        yield _attempt(root, root.parent, {}, settings, unchanged)
    elif not root.is_dir():
        raise InputError(root, "no such file or folder")
    elif (root / MANIFEST).is_file():
        yield from _listed_documents(root, settings, unchanged)
    else:
        for path in _corpus_files(root):
            yield _attempt(path, root, {}, settings, unchanged)


def _attempt(path: Path, root: Path, metadata: dict, settings: dict,
             unchanged: Callable[[str, str], bool] | None = None) -> Document | Failure | Unread:
    try:
        if unchanged is not None:
            relative = _relative(path, root)
            signature = source_signature(path, relative, metadata)
            document_id = str(metadata.get("id") or relative)
            if signature is not None and unchanged(document_id, signature):
                return Unread(document_id, relative)
        return read_document(path, root, metadata, settings)
    except InputError as exc:
        logger.warning("skipped %s", exc)
        return Failure(_relative(path, root), STAGE, exc.problem)
    except RecursionError:  # a reader's library recursing through a deeply nested file
        logger.warning("skipped %s: nested too deeply to read", path)
        return Failure(_relative(path, root), STAGE, "nested too deeply to read (elements inside elements "
                                                     "thousands of levels deep); save it again as plain text")
    except MemoryError:
        logger.exception("out of memory while reading %s", path)
        return Failure(_relative(path, root), STAGE, "ran out of memory while reading it; split the file")
    except Exception as exc:  # one file's surprise must not stop the batch
        logger.exception("unexpected error while reading %s", path)
        return Failure(_relative(path, root), STAGE, f"unexpected {type(exc).__name__}: {exc}")


def _listed_documents(root: Path, settings: dict,
                      unchanged: Callable[[str, str], bool] | None) -> Iterator[Document | Failure | Unread]:
    listed: set[str] = set()
    for name, metadata in _manifest_rows(root / MANIFEST, Limits.from_settings(settings)):
        if name in listed:
            yield Failure(name, STAGE, f"listed more than once in {MANIFEST}; first row used")
        elif name.startswith("/") or ".." in PurePosixPath(name).parts:
            yield Failure(name, STAGE, f"{MANIFEST} points outside the corpus folder")
        elif not os.path.lexists(root / name):
            yield Failure(name, STAGE, f"listed in {MANIFEST} but not found")
        else:
            yield _attempt(root / name, root, metadata, settings, unchanged)
        listed.add(name)
    for path in _corpus_files(root):
        if _relative(path, root) not in listed:
            yield Failure(_relative(path, root), STAGE, f"not listed in {MANIFEST} — skipped")


def _manifest_rows(manifest: Path, limits: Limits) -> Iterator[tuple[str, dict]]:
    """Yield (file relative to the corpus folder, metadata) per row of the manifest."""
    files.check_file(manifest, manifest.parent, limits)
    content = text.normalise(text.decode(files.read_bytes(manifest), manifest)[0])
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
            metadata = {  # control characters dropped: the fields go into spreadsheets
                key: cleaned
                for key, value in row.items()
                if key and key != file_column and isinstance(value, str)
                and (cleaned := text.CONTROL_CHARACTERS.sub("", value).strip())
            }
            yield PurePosixPath(name).as_posix(), metadata
        elif any(isinstance(value, str) and value.strip() for value in row.values()):
            logger.warning("%s line %d names no file; row ignored", manifest, rows.line_num)


def _corpus_files(root: Path) -> list[Path]:
    """Supported files under ``root``, sorted, without hidden ones, the manifest or the gold coding.

    Links to folders are not walked: one inside the corpus folder would read its files
    twice (they are read where they are), and one leading out of it is returned like a
    file, so that reading it fails with the reason.
    """
    found = []
    real_root = root.resolve()
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not _hidden(name)]
        for name in subfolders:
            path = Path(folder, name)
            if path.is_symlink():
                if path.resolve().is_relative_to(real_root):
                    logger.info("not walking %s: a link to a folder inside the corpus", path)
                else:
                    found.append(path)
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
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # only then resolved (a look-up per folder of both paths)
        pass
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise InputError(path, f"is not inside the corpus folder {root}") from None


def _reader(suffix: str) -> Callable[[Path, bytes], Reading] | None:
    """The ``read`` function of the reader of files ending in ``suffix`` (``None``: none)."""
    name = READERS.get(suffix)
    return None if name is None else importlib.import_module(f"pipeline.ingest.{name}").read
