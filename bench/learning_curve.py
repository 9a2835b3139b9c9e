"""Benchmark: Pilah against the reference baseline as the training data grows (issue 12).

    python bench/learning_curve.py [--only napire,hoasa,casa,nusax_id,nusax_en]
                                   [--sizes 25,50,100,200,all] [--seeds 3] [--dev] [--json OUT]

For each set and size, a seeded random sample of the train split trains Pilah's
``SuggestionModel`` and the baseline (``bench/baseline.py``: TF-IDF word 1-2 + char 2-5
grams, one-vs-rest logistic regression, threshold 0.5); both are scored by the same code
(``pipeline.train.evaluate_labels``) on the whole test split. Sizes below the full split
are repeated with ``--seeds`` samples and averaged.

``napire`` is NaPiRE 2018's real survey coding, one set per question (five cause and five
effect questions, 262-365 answers each, codes as the analysts gave them), each split by
respondent (a seeded quarter of the respondents is the test split); a question's codebook
is its codes given to at least 8 answers (9-16 codes; an answer with rarer codes only
counts as coded with none of them); its row is the mean over the ten questions. ``--dev`` scores on the train rows left out of each sample instead
of the test split: the figures on which settings were chosen.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]  # this checkout first
from baseline import BaselineModel  # noqa: E402
from suggest_benchmarks import DATA, bench_config, bench_parser, load_set, score_set  # noqa: E402

from pipeline.codebook import codebook_for_codes  # noqa: E402
from pipeline.engine import Stages  # noqa: E402
from pipeline.suggest.model import SuggestionModel  # noqa: E402
from pipeline.train import train  # noqa: E402

METRICS = ("codes_micro_f1", "indonlu_flat_macro_f1", "direction_macro_f1")
SHOWN = {"codes_micro_f1": "which codes, micro-F1", "indonlu_flat_macro_f1": "IndoNLU flat macro-F1",
         "direction_macro_f1": "direction macro-F1"}
NAPIRE_MIN_ANSWERS = 8  # a question's codebook: its codes given to at least this many answers
SYSTEMS = {"pilah": SuggestionModel, "baseline": BaselineModel}


def napire_sets(seed: int = 0) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, list[str]]]:
    """Per question: train and test tables split by respondent, and the question's codes."""
    table = pd.read_csv(DATA / "napire2018" / "table.csv", dtype=str, keep_default_na=False)
    respondents = np.array(sorted(table["respondent"].unique(), key=int))
    rng = np.random.default_rng(seed)
    test_respondents = set(rng.choice(respondents, size=len(respondents) // 4, replace=False))
    sets = {}
    for question, rows in table.groupby("question"):
        counts = Counter(c for value in rows["codes"] for c in set(value.split(";")) if c)
        codes = sorted(c for c, n in counts.items() if n >= NAPIRE_MIN_ANSWERS)
        kept = [";".join(c for c in value.split(";") if c in codes) for value in rows["codes"]]
        rows = pd.DataFrame({"text": rows["text"], "codes": kept, "lang": "en",
                             "respondent": rows["respondent"]}).reset_index(drop=True)
        is_test = rows["respondent"].isin(test_respondents)
        sets[f"napire_{question}"] = (rows[~is_test].reset_index(drop=True), rows[is_test].reset_index(drop=True), codes)
    return sets


def run(name, train_table, test_table, codes, frame_book, config, system: str) -> dict:
    book = codebook_for_codes(codes, frame_book, name)
    stages = Stages(config, book, None)
    started = time.perf_counter()
    model, _ = train(train_table, book, stages, name, folds=1, estimator=SYSTEMS[system]())
    seconds = time.perf_counter() - started
    result = score_set(name, model, test_table, codes, book, config)
    return {**result, "train_s": round(seconds, 2)}


def curve(sets, sizes, seeds, dev, frame_book, config, systems) -> list[dict]:
    results = []
    for name, (train_table, test_table, codes) in sets.items():
        for size in sizes:
            n = len(train_table) if size == "all" else min(int(size), len(train_table))
            samples = [0] if n == len(train_table) else list(range(seeds))
            if dev and n == len(train_table):
                continue  # no train rows left out to score on
            for system in systems:
                runs = []
                for seed in samples:
                    sample = train_table.sample(n=n, random_state=seed) if n < len(train_table) else train_table
                    held = train_table.drop(sample.index) if dev else test_table
                    runs.append(run(name, sample.reset_index(drop=True), held.reset_index(drop=True), codes,
                                    frame_book, config, system))
                row = {"set": name, "size": size, "train_rows": n, "system": system, "samples": len(samples),
                       "train_s": round(float(np.mean([r["train_s"] for r in runs])), 2)}
                for metric in METRICS:
                    values = [r[metric] for r in runs if r.get(metric) is not None]
                    if values:
                        row[metric] = round(float(np.mean(values)), 4)
                results.append(row)
                print(json.dumps(row), flush=True)
    return results


def summary(results: list[dict]) -> list[dict]:
    """NaPiRE's questions averaged into one row per size and system."""
    merged, napire = [], {}
    for row in results:
        if row["set"].startswith("napire_"):
            napire.setdefault((row["size"], row["system"]), []).append(row)
        else:
            merged.append(row)
    for (size, system), rows in napire.items():
        entry = {"set": "napire", "size": size, "system": system, "train_rows": round(float(np.mean([r["train_rows"] for r in rows]))),
                 "questions": len(rows), "train_s": round(float(np.mean([r["train_s"] for r in rows])), 2)}
        for metric in METRICS:
            values = [r[metric] for r in rows if metric in r]
            if values:
                entry[metric] = round(float(np.mean(values)), 4)
        merged.append(entry)
    return merged


def table(rows: list[dict]) -> str:
    """Markdown: one line per set and metric, Pilah / baseline per size."""
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    lines = ["| set | metric | " + " | ".join(f"{s} rows" if s != "all" else "all" for s in sizes) + " |",
             "| --- | --- |" + " ---: |" * len(sizes)]
    sets = list(dict.fromkeys(r["set"] for r in rows))
    for name in sets:
        for metric in METRICS:
            cells = []
            for size in sizes:
                found = {r["system"]: r.get(metric) for r in rows if r["set"] == name and r["size"] == size}
                if found.get("pilah") is None:
                    cells.append("—")
                else:
                    base = found.get("baseline")
                    cells.append(f"**{found['pilah']:.3f}** / {base:.3f}" if base is not None else f"{found['pilah']:.3f}")
            if any(c != "—" for c in cells):
                lines.append(f"| {name} | {SHOWN[metric]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _settings(text: str) -> dict:
    """``"a=1;b=\"x\""`` -> ``{"a": 1, "b": "x"}`` (values in JSON)."""
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in text.split(";"))}


def main() -> None:
    parser = bench_parser(__doc__)
    parser.set_defaults(only="napire,hoasa,casa,nusax_id,nusax_en")
    parser.add_argument("--sizes", default="25,50,100,200,all")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dev", action="store_true", help="score on the train rows left out of each sample")
    parser.add_argument("--systems", default="pilah,baseline")
    parser.add_argument("--questions", default="", help="napire questions to run (default: all ten)")
    parser.add_argument("--params", default="", help="SuggestionModel settings to try, e.g. threshold_shrinkage=0")
    parser.add_argument("--baseline-params", default="", help="BaselineModel settings to try, e.g. C=10")
    args = parser.parse_args()
    if args.params:
        settings = _settings(args.params)
        SYSTEMS["pilah"] = lambda: SuggestionModel(**settings)
    if args.baseline_params:
        baseline_settings = _settings(args.baseline_params)
        SYSTEMS["baseline"] = lambda: BaselineModel(**baseline_settings)
    config, frame_book = bench_config()
    sets = {}
    for name in args.only.split(","):
        if name == "napire":
            chosen = napire_sets()
            if args.questions:
                chosen = {k: v for k, v in chosen.items() if k.split("_", 1)[1] in args.questions.split(",")}
            sets.update(chosen)
        else:
            sets[name] = load_set(name)
    results = curve(sets, args.sizes.split(","), args.seeds, args.dev, frame_book, config, args.systems.split(","))
    merged = summary(results)
    print(table(merged))
    if args.json:
        args.json.write_text(json.dumps({"rows": merged, "runs": results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
