"""`pilah train`, `pilah retrain` and `pilah models`: the suggestion model and its versions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import (CodebookOption, CodesColumnOption, ConfigOption, JsonFileOption, ProjectOption,
                                 TextColumnOption, console, handle_errors, literal, open_project)
from pipeline.config import PROJECT_ROOT

train_app = typer.Typer(help="Train the suggestion model (default) or the Stanza models (`pilah train stanza`).")
models_app = typer.Typer(help="The model versions kept in the project (`pilah models use VERSION` switches).")


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.command("retrain")(retrain_cli)
    app.add_typer(models_app, name="models")


@train_app.callback(invoke_without_command=True)
@handle_errors
def train_cli(
    ctx: typer.Context,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Labelled table (CSV/XLSX: text, codes).")] = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Corpus whose gold coding to train on (when no --labels); default the project's.")] = None,
    gold: Annotated[Optional[Path], typer.Option("--gold", help="Gold coding (document, quote, codes); default CORPUS/gold.csv.")] = None,
    codebook: CodebookOption = None,
    config: ConfigOption = None,
    project: ProjectOption = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Model directory to write; default [suggest] model (models/default).")] = None,
    text_column: TextColumnOption = "text",
    codes_column: CodesColumnOption = "codes",
) -> None:
    """Train the suggestion model, cross-validate it, and save it with meta.json.

    With --labels and no --codebook, the codes are those of the table (any id without
    ';' or '='); the direction cues come from the project codebook.
    """
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.retrain import train_model

    started = time.perf_counter()
    with open_project(project, config=config, new_ok=True) as opened, console.status("Training and cross-validating…"):
        meta, target = train_model(opened, out, labels, corpus, gold, codebook, text_column, codes_column)
    table = Table(title=f"Model {literal(meta['version'])} → {literal(target)}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("training segments (coded)", f"{meta['data']['rows']} ({meta['data']['coded_rows']})")
    table.add_row("codes learned / rule-only", f"{len(meta['learned_codes'])} / {len(meta['rule_only_codes'])}")
    metrics = meta["metrics"]
    if metrics is None:
        table.add_row("cross-validation", "skipped: a single row")
    else:
        micro, rules = metrics["suggestions"]["micro"], metrics["rules_only"]
        table.add_row(f"precision / recall / F1 ({metrics['scheme']})", f"{micro['precision']:.3f} / {micro['recall']:.3f} / {micro['f1']:.3f}")
        table.add_row("macro F1", f"{metrics['suggestions']['macro_f1']:.3f}")
        table.add_row("rules alone: precision / recall / F1", f"{rules['precision']:.3f} / {rules['recall']:.3f} / {rules['f1']:.3f}")
        if metrics["direction"]["accuracy"] is not None:
            table.add_row("direction accuracy / macro F1", f"{metrics['direction']['accuracy']:.3f} / {metrics['direction']['macro_f1']:.3f}")
    table.add_row("seconds", f"{time.perf_counter() - started:.1f}")
    Console().print(table)
    Console().print(code_sources_table(meta["code_sources"]))


def code_sources_table(sources: dict) -> Table:
    """Per code: which of model and rules suggests it, their out-of-fold figures, ready or
    not (pipeline.metrics.ready; the others are marked low confidence in the review sheet)."""
    from pipeline.metrics import READY_KAPPA

    table = Table(title=f"Codes: who suggests them, and are they ready (κ ≥ {READY_KAPPA})?")
    for column in ("code", "support", "uses", "model F1 / κ", "rules F1 / κ", "ready"):
        table.add_column(column, justify="left" if column in ("code", "uses") else "right")
    for code, entry in sources.items():
        model, rules = entry.get("model"), entry["rules"]
        table.add_row(literal(code), str(entry["support"]), uses(entry), f"{model['f1']:.2f} / {shown(model['kappa'])}" if model else "—",
                      f"{rules['f1']:.2f} / {shown(rules['kappa'])}", "ready" if entry["ready"] else "low confidence")
    return table


def uses(entry: dict) -> str:
    """What suggests a code (``model`` or ``rules``), or ``off`` when the model switched it
    off for its precision on decided suggestions."""
    if entry.get("suggest", True):
        return entry.get("use", "")
    return f"off ({off_reason(entry.get('decided') or {})})"


def off_reason(counts: dict) -> str:
    """``2 of 12 decided suggestions accepted`` (why a code was switched off)."""
    if not counts:
        return "too few of its suggestions were accepted"
    return f"{counts.get('accepted')} of {counts.get('suggested')} decided suggestions accepted"


def shown(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@train_app.command("stanza")
@handle_errors
def train_stanza_cli(
    ud: Annotated[Path, typer.Option("--ud", help="Folder holding UD_Indonesian-GSD and UD_Indonesian-CSUI.")] = PROJECT_ROOT.parent / "shared" / "data" / "ud",
    out: Annotated[Optional[Path], typer.Option("--out", help="Model directory; default [nlp] stanza_model.")] = None,
    config: ConfigOption = None,
    project: ProjectOption = None,
) -> None:
    """Train Stanza tokenizer, MWT, POS and lemma models for Indonesian on the UD treebanks
    (GSD dev + CSUI train; the test files stay held out) and save them with meta.json."""
    from pipeline.train_stanza import train_stanza

    with open_project(project, config=config, new_ok=True) as opened:
        target = out or opened.config.path("nlp", "stanza_model")
    started = time.perf_counter()
    with console.status("Training Stanza models (tens of minutes on a CPU)…"):
        meta = train_stanza(ud, target)
    Console().print(f"wrote {literal(target)} in {time.perf_counter() - started:.0f} s")
    Console().print_json(json.dumps(meta.get("test_metrics", meta.get("dev_metrics", {}))))


@handle_errors
def retrain_cli(
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Also train on this labelled table (text, codes).")] = None,
    project: ProjectOption = None,
    config: ConfigOption = None,
    json_out: JsonFileOption = None,
) -> None:
    """Train a new model version on the project's codings; score it against the model in use
    on the same segments (whole documents held out); switch to it when it scores as well or better."""
    from pipeline.retrain import retrain

    with open_project(project, config=config) as opened, \
            console.status("Training on the project's codings and cross-validating…"):
        report = retrain(opened, labels)
    table = Table(title=f"Model {literal(report['version'])} from {report['rows']} reviewed segments "
                        f"({report['coded_rows']} coded, {report['documents']} documents)")
    for column in ("", "precision", "recall", "F1", "direction macro-F1", "scheme"):
        table.add_column(column, justify="right" if column not in ("", "scheme") else "left")
    for name in ("before", "after"):
        row = report[name]
        if row is not None:
            table.add_row(f"{name} ({literal(row['model'] or 'no model')})", f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                          "—" if row["direction_macro_f1"] is None else f"{row['direction_macro_f1']:.3f}", row["scheme"])
    Console().print(table)
    codes = Table(title="Per code: what suggests it")
    for column in ("code", "uses", "model F1", "rules F1"):
        codes.add_column(column)
    for code, choice in report["codes"].items():
        codes.add_row(literal(code), uses(choice), shown((choice.get("model") or {}).get("f1")),
                      shown((choice.get("rules") or {}).get("f1")))
    Console().print(codes)
    for code, counts in report.get("codes_off", {}).items():
        Console().print(f"[yellow]{literal(code)} is switched off[/] in {literal(report['version'])}: "
                        + off_reason(counts) + "; its suggestions are no longer made")
    Console().print(("switched to " if report["switched"] else "kept ") + f"{report['in_use'] or 'the codebook rules (no model)'}"
                    + ("" if report["switched"] else f"; `pilah models use {report['version']}` switches") +
                    f" ({report['seconds']} s)")
    if report.get("reason"):
        Console().print(f"{literal(report['version'])}: {literal(report['reason'])}")
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@models_app.callback(invoke_without_command=True)
@handle_errors
def models_cli(ctx: typer.Context, project: ProjectOption = None) -> None:
    """List the project's model versions, with their figures and the one in use."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.retrain import model_versions

    with open_project(project) as opened:
        frame, chosen = model_versions(opened)
        note = opened.model_note if chosen and opened.model()[0] is None else None
    table = Table(title="Model versions" + ("" if chosen else " (in use: the configured model)"))
    for column in ("version", "in use", "created", "rows", "F1 after", "F1 before", "directions", "codes off"):
        table.add_column(column, no_wrap=column == "version")
    notes = []
    for row in frame.itertuples(index=False):
        summary = json.loads(row.summary)
        after, before = summary.get("after") or {}, summary.get("before") or {}
        off = summary.get("codes_off") or {}
        table.add_row(row.version, "●" if row.in_use else "", row.created_at[:16], str(summary.get("rows", "")),
                      f"{after.get('f1', float('nan')):.3f}", f"{before['f1']:.3f}" if before else "—",
                      "codebook cues" if summary.get("direction_source") == "cues" else "model",
                      ", ".join(off) or "—")
        notes += [f"{row.version} does not suggest {code}: {off_reason(counts)}" for code, counts in off.items()]
    Console().print(table)
    for line in notes:  # a code switched off hides all its suggestions: say so, and why
        Console().print(line)
    if note:
        Console().print(f"[yellow]{literal(note)}[/]")


@models_app.command("use")
@handle_errors
def models_use_cli(version: Annotated[str, typer.Argument(help="A version listed by `pilah models`.")],
                   project: ProjectOption = None) -> None:
    """Suggest with this model version from the next `pilah run` on (new suggestion rows; decisions stay)."""
    from pipeline.retrain import use_model

    with open_project(project) as opened:
        path = use_model(opened, version)
    Console().print(f"the project now suggests with {literal(version)} ({literal(path)})")
