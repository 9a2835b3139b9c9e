"""Benchmark: how the suggestion engine learns from few examples (issue 4's learning curve).

    python bench/learning_curve.py [--only hoasa,casa,nusax_id,nusax_en] [--sizes 25,50,100,200,all]
                                   [--seeds 3] [--json OUT]

For each size, a seeded random sample of the official train split trains a model, which is
scored on the whole official test split (the same scoring as bench/suggest_benchmarks.py).
Sizes below the full split are repeated with ``--seeds`` samples and averaged; the spread
(min-max) is printed too, since 25 rows hold only a handful of examples per code.
"""

from __future__ import annotations

import json
import time

import numpy as np

from suggest_benchmarks import bench_config, bench_parser, load_set, run_set

METRICS = ("codes_micro_f1", "indonlu_flat_macro_f1", "direction_macro_f1")


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--sizes", default="25,50,100,200,all")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    config, frame_book = bench_config()
    results = []
    for name in args.only.split(","):
        train_table, test_table, codes = load_set(name)
        for size in args.sizes.split(","):
            n = len(train_table) if size == "all" else min(int(size), len(train_table))
            seeds = [0] if n == len(train_table) else list(range(args.seeds))
            runs = []
            started = time.perf_counter()
            for seed in seeds:
                sample = train_table.sample(n=n, random_state=seed) if n < len(train_table) else train_table
                runs.append(run_set(name, sample, test_table, codes, frame_book, config))
            row = {"set": name, "train_rows": n, "samples": len(seeds),
                   "seconds": round(time.perf_counter() - started, 1)}
            for metric in METRICS:
                values = [r[metric] for r in runs if r.get(metric) is not None]
                if values:
                    row[metric] = round(float(np.mean(values)), 4)
                    row[metric + "_range"] = [min(values), max(values)]
            results.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
