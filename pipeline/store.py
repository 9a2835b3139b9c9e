"""The project database: one SQLite file (WAL mode) per project directory.

It holds documents, segments, suggestions, runs, failures and analysts' decisions.
Decisions are append-only; re-running never deletes one, and a suggestion that has a
decision is kept even when a newer model no longer proposes it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from pipeline.records import Document, Failure, Segment, Suggestion

STORE_DIR = ".pilah"
STORE_FILE = "pilah.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT NOT NULL, layout TEXT NOT NULL,
    text TEXT NOT NULL, metadata TEXT NOT NULL, processing_key TEXT, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL REFERENCES documents(id), idx INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, speaker TEXT,
    timestamp TEXT, language TEXT NOT NULL, language_score REAL NOT NULL, tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_document ON segments(document_id);
CREATE TABLE IF NOT EXISTS suggestions (
    id TEXT PRIMARY KEY, segment_id TEXT NOT NULL REFERENCES segments(id), code TEXT NOT NULL,
    direction TEXT NOT NULL, factor_type TEXT NOT NULL, score REAL NOT NULL, source TEXT NOT NULL,
    evidence TEXT NOT NULL, model_version TEXT, run_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS suggestions_segment ON suggestions(segment_id);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, suggestion_id TEXT NOT NULL, decision TEXT NOT NULL,
    corrected_code TEXT, comment TEXT, reviewer TEXT, decided_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
    corpus TEXT NOT NULL, summary TEXT
);
CREATE TABLE IF NOT EXISTS failures (
    run_id INTEGER NOT NULL, path TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL
);
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """The SQLite project database of one project directory."""

    def __init__(self, project_dir: str | Path):
        self.path = Path(project_dir) / STORE_DIR / STORE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs ------------------------------------------------------------------------
    def start_run(self, corpus: str) -> int:
        with self.db:
            cursor = self.db.execute("INSERT INTO runs (started_at, corpus) VALUES (?, ?)", (now(), corpus))
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, summary: dict) -> None:
        with self.db:
            self.db.execute(
                "UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?",
                (now(), json.dumps(summary, ensure_ascii=False), run_id),
            )

    def add_failure(self, run_id: int, failure: Failure) -> None:
        with self.db:
            self.db.execute("INSERT INTO failures VALUES (?, ?, ?, ?)", (run_id, *asdict(failure).values()))

    # -- documents -------------------------------------------------------------------
    def processing_key(self, document_id: str) -> str | None:
        row = self.db.execute("SELECT processing_key FROM documents WHERE id = ?", (document_id,)).fetchone()
        return row[0] if row else None

    def save_document(
        self,
        document: Document,
        segments: list[Segment],
        tokens: list[int],
        suggestions: Iterable[Suggestion],
        processing_key: str,
        run_id: int,
        model_version: str | None,
    ) -> None:
        """Store a processed document in one transaction, replacing earlier suggestions
        for it except those an analyst has decided on."""
        with self.db:
            self.db.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "path = excluded.path, format = excluded.format, layout = excluded.layout, text = excluded.text, metadata = excluded.metadata, "
                "processing_key = excluded.processing_key, updated_at = excluded.updated_at",
                (document.id, document.path, document.format, document.layout, document.text,
                 json.dumps(document.metadata, ensure_ascii=False), processing_key, now()),
            )
            self.db.executemany(
                "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "language = excluded.language, language_score = excluded.language_score, "
                "tokens = excluded.tokens",
                [(s.id, s.document_id, s.index, s.start, s.end, s.text, s.speaker, s.timestamp,
                  s.language, s.language_score, n) for s, n in zip(segments, tokens)],
            )
            self.db.execute(
                "DELETE FROM suggestions WHERE segment_id IN (SELECT id FROM segments WHERE document_id = ?) "
                "AND id NOT IN (SELECT suggestion_id FROM decisions)",
                (document.id,),
            )
            self.db.executemany(
                "INSERT INTO suggestions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "direction = excluded.direction, factor_type = excluded.factor_type, score = excluded.score, "
                "source = excluded.source, evidence = excluded.evidence, "
                "model_version = excluded.model_version, run_id = excluded.run_id",
                [(suggestion_id(s), s.segment_id, s.code, s.direction, s.factor_type, s.score, s.source,
                  s.evidence, model_version, run_id) for s in suggestions],
            )

    def touch_document(self, document: Document) -> None:
        """Record a skipped (unchanged) document's current path and metadata."""
        with self.db:
            self.db.execute(
                "UPDATE documents SET path = ?, metadata = ? WHERE id = ?",
                (document.path, json.dumps(document.metadata, ensure_ascii=False), document.id),
            )

    def document_counts(self, document_ids: list[str]) -> dict[str, int]:
        """Segments, tokens and suggestions stored for these documents."""
        marks = ",".join("?" * len(document_ids)) or "''"
        segments, tokens = self.db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(tokens), 0) FROM segments WHERE document_id IN ({marks})",
            document_ids,
        ).fetchone()
        suggestions = self.db.execute(
            f"SELECT COUNT(*) FROM suggestions JOIN segments ON segments.id = suggestions.segment_id "
            f"WHERE segments.document_id IN ({marks})",
            document_ids,
        ).fetchone()[0]
        return {"segments": segments, "tokens": tokens, "suggestions": suggestions}

    # -- reading back ----------------------------------------------------------------
    def suggestions_frame(self, document_ids: list[str]) -> pd.DataFrame:
        """Suggestions joined with their segment and document, in reading order."""
        marks = ",".join("?" * len(document_ids)) or "''"
        query = f"""
            SELECT suggestions.id AS suggestion_id, documents.path AS document, documents.metadata,
                   segments.speaker, segments.timestamp, segments.start AS segment_start,
                   segments."end" AS segment_end, segments.language, segments.text AS segment_text,
                   suggestions.code, suggestions.direction, suggestions.factor_type, suggestions.score,
                   suggestions.source, suggestions.evidence
            FROM suggestions
            JOIN segments ON segments.id = suggestions.segment_id
            JOIN documents ON documents.id = segments.document_id
            WHERE documents.id IN ({marks})
            ORDER BY documents.path, segments.start, suggestions.score DESC, suggestions.code
        """
        return pd.read_sql_query(query, self.db, params=document_ids)

    def segments_frame(self, document_ids: list[str]) -> pd.DataFrame:
        marks = ",".join("?" * len(document_ids)) or "''"
        return pd.read_sql_query(
            f'SELECT * FROM segments WHERE document_id IN ({marks}) ORDER BY document_id, start',
            self.db,
            params=document_ids,
        )


def suggestion_id(suggestion: Suggestion) -> str:
    """Stable id: the same segment and code give the same suggestion across runs."""
    return f"{suggestion.segment_id}#{suggestion.code}"
