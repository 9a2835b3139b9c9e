"""What makes a stored document stale: its text, and every setting and file it was processed with."""

import shutil

from pipeline.codebook import load_codebook
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.engine import settings_key
from cli_helpers import run_corpus as run  # tests/cli_helpers.py


def test_engine_settings_key_follows_file_contents_not_paths(tmp_path):
    lexicon = tmp_path / "colloquial.tsv"
    shutil.copy(PROJECT_ROOT / "configs" / "lexicon" / "colloquial_id.tsv", lexicon)
    (tmp_path / "pilah.toml").write_text(f'[nlp]\ncolloquial_lexicon = "{lexicon.name}"\n', encoding="utf-8")
    config = load_config(tmp_path / "pilah.toml")
    codebook = load_codebook(config.path("suggest", "codebook"))
    before = settings_key(config, codebook, "abc")
    assert settings_key(load_config(tmp_path / "pilah.toml"), codebook, "abc") == before
    with open(lexicon, "a", encoding="utf-8") as handle:
        handle.write("gpp\tgak apa-apa\n")
    assert settings_key(load_config(tmp_path / "pilah.toml"), codebook, "abc") != before
    assert settings_key(config, codebook, "abd") != settings_key(config, codebook, "abc")


def test_engine_identical_files_and_a_lexicon_change_end_to_end(tmp_path, sample_corpus):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = sample_corpus / "interviews" / "02_pengusaha_kopi_lembah_hijau.txt"
    shutil.copy(source, corpus / "a.txt")
    shutil.copy(source, corpus / "b.txt")
    lexicon = tmp_path / "colloquial.tsv"
    shutil.copy(PROJECT_ROOT / "configs" / "lexicon" / "colloquial_id.tsv", lexicon)
    config = tmp_path / "pilah.toml"
    config.write_text(f'[nlp]\ncolloquial_lexicon = "{lexicon.name}"\n', encoding="utf-8")
    first = run(corpus, config, tmp_path / "out", tmp_path)
    assert first["counts"]["documents"] == 2 and first["counts"]["documents_processed"] == 2
    assert set(first["suggestions_per_document"]) == {"a.txt", "b.txt"}
    assert run(corpus, config, tmp_path / "out", tmp_path)["counts"]["documents_unchanged"] == 2
    with open(lexicon, "a", encoding="utf-8") as handle:
        handle.write("gpp\tgak apa-apa\n")
    assert run(corpus, config, tmp_path / "out", tmp_path)["counts"]["documents_processed"] == 2


def test_engine_a_batch_gives_each_document_what_it_gets_alone_and_keeps_a_failure_to_its_document(
        stages, sample_corpus):
    """Documents go through spaCy and the suggester in batches; the outcome of each is the
    one it gets alone, and a document whose suggestion fails fails alone."""
    from pipeline.engine import Processed, batches, process_documents
    from pipeline.ingest import iter_documents
    from pipeline.records import Failure

    documents = [d for d in iter_documents(sample_corpus / "interviews", stages.config.section("ingest"))]
    alone = [process_documents([d], stages)[0] for d in documents]  # one document at a time
    together = process_documents(documents, stages)
    for one, batched in zip(alone, together):
        assert isinstance(batched, Processed)
        assert (batched.segments, batched.tokens, batched.suggestions) == (one.segments, one.tokens, one.suggestions)

    suggester = stages.suggester

    class Fussy:
        """A suggester that cannot read one of the documents."""
        def __getattr__(self, name):
            return getattr(suggester, name)

        def __call__(self, items, *vectors):
            if any("Minamiura Prefecture" in segment.text for segment, _ in items):
                raise KeyError("cannot read this one")  # any exception: the boundary is per document
            return suggester(items, *vectors)

    stages.suggester = Fussy()
    try:
        outcomes = process_documents(documents, stages)
    finally:
        stages.suggester = suggester
    failed = [d.path for d, o in zip(documents, outcomes) if isinstance(o, Failure)]
    assert len(failed) == 1 and "03_minamiura" in failed[0]
    [failure] = [o for o in outcomes if isinstance(o, Failure)]
    assert failure.stage == "suggest" and failure.reason == "KeyError: 'cannot read this one'"
    assert "Traceback" in failure.traceback and "in __call__" in failure.traceback  # a bug: where it was raised
    kept = [(o, a) for o, a in zip(outcomes, alone) if not isinstance(o, Failure)]
    assert len(kept) == len(documents) - 1 and all(o.suggestions == a.suggestions for o, a in kept)
    sizes = [sum(len(d.text) for d in batch) for batch in batches(documents * 3, characters=30_000)]
    assert len(sizes) > 1 and sum(sizes) == 3 * sum(len(d.text) for d in documents)


