"""What every command module shares: the error boundary, opening the project, shared options."""

from __future__ import annotations

import functools
import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.errors import PilahError
from pipeline.outputs import CONTROL_CHARACTERS

if TYPE_CHECKING:
    from pipeline.project import Project

console = Console(stderr=True, soft_wrap=True)  # progress, notes and errors (one line each); results go to stdout

F = TypeVar("F", bound=Callable)


def _visible(text: str) -> str:
    """``text`` with its control characters (``outputs.CONTROL_CHARACTERS``: C0 and C1 but
    tab and newline) written out as ``\\x1b``: rich passes ESC through, so a file, folder
    or code name holding one could move the cursor or retitle the terminal."""
    return CONTROL_CHARACTERS.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def literal(value) -> str:
    """``value`` as text for a rich console: printed as it reads, not as markup (a file
    named ``a[/]b.xlsx`` made rich raise), its control characters written as ``\\x1b``.

    >>> print(literal("a[/]b\\x1b[2J.xlsx"))
    a\\[/]b\\x1b[2J.xlsx
    """
    return escape(_visible(str(value)))


class VisibleFormatter(logging.Formatter):
    """Log lines with their control characters written out (``\\x1b``), as ``literal``
    does for the console: a warning that names a file carries the file's name as it is."""

    def format(self, record: logging.LogRecord) -> str:
        return _visible(super().format(record))


def fail(message: str) -> None:
    """Print one red line on stderr and exit with code 2."""
    console.print(f"[bold red]error:[/] {literal(message)}")  # "[ingest] …" is text, not markup
    raise typer.Exit(code=2)


def handle_errors(command: F) -> F:
    """Turn what bad input raises into one red line on stderr and exit code 2, no traceback.

    ``PilahError`` (a bad file, config, codebook, a damaged or newer store), ``OSError``
    (a file that cannot be read or written) and ``sqlite3.DatabaseError`` (a store damaged
    under a command) are bad input; anything else is a bug and keeps its traceback.
    """
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PilahError as exc:
            fail(str(exc))
        except sqlite3.DatabaseError as exc:
            fail(f"the project database cannot be read: {exc}")
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}")

    return wrapper  # type: ignore[return-value]


def open_project(project: Path | None, *, config: Path | None = None, codebook: Path | None = None,
                 names: Path | None = None, new_ok: bool = False) -> "Project":
    """The project of a command: ``--project DIR``, else the first ``pilah.toml`` from the
    current folder upwards; ``config``/``codebook``/``names`` override its own for this command."""
    from pipeline.project import Project  # imported when a command runs: `pilah --help` loads no pipeline

    project_obj = Project.open(project, config=config, codebook=codebook, names=names, new_ok=new_ok)
    changes = project_obj.codebook_changes() if project_obj.store_exists() else None
    if changes and any(changes.values()):
        console.print(f"[yellow]the codebook changed since the last run[/] ({escape(project_obj.codebook.source)}): "
                      + describe_changes(changes))
    return project_obj


def describe_changes(changes: dict[str, list]) -> str:
    """``added a, b; removed c; renamed d → e``."""
    parts = []
    if changes["added"]:
        parts.append("added " + ", ".join(changes["added"]))
    if changes["removed"]:
        parts.append("removed " + ", ".join(changes["removed"]))
    if changes["renamed"]:
        parts.append("renamed " + ", ".join(f"{a} → {b}" for a, b in changes["renamed"]))
    return "; ".join(parts)


# Options several commands share, defined once.
ProjectOption = Annotated[Optional[Path], typer.Option(
    "--project", help="The project folder (its pilah.toml and .pilah/); default: the first folder from here "
                      "upwards that holds a pilah.toml.")]
ConfigOption = Annotated[Optional[Path], typer.Option(
    "--config", help="A TOML file over the project's settings, for this command only.")]
CodebookOption = Annotated[Optional[Path], typer.Option(
    "--codebook", help="Codebook YAML for this command; default the project's.")]
PseudonymizeOption = Annotated[Optional[bool], typer.Option(
    "--pseudonymize/--no-pseudonymize",
    help="Replace persons, speakers, e-mails, phones, NIK and addresses in every file written by stable "
         "pseudonyms (Informan 1, Person A, [EMAIL-1]); the mapping stays in the project (`pilah privacy report`). "
         "Default: [privacy] pseudonymize.")]
NamesOption = Annotated[Optional[Path], typer.Option(
    "--names", help="With --pseudonymize: the project's names file (one person a line); "
                    "default [privacy] names (configs/names.txt).")]
TextColumnOption = Annotated[str, typer.Option("--text-column", help="The table's column holding the text.")]
CodesColumnOption = Annotated[str, typer.Option("--codes-column", help="The table's column holding the codes.")]
JsonFileOption = Annotated[Optional[Path], typer.Option("--json", help="Also write the figures to this JSON file.")]
JsonPrintOption = Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")]
