"""The project store: identity across edits, immutable suggestions, decisions that survive
everything, codings, and the migration from the schema-1 database."""

import json
import sqlite3
from pathlib import Path

import pytest

from pipeline.records import Document, Suggestion
from pipeline.segment import segment_document
from pipeline.store import SCHEMA_VERSION, Decision, Store, StoreError, check_writable, suggestion_id

TEXT = "Ani: Anggaran kurang.\n\nBudi: Pelatihan bagus.\n\nAni: Ya."


def _document(text=TEXT, path="x.txt", **metadata):
    return Document(id=metadata.pop("id", path), path=path, format="txt", layout="transcript", text=text,
                    metadata=metadata)


def _save(store, document, suggestions=(), key="k1", model="v1"):
    segments = segment_document(document)
    run = store.start_run("corpus")
    store.save_document(document, segments, [3] * len(segments), list(suggestions), key, run, model)
    return segments


def _suggestion(segment, code="funding", direction="constraining", score=0.8):
    return Suggestion(segment.id, code, direction, "funding", score, "rule", "Anggaran")


def test_store_segments_keep_their_id_across_an_edit_and_retire_the_changed_one(tmp_path):
    with Store(tmp_path) as store:
        first = _save(store, _document())
        edited = _document(TEXT.replace("Pelatihan bagus.", "Pelatihan sangat bagus.").replace("Ani: Anggaran", "Ani:  Anggaran"))
        second = _save(store, edited, key="k2")
        assert first[0].id == second[0].id and first[2].id == second[2].id  # same text, same id
        assert first[0].start != second[0].start  # moved by the edit, id unchanged
        assert first[1].id != second[1].id
        rows = dict(store.db.execute("SELECT id, active FROM segments").fetchall())
        assert rows == {first[0].id: 1, first[1].id: 0, second[1].id: 1, first[2].id: 1}
        assert store.db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 1
        assert store.db.execute("SELECT COUNT(*) FROM document_versions").fetchone()[0] == 2
        current = store.segments_frame()
        assert list(current["segment_text"]) == [s.text for s in second]


def test_store_identical_files_stay_two_documents(tmp_path):
    with Store(tmp_path) as store:
        a = _save(store, _document(path="a.txt"))
        b = _save(store, _document(path="b.txt"))
        assert {s.id for s in a}.isdisjoint(s.id for s in b)
        assert store.document_ids() == ["a.txt", "b.txt"]
        assert store.document_counts(["a.txt", "b.txt"])["segments"] == 6


def test_store_repeated_text_in_one_document_gets_distinct_ids():
    segments = segment_document(_document("Ani: Ya.\n\nBudi: Ya.\n\nAni: Ya."))
    assert len({s.id for s in segments}) == 3


def test_store_suggestions_are_immutable_and_decisions_keep_their_snapshot(tmp_path):
    with Store(tmp_path) as store:
        segments = _save(store, _document(), [_suggestion(s) for s in _document_segments()[:1]])
        [old] = store.suggestions_frame()["suggestion_id"]
        store.add_decisions([Decision(segments[0].id, old, "accept", "funding", "constraining", "rina")])
        # another model proposes the same code with another direction and score
        _save(store, _document(), [_suggestion(segments[0], direction="supporting", score=0.6)], key="k2", model="v2")
        rows = store.db.execute("SELECT id, direction, score, model_version, retired_run IS NULL FROM suggestions "
                                "ORDER BY created_at, id").fetchall()
        assert len(rows) == 2
        assert (old, "constraining", 0.8, "v1", 0) in rows  # unchanged content, retired
        [decision] = store.decisions_frame().itertuples()
        assert (decision.suggestion_id, decision.seen_direction, decision.seen_score, decision.seen_model_version) == (
            old, "constraining", 0.8, "v1")
        [coding] = store.codings_frame().itertuples()
        assert (coding.code, coding.direction, coding.coder, coding.origin) == ("funding", "constraining", "rina", "accepted")
        # the same run again adds nothing
        _save(store, _document(), [_suggestion(segments[0], direction="supporting", score=0.6)], key="k3", model="v2")
        assert store.db.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0] == 2


