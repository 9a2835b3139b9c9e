"""Conclusions on the sample corpus: cases, queries, the conclusion displays in the report,
displays.xlsx and the Word document, checked against hand counts of the gold coding."""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pandas as pd
import pytest
from docx import Document as WordDocument
from lxml import etree

from tests.cli_helpers import invoke, runner
from tests.conftest import SHARED_DATA
from tests.conclude_helpers import (CASE_ROWS, CORPUS, ROLES, gold_factor_rows, hand_count, make_project,
                                    write_cases)
from pipeline.cli import app


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("conclude") / "study")


@pytest.fixture()
def project(project_dir):
    from pipeline.project import Project

    with Project.open(project_dir) as opened:
        yield opened


@pytest.fixture()
def conclusions(project):
    from pipeline.conclude import project_conclusions

    return project_conclusions(project, attribute="sektor")


def test_conclude_cases_table_resolves_and_checks(project_dir, project, tmp_path):
    result = invoke("cases", "--project", project_dir, "--json")
    import json

    found = json.loads(result.stdout)
    assert [c["case"] for c in found["cases"]] == sorted(CASE_ROWS)
    assert {c["case"]: c["sektor"] for c in found["cases"]} == {k: v["sektor"] for k, v in CASE_ROWS.items()}
    assert found["problems"] == []
    assert {c["case"]: c["documents"] for c in found["cases"]}["Prefektur Minamiura"] == 1
    import csv

    with open(CORPUS / "manifest.csv", encoding="utf-8") as handle:
        manifest = {row["file"]: row for row in csv.DictReader(handle)}
    interviewed = [i for i in found["informants"] if i["source_type"] == "interview"]
    assert len(interviewed) == len(ROLES)  # one informant per interview, the interviewer left out
    assert {(i["case"], i["role"]) for i in interviewed} == {(manifest[d]["case"], r) for d, r in ROLES.items()}
    # a broken table: an unknown document, a case without documents, a missing value
    bad = tmp_path / "bad.csv"
    write_cases(bad)
    with open(bad, "a", encoding="utf-8") as handle:
        handle.write("Kota Baru,,,food,,\n,interviews/99_nobody.txt,,,,entrepreneur\n,,Pak Nobody,,,official\n")
    from pipeline.conclude.cases import check_cases, read_case_table

    problems = check_cases(read_case_table(bad), project.store).problems
    assert any("unknown document 'interviews/99_nobody.txt'" in p for p in problems)
    assert any("unknown speaker 'Pak Nobody'" in p for p in problems)
    assert any("case 'Kota Baru' holds no document" in p for p in problems)
    assert any("case 'Kota Baru' has no value for kabupaten" in p for p in problems)


def test_conclude_speaker_rows_override_document_rows(project):
    from pipeline.conclude.cases import CaseTable, resolve

    table = CaseTable([{"case": "A", "sektor": "food"}, {"document": "x.txt", "case": "A", "role": "official"},
                       {"speaker": "Ani", "role": "entrepreneur"}], ["sektor", "role"], "t")
    resolved = resolve(table, pd.DataFrame({"metadata": ['{"case": "B"}']}))
    assert resolved.of("x.txt", "x.txt", {"case": "B"}, "Ani") == {
        "case": "A", "sektor": "food", "role": "entrepreneur", "source_type": "document"}
    assert resolved.of("x.txt", "x.txt", {"case": "B"}, "Budi")["role"] == "official"
    assert resolved.of("interviews/y.txt", "interviews/y.txt", {"case": "B"}, "")["source_type"] == "interview"


def test_conclude_factor_attribute_cell_matches_a_hand_count(conclusions):
    rows = [r for r in gold_factor_rows()
            if (r["factor_type"], r["sektor"], r["direction"]) == ("market_access", "food", "constraining")]
    expected = hand_count(rows)
    cells = conclusions.factor_by_attribute.set_index(["factor_type", "value", "direction"])
    cell = cells.loc[("market_access", "food", "constraining")]
    assert (cell["segments"], cell["informants"], cell["cases"]) == (
        expected["segments"], expected["informants"], expected["cases"]) == (5, 2, 1)
    assert cell["quote"] and cell["where"].startswith("Kabupaten Lembah Hijau · ")
    assert "interviews/" not in cell["where"]  # named by case and speaker, not by file path


