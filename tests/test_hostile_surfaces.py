"""The surfaces added in the fourth round, attacked as a hostile user would (issue 26's
spirit): the browser workspace (``pilah serve``), ``pilah cases`` / ``query`` / ``codes``,
``pilah init`` and a project's ``pilah.toml``, a codebook's texts, ``pilah report --format
docx`` and the vector cache. Each test holds a case that failed before (a 500, a traceback,
an export broken for good, a decision on the wrong item, a memo stored half-way) and checks
the answer now: one clear line naming the file or value, exit code 2, nothing stored.

Projects are built by hand (``tests/serve_helpers.py``), with the stand-in encoder.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, runner
from serve_helpers import make_project, project, ws  # noqa: F401 (fixtures)
from starlette.testclient import TestClient

from pipeline.cli import app
from pipeline.codebook import load_codebook
from pipeline.config import PROJECT_ROOT
from pipeline.errors import ConfigError
from pipeline.project import Project
from pipeline.serve.app import MAX_BODY, create_app
from pipeline.serve.workspace import MAX_MEMO
from pipeline.store import Store

TOKEN = "t0k3n-hostile"
CODEBOOK = PROJECT_ROOT / "configs" / "codebook.yaml"
HOSTILE_TEXT = '=HYPERLINK("http://evil.example","klik")\x07\x1b[31m<script>alert(1)</script>'


def fails_cleanly(*args, names: str = "") -> str:
    """Run ``pilah ARGS``: exit code 2, no traceback, one ``error:`` line naming ``names``."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert names in said, said
    return said


def own_codebook(root: Path) -> Path:
    """Give the hand-built project its own copy of the sample codebook (code work needs one)."""
    shutil.copyfile(CODEBOOK, root / "codebook.yaml")
    settings = root / "pilah.toml"
    settings.write_text(re.sub(r'codebook = ".*"', 'codebook = "codebook.yaml"', settings.read_text(encoding="utf-8")),
                        encoding="utf-8")
    return root


def codes_in(path: Path) -> dict[str, dict]:
    import yaml

    found = {}

    def walk(items):
        for item in items or []:
            found[item["id"]] = item
            walk(item.get("children"))

    walk(yaml.safe_load(path.read_text(encoding="utf-8"))["codes"])
    return found


# -- the workspace ----------------------------------------------------------------------
@pytest.fixture
def client(ws):
    app_ = create_app(ws, TOKEN, hosts=("testserver",))
    with TestClient(app_, base_url="http://testserver", raise_server_exceptions=False) as c:
        c.headers["X-Pilah-Token"] = TOKEN
        c.headers["Origin"] = "http://testserver"
        yield c


def stored(ws) -> tuple[int, int, int]:
    """Decisions, codings and memos in the store."""
    return len(ws.store.decisions_frame(in_force=False)), len(ws.store.codings_frame()), len(ws.store.memos_frame())


def test_hostile_surfaces_serve_a_number_that_is_none_is_no_crash_and_no_decision(client, ws):
    # before: int("x") in the handler, a 500; a decision must never fall to whatever item 0 holds
    assert client.get("/queue?i=abc").status_code == 200
    assert client.get("/queue?i=99999999999999999999999").status_code == 200
    answer = client.post("/decide", data={"i": "x", "action": "accept"})
    assert answer.status_code == 200 and "expected the number of a queue item" in answer.text
    assert client.post("/undo", data={"i": "zz"}).status_code == 200
    answer = client.post("/memos", data={"on": "project:", "text": "catatan", "back": "queue", "i": "x"})
    assert answer.status_code == 200
    assert ws.store.decisions_frame(in_force=False).empty
    assert list(ws.store.memos_frame()["text"]) == ["catatan"]


def test_hostile_surfaces_serve_a_span_on_an_unknown_document_stores_nothing(client, ws):
    item = ws.items[0]
    segment = ws.store.segments_frame([item.document_id]).set_index("segment_id").loc[item.segment_id]
    start, end = int(segment.segment_start), int(segment.segment_end)
    # before: the coding was stored, then the page failed with a 500
    answer = client.post("/span", data={"segment_id": item.segment_id, "start": start, "end": start + 4,
                                        "code": "training", "document_id": "../../etc/passwd"})
    assert answer.status_code == 404 and "no document" in answer.text and "passwd" in answer.text
    for bad in ((start - 5, start + 3), (start + 10, start + 5), (start, end + 10**9), (start, start),
                ("a", "b"), ("", "")):
        answer = client.post("/span", data={"segment_id": item.segment_id, "start": bad[0], "end": bad[1],
                                            "code": "training", "document_id": item.document_id})
        assert answer.status_code == 200 and 'class="error"' in answer.text, bad
    assert stored(ws) == (0, 0, 0)
    answer = client.post("/span", data={"segment_id": item.segment_id, "start": start, "end": start + 4,
                                        "code": "training", "document_id": item.document_id})
    assert answer.status_code == 200 and stored(ws)[0] == 1


