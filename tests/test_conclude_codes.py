"""Code work on the sample project: rename, merge, split and adopt, with the codings, the
decisions, the next `pilah run`, the review sheet and the qdpx following, and nothing an
analyst decided rewritten."""

from __future__ import annotations

import csv
import json
import re
import zipfile

import pandas as pd
import pytest
import yaml
from lxml import etree

from tests.cli_helpers import invoke, runner
from tests.conclude_helpers import GOLD, copy_project, make_project
from pipeline.cli import app

NS = {"q": "urn:QDA-XML:project:1.0"}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("codes") / "base")


@pytest.fixture()
def study(base, tmp_path):
    return copy_project(base, tmp_path / "study")


def gold_segments(code: str) -> set[tuple[str, str]]:
    """(document, quote) of every gold row holding ``code``, read from gold.csv."""
    with open(GOLD, encoding="utf-8") as handle:
        return {(row["document"], " ".join(row["quote"].split())) for row in csv.DictReader(handle)
                if code in {part.partition("=")[0].strip() for part in row["codes"].split(";")}}


def raw_rows(project_dir, sql: str) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(project_dir / ".pilah" / "pilah.sqlite") as db:
        return db.execute(sql).fetchall()


def qdpx_codes(path) -> tuple[set[str], dict[str, int]]:
    """The code names of an exported qdpx, and how many codings point at each."""
    with zipfile.ZipFile(path) as archive:
        root = etree.fromstring(archive.read("project.qde"))
    names = {c.get("guid"): c.get("name") for c in root.iterfind(".//q:CodeBook//q:Code", NS)}
    counts: dict[str, int] = {}
    for ref in root.iterfind(".//q:Coding/q:CodeRef", NS):
        name = names[ref.get("targetGUID")].split(" (")[0].split(" [")[0]
        counts[name] = counts.get(name, 0) + 1
    return set(names.values()), counts


def run_again(study):
    from pipeline.project import Project
    from pipeline.run import run

    with Project.open(study) as project:
        return run(project, workers=1)


def test_conclude_codes_rename_follows_everywhere(study, tmp_path):
    from pipeline.project import Project

    decisions_before = raw_rows(study, "SELECT * FROM decisions ORDER BY id")
    invoke("codes", "rename", "financing", "permodalan", "--project", study)
    with Project.open(study) as project:
        assert "permodalan" in project.codebook.codes and "financing" not in project.codebook.codes
        store = project.store
        codings = store.codings_frame()
        assert "financing" not in set(codings["code"])
        gold = store.decisions_frame()
        assert len(codings[(codings["code"] == "permodalan") & (codings["coder"] == "gold")]) == len(gold_segments("financing"))
        assert "financing" not in set(gold["key"]) and "permodalan" in set(gold["key"])
    # the analyst's records are as they were: the rename is read, not written into them
    assert raw_rows(study, "SELECT * FROM decisions ORDER BY id") == decisions_before
    assert raw_rows(study, "SELECT action, codes, targets FROM code_history") == [("rename", '["financing"]', '["permodalan"]')]
    assert list((study / ".pilah" / "codebooks").glob("codebook-*.yaml"))
    # a query (a saved one too) naming the old code finds the codings under the new one
    old_name = invoke("query", "code=financing", "--project", study)
    assert f"{len(gold_segments('financing'))} segments" in old_name.stdout and "permodalan" in old_name.stdout
    # the next run: the rules now suggest permodalan; where gold decided financing it is not pending again
    summary = run_again(study)
    with Project.open(study) as project:
        suggested = project.store.suggestions_frame()
        pending = project.store.suggestions_frame(pending=True)
        decided = set(project.store.codings_frame().query("code == 'permodalan'")["segment_id"])
    assert "financing" not in set(suggested["code"])
    on_decided = suggested[(suggested["code"] == "permodalan") & suggested["segment_id"].isin(decided)]
    assert len(on_decided) > 0
    assert not pending[(pending["code"] == "permodalan")]["segment_id"].isin(decided).any()
    # the review sheet the run wrote
    sheet = pd.read_csv(study / "out" / "suggestions.csv", dtype=str).fillna("")
    assert "financing" not in set(sheet["code"]) and "permodalan" in set(sheet["code"])
    assert summary["counts"]["failures"] == 0
    # the sheet read back as it is adds nothing; a changed row replaces the decision it changes
    unchanged = invoke("review", "import", study / "out" / "suggestions.csv", "--project", study)
    assert " 0 decisions added" in unchanged.stdout, unchanged.stdout
    row = sheet[(sheet["code"] == "permodalan") & (sheet["decision"] == "add")].index[0]
    turned = "supporting" if sheet.at[row, "direction"] == "constraining" else "constraining"
    sheet.at[row, "corrected_direction"] = turned
    sheet.to_csv(tmp_path / "changed.csv", index=False)
    changed = invoke("review", "import", tmp_path / "changed.csv", "--project", study)
    assert " 1 decisions added" in changed.stdout or " 1 decision added" in changed.stdout, changed.stdout
    with Project.open(study) as project:
        codings = project.store.codings_frame()
        here = codings[(codings["segment_id"] == sheet.at[row, "segment_id"]) & (codings["code"] == "permodalan")]
        assert list(here["direction"]) == [turned]  # the coding under the old code is retracted, not doubled
    # the qdpx
    invoke("export", "--project", study, "--out", tmp_path / "study.qdpx")
    names, counts = qdpx_codes(tmp_path / "study.qdpx")
    assert "permodalan" in names and "financing" not in names
    assert counts.get("permodalan", 0) >= len(gold_segments("financing"))


