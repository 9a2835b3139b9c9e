"""Pilah's command line: thin commands that parse arguments and call the workflows."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.config import PROJECT_ROOT

app = typer.Typer(
    help="Pilah: bilingual (Indonesian + English) code suggestions for qualitative research, for analysts to review.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)

DEFAULT_CORPUS = PROJECT_ROOT / "corpus"


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@app.command("run")
def run_cli(
    corpus: Annotated[Path, typer.Argument(help="Folder (or file) of interviews and documents.")] = DEFAULT_CORPUS,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file overriding configs/pilah.toml.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where the review exports and run.json go.")] = Path("out"),
    project: Annotated[Path, typer.Option("--project", help="Project directory holding the .pilah/ database.")] = Path("."),
) -> None:
    """Ingest, segment, tokenize and suggest codes for a corpus; write the review sheets."""
    from pipeline.errors import PilahError
    from pipeline.run import run

    files = _count_files(corpus)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("Reading documents", total=files or None)

        def advance(path: str) -> None:
            progress.update(task, advance=1, description=f"[cyan]{path}")

        try:
            summary = run(corpus, config, out, project, on_document=advance)
        except PilahError as exc:
            _fail(exc)
    _print_summary(summary)


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
            table, source = read_labels(labels, require_codes=True), _shown(labels)
            codes = sorted(set().union(*table["labels"]))
            book = codebook_for_codes(codes, load_codebook(cfg.path("suggest", "codebook")), source)
        else:
            book = load_codebook(codebook or cfg.path("suggest", "codebook"))
            if labels is not None:
                table, source = read_labels(labels, set(book.codes), require_codes=True), _shown(labels)
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
) -> None:
    """Suggest codes for every row of a table: adds suggested_codes, suggested_scores, evidence."""
    from pipeline.config import load_config
    from pipeline.engine import Stages
    from pipeline.errors import InputError, PilahError
    from pipeline.labels import read_table
    from pipeline.train import load_model_dir, suggest_labels

    try:
        trained, meta, book = load_model_dir(model)
        table = read_table(input)
        if "text" not in table.columns:
            raise InputError(input, f"no 'text' column; found {', '.join(table.columns)}")
        started = time.perf_counter()
        result = suggest_labels(table, trained, book, Stages(load_config(config), book, trained), jobs=jobs)
        seconds = time.perf_counter() - started
        _write_table(result, out)
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
) -> None:
    """Per-code precision, recall, F1, kappa and support; micro/macro F1; direction figures."""
    from pipeline.config import load_config
    from pipeline.engine import Stages
    from pipeline.errors import PilahError
    from pipeline.labels import read_labels
    from pipeline.train import evaluate_labels, load_model_dir

    try:
        trained, meta, book = load_model_dir(model)
        table = read_labels(labels, set(book.codes))
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
    from pipeline.errors import InputError

    if out.suffix.lower() == ".xlsx":
        frame.to_excel(out, index=False)
    elif out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    else:
        raise InputError(out, "expected a .csv or .xlsx output file")


@app.command("langid")
def langid_cli(
    input: Annotated[Path, typer.Option("--input", help="CSV or XLSX table with a 'text' column.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the table (.csv or .xlsx).")],
    column: Annotated[str, typer.Option("--column", help="The column holding the text.")] = "text",
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
            raise InputError(input, f"no {column!r} column; found {', '.join(frame.columns)} (choose one with --column)")
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
            segments, source = uncovered_rows(read_table(input), input), input
        else:
            segments = uncovered_segments(project, cfg.section("suggest").get("skip_speakers", []))
            source = project / ".pilah" / "pilah.sqlite"
        if segments.empty:
            raise InputError(source, "no uncoded segments: every segment has a code or a suggestion, so there is nothing to discover")
        stages = Stages(cfg, load_codebook(cfg.path("suggest", "codebook")), None)
        with console.status(f"Clustering {len(segments)} uncoded segments…"):
            candidates = discover(segments, stages, seed=seed, max_candidates=max_candidates, min_size=min_size)
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
    table.add_row("documents", f"{counts['documents']} ({counts['documents_processed']} processed, {counts['documents_unchanged']} unchanged)")
    table.add_row("segments", str(counts["segments"]))
    table.add_row("tokens", str(counts["tokens"]))
    table.add_row("suggestions", str(counts["suggestions"]))
    table.add_row("failures", str(counts["failures"]))
    table.add_row("model", summary["model"]["version"] if summary["model"] else "none (codebook rules only)")
    table.add_row("seconds", f"{summary['seconds']['total']:.1f}")
    out.print(table)
    for failure in summary["failures"]:
        out.print(f"[yellow]failed[/] {failure['path']} ({failure['stage']}): {failure['reason']}")
    for path in summary["outputs"]:
        out.print(f"wrote {path}")
    out.print(f"wrote {Path(summary['outputs'][0]).parent / 'run.json'}" if summary["outputs"] else "")


def main() -> None:  # pragma: no cover - console script entry
    logging.basicConfig(level=logging.WARNING)
    app()


if __name__ == "__main__":
    main()
