"""Pilah's command line: thin commands that parse arguments and call the workflows."""

from __future__ import annotations

import gc
import json
import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from pipeline.config import PROJECT_ROOT

app = typer.Typer(
    help="Pilah: bilingual (Indonesian + English) code suggestions for qualitative research, for analysts to review.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

DEFAULT_CORPUS = PROJECT_ROOT / "corpus"
PSEUDONYMIZE_OPTION = typer.Option(
    "--pseudonymize/--no-pseudonymize",
    help="Replace persons, speakers, e-mails, phones, NIK and addresses in every file written by stable "
         "pseudonyms (Informan 1, Person A, [EMAIL-1]); the mapping stays in the project (`pilah privacy report`). "
         "Default: [privacy] pseudonymize.")
NAMES_OPTION = typer.Option("--names", help="With --pseudonymize: the project's names file (one person a line); "
                                            "default [privacy] names (configs/names.txt).")


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {escape(str(exc))}")  # "[ingest] …" is text, not markup
    raise typer.Exit(code=2)


@app.command("run")
def run_cli(
    corpus: Annotated[Path, typer.Argument(help="Folder (or file) of interviews and documents.")] = DEFAULT_CORPUS,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the review exports and run.json go.")] = Path("out"),
    project: Annotated[Path, typer.Option("--project", help="Project directory holding the .pilah/ database.")] = Path("."),
    codebook: Annotated[Optional[Path], typer.Option("--codebook", help="Codebook YAML; default from the config.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Processes for the per-document stages (0: one per CPU).")] = 0,
    engine: Annotated[str, typer.Option("--engine", help="local (this machine) or dask (a Dask cluster).")] = "local",
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="With --engine dask: the scheduler's address (tcp://host:8786); default a local cluster.")] = None,
    pseudonymize: Annotated[Optional[bool], PSEUDONYMIZE_OPTION] = None,
    names: Annotated[Optional[Path], NAMES_OPTION] = None,
    read_all: Annotated[bool, typer.Option("--read-all", help="Read every file again, also those whose size and times show them unchanged since they were stored.")] = False,
) -> None:
    """Ingest, segment, tokenize and suggest codes for a corpus; write the review sheets.

    Decisions typed into OUT/suggestions.xlsx (or .csv) that the project does not hold yet
    are imported first, so a re-run never loses review work."""
    from pipeline.errors import PilahError
    from pipeline.run import run

    if engine not in ("local", "dask"):
        _fail(ValueError(f"--engine {engine!r}: expected local or dask"))
    files = _count_files(corpus)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("Reading documents", total=files or None)

        started = time.perf_counter()

        def advance(path: str) -> None:
            done = progress.tasks[0].completed + 1
            rate = done / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=1, description=f"[cyan]{escape(path)}[/] {rate:.1f} documents/s")

        try:
            summary = run(corpus, config, out, project, on_document=advance, codebook_path=codebook,
                          workers=workers or None, engine=engine, scheduler=scheduler, pseudonymize=pseudonymize,
                          names=names, read_all=read_all)
        except PilahError as exc:
            _fail(exc)
    _print_summary(summary)


@app.command("status")
def status_cli(project: Annotated[Path, typer.Option("--project", help="Project directory holding the .pilah/ database.")] = Path("."),
               json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False) -> None:
    """The project at a glance: documents, segments, suggestions, decisions, and its runs with their failures."""
    from pipeline.decisions import review_status
    from pipeline.store import Store

    _require_project(project)
    with Store(project) as store:
        ids = store.document_ids()
        counts = store.document_counts(ids)
        review = review_status(store)
        runs = store.runs_frame()
        last_failures = store.failures_frame(int(runs["run"].iloc[0])) if len(runs) else None
    figures = {"documents": len(ids), **counts, "decisions": review["decisions"], "pending": review["pending"],
               "stale": review["stale"], "runs": len(runs),
               "last_run": None if runs.empty else {
                   "run": int(runs["run"].iloc[0]), "started_at": runs["started_at"].iloc[0],
                   "finished_at": runs["finished_at"].iloc[0], "failures": last_failures.to_dict("records")}}
    if json_out:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(f"{store.path}: {figures['documents']} documents, {counts['segments']} segments, {counts['tokens']} tokens, "
              f"{counts['suggestions']} suggestions; {review['decisions']} decisions ({review['pending']} suggestions "
              f"pending, {review['stale']} stale)")
    table = Table(title="Runs (newest first)")
    for column in ("run", "corpus", "started", "finished", "documents", "processed", "failures"):
        table.add_column(column)
    for row in runs.head(10).itertuples(index=False):
        summary = json.loads(row.summary) if row.summary else {}
        c = summary.get("counts", {})
        table.add_row(str(row.run), escape(row.corpus), row.started_at, row.finished_at or "[yellow]not finished",
                      str(c.get("documents", "")), str(c.get("documents_processed", "")), str(row.failures))
    out.print(table)
    for failure in figures["last_run"]["failures"] if figures["last_run"] else []:
        out.print(f"[yellow]failed[/] {escape(failure['path'])} ({failure['stage']}): {escape(failure['reason'])}")


train_app = typer.Typer(help="Train the suggestion model (default) or the Stanza models (`pilah train stanza`).")
app.add_typer(train_app, name="train")


