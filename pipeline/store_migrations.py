"""Migrations of the project database to the current schema (see ``pipeline.store``).

Version 1 (Pilah 0.1 until the review loop) keyed documents by their text's hash, so an
edited transcript became a second document; segment ids held offsets; suggestions were
updated in place; decisions held only a suggestion id and a corrected code. ``migrate_v1``
rebuilds that content under version 2's identities in one transaction:

- every version-1 document row becomes a *version* of the document at its place in the
  corpus (manifest id or path); the most recently updated one is the current version;
- segments get their text-based ids; those not in the current version are retired;
- suggestions keep their content under content ids (retired with their segment); the old
  ids are kept in ``legacy_suggestion_ids``, so a review sheet written before the upgrade
  can still be imported;
- decisions keep their reviewer, time and comment, with the suggestion as it stands as the
  snapshot (version 1 kept no other), and become codings as a new decision would.

A version-1 decision whose suggestion and segment are both gone cannot be placed; it is
kept, untouched, in the table ``legacy_v1_decisions``.

Version 3 adds the table ``pseudonyms`` (``pipeline.privacy``); ``migrate_v2`` creates it.
Version 4 adds ``documents.source_key``, the signature of the file a document was read
from, by which a run knows an unchanged file without reading it; ``migrate_v3`` adds the
column, empty: the next run reads every file once more and fills it.
Version 5 adds ``segments.role`` (``RESEARCHER`` for the researcher's own turns, decided at
segmentation) and ``failures.traceback`` (where an unexpected error was raised);
``migrate_v4`` adds both, empty, and the project fills the roles from its settings when it
opens the store (``pipeline.project.Project``; ``Store.assign_roles``).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from pipeline.records import Suggestion

_V1_TABLES = ("documents", "segments", "suggestions", "decisions")


def migrate_v1(db: sqlite3.Connection, schema: str) -> None:
    """Bring a version-1 database to version 2 in one transaction (or leave it untouched)."""
    from pipeline.segment import segment_id
    from pipeline.store import Decision, recode, suggestion_id

    db.commit()
    db.execute("PRAGMA foreign_keys=OFF")
    renames = "".join(f"ALTER TABLE {t} RENAME TO v1_{t};" for t in _V1_TABLES)
    try:
        db.executescript(f"BEGIN; {renames} DROP INDEX IF EXISTS segments_document; "
                         f"DROP INDEX IF EXISTS suggestions_segment; {schema}")
        documents = db.execute(
            "SELECT id, path, format, layout, text, metadata, processing_key, updated_at FROM v1_documents "
            "ORDER BY updated_at, rowid"
        ).fetchall()
        new_document, segment_map, current_segments = {}, {}, set()
        latest = {}
        for old_id, path, _, _, _, metadata, _, _ in documents:
            latest[json.loads(metadata or "{}").get("id") or path] = old_id
        for old_id, path, fmt, layout, text, metadata, key, updated in documents:
            doc_id = json.loads(metadata or "{}").get("id") or path
            new_document[old_id] = doc_id
            is_current = latest[doc_id] == old_id
            if is_current:
                db.execute(
                    "INSERT INTO documents (id, path, format, layout, metadata, version, processing_key, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                    (doc_id, path, fmt, layout, metadata, old_id, updated, updated),
                )
            db.execute(
                "INSERT OR IGNORE INTO document_versions (document_id, version, text, first_run, created_at) "
                "VALUES (?, ?, ?, NULL, ?)",
                (doc_id, old_id, text, updated),
            )
            seen: Counter = Counter()
            for row in db.execute(
                'SELECT id, idx, start, "end", text, speaker, timestamp, language, language_score, tokens '
                "FROM v1_segments WHERE document_id = ? ORDER BY start", (old_id,)
            ).fetchall():
                old_segment, idx, start, end, seg_text = row[:5]
                new_id = segment_id(doc_id, seg_text, seen[seg_text])
                seen[seg_text] += 1
                segment_map[old_segment] = new_id
                if is_current:
                    current_segments.add(new_id)
                db.execute(
                    'INSERT INTO segments (id, document_id, version, idx, start, "end", text, speaker, timestamp, '
                    "language, language_score, tokens, active, retired_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) "
                    'ON CONFLICT(id) DO UPDATE SET version = excluded.version, idx = excluded.idx, start = excluded.start, '
                    '"end" = excluded."end", active = excluded.active',
                    (new_id, doc_id, old_id, idx, start, end, seg_text, *row[5:], int(is_current)),
                )
        db.execute("UPDATE segments SET active = 0 WHERE id NOT IN (SELECT value FROM json_each(?))",
                   (json.dumps(sorted(current_segments)),))
        suggestion_map = {}
        for old_id, old_segment, code, direction, factor_type, score, source, evidence, model_version, run_id in db.execute(
            "SELECT id, segment_id, code, direction, factor_type, score, source, evidence, model_version, run_id "
            "FROM v1_suggestions"
        ).fetchall():
            if old_segment not in segment_map:
                continue
            segment = segment_map[old_segment]
            new_id = suggestion_id(Suggestion(segment, code, direction, factor_type, score, source, evidence), model_version)
            suggestion_map[old_id] = (new_id, segment, code, direction, score, evidence, model_version)
            db.execute("INSERT OR IGNORE INTO legacy_suggestion_ids (old_id, new_id) VALUES (?, ?)", (old_id, new_id))
            db.execute(
                "INSERT OR IGNORE INTO suggestions (id, segment_id, code, direction, factor_type, score, source, "
                "evidence, confidence, model_version, run_id, created_at, retired_run) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, '', ?)",
                (new_id, segment, code, direction, factor_type, score, source, evidence, model_version, run_id,
                 None if segment in current_segments else run_id),
            )
        orphans = 0
        for _, old_suggestion, decision, corrected, comment, reviewer, decided_at in db.execute(
            "SELECT id, suggestion_id, decision, corrected_code, comment, reviewer, decided_at FROM v1_decisions ORDER BY id"
        ).fetchall():
            if old_suggestion not in suggestion_map:
                orphans += 1
                continue
            new_id, segment, code, direction, score, evidence, model_version = suggestion_map[old_suggestion]
            decided = corrected if decision == "edit" and corrected else code
            coder = reviewer or "unknown"
            cursor = db.execute(
                "INSERT INTO decisions (segment_id, suggestion_id, decision, code, direction, seen_code, seen_direction, "
                "seen_score, seen_evidence, seen_model_version, segment_text, comment, reviewer, decided_at, source) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, text, ?, ?, ?, 'migrated from schema 1' FROM segments WHERE id = ?",
                (segment, new_id, decision, decided, direction, code, direction, score, evidence, model_version,
                 comment or "", coder, decided_at, segment),
            )
            recode(db, cursor.lastrowid, Decision(segment, new_id, decision, decided, direction, coder), code, decided_at)
        db.execute("DROP TABLE v1_suggestions")
        db.execute("DROP TABLE v1_segments")
        db.execute("DROP TABLE v1_documents")
        if orphans:
            db.execute("ALTER TABLE v1_decisions RENAME TO legacy_v1_decisions")
        else:
            db.execute("DROP TABLE v1_decisions")
        db.execute("PRAGMA user_version = 2")
        db.commit()
    except Exception:
        db.rollback()
        raise
    finally:
        db.execute("PRAGMA foreign_keys=ON")


def migrate_v2(db: sqlite3.Connection, pseudonyms_schema: str) -> None:
    """Bring a version-2 database to version 3 (the ``pseudonyms`` table) in one transaction."""
    _in_one_transaction(db, f"{pseudonyms_schema} PRAGMA user_version = 3;")


def migrate_v3(db: sqlite3.Connection) -> None:
    """Bring a version-3 database to version 4 (``documents.source_key``) in one transaction."""
    _in_one_transaction(db, "ALTER TABLE documents ADD COLUMN source_key TEXT; PRAGMA user_version = 4;")


def migrate_v4(db: sqlite3.Connection) -> None:
    """Bring a version-4 database to version 5 (``segments.role``, ``failures.traceback``) in
    one transaction; a column a table has already is left as it is."""
    script = "".join(f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''; "
                     for table, column in (("segments", "role"), ("failures", "traceback"))
                     if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")})
    _in_one_transaction(db, script + "PRAGMA user_version = 5;")


def _in_one_transaction(db: sqlite3.Connection, script: str) -> None:
    """Run ``script`` (SQL statements) in one transaction: all of it or, on an error, none."""
    db.commit()
    try:
        db.executescript(f"BEGIN; {script} COMMIT;")
    except Exception:
        db.rollback()
        raise
