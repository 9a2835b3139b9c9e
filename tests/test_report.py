"""The report a new user opens after `pilah run`: out/report.html of the sample corpus in
headless Chromium, and out/displays.xlsx.

The sample project is reviewed by a simulated analyst (suggestions scoring at least 0.8
accepted, under 0.3 rejected, one code added), then `pilah run` again rewrites the report,
so it shows accepted codings and pending suggestions side by side.

``PILAH_UPDATE_SCREENSHOT=1 python -m pytest tests/test_report.py`` also writes the
README's screenshot, docs/report.png, from the same rendering.
"""

from __future__ import annotations

import os
import re
import shutil
from html import unescape
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook

from pipeline import display
from pipeline.cli import app
from pipeline.config import PROJECT_ROOT
from pipeline.display import build_displays, quotes
from pipeline.report import report_settings, sheets, write_report
from pipeline.report.html import _quotes, _share, highlighted
from pipeline.report.labels import Labels
from pipeline.store import Decision, Store

import chromium  # tests/chromium.py
from cli_helpers import invoke, runner  # tests/cli_helpers.py
from display_reference import units_read_whole  # tests/display_reference.py

SECTIONS = ("overview", "factors", "factors-case", "factors-actor", "codes-document", "codes-case", "codes-actor",
            "codes-role", "cooccurrence", "frequency", "quotes")
CHARTS = ("chart-factors", "chart-cooccurrence", "chart-direction", "chart-language")


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, processed_sample):
    """The sample corpus run (once per session, tests/conftest.py), reviewed in part by
    'rina', and run again."""
    project = tmp_path_factory.mktemp("report") / "project"
    shutil.copytree(processed_sample[0], project)
    out = project / "out"
    assert (out / "report.html").exists() and (out / "displays.xlsx").exists()
    assert "report.html" in processed_sample[1]
    with Store(project) as store:
        suggestions = store.suggestions_frame()
        decisions = [Decision(row.segment_id, row.suggestion_id, "accept" if row.score >= 0.8 else "reject",
                              row.code, row.direction, "rina")
                     for row in suggestions.itertuples() if row.score >= 0.8 or row.score < 0.3]
        plain = suggestions[~suggestions["code"].eq("funding")].iloc[0]
        decisions.append(Decision(plain.segment_id, None, "add", "funding", "constraining", "rina"))
        store.add_decisions(decisions)
    invoke("run", "--project", project)
    return project, out


class _Page(HTMLParser):
    """Ids, image sources, links and the `shown` labels of a rendered page."""

    def __init__(self):
        super().__init__()
        self.ids, self.images, self.urls, self.shown, self.marks = set(), {}, [], [], 0
        self._figure, self._shown = None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "figure":
            self._figure = attrs.get("id")
        if tag == "img":
            self.images[self._figure] = attrs.get("src", "")
        for name in ("src", "href", "action", "poster", "data"):
            if name in attrs:
                self.urls.append(attrs[name])
        if "shown" in (attrs.get("class") or "").split():
            self._shown = True
            self.shown.append("")
        self.marks += tag == "mark"

    def handle_data(self, data):
        if self._shown:
            self.shown[-1] += data

    def handle_endtag(self, tag):
        if tag == "span":
            self._shown = False


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.mark.browser
def test_report_renders_offline_in_headless_chromium(reviewed, tmp_path):
    project, out = reviewed
    dom, requests = chromium.render(out / "report.html", tmp_path)
    assert requests == [], f"the report made requests: {requests}"
    page = _parse(dom)
    assert set(SECTIONS) <= page.ids, set(SECTIONS) - page.ids
    for chart in CHARTS:
        assert page.images.get(chart, "").startswith("data:image/svg+xml;base64,"), chart
    assert all(url.startswith(("data:", "#")) for url in page.urls), [u for u in page.urls if not u.startswith(("data:", "#"))]
    assert page.marks > 20  # evidence words highlighted in the quotes
    for section in ("Matriks faktor", "Ko-okurensi kode", "Kutipan per kode"):  # the default labels are Indonesian
        assert section in dom
    shot = chromium.screenshot(out / "report.html", tmp_path / "report.png", tmp_path, height=2000)
    assert shot.stat().st_size > 50_000
    if os.environ.get("PILAH_UPDATE_SCREENSHOT"):
        (PROJECT_ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, PROJECT_ROOT / "docs" / "report.png")


