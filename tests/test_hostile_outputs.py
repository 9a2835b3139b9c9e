"""Exports under attack: a sheet saved while a run works, a full disk, a writer that fails
half-way. Nothing an analyst typed is lost and no old export is left truncated."""

from __future__ import annotations

import csv
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


C0 = [chr(c) for c in range(0x20)]


def test_hostile_outputs_every_c0_control_in_a_sheet_is_cleaned_at_the_door(project):
    """A comment or reviewer cell holding any C0 control character (BEL broke every later
    `pilah export` with "All strings must be XML compatible") is stored without it, and
    every exporter writes the project afterwards."""
    import pandas as pd
    from cli_helpers import invoke

    _run(project)
    sheet = pd.read_csv(project / "out" / "suggestions.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rows = sheet[sheet["suggestion_id"] != ""].head(1)
    rows = pd.concat([rows] * len(C0), ignore_index=True)
    rows["decision"] = "accept"
    rows["comment"] = [f"catatan{char}akhir {number}" for number, char in enumerate(C0)]
    rows["reviewer"] = [f"rev{number:02d}{char}x" for number, char in enumerate(C0)]
    reviewed = project / "reviewed.csv"
    rows.to_csv(reviewed, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_ALL)  # a lone CR stays in its cell
    invoke("review", "import", reviewed, "--project", project)
    with sqlite3.connect(project / ".pilah" / "pilah.sqlite") as db:
        stored = db.execute("SELECT reviewer, comment FROM decisions").fetchall()
    assert len(stored) == len(C0)
    for reviewer, comment in stored:
        assert not any(char in reviewer + comment for char in C0 if char not in "\t\n"), (reviewer, comment)
    # names on one line: a tab or line break in a reviewer cell is a space
    assert {reviewer for reviewer, _ in stored} == {f"rev{n:02d}{' ' if n in (9, 10, 13) else ''}x"
                                                    for n in range(len(C0))}
    outputs = project / "exported"
    for name in ("review.xlsx", "review.csv"):
        invoke("review", "export", "--out", outputs / name, "--project", project)
    invoke("export", "--out", outputs / "project.qdpx", "--project", project)
    invoke("report", "--out", outputs / "report.html", "--project", project)
    assert {p.name for p in outputs.iterdir()} >= {"review.xlsx", "review.csv", "project.qdpx", "report.html"}
    invoke("review", "export", "--reviewer", "rev07x", "--out", outputs / "rev07.xlsx", "--project", project)
    exported = pd.read_excel(outputs / "rev07.xlsx", dtype=str).fillna("")
    assert "catatanakhir 7" in set(exported["comment"])  # the BEL row, as the store holds it


G = "0000000{}-0000-4000-8000-00000000000{}"
# XML 1.0 holds no C0 control but tab, LF and CR (as &#13;); C1 controls and DEL it does hold.
CONTROLLED_QDE = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="kontrol">
  <Users><User guid="{G.format(1, 1)}" name="Ana\x85&#13;Rahma\x9b"/></Users>
  <CodeBook><Codes>
    <Code guid="{G.format(2, 1)}" name="biaya\x7fkirim" isCodable="true"><Description>Ongkos&#13;\x80mahal</Description></Code>
  </Codes></CodeBook>
  <Sources>
    <TextSource guid="{G.format(3, 1)}" name="wawancara\x90.txt" plainTextPath="internal://{G.format(4, 1)}.txt">
      <PlainTextSelection guid="{G.format(5, 1)}" startPosition="0" endPosition="26">
        <Coding guid="{G.format(6, 1)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 1)}"/></Coding>
      </PlainTextSelection>
    </TextSource>
  </Sources>
  <Cases><Case guid="{G.format(7, 1)}" name="Kasus\x9c1"><SourceRef targetGUID="{G.format(3, 1)}"/></Case></Cases>
</Project>"""


def test_hostile_outputs_control_characters_in_a_qdpx_are_cleaned_at_the_door(project, tmp_path):
    """User names, code names and descriptions, source names and case names of a REFI-QDA
    project come in without control characters (C1, DEL, CR), so that the project exports
    again to every format with names a spreadsheet shows."""
    import zipfile

    from cli_helpers import invoke

    _run(project)
    archive = tmp_path / "kontrol.qdpx"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("project.qde", CONTROLLED_QDE.encode("utf-8"))
        handle.writestr(f"Sources/{G.format(4, 1)}.txt", "Biaya kirim mahal sekali\x07 di desa.".encode())
    invoke("import", archive, "--project", project)
    with sqlite3.connect(project / ".pilah" / "pilah.sqlite") as db:
        values = [v for row in db.execute("SELECT coder, code, text FROM codings") for v in row]
        values += [v for row in db.execute("SELECT id, path, metadata FROM documents WHERE format = 'refi'") for v in row]
    assert len(values) == 6, values
    assert not [value for value in values if CONTROL.search(value)]
    assert "Ana Rahma" in values or "AnaRahma" in values
    codebook = (project / "codebook.yaml") if (project / "codebook.yaml").exists() else None
    invoke("export", "--out", tmp_path / "again.qdpx", "--project", project)
    invoke("review", "export", "--out", tmp_path / "again.xlsx", "--project", project)
    invoke("report", "--out", tmp_path / "report.html", "--project", project)


CONTROL = __import__("re").compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_hostile_outputs_suggest_table_writes_no_live_formula(tmp_path):
    """`pilah suggest --out X.xlsx` writes through the one safe cell writer: a text that
    starts like a formula is a text cell (with Excel's quote prefix), in xlsx and csv."""
    import pandas as pd
    from cli_helpers import invoke

    from pipeline.config import PROJECT_ROOT

    table = tmp_path / "jawaban.csv"
    pd.DataFrame({"text": ['=HYPERLINK("http://contoh.invalid","modal kurang")', "+62 812 biaya kirim mahal",
                           "@SUM(1+1) pelatihan membantu", "-1 anggaran dipotong"]}).to_csv(table, index=False)
    for name in ("saran.xlsx", "saran.csv"):
        invoke("suggest", "--input", table, "--model", PROJECT_ROOT / "models" / "default", "--out", tmp_path / name)
    book = load_workbook(tmp_path / "saran.xlsx")
    cells = [cell for row in book.active.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = [c for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "@", "-"))]
    assert len(texts) == 4 and all(c.data_type == "s" and c.quotePrefix for c in texts)
    lines = (tmp_path / "saran.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert all(line.startswith(("\"'", "'")) for line in lines), lines