def test_engine_a_rerun_with_nothing_changed_rewrites_nothing_and_any_change_rewrites_all(tmp_path, sample_corpus,
                                                                                            monkeypatch):
    import os

    import pipeline.decisions

    from openpyxl import load_workbook

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("02_pengusaha_kopi_lembah_hijau.txt", "04_pendamping_umkm_nadia.txt"):
        shutil.copy(sample_corpus / "interviews" / name, corpus / name)
    out = tmp_path / "out"
    first = run(corpus, None, out, tmp_path)
    assert not first["exports_unchanged"]
    written = {path: os.stat(path).st_mtime_ns for path in first["outputs"]}
    read = []
    reader = pipeline.decisions.read_sheet
    monkeypatch.setattr(pipeline.decisions, "read_sheet", lambda path: read.append(path) or reader(path))
    again = run(corpus, None, out, tmp_path)
    assert read == []  # the sheets are as the first run wrote them: nothing to import
    assert again["exports_unchanged"] and again["outputs"] == first["outputs"]
    assert {path: os.stat(path).st_mtime_ns for path in again["outputs"]} == written
    from cli_helpers import invoke, said  # tests/cli_helpers.py

    assert "nothing changed since the last run" in said(invoke("run", corpus, "--project", tmp_path, "--out", out))
    assert {path: os.stat(path).st_mtime_ns for path in again["outputs"]} == written
    assert {k: again["counts"][k] for k in ("review_rows", "suggestions")} == \
           {k: first["counts"][k] for k in ("review_rows", "suggestions")}

    # the analyst decides on a row: the sheet is read, the decision kept, every export rewritten
    book = load_workbook(out / "suggestions.xlsx")
    sheet = book["Suggestions"]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(2, header.index("decision") + 1, "accept")
    book.save(out / "suggestions.xlsx")
    third = run(corpus, None, out, tmp_path)
    assert third["imported_decisions"][0]["added"] == 1 and not third["exports_unchanged"]
    assert third["counts"]["decisions_prefilled"] == 1
    assert all(os.stat(path).st_mtime_ns != written[path] for path in third["outputs"] if path in written)

    (out / "report.html").unlink()  # a file gone: written again
    fourth = run(corpus, None, out, tmp_path)
    assert not fourth["exports_unchanged"] and (out / "report.html").exists()
    assert run(corpus, None, out, tmp_path)["exports_unchanged"]


