"""The project database: one SQLite file (WAL mode) per project directory, schema version 4.

Identity is stable and the records analysts rely on are never rewritten:

- A **document** is its place in the corpus (manifest id or relative path); each distinct
  text it had is a row of ``document_versions``. Two files with the same text are two
  documents.
- A **segment** keeps its id while its text is unchanged (``pipeline.segment.segment_id``).
  When a new version of its document no longer holds it, it is *retired*, never deleted:
  decisions and codings on it are then *stale*, with the text that was decided.
- A **suggestion** is immutable. A run that proposes something else (another model, score
  or direction) adds a new row; the old one is retired, not changed.
- A **decision** is appended with its reviewer, time and a snapshot of what the analyst saw
  (code, direction, score, evidence, segment text). The latest decision of a reviewer on a
  suggestion (or on an added code) is the one in force.
- A **coding** (segment or span, code, direction, coder, origin) follows from a decision in
  force, or is imported. It is the unit for exports, agreement and retraining. A later
  decision retracts the coding it replaces (``retracted_by``); nothing is deleted.

- A **pseudonym** stands for one real value (a person, an e-mail address, a phone number…)
  in everything a pseudonymised export writes (``pipeline.privacy``); the mapping is kept
  here and nowhere else, and the store itself is never pseudonymised.

Every statement names its columns. ``pipeline.store_migrations`` brings a version-1 database
(documents keyed by content hash, suggestions updated in place) to version 2, a
version-2 database (no pseudonyms) to version 3, and a version-3 database (no
``documents.source_key``: which file a document was read from) to version 4.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from pipeline.errors import PilahError
from pipeline.outputs import one_line, writable_text
from pipeline.records import DECISIONS, RESEARCHER, Document, Failure, Segment, Suggestion, role_of

STORE_DIR = ".pilah"
STORE_FILE = "pilah.sqlite"
SCHEMA_VERSION = 5

# Schema version 3: one pseudonym per real value, for the life of the project.
PSEUDONYMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS pseudonyms (
    kind TEXT NOT NULL, value TEXT NOT NULL, pseudonym TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
    PRIMARY KEY (kind, value)
);
"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT NOT NULL, layout TEXT NOT NULL,
    metadata TEXT NOT NULL, version TEXT NOT NULL, processing_key TEXT, source_key TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS document_versions (
    document_id TEXT NOT NULL REFERENCES documents(id), version TEXT NOT NULL, text TEXT NOT NULL,
    first_run INTEGER, created_at TEXT NOT NULL, PRIMARY KEY (document_id, version)
);
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL REFERENCES documents(id), version TEXT NOT NULL,
    idx INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    speaker TEXT, timestamp TEXT, language TEXT NOT NULL, language_score REAL NOT NULL,
    tokens INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 1, retired_run INTEGER,
    role TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS segments_document ON segments(document_id);
CREATE TABLE IF NOT EXISTS suggestions (
    id TEXT PRIMARY KEY, segment_id TEXT NOT NULL REFERENCES segments(id), code TEXT NOT NULL,
    direction TEXT NOT NULL, factor_type TEXT NOT NULL, score REAL NOT NULL, source TEXT NOT NULL,
    evidence TEXT NOT NULL, confidence TEXT NOT NULL DEFAULT '', model_version TEXT,
    run_id INTEGER NOT NULL, created_at TEXT NOT NULL, retired_run INTEGER
);
CREATE INDEX IF NOT EXISTS suggestions_segment ON suggestions(segment_id);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, segment_id TEXT NOT NULL REFERENCES segments(id),
    suggestion_id TEXT REFERENCES suggestions(id), decision TEXT NOT NULL, code TEXT NOT NULL,
    direction TEXT, seen_code TEXT, seen_direction TEXT, seen_score REAL, seen_evidence TEXT,
    seen_model_version TEXT, segment_text TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL, decided_at TEXT NOT NULL, source TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS decisions_segment ON decisions(segment_id);
CREATE TABLE IF NOT EXISTS codings (
    id INTEGER PRIMARY KEY AUTOINCREMENT, document_id TEXT NOT NULL, version TEXT NOT NULL,
    segment_id TEXT, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    code TEXT NOT NULL, direction TEXT, coder TEXT NOT NULL, origin TEXT NOT NULL,
    decision_id INTEGER REFERENCES decisions(id), created_at TEXT NOT NULL,
    retracted_by INTEGER REFERENCES decisions(id)
);
CREATE INDEX IF NOT EXISTS codings_segment ON codings(segment_id);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
    corpus TEXT NOT NULL, summary TEXT
);
CREATE TABLE IF NOT EXISTS failures (
    run_id INTEGER NOT NULL, path TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL,
    traceback TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY, path TEXT NOT NULL, created_at TEXT NOT NULL, source TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS legacy_suggestion_ids (old_id TEXT PRIMARY KEY, new_id TEXT NOT NULL);
-- conclude: cases, saved queries, code history (pipeline.conclude)
-- The case table as last read from the project's cases.csv (a copy for readers without the
-- project folder, e.g. the REFI-QDA export): one row per case, document or speaker attribute.
CREATE TABLE IF NOT EXISTS case_attributes (
    kind TEXT NOT NULL, key TEXT NOT NULL, attribute TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (kind, key, attribute)
);
-- Saved queries: appended; the latest row of a name is the query in force.
CREATE TABLE IF NOT EXISTS saved_queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, expression TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL, created_at TEXT NOT NULL
);
-- Code work (rename, merge, split, adopt), appended, never changed.
CREATE TABLE IF NOT EXISTS code_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, codes TEXT NOT NULL, targets TEXT NOT NULL,
    reviewer TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL
);
-- Derived from code_history (rebuilt from it on every rename or merge): the code each old
-- code is read as. Codings, decisions and suggestions keep the code they were stored with.
CREATE TABLE IF NOT EXISTS code_map (old TEXT PRIMARY KEY, new TEXT NOT NULL);
-- workspace: memos (pipeline.serve). A memo is on the project (target_id ''), a document, a
-- code or a segment; editing one appends a new row that ``replaces`` it, nothing is deleted.
CREATE TABLE IF NOT EXISTS memos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, target_id TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL, author TEXT NOT NULL, created_at TEXT NOT NULL, replaces INTEGER REFERENCES memos(id)
);
CREATE INDEX IF NOT EXISTS memos_target ON memos(target, target_id);
-- hostile: carried. A segment whose text a small edit changed (Store.carry_small_edits): its
-- decisions in force were carried to the new segment, in this run, across this edit distance.
CREATE TABLE IF NOT EXISTS carried_segments (
    old_id TEXT PRIMARY KEY, new_id TEXT NOT NULL, run_id INTEGER NOT NULL, distance INTEGER NOT NULL
);
-- embed: vectors (pipeline.embed). A cache: each text's sentence vector per encoder and
-- kind (passage / query), float16 bytes; what it holds can always be computed again.
CREATE TABLE IF NOT EXISTS vectors (
    text_hash TEXT NOT NULL, encoder TEXT NOT NULL, kind TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (encoder, kind, text_hash)
) WITHOUT ROWID;
""" + PSEUDONYMS_SCHEMA

# The origin of a coding: from an accepted or edited suggestion, added by an analyst, or
# brought in from another tool or a labelled table.
ORIGINS = {"accept": "accepted", "edit": "edited", "add": "added"}
# The sources of the suggestions code work asks to review (``Store.add_review_suggestions``:
# a split's new codes, an adopted candidate's segments): a re-run does not retire them, as
# no model or rule proposes them.
SPLIT_SOURCE, ADOPT_SOURCE = "split", "adopt"
REVIEW_SOURCES = (SPLIT_SOURCE, ADOPT_SOURCE)
# A decision that takes the reviewer's earlier decision on a suggestion (or added code) back:
# appended by the workspace's undo when there was no decision before; the suggestion is
# pending again for that reviewer and no decision of theirs on it is in force.
UNDO = "undo"
# The source of a decision carried to a segment's new text across a small edit
# (``Store.carry_small_edits``), and how small: see ``carry_limit``.
CARRIED = "carried"
CARRY_SHARE, CARRY_MIN, CARRY_MAX = 0.02, 1, 5
CARRY_REACH = 3  # segments apart in the document, at most


