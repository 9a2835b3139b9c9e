"""The retrain workflow: the project's codings → a new model version, scored before and after;
and the segments whose review would teach the model most (``pilah review next``).

Training rows are the segments analysts reviewed (at least one decision in force): their
codes are the codings in force of every coder (direction from the latest), so a segment
whose suggestions were all rejected is a row with no code. Stale segments count with the
text that was decided. Folds hold out whole documents.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.codebook import Codebook
from pipeline.engine import Stages
from pipeline.errors import InputError
from pipeline.labels import format_codes, read_labels
from pipeline.run import project_model
from pipeline.store import STORE_DIR, Store
from pipeline.suggest.features import code_frame
from pipeline.train import evaluate_labels, save_model, table_features, train

MODELS_DIR = "models"


def codings_table(store: Store) -> pd.DataFrame:
    """One row per reviewed segment: ``document``, ``segment_id``, ``speaker``, ``lang``,
    ``text`` and ``codes`` (``code=direction;…``) from the codings in force."""
    decisions = store.decisions_frame(in_force=True)
    codings = store.codings_frame()
    codings = codings[codings["segment_id"].notna()]
    units = decisions[["segment_id", "document_id", "speaker", "language", "segment_text", "decision_id"]]
    units = units.sort_values("decision_id").drop_duplicates("segment_id", keep="last")
    texts = dict(zip(codings["segment_id"], codings["text"]))
    segments = store.segment_texts(list(units["segment_id"]))
    rows = []
    for unit in units.itertuples(index=False):
        current, active = segments.get(unit.segment_id, ("", False))
        coded = codings[codings["segment_id"] == unit.segment_id].sort_values("coding_id")
        codes = {code: direction for code, direction in zip(coded["code"], coded["direction"])}
        rows.append({
            "document": unit.document_id,
            "segment_id": unit.segment_id,
            "speaker": unit.speaker or "",
            "lang": unit.language or "",
            "text": current if active else texts.get(unit.segment_id, unit.segment_text),
            "codes": format_codes({c: (d or None) for c, d in codes.items()}),
        })
    return pd.DataFrame(rows, columns=["document", "segment_id", "speaker", "lang", "text", "codes"])


def retrain(
    project_dir: Path,
    codebook: Codebook,
    stages: Stages,
    labels: Path | None = None,
) -> dict:
    """Train a new model version on the project's codings (and ``labels``), score the model
    in use and the new one on the same rows, keep the new version in the project and switch
    to it when it scores at least as well. Returns the report (also for ``--json``)."""
    started = time.perf_counter()
    with Store(project_dir) as store:
        table = codings_table(store)
        source = f"{len(table)} reviewed segments of {store.path}"
        if labels is not None:
            extra = read_labels(labels, set(codebook.codes)).drop(columns=["labels"])
            table = pd.concat([table, extra], ignore_index=True).fillna("")
            source += f" + {labels}"
        if not len(table) or not (table["codes"] != "").any():
            raise InputError(store.path, "no coding to learn from: review some suggestions first "
                                         "(`pilah review import SHEET`) or give --labels TABLE")
        old_model, old_meta, old_dir = project_model(store, stages.config, codebook)
        before = None
        if old_model is not None:
            before = evaluate_labels(table, old_model, codebook, stages)
        model, meta = train(table, codebook, stages, source)
        target = Path(project_dir) / STORE_DIR / MODELS_DIR / meta["version"]
        meta = save_model(model, meta, codebook, target)
        after = meta["metrics"]
        score = lambda m: m["suggestions"]["micro"]["f1"] if m else -1.0  # noqa: E731
        switched = after is not None and score(after) >= (score(before) if before else after["rules_only"]["f1"])
        if before is None and after is not None:  # no model in use: the codebook rules suggest alone
            rules = after["rules_only"]
            before_figures = {"model": None, "scheme": "codebook rules alone (no model in use)",
                              **{k: rules[k] for k in ("precision", "recall", "f1", "macro_f1")},
                              "direction_accuracy": after["direction_cues_only"]["accuracy"],
                              "direction_macro_f1": after["direction_cues_only"]["macro_f1"], "per_code": {}}
        else:
            before_figures = _figures(before, old_meta["version"] if old_meta else None, "model in use, on every row")
        report = {
            "version": meta["version"],
            "path": str(target),
            "rows": len(table),
            "coded_rows": int((table["codes"] != "").sum()),
            "documents": int(table["document"].nunique()),
            "before": before_figures,
            "after": _figures(after, meta["version"], after["scheme"] if after else "no cross-validation"),
            "rules_only": after["rules_only"] if after else None,
            "codes": _code_choice(meta),
            "in_use": meta["version"] if switched else (old_meta["version"] if old_meta else None),
            "switched": switched,
            "seconds": round(time.perf_counter() - started, 1),
        }
        store.add_model(meta["version"], str(target.resolve()), source, report)
        if switched:
            store.set_setting("model", str(target.resolve()))
    return report


def _figures(metrics: dict | None, version: str | None, scheme: str) -> dict | None:
    if not metrics:
        return None
    micro = metrics["suggestions"]["micro"]
    return {
        "model": version,
        "scheme": scheme,
        "precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"],
        "macro_f1": metrics["suggestions"]["macro_f1"],
        "direction_accuracy": metrics["direction"]["accuracy"],
        "direction_macro_f1": metrics["direction"]["macro_f1"],
        "per_code": {c: row["f1"] for c, row in metrics["suggestions"]["per_code"].items()},
    }


def _code_choice(meta: dict) -> dict:
    """Per code: rules or model, with the cross-validated figures that chose it."""
    sources = meta.get("code_sources")
    if sources:
        return sources
    per_code = (meta.get("metrics") or {}).get("suggestions", {}).get("per_code", {})
    learned = set(meta.get("learned_codes", []))
    return {code: {"use": "model" if code in learned else "rules", "model": per_code.get(code)} for code in meta["labels"]}


def use_model(project_dir: Path, version: str) -> str:
    """Make a kept model version the one the project suggests with; returns its path."""
    with Store(project_dir) as store:
        models = store.models_frame()
        found = models[models["version"] == version]
        if found.empty:
            known = ", ".join(models["version"]) or "none yet (run `pilah retrain`)"
            raise InputError(store.path, f"no model version {version!r} in this project; known: {known}")
        path = found["path"].iloc[0]
        store.set_setting("model", path)
    return path


def next_for_review(project_dir: Path, codebook: Codebook, stages: Stages, n: int = 50,
                    skip_speakers: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The ``n`` unreviewed segments whose review would teach the model most.

    A segment's uncertainty is how close the model's probability for its most uncertain code
    is to that code's threshold (1 at the threshold, 0 far from it); without a learned model,
    segments with a pending rule suggestion come first. The choice is spread: each pick lowers
    the priority of other segments of the same document and with the same uncertain code.
    """
    with Store(project_dir) as store:
        segments = store.segments_frame()
        decided = set(store.decisions_frame(in_force=True)["segment_id"])
        pending = set(store.suggestions_frame(places=False)["segment_id"])
        model, _, _ = project_model(store, stages.config, codebook)
    skip = {s.casefold() for s in skip_speakers}
    segments = segments.loc[[s not in decided and str(sp or "").casefold() not in skip
                         for s, sp in zip(segments["segment_id"], segments["speaker"])]].reset_index(drop=True)
    if segments.empty:
        return []
    uncertainty, focus = _uncertainty(segments, model, stages, pending)
    chosen, by_document, by_code = [], Counter(), Counter()
    available = np.ones(len(segments), dtype=bool)
    documents = segments["document_id"].to_numpy()
    for _ in range(min(n, len(segments))):
        penalty = np.array([0.15 * by_document[d] + 0.15 * by_code[c] for d, c in zip(documents, focus)])
        priority = np.where(available, uncertainty - penalty, -np.inf)
        best = int(np.argmax(priority))
        available[best] = False
        chosen.append(segments["segment_id"][best])
        by_document[documents[best]] += 1
        by_code[focus[best]] += 1
    return chosen


def _uncertainty(segments: pd.DataFrame, model, stages: Stages, pending: set) -> tuple[np.ndarray, list[str]]:
    learned = list(getattr(model, "scored_", []) or []) if model is not None else []
    if not learned:
        return np.array([0.5 if s in pending else 0.3 for s in segments["segment_id"]]), [""] * len(segments)
    features = table_features(pd.DataFrame({"text": segments["segment_text"], "lang": segments["language"]}), stages)
    codes = [c.id for c in stages.suggester.codebook.codable()]
    proba = model.predict_proba(code_frame(features, codes))
    thresholds = np.array([model.thresholds_[c] for c in proba.columns])
    distance = np.abs(proba.to_numpy() - thresholds) / np.maximum(thresholds, 1 - thresholds)
    closest = distance.argmin(axis=1)
    return 1 - distance.min(axis=1), [proba.columns[k] for k in closest]