@train_app.callback(invoke_without_command=True)
def train_cli(
    ctx: typer.Context,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Labelled table (CSV/XLSX: text, codes).")] = None,
    corpus: Annotated[Path, typer.Option("--corpus", help="Corpus whose gold coding to train on (when no --labels).")] = DEFAULT_CORPUS,
    gold: Annotated[Optional[Path], typer.Option("--gold", help="Gold coding (document, quote, codes); default CORPUS/gold.csv.")] = None,
    codebook: Annotated[Optional[Path], typer.Option("--codebook", help="Codebook YAML; default from the config.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Model directory to write; default models/default.")] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="The table's column holding the text.")] = "text",
    codes_column: Annotated[str, typer.Option("--codes-column", help="The table's column holding the codes.")] = "codes",
) -> None:
    """Train the suggestion model, cross-validate it, and save it with meta.json.

    With --labels and no --codebook, the codes are those of the table (any id without
    ';' or '='); the direction cues come from the project codebook.
    """
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.errors import InputError
    from pipeline.codebook import codebook_for_codes, load_codebook
    from pipeline.config import load_config
    from pipeline.engine import Stages
    from pipeline.errors import PilahError
    from pipeline.labels import read_labels
    from pipeline.train import labels_from_gold, save_model, train

    started = time.perf_counter()
    try:
        cfg = load_config(config)
        if labels is not None and out is None:
            raise InputError(labels, "give --out DIR for a model trained on a labelled table "
                                     "(the default model belongs to the sample corpus)")
        if labels is not None and codebook is None:
            table, source = read_labels(labels, require_codes=True, text_column=text_column, codes_column=codes_column), _shown(labels)
            codes = sorted(set().union(*table["labels"]))
            book = codebook_for_codes(codes, load_codebook(cfg.path("suggest", "codebook")), source)
        else:
            book = load_codebook(codebook or cfg.path("suggest", "codebook"))
            if labels is not None:
                table = read_labels(labels, set(book.codes), require_codes=True, text_column=text_column, codes_column=codes_column)
                source = _shown(labels)
        stages = Stages(cfg, book, None)
        if labels is None:
            gold = gold or corpus / "gold.csv"
            table, source = labels_from_gold(corpus, gold, stages), f"{_shown(gold)} over {_shown(corpus)}"
        with console.status("Training and cross-validating…"):
            model, meta = train(table, book, stages, source)
        target = out or cfg.path("suggest", "model")
        meta = save_model(model, meta, book, target)
    except PilahError as exc:
        _fail(exc)
    table_out = Table(title=f"Model {meta['version']} → {target}")
    table_out.add_column("measure")
    table_out.add_column("value", justify="right")
    table_out.add_row("training segments (coded)", f"{meta['data']['rows']} ({meta['data']['coded_rows']})")
    table_out.add_row("codes learned / rule-only", f"{len(meta['learned_codes'])} / {len(meta['rule_only_codes'])}")
    metrics = meta["metrics"]
    if metrics is None:
        table_out.add_row("cross-validation", "skipped: a single row")
    else:
        micro, rules = metrics["suggestions"]["micro"], metrics["rules_only"]
        table_out.add_row(f"precision / recall / F1 ({metrics['scheme']})", f"{micro['precision']:.3f} / {micro['recall']:.3f} / {micro['f1']:.3f}")
        table_out.add_row("macro F1", f"{metrics['suggestions']['macro_f1']:.3f}")
        table_out.add_row("rules alone: precision / recall / F1", f"{rules['precision']:.3f} / {rules['recall']:.3f} / {rules['f1']:.3f}")
        if metrics["direction"]["accuracy"] is not None:
            table_out.add_row("direction accuracy / macro F1", f"{metrics['direction']['accuracy']:.3f} / {metrics['direction']['macro_f1']:.3f}")
    table_out.add_row("seconds", f"{time.perf_counter() - started:.1f}")
    Console().print(table_out)
    Console().print(_code_sources_table(meta["code_sources"]))


def _code_sources_table(sources: dict) -> Table:
    """Per code: which of model and rules suggests it, their out-of-fold figures, ready or
    not (kappa at least 0.4; the others are marked low confidence in the review sheet)."""
    table = Table(title="Codes: who suggests them, and are they ready (kappa >= 0.4)?")
    for column in ("code", "support", "uses", "model F1 / κ", "rules F1 / κ", "ready"):
        table.add_column(column, justify="left" if column in ("code", "uses") else "right")
    for code, entry in sources.items():
        model = entry.get("model")
        shown = f"{model['f1']:.2f} / {model['kappa']:.2f}" if model else "—"
        rules = entry["rules"]
        table.add_row(code, str(entry["support"]), entry["use"], shown, f"{rules['f1']:.2f} / {rules['kappa']:.2f}",
                      "ready" if entry["ready"] else "low confidence")
    return table


