"""`pilah export` and `pilah import` (REFI-QDA: NVivo, ATLAS.ti, MAXQDA, QualCoder) and
`pilah privacy report` (what pseudonymised exports replace)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import (CodebookOption, ConfigOption, JsonFileOption, JsonPrintOption, NamesOption,
                                 ProjectOption, PseudonymizeOption, console, handle_errors, literal, open_project)

privacy_app = typer.Typer(help="What pseudonymised exports replace (for the researcher's eyes only).",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("export")(export_cli)
    app.command("import")(import_cli)
    app.add_typer(privacy_app, name="privacy")


@handle_errors
def export_cli(
    format: Annotated[Literal["qdpx", "qdc"], typer.Option("--format", help="qdpx: the project (sources, codebook, users, codings); qdc: the codebook alone.")] = "qdpx",
    out: Annotated[Optional[Path], typer.Option("--out", help="File to write; default the project's out/project.qdpx or out/codebook.qdc.")] = None,
    project: ProjectOption = None,
    with_suggestions: Annotated[bool, typer.Option("--with-suggestions", help="Add the pending suggestions as codings of the user 'Pilah suggestions' (score, direction, evidence in their description).")] = False,
    codebook: CodebookOption = None,
    config: ConfigOption = None,
    pseudonymize: PseudonymizeOption = None,
    names: NamesOption = None,
) -> None:
    """Write a REFI-QDA file for NVivo, ATLAS.ti, MAXQDA or QualCoder: the project (.qdpx) or its codebook (.qdc)."""
    from pipeline.exchange import export

    with open_project(project, config=config, codebook=codebook, names=names, new_ok=format == "qdc") as opened:
        if format == "qdpx" and opened.store_exists():
            _read_case_table(opened)
        report, target = export(opened, format, out, with_suggestions, pseudonymize)
    if format == "qdc":
        Console().print(f"wrote {literal(target)}: {report['codes']} codes (with direction child codes)")
        return
    Console().print(f"wrote {literal(target)}: {report['sources']} sources, {report['codes']} codes, {len(report['users'])} users, "
                    f"{report['codings']} codings" + (f", {report['suggestions']} pending suggestions" if with_suggestions else ""))
    if report["outside_codebook"]:
        Console().print(f"[yellow]{len(report['outside_codebook'])} code(s) of the project's codings are not in its "
                        f"codebook[/] ({literal(', '.join(report['outside_codebook'][:10]))}): exported as codes of their own")
    if report["skipped"]:
        Console().print(f"[yellow]{len(report['skipped'])} coding(s) not exported[/]: their document's text changed since")


def _read_case_table(opened) -> None:
    """Read the project's case table (its cases and their variables go into the qdpx), or
    say in one line why not and export without it."""
    from pipeline.conclude import project_cases
    from pipeline.errors import InputError

    try:
        project_cases(opened)
    except InputError as exc:
        console.print(f"[yellow]the case table is left out[/]: {literal(str(exc))}")


@handle_errors
def import_cli(
    file: Annotated[Path, typer.Argument(help="A REFI-QDA project (.qdpx) or codebook (.qdc) from NVivo, ATLAS.ti, MAXQDA, QualCoder or Pilah.")],
    project: ProjectOption = None,
    codebook: Annotated[Optional[Path], typer.Option("--codebook", help="Codebook YAML to merge into; default the project's.")] = None,
    config: ConfigOption = None,
    suggest: Annotated[bool, typer.Option("--suggest/--no-suggest", help="Tokenize new sources and suggest codes for them (as `pilah run` does).")] = True,
    json_out: JsonFileOption = None,
) -> None:
    """Bring sources, codes, users and codings of another tool's project into this one.

    Codes merge into the project's codebook (written to PROJECT/codebook.yaml, which its
    pilah.toml then names; conflicts are reported, nothing is renamed silently); each thing
    not imported is listed with its reason."""
    from pipeline.exchange import import_refi

    started = time.perf_counter()
    with open_project(project, config=config, codebook=codebook, new_ok=True) as opened, \
            console.status(f"Importing {file.name}…"):
        report = import_refi(opened, file, suggest)
    figures = report.as_dict()
    out = Console()
    codes = figures["codes"]
    out.print(f"{literal(file)}: {len(report.sources)} sources imported ({len(report.documents_unchanged)} already in the project), "
              f"{len(codes['added'])} codes added ({codes['matched']} already known), {len(report.users)} users, "
              f"{report.codings['added']} codings added ({report.codings['already in the project']} already in the project: "
              f"{report.codings['segment']} on one segment, {report.codings['several segments']} on several, "
              f"{report.codings['span only']} on part of a segment only) in {time.perf_counter() - started:.1f} s")
    if report.documents_changed:
        out.print(f"[yellow]{len(report.documents_changed)} document(s) had another text in the project[/] "
                  f"({', '.join(report.documents_changed[:5])}): stored as a new version; decisions on segments whose "
                  "text changed are now stale")
    for renamed in codes["renamed"]:  # {"name": as in the file, "id": the project's id}
        out.print(f"[yellow]renamed[/] code {literal(repr(renamed['name']))} → id {literal(repr(renamed['id']))} "
                  "(its name is kept for the next export)")
    for conflict in codes["conflicts"]:
        out.print(f"[yellow]conflict[/] {literal(conflict)}")
    for reason, count in figures["skipped_by_reason"].items():
        out.print(f"[yellow]not imported[/] ({count}): {literal(reason)}")
    if report.codebook:
        out.print(f"the project's codebook is now {literal(report.codebook)} (its pilah.toml names it): every command run "
                  "in the project uses it")
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@privacy_app.command("report")
@handle_errors
def privacy_report_cli(project: ProjectOption = None, json_out: JsonPrintOption = False) -> None:
    """List what --pseudonymize replaces, by kind and count, with each real value and its
    pseudonym. For the researcher only: the mapping undoes the pseudonymisation."""
    from pipeline.exchange import privacy_report

    with open_project(project) as opened:
        report = privacy_report(opened)
    if json_out:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    out = Console()
    kinds = Table(title="Replaced in pseudonymised exports (not to be shared: it names the persons)")
    for column in ("kind", "values", "occurrences in the documents"):
        kinds.add_column(column, justify="left" if column == "kind" else "right")
    for kind, counts in report["by_kind"].items():
        kinds.add_row(kind, str(counts["values"]), str(counts["occurrences"]))
    out.print(kinds)
    mapping = Table(title="Pseudonyms")
    for column in ("kind", "pseudonym", "value", "occurrences", "since"):
        mapping.add_column(column)
    for row in report["pseudonyms"]:
        mapping.add_row(row["kind"], literal(row["pseudonym"]), literal(row["value"]), str(row["occurrences"]),
                        row["created_at"][:10])
    out.print(mapping)