def test_conclude_codes_merge_pools_codes_and_codings(study):
    from pipeline.project import Project

    with Project.open(study) as project:
        before = project.store.codings_frame()
        expected = set(before[before["code"].isin(["hr_capacity", "training"])]["segment_id"])
        keywords = set(project.codebook.codes["training"].keywords["id"]) | set(project.codebook.codes["hr_capacity"].keywords["id"])
    result = invoke("codes", "merge", "hr_capacity", "training", "--into", "sdm", "--label", "Sumber daya manusia",
                    "--retrain", "--project", study)
    # the model told: a version trained on the codings as they now read, which knows sdm and not the old codes
    version = re.search(r"model (\S+) trained on the codings as they now read", result.stdout).group(1)
    meta = json.loads((study / ".pilah" / "models" / version / "meta.json").read_text(encoding="utf-8"))
    assert "sdm" in meta["code_sources"] and not {"training", "hr_capacity"} & set(meta["code_sources"])
    with Project.open(study) as project:
        code = project.codebook.codes["sdm"]
        assert code.factor_type == "human_resources" and set(code.keywords["id"]) == keywords
        assert "training" not in project.codebook.codes and "hr_capacity" not in project.codebook.codes
        codings = project.store.codings_frame()
        assert set(codings[codings["code"] == "sdm"]["segment_id"]) == expected
        assert not codings["code"].isin(["hr_capacity", "training"]).any()
        from pipeline.conclude import project_conclusions

        table = project_conclusions(project).conclusions
        assert any("sdm" in codes for codes in table["codes"])
    run_again(study)
    sheet = pd.read_csv(study / "out" / "suggestions.csv", dtype=str).fillna("")
    assert not sheet["code"].isin(["hr_capacity", "training"]).any() and "sdm" in set(sheet["code"])
    invoke("export", "--project", study, "--out", study / "out" / "merged.qdpx")
    names, counts = qdpx_codes(study / "out" / "merged.qdpx")
    assert "sdm" in names and not {"hr_capacity", "training"} & names
    assert counts["sdm"] >= len(expected)