@train_app.command("stanza")
def train_stanza_cli(
    ud: Annotated[Path, typer.Option("--ud", help="Folder holding UD_Indonesian-GSD and UD_Indonesian-CSUI.")] = PROJECT_ROOT.parent / "shared" / "data" / "ud",
    out: Annotated[Optional[Path], typer.Option("--out", help="Model directory; default [nlp] stanza_model.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
) -> None:
    """Train Stanza tokenizer, MWT, POS and lemma models for Indonesian on the UD treebanks
    (GSD dev + CSUI train; the test files stay held out) and save them with meta.json."""
    from pipeline.config import load_config
    from pipeline.errors import PilahError
    from pipeline.train_stanza import train_stanza

    target = out or load_config(config).path("nlp", "stanza_model")
    started = time.perf_counter()
    try:
        with console.status("Training Stanza models (tens of minutes on a CPU)…"):
            meta = train_stanza(ud, target)
    except PilahError as exc:
        _fail(exc)
    Console().print(f"wrote {target} in {time.perf_counter() - started:.0f} s")
    Console().print_json(json.dumps(meta.get("test_metrics", meta.get("dev_metrics", {}))))


@app.command("suggest")
def suggest_cli(
    input: Annotated[Path, typer.Option("--input", help="CSV or XLSX table with a 'text' column (optional 'lang').")],
    model: Annotated[Path, typer.Option("--model", help="Model directory written by `pilah train`.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the table (.csv or .xlsx).")],
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes for tables of 1,000+ rows (0: one per CPU).")] = 0,
    text_column: Annotated[str, typer.Option("--text-column", help="The table's column holding the text.")] = "text",
) -> None:
    """Suggest codes for every row of a table: adds suggested_codes, suggested_scores, evidence."""
    from pipeline.config import load_config
    from pipeline.engine import Stages
    from pipeline.errors import InputError, PilahError
    from pipeline.labels import missing_column_problem, read_table, restore_columns
    from pipeline.table_suggestions import load_model_dir, suggest_labels

    try:
        trained, meta, book = load_model_dir(model)
        table = read_table(input, text_column)
        if missing_column_problem(table):
            raise InputError(input, missing_column_problem(table))
        started = time.perf_counter()
        result = suggest_labels(table, trained, book, Stages(load_config(config), book, trained), jobs=jobs)
        seconds = time.perf_counter() - started
        result.attrs["renamed"] = table.attrs.get("renamed", {})
        _write_table(restore_columns(result), out)
    except PilahError as exc:
        _fail(exc)
    coded = int((result["suggested_codes"] != "").sum())
    Console().print(f"wrote {out}: {len(result)} rows, {coded} with suggestions, "
                    f"{len(result) / max(seconds, 1e-9):.0f} rows/s (model {meta['version']})")


@app.command("evaluate")
def evaluate_cli(
    labels: Annotated[Path, typer.Option("--labels", help="Labelled table (text, codes) the model has not seen.")],
    model: Annotated[Path, typer.Option("--model", help="Model directory written by `pilah train`.")],
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write all figures to this JSON file.")] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="The table's column holding the text.")] = "text",
    codes_column: Annotated[str, typer.Option("--codes-column", help="The table's column holding the codes.")] = "codes",
) -> None:
    """Per-code precision, recall, F1, kappa and support; micro/macro F1; direction figures."""
    from pipeline.config import load_config
    from pipeline.engine import Stages
    from pipeline.errors import PilahError
    from pipeline.labels import read_labels
    from pipeline.table_suggestions import load_model_dir
    from pipeline.train import evaluate_labels

    try:
        trained, meta, book = load_model_dir(model)
        table = read_labels(labels, set(book.codes), text_column=text_column, codes_column=codes_column)
        figures = evaluate_labels(table, trained, book, Stages(load_config(config), book, trained))
    except PilahError as exc:
        _fail(exc)
    out = Table(title=f"{labels.name} × model {meta['version']}")
    for column in ("code", "precision", "recall", "f1", "kappa", "support"):
        out.add_column(column, justify="left" if column == "code" else "right")
    for code, row in figures["suggestions"]["per_code"].items():
        out.add_row(code, *(f"{row[k]:.3f}" for k in ("precision", "recall", "f1", "kappa")), str(row["support"]))
    micro = figures["suggestions"]["micro"]
    out.add_row("[bold]micro", *(f"{micro[k]:.3f}" for k in ("precision", "recall", "f1")), "", "")
    Console().print(out)
    direction, pairs = figures["direction"], figures["code_direction_pairs"]
    Console().print(f"macro F1 {figures['suggestions']['macro_f1']:.3f}; direction on gold codes: accuracy "
                    f"{direction['accuracy']}, macro F1 {direction['macro_f1']}; (code, direction) macro F1 {pairs['macro_f1']:.3f}")
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_table(frame, out: Path) -> None:
    from pipeline.outputs import write_table

    write_table(frame, out)  # the one safe writer: no cell becomes a formula or a link


@app.command("langid")
def langid_cli(
    input: Annotated[Path, typer.Option("--input", help="CSV or XLSX table with a 'text' column.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the table (.csv or .xlsx).")],
    column: Annotated[str, typer.Option("--text-column", "--column", help="The column holding the text.")] = "text",
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
) -> None:
    """Label each row's language (id, en, mixed, und) with a score: adds lang_detected, lang_score."""
    from pipeline.config import load_config
    from pipeline.errors import InputError, PilahError
    from pipeline.labels import read_table
    from pipeline.language import LanguageSettings, label_table

    try:
        cfg = load_config(config)
        frame = read_table(input)
        if column not in frame.columns:
            raise InputError(input, f"no {column!r} column; found {', '.join(frame.columns)} (choose one with --text-column)")
        labelled = label_table(frame, LanguageSettings(**cfg.section("language")),
                               cfg.section("nlp")["colloquial_lexicon"], text_column=column)
        _write_table(labelled, out)
    except PilahError as exc:
        _fail(exc)
    counts = labelled["lang_detected"].value_counts().to_dict()
    Console().print(f"wrote {out}: {len(labelled)} rows, " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


@app.command("evaluate-nlp")
def evaluate_nlp_cli(
    conllu: Annotated[Path, typer.Option("--conllu", help="Universal Dependencies .conllu file with '# text' lines.")],
    backend: Annotated[str, typer.Option("--backend", help="fast, stanza, or blank (bare spacy.blank, for comparison).")] = "fast",
    lang: Annotated[Optional[str], typer.Option("--lang", help="id or en; default from the file name (en_… → en).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the figures to this JSON file.")] = None,
) -> None:
    """Measure tokens, sentences, lemmas and UPOS of an nlp backend against a UD treebank."""
    from pipeline.config import load_config
    from pipeline.errors import PilahError
    from pipeline.nlp.evaluate import evaluate_backend

    if backend not in ("fast", "stanza", "blank"):
        _fail(ValueError(f"--backend {backend!r}: expected fast, stanza or blank"))
    try:
        figures = evaluate_backend(conllu, backend, load_config(config).section("nlp"), lang)
    except PilahError as exc:
        _fail(exc)
    table = Table(title=f"{backend} on {conllu.name}")
    for key in ("tokens_f1", "sentences_f1", "words_f1", "lemma_acc", "upos_acc", "words_per_s"):
        table.add_column(key, justify="right")
    table.add_row(*("—" if figures[k] is None else str(figures[k]) for k in
                    ("tokens_f1", "sentences_f1", "words_f1", "lemma_acc", "upos_acc", "words_per_s")))
    Console().print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


@app.command("discover")
def discover_cli(
    project: Annotated[Path, typer.Option("--project", help="Project directory whose .pilah/ database `pilah run` filled.")] = Path("."),
    input: Annotated[Optional[Path], typer.Option("--input", help="CSV/XLSX table instead of the project: 'text', and 'codes' and/or 'suggested_codes' (rows with both empty are uncoded).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where candidates.csv/.xlsx go; a suggestions.xlsx there gets a 'Candidate codes' sheet.")] = Path("out"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the clustering; the same seed gives the same candidates.")] = 0,
    max_candidates: Annotated[int, typer.Option("--max-candidates", help="At most this many candidates (the largest kept).")] = 10,
    min_size: Annotated[int, typer.Option("--min-size", help="Smallest group of segments reported as a candidate (>= 3).")] = 5,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="The table's column holding the text.")] = "text",
    codes_column: Annotated[str, typer.Option("--codes-column", help="The table's column holding the codes.")] = "codes",
    pseudonymize: Annotated[Optional[bool], PSEUDONYMIZE_OPTION] = None,
    names: Annotated[Optional[Path], NAMES_OPTION] = None,
) -> None:
    """Propose candidate new codes from the segments no code covers: label, size, 3 exemplars."""
    from pipeline.codebook import load_codebook
    from pipeline.config import load_config
    from pipeline.discover import discover, uncovered_rows, uncovered_segments
    from pipeline.engine import Stages
    from pipeline.errors import InputError, PilahError
    from pipeline.labels import read_table
    from pipeline.review import export_candidates

    if min_size < 3 or max_candidates < 1:
        _fail(ValueError(f"--min-size must be at least 3 and --max-candidates at least 1 (got {min_size}, {max_candidates})"))
    try:
        cfg = load_config(config)
        if input is not None:
            segments, source = uncovered_rows(read_table(input, text_column, codes_column), input), input
        else:
            segments = uncovered_segments(project, cfg.section("suggest").get("skip_speakers", []))
            source = project / ".pilah" / "pilah.sqlite"
        if segments.empty:
            raise InputError(source, "no uncoded segments: every segment has a code or a suggestion, so there is nothing to discover")
        book = load_codebook(cfg.path("suggest", "codebook"))
        stages = Stages(cfg, book, None)
        with console.status(f"Clustering {len(segments)} uncoded segments…"):
            candidates = discover(segments, stages, seed=seed, max_candidates=max_candidates, min_size=min_size)
        if input is None and _pseudonymize(cfg, pseudonymize):
            from pipeline.privacy import pseudonymize_candidates
            from pipeline.store import Store

            with Store(project) as store:
                candidates = pseudonymize_candidates(candidates, store, cfg, book, names)
        written = export_candidates(candidates, out)
    except PilahError as exc:
        _fail(exc)
    counts = candidates.attrs["counts"]
    table = Table(title=f"Candidate codes from {counts['uncovered']} uncoded segments ({candidates.attrs['seconds']:.1f} s)")
    for column in ("candidate", "language", "label", "size", "cohesion"):
        table.add_column(column, justify="right" if column in ("size", "cohesion") else "left")
    for row in candidates.itertuples(index=False):
        table.add_row(row.candidate, row.language, row.label, str(row.size), f"{row.cohesion:.2f}")
    Console().print(table)
    Console().print(f"{counts['clustered']} segments in candidates, {counts['unclustered']} in groups too small, "
                    f"{counts['too_short']} with fewer than 3 content words")
    for path in written:
        Console().print(f"wrote {path}")


@app.command("report")
def report_cli(
    project: Annotated[Path, typer.Option("--project", help="Project directory holding the .pilah/ database.")] = Path("."),
    out: Annotated[Path, typer.Option("--out", help="The HTML report to write; displays.xlsx goes beside it.")] = Path("out/report.html"),
    lang: Annotated[Optional[str], typer.Option("--lang", help="Labels in Indonesian or English: id | en (default: [report] lang).")] = None,
    source: Annotated[Optional[str], typer.Option("--source", help="accepted | suggested | all: accepted codings, pending suggestions, or both, each labelled (default: [report] source).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    pseudonymize: Annotated[Optional[bool], PSEUDONYMIZE_OPTION] = None,
    names: Annotated[Optional[Path], NAMES_OPTION] = None,
) -> None:
    """Write the data display: one self-contained HTML report (overview, factor matrix,
    code × case matrices, co-occurrence, frequencies, quotes) and the same matrices as
    sheets in displays.xlsx beside it. It opens offline and prints to PDF."""
    from pipeline.errors import PilahError
    from pipeline.report import DISPLAYS_FILE, report_settings, write_report
    from pipeline.store import Store

    _require_project(project)
    try:
        cfg, book = _project_codebook(config)
        with Store(project) as store:
            summary = write_report(_exported(store, cfg, book, pseudonymize, names), book, out,
                                   xlsx_path=out.parent / DISPLAYS_FILE,
                                   skip_speakers=cfg.section("suggest").get("skip_speakers", []),
                                   **report_settings(cfg, lang, source))
    except PilahError as exc:
        _fail(exc)
    shown = ", ".join(f"{n} {status}" for status, n in summary["shown"].items()) or "nothing accepted or pending yet"
    state = "unchanged since it was written" if summary["unchanged"] else f"in {summary['seconds']['total']:.1f} s"
    Console().print(f"report of {summary['segments']} segments ({shown}) {state}")
    for path in summary["outputs"]:
        Console().print(f"wrote {path}")


review_app = typer.Typer(help="The analyst's review: import decisions, see where the review stands, export sheets.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")
PROJECT_OPTION = typer.Option("--project", help="Project directory holding the .pilah/ database.")
CONFIG_OPTION = typer.Option("--config", help="TOML file overriding configs/pilah.toml.")


def _project_codebook(config: Optional[Path]):
    from pipeline.codebook import load_codebook
    from pipeline.config import load_config

    cfg = load_config(config)
    return cfg, load_codebook(cfg.path("suggest", "codebook"))


def _pseudonymize(cfg, flag: Optional[bool]) -> bool:
    from pipeline.privacy import wanted

    return wanted(cfg, flag)


def _exported(store, cfg, book, flag: Optional[bool], names: Optional[Path]):
    """What an export reads: the store, or its pseudonymised view (--pseudonymize)."""
    if not _pseudonymize(cfg, flag):
        return store
    from pipeline.privacy import pseudonymised

    return pseudonymised(store, cfg, book, names)


def _require_project(project: Path) -> None:
    from pipeline.errors import InputError
    from pipeline.store import STORE_DIR, STORE_FILE

    if not (project / STORE_DIR / STORE_FILE).exists():
        _fail(InputError(project, "no project database here (.pilah/pilah.sqlite); run `pilah run --project DIR` first"))


@review_app.command("import")
def review_import_cli(
    file: Annotated[Path, typer.Argument(help="Reviewed sheet (.xlsx or .csv) written by Pilah.")],
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Reviewer of rows whose reviewer cell is empty.")] = None,
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    config: Annotated[Optional[Path], CONFIG_OPTION] = None,
) -> None:
    """Append the accept / reject / edit / add decisions of a reviewed sheet to the project.

    Bad rows are reported by row number and reason and skipped; importing a sheet twice adds nothing."""
    from pipeline.decisions import import_sheet
    from pipeline.errors import PilahError
    from pipeline.store import Store

    _require_project(project)
    started = time.perf_counter()
    try:
        cfg, book = _project_codebook(config)
        with Store(project) as store:
            report = import_sheet(store, file, book, reviewer or cfg.section("review").get("reviewer") or None)
    except PilahError as exc:
        _fail(exc)
    out = Console()
    out.print(f"{file}: {report.rows} rows — {report.added} decisions added, {report.unchanged} already in the project, "
              f"{report.pending} undecided, {len(report.problems)} skipped ({time.perf_counter() - started:.1f} s)")
    if report.stale:
        out.print(f"[yellow]{report.stale} decision(s) are on segments whose text has changed since (stale)")
    for row, reason in report.problems:
        out.print(f"[yellow]row {row}[/]: {reason}")


@review_app.command("status")
def review_status_cli(
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Per code and per reviewer: suggested, accepted, rejected, edited, added, pending, stale."""
    from pipeline.decisions import review_status
    from pipeline.errors import PilahError
    from pipeline.store import Store

    _require_project(project)
    try:
        with Store(project) as store:
            status = review_status(store)
    except PilahError as exc:
        _fail(exc)
    if json_out:
        print(json.dumps(status, indent=2, ensure_ascii=False))
        return
    kinds = ("suggested", "accepted", "rejected", "edited", "added", "pending", "stale")
    for title, rows, columns in (("Review by code", status["per_code"], kinds),
                                 ("Review by reviewer", status["per_reviewer"], kinds[1:5] + ("stale",))):
        table = Table(title=title)
        table.add_column("code" if title.endswith("code") else "reviewer")
        for column in columns:
            table.add_column(column, justify="right")
        for name, counts in rows.items():
            table.add_row(name, *(str(counts[c]) for c in columns))
        Console().print(table)
    Console().print(f"{status['decisions']} decisions in force ({status['decision_records']} recorded), "
                    f"{status['codings']} codings, {status['pending']} suggestions pending, {status['stale']} stale")


@review_app.command("export")
def review_export_cli(
    out: Annotated[Path, typer.Option("--out", help="The sheet to write (.xlsx or .csv).")] = Path("out/review.xlsx"),
    reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Pre-fill only this reviewer's decisions (a blind sheet for a second coder).")] = None,
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    config: Annotated[Optional[Path], CONFIG_OPTION] = None,
    pseudonymize: Annotated[Optional[bool], PSEUDONYMIZE_OPTION] = None,
    names: Annotated[Optional[Path], NAMES_OPTION] = None,
) -> None:
    """Write the review sheet of the whole project, decisions in force pre-filled."""
    from pipeline.errors import PilahError
    from pipeline.review import review_frame, write_sheet
    from pipeline.store import Store

    _require_project(project)
    try:
        cfg, book = _project_codebook(config)
        with Store(project) as store:
            frame, stale = review_frame(_exported(store, cfg, book, pseudonymize, names), book, reviewer=reviewer,
                                        skip_speakers=cfg.section("suggest").get("skip_speakers", []))
        written = write_sheet(frame, out, book, stale)
    except PilahError as exc:
        _fail(exc)
    Console().print(f"wrote {written}: {len(frame)} rows, "
                    f"{int((frame['decision'] != '').sum())} pre-filled, {len(stale)} stale decisions")


@review_app.command("next")
def review_next_cli(
    n: Annotated[int, typer.Option("--n", help="How many segments.")] = 50,
    out: Annotated[Path, typer.Option("--out", help="The sheet to write (.xlsx or .csv).")] = Path("out/review_next.xlsx"),
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    config: Annotated[Optional[Path], CONFIG_OPTION] = None,
    pseudonymize: Annotated[Optional[bool], PSEUDONYMIZE_OPTION] = None,
    names: Annotated[Optional[Path], NAMES_OPTION] = None,
) -> None:
    """The unreviewed segments whose review would teach the model most, as a review sheet."""
    from pipeline.engine import Stages
    from pipeline.errors import PilahError
    from pipeline.retrain import next_for_review
    from pipeline.review import review_frame, write_sheet
    from pipeline.store import Store

    _require_project(project)
    try:
        cfg, book = _project_codebook(config)
        skip = cfg.section("suggest").get("skip_speakers", [])
        chosen = next_for_review(project, book, Stages(cfg, book, None), n=n, skip_speakers=skip)
        with Store(project) as store:
            frame, _ = review_frame(_exported(store, cfg, book, pseudonymize, names), book, skip_speakers=skip)
        rank = {segment: i for i, segment in enumerate(chosen)}
        frame = frame[frame["segment_id"].isin(rank)]
        frame = frame.iloc[frame["segment_id"].map(rank).argsort(kind="stable")].reset_index(drop=True)
        written = write_sheet(frame, out, book)
    except PilahError as exc:
        _fail(exc)
    Console().print(f"wrote {written}: {len(chosen)} segments, {len(frame)} rows")


@app.command("retrain")
def retrain_cli(
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Also train on this labelled table (text, codes).")] = None,
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    config: Annotated[Optional[Path], CONFIG_OPTION] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report to this JSON file.")] = None,
) -> None:
    """Train a new model version on the project's codings; score it against the model in use
    on the same segments (whole documents held out); switch to it when it scores as well or better."""
    from pipeline.engine import Stages
    from pipeline.errors import PilahError
    from pipeline.retrain import retrain

    _require_project(project)
    try:
        cfg, book = _project_codebook(config)
        with console.status("Training on the project's codings and cross-validating…"):
            report = retrain(project, book, Stages(cfg, book, None), labels)
    except PilahError as exc:
        _fail(exc)
    table = Table(title=f"Model {report['version']} from {report['rows']} reviewed segments "
                        f"({report['coded_rows']} coded, {report['documents']} documents)")
    for column in ("", "precision", "recall", "F1", "direction macro-F1", "scheme"):
        table.add_column(column, justify="right" if column not in ("", "scheme") else "left")
    for name in ("before", "after"):
        row = report[name]
        if row is not None:
            table.add_row(f"{name} ({row['model']})", f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
                          "—" if row["direction_macro_f1"] is None else f"{row['direction_macro_f1']:.3f}", row["scheme"])
    Console().print(table)
    codes = Table(title="Per code: what suggests it")
    for column in ("code", "uses", "model F1", "rules F1"):
        codes.add_column(column)
    for code, choice in report["codes"].items():
        model_f1 = (choice.get("model") or {}).get("f1")
        rules_f1 = (choice.get("rules") or {}).get("f1")
        codes.add_row(code, choice.get("use", ""), "—" if model_f1 is None else f"{model_f1:.3f}",
                      "—" if rules_f1 is None else f"{rules_f1:.3f}")
    Console().print(codes)
    Console().print(("switched to " if report["switched"] else "kept ") + f"{report['in_use']}"
                    + ("" if report["switched"] else f"; `pilah models use {report['version']}` switches") +
                    f" ({report['seconds']} s)")
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


models_app = typer.Typer(help="The model versions kept in the project (`pilah models use VERSION` switches).")
app.add_typer(models_app, name="models")


@models_app.callback(invoke_without_command=True)
def models_cli(ctx: typer.Context, project: Annotated[Path, PROJECT_OPTION] = Path(".")) -> None:
    """List the project's model versions, with their figures and the one in use."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.store import Store

    _require_project(project)
    with Store(project) as store:
        frame = store.models_frame()
        chosen = store.setting("model")
    table = Table(title="Model versions" + ("" if chosen else " (in use: the configured model)"))
    for column in ("version", "in use", "created", "rows", "F1 after", "F1 before"):
        table.add_column(column, no_wrap=column == "version")
    for row in frame.itertuples(index=False):
        summary = json.loads(row.summary)
        after, before = summary.get("after") or {}, summary.get("before") or {}
        table.add_row(row.version, "●" if row.in_use else "", row.created_at[:16], str(summary.get("rows", "")),
                      f"{after.get('f1', float('nan')):.3f}", f"{before['f1']:.3f}" if before else "—")
    Console().print(table)


@models_app.command("use")
def models_use_cli(version: Annotated[str, typer.Argument(help="A version listed by `pilah models`.")],
                   project: Annotated[Path, PROJECT_OPTION] = Path(".")) -> None:
    """Suggest with this model version from the next `pilah run` on (new suggestion rows; decisions stay)."""
    from pipeline.errors import PilahError
    from pipeline.retrain import use_model

    _require_project(project)
    try:
        path = use_model(project, version)
    except PilahError as exc:
        _fail(exc)
    Console().print(f"the project now suggests with {version} ({path})")


@app.command("agreement")
def agreement_cli(
    coders: Annotated[Optional[str], typer.Option("--coders", help="Coders to compare, e.g. A,B (default: all).")] = None,
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the figures to this JSON file.")] = None,
) -> None:
    """Per code: Cohen's kappa between coders and between the model and each coder,
    Krippendorff's alpha over all coders, percent agreement; direction separately."""
    from pipeline.agreement import agreement
    from pipeline.errors import PilahError
    from pipeline.store import Store

    _require_project(project)
    try:
        with Store(project) as store:
            figures = agreement(store, [c.strip() for c in coders.split(",")] if coders else None)
    except PilahError as exc:
        _fail(exc)
    if figures["unknown_coders"]:
        _fail(ValueError(f"--coders: no decisions by {', '.join(figures['unknown_coders'])} in this project"))
    pairs = [f"{a}|{b}" for i, a in enumerate(figures["coders"]) for b in figures["coders"][i + 1:]]
    table = Table(title=f"Agreement ({figures['unit']})")
    table.add_column("code")
    for pair in pairs:
        table.add_column(f"κ {pair.replace('|', '–')}", justify="right")
    table.add_column("α", justify="right")
    for coder in figures["coders"]:
        table.add_column(f"κ model–{coder}", justify="right")
    table.add_column("direction % (pairs)", justify="right")
    table.add_column("ready", justify="center")
    show = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    for code, e in figures["per_code"].items():
        directions = [d["percent"] for d in e["direction"].values() if d["percent"] is not None]
        table.add_row(code, *(show(e["pairs"][p]["kappa"]) for p in pairs), show(e["alpha"]),
                      *(show(e["model"][c]["kappa"]) for c in figures["coders"]),
                      show(float(sum(directions) / len(directions))) if directions else "—",
                      "yes" if e["ready"] else "[yellow]not ready")
    Console().print(table)
    Console().print(f"segments reviewed: {figures['segments_reviewed']}; codes below κ {figures['ready_kappa']} "
                    f"(model against the coders) are not ready for bulk suggestion: {', '.join(figures['not_ready']) or 'none'}")
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


EXCHANGE_FORMATS = ("qdpx", "qdc")


def _exchange_codebook(project: Path, config: Optional[Path], codebook: Optional[Path]):
    """The codebook an exchange uses: --codebook, else the project's own (written by an
    earlier `pilah import`), else the configured one."""
    from pipeline.codebook import load_codebook
    from pipeline.config import load_config

    cfg = load_config(config)
    path = codebook or (project / "codebook.yaml" if (project / "codebook.yaml").is_file() else cfg.path("suggest", "codebook"))
    return cfg, load_codebook(path)


@app.command("export")
def export_cli(
    format: Annotated[str, typer.Option("--format", help="qdpx: the project (sources, codebook, users, codings); qdc: the codebook alone.")] = "qdpx",
    out: Annotated[Optional[Path], typer.Option("--out", help="File to write; default out/project.qdpx or out/codebook.qdc.")] = None,
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    with_suggestions: Annotated[bool, typer.Option("--with-suggestions", help="Add the pending suggestions as codings of the user 'Pilah suggestions' (score, direction, evidence in their description).")] = False,
    codebook: Annotated[Optional[Path], typer.Option("--codebook", help="Codebook YAML; default the project's codebook.yaml, else the config's.")] = None,
    config: Annotated[Optional[Path], CONFIG_OPTION] = None,
    pseudonymize: Annotated[Optional[bool], PSEUDONYMIZE_OPTION] = None,
    names: Annotated[Optional[Path], NAMES_OPTION] = None,
) -> None:
    """Write a REFI-QDA file for NVivo, ATLAS.ti, MAXQDA or QualCoder: the project (.qdpx) or its codebook (.qdc)."""
    from pipeline.errors import PilahError
    from pipeline.refi import export_qdc, export_qdpx
    from pipeline.store import Store

    if format not in EXCHANGE_FORMATS:
        _fail(ValueError(f"--format {format!r}: expected one of {', '.join(EXCHANGE_FORMATS)}"))
    target = out or Path("out") / ("project.qdpx" if format == "qdpx" else "codebook.qdc")
    try:
        cfg, book = _exchange_codebook(project, config, codebook)
        if format == "qdc":
            report = export_qdc(book, target)
            Console().print(f"wrote {target}: {report['codes']} codes (with direction child codes)")
            return
        _require_project(project)
        with Store(project) as store:
            report = export_qdpx(_exported(store, cfg, book, pseudonymize, names), book, target,
                                 with_suggestions=with_suggestions,
                                 name=project.resolve().name or "Pilah project")
    except PilahError as exc:
        _fail(exc)
    Console().print(f"wrote {target}: {report['sources']} sources, {report['codes']} codes, {len(report['users'])} users, "
                    f"{report['codings']} codings" + (f", {report['suggestions']} pending suggestions" if with_suggestions else ""))
    if report["skipped"]:
        Console().print(f"[yellow]{len(report['skipped'])} coding(s) not exported[/]: their document's text changed since")


@app.command("import")
def import_cli(
    file: Annotated[Path, typer.Argument(help="A REFI-QDA project (.qdpx) or codebook (.qdc) from NVivo, ATLAS.ti, MAXQDA, QualCoder or Pilah.")],
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    codebook: Annotated[Optional[Path], typer.Option("--codebook", help="Codebook YAML to merge into; default the project's codebook.yaml, else the config's.")] = None,
    config: Annotated[Optional[Path], CONFIG_OPTION] = None,
    suggest: Annotated[bool, typer.Option("--suggest/--no-suggest", help="Tokenize new sources and suggest codes for them (as `pilah run` does).")] = True,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the full report (everything skipped, with reasons) to this JSON file.")] = None,
) -> None:
    """Bring sources, codes, users and codings of another tool's project into this one.

    Codes merge into the project's codebook (PROJECT/codebook.yaml; conflicts are reported,
    nothing is renamed silently); each thing not imported is listed with its reason."""
    from pipeline.errors import PilahError
    from pipeline.refi import import_file
    from pipeline.store import check_writable

    started = time.perf_counter()
    try:
        cfg, book = _exchange_codebook(project, config, codebook)
        if file.suffix.lower() == ".qdpx":
            check_writable(project)
        with console.status(f"Importing {file.name}…"):
            report = import_file(file, project, cfg, book, project / "codebook.yaml", suggest=suggest)
    except PilahError as exc:
        _fail(exc)
    figures = report.as_dict()
    out = Console()
    codes = figures["codes"]
    out.print(f"{file}: {len(report.sources)} sources imported ({len(report.documents_unchanged)} already in the project), "
              f"{len(codes['added'])} codes added ({codes['matched']} already known), {len(report.users)} users, "
              f"{report.codings['added']} codings added ({report.codings['already in the project']} already in the project: "
              f"{report.codings['segment']} on one segment, {report.codings['several segments']} on several, "
              f"{report.codings['span only']} on part of a segment only) in {time.perf_counter() - started:.1f} s")
    if report.documents_changed:
        out.print(f"[yellow]{len(report.documents_changed)} document(s) had another text in the project[/] "
                  f"({', '.join(report.documents_changed[:5])}): stored as a new version; decisions on segments whose "
                  "text changed are now stale")
    for name, code in codes["renamed"]:
        out.print(f"[yellow]renamed[/] code {name!r} → id {code!r} (its name is kept for the next export)")
    for conflict in codes["conflicts"]:
        out.print(f"[yellow]conflict[/] {conflict}")
    for reason, count in figures["skipped_by_reason"].items():
        out.print(f"[yellow]not imported[/] ({count}): {reason}")
    if report.codebook:
        toml = project / "pilah.toml"
        if not toml.exists():
            toml.write_text('# Written by `pilah import`: the project\'s codebook holds the imported codes.\n'
                            '[suggest]\ncodebook = "codebook.yaml"\n', encoding="utf-8")
        out.print(f"the project's codebook is now {report.codebook}; give [bold]--config {toml}[/] to "
                  "`pilah run`, `pilah retrain` and `pilah review`")
    if json_out is not None:
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


privacy_app = typer.Typer(help="What pseudonymised exports replace (for the researcher's eyes only).",
                          no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("report")
def privacy_report_cli(
    project: Annotated[Path, PROJECT_OPTION] = Path("."),
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures and the mapping as JSON.")] = False,
) -> None:
    """List what --pseudonymize replaces, by kind and count, with each real value and its
    pseudonym. For the researcher only: the mapping undoes the pseudonymisation."""
    from pipeline.errors import PilahError
    from pipeline.privacy import privacy_report
    from pipeline.store import Store

    _require_project(project)
    try:
        with Store(project) as store:
            report = privacy_report(store)
    except PilahError as exc:
        _fail(exc)
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
        mapping.add_row(row["kind"], escape(row["pseudonym"]), escape(row["value"]), str(row["occurrences"]),
                        row["created_at"][:10])
    out.print(mapping)


def _shown(path: Path) -> str:
    """A path as recorded in meta.json: relative to the project root when inside it."""
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _count_files(corpus: Path) -> int:
    from pipeline.ingest import SUPPORTED_SUFFIXES

    if corpus.is_file():
        return 1
    manifest = corpus / "manifest.csv"
    if manifest.exists():  # only sizes the progress bar; ingest reports a bad manifest
        lines = manifest.read_bytes().count(b"\n")
        return max(lines - 1, 0)
    return sum(1 for p in corpus.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES) if corpus.exists() else 0


def _print_summary(summary: dict) -> None:
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
    table.add_row("model", summary["model"]["version"] if summary["model"] else "none (codebook rules only)")
    table.add_row("seconds", f"{summary['seconds']['total']:.1f}")
    out.print(table)
    for report in summary.get("imported_decisions", []):
        if report["added"]:
            out.print(f"[green]imported {report['added']} decision(s)[/] from {report['path']} before rewriting it")
    if counts.get("stale_decisions"):
        out.print(f"[yellow]{counts['stale_decisions']} decision(s) are stale[/]: their segment's text changed since "
                  "(listed on the sheet's 'Stale decisions' tab)")
    for failure in summary["failures"]:
        out.print(f"[yellow]failed[/] {escape(failure['path'])} ({failure['stage']}): {escape(failure['reason'])}")
    if summary.get("exports_unchanged"):
        out.print("nothing changed since the last run: the sheets and the report are as they were "
                  f"({', '.join(Path(p).name for p in summary['outputs'])})")
    else:
        for path in summary["outputs"]:
            out.print(f"wrote {path}")
    out.print(f"wrote {Path(summary['outputs'][0]).parent / 'run.json'}" if summary["outputs"] else "")


# Command groups that live in their own modules register themselves on the app.
from pipeline.cli import conclude as _conclude, project as _project, serve as _serve  # noqa: E402

for _module in (_project, _serve, _conclude):
    _module.register(app)


def main() -> None:  # pragma: no cover - console script entry
    logging.basicConfig(level=logging.WARNING)
    try:
        app()
    finally:
        # The command is done. The interpreter's collections at exit would walk every object
        # that importing spaCy, pandas and SciPy made (0.4 s of each command); frozen, they are
        # simply freed with the process. Exit handlers and flushing still run.
        gc.freeze()


if __name__ == "__main__":
    main()
