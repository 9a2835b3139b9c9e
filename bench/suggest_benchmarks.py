"""Benchmark: the suggestion engine on public Indonesian/English data, official splits.

    python bench/suggest_benchmarks.py [--only hoasa,casa,nusax_id,nusax_en] [--json OUT]

Each set becomes a labelled table (codes = aspects, direction = polarity), a model is
trained on the train split only (no cross-validation) and scored on the test split:

* HoASA (hotel reviews): aspect present = code; pos → supporting, neg → constraining,
  neg_pos → neutral (both). IndoNLU's metric flattens the 4-way label of every aspect slot
  (neut / pos / neg / neg_pos) and takes the macro-F1.
* CASA (car reviews): neutral = not discussed; positive / negative as above; IndoNLU flat
  macro-F1 over 3 classes.
* NusaX sentiment (id, en; parallel): one code ``opinion`` on every row; the direction
  model alone decides positive / neutral / negative; macro-F1.

Prints a table with train seconds, suggestion speed (rows/s) and the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import f1_score

from pipeline.codebook import codebook_for_codes, load_codebook
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.engine import Stages
from pipeline.labels import parse_codes
from pipeline.table_suggestions import suggest_labels
from pipeline.train import evaluate_labels, train

DATA = PROJECT_ROOT.parent / "shared" / "data"
TO_DIRECTION = {"pos": "supporting", "positive": "supporting", "neg": "constraining", "negative": "constraining",
                "neg_pos": "neutral"}
FROM_DIRECTION = {"hoasa": {"supporting": "pos", "constraining": "neg", "neutral": "neg_pos"},
                  "casa": {"supporting": "positive", "constraining": "negative", "neutral": "negative"}}
ABSENT = {"hoasa": "neut", "casa": "neutral"}


def absa_table(path: Path, text_column: str, absent: str) -> tuple[pd.DataFrame, list[str]]:
    raw = pd.read_csv(path)
    aspects = [c for c in raw.columns if c != text_column]
    codes = [";".join(f"{a}={TO_DIRECTION[row[a]]}" for a in aspects if row[a] != absent) for _, row in raw.iterrows()]
    return pd.DataFrame({"text": raw[text_column], "codes": codes, "lang": "id"}), aspects


def nusax_table(path: Path, lang: str) -> pd.DataFrame:
    raw = pd.read_csv(path)
    direction = {"positive": "supporting", "negative": "constraining", "neutral": "neutral"}
    return pd.DataFrame({"text": raw["text"], "codes": [f"opinion={direction[l]}" for l in raw["label"]], "lang": lang})


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The options the benchmarks over the public sets share: ``--only`` and ``--json``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--only", default="hoasa,casa,nusax_id,nusax_en")
    parser.add_argument("--json", type=Path)
    return parser


def bench_config():
    """The run configuration with bench/benchmarks.toml over it, and the codebook whose
    direction cues and negators every benchmark codebook borrows."""
    config = load_config(Path(__file__).with_name("benchmarks.toml"))
    return config, load_codebook(config.path("suggest", "codebook"))


def load_set(name: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The official train and test splits of one set as labelled tables, and its codes."""
    if name in ("hoasa", "casa"):
        folder, column = {"hoasa": ("indonlu_hoasa", "review"), "casa": ("indonlu_casa", "sentence")}[name]
        train_table, codes = absa_table(DATA / folder / "train_preprocess.csv", column, ABSENT[name])
        test_table, _ = absa_table(DATA / folder / "test_preprocess.csv", column, ABSENT[name])
        return train_table, test_table, codes
    lang = name.split("_")[1]
    folder = DATA / "nusax_senti" / {"id": "indonesian", "en": "english"}[lang]
    return nusax_table(folder / "train.csv", lang), nusax_table(folder / "test.csv", lang), ["opinion"]


def run_set(name: str, train_table, test_table, codes, frame_book, config) -> dict:
    book = codebook_for_codes(codes, frame_book, name)
    stages = Stages(config, book, None)
    started = time.perf_counter()
    model, _ = train(train_table, book, stages, name, folds=1)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    suggest_labels(test_table, model, book, Stages(config, book, model))
    rows_per_s = len(test_table) / (time.perf_counter() - started)
    return {"set": name, "train_rows": len(train_table), "test_rows": len(test_table),
            "train_s": round(train_seconds, 1), "suggest_rows_per_s": round(rows_per_s),
            **score_set(name, model, test_table, codes, book, config)}


def score_set(name: str, model, test_table, codes, book, config) -> dict:
    """Which codes (micro-F1), direction on the gold codes (macro-F1) and, for HoASA and
    CASA, IndoNLU's flat aspect x polarity macro-F1, of ``model`` on ``test_table``."""
    stages = Stages(config, book, model)
    figures = evaluate_labels(test_table, model, book, stages)
    result = {"direction_macro_f1": figures["direction"]["macro_f1"]}
    if len(codes) > 1:  # NusaX has one code on every row: only its direction is scored
        result["codes_micro_f1"] = figures["suggestions"]["micro"]["f1"]
    if name in ABSENT:
        suggested = suggest_labels(test_table, model, book, stages)
        gold, predicted = [], []
        for gold_codes, row in zip(test_table["codes"], suggested["suggested_codes"]):
            g, p = parse_codes(gold_codes), parse_codes(row)
            for aspect in codes:
                gold.append(FROM_DIRECTION[name][g[aspect]] if aspect in g else ABSENT[name])
                predicted.append(FROM_DIRECTION[name][p[aspect]] if aspect in p else ABSENT[name])
        result["indonlu_flat_macro_f1"] = round(float(f1_score(gold, predicted, average="macro")), 4)
    return result


def main() -> None:
    args = bench_parser(__doc__).parse_args()
    config, frame_book = bench_config()
    results = []
    for name in args.only.split(","):
        train_table, test_table, codes = load_set(name)
        results.append(run_set(name, train_table, test_table, codes, frame_book, config))
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