def test_hostile_outputs_control_characters_in_a_case_table_are_cleaned_at_the_door(project, tmp_path):
    """A case table (the project's cases.csv) with control characters in its names and values:
    stored without them, so the qdpx (whose cases carry the table's variables) still exports."""
    from cli_helpers import invoke

    _run(project)
    table = project / "cases.csv"
    table.write_text("case,document,sektor\x07\nKasus\x1b 1,a.txt,kuliner\x07 rumahan\nKasus 2,b.txt,kriya\x0b\n",
                     encoding="utf-8")
    invoke("cases", "--project", project)
    with sqlite3.connect(project / ".pilah" / "pilah.sqlite") as db:
        values = [v for row in db.execute("SELECT key, attribute, value FROM case_attributes") for v in row]
    assert values and not [v for v in values if CONTROL.search(v)]
    assert "kuliner rumahan" in values and "sektor" in values
    invoke("export", "--out", tmp_path / "kasus.qdpx", "--project", project)
    invoke("report", "--out", tmp_path / "report.html", "--project", project)


def test_hostile_outputs_control_characters_in_a_memo_are_cleaned_at_the_door(project, tmp_path):
    """A memo typed or pasted in the workspace with a control character is stored without it,
    so the report, its sheets and the Word findings (which carry memos) still export."""
    from cli_helpers import invoke

    from pipeline.project import Project

    _run(project)
    with Project.open(project) as opened:
        memo = opened.store.add_memo("code", "funding", "Anggaran\x07 dipotong\x0c tahun ini.\r\nCek lagi.", "dewi\x1b")
        stored = opened.store.memos_frame()
    row = stored[stored["id"] == memo].iloc[0] if "id" in stored.columns else stored.iloc[0]
    assert row["text"] == "Anggaran dipotong tahun ini.\nCek lagi." and row["author"] == "dewi"
    invoke("report", "--out", tmp_path / "r.html", "--project", project)
    invoke("report", "--format", "docx", "--out", tmp_path / "temuan.docx", "--project", project)
    assert (tmp_path / "temuan.docx").stat().st_size > 0


def test_hostile_outputs_replaced_file_keeps_its_permissions(tmp_path):
    import os
    import stat

    kept = tmp_path / "report.html"
    kept.write_text("old", encoding="utf-8")
    os.chmod(kept, 0o640)
    write_text(kept, "new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    fresh = write_text(tmp_path / "run.json", "{}").path
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600


def test_hostile_outputs_a_killed_writers_temporary_file_is_cleaned_up(tmp_path):
    import os
    import time

    left = tmp_path / ".suggestions.xlsx.k1ll3d.tmp"  # what a run killed while writing left behind
    left.write_bytes(b"PK half a workbook")
    os.utime(left, (time.time() - 7 * 3600,) * 2)
    live = tmp_path / ".suggestions.xlsx.writing.tmp"  # another command writing it right now
    live.write_bytes(b"PK")
    other = tmp_path / ".report.html.k1ll3d.tmp"
    other.write_bytes(b"<html>")
    os.utime(other, (time.time() - 7 * 3600,) * 2)
    write_text(tmp_path / "suggestions.xlsx", "new")
    assert not left.exists() and live.exists() and other.exists()  # only this file's, only the old ones