def _document_segments():
    return segment_document(_document())


def test_store_decisions_append_retract_codings_and_go_stale(tmp_path):
    with Store(tmp_path) as store:
        segments = _save(store, _document(), [_suggestion(segments) for segments in _document_segments()[:2]])
        first, second = store.suggestions_frame()["suggestion_id"]
        counts = store.add_decisions([
            Decision(segments[0].id, first, "accept", "funding", "constraining", "rina"),
            Decision(segments[1].id, second, "edit", "training", "supporting", "rina", "pelatihan, bukan dana"),
            Decision(segments[2].id, None, "add", "exchange", None, "rina"),
        ])
        assert counts == {"added": 3, "unchanged": 0}
        again = store.add_decisions([Decision(segments[0].id, first, "accept", "funding", "constraining", "rina")])
        assert again == {"added": 0, "unchanged": 1}
        store.add_decisions([Decision(segments[0].id, first, "reject", "funding", "constraining", "rina")])
        codings = store.codings_frame()
        assert sorted(codings["code"]) == ["exchange", "training"]  # the acceptance's coding is retracted
        assert len(store.codings_frame(current=False)) == 3
        assert store.db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 4
        # the transcript changes under the edited segment: its decision is stale, the others are not
        _save(store, _document(TEXT.replace("Pelatihan bagus.", "Pelatihan kurang.")), key="k2")
        decisions = store.decisions_frame()
        stale = decisions[decisions["stale"]]
        assert list(stale["segment_text"]) == ["Pelatihan bagus."] and list(stale["code"]) == ["training"]
        assert decisions["stale"].sum() == 1 and len(decisions) == 3


def test_store_is_in_wal_mode_with_the_schema_version(tmp_path):
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_store_flushes_every_commit_except_while_writing_derived_documents(tmp_path):
    """Decisions and the rest are flushed to disk commit by commit (``synchronous`` FULL);
    processed documents, which a run can make again, only within ``derived_writes``."""
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2
        with pytest.raises(RuntimeError):
            with store.derived_writes():
                assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1
                raise RuntimeError("a run stopped midway")
        assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_store_commits_processed_documents_in_groups_each_document_whole(tmp_path, monkeypatch):
    """Within ``derived_writes`` documents are committed a group at a time: another
    connection sees a group once it is due, or at ``commit_group`` (before a run's next
    batch); a document that fails midway leaves nothing, and the whole documents before it
    are committed on leaving."""
    import pipeline.store as store_module

    monkeypatch.setattr(store_module, "GROUP_DOCUMENTS", 2)
    monkeypatch.setattr(store_module, "GROUP_SECONDS", 3600.0)

    def stored(path):
        with sqlite3.connect(path) as other:
            return (sorted(row[0] for row in other.execute("SELECT id FROM documents")),
                    other.execute("SELECT COUNT(*) FROM segments").fetchone()[0])

    def save(store, document, suggestions):
        segments = segment_document(document)
        store.save_document(document, segments, [3] * len(segments), suggestions, "k", run, "v1")

    def failing(segments):
        yield _suggestion(segments[0])
        raise OSError("the disk is full")

    with Store(tmp_path) as store:
        run = store.start_run("corpus")
        with pytest.raises(OSError):
            with store.derived_writes():
                for name in ("a.txt", "b.txt", "c.txt"):
                    save(store, _document(path=name), [])
                assert stored(store.path) == (["a.txt", "b.txt"], 6)  # the first group; c.txt waits
                store.commit_group()
                assert stored(store.path) == (["a.txt", "b.txt", "c.txt"], 9)
                save(store, _document(path="e.txt"), [])  # a group of its own now, not yet due
                assert stored(store.path) == (["a.txt", "b.txt", "c.txt"], 9)
                broken = _document(path="d.txt", text="Ani: Dana habis.\n\nBudi: Lalu?")
                save(store, broken, failing(segment_document(broken)))
        assert stored(store.path) == (["a.txt", "b.txt", "c.txt", "e.txt"], 12)
        assert not store.db.in_transaction
        store.commit_group()  # outside derived_writes: nothing to do