def test_conclude_triangulation_row_matches_a_hand_count(conclusions):
    rows = [r for r in gold_factor_rows() if (r["factor_type"], r["direction"]) == ("funding", "constraining")]
    expected = hand_count(rows)
    row = conclusions.triangulation.set_index(["factor_type", "direction"]).loc[("funding", "constraining")]
    assert (row["segments"], row["informants"], row["cases"], row["source_types"]) == (
        expected["segments"], expected["informants"], expected["cases"], len(expected["source_type"]))

    def listed(text):
        return {m[0]: int(m[1]) for m in re.findall(r"(.+?) \((\d+)\)(?:; |$)", text)}

    assert listed(row["by_source_type"]) == expected["source_type"]
    assert listed(row["by_role"]) == expected["role"]
    assert listed(row["by_case"]) == expected["case"]
    assert row["flags"] == []


def test_conclude_flags_a_factor_resting_on_one_informant(conclusions):
    flagged = conclusions.triangulation[conclusions.triangulation["informants"] == 1]
    hand = {}
    for r in gold_factor_rows():
        hand.setdefault((r["factor_type"], r["direction"]), set()).add(r["document"])
    alone = {key for key, documents in hand.items() if len(documents) == 1}
    assert set(zip(flagged["factor_type"], flagged["direction"])) == alone
    assert all("one informant" in flags for flags in flagged["flags"])


def test_conclude_negative_evidence_counts_opposite_codings(conclusions):
    rows = [r for r in gold_factor_rows() if r["factor_type"] == "technology" and r["direction"] == "supporting"]
    row = conclusions.negative.set_index(["factor_type", "direction"]).loc[("technology", "constraining")]
    assert row["opposite"] == hand_count(rows)["segments"]
    # every case was reviewed (the gold covers them all): absence is where the factor is not
    present = {r["case"] for r in gold_factor_rows() if (r["factor_type"], r["direction"]) == ("technology", "constraining")}
    absent = set(CASE_ROWS) - present
    assert {part.rsplit(" (", 1)[0] for part in row["absent_in"].split("; ") if part} == absent
    assert row["not_reviewed"] == ""


def test_conclude_conclusions_table_has_exemplars_from_different_informants(conclusions):
    table = conclusions.conclusions
    assert list(table["direction"].unique()) == ["supporting", "constraining"]
    for row in table.itertuples(index=False):
        assert 1 <= len(row.quotes) <= 3
        informants = [where.split(" · ")[1] for _, where in row.quotes]
        assert len(set(informants)) == len(informants) or row.informants < len(row.quotes)
        for quote, _ in row.quotes:  # whole sentences: ends at a sentence end, or marks a cut between sentences
            assert re.search(r"[.!?…\"”)]$", quote.rstrip(" …")) or quote.endswith(" …"), quote


