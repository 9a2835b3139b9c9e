"""The run workflow: corpus folder → project store → review exports and ``run.json``."""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import sklearn
import spacy

import pipeline
from pipeline.codebook import load_codebook
from pipeline.config import load_config
from pipeline.engine import Stages, process_corpus
from pipeline.errors import InputError
from pipeline.review import export_suggestions, review_frame
from pipeline.store import Store
from pipeline.suggest import load_model

log = logging.getLogger(__name__)


def run(
    corpus: Path,
    config_path: Path | None = None,
    out_dir: Path = Path("out"),
    project_dir: Path = Path("."),
    on_document: Callable[[str], None] | None = None,
) -> dict:
    """Process ``corpus`` into the project store of ``project_dir`` and write the exports.

    Returns the run summary that is also written to ``out_dir / "run.json"``.
    """
    started = time.perf_counter()
    if not corpus.exists():
        raise InputError(corpus, "corpus folder not found")
    config = load_config(config_path)
    codebook = load_codebook(config.path("suggest", "codebook"))
    model, meta = None, None
    model_dir = config.path("suggest", "model")
    if (model_dir / "meta.json").exists():
        model, meta = load_model(model_dir)
        if meta["codebook"]["sha256"] != codebook.hash:
            log.warning("model %s was trained with another codebook; using codebook rules only", model_dir)
            model, meta = None, None
    model_version = meta["version"] if meta else None
    stages = Stages(config, codebook, model)
    with Store(project_dir) as store:
        run_id = store.start_run(str(corpus))
        checksum = meta["files"]["model.joblib"] if meta else None
        stats = process_corpus(corpus, stages, store, run_id, model_version, checksum, on_document)
        frame = review_frame(store.suggestions_frame(stats.document_ids), codebook)
        counts = store.document_counts(stats.document_ids)
        seconds = dict(stats.seconds)
        export_started = time.perf_counter()
        written = export_suggestions(frame, out_dir, codebook, config.section("review")["formats"])
        seconds["export"] = time.perf_counter() - export_started
        summary = {
            "run_id": run_id,
            "corpus": str(corpus),
            "project_store": str(store.path),
            "counts": {
                "documents": stats.counts["documents"],
                "documents_processed": stats.counts["documents_processed"],
                "documents_unchanged": stats.counts["documents_unchanged"],
                **counts,
                "failures": len(stats.failures),
            },
            "suggestions_per_document": _per_document(frame),
            "seconds": {k: round(v, 3) for k, v in seconds.items()} | {"total": round(time.perf_counter() - started, 3)},
            "versions": {
                "pilah": pipeline.__version__,
                "python": platform.python_version(),
                "spacy": spacy.__version__,
                "scikit-learn": sklearn.__version__,
                "pandas": pd.__version__,
            },
            "config": {"sources": list(config.sources), "sha256": config.hash},
            "codebook": {"source": codebook.source, "sha256": codebook.hash},
            "model": {"path": str(model_dir), "version": model_version} if meta else None,
            "failures": [asdict(f) for f in stats.failures],
            "outputs": [str(p) for p in written],
        }
        store.finish_run(run_id, summary)
    (out_dir / "run.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary


def _per_document(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame.groupby("document").size().items()} if len(frame) else {}
