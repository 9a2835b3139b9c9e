"""`pilah cases`, `pilah query`, `pilah codes`: drawing and verifying conclusions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import (ConfigOption, JsonPrintOption, NamesOption, ProjectOption, PseudonymizeOption, console,
                                 handle_errors, literal, open_project)

out = Console(soft_wrap=True)  # results go to stdout
SHOWN = 300  # characters of an expression echoed: rich takes seconds per 30,000 (a pasted text~ term)


def shown(text: str) -> str:
    """``text`` for the terminal: escaped for rich, cut at ``SHOWN`` characters."""
    return literal(text if len(text) <= SHOWN else text[:SHOWN] + f"… ({len(text):,} characters)")
RetrainOption = Annotated[bool, typer.Option("--retrain", help="Retrain the model on the codings as they now read "
                                                               "(else the new codes are suggested by the codebook's rules until `pilah retrain`).")]
ReviewerOption = Annotated[Optional[str], typer.Option("--reviewer", help="Who does the code work (default [review] reviewer).")]


def register(app: typer.Typer) -> None:
    """Add ``cases``, ``query`` and ``codes`` to ``app``."""
    app.command("cases")(cases_cli)
    app.command("query")(query_cli)
    codes_app = typer.Typer(help="Code work: rename, merge, split and adopt codes, with every coding following "
                                 "(kept in the project's history; nothing an analyst decided is rewritten).",
                            no_args_is_help=True)
    codes_app.command("rename")(rename_cli)
    codes_app.command("merge")(merge_cli)
    codes_app.command("split")(split_cli)
    codes_app.command("adopt")(adopt_cli)
    codes_app.command("history")(history_cli)
    app.add_typer(codes_app, name="codes")


@handle_errors
def cases_cli(
    project: ProjectOption = None,
    import_file: Annotated[Optional[Path], typer.Option("--import", help="Bring the cases and case variables of a REFI-QDA project (.qdpx) into the case table: new rows and empty cells only.")] = None,
    json_out: JsonPrintOption = False,
) -> None:
    """Show and check the project's case table (cases.csv): each case with its attributes,
    documents, speakers and segments, and every problem (unknown documents or speakers,
    cases without documents, documents without a case, missing values)."""
    from pipeline.conclude import project_cases, settings
    from pipeline.conclude.cases import case_table_path, check_cases
    from pipeline.conclude.refi import import_cases

    with open_project(project) as opened:
        path = case_table_path(opened.root, settings(opened.config)["cases"])
        if import_file is not None:
            report = import_cases(import_file, path)
            if not report["cases"]:
                console.print(f"{literal(import_file)}: holds no cases (REFI-QDA Case elements); the case table is unchanged")
            else:
                    console.print(f"{literal(import_file)}: {report['cases']} case(s); {report['added_rows']} row(s) and "
                              f"{report['filled']} value(s) added to {literal(path)}"
                              + (f"; {len(report['conflicts'])} value(s) differ and were kept as the table has them"
                                 if report["conflicts"] else ""))
            for conflict in report["conflicts"]:
                console.print(f"[yellow]kept[/] {literal(conflict)}")
        table = project_cases(opened)
        check = check_cases(table, opened.store)
    if json_out:
        print(json.dumps({"table": str(path) if path.exists() else None, "cases": check.cases,
                          "informants": check.informants, "problems": check.problems}, indent=2, ensure_ascii=False))
        return
    shown = Table(title=f"Cases ({literal(path if path.exists() else 'no case table: the manifest gives the cases')})")
    columns = list(check.cases[0]) if check.cases else ["case"]
    for column in columns:
        shown.add_column(column, justify="right" if column in ("documents", "speakers", "segments") else "left")
    for row in check.cases:
        shown.add_row(*(literal(str(row[c])) for c in columns))
    out.print(shown)
    people = Table(title="Informants (speakers, or a document's author) with their role and source type")
    for column in ("informant", "case", "role", "source_type", "segments"):
        people.add_column(column, justify="right" if column == "segments" else "left")
    for row in check.informants:
        people.add_row(*(literal(str(row[c])) for c in ("informant", "case", "role", "source_type", "segments")))
    out.print(people)
    for problem in check.problems:
        out.print(f"[yellow]problem:[/] {literal(problem)}")
    from pipeline.conclude.cases import NO_CASE

    cases = [row for row in check.cases if row["case"] != NO_CASE]
    caseless = sum(row["documents"] for row in check.cases if row["case"] == NO_CASE)
    out.print(f"{len(cases)} cases" + (f" ({caseless} document(s) without a case: {NO_CASE})" if caseless else "")
              + f", {len(check.problems)} problem(s)")


@handle_errors
def query_cli(
    expression: Annotated[Optional[str], typer.Argument(help='The query, e.g. \'code=financing direction=constraining case="Kota Pesisir Kencana" sektor=fashion\' (see docs/conclusions.md).')] = None,
    saved: Annotated[Optional[str], typer.Option("--saved", help="Run the query saved under this name.")] = None,
    save: Annotated[Optional[str], typer.Option("--save", help="Keep the query in the project under this name (re-run it with --saved NAME).")] = None,
    list_saved: Annotated[bool, typer.Option("--list", help="List the saved queries.")] = False,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the result: .csv, .xlsx or .html (a standalone page).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Quotes printed (every one goes to --out).")] = 20,
    project: ProjectOption = None,
    config: ConfigOption = None,
    pseudonymize: PseudonymizeOption = None,
    names: NamesOption = None,
) -> None:
    """Find the quotes behind a conclusion: accepted codings by code, direction, factor
    type, case or attribute, speaker or role, source type, reviewer, status or text; with
    counts of codings, segments, informants, cases and documents."""
    from pipeline.conclude import project_evidence
    from pipeline.conclude.query import QueryError, run_query, save_query, saved_query, write_result

    with open_project(project, config=config, names=names) as opened:
        store = opened.store
        if list_saved:
            frame = store.saved_queries_frame()
            for row in frame.itertuples(index=False):
                out.print(f"[bold]{literal(row.name)}[/]: {shown(row.expression)}  ({literal(row.created_by)}, {row.created_at})")
            if frame.empty:
                out.print("no saved queries yet: `pilah query EXPRESSION --save NAME`")
            return
        if saved:
            expression = saved_query(store, saved)
        if not expression:
            raise QueryError("give a query (e.g. 'code=training direction=supporting'), or --saved NAME, or --list")
        evidence = project_evidence(opened, pseudonymize, ("accepted", "pending"))
        if save:
            save_query(store, save, expression, opened.codebook, evidence, opened.reviewer())
            console.print(f"saved as {literal(save)}")
        result = run_query(evidence, expression, opened.codebook)
        lang = opened.lang()
        if out_file is not None:
            write_result(result, out_file, opened.codebook, lang)
    counts = result.counts
    out.print(f"[bold]{shown(expression)}[/]: {counts['codings']} codings on {counts['segments']} segments, "
              f"{counts['informants']} informants, {counts['cases']} cases, {counts['documents']} documents")
    for row in result.by_code.itertuples(index=False):
        out.print(f"  {literal(row.code)} {row.direction}: {row.codings} ({row.informants} informants, {row.cases} cases)")
    for row in result.rows.head(limit).itertuples(index=False):
        where = " · ".join(str(v) for v in (row.case, row.informant, row.title, row.place) if v)
        out.print(f"- [{'green' if row.direction == 'supporting' else 'red' if row.direction == 'constraining' else 'white'}]"
                  f"{literal(row.code)} {row.direction}[/] “{literal(row.quote)}” ({literal(where)})")
    if len(result.rows) > limit:
        out.print(f"… {len(result.rows) - limit} more (--limit, or --out FILE for all)")
    if out_file is not None:
        console.print(f"wrote {literal(out_file)}")


def _code_work(project, action, retrain: bool, **kwargs) -> None:
    from pipeline.conclude import codes

    with open_project(project) as opened:
        reviewer = kwargs.pop("reviewer", None) or opened.reviewer()
        report = getattr(codes, action)(opened.store, opened.codebook, opened.root, reviewer=reviewer, **kwargs)
        if retrain:
            from pipeline.codebook import load_codebook
            from pipeline.retrain import retrain as retrain_model

            outcome = retrain_model(opened, codebook=load_codebook(report["codebook"]))
            report["retrained"] = {"version": outcome["version"], "switched": outcome["switched"]}
    into = report["into"] if isinstance(report["into"], str) else ", ".join(report["into"])
    out.print(f"{action}: {literal(', '.join(report['codes']))} → {literal(into)}; codebook written to {literal(report['codebook'])}")
    for key in ("coded segments", "segments", "suggestions", "keywords", "examples"):
        if key in report:
            out.print(f"  {key}: {literal(str(report[key]))}")
    if "retrained" in report:
        out.print(f"  model {report['retrained']['version']} trained on the codings as they now read"
                  + ("" if report["retrained"]["switched"] else " (kept the model in use: it scored better)"))
    else:
        out.print("  the model in use knows the codes as they were: the codebook's rules suggest the new codes "
                  "until `pilah retrain` (or --retrain)")


@handle_errors
def rename_cli(old: Annotated[str, typer.Argument(help="The code to rename.")],
               new: Annotated[str, typer.Argument(help="Its new id.")],
               project: ProjectOption = None, reviewer: ReviewerOption = None, retrain: RetrainOption = False) -> None:
    """Rename a code; its codings, decisions and suggestions read under the new id."""
    _code_work(project, "rename", retrain, old=old, new=new, reviewer=reviewer)


@handle_errors
def merge_cli(codes: Annotated[list[str], typer.Argument(help="The codes to merge (two or more).")],
              into: Annotated[str, typer.Option("--into", help="The code they become (existing or new).")],
              label: Annotated[Optional[str], typer.Option("--label", help="The label of a new merged code.")] = None,
              project: ProjectOption = None, reviewer: ReviewerOption = None, retrain: RetrainOption = False) -> None:
    """Merge codes into one; their codings, decisions and suggestions read as the merged code."""
    _code_work(project, "merge", retrain, codes=list(codes), into=into, label=label, reviewer=reviewer)


@handle_errors
def split_cli(code: Annotated[str, typer.Argument(help="The code to split.")],
              into: Annotated[str, typer.Option("--into", help="The new codes, comma-separated: B,C.")],
              project: ProjectOption = None, reviewer: ReviewerOption = None, retrain: RetrainOption = False) -> None:
    """Split a code: the new codes go beside it and each of its segments is put up for
    review under each new code (pending in the review sheet); its codings stay until decided."""
    _code_work(project, "split", retrain, code=code, into=[c.strip() for c in into.split(",") if c.strip()],
               reviewer=reviewer)


@handle_errors
def adopt_cli(candidate: Annotated[str, typer.Argument(help="A candidate of `pilah discover` (new-id-01 …).")],
              code: Annotated[Optional[str], typer.Option("--id", help="The new code's id (default: from its label).")] = None,
              label: Annotated[Optional[str], typer.Option("--label", help="Its label (default: the candidate's).")] = None,
              parent: Annotated[Optional[str], typer.Option("--parent", help="The folder to put it in.")] = None,
              factor_type: Annotated[Optional[str], typer.Option("--factor-type", help="Its factor type.")] = None,
              candidates: Annotated[Optional[Path], typer.Option("--candidates", help="The candidates table (default OUT/candidates.csv).")] = None,
              project: ProjectOption = None, reviewer: ReviewerOption = None, retrain: RetrainOption = False) -> None:
    """Adopt a discover candidate as a code: label, top words as keywords, exemplars as
    examples; its segments go up for review under the new code."""
    from pipeline.conclude.codes import read_candidates

    with open_project(project) as opened:
        table = read_candidates(candidates or opened.out_dir / "candidates.csv")
    _code_work(project, "adopt", retrain, candidates=table, candidate=candidate, code=code, label=label,
               parent=parent, factor_type=factor_type, reviewer=reviewer)


@handle_errors
def history_cli(project: ProjectOption = None, json_out: JsonPrintOption = False) -> None:
    """The project's code work, oldest first, and how old codes read now."""
    with open_project(project) as opened:
        history = opened.store.code_history_frame()
        mapping = opened.store.code_map()
    if json_out:
        print(json.dumps({"history": history.to_dict("records"), "reads_as": mapping}, indent=2, ensure_ascii=False))
        return
    for row in history.itertuples(index=False):
        out.print(f"{row.created_at} {literal(row.reviewer)}: {row.action} {literal(', '.join(json.loads(row.codes)))} → "
                  f"{literal(', '.join(json.loads(row.targets)))} {literal(row.note)}")
    for old, new in mapping.items():
        out.print(f"  {literal(old)} reads as {literal(new)}")
    if history.empty:
        out.print("no code work yet")