def test_engine_a_file_unchanged_since_it_was_stored_is_not_read_again(tmp_path, sample_corpus, monkeypatch):
    import os

    import pipeline.ingest
    from pipeline.store import Store

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = ("02_pengusaha_kopi_lembah_hijau.txt", "04_pendamping_umkm_nadia.txt")
    for name in names:
        shutil.copy(sample_corpus / "interviews" / name, corpus / name)
    manifest = "file,id,role\n{},kopi,pengusaha\n{},nadia,pendamping\n"
    (corpus / "manifest.csv").write_text(manifest.format(*names), encoding="utf-8")
    out = tmp_path / "out"
    # a file changed within RECENT_SECONDS may change again unseen within its time stamp: read each run
    monkeypatch.setattr(pipeline.ingest, "RECENT_SECONDS", 3600.0)
    first = run(corpus, None, out, tmp_path)
    assert first["counts"]["documents_processed"] == 2
    assert run(corpus, None, out, tmp_path)["counts"]["documents_unread"] == 0

    monkeypatch.setattr(pipeline.ingest, "RECENT_SECONDS", 0.0)
    read: list[str] = []
    reader = pipeline.ingest.read_document
    monkeypatch.setattr(pipeline.ingest, "read_document", lambda path, *a: read.append(path.name) or reader(path, *a))
    assert run(corpus, None, out, tmp_path)["counts"]["documents_unread"] == 0  # read once more, now signed
    assert sorted(read) == sorted(names)
    read.clear()
    unread = run(corpus, None, out, tmp_path)
    assert read == [] and unread["counts"]["documents_unread"] == unread["counts"]["documents_unchanged"] == 2
    assert unread["exports_unchanged"] and unread["counts"]["suggestions"] == first["counts"]["suggestions"]
    everything = run(corpus, None, out, tmp_path, read_all=True)  # pilah run --read-all
    assert sorted(read) == sorted(names) and everything["counts"]["documents_unread"] == 0
    assert everything["counts"]["documents_unchanged"] == 2 and everything["exports_unchanged"]
    read.clear()

    # an edit that keeps the size and puts the modification time back is still seen
    edited = corpus / names[0]
    before = os.stat(edited)
    edited.write_text(edited.read_text(encoding="utf-8").replace("kopi", "kopo"), encoding="utf-8")
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(edited).st_size == before.st_size
    after = run(corpus, None, out, tmp_path)
    assert read == [names[0]] and after["counts"]["documents_processed"] == 1
    assert after["counts"]["documents_unread"] == 1

    # a manifest row changed: its file is read again, its metadata stored, nothing processed
    read.clear()
    (corpus / "manifest.csv").write_text(manifest.replace("pendamping\n", "fasilitator\n").format(*names),
                                         encoding="utf-8")
    metadata = run(corpus, None, out, tmp_path)
    assert read == [names[1]] and metadata["counts"]["documents_processed"] == 0
    with Store(tmp_path) as store:
        stored = store.db.execute("SELECT metadata FROM documents WHERE id = 'nadia'").fetchone()[0]
    assert '"role": "fasilitator"' in stored

    # other settings: every file is read (and here processed) again
    read.clear()
    config = tmp_path / "pilah.toml"
    config.write_text("[suggest]\nmax_codes_per_segment = 2\n", encoding="utf-8")
    changed = run(corpus, config, out, tmp_path)
    assert sorted(read) == sorted(names) and changed["counts"]["documents_processed"] == 2


def test_engine_a_version_3_store_reads_each_file_once_more_then_no_more(tmp_path, sample_corpus, monkeypatch):
    import sqlite3

    import pipeline.ingest
    from pipeline.store import SCHEMA_VERSION, STORE_DIR, STORE_FILE, Store

    monkeypatch.setattr(pipeline.ingest, "RECENT_SECONDS", 0.0)
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_corpus / "interviews", corpus)
    out = tmp_path / "out"
    first = run(corpus, None, out, tmp_path)
    database = tmp_path / STORE_DIR / STORE_FILE
    db = sqlite3.connect(database)
    documents = db.execute("SELECT id, path, metadata, version, processing_key FROM documents ORDER BY id").fetchall()
    db.execute("ALTER TABLE documents DROP COLUMN source_key")  # as version 3 had it
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.execute("SELECT id, path, metadata, version, processing_key FROM documents "
                                "ORDER BY id").fetchall() == documents
        assert {store.source_key(d[0]) for d in documents} == {None}
    again = run(corpus, None, out, tmp_path)
    assert again["counts"]["documents_unchanged"] == len(documents) and again["counts"]["documents_unread"] == 0
    assert again["exports_unchanged"]  # the column is not part of what the exports show
    third = run(corpus, None, out, tmp_path)
    assert third["counts"]["documents_unread"] == len(documents) == first["counts"]["documents"]
