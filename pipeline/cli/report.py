"""`pilah report` (the data display) and `pilah discover` (candidate new codes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import (CodesColumnOption, ConfigOption, NamesOption, ProjectOption, PseudonymizeOption,
                                 TextColumnOption, console, handle_errors, literal, open_project)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cli)
    app.command("discover")(discover_cli)


@handle_errors
def report_cli(
    project: ProjectOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="The HTML report to write; displays.xlsx goes beside it. Default the project's out/report.html.")] = None,
    lang: Annotated[Optional[Literal["id", "en"]], typer.Option("--lang", help="Labels in Indonesian or English (default: [report] lang).")] = None,
    source: Annotated[Optional[Literal["accepted", "suggested", "all"]], typer.Option("--source", help="Accepted codings, pending suggestions, or both, each labelled (default: [report] source).")] = None,
    format: Annotated[Literal["html", "docx"], typer.Option("--format", help="html: report.html and displays.xlsx; docx: the conclusion displays (conclusions, factor matrix, factor x attribute, triangulation, negative evidence, memos) as Word tables with captions, accepted codings only.")] = "html",
    by: Annotated[Optional[str], typer.Option("--by", help="The attribute of the factor x attribute display (a case-table column, case, role, source_type; default [conclude] by).")] = None,
    config: ConfigOption = None,
    pseudonymize: PseudonymizeOption = None,
    names: NamesOption = None,
) -> None:
    """Write the data display: one self-contained HTML report (overview, factor matrix,
    code × case matrices, co-occurrence, frequencies, the conclusion displays, quotes) and
    the same matrices as sheets in displays.xlsx beside it. It opens offline and prints to
    PDF. With --format docx: the conclusion displays as a Word document (report.docx)."""
    from pipeline.exchange import report

    if format == "docx":
        from pipeline.conclude import write_conclusions_docx

        with open_project(project, config=config, names=names) as opened:
            written = write_conclusions_docx(opened, out or opened.out_dir / "report.docx", lang, pseudonymize, by)
        Console().print(f"wrote {literal(written)}")
        return
    from pipeline.conclude import project_conclusions

    with open_project(project, config=config, names=names) as opened:
        summary = report(opened, out, lang, source, pseudonymize, project_conclusions(opened, pseudonymize, by))
    shown = ", ".join(f"{n} {status}" for status, n in summary["shown"].items()) or "nothing accepted or pending yet"
    state = "unchanged since it was written" if summary["unchanged"] else f"in {summary['seconds']['total']:.1f} s"
    Console().print(f"report of {summary['segments']} segments ({shown}) {state}")
    for path in summary["outputs"]:
        Console().print(f"{'kept' if summary['unchanged'] else 'wrote'} {literal(path)}")


@handle_errors
def discover_cli(
    project: ProjectOption = None,
    input: Annotated[Optional[Path], typer.Option("--input", help="CSV/XLSX table instead of the project: 'text', and 'codes' and/or 'suggested_codes' (rows with both empty are uncoded).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Where candidates.csv/.xlsx go (default the project's out/); a suggestions.xlsx there gets a 'Candidate codes' sheet.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the clustering; the same seed gives the same candidates.")] = 0,
    max_candidates: Annotated[int, typer.Option("--max-candidates", min=1, help="At most this many candidates (the largest kept).")] = 10,
    min_size: Annotated[int, typer.Option("--min-size", min=3, help="Smallest group of segments reported as a candidate (>= 3).")] = 5,
    config: ConfigOption = None,
    text_column: TextColumnOption = "text",
    codes_column: CodesColumnOption = "codes",
    pseudonymize: PseudonymizeOption = None,
    names: NamesOption = None,
) -> None:
    """Propose candidate new codes from the segments no code covers: label, size, 3 exemplars."""
    from pipeline.discover import discover_candidates
    from pipeline.labels import read_table

    with open_project(project, config=config, names=names, new_ok=input is not None) as opened:
        table = read_table(input, text_column, codes_column) if input is not None else None
        with console.status("Clustering the uncoded segments…"):
            candidates, written = discover_candidates(opened, out or opened.out_dir, table, input, seed=seed,
                                                      max_candidates=max_candidates, min_size=min_size,
                                                      pseudonymize=pseudonymize)
    counts = candidates.attrs["counts"]
    table = Table(title=f"Candidate codes from {counts['uncovered']} uncoded segments ({candidates.attrs['seconds']:.1f} s)")
    for column in ("candidate", "language", "label", "size", "cohesion"):
        table.add_column(column, justify="right" if column in ("size", "cohesion") else "left")
    for row in candidates.itertuples(index=False):
        table.add_row(literal(row.candidate), row.language, literal(row.label), str(row.size), f"{row.cohesion:.2f}")
    Console().print(table)
    Console().print(f"{counts['clustered']} segments in candidates, {counts['unclustered']} in groups too small, "
                    f"{counts['too_short']} with fewer than 3 content words")
    if candidates.empty and counts["unclustered"] and min_size > 3:
        Console().print(f"no candidate: every group held fewer than {min_size} segments; "
                        f"`pilah discover --min-size 3` reports groups of 3 or more")
    for path in written:
        Console().print(f"wrote {literal(path)}")
