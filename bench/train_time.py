"""Benchmark: how long `pilah train` takes on a realistic small project (issue 12).

    python bench/train_time.py [--only napire,documents] [--folds 5] [--json OUT]

* ``napire``: NaPiRE 2018's 3,087 short survey answers (48 characters on average) with the
  codes the analysts gave (176 codes, most with 5-60 answers).
* ``documents``: 300 documents of about 1,500 words, each 68 HoASA hotel reviews in a
  seeded order; a document is coded with the aspects at least 15 of its reviews mention,
  in the direction most of them take. Synthetic, but long text is what costs time.

Both go through ``pipeline.train.train`` as ``pilah train`` calls it (``--folds`` outer
cross-validation folds, 5 by default, plus the final fit), one BLAS thread a process, the
folds fitted in forked processes (one per CPU). Target: 30 s each on a 2-core machine.
``cpu_s`` (the CPU time of this process and of the processes that fitted the folds) is
printed beside the wall time, which other work on a shared machine stretches.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]  # this checkout first
from suggest_benchmarks import DATA, bench_config, bench_parser, load_set  # noqa: E402

from pipeline.codebook import codebook_for_codes  # noqa: E402
from pipeline.engine import Stages  # noqa: E402
from pipeline.labels import parse_codes  # noqa: E402
from pipeline.suggest.model import SuggestionModel  # noqa: E402
from pipeline.train import train  # noqa: E402

REVIEWS_PER_DOCUMENT = 68
DOCUMENTS = 300


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished child processes (the fold fits)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def napire_table() -> pd.DataFrame:
    table = pd.read_csv(DATA / "napire2018" / "table.csv", dtype=str, keep_default_na=False)
    return pd.DataFrame({"text": table["text"], "codes": table["codes"], "lang": "en"})


def documents_table() -> pd.DataFrame:
    train_table, test_table, _ = load_set("hoasa")
    reviews = pd.concat([train_table, test_table], ignore_index=True)
    rng = np.random.default_rng(0)
    rows = []
    for d in range(DOCUMENTS):
        picked = reviews.iloc[rng.choice(len(reviews), REVIEWS_PER_DOCUMENT, replace=False)]
        counts: dict[str, Counter] = {}
        for value in picked["codes"]:
            for code, direction in parse_codes(value).items():
                counts.setdefault(code, Counter())[direction] += 1
        codes = {c: n.most_common(1)[0][0] for c, n in counts.items() if sum(n.values()) >= 15}
        rows.append({"text": " ".join(picked["text"]), "codes": ";".join(f"{c}={v}" for c, v in codes.items()),
                     "lang": "id", "document": f"doc{d}"})
    return pd.DataFrame(rows)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.set_defaults(only="napire,documents")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--params", default="", help="SuggestionModel settings to try, e.g. classifier=\"ridge\"")
    parser.add_argument("--vectors", action="store_true",
                        help="with the encoder's sentence vectors, read from bench/vector_cache.py's cache (issue 23)")
    args = parser.parse_args()
    settings = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.params.split(";"))} if args.params else {}
    config, frame_book = bench_config()
    results = []
    for name in args.only.split(","):
        table = napire_table() if name == "napire" else documents_table()
        codes = sorted({c for value in table["codes"] for c in parse_codes(value)})
        book = codebook_for_codes(codes, frame_book, name)
        vectors = None
        if args.vectors:
            from vector_cache import VectorCache, encoder

            vectors = VectorCache(encoder().id).get(table["text"].tolist())
        started, cpu = time.perf_counter(), _cpu_seconds()
        _, meta = train(table, book, Stages(config, book, None), name, folds=args.folds,
                        estimator=SuggestionModel(**settings), vectors=vectors, encoder_id="e5" if args.vectors else "")
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        words = int(table["text"].str.split().str.len().sum())
        results.append({"set": name, "vectors": args.vectors, "rows": len(table), "words": words, "codes": len(codes),
                        "learned_codes": len(meta["learned_codes"]), "folds": args.folds,
                        "train_s": round(seconds, 1), "cpu_s": round(cpu, 1),
                        "seconds_by_step": meta.get("seconds", {})})
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
