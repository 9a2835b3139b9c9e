"""Benchmark: the review workspace (`pilah serve`) on a 10,000-segment project.

A project of 500 interviews × 20 turns (10,000 segments, two suggestions on most turns:
about 18,000 suggestions, 2,000 of them already decided by a first reviewer) is written
through ``Store.save_document`` and ``Store.add_decisions``, as a run and a sheet import
would. The workspace is then started with `pilah serve` on 127.0.0.1,
and driven over HTTP from another process, as a browser would:

- **open the queue**: the workspace reads its queue from the store and the first page
  (the first pending suggestion in its context) is answered; target under 1 s;
- **a decision**: ``POST /decide`` answered with the next item, 300 decisions (accept,
  reject, edit, direction in turn); target under 100 ms each;
- an undo, a filter change, a document view and a span coding, for reference.

    python bench/serve.py        # figures printed and written to bench/results/serve.json
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from pipeline.project import Project
from pipeline.serve.workspace import Workspace
from pipeline.records import Document, Segment, Suggestion
from pipeline.segment import segment_ids
from pipeline.store import Decision, Store

DOCUMENTS, TURNS = 500, 20
DECISIONS = 300
PILAH = str(Path(sys.executable).with_name("pilah")) if Path(sys.executable).with_name("pilah").exists() else "pilah"
RESULTS = Path(__file__).resolve().parent / "results" / "serve.json"
CODES = ("training", "financing", "promotion", "digitalisation", "certification", "exchange", "hr_capacity",
         "funding", "regulation", "language_culture", "market_access", "coordination")
SENTENCES = ("Pelatihan dari dinas membantu kami memasarkan produk secara online.",
             "Anggaran daerah terbatas sehingga pendampingan berhenti di tengah jalan.",
             "The study visit gave us contacts and training in export rules.",
             "Izin edar dan sertifikasi halal memakan waktu berbulan-bulan.",
             "Pameran dagang di Hainan membuka pasar baru bagi UMKM kami.",
             "Koordinasi antar dinas masih lemah, tiap instansi punya programnya sendiri.")


def build(root: Path) -> dict:
    root.mkdir(parents=True)
    (root / "corpus").mkdir()
    codebook = Path(__file__).resolve().parents[1] / "configs" / "codebook.yaml"
    (root / "pilah.toml").write_text(f'[project]\ncorpus = ["corpus"]\n\n[suggest]\ncodebook = "{codebook.as_posix()}"\n'
                                     'encoder = "none"\n\n[review]\nreviewer = "bench"\n\n[report]\nlang = "id"\n',
                                     encoding="utf-8")
    started = time.perf_counter()
    suggestions = 0
    with Store(root) as store:
        run = store.start_run("corpus")
        with store.derived_writes():
            for d in range(DOCUMENTS):
                path = f"interviews/informan_{d:03d}.txt"
                text, spans = "", []
                for t in range(TURNS):
                    speaker = "Pewawancara" if t % 2 == 0 else f"Informan {d}"
                    said = f"{SENTENCES[(d + t) % len(SENTENCES)]} (giliran {t}, wawancara {d})"
                    start = len(text) + len(speaker) + 2
                    text += f"{speaker}: {said}\n"
                    spans.append((start, start + len(said), speaker))
                ids = segment_ids([path] * TURNS, [text[a:b] for a, b, _ in spans])
                segments = [Segment(i, path, n, a, b, text[a:b], s, None, "id", 0.9)
                            for n, (i, (a, b, s)) in enumerate(zip(ids, spans))]
                proposed = [Suggestion(s.id, CODES[(d + n + k) % len(CODES)], ("supporting", "constraining")[k],
                                       "", round(0.5 + 0.04 * ((n + k) % 12), 2), "rule", "pelatihan; anggaran")
                            for n, s in enumerate(segments) for k in range(2) if (n + k) % 10]
                suggestions += len(proposed)
                store.save_document(Document(path, path, "txt", "transcript", text, {"case": f"Kasus {d % 7}"}),
                                    segments, [12] * TURNS, proposed, "bench", run, None)
        store.finish_run(run, {})
        pending = store.suggestions_frame(pending=True, places=False).head(2000)
        store.add_decisions([Decision(r.segment_id, r.suggestion_id, "accept", r.code, r.direction, "first")
                             for r in pending.itertuples(index=False)])
        segments = store.document_counts(store.document_ids())["segments"]
    return {"documents": DOCUMENTS, "segments": segments, "suggestions": suggestions, "decided_before": 2000,
            "build_seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "project"
        figures = {"project": build(root)}
        with Project.open(root) as project:  # the workspace's read of the store, in this process
            started = time.perf_counter()
            workspace = Workspace(project.store, project.codebook, project.config, project.root, "bench", project.lang())
            load = time.perf_counter() - started
            queue_items = len(workspace.items)
        # `pilah serve` as a user starts it, in its own process (the browser is another one)
        started = time.perf_counter()
        server = subprocess.Popen([PILAH, "serve", "--project", str(root), "--no-browser"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            url = server.stdout.readline().strip()
            to_url = time.perf_counter() - started
            base, token = url.split("/?token=")
            with Client(base, token) as client:
                first, answer = timed(lambda: client.get(f"/?token={token}"), True)
                assert answer.status_code == 200 and 'id="item"' in answer.text
                page = timed(lambda: client.get("/"))
                times, index = [], int(answer.text.split('data-index="', 1)[1].split('"', 1)[0])
                actions = ({"action": "accept"}, {"action": "reject"},
                           {"action": "edit", "code": "coordination", "direction": "neutral"},
                           {"action": "direction", "direction": "neutral"})
                for n in range(DECISIONS):
                    t, answer = timed(lambda: client.post("/decide", data={"i": index, **actions[n % 4]}), True)
                    assert answer.status_code == 200 and "Not saved" not in answer.text, answer.text[:500]
                    times.append(t)
                    index = int(answer.text.split('data-index="', 1)[1].split('"', 1)[0])
                undo = [timed(lambda: client.post("/undo", data={"i": index})) for _ in range(20)]
                filtered = timed(lambda: client.get("/queue", params={"status": "pending", "code": "funding"},
                                                    headers={"HX-Request": "true"}))
                document = timed(lambda: client.get("/document", params={"id": "interviews/informan_042.txt"}))
                segment = workspace.items[-1]
                span = timed(lambda: client.post("/span", data={
                    "document_id": segment.document_id, "segment_id": segment.segment_id, "start": segment.start,
                    "end": segment.start + 9, "code": "training"}))
        finally:
            server.terminate()
            server.wait(10)
        with Store(root) as check:
            stored = len(check.decisions_frame(in_force=False)) - 2000
    times.sort()
    figures.update({
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "open_queue_seconds": round(load + first, 3),
        "open_queue_target_seconds": 1.0,
        "workspace_load_seconds": round(load, 3),
        "first_page_seconds": round(first, 3),
        "queue_items_at_open": queue_items,
        "process_start_to_url_seconds": round(to_url, 2),
        "first_page_again_ms": round(1000 * page, 1),
        "decision_ms": {"median": round(1000 * statistics.median(times), 1),
                        "p95": round(1000 * times[int(0.95 * len(times)) - 1], 1),
                        "max": round(1000 * times[-1], 1), "n": len(times), "target": 100},
        "undo_ms_median": round(1000 * statistics.median(undo), 1),
        "filter_ms": round(1000 * filtered, 1),
        "document_view_ms": round(1000 * document, 1),
        "span_coding_ms": round(1000 * span, 1),
        "decisions_stored": stored,
    })
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    project = figures["project"]
    print(f"project: {project['documents']} documents, {project['segments']} segments, {project['suggestions']} "
          f"suggestions ({project['decided_before']} decided before; built in {project['build_seconds']} s)")
    print(f"open the queue: {figures['open_queue_seconds']:.3f} s (target < 1 s): the workspace reads "
          f"{queue_items} items from the store in {load:.3f} s, the first page is answered in {first:.3f} s "
          f"(`pilah serve` printed its URL {to_url:.1f} s after it was started, Python's imports included)")
    d = figures["decision_ms"]
    print(f"a decision: median {d['median']} ms, p95 {d['p95']} ms, max {d['max']} ms over {d['n']} (target < 100 ms); "
          f"{figures['decisions_stored']} decision records stored")
    print(f"undo {figures['undo_ms_median']} ms, a filter {figures['filter_ms']} ms, a document "
          f"{figures['document_view_ms']} ms, a span coding {figures['span_coding_ms']} ms")
    print(f"wrote {RESULTS}")


class Client:
    """Requests over one kept-alive connection, each written in one piece, as a browser
    writes them. (Before the server's socket had TCP_NODELAY, a decision's small answer,
    written as headers then body, waited 40 ms for the client's delayed acknowledgement:
    72 ms a decision here, 28 ms since.)"""

    def __init__(self, base: str, token: str):
        place = urlsplit(base)
        self.connection = HTTPConnection(place.hostname, place.port, timeout=60)
        self.headers = {"X-Pilah-Token": token, "Origin": base}

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.connection.close()

    def get(self, path: str, params: dict | None = None, headers: dict | None = None) -> "Answer":
        return self._send("GET", path + ("?" + urlencode(params) if params else ""), None, headers)

    def post(self, path: str, data: dict) -> "Answer":
        return self._send("POST", path, urlencode(data).encode(),
                          {"Content-Type": "application/x-www-form-urlencoded"})

    def _send(self, method: str, path: str, body: bytes | None, headers: dict | None) -> "Answer":
        self.connection.request(method, path, body=body, headers={**self.headers, **(headers or {})})
        response = self.connection.getresponse()
        return Answer(response.status, response.read().decode("utf-8"))


class Answer:
    def __init__(self, status_code: int, text: str):
        self.status_code, self.text = status_code, text


def timed(call, with_answer: bool = False):
    started = time.perf_counter()
    answer = call()
    elapsed = time.perf_counter() - started
    return (elapsed, answer) if with_answer else elapsed


if __name__ == "__main__":
    main()