@pytest.mark.browser
def test_report_request_check_catches_a_page_that_fetches(tmp_path):
    page = tmp_path / "fetches.html"
    page.write_text('<img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" href="https://example.invalid/a.css">',
                    encoding="utf-8")
    _, requests = chromium.render(page, tmp_path)
    assert "http://127.0.0.1:9/x.png" in requests and "https://example.invalid/a.css" in requests


def test_report_says_what_every_display_shows(reviewed):
    project, out = reviewed
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "default-src 'none'" in unescape(html)
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?:https?:)?//", html)
    assert "<script" not in html
    for section in SECTIONS[1:]:
        body = html.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
        page = _parse(body)
        labels = " ".join(page.shown)
        assert "Koding yang diterima analis" in labels and "Saran yang belum ditinjau" in labels, section


def test_report_unchanged_project_leaves_the_files_as_they_are(reviewed, sample_corpus):
    project, out = reviewed
    before = {name: ((out / name).read_bytes(), (out / name).stat().st_mtime_ns) for name in ("report.html", "displays.xlsx")}
    invoke("run", sample_corpus, "--project", project, "--out", out)
    after = {name: ((out / name).read_bytes(), (out / name).stat().st_mtime_ns) for name in ("report.html", "displays.xlsx")}
    assert after == before
    result = invoke("report", "--project", project, "--out", out / "report.html")
    assert "unchanged" in result.output


def test_report_lang_en_and_source_accepted(reviewed, tmp_path):
    project, out = reviewed
    target = tmp_path / "en" / "report.html"
    result = invoke("report", "--project", project, "--out", target, "--lang", "en", "--source", "accepted")
    assert "wrote" in result.output and (tmp_path / "en" / "displays.xlsx").exists()
    html = target.read_text(encoding="utf-8")
    assert "Factor matrix" in html and "Supporting factor" in html and "Training and mentoring" in html
    assert "Suggestions not yet reviewed" not in html.split("</header>", 1)[1]
    assert "Matriks faktor" not in html


def test_report_rejects_unknown_lang_and_source(reviewed, tmp_path):
    project, _ = reviewed
    for option, value in (("--lang", "fr"), ("--source", "gold")):
        result = runner.invoke(app, ["report", "--project", str(project), "--out", str(tmp_path / "r.html"), option, value])
        assert result.exit_code == 2 and value in result.output and "is not one of" in result.output  # click.Choice
    result = runner.invoke(app, ["report", "--project", str(tmp_path / "none")])
    assert result.exit_code == 2 and "pilah run" in result.output


def test_report_displays_xlsx_has_every_matrix_per_status(reviewed):
    project, out = reviewed
    book = load_workbook(out / "displays.xlsx")
    assert book.sheetnames == ["Ikhtisar", "Kemajuan peninjauan", "Matriks faktor", "Faktor x kasus", "Faktor x aktor",
                               "Kode x dokumen", "Kode x kasus", "Kode x aktor", "Kode x peran", "Ko-okurensi",
                               "Kode x arah", "Kode x bahasa", "Kutipan",
                               # the conclusion displays (pipeline.conclude), accepted codings only
                               "Kesimpulan", "Faktor x atribut", "Triangulasi", "Bukti negatif", "Memo"]
    factors = [[c.value for c in row] for row in book["Matriks faktor"].iter_rows()]
    assert factors[0][0].startswith("Ditampilkan: ")
    titles = [row[0] for row in factors if row[0] in ("Koding yang diterima analis", "Saran yang belum ditinjau")]
    assert titles == ["Koding yang diterima analis", "Saran yang belum ditinjau"]
    with Store(project) as store:
        accepted = store.codings_frame()
    titles = [row[0].value for row in book["Kutipan"].iter_rows()]
    accepted_title = titles.index("Koding yang diterima analis")
    pending_title = titles.index("Saran yang belum ditinjau")
    # title, header, one row per accepted segment × code, a blank row
    expected = len(accepted[~accepted["stale"]].drop_duplicates(["segment_id", "code"]))
    assert expected > 50 and pending_title - accepted_title - 3 == expected


