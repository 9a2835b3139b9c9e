"""The workflows on tables (CSV/XLSX with a text column) rather than a corpus: suggest codes
for every row with a trained model (``pilah suggest``), score a model on a labelled table
(``pilah evaluate``), and label each row's language (``pilah langid``).

Each takes a :class:`~pipeline.project.Project` for its settings (any folder is one for
these: nothing is stored).
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.labels import missing_column_problem, read_labels, read_table, restore_columns
from pipeline.outputs import write_table
from pipeline.project import Project


def suggest_table(project: Project, table_path: Path, model_dir: Path, out: Path, jobs: int = 0,
                  text_column: str = "text") -> tuple[pd.DataFrame, dict, float]:
    """Suggest codes for every row of a table with the model at ``model_dir`` (and the
    codebook saved with it); writes ``out`` (.csv or .xlsx) with ``suggested_codes``,
    ``suggested_scores`` and ``evidence`` added. Returns the table, the model's meta and the
    seconds the suggestions took."""
    from pipeline.table_suggestions import load_model_dir, suggest_labels

    trained, meta, book = load_model_dir(model_dir)
    table = read_table(table_path, text_column)
    if missing_column_problem(table):
        raise InputError(table_path, missing_column_problem(table))
    started = time.perf_counter()
    result = suggest_labels(table, trained, book, project.stages(book, trained), jobs=jobs)
    seconds = time.perf_counter() - started
    result.attrs["renamed"] = table.attrs.get("renamed", {})
    write_table(restore_columns(result), out)
    return result, meta, seconds


def evaluate_table(project: Project, labels: Path, model_dir: Path, text_column: str = "text",
                   codes_column: str = "codes") -> tuple[dict, dict]:
    """Per-code precision, recall, F1 and κ of the model at ``model_dir`` on a labelled
    table it has not seen; micro/macro F1 and direction figures. Returns them and the meta."""
    from pipeline.table_suggestions import load_model_dir
    from pipeline.train import evaluate_labels

    trained, meta, book = load_model_dir(model_dir)
    table = read_labels(labels, set(book.codes), text_column=text_column, codes_column=codes_column)
    return evaluate_labels(table, trained, book, project.stages(book, trained)), meta


def label_languages(project: Project, table_path: Path, out: Path, column: str = "text") -> pd.DataFrame:
    """Label each row's language (``id``, ``en``, ``mixed``, ``und``) with a score: writes
    ``out`` with ``lang_detected`` and ``lang_score`` added."""
    from pipeline.language import LanguageSettings, label_table

    frame = read_table(table_path)
    if column not in frame.columns:
        raise InputError(table_path, f"no {column!r} column; found {', '.join(frame.columns)} (choose one with --text-column)")
    labelled = label_table(frame, LanguageSettings(**project.config.section("language")),
                           project.config.section("nlp")["colloquial_lexicon"], text_column=column)
    write_table(labelled, out)
    return labelled