class StoreError(PilahError):
    """The project database cannot be opened, read or written."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Decision:
    """One analyst's decision, as read from a review sheet (before it is stored).

    ``code`` is the code decided: the suggestion's for ``accept`` and ``reject``, the
    corrected one for ``edit``, the added one for ``add``; ``direction`` likewise.
    """

    segment_id: str
    suggestion_id: str | None
    decision: str
    code: str
    direction: str | None
    reviewer: str
    comment: str = ""
    source: str = ""
    # (start, end) in the document's text, code points, within the segment: the coding is
    # on this span only (the workspace's span coding); None: on the whole segment
    span: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        # clean at the door: what a sheet, the workspace or another tool typed is stored
        # without control characters, so that every exporter can write it (a BEL in a
        # comment once broke every later qdpx export)
        for name in ("code", "direction", "reviewer"):
            object.__setattr__(self, name, one_line(getattr(self, name)))
        object.__setattr__(self, "comment", writable_text(self.comment))


@dataclass(frozen=True)
class ImportedCoding:
    """A coding read from another tool: its exact span of a document version, and the
    segments it stands for (none, one or several; see ``Store.add_imported_codings``)."""

    document_id: str
    version: str
    start: int
    end: int
    text: str
    code: str
    direction: str | None
    coder: str
    segment_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # clean at the door, as Decision
        for name in ("code", "direction", "coder"):
            object.__setattr__(self, name, one_line(getattr(self, name)))


GROUP_DOCUMENTS = 100  # processed documents committed together (Store.derived_writes)
GROUP_SECONDS = 0.5  # or the documents of this many seconds, if fewer


class _Group:
    """Counts the documents written since the last commit of ``derived_writes``."""

    def __init__(self):
        self.documents, self.since = 0, time.monotonic()

    def add(self) -> bool:
        """Count one more document; whether the group is due to be committed (and restart)."""
        self.documents += 1
        if self.documents < GROUP_DOCUMENTS and time.monotonic() - self.since < GROUP_SECONDS:
            return False
        self.documents, self.since = 0, time.monotonic()
        return True


class Store:
    """The SQLite project database of one project directory.

    Opening a database of an older schema migrates it in one transaction; a file that is not
    a Pilah database, or is damaged, raises ``StoreError`` naming it.
    """

    def __init__(self, project_dir: str | Path):
        self.path = Path(project_dir) / STORE_DIR / STORE_FILE
        self._open_runs: set[int] = set()  # started here, not finished: closed as failed on an error
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._group: _Group | None = None  # within derived_writes
            self._upgrade()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open the project database: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc is not None:
            self.fail_open_runs(exc)
        self.close()

    def _upgrade(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema version {version} is newer than this Pilah ({SCHEMA_VERSION}); upgrade Pilah")
        if version < 2 and "documents" in tables:
            from pipeline.store_migrations import migrate_v1

            migrate_v1(self.db, _SCHEMA)
        elif version in (2, 3, 4):
            from pipeline.store_migrations import migrate_v2, migrate_v3, migrate_v4

            if version == 2:
                migrate_v2(self.db, PSEUDONYMS_SCHEMA)
            if version <= 3:
                migrate_v3(self.db)
            migrate_v4(self.db)
        # Every table is created IF NOT EXISTS: tables added to _SCHEMA since a project was
        # made are created the next time it is opened, without a new schema version.
        self.db.executescript(_SCHEMA)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- runs ------------------------------------------------------------------------
    def start_run(self, corpus: str) -> int:
        with self.db:
            cursor = self.db.execute("INSERT INTO runs (started_at, corpus) VALUES (?, ?)", (now(), corpus))
        self._open_runs.add(int(cursor.lastrowid))
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, summary: dict) -> None:
        self._open_runs.discard(run_id)
        with self.db:
            self.db.execute(
                "UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?",
                (now(), json.dumps(summary, ensure_ascii=False), run_id),
            )

    def fail_open_runs(self, error: BaseException) -> None:
        """Close the runs this store started and did not finish as failed, with the error
        (a full disk while writing the exports...): the summary says ``failed``, and a
        failure row names the file when the error names one. Nothing else is undone."""
        for run_id in sorted(self._open_runs):
            reason = str(error) or type(error).__name__
            try:
                if self.db.in_transaction:
                    self.db.commit()  # what was stored before the error stays stored
                if getattr(error, "path", None):
                    self.add_failure(run_id, Failure(str(error.path), "export", getattr(error, "problem", reason)))
                self.finish_run(run_id, {"failed": reason})
            except sqlite3.Error:  # the database itself is what failed: the run stays unfinished
                pass

    def add_failure(self, run_id: int, failure: Failure) -> None:
        with self.db:
            self.db.execute("INSERT INTO failures (run_id, path, stage, reason, traceback) VALUES (?, ?, ?, ?, ?)",
                            (run_id, failure.path, failure.stage, failure.reason, failure.traceback))

    # -- documents -------------------------------------------------------------------
    def processing_key(self, document_id: str) -> str | None:
        row = self.db.execute("SELECT processing_key FROM documents WHERE id = ?", (document_id,)).fetchone()
        return row[0] if row else None

    def source_key(self, document_id: str) -> str | None:
        """Which file, under which settings, the document's current version was read from
        (``pipeline.engine.source_key``); ``None`` when unknown."""
        row = self.db.execute("SELECT source_key FROM documents WHERE id = ?", (document_id,)).fetchone()
        return row[0] if row else None

    @contextmanager
    def derived_writes(self) -> Iterator[None]:
        """Within: processed documents are committed a group at a time, and commits are not
        flushed to disk one by one (``synchronous = NORMAL``).

        For writing what is derived from the corpus (processed documents). Each document is
        written whole or not at all (a savepoint of its own), and the group is committed
        every ``GROUP_DOCUMENTS`` documents or ``GROUP_SECONDS`` seconds, at
        ``commit_group`` (before the next batch is processed), and on leaving: a process
        killed midway leaves whole documents, loses at most the last uncommitted group,
        which the next run processes again, and never corrupts the store; after a
        power cut the last groups may be gone too. Everything else (an analyst's
        decisions, above all) is committed and flushed to disk commit by commit. A commit
        and its flush per document were most of the cost of storing a short document
        (their pages written again for each one).
        """
        before = self.db.execute("PRAGMA synchronous").fetchone()[0]
        self.db.execute("PRAGMA synchronous = NORMAL")
        self._group = _Group()
        try:
            yield
        finally:
            self._group = None
            if self.db.in_transaction:
                self.db.commit()
            self.db.execute(f"PRAGMA synchronous = {int(before)}")

    def commit_group(self) -> None:
        """Within ``derived_writes``: commit the documents written so far, before a wait
        (the next batch's processing), so that a run killed during it keeps them."""
        if self._group is not None and self.db.in_transaction:
            self.db.commit()
            self._group = _Group()

    @contextmanager
    def _document_writes(self) -> Iterator[None]:
        """One document's writes: a transaction, or within ``derived_writes`` a savepoint in
        the open group's transaction (committed when the group is due)."""
        group = self._group
        if group is None:
            with self.db:
                yield
            return
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
        self.db.execute("SAVEPOINT document")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK TO document")
            self.db.execute("RELEASE document")
            raise
        self.db.execute("RELEASE document")
        if group.add():
            self.db.commit()

    def save_document(
        self,
        document: Document,
        segments: list[Segment],
        tokens: list[int],
        suggestions: Iterable[Suggestion],
        processing_key: str,
        run_id: int,
        model_version: str | None,
        source_key: str | None = None,
    ) -> None:
        """Store a processed version of a document in one transaction (within
        ``derived_writes``, a savepoint of the group's transaction), read from the file
        ``source_key`` names.

        Segments whose text is unchanged keep their id (offsets are updated to the new
        version); segments the new version no longer holds are retired. Suggestions that
        this run proposes again stay as they are; new proposals are added; the others are
        retired. Decisions and codings are never touched.
        """
        stamp = now()
        metadata = json.dumps(document.metadata, ensure_ascii=False)
        with self._document_writes():
            self.db.execute(
                "INSERT INTO documents (id, path, format, layout, metadata, version, processing_key, source_key, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "path = excluded.path, format = excluded.format, layout = excluded.layout, "
                "metadata = excluded.metadata, version = excluded.version, processing_key = excluded.processing_key, "
                "source_key = excluded.source_key, updated_at = excluded.updated_at",
                (document.id, document.path, document.format, document.layout, metadata, document.version,
                 processing_key, source_key, stamp, stamp),
            )
            self.db.execute(
                "INSERT OR IGNORE INTO document_versions (document_id, version, text, first_run, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (document.id, document.version, document.text, run_id, stamp),
            )
            # a document stored for the first time has nothing to retire
            stored = self.db.execute("SELECT 1 FROM segments WHERE document_id = ? LIMIT 1",
                                     (document.id,)).fetchone() is not None
            kept: set[str] = set()
            if stored:
                self.db.execute(
                    f"UPDATE segments SET active = 0, retired_run = ? WHERE document_id = ? AND active = 1 "
                    f"AND id NOT IN {_IN_LIST}",
                    (run_id, document.id, json.dumps([s.id for s in segments])),
                )
                kept = {row[0] for row in self.db.execute(  # the segments this version keeps as they were
                    f"SELECT id FROM segments WHERE document_id = ? AND id IN {_IN_LIST}",
                    (document.id, json.dumps([s.id for s in segments])))}
            self.db.executemany(
                'INSERT INTO segments (id, document_id, version, idx, start, "end", text, speaker, timestamp, '
                "language, language_score, tokens, active, retired_run, role) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, ?) "
                'ON CONFLICT(id) DO UPDATE SET version = excluded.version, idx = excluded.idx, start = excluded.start, '
                '"end" = excluded."end", speaker = excluded.speaker, timestamp = excluded.timestamp, '
                "language = excluded.language, language_score = excluded.language_score, tokens = excluded.tokens, "
                "active = 1, retired_run = NULL, role = excluded.role",
                [(s.id, s.document_id, document.version, s.index, s.start, s.end, s.text, s.speaker, s.timestamp,
                  s.language, s.language_score, n, s.role) for s, n in zip(segments, tokens)],
            )
            rows = [(suggestion_id(s, model_version), s) for s in suggestions]
            if stored:
                self.db.execute(
                    f"UPDATE suggestions SET retired_run = ? WHERE retired_run IS NULL AND id NOT IN {_IN_LIST} "
                    f"AND source NOT IN {REVIEW_SOURCES!r} AND segment_id IN (SELECT id FROM segments WHERE document_id = ?)",
                    (run_id, json.dumps([key for key, _ in rows]), document.id),
                )
            self.db.executemany(
                "INSERT INTO suggestions (id, segment_id, code, direction, factor_type, score, source, evidence, "
                "confidence, model_version, run_id, created_at, retired_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT(id) DO UPDATE SET retired_run = NULL",
                [(key, s.segment_id, s.code, s.direction, s.factor_type, s.score, s.source, s.evidence,
                  getattr(s, "confidence", ""), model_version, run_id, stamp) for key, s in rows],
            )
            if stored:  # decisions on a segment a small edit changed go with it (see carry_small_edits)
                self.carry_small_edits(document.id, [s for s in segments if s.id not in kept], run_id, stamp)

    def touch_document(self, document: Document, source_key: str | None = None) -> None:
        """Record a skipped (unchanged) document's current path, metadata and file
        (``source_key``), when they changed (a re-run of 10,000 unchanged documents then
        writes nothing)."""
        metadata = json.dumps(document.metadata, ensure_ascii=False)
        stored = self.db.execute("SELECT path, metadata, source_key FROM documents WHERE id = ?",
                                 (document.id,)).fetchone()
        if stored == (document.path, metadata, source_key):
            return
        with self._document_writes():
            self.db.execute("UPDATE documents SET path = ?, metadata = ?, source_key = ? WHERE id = ?",
                            (document.path, metadata, source_key, document.id))

    def document_paths(self, document_ids: list[str] | None = None) -> dict[str, str]:
        """Each document's current path, by id."""
        where, params = _document_filter(document_ids)
        return dict(self.db.execute(f"SELECT id, path FROM documents WHERE {where}", params).fetchall())

    def revision(self) -> str:
        """A digest of what the exports are made from. Rows are only added to segments,
        suggestions, decisions, codings and document versions (what is updated in them
        changes together with an insert), so their highest row ids and the documents'
        own rows say whether anything changed since the digest was last taken."""
        digest = hashlib.sha256()
        highest = self.db.execute(
            "SELECT (SELECT MAX(rowid) FROM segments), (SELECT MAX(rowid) FROM suggestions), "
            "(SELECT MAX(rowid) FROM decisions), (SELECT MAX(rowid) FROM codings), "
            "(SELECT MAX(rowid) FROM document_versions)"
        ).fetchone()
        digest.update(json.dumps(highest).encode())
        for row in self.db.execute("SELECT id, path, metadata, version, processing_key FROM documents ORDER BY id"):
            digest.update(json.dumps(row, ensure_ascii=False).encode())
        return digest.hexdigest()

    def document_counts(self, document_ids: list[str]) -> dict[str, int]:
        """Current segments, tokens and suggestions stored for these documents."""
        segments, tokens = self.db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM segments WHERE active = 1 AND document_id IN {_IN_LIST}",
            (json.dumps(document_ids),),
        ).fetchone()
        suggestions = self.db.execute(
            f"SELECT COUNT(*) FROM suggestions JOIN segments ON segments.id = suggestions.segment_id "
            f"WHERE suggestions.retired_run IS NULL AND segments.active = 1 AND segments.document_id IN {_IN_LIST}",
            (json.dumps(document_ids),),
        ).fetchone()[0]
        return {"segments": segments, "tokens": tokens, "suggestions": suggestions}

    def document_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT id FROM documents ORDER BY path")]

    # -- reading back ----------------------------------------------------------------
    def segments_frame(self, document_ids: list[str] | None = None, active: bool = True) -> pd.DataFrame:
        """Segments with their document's path and metadata, in reading order."""
        where, params = _document_filter(document_ids)
        query = f"""
            SELECT segments.id AS segment_id, segments.document_id, documents.path AS document,
                   documents.metadata, segments.version, segments.idx, segments.start AS segment_start,
                   segments."end" AS segment_end, segments.text AS segment_text, segments.speaker,
                   segments.timestamp, segments.language, segments.language_score, segments.tokens,
                   segments.active, segments.role AS segment_role
            FROM segments JOIN documents ON documents.id = segments.document_id
            WHERE {'segments.active = 1 AND ' if active else ''}{where}
            ORDER BY documents.path, segments.active DESC, segments.start
        """
        return read_frame(self.db, query, params)

    def suggestions_frame(self, document_ids: list[str] | None = None, pending: bool = False,
                          reviewer: str | None = None, places: bool = True) -> pd.DataFrame:
        """Current suggestions on current segments, in reading order.

        ``pending``: only those whose code on their segment nobody (or ``reviewer``) has
        decided on yet — the one definition of *pending* the sheet, the status and the
        exports share. ``places=False`` leaves out the segment's document, metadata,
        speaker, offsets and text (readers that have the segments already: at 75,000
        suggestions those columns cost 140 MB).
        """
        where, params = _suggestions_filter(document_ids, pending, reviewer, self._code)
        query = f"""
            SELECT suggestions.id AS suggestion_id, suggestions.segment_id, {_SEGMENT_PLACE if places else ""}
                   {self._code("suggestions.code")} AS code, suggestions.direction, suggestions.factor_type, suggestions.score,
                   suggestions.source, suggestions.evidence, suggestions.confidence, suggestions.model_version
            FROM suggestions
            JOIN segments ON segments.id = suggestions.segment_id
            JOIN documents ON documents.id = segments.document_id
            WHERE suggestions.retired_run IS NULL AND segments.active = 1 AND {where}
            ORDER BY documents.path, segments.start, suggestions.score DESC, suggestions.code
        """
        return read_frame(self.db, query, params)

    def suggestion_counts(self, pending: bool = False) -> dict[str, int]:
        """Per code, how many rows ``suggestions_frame(pending=pending)`` has, counted by
        SQLite: the review status reads 75,000 suggestions of 10,000 documents as 20 numbers."""
        where, params = _suggestions_filter(None, pending, None, self._code)
        return dict(self.db.execute(
            f"SELECT {self._code('suggestions.code')}, COUNT(*) FROM suggestions JOIN segments ON segments.id = suggestions.segment_id "
            "JOIN documents ON documents.id = segments.document_id "
            f"WHERE suggestions.retired_run IS NULL AND segments.active = 1 AND {where} GROUP BY 1",
            params).fetchall())

    def segment_texts(self, segment_ids: Sequence[str]) -> dict[str, tuple[str, bool]]:
        """``{segment_id: (text, active)}`` for the ids that exist."""
        rows = self.db.execute(f"SELECT id, text, active FROM segments WHERE id IN {_IN_LIST}",
                               (json.dumps(list(segment_ids)),))
        return {key: (text, bool(active)) for key, text, active in rows}

    def suggestion_rows(self, suggestion_ids: Sequence[str]) -> dict[str, dict]:
        """``{id as given: suggestion}``; ids of a schema-1 sheet (``segment#code``) are found
        through the migration's ``legacy_suggestion_ids``."""
        keys = ("id", "segment_id", "code", "direction", "score", "evidence", "model_version")
        rows = self.db.execute(
            "SELECT asked.value, id, segment_id, code, direction, score, evidence, model_version FROM suggestions "
            f"JOIN (SELECT value FROM json_each(?)) AS asked ON asked.value = suggestions.id "
            "UNION ALL SELECT legacy.old_id, id, segment_id, code, direction, score, evidence, model_version "
            f"FROM suggestions JOIN legacy_suggestion_ids AS legacy ON legacy.new_id = suggestions.id "
            f"WHERE legacy.old_id IN {_IN_LIST}",
            (json.dumps(list(suggestion_ids)),) * 2,
        )
        found = {}
        for row in rows:
            found[row[0]] = found[row[1]] = dict(zip(keys, row[1:]))
        return found

    # -- decisions and codings -------------------------------------------------------
    def decisions_frame(self, in_force: bool = True, reviewer: str | None = None) -> pd.DataFrame:
        """Decisions with their segment's state (``stale`` when its text changed since).

        ``in_force``: only each reviewer's latest decision per suggestion or added code.
        """
        query = f"""
            SELECT decisions.id AS decision_id, decisions.segment_id, decisions.suggestion_id,
                   decisions.decision, {self._code("decisions.code")} AS code, decisions.direction,
                   {self._code("decisions.seen_code")} AS seen_code, decisions.seen_direction, decisions.seen_score, decisions.seen_evidence,
                   decisions.seen_model_version, decisions.segment_text, decisions.comment,
                   decisions.reviewer, decisions.decided_at, decisions.source, {_DECISION_KEY} AS key,
                   segments.document_id, documents.path AS document, documents.metadata, segments.speaker,
                   segments.role AS segment_role, segments.timestamp, segments.language, segments.start AS segment_start,
                   segments."end" AS segment_end, segments.active = 0 AS stale, seen.source AS seen_source,
                   seen.confidence AS seen_confidence
            FROM decisions
            LEFT JOIN suggestions AS seen ON seen.id = decisions.suggestion_id
            JOIN segments ON segments.id = decisions.segment_id
            JOIN documents ON documents.id = segments.document_id
            {_IN_FORCE if in_force else ""}
            ORDER BY decisions.id
        """
        frame = read_frame(self.db, query)
        frame["stale"] = frame["stale"].astype(bool)
        if reviewer is not None:
            frame = frame[frame["reviewer"] == reviewer].reset_index(drop=True)
        return frame

    def add_decisions(self, decisions: Sequence[Decision]) -> dict[str, int]:
        """Append decisions, each with a snapshot of what was seen, and their codings.

        A decision equal to the reviewer's decision in force on the same suggestion (or
        added code) is not added again, so importing one sheet twice adds nothing.
        Returns ``{"added": n, "unchanged": n}``.
        """
        suggestions = self.suggestion_rows([d.suggestion_id for d in decisions if d.suggestion_id])
        texts = self.segment_texts([d.segment_id for d in decisions])
        in_force = {
            (row[0], row[1], row[2]): row[3:]
            for row in self.db.execute(
                f"SELECT reviewer, segment_id, {_DECISION_KEY}, decision, {self._code('decisions.code')}, direction, "
                "comment, id FROM decisions " + _IN_FORCE
            )
        }
        counts = {"added": 0, "unchanged": 0}
        stamp = now()
        reads_as = self.code_map()  # keys and codes compared as they read after renames and merges
        with self.db:
            for d in decisions:
                seen = suggestions.get(d.suggestion_id) if d.suggestion_id else None
                key_code = seen["code"] if seen and d.decision != "add" else d.code
                key_code = reads_as.get(key_code, key_code)
                key = (d.reviewer, d.segment_id, key_code)
                current = in_force.get(key)
                if current is not None and d.span is None and tuple(current[:4]) == (
                        d.decision, reads_as.get(d.code, d.code), d.direction, d.comment):
                    counts["unchanged"] += 1
                    continue
                text = texts[d.segment_id][0]
                cursor = self.db.execute(
                    "INSERT INTO decisions (segment_id, suggestion_id, decision, code, direction, seen_code, "
                    "seen_direction, seen_score, seen_evidence, seen_model_version, segment_text, comment, "
                    "reviewer, decided_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (d.segment_id, d.suggestion_id if d.decision != "add" else None, d.decision, d.code, d.direction,
                     key_code if d.decision != "add" else None, seen["direction"] if seen and d.decision != "add" else None,
                     seen["score"] if seen and d.decision != "add" else None,
                     seen["evidence"] if seen and d.decision != "add" else None,
                     seen["model_version"] if seen and d.decision != "add" else None,
                     text, d.comment, d.reviewer, stamp, d.source),
                )
                decision_id = int(cursor.lastrowid)
                in_force[key] = (d.decision, reads_as.get(d.code, d.code), d.direction, d.comment, decision_id)
                recode(self.db, decision_id, d, key_code, stamp)
                counts["added"] += 1
        return counts

    def codings_frame(self, current: bool = True) -> pd.DataFrame:
        """Codings in force (not retracted) with their segment's state and document."""
        query = f"""
            SELECT codings.id AS coding_id, codings.document_id, documents.path AS document, documents.metadata,
                   codings.version, codings.segment_id, codings.start, codings."end", codings.text,
                   {self._code("codings.code")} AS code, codings.direction, codings.coder, codings.origin, codings.decision_id, codings.created_at,
                   COALESCE(segments.active, 0) = 0 AS stale, segments.speaker, segments.language
            FROM codings
            JOIN documents ON documents.id = codings.document_id
            LEFT JOIN segments ON segments.id = codings.segment_id
            {"WHERE codings.retracted_by IS NULL" if current else ""}
            ORDER BY documents.path, codings.start, codings.id
        """
        frame = read_frame(self.db, query)
        frame["stale"] = frame["stale"].astype(bool)
        return frame

    def runs_frame(self) -> pd.DataFrame:
        """Every run with its corpus, times, counts and failures, newest first."""
        frame = read_frame(
            self.db,
            "SELECT runs.id AS run, runs.corpus, runs.started_at, runs.finished_at, runs.summary, "
            "(SELECT COUNT(*) FROM failures WHERE failures.run_id = runs.id) AS failures FROM runs ORDER BY runs.id DESC",
        )
        return frame

    def failures_frame(self, run_id: int) -> pd.DataFrame:
        return read_frame(self.db, "SELECT path, stage, reason FROM failures WHERE run_id = ? ORDER BY rowid",
                          (run_id,))

    # -- the project's questions (pipeline.project and its workflows) ------------------
    def record_counts(self) -> dict[str, int]:
        """``decision_records`` (every decision ever appended) and ``codings`` (not retracted)."""
        return {
            "decision_records": int(self.db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]),
            "codings": int(self.db.execute("SELECT COUNT(*) FROM codings WHERE retracted_by IS NULL").fetchone()[0]),
        }

    def assign_roles(self, researchers: Sequence[str]) -> int:
        """Give every stored segment its role for this list of the researcher's speaker
        labels (casefolded): for a project whose segments were stored before roles were (a
        schema-4 store) or under another list. Returns the segments whose role changed."""
        labels = {r.casefold() for r in researchers}
        changed = [(role_of(speaker, labels), segment) for segment, speaker, role in
                   self.db.execute("SELECT id, speaker, role FROM segments") if role_of(speaker, labels) != role]
        with self.db:
            self.db.executemany("UPDATE segments SET role = ? WHERE id = ?", changed)
        return len(changed)

    def researcher_speakers(self) -> list[str]:
        """The speaker labels of the researcher's turns (``Segment.role``), as written."""
        return [row[0] for row in self.db.execute(
            f"SELECT DISTINCT speaker FROM segments WHERE role = '{RESEARCHER}' ORDER BY speaker")]

    def uncovered_segments(self) -> pd.DataFrame:
        """The current segments no code covers, in reading order: no coding in force, and
        no suggestion in force that is open or that a decision in force does not reject.
        Columns ``segment_id``, ``document``, ``speaker``, ``segment_role``, ``lang``, ``text``."""
        # the decisions in force, read once: _IN_FORCE inside the per-suggestion subqueries
        # was evaluated again for each suggestion (26 s for 20,000 segments and decisions)
        query = f"""
            WITH in_force AS (SELECT decisions.segment_id, {_DECISION_KEY} AS key, decisions.decision
                              FROM decisions {_IN_FORCE})
            SELECT segments.id AS segment_id, documents.path AS document, segments.speaker, segments.role AS segment_role,
                   segments.language AS lang, segments.text
            FROM segments JOIN documents ON documents.id = segments.document_id
            WHERE segments.active = 1
              AND NOT EXISTS (SELECT 1 FROM codings WHERE codings.segment_id = segments.id AND codings.retracted_by IS NULL)
              AND NOT EXISTS (
                SELECT 1 FROM suggestions
                WHERE suggestions.segment_id = segments.id AND suggestions.retired_run IS NULL
                  AND (NOT EXISTS (SELECT 1 FROM in_force WHERE in_force.segment_id = suggestions.segment_id
                                   AND in_force.key = {self._code("suggestions.code")})
                       OR EXISTS (SELECT 1 FROM in_force WHERE in_force.segment_id = suggestions.segment_id
                                  AND in_force.key = {self._code("suggestions.code")} AND in_force.decision != 'reject'))
              )
            ORDER BY documents.path, segments.start
        """
        return read_frame(self.db, query).fillna("")

    # -- model versions --------------------------------------------------------------
    def add_model(self, version: str, path: str, source: str, summary: dict) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO models (version, path, created_at, source, summary) VALUES (?, ?, ?, ?, ?)",
                (version, path, now(), source, json.dumps(summary, ensure_ascii=False)),
            )

    def models_frame(self) -> pd.DataFrame:
        frame = read_frame(self.db, "SELECT version, path, created_at, source, summary FROM models ORDER BY created_at")
        # the ``model`` setting holds the chosen version's folder (``pilah retrain``, ``models
        # use``); a version name there is read the same
        chosen = self.setting("model") or ""
        frame["in_use"] = (frame["path"] == chosen) | (frame["version"] == chosen)
        return frame

    def unmasked(self) -> "Store":
        """This store (``ProjectView.unmasked``: a store reads as its own plain view)."""
        return self

    def setting(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            (key, value))

    # -- pseudonyms (pipeline.privacy) ------------------------------------------------
    def pseudonyms_frame(self) -> pd.DataFrame:
        """Every real value with its pseudonym, in the order they were made."""
        return read_frame(self.db, "SELECT kind, value, pseudonym, created_at FROM pseudonyms ORDER BY rowid")

    def add_pseudonyms(self, rows: Sequence[tuple[str, str, str]]) -> None:
        """Add ``(kind, value, pseudonym)`` rows; a value that has one already keeps it."""
        stamp = now()
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO pseudonyms (kind, value, pseudonym, created_at) VALUES (?, ?, ?, ?)",
                                [(*row, stamp) for row in rows])

    def speakers(self) -> list[str]:
        """Every speaker label of the current segments, once each (the persons a codebook
        must not name under ``--pseudonymize``)."""
        return [row[0] for row in self.db.execute(
            "SELECT DISTINCT speaker FROM segments WHERE active = 1 AND speaker IS NOT NULL ORDER BY speaker")]

    # -- conclude: cases, saved queries, code history (pipeline.conclude) -------------
    def _code(self, column: str) -> str:
        """SQL for the code ``column`` holds as it reads now: through ``code_map`` once a code
        was renamed or merged (``add_code_change``), the column itself before."""
        # asked each time (one indexed row): another process's code work shows at once
        if self.db.execute("SELECT 1 FROM code_map LIMIT 1").fetchone() is None:
            return column
        return f"COALESCE((SELECT code_map.new FROM code_map WHERE code_map.old = {column}), {column})"

    def add_code_change(self, action: str, codes: Sequence[str], targets: Sequence[str], reviewer: str,
                        note: str = "", mapping: dict[str, str] | None = None) -> int:
        """Append one piece of code work to ``code_history``; with ``mapping`` (old code → new
        code: a rename or a merge), every old code already read as one of ``mapping``'s old
        codes is read as its new code from now on (``code_map``, rebuilt here). Nothing
        stored with the old code is changed. Returns the history row's id."""
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO code_history (action, codes, targets, reviewer, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (action, json.dumps(list(codes), ensure_ascii=False), json.dumps(list(targets), ensure_ascii=False),
                 reviewer, note, now()))
            if mapping:
                current = dict(self.db.execute("SELECT old, new FROM code_map").fetchall())
                current = {old: mapping.get(new, new) for old, new in current.items()} | dict(mapping)
                self.db.execute("DELETE FROM code_map")  # derived from code_history: rebuilt whole
                self.db.executemany("INSERT INTO code_map (old, new) VALUES (?, ?)",
                                    [(old, new) for old, new in current.items() if old != new])
        return int(cursor.lastrowid)

    def code_history_frame(self) -> pd.DataFrame:
        """Every piece of code work, oldest first (``codes`` and ``targets`` as JSON lists)."""
        return read_frame(self.db, "SELECT id, action, codes, targets, reviewer, note, created_at FROM code_history "
                                   "ORDER BY id")

    def code_map(self) -> dict[str, str]:
        """``{old code: the code it reads as now}`` after renames and merges."""
        return dict(self.db.execute("SELECT old, new FROM code_map").fetchall())

    def raw_coded_segments(self, code: str) -> pd.DataFrame:
        """The current segments holding a coding in force whose code reads as ``code``, with
        the coder: what a split puts up for review again."""
        return read_frame(self.db, f"""
            SELECT DISTINCT codings.segment_id, codings.coder, codings.direction
            FROM codings JOIN segments ON segments.id = codings.segment_id AND segments.active = 1
            WHERE codings.retracted_by IS NULL AND {self._code("codings.code")} = ? ORDER BY codings.segment_id
        """, (code,))

    def add_review_suggestions(self, rows: Sequence[Suggestion], source: str, note: str) -> int:
        """Suggestions an analyst's code work asks to review (a split: the new codes on each
        segment of the old one), stored as a run of their own named ``note``; a later
        ``pilah run`` does not retire them (``REVIEW_SOURCES``). Returns how many were new."""
        run_id = self.start_run(note)
        stamp = now()
        with self.db:
            before = self.db.total_changes
            self.db.executemany(
                "INSERT OR IGNORE INTO suggestions (id, segment_id, code, direction, factor_type, score, source, evidence, "
                "confidence, model_version, run_id, created_at, retired_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, NULL)",
                [(suggestion_id(s, source), s.segment_id, s.code, s.direction, s.factor_type, s.score, source,
                  s.evidence, source, run_id, stamp) for s in rows])
            added = self.db.total_changes - before
        self.finish_run(run_id, {"counts": {"suggestions": added}, "code_work": note})
        return added

    def save_case_table(self, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """Keep a copy of the case table as read from its file: ``(kind, key, attribute,
        value)`` rows, kind ``case``, ``document`` or ``speaker``; the file stays the record."""
        with self.db:
            self.db.execute("DELETE FROM case_attributes")
            self.db.executemany("INSERT OR REPLACE INTO case_attributes (kind, key, attribute, value) VALUES (?, ?, ?, ?)",
                                list(rows))

    def case_table_rows(self) -> list[tuple[str, str, str, str]]:
        """The copy ``save_case_table`` kept, in its order."""
        return self.db.execute("SELECT kind, key, attribute, value FROM case_attributes ORDER BY rowid").fetchall()

    def save_query(self, name: str, expression: str, description: str, created_by: str) -> int:
        """Append a saved query; the latest of a name is the one in force."""
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO saved_queries (name, expression, description, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                (name, expression, description, created_by, now()))
        return int(cursor.lastrowid)

    def saved_queries_frame(self) -> pd.DataFrame:
        """The saved query in force of each name, by name."""
        return read_frame(self.db, "SELECT name, expression, description, created_by, created_at FROM saved_queries "
                                   "WHERE id IN (SELECT MAX(id) FROM saved_queries GROUP BY name) ORDER BY name")

    # -- exchange with other tools (REFI-QDA, pipeline.refi) -------------------------
    def documents_frame(self) -> pd.DataFrame:
        """Every document with its current version's text, in path order."""
        query = """
            SELECT documents.id AS document_id, documents.path, documents.format, documents.layout,
                   documents.metadata, documents.version, document_versions.text
            FROM documents
            JOIN document_versions ON document_versions.document_id = documents.id
                 AND document_versions.version = documents.version
            ORDER BY documents.path, documents.id
        """
        return read_frame(self.db, query)

    def add_imported_codings(self, codings: Sequence["ImportedCoding"], source: str) -> dict[str, int]:
        """Add codings brought in from another tool, each on its exact span.

        A coding whose span maps to one segment is that segment's coding, with an ``add``
        decision of its coder (``source``), so retraining and agreement count it; a span that
        maps to several segments is kept as it is (``segment_id`` NULL) and each segment gets
        a decision and a coding of its own (origin ``imported-segment``: not exported again,
        as the span is); a span that maps to none is kept with ``segment_id`` NULL. A coding
        equal to one in force (same document version, span, code and coder) is not added
        again. Returns ``{"added": n, "unchanged": n}``.
        """
        counts = {"added": 0, "unchanged": 0}
        stamp = now()
        held = set(self.db.execute(
            'SELECT document_id, version, start, "end", code, coder FROM codings WHERE retracted_by IS NULL AND origin != ?',
            ("imported-segment",)))
        with self.db:
            for c in codings:
                key = (c.document_id, c.version, c.start, c.end, c.code, c.coder)
                if key in held:
                    counts["unchanged"] += 1
                    continue
                held.add(key)
                single = c.segment_ids[0] if len(c.segment_ids) == 1 else None
                decision_id = self._import_decision(single, c, source, stamp) if single else None
                self.db.execute(
                    'INSERT INTO codings (document_id, version, segment_id, start, "end", text, code, direction, coder, '
                    "origin, decision_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (c.document_id, c.version, single, c.start, c.end, c.text, c.code, c.direction, c.coder,
                     "imported", decision_id, stamp),
                )
                if len(c.segment_ids) > 1:
                    for segment_id in c.segment_ids:
                        decision_id = self._import_decision(segment_id, c, source, stamp)
                        self.db.execute(
                            'INSERT INTO codings (document_id, version, segment_id, start, "end", text, code, direction, '
                            "coder, origin, decision_id, created_at) SELECT document_id, version, id, start, \"end\", text, "
                            "?, ?, ?, ?, ?, ? FROM segments WHERE id = ?",
                            (c.code, c.direction, c.coder, "imported-segment", decision_id, stamp, segment_id),
                        )
                counts["added"] += 1
        return counts

    def _import_decision(self, segment_id: str, c: "ImportedCoding", source: str, stamp: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO decisions (segment_id, suggestion_id, decision, code, direction, seen_code, seen_direction, "
            "seen_score, seen_evidence, seen_model_version, segment_text, comment, reviewer, decided_at, source) "
            "SELECT id, NULL, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, text, ?, ?, ?, ? FROM segments WHERE id = ?",
            ("add", c.code, c.direction, "", c.coder, stamp, source, segment_id),
        )
        return int(cursor.lastrowid)

    # -- hostile: decisions carried over small edits ------------------------------------
    def carry_small_edits(self, document_id: str, new_segments: Sequence[Segment], run_id: int, stamp: str) -> int:
        """Carry the decisions in force (and so their codings) from each segment of this
        document that ``run_id`` retired to the new segment whose text is nearly the same.

        Nearly the same: the same speaker, at most ``CARRY_REACH`` places away in the
        document, and an edit distance (Levenshtein, in characters) of at most
        :func:`carry_limit` of the old text: 2 %, at least 1 and at most 5 characters (a
        comma fixed, a typo corrected, a word respelt). A larger edit leaves the decisions
        stale, as before. Each carried decision is a new decision row of the same reviewer,
        decision, code, direction and comment, ``source = "carried"``, on the new segment
        (on the new suggestion of the same code where the run proposed one; an accept or
        edit without one becomes an ``add`` of its code, a reject without one is not
        carried); a coding on part of the segment keeps its span, its offsets mapped through
        the edit. The old decisions stay as they were; ``carried_segments`` records the
        pair. Runs inside ``save_document``'s transaction. Returns the decisions carried.
        """
        if not new_segments:
            return 0
        retired = self.db.execute(
            'SELECT id, idx, start, "end", text, speaker FROM segments WHERE document_id = ? AND retired_run = ? '
            "AND active = 0 AND id IN (SELECT segment_id FROM decisions) AND id NOT IN "
            "(SELECT old_id FROM carried_segments)", (document_id, run_id)).fetchall()
        by_index = {s.index: s for s in new_segments}  # only the few places around each: linear in the document
        taken: set[str] = set()
        carried = 0
        for old_id, idx, old_start, _, old_text, speaker in retired:
            best = None
            for new in (by_index.get(i) for i in range(idx - CARRY_REACH, idx + CARRY_REACH + 1)):
                if new is None or new.id in taken or new.speaker != speaker:
                    continue
                distance = edit_distance(old_text, new.text, carry_limit(old_text))
                if distance is not None and (best is None or distance < best[0]):
                    best = (distance, new)
            if best is None:
                continue
            distance, new = best
            taken.add(new.id)
            self.db.execute("INSERT INTO carried_segments (old_id, new_id, run_id, distance) VALUES (?, ?, ?, ?)",
                            (old_id, new.id, run_id, distance))
            carried += self._carry_decisions(old_id, int(old_start), old_text, new, stamp)
        return carried

    def _carry_decisions(self, old_id: str, old_start: int, old_text: str, new: Segment, stamp: str) -> int:
        decisions = self.db.execute(f"SELECT id, decision, code, direction, reviewer, comment, {_DECISION_KEY} "
                                    f"FROM decisions {_in_force('segment_id = ?')} ORDER BY id", (old_id,)).fetchall()
        proposed = {code: (sid, direction, score, evidence, model) for sid, code, direction, score, evidence, model in
                    self.db.execute("SELECT id, code, direction, score, evidence, model_version FROM suggestions "
                                    "WHERE segment_id = ? AND retired_run IS NULL", (new.id,))}
        count = 0
        for decision_id, decision, code, direction, reviewer, comment, key in decisions:
            if decision not in DECISIONS:
                continue  # none other is stored (an undo is never in force)
            seen = proposed.get(key) if decision != "add" else None
            if seen is None and decision == "reject":
                continue  # nothing proposed to reject on the new text
            if seen is None:
                decision = "add"
            span = self.db.execute('SELECT start, "end" FROM codings WHERE decision_id = ? AND retracted_by IS NULL '
                                   "AND segment_id = ? LIMIT 1", (decision_id, old_id)).fetchone()
            mapped = None
            if span is not None and (span[0], span[1]) != (old_start, old_start + len(old_text)):
                a, b = map_span(old_text, new.text, span[0] - old_start, span[1] - old_start)
                mapped = (new.start + a, new.start + b) if b > a else None
            d = Decision(new.id, seen[0] if seen else None, decision, code, direction, reviewer, comment, CARRIED,
                         span=mapped)
            cursor = self.db.execute(
                "INSERT INTO decisions (segment_id, suggestion_id, decision, code, direction, seen_code, "
                "seen_direction, seen_score, seen_evidence, seen_model_version, segment_text, comment, "
                "reviewer, decided_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (d.segment_id, d.suggestion_id, d.decision, d.code, d.direction, key if seen else None,
                 *(seen[1:] if seen else (None, None, None, None)), new.text, d.comment, d.reviewer, stamp, CARRIED))
            recode(self.db, int(cursor.lastrowid), d, key if seen else d.code, stamp)
            count += 1
        return count

    def carried_count(self, run_id: int) -> int:
        """How many decisions ``run_id`` carried across small edits."""
        return self.db.execute(f"SELECT COUNT(*) FROM decisions WHERE source = '{CARRIED}' AND segment_id IN "
                               "(SELECT new_id FROM carried_segments WHERE run_id = ?)", (run_id,)).fetchone()[0]

    def carried_segments(self) -> dict[str, str]:
        """``{old segment id: new segment id}`` of every small edit decisions were carried across."""
        return dict(self.db.execute("SELECT old_id, new_id FROM carried_segments"))

    # -- embed: the vector cache (pipeline.embed) --------------------------------------
    def vectors(self, keys: Sequence[str], encoder: str, kind: str) -> dict[str, np.ndarray]:
        """The cached vectors (float16) of these text keys (``pipeline.embed.text_key``)
        under ``encoder`` and ``kind``; keys not cached are left out."""
        return _read_vectors(self.db, keys, encoder, kind)

    def add_vectors(self, vectors: dict[str, np.ndarray], encoder: str, kind: str) -> None:
        """Cache vectors by text key (stored as float16; a key cached already is replaced,
        which heals a damaged row: ``embed`` computes only what the cache lacks or cannot
        read). Within ``derived_writes`` they join the open group's transaction."""
        if not vectors:
            return
        rows = [(key, encoder, kind, np.asarray(vector, dtype=np.float16).tobytes()) for key, vector in vectors.items()]
        with self._document_writes():
            self.db.executemany("INSERT OR REPLACE INTO vectors (text_hash, encoder, kind, vector) VALUES (?, ?, ?, ?)",
                                rows)

    def vector_count(self, encoder: str | None = None) -> int:
        """Vectors cached (of ``encoder``, or of every encoder)."""
        if encoder is None:
            return int(self.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
        return int(self.db.execute("SELECT COUNT(*) FROM vectors WHERE encoder = ?", (encoder,)).fetchone()[0])

    # -- workspace: memos and reading one document (pipeline.serve) -------------------
    def add_memo(self, target: str, target_id: str, text: str, author: str, replaces: int | None = None) -> int:
        """Append a memo on the project (``target_id`` ``""``), a document, a code or a
        segment; ``replaces``: the memo it is a new version of (which is kept). Returns its id."""
        if target not in MEMO_TARGETS:
            raise StoreError(f"{self.path}: a memo is on one of {', '.join(MEMO_TARGETS)}, not {target!r}")
        with self.db:  # clean at the door, as decisions: every exporter can write what is stored
            cursor = self.db.execute(
                "INSERT INTO memos (target, target_id, text, author, created_at, replaces) VALUES (?, ?, ?, ?, ?, ?)",
                (target, target_id, writable_text(text), one_line(author), now(), replaces))
        return int(cursor.lastrowid)

    def memos_frame(self, target: str | None = None, target_id: str | None = None,
                    search: str | None = None) -> pd.DataFrame:
        """The memos in force (no later version replaces them), newest first; ``search``:
        those whose text holds it, regardless of case."""
        where, params = ["NOT EXISTS (SELECT 1 FROM memos AS later WHERE later.replaces = memos.id)"], []
        if target is not None:
            where.append("target = ?")
            params.append(target)
        if target_id is not None:
            where.append("target_id = ?")
            params.append(target_id)
        frame = read_frame(self.db, "SELECT id AS memo_id, target, target_id, text, author, created_at, replaces "
                                    f"FROM memos WHERE {' AND '.join(where)} ORDER BY id DESC", params)
        if search:
            frame = frame[frame["text"].str.casefold().str.contains(search.casefold(), regex=False)]
        return frame.reset_index(drop=True)

    def document_text(self, document_id: str) -> dict | None:
        """One document's path, metadata (a dict), current version and text; None if unknown."""
        row = self.db.execute(
            "SELECT documents.path, documents.metadata, documents.version, document_versions.text FROM documents "
            "JOIN document_versions ON document_versions.document_id = documents.id "
            "AND document_versions.version = documents.version WHERE documents.id = ?", (document_id,)).fetchone()
        if row is None:
            return None
        return {"document_id": document_id, "path": row[0], "metadata": json.loads(row[1] or "{}"),
                "version": row[2], "text": row[3]}


MEMO_TARGETS = ("project", "document", "code", "segment")

# -- embed: the vector cache, read by worker processes --------------------------------
_VECTOR_LOOKUP = 900  # keys per query


def _read_vectors(db: sqlite3.Connection, keys: Sequence[str], encoder: str, kind: str) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    keys = list(keys)
    for start in range(0, len(keys), _VECTOR_LOOKUP):
        rows = db.execute(
            f"SELECT text_hash, vector FROM vectors WHERE encoder = ? AND kind = ? AND text_hash IN {_IN_LIST}",
            (encoder, kind, json.dumps(keys[start:start + _VECTOR_LOOKUP])),
        )
        # a damaged row (not float16 bytes) reads as not cached: the vector is computed again
        found.update((key, np.frombuffer(blob, dtype=np.float16)) for key, blob in rows
                     if isinstance(blob, bytes) and blob and len(blob) % 2 == 0)
    return found


class VectorReader:
    """The vector cache of a project database, read-only, for a worker process: it opens
    its own connection (in the process that first reads; a forked worker never uses its
    parent's), reads what the driver committed, and keeps the vectors it is given in
    ``made`` for the driver to store (``Store.add_vectors``): only the driver writes.
    A database it cannot open reads as empty."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.made: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self._db: sqlite3.Connection | None = None
        self._pid: int | None = None

    def vectors(self, keys: Sequence[str], encoder: str, kind: str) -> dict[str, np.ndarray]:
        found = dict(self.made.get((encoder, kind), {}))
        wanted = [key for key in keys if key not in found]
        db = self._connection()
        if db is not None and wanted:
            try:
                found.update(_read_vectors(db, wanted, encoder, kind))
            except sqlite3.Error:  # an older project's database without the table, or busy
                pass
        return {key: found[key] for key in keys if key in found}

    def add_vectors(self, vectors: dict[str, np.ndarray], encoder: str, kind: str) -> None:
        self.made.setdefault((encoder, kind), {}).update(vectors)

    def take(self) -> dict[tuple[str, str], dict[str, np.ndarray]]:
        """The vectors made since the last ``take``, by ``(encoder, kind)``; forgets them."""
        made, self.made = self.made, {}
        return made

    def _connection(self) -> sqlite3.Connection | None:
        if self._pid != os.getpid():
            self._db, self._pid = None, os.getpid()
            try:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5,
                                           check_same_thread=False)
            except (sqlite3.Error, OSError, ValueError):
                self._db = None
        return self._db

    def __getstate__(self) -> dict:
        return {"path": self.path, "made": {}, "_db": None, "_pid": None}



def _mapped(column: str) -> str:
    """SQL: the code ``column`` holds, as it reads after renames and merges (``code_map``)."""
    return f"COALESCE((SELECT code_map.new FROM code_map WHERE code_map.old = {column}), {column})"


# A decision's key within a reviewer and segment: the suggestion's code it decides on, or
# the code it adds, as codes read now (a decision on a code since renamed or merged is on
# the new code: it settles the new code's suggestions, and a later decision replaces it).
_DECISION_KEY = _mapped("COALESCE(decisions.seen_code, decisions.code)")


def _in_force(within: str = "") -> str:
    """SQL ``WHERE`` clause on ``decisions``: each reviewer's latest decision per segment
    and key, the decisions in force; an undo leaves none. ``within``: SQL on the columns of
    ``decisions`` that narrows the decisions looked at (``"segment_id = ?"``: one segment's,
    read through its index instead of grouping the whole table)."""
    narrowed = f"WHERE {within} " if within else ""
    return (f"WHERE decisions.id IN (SELECT MAX(id) FROM decisions {narrowed}"
            f"GROUP BY reviewer, segment_id, {_DECISION_KEY}) AND decisions.decision != '{UNDO}'")


_IN_FORCE = _in_force()  # every segment's


def recode(db: sqlite3.Connection, decision_id: int, d: Decision, key_code: str, stamp: str) -> None:
    """Retract the coding this reviewer's earlier decision on the same key made; add the
    coding this decision makes (none for ``reject``). Used when a decision is stored, and by
    the migration of schema-1 decisions."""
    db.execute(
        "UPDATE codings SET retracted_by = ? WHERE retracted_by IS NULL AND coder = ? AND segment_id = ? "
        f"AND decision_id IN (SELECT id FROM decisions WHERE segment_id = ? AND {_DECISION_KEY} = ?)",
        (decision_id, d.reviewer, d.segment_id, d.segment_id, key_code),  # the segment's decisions: indexed
    )
    if d.decision in ORIGINS and d.span is not None:  # on a span of the segment (SQLite's substr counts code points)
        db.execute(
            'INSERT INTO codings (document_id, version, segment_id, start, "end", text, code, direction, coder, '
            "origin, decision_id, created_at) SELECT document_id, version, id, ?, ?, substr(text, ? - start + 1, ? - ?), "
            "?, ?, ?, ?, ?, ? FROM segments WHERE id = ?",
            (d.span[0], d.span[1], d.span[0], d.span[1], d.span[0], d.code, d.direction, d.reviewer,
             ORIGINS[d.decision], decision_id, stamp, d.segment_id),
        )
    elif d.decision in ORIGINS:
        db.execute(
            'INSERT INTO codings (document_id, version, segment_id, start, "end", text, code, direction, coder, '
            "origin, decision_id, created_at) SELECT document_id, version, id, start, \"end\", text, ?, ?, ?, ?, ?, ? "
            "FROM segments WHERE id = ?",
            (d.code, d.direction, d.reviewer, ORIGINS[d.decision], decision_id, stamp, d.segment_id),
        )


def suggestion_id(suggestion: Suggestion, model_version: str | None) -> str:
    """Content id of a suggestion: the same proposal by the same model gets the same id
    across runs; anything different (direction, score, evidence, model) is a new row."""
    fields = (suggestion.segment_id, suggestion.code, suggestion.direction, suggestion.factor_type,
              f"{suggestion.score:.4f}", suggestion.source, suggestion.evidence, model_version or "")
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:20]


def read_frame(db: sqlite3.Connection, query: str, params: Sequence = ()) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame whose columns each own their values.

    ``pd.read_sql_query`` makes every text column a view of one (rows × columns) array of
    the whole result, so a frame built from a single column of it (``.to_numpy()``) kept
    every column alive, segment texts included: at 10,000 documents the display units held
    the whole pending-suggestions result (50 MB), the segment places their texts. The copy
    costs one array of pointers per column."""
    return pd.read_sql_query(query, db, params=params).copy(deep=True)


# A list of values passed as one JSON parameter: no limit on its length, one statement.
_IN_LIST = "(SELECT value FROM json_each(?))"
_SEGMENT_PLACE = """documents.path AS document, documents.metadata, segments.speaker, segments.timestamp,
                    segments.start AS segment_start, segments."end" AS segment_end, segments.language,
                    segments.text AS segment_text,"""


def _document_filter(document_ids: list[str] | None) -> tuple[str, list]:
    if document_ids is None:
        return "1 = 1", []
    return f"documents.id IN {_IN_LIST}", [json.dumps(list(document_ids))]


def _suggestions_filter(document_ids: list[str] | None, pending: bool, reviewer: str | None,
                        code=lambda column: column) -> tuple[str, list]:
    """The documents' suggestions; ``pending``: those whose code on their segment nobody (or
    ``reviewer``) has decided on yet (codes compared as ``code`` reads them: ``Store._code``)."""
    where, params = _document_filter(document_ids)
    if pending:  # a decision taken back by a later undo of its reviewer settles nothing
        where += (" AND NOT EXISTS (SELECT 1 FROM decisions WHERE decisions.segment_id = suggestions.segment_id "
                  f"AND {_DECISION_KEY} = {code('suggestions.code')}{' AND decisions.reviewer = ?' if reviewer is not None else ''} "
                  f"AND decisions.decision != '{UNDO}' AND NOT EXISTS (SELECT 1 FROM decisions AS later "
                  "WHERE later.segment_id = decisions.segment_id AND later.reviewer = decisions.reviewer "
                  f"AND {_mapped('COALESCE(later.seen_code, later.code)')} = {_DECISION_KEY} AND later.id > decisions.id "
                  f"AND later.decision = '{UNDO}'))")
        params += [reviewer] if reviewer is not None else []
    return where, params


RUN_LOCK = "run.lock"


@contextmanager
def run_lock(project_dir: Path) -> Iterator[None]:
    """Hold the project for one run: a second run on the same project stops at once with a
    message (the lock is the operating system's, so a killed run leaves none behind)."""
    path = Path(project_dir) / STORE_DIR / RUN_LOCK
    lock = FileLock(path, timeout=0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise StoreError(f"{project_dir}: another `pilah run` is working on this project right now "
                         f"(it holds {path}); wait for it to finish, then run again") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot write in the project folder: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def check_writable(project_dir: Path) -> None:
    """Fail early, naming the path, when the project database cannot be opened for writing
    or is damaged: before any document is processed."""
    path = Path(project_dir) / STORE_DIR / STORE_FILE
    if Path(project_dir).exists() and not Path(project_dir).is_dir():
        raise StoreError(f"{project_dir}: the project must be a folder, found a file")
    try:
        with Store(project_dir) as store:
            status = store.db.execute("PRAGMA quick_check").fetchone()[0]
            if status != "ok":
                raise StoreError(f"{path}: the project database is damaged ({status}); restore it from a backup")
            with store.db:
                store.db.execute("CREATE TABLE IF NOT EXISTS _write_check (x)")
                store.db.execute("DROP TABLE _write_check")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot write the project database: {exc}") from None


# -- hostile: how near a new text is to the old one -------------------------------------
def carry_limit(text: str) -> int:
    """The largest edit a segment's decisions are carried across: 2 % of its characters,
    at least 1 and at most 5 (a comma, a typo, a respelt word; a word added or taken out is
    more, and leaves the decisions stale).

    >>> carry_limit("Modal kurang, Bu."), carry_limit("x" * 200), carry_limit("x" * 2000)
    (1, 4, 5)
    """
    return max(CARRY_MIN, min(CARRY_MAX, int(CARRY_SHARE * len(text))))


def edit_distance(a: str, b: str, limit: int) -> int | None:
    """The Levenshtein distance of ``a`` and ``b`` (insertions, deletions and substitutions
    of characters), or ``None`` when it is above ``limit``; computed in a band of width
    ``2 * limit + 1``, so a long segment costs its length times the band, not its square.

    >>> edit_distance("Modal kurang Bu.", "Modal kurang, Bu.", 2), edit_distance("abc", "xyz", 2)
    (1, None)
    """
    if abs(len(a) - len(b)) > limit:
        return None
    if a == b:
        return 0
    big = limit + 1
    previous = [j if j <= limit else big for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        low, high = max(1, i - limit), min(len(b), i + limit)
        current = [big] * (len(b) + 1)
        current[0] = i if i <= limit else big
        row_best = current[0]
        for j in range(low, high + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            current[j] = value if value <= limit else big
            row_best = min(row_best, current[j])
        if row_best > limit:
            return None
        previous = current
    return previous[len(b)] if previous[len(b)] <= limit else None


def map_span(old: str, new: str, start: int, end: int) -> tuple[int, int]:
    """A span ``[start, end)`` of ``old`` carried to ``new`` through the edit between them
    (difflib's opcodes): a boundary in unchanged text moves with it; one inside a changed
    stretch goes to the same place in its replacement, within its length; text inserted
    at a boundary stays outside the span.

    >>> old, new = "Modal kurang Bu.", "Modal kurang, Bu."
    >>> map_span(old, new, 6, 12), map_span(old, new, 13, 16), map_span(old, new, 0, 16)
    ((6, 12), (14, 17), (0, 17))
    """
    from difflib import SequenceMatcher

    opcodes = SequenceMatcher(None, old, new, autojunk=False).get_opcodes()

    def place(position: int, closing: bool) -> int:
        for tag, i1, i2, j1, j2 in opcodes:
            inside = i1 < position <= i2 if closing else i1 <= position < i2
            if inside and tag != "insert":
                return j1 + (position - i1 if tag == "equal" else min(position - i1, j2 - j1))
        return 0 if closing and position == 0 else len(new) if not closing else len(new)

    return place(start, False), place(end, True)
