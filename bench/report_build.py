"""Benchmark: how long the report (report.html + displays.xlsx) takes to build.

1. The sample corpus: `pilah run` into a fresh project, a simulated review (suggestions
   scoring at least 0.8 accepted, under 0.3 rejected), then the report, timed.
2. A project of about 10,000 segments: the sample project's documents copied COPIES
   times through the Store API (new document and segment ids, each copy its own actors
   and one of five waves per case), the same simulated review, then the report, timed.

Each report is then asked for again: unchanged, it is not rewritten.

    python bench/report_build.py [--copies 21]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from pipeline.codebook import load_codebook
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.records import Document, Segment, Suggestion
from pipeline.report import write_report
from pipeline.project import Project
from pipeline.run import run
from pipeline.segment import segment_id
from pipeline.store import Decision, Store



def _run(corpus, config, out, project):
    """``pilah run CORPUS --config CONFIG --out OUT --project PROJECT``."""
    with Project.open(project, config=config, new_ok=True) as opened:
        return run(opened, corpus, out)

def review(store: Store) -> int:
    suggestions = store.suggestions_frame()
    decisions = [Decision(r.segment_id, r.suggestion_id, "accept" if r.score >= 0.8 else "reject", r.code,
                          r.direction, "bench") for r in suggestions.itertuples() if r.score >= 0.8 or r.score < 0.3]
    store.add_decisions(decisions)
    return len(decisions)


def copy_project(sample: Store, target: Store, copies: int) -> None:
    segments = sample.segments_frame()
    suggestions = sample.suggestions_frame()
    by_segment = {key: group for key, group in suggestions.groupby("segment_id")}
    run_id = target.start_run("synthetic")
    for k in range(copies):
        for document, group in segments.groupby("document", sort=True):
            meta = json.loads(group["metadata"].iloc[0])
            meta |= {"case": f"{meta.get('case', 'case')} · wave {k % 5}", "actor": f"{meta.get('actor', 'actor')} #{k}"}
            doc_id = f"copy{k:02d}/{document}"
            turns = list(group["segment_text"])
            text = "\n\n".join(turns)
            seen, rows, at = Counter(), [], 0
            for index, (turn, row) in enumerate(zip(turns, group.itertuples())):
                start = text.index(turn, at)
                at = start + len(turn)
                rows.append((Segment(segment_id(doc_id, turn, seen[turn]), doc_id, index, start, at, turn,
                                     row.speaker if isinstance(row.speaker, str) else None,
                                     row.timestamp if isinstance(row.timestamp, str) else None,
                                     row.language, row.language_score), row.segment_id))
                seen[turn] += 1
            new = [Suggestion(seg.id, s.code, s.direction, s.factor_type, s.score, s.source, s.evidence, s.confidence)
                   for seg, old in rows if old in by_segment for s in by_segment[old].itertuples()]
            target.save_document(Document(doc_id, doc_id, "txt", "transcript", text, meta), [seg for seg, _ in rows],
                                 list(group["tokens"]), new, f"k{k}", run_id, "bench")


def timed_report(store: Store, codebook, out: Path, skip: list[str]) -> dict:
    started = time.perf_counter()
    summary = write_report(store, codebook, out / "report.html", xlsx_path=out / "displays.xlsx", skip_speakers=skip)
    summary["wall"] = time.perf_counter() - started
    summary["html_mb"] = (out / "report.html").stat().st_size / 1e6
    started = time.perf_counter()
    again = write_report(store, codebook, out / "report.html", xlsx_path=out / "displays.xlsx", skip_speakers=skip)
    assert again["unchanged"]
    summary["again"] = time.perf_counter() - started
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=21, help="copies of the sample corpus (21 ≈ 10,000 segments)")
    args = parser.parse_args()
    config = load_config()
    codebook = load_codebook(config.path("suggest", "codebook"))
    skip = config.section("suggest")["skip_speakers"]
    with tempfile.TemporaryDirectory() as tmp:
        sample_dir, big_dir = Path(tmp) / "sample", Path(tmp) / "big"
        _run(PROJECT_ROOT / "corpus", None, sample_dir / "out", sample_dir)
        with Store(sample_dir) as sample:
            decided = review(sample)
            figures = timed_report(sample, codebook, sample_dir / "out", skip)
            print(f"sample corpus: {figures['segments']} segments, {decided} decisions, shown {figures['shown']}: "
                  f"{figures['wall']:.2f} s ({figures['seconds']}), report.html {figures['html_mb']:.1f} MB; "
                  f"unchanged, again: {figures['again']:.2f} s")
            started = time.perf_counter()
            with Store(big_dir) as big:
                copy_project(sample, big, args.copies)
                decided = review(big)
                print(f"built the synthetic project in {time.perf_counter() - started:.1f} s")
                figures = timed_report(big, codebook, big_dir / "out", skip)
                print(f"synthetic project: {figures['segments']} segments, {decided} decisions, shown {figures['shown']}: "
                      f"{figures['wall']:.2f} s ({figures['seconds']}), report.html {figures['html_mb']:.1f} MB; "
                  f"unchanged, again: {figures['again']:.2f} s")


if __name__ == "__main__":
    main()
