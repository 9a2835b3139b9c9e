"""Benchmark: how fast ``pilah suggest`` labels a table, stage by stage.

    python bench/suggest_speed.py [--rows N] [--with-lang]

Trains a model on the HoASA train split (as bench/suggest_benchmarks.py does), then suggests
codes for every distinct review of HoASA's train, validation and test files together (2,854
rows; repeating rows would flatter the language-ID cache). By default the table has no
``lang`` column, so language identification runs on every row, as for a user's table;
``--with-lang`` gives it one. Prints rows and tokens per second for the whole call and for
each stage (language ID, tokenization, features and rule matching, model scoring with
directions and explanations: ``Suggester.propose``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]  # this checkout first
from suggest_benchmarks import DATA, bench_config, load_set  # noqa: E402

from pipeline.codebook import codebook_for_codes  # noqa: E402
from pipeline.engine import Stages  # noqa: E402
from pipeline.language import _detector  # noqa: E402
from pipeline.records import Segment  # noqa: E402
from pipeline.suggest import Suggester, featurize  # noqa: E402
from pipeline.table_suggestions import suggest_labels  # noqa: E402
from pipeline.train import train  # noqa: E402


def _warm_up(model, book, stages) -> None:
    """Load vocabularies and the detector on other text (NusaX), with an empty ID cache."""
    _detector.cache_clear()
    warm = pd.read_csv(DATA / "nusax_senti" / "indonesian" / "valid.csv")[["text"]]
    suggest_labels(warm, model, book, stages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="use only the first N rows (0: all)")
    parser.add_argument("--with-lang", action="store_true", help="give the table a lang column")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the end-to-end call")
    args = parser.parse_args()
    config, frame_book = bench_config()
    train_table, _, codes = load_set("hoasa")
    book = codebook_for_codes(codes, frame_book, "hoasa")
    model, _ = train(train_table, book, Stages(config, book, None), "hoasa", folds=1)
    stages = Stages(config, book, model)

    folder = DATA / "indonlu_hoasa"
    texts = pd.concat([pd.read_csv(folder / f)["review"] for f in
                       ("train_preprocess.csv", "valid_preprocess.csv", "test_preprocess.csv")])
    texts = texts.drop_duplicates().reset_index(drop=True)
    if args.rows:
        texts = texts.head(args.rows)
    table = pd.DataFrame({"text": texts})
    if args.with_lang:
        table["lang"] = "id"
    _warm_up(model, book, stages)
    started = time.perf_counter()
    suggest_labels(table, model, book, stages, jobs=args.jobs)
    total = time.perf_counter() - started

    _warm_up(model, book, stages)  # and forget the language IDs cached by the first pass
    seconds = Counter()
    segments = [Segment(id=str(i), document_id="", index=i, start=0, end=len(t), text=t)
                for i, t in enumerate(table["text"])]
    if args.with_lang:
        segments = [Segment(**{**s.__dict__, "language": "id"}) for s in segments]
    else:
        segments = stages.detect_language(segments, seconds)
    docs = stages.tokenize(segments, seconds)
    started = time.perf_counter()
    features = [featurize(doc, stages.suggester.rules) for _, doc in docs]
    seconds["features"] = time.perf_counter() - started
    started = time.perf_counter()
    Suggester(book, model, config.section("suggest")).propose(features)
    seconds["model"] = time.perf_counter() - started

    n = len(table)
    words = sum(len(doc) for _, doc in docs)
    print(f"{n} rows, {words} tokens ({words / n:.1f} per row), lang column: {args.with_lang}")
    print(f"pilah suggest end to end, {args.jobs} process(es): {n / total:,.0f} rows/s, "
          f"{words / total:,.0f} tokens/s ({total:.2f} s)")
    print("stages, one process:")
    for stage in ("language", "nlp", "features", "model"):
        if seconds[stage]:
            print(f"  {stage:<9} {n / seconds[stage]:>9,.0f} rows/s  {words / seconds[stage]:>10,.0f} tokens/s  "
                  f"{seconds[stage]:.2f} s")


if __name__ == "__main__":
    main()
