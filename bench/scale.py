"""Benchmark: `pilah run` at scale against bare spaCy tokenization (issue 14).

    python bench/scale.py [--sizes 1000,10000] [--subset 200] [--keep DIR] [--json OUT]

Generates corpora of ``--sizes`` documents (see ``make_corpus``), then prints, in one run:

* ``pilah run`` on each corpus in one process (``--workers 1``, fast backend): documents/s
  and words/s of the processing (ingest → suggestions in the store: ``seconds.processing``
  of ``run.json`` less ``seconds.load``, the loading of the pipelines and the language
  detector, as bare spaCy's loading is left out of its time), the whole command's wall
  time (start-up and exports included), the
  driver's peak RSS, and the re-run of the unchanged corpus;
* bare ``spacy.blank("id")`` tokenization of the same text (every document's text through
  ``nlp.pipe``): words/s, and the ratio of the two, per wall second and per CPU second
  (``seconds.processing_cpu`` less ``seconds.load_cpu``: on a shared machine, time the
  process waits for a core counts in the first ratio only);
* on the largest corpus, 2 worker processes against the 1 process above;
* on the first ``--subset`` documents: 1 against 2 worker processes, and the local engine
  against Dask (a LocalCluster of two worker processes); on the first ``--stanza-subset``
  documents the fast backend against the Stanza backend.

Words are the tokens bare spaCy finds in the documents' text, so both rates count the same
words. Every ``pilah run`` is a fresh process (``python -m pipeline.cli run``); its peak RSS
is read from ``wait4`` (the driver's: forked workers are not counted).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "corpus"
DATA = ROOT.parent / "shared" / "data"
TRANSCRIPT_SHARE = 0.1


def shared_sentences() -> dict[str, list[str]]:
    """Short texts from the shared data sets, by language: reviews (HoASA, CASA, NusaX) and
    survey answers (NaPiRE). Empty lists when ``../shared`` is absent."""
    sentences: dict[str, list[str]] = {"id": [], "en": []}
    sources = [
        ("id", DATA / "indonlu_hoasa" / "train_preprocess.csv", "review"),
        ("id", DATA / "indonlu_casa" / "train_preprocess.csv", "sentence"),
        ("id", DATA / "nusax_senti" / "indonesian" / "train.csv", "text"),
        ("en", DATA / "nusax_senti" / "english" / "train.csv", "text"),
        ("en", DATA / "napire2018" / "table.csv", "text"),
    ]
    for lang, path, column in sources:
        if path.exists():
            with path.open(encoding="utf-8", newline="") as handle:
                sentences[lang] += [row[column].strip() for row in csv.DictReader(handle) if len(row[column]) > 20]
    return sentences


def sample_turns() -> list[tuple[str, str, str]]:
    """The speaker turns of the sample corpus's plain-text interviews: (time and speaker,
    words, language of the interview)."""
    turns = []
    for path in sorted((SAMPLE / "interviews").glob("*.txt")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        words = " ".join(lines).split()
        lang = "en" if words.count("the") > words.count("yang") else "id"
        turns += [(*line.split(": ", 1), lang) for line in lines if ": " in line]
    return turns


def make_corpus(folder: Path, documents: int, seed: int = 0) -> int:
    """Write ``documents`` text files to ``folder``; returns their total characters.

    A tenth are interview transcripts: 10–25 turns drawn from the sample corpus's
    interviews, in a seeded order, with shared-data sentences as further answers. The rest
    are short news items and reports of 6–24 sentences from the shared data sets (or from
    the sample turns when ``../shared`` is absent), in paragraphs of up to four. Every file
    opens with a numbered title. No segment (turn or paragraph) is written twice in a
    corpus: a sample turn gets a drawn sentence of its language added, and any turn or
    paragraph already written gets more until it is new. Repeated texts would flatter a
    cache rather than measure the pipeline.
    """
    rng = np.random.default_rng(seed)
    turns, sentences = sample_turns(), shared_sentences()
    pool = {lang: items or [words for _, words, _ in turns] for lang, items in sentences.items()}
    written: set[str] = set()

    def new(text: str, lang: str) -> str:
        while text in written:
            text += " " + pool[lang][rng.integers(len(pool[lang]))]
        written.add(text)
        return text

    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for n in range(documents):
        if rng.random() < TRANSCRIPT_SHARE:
            picked = [f"{who}: {new(words + ' ' + pool[lang][rng.integers(len(pool[lang]))], lang)}"
                      for who, words, lang in (turns[i] for i in rng.choice(len(turns), rng.integers(10, 26), replace=False))]
            extra = [f"[00:{m // 60:02d}:{m % 60:02d}] Informan: {new(pool['id'][i], 'id')}"
                     for m, i in enumerate(rng.choice(len(pool["id"]), 5, replace=False))]
            text = f"Transkrip wawancara {n}\n\n" + "\n\n".join(picked + extra)
        else:
            lang = "en" if rng.random() < 0.3 else "id"
            body = [pool[lang][i] for i in rng.choice(len(pool[lang]), rng.integers(6, 25), replace=False)]
            paragraphs = [new(" ".join(body[i:i + 4]), lang) for i in range(0, len(body), 4)]
            text = (f"Laporan {n}" if lang == "id" else f"Report {n}") + "\n\n" + "\n\n".join(paragraphs)
        (folder / f"doc{n:05d}.txt").write_text(text + "\n", encoding="utf-8")
        total += len(text)
    return total


def bare_spacy(folder: Path) -> tuple[int, float, float]:
    """Tokens bare ``spacy.blank("id")`` finds in every file of ``folder``, and the wall and
    CPU seconds it takes (reading the files included, loading spaCy not)."""
    import spacy

    nlp = spacy.blank("id")
    nlp("warm up")
    started, cpu = time.perf_counter(), time.process_time()
    texts = (path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt")))
    words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=64))
    return words, time.perf_counter() - started, time.process_time() - cpu


def pilah_run(corpus: Path, project: Path, *options: str) -> dict:
    """One ``pilah run`` in a fresh process: wall seconds, peak RSS (MB) and its summary."""
    out = project / "out"
    command = [sys.executable, "-m", "pipeline.cli", "run", str(corpus), "--project", str(project),
               "--out", str(out), *options]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pilah run failed:\n{stderr[-3000:]}")
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "summary": summary}


def subset(corpus: Path, folder: Path, documents: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(corpus.glob("*.txt"))[:documents]:
        shutil.copy(path, folder / path.name)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="corpus sizes in documents ('' for none)")
    parser.add_argument("--subset", type=int, default=200, help="documents for workers and Dask")
    parser.add_argument("--stanza-subset", type=int, default=50, help="documents for the Stanza backend")
    parser.add_argument("--keep", type=Path, help="generate the corpora here and keep them")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: workers,dask,stanza")
    parser.add_argument("--json", type=Path, help="write every figure here too")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    work = args.keep or Path(tempfile.mkdtemp(prefix="pilah-scale-"))
    rows, results = [], {}

    def report(label: str, documents: int, words: int, measured: dict, base: tuple[float, float] | None = None) -> dict:
        """``base``: bare spaCy's words per wall and per CPU second on the same text."""
        summary = measured["summary"]
        seconds = summary["seconds"]
        processing = (seconds.get("processing") or measured["wall_s"]) - seconds.get("load", 0.0)
        cpu = seconds.get("processing_cpu", 0.0) - seconds.get("load_cpu", 0.0)
        rate = words / processing
        row = {"run": label, "documents": documents, "wall_s": round(measured["wall_s"], 1),
               "processing_s": round(processing, 1), "processing_cpu_s": round(cpu, 1),
               "documents_per_s": round(documents / processing, 1),
               "words_per_s": round(rate), "share_of_bare_spacy": round(rate / base[0], 3) if base else None,
               "share_of_bare_spacy_cpu": round(words / cpu / base[1], 3) if base and cpu > 0 else None,
               "peak_rss_mb": round(measured["peak_rss_mb"]),
               "processed": summary["counts"]["documents_processed"], "failures": summary["counts"]["failures"],
               "seconds": summary["seconds"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
        return row

    sizes = [int(s) for s in args.sizes.split(",") if s]
    largest = max(sizes, default=0)
    for size in sizes:
        corpus = work / f"corpus{size}"
        if not corpus.exists():
            make_corpus(corpus, size)
        # bare spaCy just before and just after Pilah's run, their mean the base: this
        # machine's speed drifts by a fifth and more within minutes
        words, *before = bare_spacy(corpus)
        project = work / f"project{size}"
        shutil.rmtree(project, ignore_errors=True)
        first = pilah_run(corpus, project, "--workers", "1")
        _, *after = bare_spacy(corpus)
        bare_seconds, bare_cpu = ((b + a) / 2 for b, a in zip(before, after))
        base = (words / bare_seconds, words / bare_cpu)
        results[size] = {"words": words, "bare_spacy_words_per_s": round(base[0]),
                         "bare_spacy_words_per_cpu_s": round(base[1])}
        print(json.dumps({"run": "bare spacy.blank('id')", "documents": size, "words": words,
                          "wall_s": round(bare_seconds, 1), "cpu_s": round(bare_cpu, 1),
                          "before_after_wall_s": [round(before[0], 1), round(after[0], 1)],
                          "words_per_s": round(base[0]), "words_per_cpu_s": round(base[1])}), flush=True)
        single = report(f"pilah run, 1 process, {size}", size, words, first, base)
        if size == largest and "workers" not in skip:
            # 2 workers on the same corpus right after: each process fills its own caches of
            # words, which weighs less the more documents there are
            both = project.with_name(f"project{size}-2-workers")
            shutil.rmtree(both, ignore_errors=True)
            two = report(f"pilah run, 2 workers, {size}", size, words, pilah_run(corpus, both, "--workers", "2"))
            results[size]["two_workers_speed_up"] = round(single["processing_s"] / two["processing_s"], 2)
            print(json.dumps({f"2 workers / 1 worker, processing, {size}": results[size]["two_workers_speed_up"]}),
                  flush=True)
        again = pilah_run(corpus, project, "--workers", "1")
        report(f"re-run unchanged, {size}", size, words, again)
        results[size]["rerun_share"] = round(again["wall_s"] / first["wall_s"], 3)
        print(json.dumps({"re-run / first run": results[size]["rerun_share"]}), flush=True)

    source = work / "corpus1000"
    if not source.exists():
        make_corpus(source, 1000)
    small = subset(source, work / "subset", args.subset)
    small_words = bare_spacy(small)[0]
    variants = [("1 worker", ["--workers", "1"]), ("2 workers", ["--workers", "2"])] if "workers" not in skip else []
    if "dask" not in skip:
        variants.append(("dask, 2 workers", ["--engine", "dask", "--workers", "2"]))
    measured = {}
    for label, options in variants:
        project = work / f"project-{label.replace(' ', '-').replace(',', '')}"
        shutil.rmtree(project, ignore_errors=True)
        measured[label] = report(f"{label}, {args.subset}", args.subset, small_words, pilah_run(small, project, *options))
    if "stanza" not in skip:
        smaller = subset(source, work / "stanza-subset", args.stanza_subset)
        words = bare_spacy(smaller)[0]
        for label, options in (("fast backend", []), ("stanza backend", ["--config", str(ROOT / "bench" / "stanza.toml")])):
            project = work / f"project-{label.replace(' ', '-')}"
            shutil.rmtree(project, ignore_errors=True)
            report(f"{label}, {args.stanza_subset}", args.stanza_subset, words,
                   pilah_run(smaller, project, "--workers", "1", *options))
    if {"1 worker", "2 workers"} <= set(measured):
        print(json.dumps({"2 workers / 1 worker, processing": round(
            measured["1 worker"]["processing_s"] / measured["2 workers"]["processing_s"], 2)}))

    if len(results) > 1:
        sizes = sorted(results)
        peak = {row["documents"]: row["peak_rss_mb"] for row in rows if row["run"].startswith("pilah run, 1")}
        print(json.dumps({"peak RSS growth": round(peak[sizes[-1]] / peak[sizes[0]], 2),
                          "from": sizes[0], "to": sizes[-1]}))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "corpora": results}, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
