"""Tables as researchers save them (';' from Indonesian Excel, UTF-16, cp1252) and
--text-column / --codes-column on the commands that read them."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import PROJECT_ROOT

ROWS = "no;jawaban;kode\n1;Modal usaha sulit, bank minta agunan;funding=constraining\n2;Pelatihan dari dinas sangat membantu;training=supporting\n"


def test_langid_reads_a_semicolon_table_by_its_text_column(tmp_path):
    table = tmp_path / "excel.csv"
    table.write_bytes(ROWS.encode("cp1252"))
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["langid", "--input", str(table), "--text-column", "jawaban", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert list(frame["lang_detected"]) == ["id", "id"]


def test_suggest_keeps_the_tables_own_column_names(tmp_path):
    table = tmp_path / "excel.csv"
    table.write_bytes(ROWS.encode("utf-16"))
    out = tmp_path / "out.csv"
    model = PROJECT_ROOT / "models" / "default"
    result = CliRunner().invoke(app, ["suggest", "--input", str(table), "--model", str(model), "--out", str(out),
                                      "--text-column", "jawaban", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
    assert list(frame.columns[:3]) == ["no", "jawaban", "kode"] and "text" not in frame.columns
    assert frame.loc[0, "suggested_codes"]  # e.g. financing=constraining


def test_suggest_without_the_text_column_names_the_option(tmp_path):
    table = tmp_path / "excel.csv"
    table.write_text(ROWS, encoding="utf-8")
    model = PROJECT_ROOT / "models" / "default"
    result = CliRunner().invoke(app, ["suggest", "--input", str(table), "--model", str(model),
                                      "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "--text-column" in result.output
