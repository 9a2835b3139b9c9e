"""Suggesting codes for the rows of a table (``pilah suggest``) with a trained model.

Scoring needs the model directory's ``Scorer``, the codebook saved with it and the
pipelines, but not scikit-learn, which training (``pipeline.train``) imports: this module is
what ``pilah suggest`` loads.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.codebook import Codebook, load_codebook
from pipeline.engine import Stages
from pipeline.errors import ModelError
from pipeline.executors import forkable
from pipeline.labels import format_codes
from pipeline.segment import text_pieces
from pipeline.suggest import Scorer, Suggester, load_model
from pipeline.suggest.features import featurize_many

CODEBOOK_FILE = "codebook.yaml"


def load_model_dir(directory: Path) -> tuple[Scorer, dict, Codebook]:
    """Load a model directory and the codebook saved with it (checked against meta.json)."""
    model, meta = load_model(directory)
    path = directory / CODEBOOK_FILE
    if not path.exists():
        raise ModelError(f"{path} is missing; retrain with `pilah train … --out {directory}`")
    codebook = load_codebook(path)
    if codebook.hash != meta["codebook"]["sha256"]:
        raise ModelError(f"{path} is not the codebook {directory} was trained with; retrain it")
    return model, meta, codebook


def table_features(labels: pd.DataFrame, stages: Stages) -> list:
    """Features of every row; the language is detected only where no ``lang`` is given."""
    segments = stages.table_segments(labels, Counter())
    return featurize_many(stages.tokenize(segments, Counter()), stages.suggester.rules)


PARALLEL_MIN_ROWS = 1000  # below this, starting worker processes costs more than it saves
_WORKER_STATE: tuple | None = None  # (model, codebook, stages), inherited by forked workers


def suggest_labels(table: pd.DataFrame, model: Scorer, codebook: Codebook, stages: Stages,
                   jobs: int = 1) -> pd.DataFrame:
    """The rows of ``table`` plus ``suggested_codes`` (``code=direction;…``),
    ``suggested_scores`` (``code:score;…``) and ``evidence`` (``code: words | …``).

    ``jobs`` > 1 splits a table of at least ``PARALLEL_MIN_ROWS`` rows over that many worker
    processes (forked, so they share the loaded model and pipelines); ``0`` means one per CPU.
    The output is the same, row for row, as with one process. With the Stanza backend the
    table is always suggested in this process.
    """
    table = table.reset_index(drop=True)
    jobs = (os.cpu_count() or 1) if jobs == 0 else jobs
    if jobs > 1 and len(table) >= PARALLEL_MIN_ROWS and forkable(stages):
        global _WORKER_STATE
        _WORKER_STATE = (model, codebook, stages)
        chunks = [table.iloc[rows] for rows in np.array_split(np.arange(len(table)), jobs * 4)]
        try:
            with mp.get_context("fork").Pool(jobs) as pool:
                parts = pool.map(_suggest_chunk, chunks)
        finally:
            _WORKER_STATE = None
        return pd.concat(parts, ignore_index=True)
    proposals = _propose_in_pieces(table, model, codebook, stages)
    out = table.copy()
    out["suggested_codes"] = [format_codes({p["code"]: p["direction"] for p in row}) for row in proposals]
    out["suggested_scores"] = [";".join(f"{p['code']}:{p['score']:.3f}" for p in row) for row in proposals]
    out["evidence"] = [" | ".join(f"{p['code']}: {p['evidence']}" for p in row) for row in proposals]
    return out


def _propose_in_pieces(table: pd.DataFrame, model, codebook: Codebook, stages: Stages) -> list[list[dict]]:
    """Proposals per row; a row longer than a segment may be (a 10 MB cell) is suggested piece
    by piece, as ingest cuts a long segment, and keeps each code's best-scoring proposal."""
    settings = stages.config.section("suggest")
    owner, pieces = [], []
    for row, text in enumerate(table["text"]):
        for piece in text_pieces(str(text)):
            owner.append(row)
            pieces.append(piece)
    # with an encoder: each row's sentence vector, and the codebook's texts by meaning (issue 23)
    suggester = Suggester(codebook, model, settings, getattr(stages, "code_vectors", None))
    vectors = getattr(stages, "vectors", lambda texts: None)
    if owner == list(range(len(table))) and pieces == [str(t) for t in table["text"]]:
        return suggester.propose(table_features(table, stages), vectors=vectors(pieces))
    cut = table.iloc[owner].assign(text=pieces).reset_index(drop=True)
    best: list[dict[str, dict]] = [{} for _ in range(len(table))]
    for row, proposals in zip(owner, suggester.propose(table_features(cut, stages), vectors=vectors(pieces))):
        for proposal in proposals:
            if proposal["score"] > best[row].get(proposal["code"], {}).get("score", -1.0):
                best[row][proposal["code"]] = proposal
    limit = int(settings.get("max_codes_per_segment", 0))
    ranked = [sorted(found.values(), key=lambda p: -p["score"]) for found in best]
    return [r[:limit] if limit > 0 else r for r in ranked]


def _suggest_chunk(chunk: pd.DataFrame) -> pd.DataFrame:
    model, codebook, stages = _WORKER_STATE
    return suggest_labels(chunk, model, codebook, stages)
