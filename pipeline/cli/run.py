"""`pilah run`: process the project's corpus and write the review sheets and the report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from pipeline.cli.common import (CodebookOption, ConfigOption, NamesOption, ProjectOption, PseudonymizeOption,
                                 console, handle_errors, literal, open_project)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cli)


@handle_errors
def run_cli(
    corpus: Annotated[Optional[Path], typer.Argument(
        help="Folder (or file) of interviews and documents; default the project's corpus (pilah.toml).")] = None,
    project: ProjectOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where the review exports and run.json go; default the project's out/.")] = None,
    config: ConfigOption = None,
    codebook: CodebookOption = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for the per-document stages (0: one per CPU).")] = 0,
    engine: Annotated[Literal["local", "dask"], typer.Option("--engine", help="local (this machine) or dask (a Dask cluster).")] = "local",
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="With --engine dask: the scheduler's address (tcp://host:8786); default a local cluster.")] = None,
    pseudonymize: PseudonymizeOption = None,
    names: NamesOption = None,
    read_all: Annotated[bool, typer.Option("--read-all", help="Read every file again, also those whose size and times show them unchanged since they were stored.")] = False,
) -> None:
    """Ingest, segment, tokenize and suggest codes for the project's corpus; write the review sheets and the report.

    In a project (`pilah init`) no argument is needed: the corpus, codebook and settings are
    its own. Decisions typed into OUT/suggestions.xlsx (or .csv) that the project does not hold
    yet are imported first, so a re-run never loses review work."""
    from pipeline.run import run

    with open_project(project, config=config, codebook=codebook, names=names, new_ok=corpus is not None) as opened:
        files = sum(count_files(folder) for folder in ([corpus] if corpus is not None else opened.corpus))
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("Reading documents", total=files or None)
            started = time.perf_counter()

            def advance(path: str) -> None:
                done = progress.tasks[0].completed + 1
                rate = done / max(time.perf_counter() - started, 1e-9)
                progress.update(task, advance=1, description=f"[cyan]{literal(path)}[/] {rate:.1f} documents/s")

            summary = run(opened, corpus, out, on_document=advance, workers=workers or None, engine=engine,
                          scheduler=scheduler, pseudonymize=pseudonymize, read_all=read_all)
    print_summary(summary)


def count_files(corpus: Path) -> int:
    """About how many documents a corpus holds (sizes the progress bar only)."""
    from pipeline.ingest import SUPPORTED_SUFFIXES

    if corpus.is_file():
        return 1
    manifest = corpus / "manifest.csv"
    if manifest.exists():  # ingest reports a bad manifest
        return max(manifest.read_bytes().count(b"\n") - 1, 0)
    return sum(1 for p in corpus.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES) if corpus.exists() else 0


def without_model(encoder: str | None) -> str:
    """What suggests when no trained model does: the codebook's keyword rules, and with a
    sentence encoder the codebook read by meaning (definitions, examples) too."""
    if encoder:
        return (f"suggested by the codebook: its keyword rules, and its definitions and examples by meaning "
                f"(sentence encoder {encoder}); `pilah retrain` after a review trains a model")
    return ("suggested by the codebook's keyword rules only (no sentence encoder); `pilah retrain` after a review "
            "trains a model")


def print_summary(summary: dict) -> None:
    counts = summary["counts"]
    out = Console()
    table = Table(title="Pilah run", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    unread = f", {counts['documents_unread']} of them not read again" if counts.get("documents_unread") else ""
    table.add_row("documents", f"{counts['documents']} ({counts['documents_processed']} processed, "
                               f"{counts['documents_unchanged']} unchanged{unread})")
    table.add_row("segments", str(counts["segments"]))
    table.add_row("tokens", str(counts["tokens"]))
    table.add_row("suggestions", str(counts["suggestions"]))
    table.add_row("failures", str(counts["failures"]))
    table.add_row("model", summary["model"]["version"] if summary["model"] else "none yet: the codebook suggests")
    table.add_row("seconds", f"{summary['seconds']['total']:.1f}")
    out.print(table)
    if summary.get("model_note"):
        out.print(f"[yellow]{literal(summary['model_note'])}[/]")
    elif not summary["model"]:
        out.print(literal(without_model(summary.get("encoder"))))
    for report in summary.get("imported_decisions", []):
        if report["added"]:
            out.print(f"[green]imported {report['added']} decision(s)[/] from {literal(report['path'])} before rewriting it")
    for path in summary.get("sheets_kept_beside", []):  # a sheet saved while the run worked is never overwritten
        out.print(f"[yellow]a sheet was saved while this run worked[/]: it is kept as it was, and the new one is "
                  f"{literal(str(path))}; `pilah run` imports the saved one next time")
    if counts.get("carried_decisions"):
        out.print(f"[yellow]{counts['carried_decisions']} decision(s) carried[/] to a segment whose text a small edit "
                  "changed (source 'carried' on the sheet, `pilah review status`): check them")
    if counts.get("stale_decisions"):
        out.print(f"[yellow]{counts['stale_decisions']} decision(s) are stale[/]: their segment's text changed since "
                  "(listed on the sheet's 'Stale decisions' tab)")
    for failure in summary["failures"]:
        out.print(f"[yellow]failed[/] {literal(failure['path'])} ({failure['stage']}): {literal(failure['reason'])}")
    if summary.get("exports_unchanged"):
        out.print("nothing changed since the last run: the sheets and the report are as they were "
                  f"({', '.join(Path(p).name for p in summary['outputs'])})")
    else:
        for path in summary["outputs"]:
            out.print(f"wrote {literal(path)}")
    out.print(f"wrote {literal(Path(summary['outputs'][0]).parent / 'run.json')}" if summary["outputs"] else "")
