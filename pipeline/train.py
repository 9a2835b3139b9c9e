"""The train workflow: labelled segments → suggestion model + cross-validated evaluation.

Labels come from a labelled table (``pipeline.labels``) or from a corpus with a gold
coding (``document,quote,codes`` rows, each quote the start of a coded segment; every
other segment of a gold document counts as coded with nothing).
"""

from __future__ import annotations

import hashlib
import platform
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import spacy
from sklearn.model_selection import GroupKFold, KFold

import pipeline
from pipeline.codebook import Codebook
from pipeline.engine import Stages
from pipeline.errors import InputError
from pipeline.ingest import iter_documents
from pipeline.labels import format_codes, parse_codes, read_table
from pipeline.metrics import code_metrics, direction_metrics
from pipeline.records import Document, Segment
from pipeline.suggest import Suggester, SuggestionModel, featurize
from pipeline.suggest.features import code_frame, direction_frame
from pipeline.suggest.rules import cue_direction

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
                    "lang": segment.language,
                    "text": segment.text,
                    "codes": format_codes(codes_of.get(i, {})),
                }
            )
    if problems:
        raise InputError(gold_path, "; ".join(problems))
    return pd.DataFrame(rows)


def train(labels: pd.DataFrame, codebook: Codebook, stages: Stages, source: str, folds: int = 5) -> tuple[SuggestionModel, dict]:
    """Fit the suggestion model on ``labels`` and evaluate it by cross-validation.

    Folds hold out whole documents when a ``document`` column is present, so the figures
    say how the model does on documents it has never seen.

    Returns
    -------
    model, meta
        The fitted model and its ``meta.json`` content (without file checksums).
    """
    skip = {s.casefold() for s in stages.config.section("suggest").get("skip_speakers", [])}
    if "speaker" in labels.columns:
        labels = labels[~labels["speaker"].str.casefold().isin(skip)]
    labels = labels.reset_index(drop=True)
    parsed = [parse_codes(v) for v in labels["codes"]]
    features = _features(labels, stages)
    codes = [c.id for c in codebook.codable()]
    X = code_frame(features, codes)
    Y = pd.DataFrame({c: [int(c in p) for p in parsed] for c in codes})
    groups = labels["document"].to_numpy() if "document" in labels.columns else None
    evaluation = cross_validate(features, parsed, X, Y, codebook, stages, groups, folds)
    model = _fit(features, parsed, X, Y)
    data_hash = hashlib.sha256(labels[["text", "codes"]].to_csv(index=False).encode()).hexdigest()
    settings = {"min_examples": model.min_examples, "C": model.C, "char_ngrams": model.char_ngrams}
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
        "data": {"source": source, "rows": len(labels), "coded_rows": int((Y.sum(axis=1) > 0).sum()), "sha256": data_hash},
        "codebook": {"name": codebook.name, "version": codebook.version, "sha256": codebook.hash},
        "labels": codes,
        "support": {c: int(Y[c].sum()) for c in codes},
        "learned_codes": sorted(model.classifiers_),
        "rule_only_codes": sorted(set(codes) - set(model.classifiers_)),
        "thresholds": model.thresholds_,
        "settings": settings,
        "metrics": evaluation,
    }
    return model, meta


def cross_validate(features, parsed, X, Y, codebook, stages, groups, folds: int) -> dict:
    """Held-out suggestions of the model and of the rules alone, fold by fold."""
    if groups is not None and len(set(groups)) >= 2:
        splitter = GroupKFold(n_splits=min(folds, len(set(groups))))
        splits = list(splitter.split(X, groups=groups))
        scheme = f"{splitter.n_splits}-fold, whole documents held out"
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=0)
        splits = list(splitter.split(X))
        scheme = f"{folds}-fold, rows shuffled"
    codes = list(Y.columns)
    settings = stages.config.section("suggest")
    predicted = [set() for _ in features]
    rules_only = [set() for _ in features]
    gold_dir, model_dir, cue_dir = [], [], []
    for train_rows, test_rows in splits:
        model = _fit([features[i] for i in train_rows], [parsed[i] for i in train_rows], X.iloc[train_rows], Y.iloc[train_rows])
        test = [features[i] for i in test_rows]
        for i, proposals in zip(test_rows, Suggester(codebook, model, settings).propose(test)):
            predicted[i] = {p["code"] for p in proposals}
        for i, proposals in zip(test_rows, Suggester(codebook, None, settings).propose(test)):
            rules_only[i] = {p["code"] for p in proposals}
        pairs = [(features[i], code, d) for i in test_rows for code, d in parsed[i].items() if d and code in codes]
        if pairs:
            frame = direction_frame([(f, c) for f, c, _ in pairs])
            guessed = model.predict_direction(frame)
            cues = [cue_direction(f.local_cues(c)) for f, c, _ in pairs]
            gold_dir += [d for _, _, d in pairs]
            cue_dir += cues
            model_dir += list(guessed) if guessed is not None else cues
    gold = [{c for c in p if c in codes} for p in parsed]
    return {
        "scheme": scheme,
        "segments": len(features),
        "suggestions": code_metrics(gold, predicted, codes),
        "rules_only": code_metrics(gold, rules_only, codes)["micro"] | {"macro_f1": code_metrics(gold, rules_only, codes)["macro_f1"]},
        "direction": direction_metrics(gold_dir, [str(d) for d in model_dir]),
        "direction_cues_only": direction_metrics(gold_dir, cue_dir),
        "suggestions_per_segment": round(float(np.mean([len(p) for p in predicted])), 3),
    }


def _fit(features, parsed, X: pd.DataFrame, Y: pd.DataFrame) -> SuggestionModel:
    pairs = [(f, code, d) for f, p in zip(features, parsed) for code, d in p.items() if d and code in Y.columns]
    frame = direction_frame([(f, c) for f, c, _ in pairs])
    return SuggestionModel().fit(X.reset_index(drop=True), Y.reset_index(drop=True), frame, [d for _, _, d in pairs])


def _features(labels: pd.DataFrame, stages: Stages) -> list:
    segments = [
        Segment(id=str(i), document_id=str(row.get("document", "")), index=i, start=0, end=len(row["text"]), text=row["text"])
        for i, row in labels.iterrows()
    ]
    segments = stages.detect_language(segments, Counter())
    if "lang" in labels.columns:
        segments = [
            s if not lang else Segment(**{**s.__dict__, "language": lang})
            for s, lang in zip(segments, labels["lang"])
        ]
    rules = stages.suggester.rules
    return [featurize(doc, rules) for _, doc in stages.tokenize(segments, Counter())]
