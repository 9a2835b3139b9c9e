"""Benchmark: wall time and throughput of `pilah run` on the embedded sample corpus.

Runs the whole job twice in a fresh project directory (cold: everything processed;
warm: every document unchanged and skipped) and prints the figures.

    python bench/run_sample.py
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from pipeline.config import PROJECT_ROOT
from pipeline.project import Project
from pipeline.run import run



def _run(corpus, config, out, project):
    """``pilah run CORPUS --config CONFIG --out OUT --project PROJECT``."""
    with Project.open(project, config=config, new_ok=True) as opened:
        return run(opened, corpus, out)

def main() -> None:
    corpus = PROJECT_ROOT / "corpus"
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        for label in ("cold", "warm"):
            started = time.perf_counter()
            summary = _run(corpus, None, project / "out", project)
            wall = time.perf_counter() - started
            counts, seconds = summary["counts"], summary["seconds"]
            print(
                f"{label}: {wall:.2f} s wall, {counts['documents']} documents "
                f"({counts['documents_processed']} processed), {counts['segments']} segments, "
                f"{counts['tokens']} tokens, {counts['suggestions']} suggestions"
            )
            if counts["documents_processed"]:
                print(f"  seconds per stage: {json.dumps(seconds)}")
                print(f"  nlp: {counts['tokens'] / seconds['nlp']:.0f} tokens/s (includes loading lookups); "
                      f"suggest: {counts['segments'] / seconds['suggest']:.0f} segments/s")


if __name__ == "__main__":
    main()