def test_hostile_surfaces_serve_memos_on_nothing_are_refused_and_nothing_stored(client, ws):
    segment = ws.items[0].segment_id
    refused = [
        {"target": "segment", "target_id": "nope\x07", "text": "t"},  # before: stored, target id and all
        {"target": "document", "target_id": "../../x", "text": "t"},  # before: stored
        {"target": "project", "text": "t", "replaces": "99999"},  # before: a 500 (foreign key)
        {"target": "project", "text": "t", "replaces": "abc"},
        {"target": "project", "text": "x" * (MAX_MEMO + 1)},  # before: any size stored
        {"target": "elsewhere", "text": "t"},
    ]
    for form in refused:
        answer = client.post("/memos", data=form)
        assert answer.status_code == 200 and 'class="error"' in answer.text, form
    # before: the memo was stored on a document that is none, then the page failed (500)
    answer = client.post("/memos", data={"target": "document", "target_id": "nope", "text": "t", "back": "document"})
    assert answer.status_code == 404
    assert ws.store.memos_frame().empty
    # a new version replaces a memo of the same target only: never one on another target
    first = ws.add_memo("segment", segment, "di segmen")
    answer = client.post("/memos", data={"target": "project", "text": "ganti", "replaces": str(first)})
    assert 'class="error"' in answer.text
    assert list(ws.store.memos_frame()["text"]) == ["di segmen"]
    # a body past the limit is refused before it is read
    answer = client.post("/memos", content=b"target=project&text=" + b"x" * (MAX_BODY + 1),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413
    assert list(ws.store.memos_frame()["text"]) == ["di segmen"]


def test_hostile_surfaces_serve_settings_send_back_only_to_this_workspace(client):
    for back in ("/\\evil.example", "//evil.example", "/é\u2028", "/x\r\nSet-Cookie: a=b", "https://evil.example"):
        answer = client.post("/settings", data={"lang": "en", "back": back})  # before: 500 or an open redirect
        assert answer.status_code == 200, back
        assert "hx-redirect" not in answer.headers and answer.headers.get("hx-refresh") == "true", back
        assert "set-cookie" not in answer.headers
    answer = client.post("/settings", data={"lang": "en", "back": "/queue?status=all&code=training"})
    assert answer.headers["hx-redirect"] == "/queue?status=all&code=training"


def test_hostile_surfaces_serve_a_full_disk_is_one_line_and_nothing_half_way(client, ws, monkeypatch):
    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "add_memo", full)  # every connection: the server thread has its own
    monkeypatch.setattr(Store, "add_decisions", full)
    before = [(item.key, item.status) for item in ws.items]
    for path, form in (("/memos", {"target": "project", "text": "catatan"}),
                       ("/decide", {"i": "0", "action": "accept", "key": ws.items[0].key})):
        answer = client.post(path, data=form)  # before: 500 Internal Server Error, a traceback in the terminal
        assert answer.status_code == 503, path
        assert "database or disk is full" in answer.text and "nothing was saved" in answer.text
        assert "Traceback" not in answer.text
        assert answer.headers["x-frame-options"] == "DENY"  # the security headers stay on
    assert [(item.key, item.status) for item in ws.items] == before
    assert client.post("/undo", data={"i": "0"}).status_code == 200  # nothing to take back: no decision was made
    monkeypatch.undo()
    assert ws.store.decisions_frame(in_force=False).empty and ws.store.memos_frame().empty


def test_hostile_surfaces_serve_hostile_memos_are_shown_escaped_and_exported(client, ws, project, tmp_path):
    assert client.post("/memos", data={"target": "project", "text": HOSTILE_TEXT}).status_code == 200
    page = client.get("/memos").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x07" not in page and "\x1b" not in page
    docx, qdpx = tmp_path / "r.docx", tmp_path / "p.qdpx"
    invoke("report", "--format", "docx", "--out", docx, "--project", project.root)
    invoke("export", "--out", qdpx, "--project", project.root)
    with zipfile.ZipFile(docx) as archive, zipfile.ZipFile(qdpx) as exported:
        words = archive.read("word/document.xml").decode("utf-8")
        project_xml = exported.read("project.qde").decode("utf-8")
    for written in (words, project_xml):
        assert "\x07" not in written and "\x1b" not in written and "<script>" not in written


