"""``pilah run`` over a corpus of hostile files: every bad file is reported with its reason,
every good one processed, no spreadsheet formula in the exports, nothing read from outside."""

from __future__ import annotations

import csv
import json
import sqlite3

import openpyxl
import pytest

from tests.make_hostile_corpus import CONFIG, ROUND_3, SECRET, build

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from cli_helpers import run_corpus as run  # tests/cli_helpers.py

    root = tmp_path_factory.mktemp("hostile")
    good, bad = build(root)
    config = root / "pilah.toml"
    config.write_text(CONFIG, encoding="utf-8")
    summary = run(root / "corpus", config, root / "out", root / "project")
    return root, good, bad, summary


def test_hostile_run_reports_every_bad_file_with_its_reason(hostile_run):
    root, _, bad, summary = hostile_run
    failures = {f["path"]: f for f in summary["failures"]}
    assert set(failures) == set(bad)
    for name, word in bad.items():
        assert word in failures[name]["reason"], (name, failures[name]["reason"])
        assert failures[name]["stage"] == "ingest"
    written = json.loads((root / "out" / "run.json").read_text(encoding="utf-8"))
    assert {f["path"] for f in written["failures"]} == set(bad)


def test_hostile_run_processes_every_good_file(hostile_run):
    root, good, _, summary = hostile_run
    with sqlite3.connect(summary["project_store"]) as db:
        stored = {path for (path,) in db.execute("SELECT path FROM documents")}
        texts = [text for (text,) in db.execute("SELECT text FROM document_versions")]
    assert stored == good
    assert summary["counts"]["documents"] == len(good)
    assert summary["counts"]["documents_processed"] == len(good)
    assert all("\x1a" not in text and "\x07" not in text for text in texts)


def test_hostile_run_reads_nothing_from_outside_the_corpus(hostile_run):
    root, _, _, summary = hostile_run
    with sqlite3.connect(summary["project_store"]) as db:
        stored = " ".join(text for (text,) in db.execute("SELECT text FROM document_versions"))
        segments = " ".join(text for (text,) in db.execute("SELECT text FROM segments"))
    for content in (stored, segments, (root / "out" / "suggestions.csv").read_text(encoding="utf-8-sig")):
        assert SECRET not in content
        assert "root:x:0:0" not in content


def test_hostile_run_xlsx_holds_no_formula(hostile_run):
    root, *_ = hostile_run
    workbooks = sorted((root / "out").glob("*.xlsx"))
    assert {path.name for path in workbooks} >= {"suggestions.xlsx", "displays.xlsx"}
    formulas = [
        (path.name, sheet.title, cell.coordinate, cell.value)
        for path in workbooks for sheet in openpyxl.load_workbook(path).worksheets
        for row in sheet.iter_rows() for cell in row
        if cell.data_type == "f"
    ]
    assert formulas == []


def test_hostile_run_csv_cells_start_with_no_formula_character(hostile_run):
    root, *_ = hostile_run
    with open(root / "out" / "suggestions.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) > 1
    live = [(number, cell) for number, row in enumerate(rows, 1) for cell in row if cell.startswith(FORMULA_STARTS)]
    assert live == []


def test_hostile_run_reads_round_3_files_as_they_are_written(hostile_run, capfd):
    root, _, _, summary = hostile_run
    with sqlite3.connect(summary["project_store"]) as db:
        for name, (speakers, absent) in ROUND_3.items():
            rows = db.execute("SELECT speaker, text FROM segments JOIN documents ON documents.id = segments.document_id "
                              "WHERE documents.path = ? AND segments.active = 1 ORDER BY segments.idx", (name,)).fetchall()
            assert [speaker for speaker, _ in rows] == speakers, (name, rows)
            assert not any(absent in text for _, text in rows), (name, rows)
        header = json.loads(db.execute("SELECT metadata FROM documents WHERE path = '23_kepala.txt'").fetchone()[0])
    assert header["header"]["Narasumber"] == "Pak Budi"
    assert "Traceback" not in capfd.readouterr().err
