"""`pilah init`: make a folder a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.cli.common import handle_errors
from pipeline.project import Project


def register(app: typer.Typer) -> None:
    app.command("init")(init_cli)


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
    with Project.init(folder, corpus or [], codebook, config) as project:
        out = Console()
        out.print(f"wrote {project.settings_file}")
        out.print(f"corpus: {', '.join(escape(str(p)) for p in project.corpus)}")
        out.print(f"codebook: {escape(project.codebook.source)} ({len(project.codebook.codable())} codes)")
        out.print(f"exports go to {escape(str(project.out_dir))}; next: [bold]cd {escape(str(folder))} && pilah run[/]")
