"""The model workflows of a project: train a model (``pilah train``), retrain it on the
project's codings (``pilah retrain``: a new version, scored before and after), list and
choose versions (``pilah models``), and the segments whose review would teach the model
most (``pilah review next``).

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

from pipeline.codebook import Codebook, codebook_for_codes, load_codebook
from pipeline.errors import InputError
from pipeline.labels import format_codes, read_labels
from pipeline.project import Project
from pipeline.records import RESEARCHER, role_of
from pipeline.review import review_frame, write_sheet
from pipeline.store import STORE_DIR, Store
from pipeline.suggest.features import code_frame
from pipeline.train import evaluate_labels, labels_from_gold, save_model, table_features, train

MODELS_DIR = "models"


def codings_table(store: Store) -> pd.DataFrame:
    """One row per reviewed segment: ``document``, ``segment_id``, ``speaker``, ``role``,
    ``lang``, ``text`` and ``codes`` (``code=direction;…``) from the codings in force, and
    ``decided``: the codes an analyst decided on there (accepted, rejected, edited from or
    to, added), ``;``-joined. A code suggested on a reviewed segment but never decided on
    is no evidence against it (``train.decided_mask``)."""
    decisions = store.decisions_frame(in_force=True)
    codings = store.codings_frame()
    codings = codings[codings["segment_id"].notna()]
    units = decisions[["segment_id", "document_id", "speaker", "segment_role", "language", "segment_text",
                       "decision_id"]]
    units = units.sort_values("decision_id").drop_duplicates("segment_id", keep="last")
    texts = dict(zip(codings["segment_id"], codings["text"]))
    decided: dict[str, set] = {}
    for segment, seen, code in zip(decisions["segment_id"], decisions["seen_code"], decisions["code"]):
        decided.setdefault(segment, set()).update(c for c in (seen, code) if isinstance(c, str) and c)
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
            "role": unit.segment_role or "",
            "lang": unit.language or "",
            "text": current if active else texts.get(unit.segment_id, unit.segment_text),
            "codes": format_codes({c: (d or None) for c, d in codes.items()}),
            "decided": ";".join(sorted(decided.get(unit.segment_id, set()) | set(codes))),
        })
    return pd.DataFrame(rows, columns=["document", "segment_id", "speaker", "role", "lang", "text", "codes", "decided"])


def train_model(project: Project, out: Path | None = None, labels: Path | None = None, corpus: Path | None = None,
                gold: Path | None = None, codebook: Path | None = None, text_column: str = "text",
                codes_column: str = "codes") -> tuple[dict, Path]:
    """The ``pilah train`` workflow: fit the suggestion model on a labelled table
    (``labels``) or on the gold coding of a corpus (``gold``, default ``CORPUS/gold.csv``;
    ``corpus`` default the project's first), cross-validate it and save it to ``out``
    (default the configured ``[suggest] model``). Returns its ``meta.json`` and the folder.

    With ``labels`` and no ``codebook``, the codes are those of the table; the direction
    cues come from the project's codebook.
    """
    if labels is not None and out is None:
        raise InputError(labels, "give --out DIR for a model trained on a labelled table "
                                 "(the default model belongs to the sample corpus)")
    if labels is not None and codebook is None:
        table = read_labels(labels, require_codes=True, text_column=text_column, codes_column=codes_column)
        book = codebook_for_codes(sorted(set().union(*table["labels"])), project.codebook, shown(labels))
    else:
        book = load_codebook(codebook) if codebook is not None else project.codebook
        if labels is not None:
            table = read_labels(labels, set(book.codes), require_codes=True, text_column=text_column,
                                codes_column=codes_column)
    stages = project.stages(book)
    if labels is None:
        corpus = corpus or (project.corpus[0] if project.corpus else None)
        if corpus is None:
            raise InputError(project.root, "the project names no corpus: give --corpus FOLDER or --labels TABLE")
        gold = gold or corpus / "gold.csv"
        table, source = labels_from_gold(corpus, gold, stages), f"{shown(gold)} over {shown(corpus)}"
    else:
        table, source = with_roles(table, project), shown(labels)
    model, meta = train(table, book, stages, source, **vector_features(table, stages))
    target = out or project.config.path("suggest", "model")
    return save_model(model, meta, book, target), target


def vector_features(table: pd.DataFrame, stages) -> dict:
    """What ``train`` takes of the encoder for a labelled table: the rows' sentence vectors
    (through the vector cache, so a text a run embedded is not embedded again), the
    encoder's id and the codebook's vectors; ``vectors`` ``None`` without an encoder. The
    researcher's own turns are not embedded (their rows are zeros; training leaves them out)."""
    if stages.encoder is None:
        return {"vectors": None, "encoder_id": "", "code_vectors": None}
    wanted = np.flatnonzero(table["role"].astype(str).to_numpy() != RESEARCHER) if "role" in table.columns \
        else np.arange(len(table))
    vectors = np.zeros((len(table), stages.encoder.dim), dtype=np.float32)
    if len(wanted):
        vectors[wanted] = stages.vectors(table["text"].astype(str).iloc[wanted].tolist())
    return {"vectors": vectors, "encoder_id": stages.encoder_id, "code_vectors": stages.code_vectors}


def with_roles(table: pd.DataFrame, project: Project) -> pd.DataFrame:
    """A labelled table's rows with their ``role`` (``Segment.role``) from their ``speaker``
    column, as segmentation decides it; the table as it is without one."""
    if "speaker" not in table.columns or "role" in table.columns:
        return table
    researchers = {r.casefold() for r in project.researchers()}
    return table.assign(role=[role_of(str(s), researchers) for s in table["speaker"]])


def shown(path: Path) -> str:
    """A path as recorded in meta.json: relative to Pilah's folder when inside it."""
    from pipeline.config import PROJECT_ROOT

    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def retrain(project: Project, labels: Path | None = None, codebook: Codebook | None = None) -> dict:
    """Train a new model version on the project's codings (and ``labels``), score the model
    in use and the new one on the same rows, keep the new version in the project and switch
    to it when it scores at least as well. Returns the report (also for ``--json``).

    ``codebook``: the codebook to train with when it is not the project's own (codes just
    renamed or merged, ``pilah codes``)."""
    started = time.perf_counter()
    codebook = codebook or project.codebook
    stages = project.stages(codebook)
    store = project.store
    table = codings_table(store)
    source = f"{len(table)} reviewed segments of {store.path}"
    if labels is not None:
        extra = with_roles(read_labels(labels, set(codebook.codes)).drop(columns=["labels"]), project)
        extra["decided"] = "*"  # a labelled table's rows are coded in full
        table = pd.concat([table, extra], ignore_index=True).fillna("")
        source += f" + {labels}"
    if not len(table) or not (table["codes"] != "").any():
        raise InputError(store.path, "no coding to learn from: review some suggestions first "
                                     "(`pilah review import SHEET`) or give --labels TABLE")
    old_model, old_meta, old_dir = project.model(codebook)
    before = None
    encoded = vector_features(table, stages)  # from the project's cache: reviewed segments were embedded by the run
    if old_model is not None:
        before = evaluate_labels(table, old_model, codebook, stages, vectors=encoded["vectors"],
                                 code_vectors=encoded["code_vectors"])
    model, meta = train(table, codebook, stages, source, **encoded)
    target = project.root / STORE_DIR / MODELS_DIR / meta["version"]
    after = meta["metrics"]
    if before is None and after is not None:  # no model in use: the codebook rules suggest alone
        rules = after.get("without_model") or after["rules_only"]
        plain = after.get("direction_without_model") or after["direction_cues_only"]
        scheme = ("codebook rules and the codebook by meaning (no model in use)" if rules.get("by_meaning")
                  else "codebook rules alone (no model in use)")
        before_figures = {"model": None, "scheme": scheme,
                          **{k: rules[k] for k in ("precision", "recall", "f1", "macro_f1")},
                          "direction_accuracy": plain["accuracy"], "direction_macro_f1": plain["macro_f1"],
                          "per_code": {}}
    else:
        before_figures = _figures(before, old_meta["version"] if old_meta else None, "model in use, on every row")
    adoption = adopt(before_figures, after)
    if adoption["direction"] == "cues":  # the new direction head is set aside: the codebook's cues give it
        model.direction_ = None
        meta["direction_source"] = {"use": "cues", "reason": adoption["reason"]}
    meta = save_model(model, meta, codebook, target)
    switched = adoption["switch"]
    report = {
        "version": meta["version"],
        "path": str(target),
        "rows": len(table),
        "coded_rows": int((table["codes"] != "").sum()),
        "documents": int(table["document"].nunique()),
        "before": before_figures,
        "after": _figures(after, meta["version"], after["scheme"] if after else "no cross-validation"),
        "rules_only": after["rules_only"] if after else None,
        "without_model": after.get("without_model") if after else None,
        "codes": _code_choice(meta),
        "in_use": meta["version"] if switched else (old_meta["version"] if old_meta else None),
        "switched": switched,
        "direction_source": adoption["direction"],
        "reason": adoption["reason"],
        "codes_off": codes_off(meta),
        "seconds": round(time.perf_counter() - started, 1),
    }
    store.add_model(meta["version"], str(target.resolve()), source, report)
    if switched:
        store.set_setting("model", str(target.resolve()))
        project.forget_model()
    return report


def adopt(before: dict | None, after: dict | None) -> dict:
    """Whether a retrained model replaces the one in use, and what gives its directions.

    The README's promise: the new model is used only if it does as well or better, on the
    codes *and* on their directions, as what suggests now (``before``: the model in use, or
    the codebook's rules and cues), on the same reviewed segments (``after``: the new
    model's held-out figures, ``train.cross_validate``).

    - codes' micro-F1 lower: not adopted;
    - codes as good, direction macro-F1 as good: adopted, its direction model too;
    - codes as good, its direction model worse, but the codebook's cues (and the codebook
      by meaning) as good as before on the same held-out pairs: adopted for its codes,
      its direction model set aside (``direction`` ``"cues"``) — a trial's retrain on 24
      decisions turned 0.655 into 0.542 and reversed most open suggestions' directions;
    - else (the model in use gives better directions than both): not adopted.

    Returns ``{"switch": bool, "direction": "model" | "cues", "reason": str}``; the reason
    names the figures that decided.
    """
    if after is None:
        return {"switch": False, "direction": "model", "reason": "no cross-validation (a single row): kept what is in use"}
    new_codes = after["suggestions"]["micro"]["f1"]
    old_codes = before["f1"] if before else (after.get("without_model") or after["rules_only"])["f1"]
    new_dir = after["direction"]["macro_f1"]
    plain = (after.get("direction_without_model") or after["direction_cues_only"])["macro_f1"]
    old_dir = before.get("direction_macro_f1") if before else plain
    codes = f"codes F1 {new_codes:.3f} against {old_codes:.3f}"
    if new_codes < old_codes:
        return {"switch": False, "direction": "model", "reason": f"not used: its {codes} now"}
    if new_dir is None or old_dir is None or new_dir >= old_dir:
        shown_dir = "" if new_dir is None or old_dir is None else f", direction macro-F1 {new_dir:.3f} against {old_dir:.3f}"
        return {"switch": True, "direction": "model", "reason": f"as good or better: {codes}{shown_dir}"}
    worse = f"its direction model is worse (macro-F1 {new_dir:.3f} against {old_dir:.3f} now)"
    if plain is not None and plain >= old_dir:
        return {"switch": True, "direction": "cues",
                "reason": f"used for its codes ({codes}); {worse}, so the codebook's direction cues "
                          f"(macro-F1 {plain:.3f} on the same held-out decisions) give the directions"}
    return {"switch": False, "direction": "model", "reason": f"not used: {worse}, though {codes}"}


def codes_off(meta: dict) -> dict:
    """The codes a model does not suggest at all (``code_sources[code]["suggest"]`` false),
    each with its decided suggestions: ``{code: {"suggested", "accepted", "precision"}}``."""
    return {code: entry.get("decided", {}) for code, entry in (meta.get("code_sources") or {}).items()
            if not entry.get("suggest", True)}


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


def use_model(project: Project, version: str) -> str:
    """Make a kept model version the one the project suggests with; returns its path."""
    store = project.store
    models = store.models_frame()
    found = models[models["version"] == version]
    if found.empty:
        known = ", ".join(models["version"]) or "none yet (run `pilah retrain`)"
        raise InputError(store.path, f"no model version {version!r} in this project; known: {known}")
    path = found["path"].iloc[0]
    store.set_setting("model", path)
    project.forget_model()
    return path


def model_versions(project: Project) -> tuple[pd.DataFrame, str | None]:
    """The project's model versions (``Store.models_frame``) and the one chosen, if any."""
    return project.store.models_frame(), project.store.setting("model")


def next_for_review(project: Project, n: int = 50) -> list[str]:
    """The ``n`` unreviewed segments whose review would teach the model most.

    A segment's uncertainty is how close the model's probability for its most uncertain code
    is to that code's threshold (1 at the threshold, 0 far from it); without a learned model,
    segments with a pending rule suggestion come first. The choice is spread: each pick lowers
    the priority of other segments of the same document and with the same uncertain code
    and, with a sentence encoder, of segments that say what a chosen one says (the cosine
    of their vectors, centred on the segments' mean, times ``DIVERSITY``): the sheet covers
    what the corpus talks about instead of ten ways of one thing. The vectors come from the
    project's cache (a run embedded them). The researcher's own turns (``Segment.role``)
    are never chosen.
    """
    store = project.store
    segments = store.segments_frame()
    decided = set(store.decisions_frame(in_force=True)["segment_id"])
    pending = set(store.suggestions_frame(places=False)["segment_id"])
    model, _, _ = project.model()
    segments = segments.loc[[s not in decided and role != RESEARCHER
                             for s, role in zip(segments["segment_id"], segments["segment_role"])]].reset_index(drop=True)
    if segments.empty:
        return []
    stages = project.stages()
    vectors = stages.vectors(segments["segment_text"].tolist())  # None without an encoder
    uncertainty, focus = _uncertainty(segments, model, stages, pending, vectors)
    chosen, by_document, by_code = [], Counter(), Counter()
    available = np.ones(len(segments), dtype=bool)
    documents = segments["document_id"].to_numpy()
    spread = _centred(vectors)
    nearest = np.zeros(len(segments))  # each segment's highest cosine to a chosen one
    for _ in range(min(n, len(segments))):
        penalty = np.array([0.15 * by_document[d] + 0.15 * by_code[c] for d, c in zip(documents, focus)])
        priority = np.where(available, uncertainty - penalty - DIVERSITY * np.maximum(nearest, 0), -np.inf)
        best = int(np.argmax(priority))
        available[best] = False
        chosen.append(segments["segment_id"][best])
        by_document[documents[best]] += 1
        by_code[focus[best]] += 1
        if spread is not None:
            nearest = np.maximum(nearest, spread @ spread[best])
    return chosen


DIVERSITY = 0.5  # review next: how much a segment's likeness to one already chosen lowers its priority


def _centred(vectors: np.ndarray | None) -> np.ndarray | None:
    """Sentence vectors minus their mean, at unit length (their cosines then spread over
    -1..1 instead of e5's 0.7-0.9); ``None`` stays ``None``."""
    if vectors is None or not len(vectors):
        return None
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    return centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)


