"""`pilah review …` (import, status, export, next) and `pilah agreement`: the analysts' review."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import (ConfigOption, JsonFileOption, JsonPrintOption, NamesOption, ProjectOption,
                                 PseudonymizeOption, fail, handle_errors, literal, open_project)

review_app = typer.Typer(help="The analyst's review: import decisions, see where the review stands, export sheets.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
    app.command("agreement")(agreement_cli)


@review_app.command("import")
@handle_errors
def review_import_cli(
    file: Annotated[Path, typer.Argument(help="Reviewed sheet (.xlsx or .csv) written by Pilah.")],
    reviewer: Annotated[Optional[str], typer.Option(
        "--reviewer", help="Every decision of the sheet is this reviewer's (a second coder's, even where it "
                           "matches another's); rows naming another reviewer keep theirs.")] = None,
    project: ProjectOption = None,
    config: ConfigOption = None,
) -> None:
    """Append the accept / reject / edit / add decisions of a reviewed sheet to the project.

    Bad rows are reported by row number and reason and skipped; importing a sheet twice adds nothing.
    A sheet written by `pilah review export --reviewer NAME` imports as NAME's without --reviewer."""
    from pipeline.reviewing import import_decisions

    started = time.perf_counter()
    with open_project(project, config=config) as opened:
        report = import_decisions(opened, file, reviewer)
    out = Console()
    out.print(f"{literal(file)}: {report.rows} rows — {report.added} decisions added, {report.unchanged} already in the project, "
              f"{report.pending} undecided, {len(report.problems)} skipped ({time.perf_counter() - started:.1f} s)")
    if report.stale:
        out.print(f"[yellow]{report.stale} decision(s) are on segments whose text has changed since (stale)")
    for row, reason in report.problems:
        out.print(f"[yellow]row {row}[/]: {literal(reason)}")


@review_app.command("status")
@handle_errors
def review_status_cli(project: ProjectOption = None, json_out: JsonPrintOption = False) -> None:
    """Per code and per reviewer: suggested, accepted, rejected, edited, added, pending, stale."""
    from pipeline.reviewing import status

    with open_project(project) as opened:
        figures = status(opened)
    if json_out:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    kinds = ("suggested", "accepted", "rejected", "edited", "added", "pending", "stale", "carried")
    for title, rows, columns in (("Review by code", figures["per_code"], kinds),
                                 ("Review by reviewer", figures["per_reviewer"], kinds[1:5] + ("stale", "carried"))):
        table = Table(title=title, box=box.SIMPLE_HEAD, padding=0, show_edge=False)  # nine columns in 80 characters
        # code ids and reviewers in full (they are what a user types next); the figures' headings fold
        table.add_column("code" if title.endswith("code") else "reviewer", no_wrap=True)
        for column in columns:
            table.add_column(column, justify="right", overflow="fold")
        for name, counts in rows.items():
            table.add_row(literal(name), *(str(counts[c]) for c in columns))
        Console().print(table)
    Console().print(f"{figures['decisions']} decisions in force ({figures['decision_records']} recorded), "
                    f"{figures['codings']} codings, {figures['pending']} suggestions pending, {figures['stale']} stale, "
                    f"{figures['carried']} carried to a segment's edited text (a small edit: check them)")


@review_app.command("export")
@handle_errors
def review_export_cli(
    out: Annotated[Optional[Path], typer.Option("--out", help="The sheet to write (.xlsx or .csv); default the project's out/review.xlsx.")] = None,
    reviewer: Annotated[Optional[str], typer.Option(
        "--reviewer", help="A blind sheet for this reviewer: only their decisions pre-filled, their name in every "
                           "row, so that `pilah review import` records the sheet as theirs.")] = None,
    project: ProjectOption = None,
    config: ConfigOption = None,
    pseudonymize: PseudonymizeOption = None,
    names: NamesOption = None,
) -> None:
    """Write the review sheet of the whole project, decisions in force pre-filled."""
    from pipeline.reviewing import export_sheet

    with open_project(project, config=config, names=names) as opened:
        written, frame, stale = export_sheet(opened, out or opened.out_dir / "review.xlsx", reviewer, pseudonymize)
    Console().print(f"wrote {literal(written)}: {len(frame)} rows, "
                    f"{int((frame['decision'] != '').sum())} pre-filled, {len(stale)} stale decisions")


@review_app.command("next")
@handle_errors
def review_next_cli(
    n: Annotated[int, typer.Option("--n", min=1, help="How many segments.")] = 50,
    out: Annotated[Optional[Path], typer.Option("--out", help="The sheet to write (.xlsx or .csv); default the project's out/review_next.xlsx.")] = None,
    project: ProjectOption = None,
    config: ConfigOption = None,
    pseudonymize: PseudonymizeOption = None,
    names: NamesOption = None,
) -> None:
    """The unreviewed segments whose review would teach the model most, as a review sheet."""
    from pipeline.retrain import next_sheet

    with open_project(project, config=config, names=names) as opened:
        written, segments, rows = next_sheet(opened, out or opened.out_dir / "review_next.xlsx", n, pseudonymize)
    Console().print(f"wrote {literal(written)}: {segments} segments, {rows} rows")


@handle_errors
def agreement_cli(
    coders: Annotated[Optional[str], typer.Option("--coders", help="Coders to compare, e.g. A,B (default: all).")] = None,
    project: ProjectOption = None,
    json_out: JsonFileOption = None,
) -> None:
    """Per code: Cohen's kappa between coders and between the model and each coder,
    Krippendorff's alpha over all coders, percent agreement; direction separately; which
    codes are ready for bulk suggestion (docs/agreement.md)."""
    from pipeline.agreement import agreement

    with open_project(project) as opened:
        figures = agreement(opened, [c.strip() for c in coders.split(",")] if coders else None)
    if figures["unknown_coders"]:
        fail(f"--coders: no decisions by {', '.join(figures['unknown_coders'])} in this project")
    pairs = [f"{a}|{b}" for i, a in enumerate(figures["coders"]) for b in figures["coders"][i + 1:]]
    table = Table(title=f"Agreement ({figures['unit']})")
    table.add_column("code")
    for pair in pairs:
        table.add_column(f"κ {literal(pair.replace('|', '–'))}", justify="right")
    table.add_column("α", justify="right")
    for coder in figures["coders"]:
        table.add_column(f"κ model–{literal(coder)}", justify="right")
    table.add_column("direction % (pairs)", justify="right")
    table.add_column("ready", justify="center")
    show = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    for code, e in figures["per_code"].items():
        directions = [d["percent"] for d in e["direction"].values() if d["percent"] is not None]
        table.add_row(literal(code), *(show(e["pairs"][p]["kappa"]) for p in pairs), show(e["alpha"]),
                      *(show(e["model"][c]["kappa"]) for c in figures["coders"]),
                      show(float(sum(directions) / len(directions))) if directions else "—",
                      "yes" if e["ready"] else "[yellow]not ready")
    Console().print(table)
    Console().print(f"segments reviewed: {figures['segments_reviewed']}; codes below κ {figures['ready_kappa']} "
                    f"(model against the coders) are not ready for bulk suggestion: {', '.join(figures['not_ready']) or 'none'}")
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
