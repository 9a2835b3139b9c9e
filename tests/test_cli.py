"""The command line end to end, on the embedded sample corpus."""

import csv
import json
import re
import shutil

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import PROJECT_ROOT
from pipeline.records import SUGGESTION_COLUMNS

runner = CliRunner()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, processed_sample):
    """The session's sample project (`pilah init` + `pilah run`, tests/conftest.py), copied."""
    project = tmp_path_factory.mktemp("cli") / "project"
    shutil.copytree(processed_sample[0], project)
    return project, project / "out", processed_sample[1]


def test_cli_run_writes_reviewable_sheet_for_every_document(sample_run, sample_corpus):
    project, out, result = sample_run
    sheet = load_workbook(out / "suggestions.xlsx")["Suggestions"]
    header = [c.value for c in sheet[1]]
    assert header == list(SUGGESTION_COLUMNS)
    assert sheet.freeze_panes == "A2"
    rows = [dict(zip(header, [c.value for c in row])) for row in sheet.iter_rows(min_row=2)]
    manifest = (sample_corpus / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert {r["document"] for r in rows} == {line.split(",")[0] for line in manifest}
    assert {"id", "en", "mixed"} <= {r["language"] for r in rows}
    suggested = [r for r in rows if r["suggestion_id"]]
    assert {r["direction"] for r in suggested} <= {"supporting", "constraining", "neutral"}
    assert all(r["code_label"] and r["factor_type"] and r["evidence"] for r in suggested)
    assert all(r["decision"] is None for r in rows)
    # every segment to review has a row: those without a suggestion get a blank one to add a code
    blank = [r for r in rows if not r["suggestion_id"]]
    assert blank and all(r["segment_id"] and not r["code"] for r in blank)
    assert len({r["segment_id"] for r in rows}) == len(rows) - len(suggested) + len({r["segment_id"] for r in suggested})
    lists = {v.formula1: str(v.sqref) for v in sheet.data_validations.dataValidation}
    decisions = next(f for f in lists if f.startswith('"accept,reject,edit,add'))  # and their Indonesian words
    assert lists[decisions] == f"K2:K{len(rows) + 1 + 500}"
    directions = next(f for f in lists if f.startswith('"supporting,constraining,neutral'))
    assert lists[directions] == f"M2:M{len(rows) + 1 + 500}"
    assert sheet.column_dimensions["C"].width >= 60 and sheet["C2"].alignment.wrap_text
    english = next(r for r in suggested if r["language"] == "en")
    assert english["code_label"] == english["code_label"].strip() and english["code_label"][0].isupper()


def test_cli_run_offsets_point_into_stored_text(sample_run):
    project, out, _ = sample_run
    import sqlite3

    db = sqlite3.connect(project / ".pilah" / "pilah.sqlite")
    rows = db.execute(
        "SELECT document_versions.text, segments.start, segments.\"end\", segments.text FROM segments "
        "JOIN document_versions ON document_versions.document_id = segments.document_id "
        "AND document_versions.version = segments.version"
    ).fetchall()
    assert rows and all(text[start:end] == segment for text, start, end, segment in rows)


def test_cli_run_json_and_csv_agree(sample_run):
    _, out, result = sample_run
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    counts = summary["counts"]
    assert counts["documents"] == 10 and counts["failures"] == 0
    assert counts["segments"] > 400 and counts["tokens"] > 15000
    csv_lines = (out / "suggestions.csv").read_text(encoding="utf-8-sig").splitlines()
    assert csv_lines[0] == ",".join(SUGGESTION_COLUMNS)
    assert sum(summary["suggestions_per_document"].values()) == counts["suggestions"]
    with open(out / "suggestions.csv", encoding="utf-8-sig", newline="") as handle:
        assert counts["review_rows"] == len(list(csv.DictReader(handle))) > counts["suggestions"]
    assert set(summary["seconds"]) >= {"ingest", "segment", "language", "nlp", "suggest", "export", "total"}
    assert summary["config"]["sha256"] and summary["codebook"]["sha256"] and summary["model"]["version"]
    assert "suggestions" in result


def test_cli_run_twice_is_idempotent(sample_run, sample_corpus):
    project, out, _ = sample_run
    before = (out / "suggestions.csv").read_text(encoding="utf-8-sig")
    again = runner.invoke(app, ["run", "--project", str(project)])  # the project's own corpus and out/
    assert again.exit_code == 0, again.output
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert summary["counts"]["documents_unchanged"] == 10
    assert (out / "suggestions.csv").read_text(encoding="utf-8-sig") == before


def test_cli_run_reports_a_bad_file_and_goes_on(tmp_path, sample_corpus):
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_corpus / "interviews", corpus / "interviews")
    (corpus / "broken.docx").write_bytes(b"this is not a zip file")
    result = runner.invoke(app, ["run", str(corpus), "--project", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert summary["counts"]["documents"] == 6
    [failure] = summary["failures"]
    assert failure["path"] == "broken.docx" and failure["stage"] == "ingest"
    assert "broken.docx" in result.output


def test_cli_prints_file_names_as_they_read_never_as_markup_or_terminal_codes(tmp_path, sample_corpus):
    """A file or folder name is the user's text: "[/]" in it made rich raise (a traceback
    after the run's work), and an ESC in it reached the terminal as the start of a control
    sequence (here: clear the screen)."""
    corpus = tmp_path / "corpus"
    shutil.copytree(sample_corpus / "interviews", corpus / "interviews")
    (corpus / "catatan[bold]\x1b[2J.docx").write_bytes(b"this is not a zip file")
    out = tmp_path / "hasil [/red] \x1b]0;judul\x07"
    result = runner.invoke(app, ["run", str(corpus), "--project", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    shown = " ".join(result.output.split())
    assert "failed catatan[bold]\\x1b[2J.docx (ingest)" in shown
    assert f"wrote {tmp_path}/hasil [/red] \\x1b]0;judul\\x07/suggestions.csv" in shown
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]["documents"] == 6


def test_cli_log_lines_write_control_characters_out():
    """The console script's warnings (a skipped file, named) go through the same guard."""
    import logging

    from pipeline.cli.common import VisibleFormatter

    record = logging.LogRecord("pipeline.ingest", logging.WARNING, __file__, 1, "skipped %s", ("a\x1b[2J\tb.txt",), None)
    assert VisibleFormatter("%(levelname)s: %(message)s").format(record) == "WARNING: skipped a\\x1b[2J\tb.txt"


def test_cli_run_missing_corpus_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "nowhere"), "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "nowhere" in result.output and "not found" in result.output


def test_cli_every_command_has_help_and_is_in_the_readme():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    commands = [[c.name] for c in app.registered_commands]
    for group in app.registered_groups:
        commands.append([group.name])
        commands += [[group.name, c.name] for c in group.typer_instance.registered_commands]
    assert ["train", "stanza"] in commands and ["run"] in commands
    for words in commands:
        helped = runner.invoke(app, [*words, "--help"])
        assert helped.exit_code == 0 and len(helped.output) > 200
        assert re.search(rf"pilah {' '.join(words)}\b", readme), f"`pilah {' '.join(words)}` is not in the README"