def next_sheet(project: Project, out: Path, n: int = 50, pseudonymize: bool | None = None) -> tuple[Path, int, int]:
    """The ``pilah review next`` workflow: the ``n`` segments of :func:`next_for_review` as a
    review sheet at ``out``, in that order. Returns the file, the segments and the rows."""
    chosen = next_for_review(project, n)
    frame, _ = review_frame(project.view(pseudonymize), project.codebook)
    rank = {segment: i for i, segment in enumerate(chosen)}
    frame = frame[frame["segment_id"].isin(rank)]
    frame = frame.iloc[frame["segment_id"].map(rank).argsort(kind="stable")].reset_index(drop=True)
    return write_sheet(frame, out, project.codebook), len(chosen), len(frame)


def _uncertainty(segments: pd.DataFrame, model, stages, pending: set, vectors=None) -> tuple[np.ndarray, list[str]]:
    learned = list(getattr(model, "scored_", []) or []) if model is not None else []
    if not learned:
        return np.array([0.5 if s in pending else 0.3 for s in segments["segment_id"]]), [""] * len(segments)
    features = table_features(pd.DataFrame({"text": segments["segment_text"], "lang": segments["language"]}), stages)
    codes = [c.id for c in stages.suggester.codebook.codable()]
    proba = model.predict_proba(code_frame(features, codes, vectors))
    thresholds = np.array([model.thresholds_[c] for c in proba.columns])
    distance = np.abs(proba.to_numpy() - thresholds) / np.maximum(thresholds, 1 - thresholds)
    closest = distance.argmin(axis=1)
    return 1 - distance.min(axis=1), [proba.columns[k] for k in closest]
