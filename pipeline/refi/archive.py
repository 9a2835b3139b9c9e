"""Reading exchange files safely: a ``.qdpx`` is a ZIP from another program, so nothing in it
is trusted.

- No entry is ever extracted to disk; entries are read into memory by name. Even so, an
  archive naming an entry outside itself (``../``, an absolute or drive path) is refused.
- Decompressed size is capped per archive (``MAX_BYTES``), counted while reading, not from
  the sizes the archive declares (a zip bomb lies about them).
- XML is parsed without resolving entities, without loading a DTD or anything from the
  network; a document that declares a DOCTYPE (billion laughs, external entities) is refused.

Each refusal is a ``RefiError`` naming the file and what was wrong.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from lxml import etree

from pipeline.errors import InputError

MAX_BYTES = 1 << 30  # 1 GiB decompressed in all: far above any real project of text sources
MAX_ENTRIES = 20_000


class RefiError(InputError):
    """An exchange file that cannot be read, or is refused as unsafe."""


class Archive:
    """The entries of a ``.qdpx``, looked up by name without regard to case
    (``Sources/`` or ``sources/``, ``Project.qde`` or ``project.qde``)."""

    def __init__(self, path: Path, max_bytes: int | None = None):
        self.path = Path(path)
        self.max_bytes = max_bytes = max_bytes or MAX_BYTES
        self.read_bytes = 0
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise RefiError(self.path, f"not a readable .qdpx (ZIP) archive: {exc}") from None
        infos = self.zip.infolist()
        if len(infos) > MAX_ENTRIES:
            raise RefiError(self.path, f"holds {len(infos)} entries (limit {MAX_ENTRIES}); refused")
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            check_entry_name(self.path, info.filename)
            if not info.is_dir():
                self.entries.setdefault(info.filename.casefold(), info)
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise RefiError(self.path, f"declares {declared:,} bytes uncompressed (limit {max_bytes:,}); "
                                       "refused as a possible zip bomb")

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def project_entry(self) -> str:
        """The one ``project.qde`` at the root of the archive (any case)."""
        found = [info.filename for key, info in self.entries.items() if key == "project.qde"]
        if not found:
            names = ", ".join(sorted(info.filename for info in self.entries.values())[:10]) or "nothing"
            raise RefiError(self.path, f"no project.qde at the root of the archive (found {names}); "
                                       "is this a REFI-QDA project export?")
        return found[0]

    def find_source(self, reference: str) -> str | None:
        """The entry a ``plainTextPath`` / ``richTextPath`` points to (``internal://X.txt`` or
        ``X.txt``, in ``sources/`` or ``Sources/``); ``None`` when the archive lacks it.

        Raises ``RefiError`` for a reference that would leave the archive."""
        name = reference.split("://", 1)[1] if "://" in reference else reference
        if reference.lower().startswith(("relative://", "absolute://", "file://")):
            return None  # outside the archive by definition: never read from the file system
        check_entry_name(self.path, name, what="source reference")
        for candidate in (f"sources/{name}", name):
            if candidate.casefold() in self.entries:
                return self.entries[candidate.casefold()].filename
        return None

    def read(self, name: str) -> bytes:
        """An entry's bytes, counting them against the archive's cap as they are read."""
        chunks = []
        try:
            with self.zip.open(self.entries[name.casefold()]) as stream:
                while chunk := stream.read(1 << 20):
                    self.read_bytes += len(chunk)
                    if self.read_bytes > self.max_bytes:
                        raise RefiError(self.path, f"entry {name!r} decompresses past the limit of {self.max_bytes:,} "
                                                   "bytes for the whole archive; refused as a possible zip bomb")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a damaged entry, or sizes that lie
            raise RefiError(self.path, f"entry {name!r} is damaged: {exc}") from None
        return b"".join(chunks)


def check_entry_name(archive: Path, name: str, what: str = "entry") -> None:
    """Refuse a name that points outside the archive: ``..`` parts, an absolute or drive path."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":") or ".." in parts:
        raise RefiError(archive, f"{what} {name!r} points outside the archive (path traversal); refused")


def parse_xml(data: bytes, where: Path, name: str) -> etree._ElementTree:
    """Parse XML without resolving entities or loading DTDs; refuse any DOCTYPE."""
    first_tag = re.search(rb"<(?![?!])", data)
    if re.search(rb"<!DOCTYPE|<!ENTITY", data[: first_tag.start() if first_tag else len(data)], re.IGNORECASE):
        raise _doctype(where, name)
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, dtd_validation=False,
                             huge_tree=True, remove_comments=True)
    try:
        tree = etree.ElementTree(etree.fromstring(data.lstrip(b"\xef\xbb\xbf \t\r\n"), parser))
    except etree.XMLSyntaxError as exc:
        raise RefiError(where, f"{name} is not well-formed XML: {exc}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _doctype(where, name)
    return tree


def _doctype(where: Path, name: str) -> RefiError:
    return RefiError(where, f"{name} declares a DOCTYPE (entities or a DTD); REFI-QDA files never need one, and "
                            "entities can expand without bound (billion laughs) or read local files; refused")