def test_conclude_query_cli_outputs_and_saved_query_follows_new_coding(project_dir, tmp_path):
    expression = 'factor=market_access direction=penghambat sektor=food'
    result = invoke("query", expression, "--project", project_dir, "--out", tmp_path / "q.csv", "--save", "food-market")
    rows = [r for r in gold_factor_rows() if (r["factor_type"], r["sektor"], r["direction"]) ==
            ("market_access", "food", "constraining")]
    assert f"{hand_count(rows)['segments']} segments" in result.stdout
    table = pd.read_csv(tmp_path / "q.csv")
    assert set(table["case"]) == {"Kabupaten Lembah Hijau"} and set(table["direction"]) == {"constraining"}
    assert not table["quote"].str.contains("interviews/").any()
    invoke("query", expression + ' text~"<b>"', "--project", project_dir, "--out", tmp_path / "q.html")
    page = (tmp_path / "q.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;" in page and "<b>\"" not in page and "Content-Security-Policy" in page
    invoke("query", expression, "--project", project_dir, "--out", tmp_path / "q.xlsx")
    assert openpyxl.load_workbook(tmp_path / "q.xlsx").active.max_row == len(table) + 1
    # new coding: a segment of the food case coded market_access=constraining by another reviewer
    from pipeline.project import Project
    from pipeline.store import Decision

    with Project.open(project_dir) as opened:
        segments = opened.store.segments_frame()
        coded = set(table["segment_id"])
        fresh = segments[segments["document"].str.startswith("interviews/02") & ~segments["segment_id"].isin(coded)
                         & (segments["speaker"] == "Dimas")].iloc[0]["segment_id"]
        opened.store.add_decisions([Decision(fresh, None, "add", "market_access", "constraining", "second coder")])
    again = invoke("query", "--saved", "food-market", "--project", project_dir)
    assert f"{hand_count(rows)['segments'] + 1} segments" in again.stdout
    listed = invoke("query", "--list", "--project", project_dir)
    assert "food-market" in listed.stdout


def test_conclude_query_errors_are_one_line(project_dir):
    for expression, said in (("code=permodalan", "no code, label or folder 'permodalan'"),
                             ("nonsense=1", "unknown field 'nonsense'"), ('case="open', "close every quote")):
        result = runner.invoke(app, ["query", expression, "--project", str(project_dir)])
        assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output


def test_conclude_report_and_docx_show_every_display(project_dir, project, tmp_path):
    from pipeline.report import write_report

    summary = write_report(project.view(), project.codebook, tmp_path / "report.html", lang="id",
                           xlsx_path=tmp_path / "displays.xlsx")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for key in ("conclusions", "factor-matrix", "factor-attribute", "triangulation", "negative", "memos"):
        assert f'id="concl-{key}"' in html
    assert "Hanya koding yang diterima analis" in html
    assert summary["shown"]["pending"] > 0  # the report shows pending suggestions elsewhere...
    pending = project.store.suggestions_frame(pending=True)
    section = html[html.index('id="conclusions"'):html.index("</section>", html.index('id="conclusions"'))]
    assert "interviews/" not in section
    book = openpyxl.load_workbook(tmp_path / "displays.xlsx")
    for name in ("Kesimpulan", "Faktor x atribut", "Triangulasi", "Bukti negatif", "Memo"):
        assert name in book.sheetnames
    out = tmp_path / "findings.docx"
    invoke("report", "--format", "docx", "--by", "sektor", "--lang", "id", "--out", out, "--project", project_dir)
    word = WordDocument(str(out))
    assert len(word.tables) == 6
    captions = [p.text for p in word.paragraphs if p.style.name == "Caption"]
    assert [c.split(".")[0] for c in captions] == [f"Tabel {n}" for n in range(1, 7)]
    assert "Triangulasi" in captions[3] and "Hanya koding yang diterima analis" in captions[0]
    triangulation = word.tables[3]
    assert [c.text for c in triangulation.rows[0].cells][:3] == ["Faktor", "Segmen", "Informan"]
    factors = {row.cells[0].text for row in triangulation.rows[1:]}
    assert "▼ Pendanaan (faktor penghambat)" in factors
    matrix = word.tables[2]  # factor × sektor: one column per value
    assert [c.text for c in matrix.rows[0].cells] == ["Faktor", "fashion", "food", "pemerintahan"]
    assert len(pending) and not any(p in out.read_bytes().decode("latin-1") for p in ("interviews/01",))


def test_conclude_pseudonymised_displays_name_no_one(project):
    from pipeline.conclude import project_conclusions

    shown = project_conclusions(project, pseudonymize=True, attribute="sektor")
    text = shown.conclusions.to_string() + shown.triangulation.to_string() + shown.factor_by_attribute.to_string()
    for name in ("Pak Hendra", "Dimas", "Ms. Tanaka", "Nadia", "Bu Sari", "Pak Rudi"):
        assert name not in text
    assert "Kabupaten Lembah Hijau" in text  # cases are places, kept


def test_conclude_cases_go_out_and_come_back_through_refi(project_dir, project, tmp_path):
    from pipeline.conclude import project_cases
    from pipeline.conclude.refi import import_cases
    from pipeline.refi import export_qdpx

    invoke("export", "--project", project_dir, "--out", tmp_path / "study.qdpx")  # reads cases.csv first
    with zipfile.ZipFile(tmp_path / "study.qdpx") as archive:
        root = etree.fromstring(archive.read("project.qde"))
    ns = {"q": "urn:QDA-XML:project:1.0"}
    variables = {v.get("guid"): v.get("name") for v in root.iterfind(".//q:Variables/q:Variable", ns)}
    food = root.find(".//q:Case[@name='Kabupaten Lembah Hijau']", ns)
    values = {variables[v.find("q:VariableRef", ns).get("targetGUID")]: v.find("q:TextValue", ns).text
              for v in food.iterfind("q:VariableValue", ns)}
    assert values == {"sektor": "food", "kabupaten": "Lembah Hijau"}
    assert len(food.findall("q:SourceRef", ns)) == 2
    target = tmp_path / "cases.csv"
    report = import_cases(tmp_path / "study.qdpx", target)
    assert report["conflicts"] == [] and report["added_rows"] >= 4
    back = pd.read_csv(target, dtype=str).fillna("")
    assert dict(zip(back[back["document"] == ""]["case"], back[back["document"] == ""]["sektor"])) == {
        k: v["sektor"] for k, v in CASE_ROWS.items()}
    assert set(ROLES) <= set(back["document"])
    # an edited case table reaches the next export without any other command between
    import shutil

    study = shutil.copytree(project_dir, tmp_path / "edited")
    text = (study / "cases.csv").read_text(encoding="utf-8")
    (study / "cases.csv").write_text(text.replace(",food,", ",kuliner,"), encoding="utf-8")
    invoke("export", "--project", study, "--out", tmp_path / "edited.qdpx")
    with zipfile.ZipFile(tmp_path / "edited.qdpx") as archive:
        assert b"<TextValue>kuliner</TextValue>" in archive.read("project.qde")


@pytest.mark.shared_data
def test_conclude_qdpx_with_case_variables_is_valid_refi_qda(project, tmp_path):
    from pipeline.conclude import project_cases
    from pipeline.refi import export_qdpx

    project_cases(project)
    export_qdpx(project.view(), project.codebook, tmp_path / "study.qdpx")
    with zipfile.ZipFile(tmp_path / "study.qdpx") as archive:
        root = etree.fromstring(archive.read("project.qde"))
    schema = etree.XMLSchema(etree.parse(str(SHARED_DATA / "refi_qda" / "Project-mrt2019.xsd")))
    assert schema.validate(root), schema.error_log
    assert root.find(".//{urn:QDA-XML:project:1.0}Case/{urn:QDA-XML:project:1.0}VariableValue") is not None


@pytest.mark.browser
def test_conclude_report_section_renders_offline_in_chromium(project, tmp_path):
    import chromium  # tests/chromium.py

    from pipeline.report import write_report

    write_report(project.view(), project.codebook, tmp_path / "report.html", lang="en")
    dom, requests = chromium.render(tmp_path / "report.html", tmp_path)
    assert requests == []
    section = dom[dom.index('<section id="conclusions">'):]
    section = section[:section.index("</section>")]
    for key in ("conclusions", "factor-matrix", "factor-attribute", "triangulation", "negative", "memos"):
        assert f'id="concl-{key}"' in section
    assert section.count("<tr>") > 40 and "Accepted codings only" in section
    assert "Triangulation: the sources and informants that attest each factor" in section


def test_conclude_query_in_the_workspace(project, project_dir):
    from starlette.testclient import TestClient

    from pipeline.serve.app import create_app
    from pipeline.serve.workspace import Workspace

    ws = Workspace(project.store, project.codebook, project.config, project.root, "analyst", "en")
    with TestClient(create_app(ws, "tok", hosts=("testserver",)), base_url="http://testserver") as client:
        client.headers["X-Pilah-Token"] = "tok"
        page = client.get("/query", params={"q": "factor=market_access direction=constraining sektor=food reviewer=gold"}).text
        rows = [r for r in gold_factor_rows()
                if (r["factor_type"], r["sektor"], r["direction"]) == ("market_access", "food", "constraining")]
        assert f"segments: {hand_count(rows)['segments']}" in page
        assert page.count("<blockquote>") == len({(r["document"], r["quote"], r["code"]) for r in rows})  # one per coding
        page = client.get("/query", params={"q": 'case="<script>'}).text
        assert "<script>" not in page.split("<body", 1)[1].replace("<script src", "") and "close every quote" in page


def test_conclude_pseudonymised_memos_read_as_the_pseudonymised_view_shows_them(project):
    """One pseudonymisation of a memo: the conclusions show it as the view (and so the
    REFI-QDA export) does, the name in it replaced."""
    from pipeline.conclude import project_conclusions

    project.store.add_memo("code", "funding", "Pak Budi Santoso menyebut anggaran dipotong.", "dewi")
    shown = project_conclusions(project, pseudonymize=True, attribute="sektor").memos
    viewed = project.view(pseudonymize=True).memos_frame()
    viewed = viewed[viewed["target"].isin(["code", "project"])]
    assert sorted(zip(shown["text"], shown["author"])) == sorted(zip(viewed["text"], viewed["author"]))
    memo = next(t for t in shown["text"] if "menyebut anggaran dipotong" in t)
    assert "Budi" not in memo and "Santoso" not in memo


def test_conclude_memos_reach_the_conclusions_table_and_the_docx(project_dir, project, tmp_path):
    from pipeline.conclude import project_conclusions

    project.store.add_memo("code", "funding", "Refocusing 2020–2021 memotong anggaran: faktor penghambat utama.", "dewi")
    shown = project_conclusions(project, attribute="sektor")
    row = shown.conclusions.set_index(["factor_type", "direction"]).loc[("funding", "constraining")]
    assert "Refocusing 2020–2021 memotong anggaran" in row["memo"] and "(dewi)" in row["memo"]
    invoke("report", "--format", "docx", "--lang", "en", "--out", tmp_path / "f.docx", "--project", project_dir)
    word = WordDocument(str(tmp_path / "f.docx"))
    memos = word.tables[5]
    assert [c.text for c in memos.rows[0].cells] == ["On", "Memo", "Author"]
    assert any("Refocusing 2020–2021" in r.cells[1].text and r.cells[0].text == "Funding and budget"
               for r in memos.rows[1:])
    conclusions = word.tables[0]
    assert any("Refocusing 2020–2021" in r.cells[6].text for r in conclusions.rows[1:])
    # a hostile memo is text everywhere: escaped in the report, never a formula in the sheets
    project.store.add_memo("code", "funding", '=HYPERLINK("http://x") <script>alert(1)</script>', "dewi")
    from pipeline.report import write_report

    write_report(project.view(), project.codebook, tmp_path / "r.html", lang="en", xlsx_path=tmp_path / "d.xlsx")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="conclusions">'):]
    assert "<script>alert(1)" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    memo_cells = [c for row in openpyxl.load_workbook(tmp_path / "d.xlsx")["Memos"].iter_rows() for c in row
                  if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert memo_cells and all(c.data_type == "s" for c in memo_cells)


def test_conclude_case_table_named_in_the_settings(project_dir, tmp_path):
    from pipeline.conclude import project_cases
    from pipeline.project import Project

    study = tmp_path / "elsewhere"
    import shutil

    shutil.copytree(project_dir, study)
    (study / "data").mkdir()
    (study / "cases.csv").rename(study / "data" / "kasus.csv")
    with open(study / "pilah.toml", "a", encoding="utf-8") as handle:
        handle.write('\n[conclude]\ncases = "data/kasus.csv"\nby = "kabupaten"\n')
    with Project.open(study) as opened:
        assert {row.get("sektor") for row in project_cases(opened).of_kind("case")} == {"food", "fashion", "pemerintahan"}
        from pipeline.conclude import project_conclusions

        assert project_conclusions(opened).attribute == "kabupaten"
        from pipeline.report import report_settings, write_report

        # the report pilah run writes reads the same settings
        write_report(opened.view(), opened.codebook, tmp_path / "r.html", **report_settings(opened.config))
        assert "Faktor × kabupaten — Hanya koding yang diterima analis" in (tmp_path / "r.html").read_text(encoding="utf-8")
    (study / "data" / "kasus.csv").unlink()
    result = runner.invoke(app, ["cases", "--project", str(study)])
    assert result.exit_code == 2 and "kasus.csv" in result.output and "not found" in result.output


def test_conclude_query_pseudonymised(project_dir, tmp_path):
    result = invoke("query", "code=financing role=entrepreneur", "--pseudonymize", "--out", tmp_path / "q.csv",
                    "--project", project_dir)
    table = pd.read_csv(tmp_path / "q.csv", dtype=str).fillna("")
    assert len(table) > 0
    for name in ("Dimas", "Bu Sari"):
        assert name not in result.stdout and not table.apply(lambda c: c.str.contains(name)).any().any()


def test_conclude_quotes_are_whole_sentences():
    from pipeline.conclude.evidence import cut_quote, sentences

    text = ("Awalnya lancar. " * 6 + "Tapi anggaran dipotong tujuh puluh persen pada 2020! "
            + "Kami bingung? " * 6 + "Lalu program berhenti.")
    quote = cut_quote(text, "anggaran", 120)
    assert "Tapi anggaran dipotong tujuh puluh persen pada 2020!" in quote
    assert quote.startswith("… ") and quote.endswith(" …") and len(quote) <= 124
    inner = quote.removeprefix("… ").removesuffix(" …")
    at = text.find(inner)
    spans = sentences(text)
    assert at in {a for a, _ in spans} and at + len(inner) in {b for _, b in spans}  # starts and ends with a sentence
    long = "Satu kalimat panjang sekali " + "tanpa titik " * 40 + "akhirnya."
    assert cut_quote("Pendek. " + long, "akhirnya", 100) == "… " + long  # a sentence is never cut inside
    assert cut_quote("Tanpa tanda baca sama sekali " * 30, "", 50) == " ".join(("Tanpa tanda baca sama sekali " * 30).split())


@pytest.mark.shared_data
def test_conclude_cases_import_of_a_real_export_without_cases(project_dir):
    before = (project_dir / "cases.csv").read_bytes()
    for name in ("atlasti8_TestProject.qdpx", "nvivo12_oltas0517.qdpx"):
        result = invoke("cases", "--import", SHARED_DATA / "refi_qda" / name, "--project", project_dir)
        assert "holds no cases" in result.output
    assert (project_dir / "cases.csv").read_bytes() == before


def test_conclude_case_table_hostile_files(tmp_path):
    from pipeline.conclude.cases import read_case_table
    from pipeline.errors import InputError

    semicolons = tmp_path / "excel.csv"  # what Excel writes in an Indonesian locale: BOM and ';'
    semicolons.write_bytes("\ufeffcase;sektor;catatan\nKota A;food;=HYPERLINK(\"http://x\")\n".encode("utf-8"))
    table = read_case_table(semicolons)
    assert table.rows == [{"case": "Kota A", "sektor": "food", "catatan": '=HYPERLINK("http://x")'}]
    for name, data, said in (("latin1.csv", "case,sektor\nKota Ä,food\n".encode("latin-1"), "UTF-8"),
                             ("nocase.csv", b"kasus,sektor\nA,food\n", "no 'case' column"),
                             ("twice.csv", b"case,sektor,Sektor\nA,food,x\n", "unique"),
                             ("empty.csv", b"", "empty"),
                             ("keyless.csv", b"case,document,sektor\n,,food\n", "row 2: no case, document or speaker")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match=said) as error:
            read_case_table(tmp_path / name)
        assert str(tmp_path / name) in str(error.value)


def test_conclude_broken_case_table_stops_pilah_report_not_the_run_report(project_dir, tmp_path, caplog):
    import shutil

    from pipeline.project import Project
    from pipeline.report import report_settings, write_report

    study = shutil.copytree(project_dir, tmp_path / "study")
    (study / "cases.csv").write_text("kasus,sektor\nA,food\n", encoding="utf-8")
    result = runner.invoke(app, ["report", "--project", str(study)])
    assert result.exit_code == 2 and "cases.csv: no 'case' column" in result.output and "Traceback" not in result.output
    with Project.open(study) as opened:  # what pilah run does after storing everything: the report goes on
        write_report(opened.view(), opened.codebook, tmp_path / "r.html", **report_settings(opened.config))
    assert "no 'case' column" in caplog.text and 'id="concl-triangulation"' in (tmp_path / "r.html").read_text()