def test_store_damaged_database_is_a_clear_error(tmp_path):
    (tmp_path / ".pilah").mkdir()
    (tmp_path / ".pilah" / "pilah.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="pilah.sqlite"):
        check_writable(tmp_path)


# The schema of Pilah 0.1's database (version 1), as it was written.
_V1_SCHEMA = """
CREATE TABLE documents (id TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT NOT NULL, layout TEXT NOT NULL,
    text TEXT NOT NULL, metadata TEXT NOT NULL, processing_key TEXT, updated_at TEXT NOT NULL);
CREATE TABLE segments (id TEXT PRIMARY KEY, document_id TEXT NOT NULL REFERENCES documents(id), idx INTEGER NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, speaker TEXT,
    timestamp TEXT, language TEXT NOT NULL, language_score REAL NOT NULL, tokens INTEGER NOT NULL);
CREATE INDEX segments_document ON segments(document_id);
CREATE TABLE suggestions (id TEXT PRIMARY KEY, segment_id TEXT NOT NULL REFERENCES segments(id), code TEXT NOT NULL,
    direction TEXT NOT NULL, factor_type TEXT NOT NULL, score REAL NOT NULL, source TEXT NOT NULL,
    evidence TEXT NOT NULL, model_version TEXT, run_id INTEGER NOT NULL);
CREATE INDEX suggestions_segment ON suggestions(segment_id);
CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, suggestion_id TEXT NOT NULL, decision TEXT NOT NULL,
    corrected_code TEXT, comment TEXT, reviewer TEXT, decided_at TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, finished_at TEXT,
    corpus TEXT NOT NULL, summary TEXT);
CREATE TABLE failures (run_id INTEGER NOT NULL, path TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT NOT NULL);
"""


def _v1_database(tmp_path):
    """A schema-1 project as Pilah 0.1 left it after an edit: the transcript twice (two
    document rows, keyed by text hash), decisions on both versions."""
    (tmp_path / ".pilah").mkdir()
    db = sqlite3.connect(tmp_path / ".pilah" / "pilah.sqlite")
    db.executescript(_V1_SCHEMA)
    old_text, new_text = TEXT, TEXT.replace("Pelatihan bagus.", "Pelatihan kurang.")
    for doc_id, text, updated in (("h1" * 32, old_text, "2026-01-01"), ("h2" * 32, new_text, "2026-02-01")):
        db.execute("INSERT INTO documents VALUES (?, 'x.txt', 'txt', 'transcript', ?, ?, 'key', ?)",
                   (doc_id, text, json.dumps({"case": "K1"}), updated))
        for i, segment in enumerate(segment_document(_document(text))):
            old_id = f"{doc_id[:12]}:{segment.start}-{segment.end}"
            db.execute("INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'id', 0.9, 3)",
                       (old_id, doc_id, i, segment.start, segment.end, segment.text, segment.speaker))
            db.execute("INSERT INTO suggestions VALUES (?, ?, 'funding', 'constraining', 'funding', 0.7, 'rule', 'x', 'v1', 1)",
                       (f"{old_id}#funding", old_id))
    first, second = [f"{'h1' * 6}:{s.start}-{s.end}#funding" for s in segment_document(_document(old_text))[:2]]
    db.execute("INSERT INTO decisions (suggestion_id, decision, corrected_code, comment, reviewer, decided_at) "
               "VALUES (?, 'accept', NULL, 'ok', 'rina', '2026-01-05')", (first,))
    db.execute("INSERT INTO decisions (suggestion_id, decision, corrected_code, comment, reviewer, decided_at) "
               "VALUES (?, 'edit', 'training', '', 'rina', '2026-01-06')", (second,))
    db.execute("INSERT INTO runs (started_at, corpus) VALUES ('2026-01-01', 'corpus')")
    db.commit()
    db.close()


def test_store_migrates_a_schema_1_database_keeping_every_decision(tmp_path):
    _v1_database(tmp_path)
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.document_ids() == ["x.txt"]
        assert store.db.execute("SELECT COUNT(*) FROM document_versions").fetchone()[0] == 2
        decisions = store.decisions_frame()
        assert list(decisions["decision"]) == ["accept", "edit"]
        assert list(decisions["reviewer"]) == ["rina", "rina"] and list(decisions["decided_at"]) == ["2026-01-05", "2026-01-06"]
        # the accepted turn is unchanged in the current version; the edited one changed since
        assert list(decisions["stale"]) == [False, True]
        assert list(decisions["segment_text"]) == ["Anggaran kurang.", "Pelatihan bagus."]
        codings = store.codings_frame()
        assert sorted(zip(codings["code"], codings["origin"])) == [("funding", "accepted"), ("training", "edited")]
        active = store.segments_frame()
        assert list(active["segment_text"]) == ["Anggaran kurang.", "Pelatihan kurang.", "Ya."]
        assert store.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not any(t.startswith("v1_") for t in tables)
    # opening again changes nothing
    with Store(tmp_path) as store:
        assert len(store.decisions_frame()) == 2


def test_store_imports_a_sheet_written_before_the_migration(tmp_path, codebook):
    from pipeline.decisions import import_sheet

    _v1_database(tmp_path)
    third = segment_document(_document(TEXT.replace("Pelatihan bagus.", "Pelatihan kurang.")))[2]  # "Ya.", moved
    old_id = f"{'h2' * 6}:{third.start}-{third.end}#funding"
    (tmp_path / "old_sheet.csv").write_text(
        "document,segment_text,code,decision,corrected_code,comment,reviewer,suggestion_id\n"
        f"x.txt,Ya.,funding,edit,training,,budi,{old_id}\n", encoding="utf-8")
    with Store(tmp_path) as store:
        report = import_sheet(store, tmp_path / "old_sheet.csv", codebook)
        assert (report.added, report.problems) == (1, [])
        decision = store.decisions_frame().iloc[-1]
        assert (decision["segment_id"], decision["code"], decision["seen_code"], decision["reviewer"]) == (
            third.id, "training", "funding", "budi")
        assert decision["suggestion_id"] in set(store.suggestions_frame()["suggestion_id"])


def test_store_suggestion_id_is_content(tmp_path):
    segment = _document_segments()[0]
    a, b = _suggestion(segment), _suggestion(segment, score=0.81)
    assert suggestion_id(a, "v1") == suggestion_id(a, "v1") != suggestion_id(a, "v2")
    assert suggestion_id(a, "v1") != suggestion_id(b, "v1")


def test_store_an_empty_project_has_a_status_and_an_empty_sheet(tmp_path, codebook):
    from pipeline.decisions import review_status
    from pipeline.review import review_frame

    with Store(tmp_path) as store:
        status = review_status(store)
        assert (status["decisions"], status["pending"], status["stale"]) == (0, 0, 0)
        sheet, stale = review_frame(store, codebook)
        assert len(sheet) == len(stale) == 0


def test_store_suggestion_counts_are_the_rows_of_suggestions_frame(tmp_path):
    """``pilah review status`` and the report count what the sheet lists, without reading it:
    per code, all suggestions in force and the pending ones (no decision on their code yet),
    a retired suggestion and a stale segment's left out."""
    with Store(tmp_path) as store:
        segments = _save(store, _document(), [_suggestion(s, code) for s in _document_segments()
                                             for code in ("funding", "training")])
        assert store.suggestion_counts() == {"funding": 3, "training": 3} == store.suggestion_counts(pending=True)
        frame = store.suggestions_frame().set_index(["segment_id", "code"])["suggestion_id"]
        store.add_decisions([Decision(segments[0].id, frame[(segments[0].id, "funding")], "reject", "funding", None, "rina"),
                             Decision(segments[1].id, frame[(segments[1].id, "training")], "edit", "exchange", None, "budi"),
                             Decision(segments[2].id, None, "add", "training", None, "rina")])
        for pending in (False, True):
            rows = store.suggestions_frame(pending=pending)
            assert store.suggestion_counts(pending) == rows["code"].value_counts().to_dict()
        assert store.suggestion_counts(pending=True) == {"funding": 2, "training": 1}
        # the transcript changes under the second segment: its suggestions leave both counts
        _save(store, _document(TEXT.replace("Pelatihan bagus.", "Pelatihan kurang.")),
              [_suggestion(s, code) for s in (segments[0], segments[2]) for code in ("funding", "training")], key="k2")
        assert store.suggestion_counts() == {"funding": 2, "training": 2}
        assert store.suggestion_counts(pending=True) == {"funding": 1, "training": 1}
        assert store.suggestion_counts(pending=True) == store.suggestions_frame(pending=True)["code"].value_counts().to_dict()


def test_store_frames_hold_their_own_columns(tmp_path):
    """A column kept from a frame the store read keeps only itself: read_sql_query's columns
    were views of one array of the whole result, so one kept column held every text."""
    with Store(tmp_path) as store:
        _save(store, _document(), [_suggestion(s) for s in _document_segments()])
        for frame in (store.segments_frame(), store.suggestions_frame(), store.codings_frame(), store.documents_frame()):
            for column in frame.select_dtypes(exclude="number").columns:
                values = frame[column].to_numpy()
                assert values.base is None or values.base.size == len(values), column


_V4_DUMP = Path(__file__).parent / "fixtures" / "store_v4" / "store_v4.sql"


def test_store_migrates_a_schema_4_database_written_by_pilah_keeping_every_decision(tmp_path):
    """A version-4 database as Pilah wrote it (commit 36e0c0e; tests/fixtures/store_v4 says
    how it was made): after the migration and a re-run, every decision and coding row is
    as it was, the same decisions are in force, and the same ones are stale."""
    (tmp_path / ".pilah").mkdir()
    with sqlite3.connect(tmp_path / ".pilah" / "pilah.sqlite") as db:
        db.executescript(_V4_DUMP.read_text(encoding="utf-8"))
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4
        decided = db.execute("SELECT * FROM decisions ORDER BY id").fetchall()
        coded = db.execute("SELECT * FROM codings ORDER BY id").fetchall()
        retired = {row[0] for row in db.execute("SELECT id FROM segments WHERE active = 0")}
    db.close()
    # each reviewer's latest decision per segment and code, read from the rows themselves
    latest = {}
    for row in decided:  # id, segment_id, suggestion_id, decision, code, direction, seen_code, ...
        latest[(row[13], row[1], row[6] or row[4])] = row[0]
    assert len(latest) < len(decided)  # one decision was replaced by a later one
    assert retired and {row[1] for row in decided} & retired  # and some are on a retired segment

    def check(store):
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.execute("SELECT * FROM decisions ORDER BY id").fetchall() == decided
        assert store.db.execute("SELECT * FROM codings ORDER BY id").fetchall() == coded
        in_force = store.decisions_frame()
        assert sorted(in_force["decision_id"]) == sorted(latest.values())
        assert set(in_force.loc[in_force["stale"], "segment_id"]) == {row[1] for row in decided} & retired
        assert len(store.decisions_frame(in_force=False)) == len(decided)

    with Store(tmp_path) as store:
        check(store)
        [stored] = store.documents_frame().to_dict("records")
        doc = Document(id=stored["document_id"], path=stored["path"], format=stored["format"],
                       layout=stored["layout"], text=stored["text"], metadata=stored["metadata"])
        _save(store, doc, [_suggestion(s) for s in segment_document(doc)], key="k3", model="v3")  # a re-run
        check(store)
    with Store(tmp_path) as store:  # opening again changes nothing
        check(store)
