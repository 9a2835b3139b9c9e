"""The analyst's loop end to end, as a new user runs it from the README: run → fill the sheet →
review import → run again → edit a transcript → run → retrain → a second reviewer → agreement.

The analysts are simulated by the sample corpus's gold coding: a reviewer accepts what the
gold coding holds, corrects the direction where it differs, rejects the rest and adds the
codes no suggestion proposed."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter

import krippendorff
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipeline.agreement import krippendorff_alpha
from pipeline.cli import app
from pipeline.labels import parse_codes
from pipeline.store import Store
from pipeline.train import labels_from_gold
from cli_helpers import invoke, runner, said  # tests/cli_helpers.py

DOCUMENTS = ["interviews/01_kabid_umkm_dinas.txt", "interviews/02_pengusaha_kopi_lembah_hijau.txt",
             "interviews/04_pendamping_umkm_nadia.txt", "interviews/06_perencana_bappeda_rudi.txt"]


@pytest.fixture(scope="module")
def loop(tmp_path_factory, sample_corpus, stages):
    """A project on four interviews of the sample corpus, and the gold codes per segment id."""
    root = tmp_path_factory.mktemp("loop")
    corpus = root / "corpus"
    for name in DOCUMENTS:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_corpus / name, corpus / name)
    gold = pd.read_csv(sample_corpus / "gold.csv", dtype=str)
    gold[gold["document"].isin(DOCUMENTS)].to_csv(root / "gold.csv", index=False)
    table = labels_from_gold(corpus, root / "gold.csv", stages)
    truth = {row.segment_id: parse_codes(row.codes) for row in table.itertuples(index=False)}
    # a new project suggests by the codebook rules (the shipped model was trained on this gold)
    (root / "rules.toml").write_text('[suggest]\nmodel = "no-model-yet"\n', encoding="utf-8")
    return root, corpus, truth, root / "rules.toml"


def _fill(sheet_path, truth, reviewer, drop_code=None):
    """Review a sheet as the gold coding says (without ``drop_code``); returns the decisions made."""
    book = load_workbook(sheet_path)
    sheet = book["Suggestions"]
    header = [c.value for c in sheet[1]]
    col = {name: header.index(name) for name in header}
    made, added = Counter(), set()
    for row in list(sheet.iter_rows(min_row=2)):
        segment = row[col["segment_id"]].value
        if segment not in truth or row[col["decision"]].value:
            continue
        codes = {c: d for c, d in truth[segment].items() if c != drop_code}
        code = row[col["code"]].value
        if code:
            if code not in codes:
                decision = "reject"
            elif codes[code] and codes[code] != row[col["direction"]].value:
                decision = "edit"
                row[col["corrected_direction"]].value = codes[code]
            else:
                decision = "accept"
            row[col["decision"]].value = decision
            made[decision] += 1
        missing = [c for c in codes if c not in _suggested(sheet, col, segment)]
        for extra in missing:
            if (segment, extra) in added:
                continue
            added.add((segment, extra))
            if not code:  # the blank row of a segment without suggestions
                row[col["decision"]].value, row[col["corrected_code"]].value = "add", extra
                row[col["corrected_direction"]].value = codes[extra]
                code = extra
            else:  # a new row for the code no suggestion proposed
                values = [c.value for c in row]
                values[col["decision"]], values[col["corrected_code"]] = "add", extra
                values[col["corrected_direction"]] = codes[extra]
                values[col["suggestion_id"]], values[col["reviewer"]] = None, reviewer
                sheet.append(values)
            made["add"] += 1
        if reviewer:
            row[col["reviewer"]].value = reviewer if row[col["decision"]].value else None
    book.save(sheet_path)
    return made


def _suggested(sheet, col, segment):
    return {r[col["code"]].value for r in sheet.iter_rows(min_row=2) if r[col["segment_id"]].value == segment}


def test_review_loop_end_to_end(loop):
    root, corpus, truth, config = loop
    project, out = root / "project", root / "project" / "out"
    project.mkdir()
    invoke("run", corpus, "--project", project, "--out", out, "--config", config)
    first = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]
    sheet = out / "suggestions.xlsx"

    # 1. an analyst reviews the sheet: accept, reject, edit the direction, add codes
    made = _fill(sheet, truth, reviewer=None)
    assert made["accept"] and made["reject"] and made["edit"] and made["add"]
    book = load_workbook(sheet)
    rows = book["Suggestions"]
    header = [c.value for c in rows[1]]
    bad = [c.value for c in rows[2]]
    bad[header.index("decision")], bad[header.index("suggestion_id")] = "accept", None
    bad[header.index("code")] = None
    rows.append(bad)  # an accept on a row without a suggestion: reported, the rest kept
    book.save(sheet)
    result = invoke("review", "import", sheet, "--reviewer", "rina", "--project", project)
    total = sum(made.values())
    assert f"{total} decisions added" in said(result) and f"row {rows.max_row}:" in said(result)
    again = invoke("review", "import", sheet, "--reviewer", "rina", "--project", project)
    assert "0 decisions added" in said(again)

    # 2. run again: the decisions are pre-filled, nothing duplicated, nothing re-processed
    _fix_bad_row(sheet)
    invoke("run", corpus, "--project", project, "--out", out, "--config", config)
    second = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]
    assert second["documents_unchanged"] == len(DOCUMENTS) and second["decisions_prefilled"] == total
    refilled = pd.read_excel(sheet, dtype=str).fillna("")
    decided = refilled[refilled["decision"] != ""]
    assert len(decided) == total and set(decided["reviewer"]) == {"rina"}
    key = decided["suggestion_id"].where(decided["suggestion_id"] != "", decided["segment_id"] + decided["corrected_code"])
    assert key.is_unique
    assert (refilled["suggestion_id"] != "").sum() == first["suggestions"] == second["suggestions"]
    status = json.loads(invoke("review", "status", "--json", "--project", project).stdout)
    assert status["decisions"] == total and status["stale"] == 0
    assert status["pending"] == first["suggestions"] - made["accept"] - made["reject"] - made["edit"]

    # 3. one sentence of one transcript changes: that segment's decisions go stale, the rest stay
    with Store(project) as store:
        decisions = store.decisions_frame()
    target = decisions["segment_id"].value_counts().index[0]
    on_target = int((decisions["segment_id"] == target).sum())
    document = decisions.loc[decisions["segment_id"] == target, "document"].iloc[0]
    text = (corpus / document).read_text(encoding="utf-8")
    decided_text = decisions.loc[decisions["segment_id"] == target, "segment_text"].iloc[0]
    first_sentence = decided_text.split(". ")[0]
    (corpus / document).write_text(text.replace(first_sentence, first_sentence + " sekali", 1), encoding="utf-8")
    invoke("run", corpus, "--project", project, "--out", out, "--config", config)
    third = json.loads((out / "run.json").read_text(encoding="utf-8"))["counts"]
    assert third["documents_processed"] == 1 and third["stale_decisions"] == on_target
    assert third["decisions_prefilled"] == total - on_target
    stale = pd.read_excel(sheet, sheet_name="Stale decisions", dtype=str)
    assert set(stale["decided_text"]) == {decided_text}
    status = json.loads(invoke("review", "status", "--json", "--project", project).stdout)
    assert status["stale"] == on_target and status["decisions"] == total

    # 4. retrain on the codings: a new version, scored before and after on the same segments
    report_path = root / "retrain.json"
    result = invoke("retrain", "--project", project, "--json", report_path, "--config", config)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["rows"] >= 60 and report["coded_rows"] >= 30 and report["documents"] == len(DOCUMENTS)
    assert report["after"]["scheme"].endswith("whole documents held out")
    assert report["before"]["scheme"].startswith("codebook rules")
    # no model in use: what suggests without one (the rules, and the codebook by meaning), on the same rows
    assert report["before"]["f1"] == report["without_model"]["f1"]
    after = report["after"]
    assert after["f1"] == pytest.approx(2 * after["precision"] * after["recall"] / (after["precision"] + after["recall"]),
                                        abs=1e-3)
    # used only as good or better on codes, and on directions unless the codebook's cues give them
    assert report["switched"] == (after["f1"] >= report["before"]["f1"])
    assert report["direction_source"] == ("cues" if report["switched"] and after["direction_macro_f1"]
                                          < report["before"]["direction_macro_f1"] else "model")
    assert report["version"] in result.output
    assert report["version"] in invoke("models", "--project", project).output
    invoke("models", "use", report["version"], "--project", project)
    with Store(project) as store:
        assert store.setting("model").endswith(report["version"])

    # 5. a second reviewer codes blind, except one code they never use
    blind = out / "budi.xlsx"
    invoke("review", "export", "--reviewer", "budi", "--out", blind, "--project", project, "--config", config)
    assert (pd.read_excel(blind, dtype=str).fillna("")["decision"] == "").all()
    _fill(blind, truth, reviewer="budi", drop_code="training")
    invoke("review", "import", blind, "--project", project)
    figures_path = root / "agreement.json"
    invoke("agreement", "--coders", "rina,budi", "--project", project, "--json", figures_path)
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    pair = figures["per_code"]["market_access"]["pairs"]["rina|budi"]
    assert pair["kappa"] == 1.0 and pair["units"] >= 60
    training = figures["per_code"]["training"]
    assert training["pairs"]["rina|budi"]["kappa"] == 0.0 and training["alpha"] <= 0
    assert "training" in figures["not_ready"]
    assert figures["per_code"]["market_access"]["direction"]["rina|budi"]["percent"] == 1.0


def _fix_bad_row(sheet):
    """Clear the bad row's decision, so that ``pilah run`` can import the sheet."""
    book = load_workbook(sheet)
    rows = book["Suggestions"]
    header = [c.value for c in rows[1]]
    rows.cell(rows.max_row, header.index("decision") + 1).value = None
    book.save(sheet)


