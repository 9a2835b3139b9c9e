"""Exports under attack: a sheet saved while a run works, a full disk, a writer that fails
half-way. Nothing an analyst typed is lost and no old export is left truncated."""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipeline.errors import OutputError
from pipeline.outputs import digest, replacing, write_text

TRANSCRIPT = (
    "Pewawancara: Apa kendala usaha Ibu?\n\n"
    "Bu Sari: Modal kurang dan biaya kirim mahal, pelatihan dari dinas sangat membantu kami.\n\n"
    "Pewawancara: Bagaimana dengan pemasaran?\n\n"
    "Bu Sari: Pemasaran online lewat marketplace membantu, tetapi akses internet di desa masih sulit.\n"
)
CONFIG = '[project]\ncorpus = ["corpus"]\nout = "out"\n\n[suggest]\nmodel = "no-model-yet"\nencoder = "none"\n'


@pytest.fixture
def project(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (corpus / "b.txt").write_text(TRANSCRIPT.replace("Bu Sari", "Pak Dedi"), encoding="utf-8")
    (tmp_path / "pilah.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def _run(root: Path, **options):
    from pipeline.project import Project
    from pipeline.run import run

    with Project.open(root) as project:
        return run(project, **options)


def _accept_first_suggestion(sheet: Path, comment: str) -> str:
    """Fill in the sheet as an analyst would: accept the first suggestion; its id."""
    book = load_workbook(sheet)
    rows = book["Suggestions"]
    header = [cell.value for cell in rows[1]]
    for row in rows.iter_rows(min_row=2):
        if row[header.index("suggestion_id")].value:
            row[header.index("decision")].value = "accept"
            row[header.index("comment")].value = comment
            book.save(sheet)
            return row[header.index("suggestion_id")].value
    raise AssertionError("the sheet holds no suggestion")


def _decisions(root: Path) -> list[tuple]:
    with sqlite3.connect(root / ".pilah" / "pilah.sqlite") as db:
        return db.execute("SELECT suggestion_id, decision, comment FROM decisions").fetchall()


def test_hostile_outputs_replacing_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "suggestions.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with replacing(target) as (temporary, _):
            temporary.write_text("half", encoding="utf-8")
            raise RuntimeError("the writer broke")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["suggestions.csv"]


def test_hostile_outputs_file_changed_since_read_is_kept_and_new_goes_beside(tmp_path):
    target = tmp_path / "suggestions.xlsx"
    target.write_bytes(b"as read")
    read = digest(target)
    target.write_bytes(b"saved by the analyst meanwhile")
    done = write_text(target, "new", expected=read)
    assert done.kept_beside and done.path == tmp_path / "suggestions.new.xlsx"
    assert target.read_bytes() == b"saved by the analyst meanwhile"
    assert done.path.read_text(encoding="utf-8") == "new"
    assert not write_text(target, "newer", expected=digest(target)).kept_beside  # unchanged: replaced
    assert target.read_text(encoding="utf-8") == "newer"


def test_hostile_outputs_sheet_saved_during_a_run_is_imported_not_overwritten(project):
    _run(project)
    sheet = project / "out" / "suggestions.xlsx"
    (project / "corpus" / "a.txt").write_text(TRANSCRIPT + "\nBu Sari: Terima kasih.\n", encoding="utf-8")
    saved = {}

    def analyst_saves(path: str) -> None:  # the analyst saves the sheet while the run works
        if not saved:
            saved["id"] = _accept_first_suggestion(sheet, "disimpan saat run berjalan")

    summary = _run(project, on_document=analyst_saves)
    assert (saved["id"], "accept", "disimpan saat run berjalan") in _decisions(project)
    assert summary["sheets_kept_beside"] == []
    rewritten = load_workbook(sheet)["Suggestions"]
    header = [cell.value for cell in rewritten[1]]
    prefilled = {(row[header.index("suggestion_id")].value, row[header.index("decision")].value)
                 for row in rewritten.iter_rows(min_row=2)}
    assert (saved["id"], "accept") in prefilled


def test_hostile_outputs_sheet_saved_while_sheets_are_written_is_kept(project, monkeypatch):
    from pipeline import review

    _run(project)
    sheet = project / "out" / "suggestions.xlsx"
    (project / "corpus" / "b.txt").write_text(TRANSCRIPT.replace("Bu Sari", "Bu Tini"), encoding="utf-8")
    finish = review.XlsxSheet._finish
    saved = {}

    def analyst_saves_then_finish(self):  # saved after the run's last look, before the rename
        saved["id"] = _accept_first_suggestion(sheet, "disimpan saat sheet ditulis")
        saved["digest"] = digest(sheet)
        finish(self)

    monkeypatch.setattr(review.XlsxSheet, "_finish", analyst_saves_then_finish)
    summary = _run(project)
    beside = project / "out" / "suggestions.new.xlsx"
    assert digest(sheet) == saved["digest"], "the analyst's sheet was overwritten"
    assert summary["sheets_kept_beside"] == [str(beside)]
    assert str(beside) in summary["outputs"] and load_workbook(beside)["Suggestions"].max_row > 1
    monkeypatch.setattr(review.XlsxSheet, "_finish", finish)
    _run(project)  # the next run imports the kept sheet
    assert (saved["id"], "accept", "disimpan saat sheet ditulis") in _decisions(project)


def _disk_fills_while_writing_csv(monkeypatch):
    from pipeline import review

    def add(self, frame):
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("segment_id,te")  # part of a row, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(review.CsvSheet, "add", add)


def test_hostile_outputs_full_disk_keeps_old_exports_and_fails_the_run(project, monkeypatch):
    _run(project)
    out = project / "out"
    before = {path.name: digest(path) for path in out.iterdir()}
    (project / "corpus" / "a.txt").write_text(TRANSCRIPT + "\nBu Sari: Sampai jumpa.\n", encoding="utf-8")
    _disk_fills_while_writing_csv(monkeypatch)
    with pytest.raises(OutputError, match=r"suggestions\.csv: the disk is full") as raised:
        _run(project)
    assert "\n" not in str(raised.value)
    assert {path.name: digest(path) for path in out.iterdir()} == before  # old exports intact, no temp file
    with sqlite3.connect(project / ".pilah" / "pilah.sqlite") as db:
        finished, summary = db.execute("SELECT finished_at, summary FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        failures = db.execute("SELECT path, stage, reason FROM failures").fetchall()
    assert finished is not None and "disk is full" in json.loads(summary)["failed"]
    assert [(Path(p).name, stage) for p, stage, _ in failures] == [("suggestions.csv", "export")]


def test_hostile_outputs_full_disk_is_one_line_from_the_cli(project, monkeypatch):
    from cli_helpers import runner

    from pipeline.cli import app

    _run(project)
    (project / "corpus" / "b.txt").write_text(TRANSCRIPT + "\nPak Dedi: Cukup.\n", encoding="utf-8")
    _disk_fills_while_writing_csv(monkeypatch)
    result = runner.invoke(app, ["run", "--project", str(project)])
    assert result.exit_code == 2
    flat = result.output.replace("\n", "")  # the terminal's wrapping undone
    assert "suggestions.csv: the disk is full" in flat and "Traceback" not in flat
    assert result.output.strip().startswith("error:")
