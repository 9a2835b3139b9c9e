"""Benchmark: how well the codebook rules alone rank their suggestions (issue 12).

    python bench/rule_ranking.py [--json OUT]

On the sample corpus's gold coding (252 coded of 487 segments, interviewer turns left out),
the rules of ``configs/codebook.yaml`` suggest codes with no model; the suggestions are
ranked by score and the precision of the top 20 % is printed, for a constant score
(every tie broken at random, averaged: the overall precision) and for ``rule_score``
(evidence: how many and how specific the matched keywords are, per segment length), and
with keywords matching lemmas everywhere (the old semantics) or only where asked.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))  # this checkout first

from pipeline.codebook import load_codebook, parse_codebook  # noqa: E402
from pipeline.config import PROJECT_ROOT, load_config  # noqa: E402
from pipeline.engine import Stages  # noqa: E402
from pipeline.labels import parse_codes  # noqa: E402
from pipeline.suggest import Suggester, featurize  # noqa: E402
from pipeline.suggest.rules import CodebookRules  # noqa: E402
from pipeline.train import labels_from_gold  # noqa: E402

TOP = 0.2


def ranked_precision(scored: list[tuple[float, bool]], top: float = TOP) -> float:
    """Precision of the best ``top`` share of suggestions by score (stable for ties)."""
    ranked = sorted(scored, key=lambda item: -item[0])
    head = ranked[: max(1, round(len(ranked) * top))]
    return round(sum(ok for _, ok in head) / len(head), 4)


def evaluate(book, labels, stages) -> dict:
    rules = CodebookRules(book)
    segments = stages.table_segments(labels, Counter())
    features = [featurize(doc, rules) for _, doc in stages.tokenize(segments, Counter())]
    gold = [set(parse_codes(v)) for v in labels["codes"]]
    proposals = Suggester(book, None, {"max_codes_per_segment": 0}).propose(features)
    scored = [(p["score"], p["code"] in g) for g, row in zip(gold, proposals) for p in row]
    hits = sum(ok for _, ok in scored)
    total = sum(len(g & {c.id for c in book.codable()}) for g in gold)
    precision = hits / len(scored) if scored else 0.0
    recall = hits / total if total else 0.0
    return {"suggestions": len(scored), "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if hits else 0.0,
            "precision_at_top_20pct_constant_score": round(precision, 4),
            "precision_at_top_20pct": ranked_precision(scored),
            "distinct_scores": len({s for s, _ in scored})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = load_config()
    book = load_codebook(config.path("suggest", "codebook"))
    stages = Stages(config, book, None)
    corpus = PROJECT_ROOT / "corpus"
    labels = labels_from_gold(corpus, corpus / "gold.csv", stages)
    skip = {s.casefold() for s in config.section("suggest")["skip_speakers"]}
    labels = labels[~labels["speaker"].str.casefold().isin(skip)].reset_index(drop=True)
    raw = json.loads(json.dumps(book.raw))

    def every_code(codes):
        for code in codes:
            code["lemmas"] = True
            every_code(code.get("children") or [])

    every_code(raw["codes"])
    lemmas_everywhere = parse_codebook(raw, "lemmas everywhere")
    results = {"keywords match lemmas everywhere (before)": evaluate(lemmas_everywhere, labels, stages),
               "keywords match lemmas where asked (now)": evaluate(book, labels, stages)}
    for name, figures in results.items():
        print(f"{name}: {json.dumps(figures)}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