def test_hostile_surfaces_serve_a_port_it_cannot_have_is_one_line_and_frees_the_project(tmp_path):
    import socket

    from pipeline.serve import ServeError, serve, workspace_lock

    root = make_project(tmp_path / "p")
    # before: OverflowError traceback
    fails_cleanly("serve", "--port", "99999", "--no-browser", "--project", root, names="--port")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        with Project.open(root) as opened:
            for port in (taken.getsockname()[1], 70000):
                with pytest.raises(ServeError, match="cannot listen there"):
                    serve(opened, port=port)
                # before: the workspace lock stayed held, and the next start said another was open
                workspace_lock(root).release()
    finally:
        taken.close()


# -- pilah cases, pilah query -------------------------------------------------------------
def test_hostile_surfaces_cases_table_with_an_oversized_cell_is_one_line(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "cases.csv").write_text("case,sektor\nJawa Tengah," + "x" * 200_000 + "\n", encoding="utf-8")
    fails_cleanly("cases", "--project", root, names="cases.csv: cannot read the case table as CSV")  # before: csv.Error
    (root / "cases.csv").unlink()
    (root / "cases.csv").mkdir()
    fails_cleanly("cases", "--project", root, names="cases.csv")


def test_hostile_surfaces_query_limit_below_zero_is_refused(tmp_path):
    root = make_project(tmp_path / "p")
    result = runner.invoke(app, ["query", "status=pending", "--limit", "-5", "--project", str(root)])
    assert result.exit_code == 2 and "--limit" in result.output  # before: all but 5 shown, "12 more"


def test_hostile_surfaces_query_a_pasted_passage_is_refused_at_once_and_echoed_short(tmp_path):
    import time

    root = make_project(tmp_path / "p")
    started = time.perf_counter()
    # before: 60 s for 100,000 characters (shlex and rich both slow on one long word), 14 s more per million
    fails_cleanly("query", "text~" + "a" * 1_000_000, "--save", "panjang", "--project", root,
                  names="holds 1,000,005 characters; a query holds at most 10,000")
    assert time.perf_counter() - started < 10
    with Store(root) as store:
        assert store.saved_queries_frame().empty
    result = invoke("query", "text~" + "b" * 9_000, "--limit", "0", "--project", root)
    assert "… (9,005 characters)" in result.output and "b" * 301 not in result.output


# -- pilah init, pilah.toml, the codebook ------------------------------------------------------
def test_hostile_surfaces_project_files_not_utf8_are_one_line(tmp_path):
    root = make_project(tmp_path / "p")
    (root / "pilah.toml").write_bytes(b"\xff\xfe[\x00p\x00")
    for command in (("status",), ("query", "status=pending"), ("cases",)):  # before: UnicodeDecodeError traceback
        fails_cleanly(*command, "--project", root, names="pilah.toml: 1 problem(s) - not UTF-8 text")
    binary = tmp_path / "codebook.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01codes:")
    fails_cleanly("init", tmp_path / "baru", "--codebook", binary, names="codebook.yaml: 1 problem(s) - not UTF-8 text")
    settings = tmp_path / "settings.toml"
    settings.write_bytes(b"\xff\xfe\x00\x01")
    fails_cleanly("init", tmp_path / "baru", "--config", settings, names="settings.toml: 1 problem(s) - not UTF-8")
    assert not (tmp_path / "baru").exists()  # nothing made half-way


def test_hostile_surfaces_codebook_texts_with_control_characters_are_named(tmp_path):
    import yaml

    raw = yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))
    raw["codes"][0]["definition"] = "Pelatihan\x07 dinas"
    broken = tmp_path / "codebook.yaml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")  # the BEL written as "\a"
    assert "\\a" in broken.read_text(encoding="utf-8")
    # before: accepted, and every later `pilah export` failed ("All strings must be XML compatible")
    with pytest.raises(ConfigError, match=r"codes\[0\]\.definition: 'Pelatihan\\x07 dinas' holds the control "
                                          r"character U\+0007"):
        load_codebook(broken)


# -- pilah codes ---------------------------------------------------------------------------
@pytest.fixture
def coded(tmp_path) -> Path:
    return own_codebook(make_project(tmp_path / "p"))


