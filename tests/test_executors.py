"""Batch processing: worker processes and Dask give the same project as one process; a killed
run leaves whole documents and the next completes it; one run per project at a time."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from cli_helpers import run_corpus as run  # tests/cli_helpers.py
from pipeline.store import STORE_DIR, STORE_FILE, StoreError, run_lock

INTERVIEWS = ["01_kabid_umkm_dinas.txt", "02_pengusaha_kopi_lembah_hijau.txt", "03_minamiura_international_affairs.txt",
              "04_pendamping_umkm_nadia.txt", "06_perencana_bappeda_rudi.txt"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, sample_corpus):
    """Five interviews, each also as a second informant's copy with other wording (10 documents)."""
    folder = tmp_path_factory.mktemp("batch") / "corpus"
    folder.mkdir()
    for name in INTERVIEWS:
        text = (sample_corpus / "interviews" / name).read_text(encoding="utf-8")
        (folder / name).write_text(text, encoding="utf-8")
        (folder / f"b_{name}").write_text(text.replace("kami", "kita").replace("the ", "our "), encoding="utf-8")
    return folder


def _content(project) -> dict:
    """What a project holds, without run numbers and times."""
    db = sqlite3.connect(project / STORE_DIR / STORE_FILE)
    tables = {
        "documents": "SELECT id, path, format, layout, metadata, version, processing_key FROM documents ORDER BY id",
        "versions": "SELECT document_id, version, text FROM document_versions ORDER BY document_id, version",
        "segments": 'SELECT id, document_id, version, idx, start, "end", text, speaker, timestamp, language, '
                    "language_score, tokens, active FROM segments ORDER BY id",
        "suggestions": "SELECT id, segment_id, code, direction, factor_type, score, source, evidence, confidence, "
                       "model_version, retired_run IS NULL FROM suggestions ORDER BY id",
    }
    content = {name: db.execute(query).fetchall() for name, query in tables.items()}
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    return content


@pytest.fixture(scope="module")
def one_process(corpus, tmp_path_factory):
    project = tmp_path_factory.mktemp("one")
    summary = run(corpus, None, project / "out", project, workers=1)
    assert summary["counts"]["documents_processed"] == 10 and summary["engine"]["workers"] == 1
    return project


def test_executors_two_workers_give_the_same_project(corpus, one_process, tmp_path):
    summary = run(corpus, None, tmp_path / "out", tmp_path, workers=2)
    assert summary["engine"]["workers"] == 2 and summary["counts"]["failures"] == 0
    assert _content(tmp_path) == _content(one_process)
    assert (tmp_path / "out" / "suggestions.csv").read_bytes() == (one_process / "out" / "suggestions.csv").read_bytes()


def test_executors_dask_local_cluster_gives_the_same_project(corpus, one_process, tmp_path):
    summary = run(corpus, None, tmp_path / "out", tmp_path, workers=2, engine="dask")
    assert summary["engine"]["name"] == "dask" and summary["counts"]["documents_processed"] == 10
    assert _content(tmp_path) == _content(one_process)
    assert (tmp_path / "out" / "suggestions.csv").read_bytes() == (one_process / "out" / "suggestions.csv").read_bytes()


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory, sample_corpus):
    """The five interviews in eight wordings (40 documents): a run of several seconds, so
    that it can be killed after some groups of documents are committed, before the last."""
    folder = tmp_path_factory.mktemp("long") / "corpus"
    folder.mkdir()
    wordings = [("kami", "kita"), ("the ", "our "), ("UMKM", "usaha kecil"), ("program", "kegiatan"),
                ("pelatihan", "training"), ("tidak", "nggak"), ("export", "ekspor"), ("kita", "kami")]
    for name in INTERVIEWS:
        text = (sample_corpus / "interviews" / name).read_text(encoding="utf-8")
        for k, (old, new) in enumerate(wordings):
            (folder / f"{k}_{name}").write_text(text.replace(old, new) + f"\n\nCatatan {k}.\n", encoding="utf-8")
    return folder


def test_executors_a_killed_run_leaves_whole_documents_and_the_next_completes_it(long_corpus, tmp_path):
    corpus = long_corpus
    uninterrupted = tmp_path / "uninterrupted"
    run(corpus, None, uninterrupted / "out", uninterrupted, workers=1)
    total = len(_content(uninterrupted)["documents"])
    tmp_path = tmp_path / "killed"
    command = [sys.executable, "-m", "pipeline.cli", "run", str(corpus), "--project", str(tmp_path),
               "--out", str(tmp_path / "out"), "--workers", "1"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    database = tmp_path / STORE_DIR / STORE_FILE
    deadline = time.monotonic() + 240
    stored = 0
    while stored < 2 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.2)
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    stored = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            except sqlite3.OperationalError:  # the schema is being created
                pass
    assert child.poll() is None, "the run ended before it could be killed"
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    db = sqlite3.connect(database)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    documents = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    assert 2 <= documents < total
    # every stored document is whole: all its segments, each with its suggestions
    expected = _content(uninterrupted)
    for (document,) in db.execute("SELECT id FROM documents"):
        mine = {row[0] for row in expected["segments"] if row[1] == document}
        assert db.execute("SELECT COUNT(*) FROM segments WHERE document_id = ?", (document,)).fetchone()[0] == len(mine)
        assert (db.execute("SELECT COUNT(*) FROM suggestions WHERE segment_id IN (SELECT id FROM segments "
                           "WHERE document_id = ?)", (document,)).fetchone()[0]
                == sum(row[1] in mine for row in expected["suggestions"]))
    db.close()
    summary = run(corpus, None, tmp_path / "out", tmp_path, workers=1)
    assert summary["counts"]["documents_unchanged"] == documents
    assert _content(tmp_path) == expected


def test_executors_a_second_run_on_a_project_stops_with_a_message(corpus, tmp_path):
    shutil.copytree(corpus, tmp_path / "corpus")
    with run_lock(tmp_path):
        with pytest.raises(StoreError, match="another `pilah run` is working on this project"):
            run(tmp_path / "corpus", None, tmp_path / "out", tmp_path, workers=1)
    assert not (tmp_path / "out" / "suggestions.xlsx").exists()
    summary = run(tmp_path / "corpus", None, tmp_path / "out", tmp_path, workers=1)  # the lock is free again
    assert summary["counts"]["documents_processed"] == 10