def test_review_import_reports_bad_rows_and_keeps_the_good(loop, tmp_path):
    root, corpus, truth, config = loop
    invoke("run", corpus, "--project", tmp_path, "--out", tmp_path / "out", "--config", config)
    frame = pd.read_csv(tmp_path / "out" / "suggestions.csv", dtype=str, keep_default_na=False)
    suggested = frame[frame["suggestion_id"] != ""].head(6).copy()
    suggested["decision"] = ["accept", "reject", "maybe", "edit", "edit", "accept"]
    suggested["corrected_code"] = ["", "", "", "no_such_code", "", ""]
    suggested["corrected_direction"] = ["", "", "", "", "menurun", ""]
    suggested.iloc[5, suggested.columns.get_loc("suggestion_id")] = "f" * 20
    suggested.to_csv(tmp_path / "reviewed.csv", index=False)
    result = invoke("review", "import", tmp_path / "reviewed.csv", "--reviewer", "sari", "--project", tmp_path)
    output = said(result)
    assert "2 decisions added" in output
    for row, words in ((4, "maybe"), (5, "no_such_code"), (6, "menurun"), (7, "not in this project")):
        assert re.search(f"row {row}: [^:]*{words}", output), (row, output)
    # an added code without a direction, imported by name; the run after it imports nothing again
    blank = frame[frame["suggestion_id"] == ""].head(1).assign(decision="add", corrected_code="training")
    blank.to_csv(tmp_path / "added.csv", index=False)
    assert "1 decisions added" in said(invoke("review", "import", tmp_path / "added.csv", "--reviewer", "sari",
                                                "--project", tmp_path))
    shutil.copy(tmp_path / "added.csv", tmp_path / "out" / "suggestions.csv")
    rerun = invoke("run", corpus, "--project", tmp_path, "--out", tmp_path / "out", "--config", config)
    assert "imported" not in said(rerun)
    with Store(tmp_path) as store:
        assert len(store.decisions_frame()) == 3


