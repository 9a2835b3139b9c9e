"""Benchmark: how long the conclusion displays, queries and the Word document take.

1. The sample corpus: `pilah run` into a fresh project (stand-in encoder), its gold coding
   imported as accepted codings, a case table of its four cases; then the evidence, the
   displays, three queries, the report's section and the docx, timed.
2. A project of about 10,000 segments: the sample project copied COPIES times through the
   Store API (``bench/report_build.py``: each copy its own actors, one of five waves per
   case), the suggestions scoring at least 0.8 accepted; the same, timed.

    python bench/conclude.py [--copies 21]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

from pipeline.config import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))
QUERIES = ("factor=funding direction=constraining sektor=food", "code=training,hr_capacity status=accepted",
           "direction=penghambat source=document text~anggaran")


def _report_build():
    spec = importlib.util.spec_from_file_location("report_build", Path(__file__).parent / "report_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(store, codebook, out: Path) -> dict:
    from pipeline.conclude.cases import load_case_table
    from pipeline.conclude.displays import build_conclusions
    from pipeline.conclude.docx import write_docx
    from pipeline.conclude.evidence import evidence_frame
    from pipeline.conclude.query import run_query
    from pipeline.conclude.render import html_section
    from pipeline.report.labels import Labels

    figures, started = {}, time.perf_counter()
    cases = load_case_table(out.parent, "", store)
    evidence = evidence_frame(store, codebook, cases, ("accepted", "pending"))
    figures["evidence_s"] = time.perf_counter() - started
    accepted = evidence[evidence["status"] == "accepted"]
    accepted.attrs.update(evidence.attrs, statuses=("accepted",))
    started = time.perf_counter()
    conclusions = build_conclusions(accepted, codebook, "sektor")
    figures["displays_s"] = time.perf_counter() - started
    started = time.perf_counter()
    found = [run_query(evidence, q, codebook).counts["codings"] for q in QUERIES]
    figures["queries_s"] = (time.perf_counter() - started) / len(QUERIES)
    labels = Labels("id", codebook)
    started = time.perf_counter()
    html_section(conclusions, labels)
    figures["html_s"] = time.perf_counter() - started
    started = time.perf_counter()
    write_docx(conclusions, labels, out / "report.docx", "bench")
    figures["docx_s"] = time.perf_counter() - started
    figures.update(units=len(evidence), accepted=len(accepted), found=found,
                   docx_kb=(out / "report.docx").stat().st_size / 1e3)
    return figures


def show(name: str, figures: dict) -> None:
    print(f"{name}: {figures['units']} units ({figures['accepted']} accepted): evidence {figures['evidence_s']:.2f} s, "
          f"displays {figures['displays_s']:.2f} s, a query {figures['queries_s']:.3f} s (found {figures['found']}), "
          f"report section {figures['html_s']:.2f} s, docx {figures['docx_s']:.2f} s ({figures['docx_kb']:.0f} kB)")


def main() -> None:
    from pipeline.project import Project
    from pipeline.store import Store
    from tests.conclude_helpers import make_project, write_cases

    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=21, help="copies of the sample corpus (21 ≈ 10,000 segments)")
    args = parser.parse_args()
    build = _report_build()
    with tempfile.TemporaryDirectory() as tmp:
        sample_dir, big_dir = make_project(Path(tmp) / "sample"), Path(tmp) / "big"
        (sample_dir / "out").mkdir(exist_ok=True)
        with Project.open(sample_dir) as project:
            show("sample corpus", timed(project.store, project.codebook, sample_dir / "out"))
            codebook = project.codebook
            started = time.perf_counter()
            with Store(big_dir) as big:
                build.copy_project(project.store, big, args.copies)
                build.review(big)
                cases = write_cases(big_dir / "cases.csv")
                # each copy's cases are "<case> · wave k": give every wave the sample's attributes
                rows = cases.read_text(encoding="utf-8").splitlines()
                waves = [rows[0]] + [f"{r.split(',', 1)[0]} · wave {k},{r.split(',', 1)[1]}"
                                     for r in rows[1:5] for k in range(5)] + rows[5:]
                cases.write_text("\n".join(waves) + "\n", encoding="utf-8")
                (big_dir / "out").mkdir(exist_ok=True)
                print(f"built the synthetic project in {time.perf_counter() - started:.1f} s")
                show(f"synthetic project ({args.copies} copies)", timed(big, codebook, big_dir / "out"))


if __name__ == "__main__":
    main()
