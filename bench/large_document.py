"""Benchmark: one very long transcript through `pilah run` (issue 13).

    python bench/large_document.py [--mb 9.5]

Writes one transcript of about ``--mb`` megabytes (the sample corpus's interview turns,
numbered and in a seeded order; ``[ingest] max_text_mb`` is 10 by default) and runs
``pilah run`` on it in a fresh process: wall seconds, peak RSS, seconds per stage.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from scale import pilah_run, sample_turns


def write_transcript(path: Path, megabytes: float, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    turns = sample_turns()
    lines, size, n = [], 0, 0
    while size < megabytes * 1_000_000:
        turn = turns[rng.integers(len(turns))]
        line = f"{turn} ({n})"
        lines.append(line)
        size += len(line.encode()) + 2
        n += 1
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=9.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        turns = write_transcript(corpus / "long_interview.txt", args.mb)
        measured = pilah_run(corpus, Path(tmp) / "project", "--workers", "1")
        counts = measured["summary"]["counts"]
        print(json.dumps({"megabytes": round((corpus / "long_interview.txt").stat().st_size / 1e6, 1), "turns": turns,
                          "segments": counts["segments"], "tokens": counts["tokens"],
                          "suggestions": counts["suggestions"], "failures": counts["failures"],
                          "wall_s": round(measured["wall_s"], 1), "peak_rss_mb": round(measured["peak_rss_mb"]),
                          "seconds": measured["summary"]["seconds"]}))


if __name__ == "__main__":
    main()