def test_review_run_stops_rather_than_overwrite_decisions_it_cannot_import(loop, tmp_path):
    root, corpus, _, config = loop
    out = tmp_path / "out"
    invoke("run", corpus, "--project", tmp_path, "--out", out, "--config", config)
    book = load_workbook(out / "suggestions.xlsx")
    sheet = book["Suggestions"]
    header = [c.value for c in sheet[1]]
    first, second = [r for r in range(2, sheet.max_row + 1) if sheet.cell(r, header.index("suggestion_id") + 1).value][:2]
    sheet.cell(first, header.index("decision") + 1).value = "accept"
    sheet.cell(second, header.index("decision") + 1).value = "perhaps"
    book.save(out / "suggestions.xlsx")
    before = (out / "suggestions.xlsx").read_bytes()
    result = runner.invoke(app, ["run", str(corpus), "--project", str(tmp_path), "--out", str(out), "--config", str(config)])
    assert result.exit_code == 2 and f"row {second}: decision 'perhaps'" in said(result)
    assert (out / "suggestions.xlsx").read_bytes() == before  # the analyst's sheet is untouched
    with Store(tmp_path) as store:
        assert len(store.decisions_frame()) == 1  # the good row is already in the project


def test_review_next_spreads_over_documents(loop, tmp_path):
    root, corpus, _, config = loop
    invoke("run", corpus, "--project", tmp_path, "--out", tmp_path / "out", "--config", config)
    invoke("review", "next", "--n", "12", "--out", tmp_path / "next.csv", "--project", tmp_path, "--config", config)
    frame = pd.read_csv(tmp_path / "next.csv", dtype=str, keep_default_na=False)
    assert frame["segment_id"].nunique() == 12
    assert frame["document"].nunique() == len(DOCUMENTS)
    assert not frame["speaker"].str.casefold().isin({"pewawancara", "interviewer"}).any()


