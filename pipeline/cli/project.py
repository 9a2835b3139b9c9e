"""`pilah init` and `pilah status`: make a folder a project, and see where it stands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import JsonPrintOption, ProjectOption, handle_errors, literal, open_project


def register(app: typer.Typer) -> None:
    app.command("init")(init_cli)
    app.command("status")(status_cli)


@handle_errors
def init_cli(
    folder: Annotated[Path, typer.Argument(help="The project folder to make (default: this one).")] = Path("."),
    corpus: Annotated[Optional[list[Path]], typer.Option(
        "--corpus", help="A folder (or file) of interviews and documents; repeat for several. Default: FOLDER/corpus.")] = None,
    codebook: Annotated[Optional[Path], typer.Option(
        "--codebook", help="The project's codebook (YAML). Default: a copy of the sample codebook in FOLDER, to edit.")] = None,
    config: Annotated[Optional[Path], typer.Option(
        "--config", help="A TOML file of settings over the defaults (configs/pilah.toml), copied into FOLDER/pilah.toml.")] = None,
) -> None:
    """Make FOLDER a Pilah project: a pilah.toml naming its corpus, codebook and settings.

    Every command run in FOLDER (or below it, or given --project FOLDER) then uses them,
    with no --config or --codebook to repeat. A folder holding a store made before projects
    had a pilah.toml keeps its store and gets the file."""
    from pipeline.project import Project

    with Project.init(folder, corpus or [], codebook, config) as project:
        out = Console()
        out.print(f"wrote {literal(project.settings_file)}")
        out.print(f"corpus: {', '.join(literal(str(p)) for p in project.corpus)}")
        out.print(f"codebook: {literal(project.codebook.source)} ({len(project.codebook.codable())} codes)")
        out.print(f"exports go to {literal(str(project.out_dir))}; next: [bold]cd {literal(str(folder))} && pilah run[/]")


@handle_errors
def status_cli(project: ProjectOption = None, json_out: JsonPrintOption = False) -> None:
    """The project at a glance: documents, segments, suggestions, decisions, and its runs with their failures."""
    from pipeline.reviewing import project_status

    with open_project(project) as opened:
        figures = project_status(opened)
        runs, path = opened.store.runs_frame(), opened.store.path
    if json_out:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(f"{literal(path)}: {figures['documents']} documents, {figures['segments']} segments, {figures['tokens']} tokens, "
              f"{figures['suggestions']} suggestions; {figures['decisions']} decisions ({figures['pending']} suggestions "
              f"pending, {figures['stale']} stale)")
    table = Table(title="Runs (newest first)")
    for column in ("run", "corpus", "started", "finished", "documents", "processed", "failures"):
        table.add_column(column)
    for row in runs.head(10).itertuples(index=False):
        summary = json.loads(row.summary) if row.summary else {}
        c = summary.get("counts", {})
        table.add_row(str(row.run), literal(row.corpus), row.started_at, row.finished_at or "[yellow]not finished",
                      str(c.get("documents", "")), str(c.get("documents_processed", "")), str(row.failures))
    out.print(table)
    for failure in figures["last_run"]["failures"] if figures["last_run"] else []:
        out.print(f"[yellow]failed[/] {literal(failure['path'])} ({failure['stage']}): {literal(failure['reason'])}")
