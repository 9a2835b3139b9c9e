"""Commands on tables rather than a corpus: `pilah suggest`, `pilah evaluate`, `pilah langid`,
and `pilah evaluate-nlp` (a tokenizer backend against a UD treebank)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.console import Console
from rich.table import Table

from pipeline.cli.common import (CodesColumnOption, ConfigOption, JsonFileOption, ProjectOption, TextColumnOption, handle_errors, literal, open_project)

ModelOption = Annotated[Path, typer.Option("--model", help="Model directory written by `pilah train`.")]
OutTableOption = Annotated[Path, typer.Option("--out", help="Where to write the table (.csv or .xlsx).")]


def register(app: typer.Typer) -> None:
    app.command("suggest")(suggest_cli)
    app.command("evaluate")(evaluate_cli)
    app.command("langid")(langid_cli)
    app.command("evaluate-nlp")(evaluate_nlp_cli)


@handle_errors
def suggest_cli(
    input: Annotated[Path, typer.Option("--input", help="CSV or XLSX table with a 'text' column (optional 'lang').")],
    model: ModelOption,
    out: OutTableOption,
    config: ConfigOption = None,
    project: ProjectOption = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes for tables of 1,000+ rows (0: one per CPU).")] = 0,
    text_column: TextColumnOption = "text",
) -> None:
    """Suggest codes for every row of a table: adds suggested_codes, suggested_scores, evidence."""
    from pipeline.tables import suggest_table

    with open_project(project, config=config, new_ok=True) as opened:
        result, meta, seconds = suggest_table(opened, input, model, out, jobs, text_column)
    coded = int((result["suggested_codes"] != "").sum())
    Console().print(f"wrote {literal(out)}: {len(result)} rows, {coded} with suggestions, "
                    f"{len(result) / max(seconds, 1e-9):.0f} rows/s (model {literal(meta['version'])})")


@handle_errors
def evaluate_cli(
    labels: Annotated[Path, typer.Option("--labels", help="Labelled table (text, codes) the model has not seen.")],
    model: ModelOption,
    config: ConfigOption = None,
    project: ProjectOption = None,
    json_out: JsonFileOption = None,
    text_column: TextColumnOption = "text",
    codes_column: CodesColumnOption = "codes",
) -> None:
    """Per-code precision, recall, F1, kappa and support; micro/macro F1; direction figures."""
    from pipeline.tables import evaluate_table

    with open_project(project, config=config, new_ok=True) as opened:
        figures, meta = evaluate_table(opened, labels, model, text_column, codes_column)
    out = Table(title=f"{literal(labels.name)} × model {literal(meta['version'])}")
    for column in ("code", "precision", "recall", "f1", "kappa", "support"):
        out.add_column(column, justify="left" if column == "code" else "right")
    for code, row in figures["suggestions"]["per_code"].items():
        out.add_row(literal(code), *("—" if row[k] is None else f"{row[k]:.3f}" for k in ("precision", "recall", "f1", "kappa")),
                    str(row["support"]))
    micro = figures["suggestions"]["micro"]
    out.add_row("[bold]micro", *(f"{micro[k]:.3f}" for k in ("precision", "recall", "f1")), "", "")
    Console().print(out)
    direction, pairs = figures["direction"], figures["code_direction_pairs"]
    Console().print(f"macro F1 {figures['suggestions']['macro_f1']:.3f}; direction on gold codes: accuracy "
                    f"{direction['accuracy']}, macro F1 {direction['macro_f1']}; (code, direction) macro F1 {pairs['macro_f1']:.3f}")
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@handle_errors
def langid_cli(
    input: Annotated[Path, typer.Option("--input", help="CSV or XLSX table with a 'text' column.")],
    out: OutTableOption,
    column: Annotated[str, typer.Option("--text-column", "--column", help="The column holding the text.")] = "text",
    config: ConfigOption = None,
    project: ProjectOption = None,
) -> None:
    """Label each row's language (id, en, mixed, und) with a score: adds lang_detected, lang_score."""
    from pipeline.tables import label_languages

    with open_project(project, config=config, new_ok=True) as opened:
        labelled = label_languages(opened, input, out, column)
    counts = labelled["lang_detected"].value_counts().to_dict()
    Console().print(f"wrote {literal(out)}: {len(labelled)} rows, " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@handle_errors
def evaluate_nlp_cli(
    conllu: Annotated[Path, typer.Option("--conllu", help="Universal Dependencies .conllu file with '# text' lines.")],
    backend: Annotated[Literal["fast", "stanza", "blank"], typer.Option("--backend", help="fast, stanza, or blank (bare spacy.blank, for comparison).")] = "fast",
    lang: Annotated[Optional[Literal["id", "en"]], typer.Option("--lang", help="id or en; default from the file name (en_… → en).")] = None,
    config: ConfigOption = None,
    project: ProjectOption = None,
    json_out: JsonFileOption = None,
) -> None:
    """Measure tokens, sentences, lemmas and UPOS of an nlp backend against a UD treebank."""
    from pipeline.nlp.evaluate import evaluate_backend

    with open_project(project, config=config, new_ok=True) as opened:
        figures = evaluate_backend(conllu, backend, opened.config.section("nlp"), lang)
    keys = ("tokens_f1", "sentences_f1", "words_f1", "lemma_acc", "upos_acc", "words_per_s")
    table = Table(title=f"{literal(backend)} on {literal(conllu.name)}")
    for key in keys:
        table.add_column(key, justify="right")
    table.add_row(*("—" if figures[k] is None else str(figures[k]) for k in keys))
    Console().print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