def test_agreement_alpha_matches_the_krippendorff_package():
    rng = np.random.default_rng(7)
    for _ in range(20):
        data = rng.integers(0, 3, size=(3, 30)).astype(float)
        data[rng.random(data.shape) < 0.25] = np.nan
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert krippendorff_alpha(data) == pytest.approx(expected, abs=1e-9)


def test_review_two_coders_as_the_readme_says_agree_where_they_agree(loop, tmp_path):
    """The README's recipe: the first coder reviews the run's sheet; a second coder gets a
    blind sheet (`review export --reviewer dewi`), codes it alone, and it is imported
    without --reviewer. Every one of her decisions is hers, also those that say what the
    first coder decided (before, they were dropped as "already in the project" and κ fell
    to chance); κ is that of the two codings, computed here by hand."""
    from sklearn.metrics import cohen_kappa_score

    root, corpus, truth, config = loop
    out = tmp_path / "out"
    invoke("run", corpus, "--project", tmp_path, "--out", out, "--config", config)
    first = _fill(out / "suggestions.xlsx", truth, reviewer=None)
    invoke("review", "import", out / "suggestions.xlsx", "--reviewer", "rina", "--project", tmp_path)

    blind = out / "dewi.xlsx"
    invoke("review", "export", "--reviewer", "dewi", "--out", blind, "--project", tmp_path, "--config", config)
    sheet = pd.read_excel(blind, dtype=str).fillna("")
    assert (sheet["decision"] == "").all() and set(sheet["reviewer"]) == {"dewi"}  # blind, and hers
    second = _fill(blind, truth, reviewer=None, drop_code="training")  # she never uses one code
    result = invoke("review", "import", blind, "--project", tmp_path)
    assert f"{sum(second.values())} decisions added, 0 already in the project" in said(result)

    figures_path = tmp_path / "agreement.json"
    invoke("agreement", "--coders", "rina,dewi", "--project", tmp_path, "--json", figures_path)
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    with Store(tmp_path) as store:
        decisions = store.decisions_frame()
        codings = store.codings_frame()
    assert sorted(decisions["reviewer"].value_counts().items()) == [("dewi", sum(second.values())),
                                                                    ("rina", sum(first.values()))]
    both = set(decisions.loc[decisions["reviewer"] == "rina", "segment_id"]) & set(
        decisions.loc[decisions["reviewer"] == "dewi", "segment_id"])
    for code in ("market_access", "training"):
        coded = {c: set(codings.loc[(codings["coder"] == c) & (codings["code"] == code), "segment_id"])
                 for c in ("rina", "dewi")}
        units = sorted(both)
        by_hand = cohen_kappa_score([u in coded["rina"] for u in units], [u in coded["dewi"] for u in units])
        pair = figures["per_code"][code]["pairs"]["rina|dewi"]
        assert pair["units"] == len(units) >= 60 and pair["kappa"] == pytest.approx(by_hand, abs=1e-3)
    assert figures["per_code"]["market_access"]["pairs"]["rina|dewi"]["kappa"] == 1.0
    assert figures["per_code"]["training"]["pairs"]["rina|dewi"]["kappa"] == 0.0


def test_review_import_with_a_reviewer_records_every_row_as_theirs(loop, tmp_path):
    """`review import SHEET --reviewer NAME` on a plain sheet (no names in it): every
    decision is NAME's, also those equal to another reviewer's; without the flag the same
    rows are the first reviewer's, already in the project."""
    root, corpus, truth, config = loop
    out = tmp_path / "out"
    invoke("run", corpus, "--project", tmp_path, "--out", out, "--config", config)
    made = _fill(out / "suggestions.xlsx", truth, reviewer=None)
    shutil.copy(out / "suggestions.xlsx", tmp_path / "copy.xlsx")
    invoke("review", "import", out / "suggestions.xlsx", "--reviewer", "rina", "--project", tmp_path)
    again = invoke("review", "import", tmp_path / "copy.xlsx", "--project", tmp_path)
    assert f"0 decisions added, {sum(made.values())} already in the project" in said(again)
    second = invoke("review", "import", tmp_path / "copy.xlsx", "--reviewer", "dewi", "--project", tmp_path)
    assert f"{sum(made.values())} decisions added, 0 already in the project" in said(second)
