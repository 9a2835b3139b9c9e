"""Benchmark: the analyst's loop on the sample corpus, and importing 5,000 decisions.

1. A new project on the sample corpus suggests by the codebook rules (the shipped model was
   trained on the sample gold, so it would be scored on its own training data). A reviewer
   who codes as the gold coding does reviews every suggestion (accept, edit the direction,
   reject) and adds the codes nothing proposed; the sheet is imported; `pilah retrain`
   trains on those codings and scores the rules (before) and the new model (after, whole
   documents held out).
2. Ten renamed copies of the sample corpus (10 × 487 segments); a sheet with 5,000
   decisions is imported, then imported again (nothing added).

    python bench/review_loop.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from pipeline.codebook import load_codebook
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.decisions import import_sheet
from pipeline.engine import Stages
from pipeline.labels import parse_codes
from pipeline.retrain import retrain
from pipeline.project import Project
from pipeline.run import run
from pipeline.store import Store
from pipeline.train import labels_from_gold



def _run(corpus, config, out, project):
    """``pilah run CORPUS --config CONFIG --out OUT --project PROJECT``."""
    with Project.open(project, config=config, new_ok=True) as opened:
        return run(opened, corpus, out)

def review_as_gold(sheet: pd.DataFrame, truth: dict[str, dict]) -> pd.DataFrame:
    """The sheet as a reviewer who codes like the gold coding fills it in."""
    rows, added = [], set()
    for row in sheet.to_dict("records"):
        codes = truth.get(row["segment_id"])
        if codes is None:
            rows.append(row)
            continue
        if row["code"]:
            wanted = codes.get(row["code"], "absent")
            row["decision"] = ("reject" if wanted == "absent" else
                               "edit" if wanted and wanted != row["direction"] else "accept")
            if row["decision"] == "edit":
                row["corrected_direction"] = wanted
        proposed = set(sheet.loc[sheet["segment_id"] == row["segment_id"], "code"])
        rows.append(row)
        for code, direction in codes.items():
            if code not in proposed and (row["segment_id"], code) not in added:
                added.add((row["segment_id"], code))
                rows.append(row | {"decision": "add", "corrected_code": code, "corrected_direction": direction or "",
                                   "suggestion_id": "", "code": ""})
    return pd.DataFrame(rows).fillna("")


def main() -> None:
    corpus = PROJECT_ROOT / "corpus"
    config_values = load_config()
    codebook = load_codebook(config_values.path("suggest", "codebook"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rules = tmp / "rules.toml"
        rules.write_text('[suggest]\nmodel = "no-model"\n', encoding="utf-8")
        stages = Stages(load_config(rules), codebook, None)
        project = tmp / "sample"
        _run(corpus, rules, project / "out", project)
        truth = {r.segment_id: parse_codes(r.codes) for r in labels_from_gold(corpus, corpus / "gold.csv", stages).itertuples()}
        sheet = pd.read_csv(project / "out" / "suggestions.csv", dtype=str, keep_default_na=False)
        reviewed = review_as_gold(sheet, truth)
        reviewed.to_csv(tmp / "reviewed.csv", index=False)
        with Store(project) as store:
            started = time.perf_counter()
            report = import_sheet(store, tmp / "reviewed.csv", codebook, "gold")
            print(f"sample corpus: {report.added} decisions imported in {time.perf_counter() - started:.2f} s "
                  f"({(reviewed['decision'] != '').sum()} decided rows, {len(report.problems)} problems)")
        with Project.open(project, config=rules) as opened:
            figures = retrain(opened)
        for name in ("before", "after"):
            f = figures[name]
            print(f"  {name}: {f['scheme']}: P {f['precision']:.3f} R {f['recall']:.3f} F1 {f['f1']:.3f} "
                  f"macro-F1 {f['macro_f1']:.3f}; direction accuracy {f['direction_accuracy']}, "
                  f"macro-F1 {f['direction_macro_f1']}")
        print(f"  retrain: {figures['rows']} reviewed segments ({figures['coded_rows']} coded), "
              f"{figures['seconds']} s; switched: {figures['switched']}")
        uses = pd.Series([c.get("use", "") for c in figures["codes"].values()]).value_counts().to_dict()
        print(f"  per code, suggested by: {uses}")

        big = tmp / "big"
        for copy in range(10):
            shutil.copytree(corpus, big / f"copy{copy:02d}", ignore=shutil.ignore_patterns("gold.csv", "manifest.csv"))
        started = time.perf_counter()
        _run(big, rules, tmp / "bigproject" / "out", tmp / "bigproject")
        print(f"10 copies of the sample corpus: run {time.perf_counter() - started:.1f} s")
        sheet = pd.read_csv(tmp / "bigproject" / "out" / "suggestions.csv", dtype=str, keep_default_na=False)
        sheet = sheet[sheet["suggestion_id"] != ""].head(5000).copy()
        sheet["decision"] = ["accept" if i % 3 else "reject" for i in range(len(sheet))]
        sheet.to_csv(tmp / "5000.csv", index=False)
        with Store(tmp / "bigproject") as store:
            for attempt in ("first", "again"):
                started = time.perf_counter()
                report = import_sheet(store, tmp / "5000.csv", codebook, "rina")
                print(f"  import of {len(sheet)} decisions ({attempt}): {time.perf_counter() - started:.2f} s, "
                      f"{report.added} added, {report.unchanged} unchanged")


if __name__ == "__main__":
    main()
