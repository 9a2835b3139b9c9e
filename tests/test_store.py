from pipeline.records import Document, Segment, Suggestion
from pipeline.store import Store, suggestion_id


def _document():
    text = "Ani: Anggaran kurang.\n\nBudi: Pelatihan bagus."
    doc = Document(id="a" * 64, path="x.txt", format="txt", layout="transcript", text=text, metadata={"case": "K1"})
    segments = [
        Segment(id="aaa:5-20", document_id=doc.id, index=0, start=5, end=20, text=text[5:20], speaker="Ani"),
        Segment(id="aaa:29-44", document_id=doc.id, index=1, start=29, end=44, text=text[29:44], speaker="Budi"),
    ]
    return doc, segments


def _suggestion(segment_id, code, score=0.8):
    return Suggestion(segment_id, code, "constraining", "funding", score, "rule", "Anggaran")


def test_store_rerun_replaces_without_duplicates(tmp_path):
    doc, segments = _document()
    with Store(tmp_path) as store:
        run = store.start_run("corpus")
        for score in (0.8, 0.9):
            store.save_document(doc, segments, [3, 3], [_suggestion("aaa:5-20", "funding", score)], "k1", run, "v1")
        frame = store.suggestions_frame([doc.id])
        assert len(frame) == 1 and frame["score"][0] == 0.9
        assert store.processing_key(doc.id) == "k1"
        assert store.document_counts([doc.id]) == {"segments": 2, "tokens": 6, "suggestions": 1}
    assert (tmp_path / ".pilah" / "pilah.sqlite").exists()


def test_store_keeps_suggestions_that_have_decisions(tmp_path):
    doc, segments = _document()
    decided = _suggestion("aaa:5-20", "funding")
    with Store(tmp_path) as store:
        run = store.start_run("corpus")
        store.save_document(doc, segments, [3, 3], [decided, _suggestion("aaa:29-44", "training")], "k1", run, "v1")
        with store.db:
            store.db.execute(
                "INSERT INTO decisions (suggestion_id, decision, reviewer, decided_at) VALUES (?, 'accept', 'rina', 'now')",
                (suggestion_id(decided),),
            )
        store.save_document(doc, segments, [3, 3], [], "k2", run, "v2")  # a new model proposes nothing
        assert list(store.suggestions_frame([doc.id])["code"]) == ["funding"]
        assert store.db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 1


def test_store_is_in_wal_mode(tmp_path):
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
