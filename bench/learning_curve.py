"""Benchmark: Pilah against the reference baseline as the training data grows (issues 12, 23).

    python bench/learning_curve.py [--only napire,hoasa,casa,nusax_id,nusax_en]
                                   [--sizes 25,50,100,200,all] [--seeds 3] [--dev] [--json OUT]
                                   [--systems pilah_e5,pilah,baseline,baseline_old]

For each set and size, a seeded random sample of the train split trains each system, and
all are scored by the same code (``pipeline.train.evaluate_labels``) on the whole test
split. Sizes below the full split are repeated with ``--seeds`` samples and averaged.
Systems: ``pilah_e5`` (``SuggestionModel`` with the encoder's sentence vectors beside its
word features; vectors from ``bench/vector_cache.py``'s cache), ``pilah`` (the same model
on words alone), ``baseline`` (``bench/baseline.py``: TF-IDF word 1-2 + char_wb 2-5 grams,
one-vs-rest ``LogisticRegression(C=4, class_weight="balanced", solver="liblinear")``,
threshold 0.5) and ``baseline_old`` (issue 12's: C=100, no class weights).
``--cross-language`` trains on NusaX in one language and tests on the other (the sentences
are parallel: the test sentences are the translations of no training sentence).

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
from baseline import BaselineModel, old_baseline  # noqa: E402
from suggest_benchmarks import ABSENT, DATA, FROM_DIRECTION, bench_config, bench_parser, load_set  # noqa: E402
from vector_cache import VectorCache, encoder, vectors as cached_vectors  # noqa: E402

from pipeline.suggest.semantic import CodeVectors  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from pipeline.labels import parse_codes  # noqa: E402
from pipeline.table_suggestions import table_features  # noqa: E402
from pipeline.train import evaluate_labels  # noqa: E402

from pipeline.codebook import codebook_for_codes  # noqa: E402
from pipeline.engine import Stages  # noqa: E402
from pipeline.suggest.model import SuggestionModel  # noqa: E402
from pipeline.train import train  # noqa: E402

METRICS = ("codes_micro_f1", "indonlu_flat_macro_f1", "direction_macro_f1")
SHOWN = {"codes_micro_f1": "which codes, micro-F1", "indonlu_flat_macro_f1": "IndoNLU flat macro-F1",
         "direction_macro_f1": "direction macro-F1"}
NAPIRE_MIN_ANSWERS = 8  # a question's codebook: its codes given to at least this many answers
SYSTEMS = {"pilah_e5": SuggestionModel, "pilah": SuggestionModel, "baseline": BaselineModel,
           "baseline_old": old_baseline}
WITH_VECTORS = {"pilah_e5"}
NO_KEYWORDS = False  # --no-keywords: the code names' words are not made keywords
_VECTORS: dict = {}  # the cache of the encoder's vectors, read once; each codebook's vectors


def text_vectors(texts) -> np.ndarray:
    """The cached passage vectors of ``texts`` (``bench/vector_cache.py`` fills the cache)."""
    if "cache" not in _VECTORS:
        _VECTORS["cache"] = VectorCache(encoder().id)
    return _VECTORS["cache"].get([str(t) for t in texts])


class Prepared:
    """A labelled table with its features (tokenised once) and sentence vectors."""

    def __init__(self, table: pd.DataFrame, book, config, vectors: bool):
        self.table = table.reset_index(drop=True)
        self.features = table_features(self.table, Stages(config, book, None))
        self.vectors = text_vectors(self.table["text"]) if vectors else None

    def take(self, index) -> tuple[pd.DataFrame, list, np.ndarray | None]:
        index = list(index)
        return (self.table.iloc[index].reset_index(drop=True), [self.features[i] for i in index],
                None if self.vectors is None else self.vectors[index])


def book_vectors(book) -> CodeVectors:
    """The codebook's texts embedded as queries (through the bench cache), as a project's
    run embeds them; once per codebook (every sample's training and scoring reads them)."""
    if book.hash not in _VECTORS:
        _VECTORS[book.hash] = CodeVectors.from_codebook(book, lambda t: cached_vectors(t, "query"), encoder().id)
    return _VECTORS[book.hash]


def score(name: str, model, prepared: Prepared, codes, book, config, vectors: bool) -> dict:
    """Which codes (micro-F1), direction on the gold codes (macro-F1) and, for HoASA and
    CASA, IndoNLU's flat aspect x polarity macro-F1. With vectors, the codebook's texts
    (here the code names) are matched by meaning too, as a project's run does."""
    table, features, found = prepared.take(range(len(prepared.table)))
    code_vectors = book_vectors(book) if vectors else None
    figures = evaluate_labels(table, model, book, Stages(config, book, None), vectors=found if vectors else None,
                              features=features, code_vectors=code_vectors)
    result = {"direction_macro_f1": figures["direction"]["macro_f1"]}
    if len(codes) > 1:  # NusaX has one code on every row: only its direction is scored
        result["codes_micro_f1"] = figures["suggestions"]["micro"]["f1"]
    if name in ABSENT:
        gold, predicted = [], []
        for gold_codes, found_codes in zip(table["codes"], figures["predicted"]):
            g = parse_codes(gold_codes)
            for aspect in codes:
                gold.append(FROM_DIRECTION[name][g[aspect]] if aspect in g else ABSENT[name])
                predicted.append(FROM_DIRECTION[name][found_codes[aspect]] if aspect in found_codes else ABSENT[name])
        result["indonlu_flat_macro_f1"] = round(float(f1_score(gold, predicted, average="macro")), 4)
    return result


def napire_respondents(seed: int = 0) -> set[str]:
    """The test respondents of NaPiRE: a seeded quarter of them."""
    table = pd.read_csv(DATA / "napire2018" / "table.csv", dtype=str, keep_default_na=False)
    respondents = np.array(sorted(table["respondent"].unique(), key=int))
    rng = np.random.default_rng(seed)
    return set(rng.choice(respondents, size=len(respondents) // 4, replace=False))


def napire_sets(seed: int = 0) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, list[str]]]:
    """Per question: train and test tables split by respondent, and the question's codes."""
    table = pd.read_csv(DATA / "napire2018" / "table.csv", dtype=str, keep_default_na=False)
    test_respondents = napire_respondents(seed)
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


def run(name, train_part, test_part: Prepared, codes, book, config, system: str) -> dict:
    table, features, found = train_part
    vectors = system in WITH_VECTORS
    started = time.perf_counter()
    code_vectors = book_vectors(book) if vectors else None
    model, _ = train(table, book, Stages(config, book, None), name, folds=1, estimator=SYSTEMS[system](),
                     vectors=found if vectors else None, encoder_id="e5" if vectors else "", features=features,
                     code_vectors=code_vectors)
    seconds = time.perf_counter() - started
    result = score(name, model, test_part, codes, book, config, vectors)
    return {**result, "train_s": round(seconds, 2)}


def curve(sets, sizes, seeds, dev, frame_book, config, systems) -> list[dict]:
    results = []
    vectors = any(s in WITH_VECTORS for s in systems)
    for name, (train_table, test_table, codes) in sets.items():
        book = codebook_for_codes(codes, frame_book, name.split(">")[0])
        if NO_KEYWORDS:
            from zero_shot import without_keywords

            book = without_keywords(book)
        prepared_train = Prepared(train_table, book, config, vectors)
        prepared_test = None if dev else Prepared(test_table, book, config, vectors)
        for size in sizes:
            n = len(train_table) if size == "all" else min(int(size), len(train_table))
            samples = [0] if n == len(train_table) else list(range(seeds))
            if dev and n == len(train_table):
                continue  # no train rows left out to score on
            for system in systems:
                runs = []
                for seed in samples:
                    sample = train_table.sample(n=n, random_state=seed) if n < len(train_table) else train_table
                    if dev:
                        held = Prepared.__new__(Prepared)
                        rest = train_table.drop(sample.index).index
                        held.table, held.features, held.vectors = prepared_train.take(rest)
                    else:
                        held = prepared_test
                    runs.append(run(name, prepared_train.take(sample.index), held, codes, book, config, system))
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


def table(rows: list[dict], systems: list[str]) -> str:
    """Markdown: one line per set, metric and system, its figure per size; for each Pilah
    system, its margin over the baseline (and the old baseline) averaged over the sizes up to 200."""
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    small = [s for s in sizes if s != "all" and int(s) <= 200]
    lines = ["| set | metric | system | " + " | ".join(f"{s} rows" if s != "all" else "all" for s in sizes)
             + " | mean 25-200 vs baseline | vs old baseline |",
             "| --- | --- | --- |" + " ---: |" * (len(sizes) + 2)]
    for name in dict.fromkeys(r["set"] for r in rows):
        for metric in METRICS:
            value = {(r["system"], r["size"]): r.get(metric) for r in rows if r["set"] == name}
            if all(v is None for v in value.values()):
                continue
            for system in systems:
                cells = [f"{value[(system, s)]:.3f}" if value.get((system, s)) is not None else "—" for s in sizes]
                margins = []
                for base in ("baseline", "baseline_old"):
                    pairs = [(value.get((system, s)), value.get((base, s))) for s in small]
                    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
                    margins.append(f"{np.mean([a - b for a, b in pairs]):+.3f}"
                                   if pairs and system.startswith("pilah") else "")
                lines.append(f"| {name} | {SHOWN[metric]} | {system} | " + " | ".join(cells) + " | "
                             + " | ".join(margins) + " |")
    return "\n".join(lines)


def cross_language_sets() -> dict:
    """NusaX trained on one language and tested on the other."""
    id_train, id_test, codes = load_set("nusax_id")
    en_train, en_test, _ = load_set("nusax_en")
    return {"nusax_id>en": (id_train, en_test, codes), "nusax_en>id": (en_train, id_test, codes)}


def _settings(text: str) -> dict:
    """``"a=1;b=\"x\""`` -> ``{"a": 1, "b": "x"}`` (values in JSON)."""
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in text.split(";"))}