def _cells(path) -> dict[str, list[list]]:
    return {sheet.title: [[cell.value for cell in row] for row in sheet.iter_rows()]
            for sheet in load_workbook(path).worksheets}


def test_report_read_in_parts_writes_the_files_of_pilah_run(reviewed, codebook, config, tmp_path, monkeypatch):
    """Displays read two documents at a time and a quotes sheet written seven rows at a time
    give the report and displays.xlsx that `pilah run` wrote, cell for cell."""
    project, out = reviewed
    monkeypatch.setattr(display, "DOCUMENTS_AT_ONCE", 2)
    monkeypatch.setattr(sheets, "QUOTES_AT_ONCE", 7)
    with Store(project) as store:
        write_report(store, codebook, tmp_path / "report.html", xlsx_path=tmp_path / "displays.xlsx",
                     **report_settings(config))
    assert _cells(tmp_path / "displays.xlsx") == _cells(out / "displays.xlsx")
    generated = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    written = [generated.sub("", (where / "report.html").read_text(encoding="utf-8")) for where in (tmp_path, out)]
    assert written[0] == written[1]


def test_report_quotes_sheet_lists_every_unit_of_one_whole_read_with_its_text(reviewed, codebook, config):
    """The quotes sheet, written in parts with each part's text read by segment id, lists
    every unit (accepted codings, pending suggestions) of one whole read of the project, by
    code, document and segment, with its segment's text and evidence."""
    project, out = reviewed
    with Store(project) as store:
        whole = units_read_whole(store, codebook, "all")
    rows = _cells(out / "displays.xlsx")["Kutipan"]
    for status, title in (("accepted", "Koding yang diterima analis"), ("pending", "Saran yang belum ditinjau")):
        start = [row[0] for row in rows].index(title) + 2
        units = whole[whole["status"] == status].sort_values(["code", "document", "segment_id"], kind="stable")
        shown = rows[start:start + len(units)]
        after = rows[start + len(units):start + len(units) + 1]  # a blank row, or the end of the sheet
        assert len(units) > 50 and all(value is None for row in after for value in row)
        # code id, text, evidence, document and segment id (the empty cells of the sheet are None)
        assert [(r[1], r[4], r[5] or "", r[6], r[14]) for r in shown] == list(
            zip(units["code"], units["text"], units["evidence"], units["document"], units["segment_id"]))


def test_report_quotes_are_the_strongest_of_one_whole_read(reviewed, codebook, config):
    project, _ = reviewed
    with Store(project) as store:
        displays = build_displays(store, codebook, "all")
        whole = units_read_whole(store, codebook, "all")
        sections = _quotes(displays, Labels("id", codebook), 8)
    assert [section["code"] for section in sections] == displays.codes
    shown = 0
    for section in sections:
        every = quotes(whole, section["code"])
        chosen = _share(every, 8)
        assert [str(item["quote"]) for item in section["items"]] == [
            str(highlighted(text, evidence)) for text, evidence in zip(chosen["text"], chosen["evidence"])]
        assert section["more"] == len(every) - len(chosen)
        shown += len(chosen)
    assert shown > 50


def test_report_sheets_never_hold_a_formula_from_the_data(tmp_path, sample_corpus):
    corpus = tmp_path / "corpus"
    (corpus / "interviews").mkdir(parents=True)
    shutil.copy(sample_corpus / "interviews" / "02_pengusaha_kopi_lembah_hijau.txt", corpus / "interviews" / "kopi.txt")
    (corpus / "manifest.csv").write_text('file,title,case,actor,role,date,language\n'
                                         'interviews/kopi.txt,Kopi,"=HYPERLINK(""http://x"")",@actor,+role,2024-01-01,id\n',
                                         encoding="utf-8")
    (tmp_path / "rules.toml").write_text('[suggest]\nmodel = "no-model"\n[report]\nlang = "en"\n', encoding="utf-8")
    invoke("run", corpus, "--project", tmp_path, "--out", tmp_path / "out", "--config", tmp_path / "rules.toml")
    book = load_workbook(tmp_path / "out" / "displays.xlsx")
    values = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                values.append(cell.value)
    assert '=HYPERLINK("http://x")' in values and "@actor" in values
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert '=HYPERLINK(&#34;http://x&#34;)' in html and 'href="http://x"' not in html
