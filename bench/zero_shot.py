"""Benchmark: suggestions from the codebook alone, before any coding (issue 23).

    python bench/zero_shot.py [--only gold,napire] [--json bench/results/zero_shot.json]

* ``gold``: the sample corpus (``corpus/``) and its gold coding (``corpus/gold.csv``), every
  segment of a gold-coded document, interviewer turns left out, with
  ``configs/codebook.yaml``. Three ways to suggest, none trained: the keyword rules alone,
  the codebook by meaning alone (the codebook's keywords removed), and both (what a new
  project's first ``pilah run`` does with the encoder on).
* ``napire``: NaPiRE 2018's survey answers with ``codebook.csv`` as the only codebook: a
  code's label is its name, its definition its category and kind; an answer to a *cause*
  question gets the cause codes, an *effect* answer the effect codes. Rules: the words of
  the code names as keywords (``codebook_for_codes``). Scored on the test respondents of
  ``bench/learning_curve.py``'s split (nothing is tuned on them: the thresholds were chosen
  on the sample gold), and on the train respondents.

Code micro-F1 over the codebook's codes; direction macro-F1 over the gold's
(code, direction) pairs, and how the predicted directions spread. Vectors come from
``bench/vector_cache.py``'s cache (texts not cached yet are embedded).
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
from suggest_benchmarks import DATA, bench_parser  # noqa: E402
from vector_cache import CACHE, encoder, vectors  # noqa: E402

from pipeline.codebook import codebook_for_codes, load_codebook, parse_codebook  # noqa: E402
from pipeline.config import PROJECT_ROOT, load_config  # noqa: E402
from pipeline.engine import Stages  # noqa: E402
from pipeline.records import RESEARCHER, role_of  # noqa: E402
from pipeline.suggest.semantic import CodeVectors  # noqa: E402
from pipeline.table_suggestions import table_features  # noqa: E402
from pipeline.train import evaluate_labels, labels_from_gold  # noqa: E402


def without_keywords(book):
    """The same codebook with no keyword: only its texts (labels, definitions…) are left."""
    raw = json.loads(json.dumps(book.raw))

    def strip(codes):
        for code in codes:
            code.pop("keywords", None)
            strip(code.get("children") or [])

    strip(raw["codes"])
    return parse_codebook(raw, source=f"{book.source} (no keywords)")


def score(labels, book, stages, model_vectors, code_vectors, features) -> dict:
    figures = evaluate_labels(labels, None, book, stages, vectors=model_vectors, code_vectors=code_vectors,
                              features=features)
    predicted = Counter(d for row in figures["predicted"] for d in row.values())
    return {"codes_micro_f1": figures["suggestions"]["micro"]["f1"],
            "codes_precision": figures["suggestions"]["micro"]["precision"],
            "codes_recall": figures["suggestions"]["micro"]["recall"],
            "direction_macro_f1": figures["direction"]["macro_f1"] if figures["direction"] else None,
            "direction_accuracy": figures["direction"].get("accuracy") if figures["direction"] else None,
            "suggested_directions": dict(predicted),
            "suggestions_per_segment": figures["suggestions_per_segment"]}


def gold_rows(config, book) -> pd.DataFrame:
    path = CACHE / "gold_labels.csv"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        labels_from_gold(PROJECT_ROOT / "corpus", PROJECT_ROOT / "corpus" / "gold.csv",
                         Stages(config, book, None)).to_csv(path, index=False)
    labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    # the researcher's turns, by the product's rule (the cached table may predate its role column)
    researchers = {s.casefold() for s in config.section("suggest").get("skip_speakers", [])}
    return labels[[role_of(s, researchers) != RESEARCHER for s in labels["speaker"]]].reset_index(drop=True)


def run_gold(config, model, settings: dict) -> list[dict]:
    book = load_codebook(PROJECT_ROOT / "configs" / "codebook.yaml")
    labels = gold_rows(config, book)
    rows = []
    segment_vectors = vectors(labels["text"], model=model)
    plain = without_keywords(book)
    for name, chosen, use in (("keyword rules only", book, False), ("codebook by meaning only", plain, True),
                              ("rules + meaning", book, True)):
        stages = Stages(config, chosen, None)
        features = table_features(labels, stages)
        code_vectors = (CodeVectors.from_codebook(chosen, lambda t: vectors(t, "query", model), model.id)
                        if use else None)
        result = score(labels, chosen, stages, segment_vectors if use else None, code_vectors, features)
        rows.append({"set": "sample gold", "system": name, "segments": len(labels), **result})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def napire_codebook(kind: str, frame_book):
    table = pd.read_csv(DATA / "napire2018" / "codebook.csv", dtype=str, keep_default_na=False)
    table = table[table["kind"] == kind].drop_duplicates("code_id")
    book = codebook_for_codes(list(table["code_id"]), frame_book, f"napire {kind}")
    raw = json.loads(json.dumps(book.raw))
    names = dict(zip(table["code_id"], table["name"]))
    categories = dict(zip(table["code_id"], table["category"]))
    for code in raw["codes"]:
        name = names[code["id"]]
        code["label"] = {"id": name, "en": name}
        category = categories[code["id"]] or "other"
        code["definition"] = f"A {kind} of requirements engineering problems: {name} (category: {category})."
    return parse_codebook(raw, source=f"napire2018/codebook.csv ({kind})")


def run_napire(config, model, frame_book) -> list[dict]:
    sys.path.insert(0, str(Path(__file__).parent))
    from learning_curve import napire_respondents  # noqa: E402

    table = pd.read_csv(DATA / "napire2018" / "table.csv", dtype=str, keep_default_na=False)
    test_respondents = napire_respondents()
    rows = []
    for split in ("test", "train"):
        is_test = table["respondent"].isin(test_respondents)
        part = table[is_test if split == "test" else ~is_test]
        for system in ("keyword rules only", "codebook by meaning only", "rules + meaning"):
            totals = Counter()
            for kind in ("cause", "effect"):
                rows_of = part[part["kind"] == kind]
                book = napire_codebook(kind, frame_book)
                chosen = without_keywords(book) if system == "codebook by meaning only" else book
                labels = pd.DataFrame({"text": rows_of["text"], "codes": rows_of["codes"], "lang": "en"}).reset_index(drop=True)
                stages = Stages(config, chosen, None)
                use = system != "keyword rules only"
                code_vectors = (CodeVectors.from_codebook(chosen, lambda t: vectors(t, "query", model), model.id)
                                if use else None)
                figures = evaluate_labels(labels, None, chosen, stages,
                                          vectors=vectors(labels["text"], model=model) if use else None,
                                          code_vectors=code_vectors)
                codes = set(chosen.codes)
                for value, found in zip(labels["codes"], figures["predicted"]):
                    gold = {c for c in value.split(";") if c in codes}
                    totals.update(tp=len(gold & set(found)), fp=len(set(found) - gold), fn=len(gold - set(found)))
                totals["rows"] += len(labels)
            tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            rows.append({"set": f"napire {split}", "system": system, "segments": totals["rows"],
                         "codes_micro_f1": round(f1, 4), "codes_precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
                         "codes_recall": round(tp / (tp + fn), 4) if tp + fn else 0.0})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = bench_parser(__doc__)
    parser.set_defaults(only="gold,napire")
    args = parser.parse_args()
    config = load_config(Path(__file__).with_name("benchmarks.toml"))
    model = encoder()
    started = time.perf_counter()
    results = []
    if "gold" in args.only.split(","):
        results += run_gold(config, model, {})
    if "napire" in args.only.split(","):
        results += run_napire(config, model, load_codebook(config.path("suggest", "codebook")))
    print(f"{time.perf_counter() - started:.0f} s")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"encoder": model.id, "rows": results}, indent=2) + "\n", encoding="utf-8")


def table(rows: list[dict]) -> str:
    lines = ["| set | system | code micro-F1 | precision | recall | direction macro-F1 |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        direction = r.get("direction_macro_f1")
        lines.append(f"| {r['set']} | {r['system']} | {r['codes_micro_f1']:.3f} | {r['codes_precision']:.3f} | "
                     f"{r['codes_recall']:.3f} | {'—' if direction is None else f'{direction:.3f}'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
