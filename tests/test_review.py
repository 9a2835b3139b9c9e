"""The review exports never hold a live formula, a control character or an over-long cell."""

import csv

import pandas as pd
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from pipeline.decisions import read_sheet
from pipeline.records import SUGGESTION_COLUMNS
from pipeline.review import CELL_LIMIT, write_csv, write_xlsx

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"klik\")", "+62 812 3456 7890", "-- catatan", "@SUM(A1:A9)",
           "\tTab di depan", "\rCR di depan", "Ctrl-Z di akhir\x1a", "biasa saja"]


def _frame():
    frame = pd.DataFrame({c: [""] * len(HOSTILE) for c in SUGGESTION_COLUMNS})
    frame["segment_text"] = HOSTILE
    frame["document"] = ["=cmd|' /C calc'!A0.txt"] + ["a.txt"] * (len(HOSTILE) - 1)
    frame.loc[len(frame)] = {**{c: "" for c in SUGGESTION_COLUMNS}, "segment_text": "x" * (CELL_LIMIT + 10)}
    return frame


def test_review_xlsx_has_no_formula_cell_and_shows_the_text(tmp_path, codebook):
    write_xlsx(_frame(), tmp_path / "s.xlsx", codebook)
    sheet = load_workbook(tmp_path / "s.xlsx")["Suggestions"]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [unescape(sheet.cell(r, 3).value) for r in range(2, len(HOSTILE) + 2)]  # CR is stored as _x000D_
    assert texts[:6] == HOSTILE[:6]  # shown unchanged, as text
    assert all(sheet.cell(r, 3).data_type == "s" for r in range(2, len(HOSTILE) + 2))
    assert [sheet.cell(r, 3).quotePrefix for r in range(2, 5)] == [True, True, True]  # Excel keeps them text when edited
    assert read_sheet(tmp_path / "s.xlsx")["segment_text"].tolist()[:8] == [*HOSTILE[:6], "Ctrl-Z di akhir\ufffd",
                                                                             "biasa saja"]
    assert texts[6] == "Ctrl-Z di akhir\ufffd"
    long = sheet.cell(len(HOSTILE) + 2, 3).value
    assert len(long) <= CELL_LIMIT and "cut: 32,777 characters" in long


def test_review_csv_cells_cannot_start_a_formula(tmp_path):
    write_csv(_frame(), tmp_path / "s.csv")
    with open(tmp_path / "s.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    cells = [v for row in rows for v in row.values()]
    assert not [v for v in cells if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert rows[0]["segment_text"] == "'" + HOSTILE[0] and rows[7]["segment_text"] == "biasa saja"


def test_review_append_rows_on_an_empty_sheet_writes_no_formula(tmp_path):
    from openpyxl import Workbook

    from pipeline.review import append_rows

    book = Workbook()
    append_rows(book.active, pd.DataFrame({"a": ["=1+1", "ok"], "b": ["x", "=SUM(A1:A2)"]}))
    book.save(tmp_path / "t.xlsx")
    sheet = load_workbook(tmp_path / "t.xlsx").active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["=1+1", "x"], ["ok", "=SUM(A1:A2)"]]
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row)


def test_review_export_in_parts_writes_the_sheet_of_the_whole(tmp_path, sample_corpus, codebook):
    """The run writes the review sheets a few documents at a time (memory stays flat); the
    files hold what one frame of the whole project gives."""
    import shutil

    from pipeline.review import export_review, export_suggestions, review_frame
    from cli_helpers import run_corpus as run  # tests/cli_helpers.py
    from pipeline.store import Store

    corpus = tmp_path / "corpus"
    shutil.copytree(sample_corpus / "interviews", corpus)
    run(corpus, None, tmp_path / "out", tmp_path)
    with Store(tmp_path) as store:
        ids = list(store.document_paths())
        whole, stale = review_frame(store, codebook, ids)
        export_suggestions(whole, tmp_path / "whole", codebook, ["csv", "xlsx"], stale)
        parts = export_review(store, codebook, ids, tmp_path / "parts", ["csv", "xlsx"], documents_at_once=2)
    assert (tmp_path / "parts" / "suggestions.csv").read_bytes() == (tmp_path / "whole" / "suggestions.csv").read_bytes()
    sheets = [load_workbook(tmp_path / folder / "suggestions.xlsx")["Suggestions"] for folder in ("whole", "parts")]
    assert [[c.value for c in row] for row in sheets[0].iter_rows()] == [[c.value for c in row] for row in sheets[1].iter_rows()]
    assert sheets[1].data_validations.dataValidation[0].sqref == sheets[0].data_validations.dataValidation[0].sqref
    assert parts.rows == len(whole) > 100 and parts.prefilled == 0
    assert sum(parts.suggestions_per_document.values()) == int((whole["suggestion_id"] != "").sum())