def main() -> None:
    parser = bench_parser(__doc__)
    parser.set_defaults(only="napire,hoasa,casa,nusax_id,nusax_en")
    parser.add_argument("--sizes", default="25,50,100,200,all")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dev", action="store_true", help="score on the train rows left out of each sample")
    parser.add_argument("--systems", default="pilah_e5,pilah,baseline,baseline_old")
    parser.add_argument("--questions", default="", help="napire questions to run (default: all ten)")
    parser.add_argument("--params", default="", help="SuggestionModel settings to try, e.g. vector_weight=2")
    parser.add_argument("--baseline-params", default="", help="BaselineModel settings to try, e.g. C=10")
    parser.add_argument("--cross-language", action="store_true", help="NusaX id->en and en->id")
    parser.add_argument("--no-keywords", action="store_true", help="codebooks without keywords (no rules)")
    args = parser.parse_args()
    global NO_KEYWORDS
    NO_KEYWORDS = args.no_keywords
    if args.params:
        settings = _settings(args.params)
        SYSTEMS["pilah"] = SYSTEMS["pilah_e5"] = lambda: SuggestionModel(**settings)
    if args.baseline_params:
        baseline_settings = _settings(args.baseline_params)
        SYSTEMS["baseline"] = lambda: BaselineModel(**baseline_settings)
    config, frame_book = bench_config()
    sets = {}
    if args.cross_language:
        sets = cross_language_sets()
    else:
        for name in args.only.split(","):
            if name == "napire":
                chosen = napire_sets()
                if args.questions:
                    chosen = {k: v for k, v in chosen.items() if k.split("_", 1)[1] in args.questions.split(",")}
                sets.update(chosen)
            else:
                sets[name] = load_set(name)
    systems = args.systems.split(",")
    started = time.perf_counter()
    results = curve(sets, args.sizes.split(","), args.seeds, args.dev, frame_book, config, systems)
    merged = summary(results)
    print(f"{time.perf_counter() - started:.0f} s")
    print(table(merged, systems))
    if args.json:
        args.json.write_text(json.dumps({"rows": merged, "runs": results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