@pytest.mark.parametrize("new", ["latih\x07an", "latih\nan", "latih\x1b[31m", "latihan ", "\tlatihan"])
def test_hostile_surfaces_codes_ids_with_control_characters_or_spaces_at_an_end_are_refused(coded, new):
    before = (coded / "codebook.yaml").read_bytes()
    # before: "latih\x07an" was taken (shown as "latihan"): an id no exporter can write
    fails_cleanly("codes", "rename", "training", new, "--project", coded, names="write it without ';', '='")
    assert (coded / "codebook.yaml").read_bytes() == before
    with Store(coded) as store:
        assert store.code_history_frame().empty


def test_hostile_surfaces_codes_merge_a_code_named_twice(coded):
    # before: ValueError (list.remove) traceback
    invoke("codes", "merge", "funding", "funding", "--into", "regulation", "--project", coded)
    codes = codes_in(coded / "codebook.yaml")
    assert "funding" not in codes and "regulation" in codes
    with Store(coded) as store:
        assert store.code_map() == {"funding": "regulation"}


def test_hostile_surfaces_codes_split_into_itself_or_a_code_twice_is_refused(coded):
    before = (coded / "codebook.yaml").read_bytes()
    # before: split into itself put its own segments up for review under itself; "y1,y1" added y1 twice
    fails_cleanly("codes", "split", "regulation", "--into", "regulation,baru", "--project", coded, names="not into itself")
    fails_cleanly("codes", "split", "regulation", "--into", "y1,y1", "--project", coded, names="'y1' twice")
    assert (coded / "codebook.yaml").read_bytes() == before
    with Store(coded) as store:
        assert store.code_history_frame().empty


def test_hostile_surfaces_codes_labels_from_outside_are_cleaned_and_exports_still_work(coded, tmp_path):
    # before: the label went into the codebook with its BEL, and `pilah export` failed for good
    invoke("codes", "merge", "hr_capacity", "training", "--into", "kapasitas", "--label", HOSTILE_TEXT,
           "--project", coded)
    (coded / "out").mkdir(exist_ok=True)
    (coded / "out" / "candidates.csv").write_text(
        "candidate,label,top_terms,exemplar_1\n"
        "new-id-01,\"=cmd|' /C calc'!A0\x07\",\"ekspor\x07, pasar\",\"Pasar\x07 ekspor dibuka\"\n", encoding="utf-8")
    invoke("codes", "adopt", "new-id-01", "--id", "pasar_baru", "--factor-type", "market_access", "--project", coded)
    codes = codes_in(coded / "codebook.yaml")
    assert codes["kapasitas"]["label"]["en"] == '=HYPERLINK("http://evil.example","klik")[31m<script>alert(1)</script>'
    assert codes["pasar_baru"]["label"]["id"] == "=cmd|' /C calc'!A0"
    assert codes["pasar_baru"]["keywords"]["id"] == ["ekspor", "pasar"]
    assert codes["pasar_baru"]["examples"] == ["Pasar ekspor dibuka"]
    invoke("export", "--out", tmp_path / "p.qdpx", "--project", coded)
    invoke("report", "--format", "docx", "--out", tmp_path / "r.docx", "--project", coded)
    invoke("review", "export", "--project", coded)


def test_hostile_surfaces_exports_of_a_project_whose_folder_name_holds_a_control_character(tmp_path):
    root = make_project(tmp_path / "studi\x07\x1b[31m")
    # before: report --format docx and export both failed with "All strings must be XML compatible"
    invoke("report", "--format", "docx", "--project", root)
    invoke("export", "--project", root)
    with zipfile.ZipFile(root / "out" / "project.qdpx") as exported:
        assert 'name="studi[31m"' in exported.read("project.qde").decode("utf-8")


# -- the vector cache -------------------------------------------------------------------------
def test_hostile_surfaces_vector_cache_damaged_rows_are_computed_again(tmp_path):
    from pipeline.embed import StandInEncoder, embed

    encoder, texts = StandInEncoder(), ["Pelatihan ekspor", "Modal kurang", "Pasar baru"]
    with Store(tmp_path) as store:
        good = embed(texts, encoder, store)
        for damage in ("substr(vector, 1, 5)", "substr(vector, 1, 64)", "'teks'"):
            store.db.execute(f"UPDATE vectors SET vector = {damage}")
            store.db.commit()
            # before: ValueError (buffer size) / TypeError (not bytes) from every run after
            assert np.array_equal(embed(texts, encoder, store), good), damage
            # the damaged rows were replaced by the vectors computed again
            blobs = [row[0] for row in store.db.execute("SELECT vector FROM vectors")]
            assert all(isinstance(b, bytes) and len(b) == 2 * encoder.dim for b in blobs), damage