def test_conclude_codes_split_puts_codings_up_for_review(study):
    from pipeline.project import Project

    with Project.open(study) as project:
        coded = set(project.store.codings_frame().query("code == 'market_access'")["segment_id"])
    invoke("codes", "split", "market_access", "--into", "market_domestic,market_export", "--project", study)
    run_again(study)  # a re-run keeps them: no rule or model proposes them, an analyst asked for them
    with Project.open(study) as project:
        assert {"market_domestic", "market_export"} <= set(project.codebook.codes)
        pending = project.store.suggestions_frame(pending=True)
        for new in ("market_domestic", "market_export"):
            assert coded <= set(pending[(pending["code"] == new) & (pending["source"] == "split")]["segment_id"])
        still = project.store.codings_frame().query("code == 'market_access'")
        assert set(still["segment_id"]) == coded  # nothing decided is taken away


def test_conclude_codes_adopt_a_discover_candidate(study, tmp_path):
    from pipeline.project import Project

    invoke("discover", "--project", study, "--out", study / "out", "--min-size", "3")
    candidates = pd.read_csv(study / "out" / "candidates.csv", dtype=str)
    chosen = candidates.iloc[0]
    result = invoke("codes", "adopt", chosen["candidate"], "--id", "kerja_sama_internasional",
                    "--factor-type", "institutional_coordination", "--project", study)
    assert "kerja_sama_internasional" in result.stdout
    raw = yaml.safe_load((study / "codebook.yaml").read_text(encoding="utf-8"))
    entry = [c for c in raw["codes"] if c["id"] == "kerja_sama_internasional"][0]
    assert entry["examples"] == [chosen[f"exemplar_{i}"] for i in (1, 2, 3) if isinstance(chosen[f"exemplar_{i}"], str)]
    terms = [t.strip() for t in chosen["top_terms"].split(",")]
    assert set(entry["keywords"]) == set(chosen["language"].split("+"))
    assert all(words == terms[:len(words)] for words in entry["keywords"].values())
    run_again(study)
    with Project.open(study) as project:
        pending = project.store.suggestions_frame(pending=True)
        adopted = pending[(pending["code"] == "kerja_sama_internasional") & (pending["source"] == "adopt")]
        assert len(adopted) == int(chosen["size"])
    sheet = pd.read_csv(study / "out" / "suggestions.csv", dtype=str).fillna("")
    assert (sheet["code"] == "kerja_sama_internasional").sum() >= int(chosen["size"])
    invoke("export", "--project", study, "--out", tmp_path / "study.qdpx")
    assert "kerja_sama_internasional" in qdpx_codes(tmp_path / "study.qdpx")[0]
    history = invoke("codes", "history", "--project", study)
    assert f"adopt {chosen['candidate']} → kerja_sama_internasional" in history.stdout


def test_conclude_codes_refuse_what_cannot_be_done(study):
    for args, said in ((["rename", "nothing", "x"], "no code 'nothing'"),
                       (["rename", "training", "funding"], "in the codebook already"),
                       (["merge", "training", "funding", "--into", "mix"], "different factor types"),
                       (["adopt", "new-zz-99"], "candidates")):
        result = runner.invoke(app, ["codes", *args, "--project", str(study)])
        assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output, result.output
    assert raw_rows(study, "SELECT COUNT(*) FROM code_history") == [(0,)]
    # a retired id is not taken again (its old codings read as the code it became); renaming back is fine
    invoke("codes", "rename", "financing", "permodalan", "--project", study)
    invoke("codes", "rename", "funding", "anggaran", "--project", study)
    result = runner.invoke(app, ["codes", "rename", "anggaran", "financing", "--project", str(study)])
    assert result.exit_code == 2 and "was renamed or merged into 'permodalan' before" in result.output
    invoke("codes", "rename", "permodalan", "financing", "--project", study)
    assert raw_rows(study, "SELECT old, new FROM code_map ORDER BY old") == [("funding", "anggaran"),
                                                                           ("permodalan", "financing")]
