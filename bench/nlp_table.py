"""Benchmark: both nlp backends and bare spacy.blank on the held-out UD test files.

    python bench/nlp_table.py [--json OUT]

Prints a Markdown table (the one in the README): token, sentence and word F1, lemma and
UPOS accuracy (CoNLL 2018 evaluation, end to end from raw text) and words per second, for
Indonesian GSD test, Indonesian CSUI test and English EWT test, same text, same machine,
one run. None of these files is used in training.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from pipeline.config import PROJECT_ROOT, load_config
from pipeline.nlp.evaluate import evaluate_backend

UD = PROJECT_ROOT.parent / "shared" / "data" / "ud"
TEST_FILES = (
    UD / "UD_Indonesian-GSD" / "id_gsd-ud-test.conllu",
    UD / "UD_Indonesian-CSUI" / "id_csui-ud-test.conllu",
    UD / "UD_English-EWT" / "en_ewt-ud-test.conllu",
)
COLUMNS = ("tokens_f1", "sentences_f1", "words_f1", "lemma_acc", "upos_acc", "words_per_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--backends", default="blank,fast,stanza")
    args = parser.parse_args()
    settings = load_config().section("nlp")
    rows = []
    for path in TEST_FILES:
        for backend in args.backends.split(","):
            rows.append(evaluate_backend(path, backend, settings))
    print(f"python {platform.python_version()}, {platform.machine()}\n")
    print("| test file | backend | " + " | ".join(COLUMNS) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in COLUMNS) + " |")
    for row in rows:
        cells = ["—" if row[c] is None else f"{row[c]:,}" if c == "words_per_s" else f"{row[c]:.2f}" for c in COLUMNS]
        print(f"| {row['file']} | {row['backend']} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
