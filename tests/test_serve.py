"""The review workspace (``pilah serve``) through Starlette's TestClient: access, decisions,
undo, span codings, escaping, memos, languages, and what a concurrent run or sheet import does."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pipeline.decisions import import_sheet, read_sheet, review_status
from pipeline.project import Project
from pipeline.review import review_frame, write_xlsx
from pipeline.serve.app import create_app
from pipeline.serve.workspace import Workspace
from pipeline.store import Store
from serve_helpers import HOSTILE, documents, make_project, project, ws  # noqa: F401 (fixtures)

TOKEN = "t0k3n-for-tests"


@pytest.fixture
def client(ws):
    with TestClient(create_app(ws, TOKEN, hosts=("testserver",)), base_url="http://testserver") as c:
        c.headers["X-Pilah-Token"] = TOKEN
        yield c


def post(client, path, **data):
    return client.post(path, data=data, headers={"X-Pilah-Token": TOKEN, "Origin": "http://testserver"})


def index_of(ws, code):
    return next(n for n, item in enumerate(ws.items) if item.code == code)


def test_serve_refuses_every_request_without_the_token(ws):
    with TestClient(create_app(ws, TOKEN, hosts=("testserver",)), base_url="http://testserver") as anonymous:
        for path in ("/", "/queue?i=1", "/document?id=interviews/ani.txt", "/memos", "/coders", "/progress",
                     "/state", "/static/htmx.min.js", "/nowhere"):
            answer = anonymous.get(path)
            assert answer.status_code == 403, path
            assert "Pelatihan" not in answer.text and "ani.txt" not in answer.text
        assert anonymous.get("/?token=wrong").status_code == 403
        assert anonymous.post("/decide", data={"i": 0, "action": "accept"}).status_code == 403
        # the printed URL opens it, and sets the cookie the page's own requests carry
        opened = anonymous.get(f"/?token={TOKEN}")
        assert opened.status_code == 200 and "Pelatihan" in opened.text
        assert anonymous.get("/static/htmx.min.js").status_code == 200
        assert anonymous.get("/memos").status_code == 200
        # a change needs the token in the header: the cookie alone (a cross-site form) is refused
        assert anonymous.post("/decide", data={"i": 0, "action": "accept"}).status_code == 403
    assert ws.store.decisions_frame().empty


def test_serve_changes_need_the_header_this_host_and_this_origin(client, ws):
    form = {"i": 0, "action": "accept"}
    assert client.post("/decide", data=form, headers={"X-Pilah-Token": "nope"}).status_code == 403
    assert client.post("/decide", data=form, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/decide", data=form, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.post("/decide", data=form, headers={"Host": "evil.example"}).status_code == 403
    assert client.get("/", headers={"Host": "rebound.example"}).status_code == 403  # DNS rebinding
    assert ws.store.decisions_frame().empty
    assert post(client, "/decide", **form).status_code == 200
    assert len(ws.store.decisions_frame()) == 1


def test_serve_opens_on_the_first_pending_suggestion_with_its_context(client, ws):
    page = client.get("/").text
    first = ws.items[0]
    assert ws.first_pending() == 0 and first.code == "training"
    assert 'id="item" class="item pending" tabindex="-1"' in page  # focused by workspace.js on load
    assert "Training and mentoring" in page  # the label in the project's language (en)
    assert ws.codebook.codes["training"].definition.split()[0] in page
    assert '<mark class="evidence">Pelatihan</mark>' in page  # the evidence highlighted
    assert "Bagaimana pelatihan untuk UMKM di sini?" in page  # the turn before
    assert "Apa hambatannya?" in page  # the turn after
    assert "Jawa Tengah" in page and "Bu Ani" in page and "0.91" in page


def test_serve_decisions_go_to_the_store_as_a_sheet_import_would(client, ws, project):
    training, funding = index_of(ws, "training"), index_of(ws, "funding")
    assert post(client, "/decide", i=training, action="accept").status_code == 200
    post(client, "/decide", i=funding, action="reject")
    post(client, "/decide", i=index_of(ws, "regulation"), action="edit", code="coordination", direction="neutral")
    post(client, "/decide", i=index_of(ws, "promotion"), action="direction", direction="constraining")
    decisions = project.store.decisions_frame()
    assert [(d.key, d.decision, d.code, d.direction, d.reviewer, d.source) for d in decisions.itertuples()] == [
        ("training", "accept", "training", "supporting", "ani", "workspace"),
        ("funding", "reject", "funding", "constraining", "ani", "workspace"),
        ("regulation", "edit", "coordination", "neutral", "ani", "workspace"),
        ("promotion", "edit", "promotion", "constraining", "ani", "workspace"),
    ]
    status = review_status(project.store)
    assert status["decisions"] == 4 and status["pending"] == 3
    assert status["per_code"]["funding"]["rejected"] == 1 and status["per_code"]["training"]["accepted"] == 1
    sheet, _ = review_frame(project.store, project.codebook)
    prefilled = {(r.code, r.decision, r.corrected_code, r.corrected_direction, r.reviewer)
                 for r in sheet.itertuples() if r.decision}
    assert prefilled == {("training", "accept", "", "", "ani"), ("funding", "reject", "", "", "ani"),
                         ("regulation", "edit", "coordination", "neutral", "ani"),
                         ("promotion", "edit", "", "constraining", "ani")}
    codings = project.store.codings_frame()
    assert sorted(codings["code"]) == ["coordination", "promotion", "training"]


def test_serve_decision_moves_on_to_the_next_pending(client, ws):
    page = post(client, "/decide", i=0, action="accept").text
    assert re.search(r'data-index="1"', page) and ws.items[0].status == "accepted"
    assert "digitalisation" in page.split('id="item"')[1][:400] or "Digitalisation" in page


def test_serve_undo_appends_and_never_deletes(client, ws, project):
    post(client, "/decide", i=0, action="accept")
    post(client, "/undo", i=1)
    records = project.store.decisions_frame(in_force=False)
    assert list(records["decision"]) == ["accept", "undo"]
    assert project.store.decisions_frame().empty  # nothing in force: pending again
    assert ws.items[0].status == "pending"
    assert review_status(project.store)["pending"] == 7
    assert project.store.codings_frame().empty and len(project.store.codings_frame(current=False)) == 1
    sheet, _ = review_frame(project.store, project.codebook)
    assert not (sheet["decision"] != "").any()
    # undo after an edit restores the accept before it
    post(client, "/decide", i=0, action="accept")
    post(client, "/decide", i=0, action="edit", code="training", direction="neutral")
    post(client, "/undo", i=0)
    records = project.store.decisions_frame(in_force=False)
    assert list(records["decision"]) == ["accept", "undo", "accept", "edit", "accept"]
    in_force = project.store.decisions_frame()
    assert list(zip(in_force["decision"], in_force["direction"])) == [("accept", "supporting")]
    assert list(project.store.codings_frame()["direction"]) == ["supporting"]


def test_serve_span_coding_keeps_exact_code_point_offsets(client, ws, project):
    document, segments = documents()[0]
    segment = segments[1]  # holds an emoji: UTF-16 would count it twice
    phrase = "digital dari dinas 😀 sangat"
    start = document.text.index(phrase)  # Python counts code points, as REFI-QDA does
    end = start + len(phrase)
    answer = post(client, "/span", document_id=document.id, segment_id=segment.id, start=start, end=end,
                  code="technology", direction="supporting")
    assert answer.status_code == 200 and "Not saved" not in answer.text
    coding = project.store.codings_frame().iloc[0]
    assert (coding.start, coding.end, coding.text, coding.code, coding.coder) == (start, end, phrase, "technology", "ani")
    assert document.text[coding.start:coding.end] == coding.text
    assert f'<mark class="coded"' in answer.text and "technology · ani" in answer.text
    # accepting a suggestion on just a span: the suggestion is decided, the coding is the span
    word = document.text.index("online")
    post(client, "/span", document_id=document.id, segment_id=segment.id, start=word, end=word + 6,
         code="digitalisation", suggestion_id=ws.items[index_of(ws, "digitalisation")].suggestion_id)
    decided = project.store.decisions_frame()
    assert list(decided["decision"]) == ["add", "accept"]
    span = project.store.codings_frame().set_index("code").loc["digitalisation"]
    assert (span.start, span.end, span.text) == (word, word + 6, "online")
    assert review_status(project.store)["pending"] == 6
    # a span outside its segment is refused, and nothing is written
    refused = post(client, "/span", document_id=document.id, segment_id=segment.id, start=0, end=end, code="technology")
    assert "Not saved" in refused.text and len(project.store.decisions_frame(in_force=False)) == 2


def test_serve_escapes_every_text(client, ws, project):
    funding = index_of(ws, "funding")
    page = client.get(f"/queue?i={funding}").text
    assert HOSTILE not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    doc = client.get("/document", params={"id": "interviews/ani.txt"}).text
    assert "<script>alert" not in doc and "&lt;b&gt;bold&lt;/b&gt;" in doc
    post(client, "/memos", target="project", text='<img src=x onerror="alert(1)">')
    memos = client.get("/memos").text
    assert "<img src=x" not in memos and "&lt;img src=x onerror=" in memos
    assert client.get("/document", params={"id": "<script>"}).status_code == 404


def test_serve_memos_are_stored_searchable_and_edited_by_appending(client, ws, project):
    post(client, "/memos", target="project", text="Tema besar: pendanaan daerah")
    post(client, "/memos", target="code", target_id="funding", text="Anggaran APBD vs hibah")
    post(client, "/memos", on=f"segment:{ws.items[0].segment_id}", text="Catatan: kutipan kuat", back="queue", i=0)
    post(client, "/memos", target="document", target_id="interviews/ani.txt", text="Wawancara pertama")
    memos = project.store.memos_frame()
    assert sorted(memos["target"]) == ["code", "document", "project", "segment"]
    assert set(memos["author"]) == {"ani"}
    found = client.get("/memos", params={"q": "ANGGARAN"}, headers={"HX-Request": "true"}).text
    assert "Anggaran APBD" in found and "Wawancara pertama" not in found
    first = int(memos.set_index("target").loc["code", "memo_id"])
    post(client, "/memos", target="code", target_id="funding", text="Anggaran APBD, hibah dan CSR", replaces=first)
    assert list(project.store.memos_frame(target="code")["text"]) == ["Anggaran APBD, hibah dan CSR"]
    assert len(project.store.db.execute("SELECT * FROM memos").fetchall()) == 5  # the old text is kept
    assert "Catatan: kutipan kuat" in client.get("/queue?i=0").text
    assert "Wawancara pertama" in client.get("/document", params={"id": "interviews/ani.txt"}).text
    assert "needs some text" in post(client, "/memos", target="project", text="  ").text


def test_serve_switches_language_and_decision_words(client, ws):
    assert "accept" in client.get("/").text
    assert post(client, "/settings", lang="id").headers["HX-Refresh"] == "true"
    page = client.get("/").text
    assert "terima" in page and "tolak" in page and "ubah" in page and "pendukung" in page
    assert "Pelatihan dan pendampingan" in page and 'lang="id"' in page


def test_serve_filters_the_queue(client, ws):
    client.get("/queue", params={"status": "pending", "direction": "constraining"})
    assert {i.code for i in ws.items} == {"funding", "regulation", "language_culture"}
    client.get("/queue", params={"status": "pending", "case": "Hainan"})
    assert {i.code for i in ws.items} == {"exchange", "language_culture"}
    client.get("/queue", params={"status": "pending", "confidence": "low"})
    assert [i.code for i in ws.items] == ["regulation"]
    client.get("/queue", params={"status": "pending", "speaker": "Mr Budi", "code": "exchange"})
    assert [i.code for i in ws.items] == ["exchange"]
    post(client, "/decide", i=0, action="reject")
    client.get("/queue", params={"status": "rejected"})
    assert [i.code for i in ws.items] == ["exchange"]
    client.get("/queue", params={"status": "pending", "document": "interviews/budi.txt"})
    assert [i.code for i in ws.items] == ["language_culture"]


def test_serve_two_coders_side_by_side_with_kappa(client, ws, project):
    from pipeline.store import Decision

    items = {i.code: i for i in ws.items}
    store = project.store
    for reviewer, rejects in (("ani", {"funding"}), ("budi", {"funding", "training", "promotion"})):
        store.add_decisions([Decision(i.segment_id, i.suggestion_id, "reject" if code in rejects else "accept",
                                      code, i.direction, reviewer) for code, i in items.items()])
    page = client.get("/coders", params={"a": "ani", "b": "budi"}).text
    assert "Segments where the coders differ (2 / 5)" in page
    view = ws.disagreements("ani", "budi")
    assert {r["segment_id"] for r in view["rows"]} == {items["training"].segment_id, items["promotion"].segment_id}
    assert view["kappa"]["funding"]["kappa"] is None and view["kappa"]["funding"]["percent"] == 1.0
    # blind: only the reviewer's own decisions
    post(client, "/settings", blind="1")
    ws_items = {i.code: i.status for i in ws.items} if ws.filters.status == "all" else None
    client.get("/queue", params={"status": "all"})
    assert {i.code: i.status for i in ws.items}["training"] == "accepted"  # ani's, not budi's reject


def test_serve_progress_shows_codes_and_the_distance_to_ready(client, ws):
    post(client, "/decide", i=0, action="accept")
    from pipeline.agreement import READY_KAPPA

    page = client.get("/progress").text
    assert "Training and mentoring" in page and "Retrain" in page and f"κ ≥ {READY_KAPPA}" in page
    figures = ws.progress()
    row = {r["code"]: r for r in figures["rows"]}["digitalisation"]  # proposed on the reviewed segment, not coded
    assert row["model_kappa"] == 0.0 and row["to_ready"] == round(READY_KAPPA, 3)
    assert row["pending"] == 1 and {r["code"]: r for r in figures["rows"]}["training"]["accepted"] == 1


def test_serve_sheet_saved_before_a_workspace_decision_cannot_overrule_it(client, ws, project, tmp_path):
    training = index_of(ws, "training")
    post(client, "/decide", i=training, action="accept")
    sheet, _ = review_frame(project.store, project.codebook)
    path = write_xlsx(sheet, tmp_path / "suggestions.xlsx", project.codebook)  # pre-filled: accept, by ani
    saved = path.stat().st_mtime
    time.sleep(1.1)  # decisions are stamped to the second
    post(client, "/decide", i=training, action="reject")  # later, in the browser
    report = import_sheet(project.store, path, project.codebook, "ani")  # e.g. `pilah run` importing out/
    assert report.added == 0
    in_force = project.store.decisions_frame().set_index("key")
    assert in_force.loc["training", "decision"] == "reject"
    assert any("workspace" in reason for _, reason in report.problems)
    assert path.stat().st_mtime == saved


def test_serve_decision_waits_for_a_concurrent_run_and_is_kept(client, ws, project):
    client.get("/")  # the workspace's connection is open
    locked, done = threading.Event(), threading.Event()

    def run():  # another process's `pilah run`: a group of documents in one transaction, then all again
        other = Store(project.root)
        other.db.execute("BEGIN IMMEDIATE")
        other.db.execute("UPDATE documents SET updated_at = 'now'")
        locked.set()
        time.sleep(0.5)
        other.db.commit()
        run_id = other.start_run("corpus")
        for document, segments in documents():
            other.save_document(document, segments, [1] * len(segments), [], "key2", run_id, None)
        other.finish_run(run_id, {})
        other.close()
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    locked.wait(5)
    started = time.perf_counter()
    assert post(client, "/decide", i=0, action="accept").status_code == 200
    assert time.perf_counter() - started >= 0.3  # it waited for the run's transaction, then was written
    thread.join(10)
    assert done.is_set()
    in_force = project.store.decisions_frame()
    assert list(in_force["decision"]) == ["accept"] and not in_force["stale"].any()
    assert review_status(project.store)["decisions"] == 1


def test_serve_static_files_are_only_the_packages(client):
    assert client.get("/static/../../pilah.toml").status_code == 404
    assert client.get("/static/%2e%2e/%2e%2e/pilah.toml").status_code == 404
    readme = (Path(__file__).resolve().parents[1] / "pipeline/serve/static/README.md").read_text(encoding="utf-8")
    vendored = client.get("/static/htmx.min.js").content
    assert hashlib.sha256(vendored).hexdigest() in readme and "2.0.11" in readme


def test_serve_sheets_take_the_workspaces_indonesian_decision_words(project, ws, tmp_path):
    sheet, _ = review_frame(project.store, project.codebook)
    words = {"training": ("terima", "", ""), "funding": ("tolak", "", ""),
             "regulation": ("ubah", "coordination", "netral"), "promotion": ("Terima", "", "penghambat")}
    for n, row in sheet.iterrows():
        if row["code"] in words:
            sheet.loc[n, ["decision", "corrected_code", "corrected_direction"]] = words[row["code"]]
    path = write_xlsx(sheet, tmp_path / "diisi.xlsx", project.codebook)
    report = import_sheet(project.store, path, project.codebook, "siti")
    assert report.problems == [] and report.added == 4
    in_force = project.store.decisions_frame().set_index("key")
    assert in_force.loc["training", "decision"] == "accept" and in_force.loc["funding", "decision"] == "reject"
    assert tuple(in_force.loc["regulation", ["decision", "code", "direction"]]) == ("edit", "coordination", "neutral")
    assert tuple(in_force.loc["promotion", ["decision", "direction"]]) == ("edit", "constraining")
    from openpyxl import load_workbook

    lists = [v.formula1 for v in load_workbook(path)["Suggestions"].data_validations.dataValidation]
    assert any("terima" in f and "tambah" in f for f in lists) and any("penghambat" in f for f in lists)


def _memo_export(project, ws, tmp_path):
    from pipeline.refi import export_qdpx

    document, segments = documents()[0]
    ws.add_memo("project", "", "Tema: pendanaan daerah")
    ws.add_memo("document", document.id, "Wawancara pertama, <catatan> & lain")
    ws.add_memo("code", "funding", "APBD dan hibah")
    ws.add_memo("segment", segments[3].id, "Kutipan kuat soal regulasi")
    report = export_qdpx(project.store, project.codebook, tmp_path / "p.qdpx")
    import zipfile

    from lxml import etree

    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        root = etree.fromstring(archive.read("project.qde"))
    return report, root, document, segments


def test_serve_memos_export_as_refi_qda_notes(project, ws, tmp_path):
    report, root, document, segments = _memo_export(project, ws, tmp_path)
    P = "{urn:QDA-XML:project:1.0}"
    notes = {n.get("guid"): n for n in root.iter(f"{P}Note")}
    assert report["notes"] == 4 and len(notes) == 4
    texts = {n.findtext(f"{P}PlainTextContent") for n in notes.values()}
    assert texts == {"Tema: pendanaan daerah", "Wawancara pertama, <catatan> & lain", "APBD dan hibah",
                     "Kutipan kuat soal regulasi"}
    refs = {r.get("targetGUID"): r.getparent() for r in root.iter(f"{P}NoteRef")}
    assert set(refs) == set(notes)  # every note is referred to from what it is on
    on = {notes[g].findtext(f"{P}PlainTextContent"): parent for g, parent in refs.items()}
    assert on["Tema: pendanaan daerah"].tag == f"{P}Project"
    assert on["Wawancara pertama, <catatan> & lain"].get("name") == document.id
    assert on["APBD dan hibah"].tag == f"{P}Code" and on["APBD dan hibah"].get("name").lower().startswith("fund")
    selection = on["Kutipan kuat soal regulasi"]
    start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
    assert (start, end) == (segments[3].start, segments[3].end)
    authors = {u.get("guid"): u.get("name") for u in root.iter(f"{P}User")}
    assert {authors[n.get("creatingUser")] for n in notes.values()} == {"ani"}


@pytest.mark.shared_data
def test_serve_memos_export_validates_against_the_refi_qda_schema(project, ws, tmp_path):
    from lxml import etree

    from conftest import SHARED_DATA

    _, root, _, _ = _memo_export(project, ws, tmp_path)
    schema = etree.XMLSchema(etree.parse(str(SHARED_DATA / "refi_qda" / "Project-mrt2019.xsd")))
    assert schema.validate(root), schema.error_log


def test_serve_memos_export_pseudonymised_names_no_one(project, ws, tmp_path):
    import zipfile

    from pipeline.refi import export_qdpx

    ws.add_memo("project", "", "Bu Ani menyebut anggaran terbatas")
    export_qdpx(project.view(pseudonymize=True), project.codebook, tmp_path / "p.qdpx")
    with zipfile.ZipFile(tmp_path / "p.qdpx") as archive:
        qde = archive.read("project.qde").decode("utf-8")
    assert "menyebut anggaran terbatas" in qde and "Bu Ani" not in qde


def test_serve_memos_appear_in_the_report_escaped(project, ws, tmp_path):
    from pipeline.report import write_report

    ws.add_memo("code", "funding", "APBD <script>x</script> dan hibah")
    ws.add_memo("project", "", "Tema: pendanaan daerah")
    html_path = tmp_path / "report.html"
    write_report(project.view(), project.codebook, html_path, lang="en")
    html = html_path.read_text(encoding="utf-8")
    memos = html[html.index('<section id="memos">'):]
    assert "APBD &lt;script&gt;x&lt;/script&gt; dan hibah" in memos and "<script>x" not in html
    assert "Code: Funding and budget" in memos and "Tema: pendanaan daerah" in memos and "ani" in memos
    ws.add_memo("document", "interviews/ani.txt", "Wawancara pertama")
    assert not write_report(project.view(), project.codebook, html_path, lang="en")["unchanged"]  # a new memo redraws it
    assert "Wawancara pertama" in html_path.read_text(encoding="utf-8")


def test_serve_review_next_order_and_the_retrain_button(project):
    from pipeline.retrain import next_for_review

    ws = Workspace(project.store, project.codebook, project.config, project.root, project.reviewer(), project.lang())
    with TestClient(create_app(ws, TOKEN, hosts=("testserver",)), base_url="http://testserver") as client:
        client.headers["X-Pilah-Token"] = TOKEN
        client.get("/queue", params={"status": "pending", "order": "next"})
        ranking = next_for_review(project, n=100)
        assert ranking and [i.segment_id for i in ws.items] == sorted(
            (i.segment_id for i in ws.items), key=lambda s: ranking.index(s) if s in ranking else len(ranking))
        client.get("/queue", params={"status": "pending", "next_only": "1"})
        assert {i.segment_id for i in ws.items} <= set(ranking) and ws.items
        client.get("/queue", params={"status": "pending"})
        for n in range(len(ws.items)):
            post(client, "/decide", i=n, action="reject" if ws.items[n].code == "funding" else "accept")
        versions = len(project.store.models_frame())
        answer = post(client, "/retrain")
        assert "Retraining" in answer.text and 'hx-trigger="every 2s"' in answer.text
        ws.retrain_job.thread.join(300)
        shown = client.get("/progress", params={"part": "retrain"}).text
        assert ws.retrain_job.state == "done", ws.retrain_job.error
        report = ws.retrain_job.report
        assert report["rows"] == 5 and report["before"] is not None and report["after"] is not None
        assert f'{report["after"]["f1"]:.3f}' in shown and f'{report["before"]["f1"]:.3f}' in shown
        assert report["version"] in shown and len(project.store.models_frame()) == versions + 1


def test_serve_document_memo_and_legend(client, ws, project):
    page = post(client, "/memos", target="document", target_id="interviews/budi.txt", text="Mitra dari Hainan",
                back="document").text
    assert 'id="document"' in page and "Mitra dari Hainan" in page
    assert list(project.store.memos_frame(target="document")["target_id"]) == ["interviews/budi.txt"]
    legend = page[page.index('class="legend"'):page.index("</ul>", page.index('class="legend"'))]
    assert "exchange" in legend and "language_culture" in legend and "training" not in legend  # this document's codes


def test_serve_a_decision_goes_to_the_item_the_page_showed(client, ws, project):
    shown = ws.items[2]  # funding, as the page showed it at index 2
    client.get("/queue", params={"status": "pending", "direction": "constraining"})  # another tab filters the queue
    assert ws.items[0].key == shown.key and ws.items[2].code == "language_culture"
    post(client, "/decide", i=2, key=shown.key, action="reject")
    in_force = project.store.decisions_frame()
    assert list(zip(in_force["key"], in_force["decision"])) == [("funding", "reject")]
    client.get("/queue", params={"status": "pending", "case": "Hainan"})  # funding is not in this queue at all
    refused = post(client, "/decide", i=0, key=shown.key, action="accept")
    assert "no longer in this queue" in refused.text and len(project.store.decisions_frame(in_force=False)) == 1
    gone = post(client, "/decide", i=0, key="no-such-suggestion", action="accept")
    assert "no longer in this queue" in gone.text and len(project.store.decisions_frame(in_force=False)) == 1


def test_serve_refuses_a_folder_without_a_store_and_a_taken_port(tmp_path):
    import socket

    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.serve import ServeError, bind

    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "pilah.toml").write_text('[project]\ncorpus = ["corpus"]\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", "--project", str(tmp_path / "new"), "--no-browser"])
    assert result.exit_code == 2 and "run `pilah run` first" in result.output and "Traceback" not in result.output
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    with pytest.raises(ServeError, match="choose another --port"):
        bind(taken.getsockname()[1])
    taken.close()


def test_serve_undo_takes_a_span_coding_back(client, ws, project):
    document, segments = documents()[0]
    start = document.text.index("Pameran dagang")
    post(client, "/span", document_id=document.id, segment_id=segments[4].id, start=start, end=start + 14,
         code="promotion", direction="supporting")
    promotion = ws.items[index_of(ws, "promotion")]
    assert promotion.status == "accepted"  # the suggestion of the same code on the segment is settled too
    assert review_status(project.store)["pending"] == 6
    post(client, "/undo", i=0)
    assert project.store.codings_frame().empty and promotion.status == "pending"
    assert list(project.store.decisions_frame(in_force=False)["decision"]) == ["add", "undo"]
    assert review_status(project.store)["pending"] == 7


def test_serve_queue_memo_on_the_code_or_the_document(client, ws, project):
    post(client, "/memos", on="code:training", text="Pelatihan: bedakan daring dan luring", back="queue", i=0)
    post(client, "/memos", on="document:interviews/ani.txt", text="Informan kunci", back="queue", i=0)
    memos = project.store.memos_frame().set_index("target")
    assert memos.loc["code", "target_id"] == "training" and memos.loc["document", "target_id"] == "interviews/ani.txt"
    assert "not a code" in post(client, "/memos", on="code:nonsense", text="x", back="queue", i=0).text


def test_serve_pilah_run_while_the_workspace_is_open_keeps_its_decisions(tmp_path):
    """The real thing: `pilah run` (which imports out/suggestions.xlsx before rewriting it)
    runs twice while the workspace is open; the browser's decisions stay in force."""
    import subprocess
    import sys

    pilah = Path(sys.executable).with_name("pilah")
    root = tmp_path / "p"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "ani.txt").write_text(
        "Pewawancara: Bagaimana pelatihan untuk UMKM di sini?\n"
        "Bu Ani: Pelatihan digital dari dinas sangat membantu kami menjual secara online.\n"
        "Pewawancara: Apa hambatannya?\n"
        "Bu Ani: Anggaran terbatas dan regulasi yang rumit membuat kami lambat.\n", encoding="utf-8")
    (root / "pilah.toml").write_text('[project]\ncorpus = ["corpus"]\nout = "out"\n\n[suggest]\nencoder = "none"\n\n'
                                     '[review]\nreviewer = "ani"\n', encoding="utf-8")

    def run():
        done = subprocess.run([str(pilah) if pilah.exists() else "pilah", "run"], cwd=root, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    run()
    with Project.open(root) as project:
        ws = Workspace(project.store, project.codebook, project.config, project.root, "ani", "en")
        assert len(ws.items) >= 2
        with TestClient(create_app(ws, TOKEN, hosts=("testserver",)), base_url="http://testserver") as client:
            client.headers["X-Pilah-Token"] = TOKEN
            first, second = ws.items[0], ws.items[1]
            post(client, "/decide", i=0, key=first.key, action="accept")
            run()  # open workspace; the sheet is rewritten with the accept pre-filled
            time.sleep(1.1)  # decisions are stamped to the second
            post(client, "/decide", i=0, key=first.key, action="reject")  # changed my mind, in the browser
            post(client, "/decide", i=1, key=second.key, action="accept")
            (root / "corpus" / "budi.txt").write_text("Mr Budi: The study visit gave us training in export rules.\n",
                                                      encoding="utf-8")
            run()  # imports the sheet, whose row still says accept, then processes budi.txt
            in_force = project.store.decisions_frame().set_index("suggestion_id")
            assert in_force.loc[first.suggestion_id, "decision"] == "reject"
            assert in_force.loc[second.suggestion_id, "decision"] == "accept"
            assert set(in_force["source"]) == {"workspace"}
            sheet = read_sheet(root / "out" / "suggestions.xlsx").set_index("suggestion_id")
            assert sheet.loc[first.suggestion_id, "decision"] == "reject"  # the rewritten sheet has it pre-filled
            assert client.get("/queue", params={"status": "pending"}).status_code == 200  # read the queue again
            assert {i.document for i in ws.items} == {"ani.txt", "budi.txt"}  # the run's new document is in it


def test_serve_undo_after_the_queue_was_filtered(client, ws, project):
    funding = ws.items[index_of(ws, "funding")]
    post(client, "/decide", i=index_of(ws, "funding"), key=funding.key, action="reject")
    client.get("/queue", params={"status": "pending", "case": "Hainan"})  # funding is not in this queue
    hainan = [(i.code, i.status) for i in ws.items]
    post(client, "/undo", i=0)
    assert [(i.code, i.status) for i in ws.items] == hainan  # nothing shown changed by mistake
    assert project.store.decisions_frame().empty and review_status(project.store)["pending"] == 7
    client.get("/queue", params={"status": "pending"})
    assert ws.items[index_of(ws, "funding")].status == "pending"


def test_serve_answers_forbid_inline_scripts_and_framing(client):
    for answer in (client.get("/"), client.get("/nowhere", headers={"X-Pilah-Token": "wrong"})):
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
        assert answer.headers["x-frame-options"] == "DENY" and answer.headers["referrer-policy"] == "no-referrer"
