"""The workspace in headless Chromium (the system's, Debian package ``chromium``), driven by
Playwright for Python: `pilah serve` started as a user starts it, the keys pressed, a span
selected, a memo written, the language switched; then the store, `pilah review status` and an
exported sheet are checked. Run with ``python -m pytest -m browser``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pipeline.decisions import read_sheet
from pipeline.store import Store
from serve_helpers import documents, make_project

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# the console script of this interpreter's environment
PILAH = str(Path(sys.executable).with_name("pilah")) if Path(sys.executable).with_name("pilah").exists() else "pilah"
URL = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{20,})$")


@pytest.fixture
def served(tmp_path):
    root = make_project(tmp_path / "p", lang="en", reviewer="ani")
    server = subprocess.Popen([PILAH, "serve", "--project", str(root), "--no-browser"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().strip()
        assert URL.match(line), (line, server.stderr.read() if server.poll() is not None else "")
        yield root, line
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        requests = []
        tab.on("request", lambda r: requests.append(r.url))
        errors = []
        tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        yield tab, served, requests, errors
        browser.close()


def pilah(*args) -> subprocess.CompletedProcess:
    return subprocess.run([PILAH, *args], capture_output=True, text=True, timeout=120)


def counts(tab) -> dict[str, int]:
    return {s: int(tab.inner_text(f"#queue .count.{s} b")) for s in ("pending", "accepted", "rejected")}


def test_serve_browser_review_with_the_keys_spans_memos_and_languages(page):
    tab, (root, url), requests, errors = page
    port, token = URL.match(url).groups()
    # without the token: 403 and no project data
    for path in ("/", "/document?id=interviews/ani.txt", "/static/htmx.min.js"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}")
        assert refused.value.code == 403 and b"Pelatihan" not in refused.value.read()

    tab.goto(url)
    tab.wait_for_selector("#item")
    assert tab.evaluate("document.activeElement.id") == "item"  # the keys work at once
    assert "Training and mentoring" in tab.inner_text("#item")
    assert tab.inner_text("#item mark.evidence") == "Pelatihan"

    tab.keyboard.press("a")  # accept training
    tab.wait_for_selector("#queue .count.accepted b:text-is('1')")
    tab.keyboard.press("x")  # reject digitalisation
    tab.wait_for_selector("#queue .count.rejected b:text-is('1')")
    assert "Funding and budget" in tab.inner_text("#item")
    tab.keyboard.press("e")  # edit funding into coordination, neutral
    tab.wait_for_selector("#edit:not([hidden]) .code-search:focus")
    tab.keyboard.type("koordinasi")  # either language's label finds the code
    tab.check("#edit input[value=neutral]")
    tab.focus("#edit .code-search")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("#queue .count.accepted b:text-is('2')")
    tab.keyboard.press("u")  # undo the edit: funding is pending again
    tab.wait_for_selector("#queue .count.accepted b:text-is('1')")
    assert "Funding and budget" in tab.inner_text("#item")
    tab.keyboard.press("2")  # funding, constraining as suggested: an accept
    tab.wait_for_selector("#queue .count.accepted b:text-is('2')")
    tab.keyboard.press(" ")  # skip regulation
    tab.wait_for_selector("#item .code-id:text-is('promotion')")
    tab.keyboard.press("k")  # back to regulation
    tab.wait_for_selector("#item .code-id:text-is('regulation')")
    tab.keyboard.press("m")
    tab.wait_for_selector("#memo:not([hidden]) textarea:focus")
    tab.keyboard.type("Regulasi: cek Perda 2023 <b>")
    tab.keyboard.press("Control+Enter")
    tab.wait_for_selector("#item ul.memos li")
    assert "Regulasi: cek Perda 2023 <b>" in tab.inner_text("#item ul.memos")

    # the document view: select a phrase holding an emoji and code it
    document, segments = documents()[0]
    phrase = "digital dari dinas 😀 sangat"
    start = document.text.index(phrase)
    tab.goto(f"http://127.0.0.1:{port}/document?id=interviews/ani.txt")
    tab.evaluate("""([segment, phrase]) => {
        const text = document.querySelector(`.seg[data-segment="${segment}"] .text`);
        const node = text.firstChild;
        const at = node.textContent.indexOf(phrase);
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + phrase.length);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        text.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
    }""", [segments[1].id, phrase])
    tab.wait_for_selector("#spanform:not([hidden])")
    assert tab.input_value("#spanform input[name=start]") == str(start)  # code points, not UTF-16 units
    assert tab.input_value("#spanform input[name=end]") == str(start + len(phrase))
    tab.keyboard.type("teknologi")
    tab.keyboard.press("Enter")
    tab.wait_for_selector("mark.coded")
    assert tab.inner_text("mark.coded") == phrase
    assert "technology · ani" in tab.inner_text(f'.seg[data-segment="{segments[1].id}"] .margin')

    # the language: Indonesian words and labels
    tab.goto(url)
    tab.click("#lang")
    tab.wait_for_selector("html[lang=id]")
    assert "terima" in tab.inner_text("#queue .keys") and "penghambat" in tab.inner_text("#queue .keys")
    assert tab.inner_text("#item .code .label") in {"Regulasi dan birokrasi", "Promosi dan pameran dagang",
                                                    "Pertukaran dan kunjungan kerja", "Bahasa dan budaya"}
    # everything the pages loaded came from the workspace itself, and it all ran under its
    # Content-Security-Policy (no inline script, no eval)
    assert requests and all(r.startswith(f"http://127.0.0.1:{port}/") for r in requests)
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors

    # the store, `pilah review status` and an exported sheet
    with Store(root) as store:
        records = store.decisions_frame(in_force=False)
        assert list(zip(records["key"], records["decision"])) == [
            ("training", "accept"), ("digitalisation", "reject"), ("funding", "edit"), ("funding", "undo"),
            ("funding", "accept"), ("technology", "add")]
        assert set(records["reviewer"]) == {"ani"} and set(records["source"]) == {"workspace"}
        span = store.codings_frame().set_index("code").loc["technology"]
        assert (span.start, span.end, span.text) == (start, start + len(phrase), phrase)
        assert list(store.memos_frame()["text"]) == ["Regulasi: cek Perda 2023 <b>"]
    status = json.loads(pilah("review", "status", "--project", str(root), "--json").stdout)
    assert status["decisions"] == 4 and status["pending"] == 4
    assert status["per_code"]["digitalisation"]["rejected"] == 1 and status["per_code"]["funding"]["accepted"] == 1
    sheet_path = root / "out" / "review.xlsx"
    exported = pilah("review", "export", "--project", str(root), "--out", str(sheet_path))
    assert exported.returncode == 0, exported.stderr
    sheet = read_sheet(sheet_path)
    filled = {(r["code"], r["decision"], r["reviewer"]) for _, r in sheet.iterrows() if r["decision"]}
    assert filled == {("training", "accept", "ani"), ("digitalisation", "reject", "ani"),
                      ("funding", "accept", "ani"), ("technology", "add", "ani")}


def test_serve_browser_a_second_workspace_on_the_project_is_refused(served):
    root, _ = served
    second = pilah("serve", "--project", str(root), "--no-browser")
    assert second.returncode == 2 and "a workspace (`pilah serve`) is open on this project already" in second.stderr
    assert "Traceback" not in second.stderr
