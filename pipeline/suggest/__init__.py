"""The ``suggest`` stage: codebook rules and a trained model propose codes for segments.

Every suggestion carries a code, a factor direction and factor type, a score, where it
came from (``rule``, ``model`` or ``rule+model``) and the evidence a person can check.
"""

from __future__ import annotations

from collections.abc import Sequence

from spacy.tokens import Doc

from pipeline.codebook import Codebook
from pipeline.records import Segment, Suggestion
from pipeline.suggest.features import SegmentFeatures, code_frame, direction_frame, featurize
from pipeline.suggest.model import SuggestionModel, load_model
from pipeline.suggest.rules import CodebookRules, cue_direction

__all__ = ["Suggester", "SuggestionModel", "load_model", "featurize"]


class Suggester:
    """Turns processed segments into suggestions.

    Parameters
    ----------
    codebook : Codebook
    model : SuggestionModel or None
        Without a model, codebook rules alone suggest, each with ``rule_only_score``.
    settings : dict
        The ``[suggest]`` config section.
    """

    def __init__(self, codebook: Codebook, model: SuggestionModel | None, settings: dict):
        self.codebook = codebook
        self.model = model
        self.rules = CodebookRules(codebook)
        self.codes = [code.id for code in codebook.codable()]
        self.rule_only_score = float(settings.get("rule_only_score", 0.5))
        self.max_codes = int(settings.get("max_codes_per_segment", 4))
        self.skip_speakers = {s.casefold() for s in settings.get("skip_speakers", [])}

    def __call__(self, items: Sequence[tuple[Segment, Doc]]) -> list[Suggestion]:
        """Suggestions for a batch of ``(segment, doc)`` pairs, in input order."""
        items = [(s, d) for s, d in items if (s.speaker or "").casefold() not in self.skip_speakers]
        features = [featurize(doc, self.rules) for _, doc in items]
        return [
            Suggestion(segment_id=segment.id, **proposal)
            for (segment, _), proposals in zip(items, self.propose(features))
            for proposal in proposals
        ]

    def propose(self, features: list[SegmentFeatures]) -> list[list[dict]]:
        """Per segment, the proposed codes as dicts of ``Suggestion`` fields (no segment id)."""
        if not features:
            return []
        learned = self.model is not None and bool(self.model.classifiers_)
        matrix = self.model.transform(code_frame(features, self.codes)) if learned else None
        chosen = self._choose_codes(features, matrix)
        pairs = [(features[i], code) for i, codes in enumerate(chosen) for code, _, _ in codes]
        directions = iter(self._directions(pairs))
        explanations = self._explanations(matrix, chosen)
        proposals = []
        for i, codes in enumerate(chosen):
            proposals.append([])
            for code, score, source in codes:
                evidence = "; ".join(dict.fromkeys(s.text for s in features[i].evidence_spans(code)))
                if not evidence:
                    evidence = "model: " + ", ".join(explanations.get((i, code), []))
                proposals[-1].append(
                    dict(
                        code=code,
                        direction=next(directions),
                        factor_type=self.codebook.codes[code].factor_type or "",
                        score=round(float(score), 4),
                        source=source,
                        evidence=evidence,
                    )
                )
        return proposals

    def _choose_codes(self, features: list[SegmentFeatures], matrix) -> list[list[tuple[str, float, str]]]:
        learned = self.model.classifiers_ if matrix is not None else {}
        proba = self.model.proba_from_matrix(matrix) if learned else None
        column = {code: k for k, code in enumerate(learned)}
        chosen = []
        for i, item in enumerate(features):
            candidates = []
            for code in self.codes:
                hit = code in item.matches.hits
                if code in learned:
                    score = proba[i, column[code]]
                    if score >= self.model.thresholds_[code]:
                        candidates.append((code, score, "rule+model" if hit else "model"))
                elif hit:
                    candidates.append((code, self.rule_only_score, "rule"))
            candidates.sort(key=lambda c: -c[1])
            chosen.append(candidates[: self.max_codes] if self.max_codes > 0 else candidates)
        return chosen

    def _directions(self, pairs: list[tuple[SegmentFeatures, str]]) -> list[str]:
        predicted = None
        if self.model is not None and pairs:
            predicted = self.model.predict_direction(direction_frame(pairs))
        if predicted is not None:
            return [str(d) for d in predicted]
        return [cue_direction(item.local_cues(code)) for item, code in pairs]

    def _explanations(self, matrix, chosen) -> dict[tuple[int, str], list[str]]:
        wanted: dict[str, list[int]] = {}
        for i, codes in enumerate(chosen):
            for code, _, source in codes:
                if source == "model":
                    wanted.setdefault(code, []).append(i)
        explained = {}
        for code, rows in wanted.items():
            for i, words in zip(rows, self.model.explain_matrix(matrix[rows], code)):
                explained[(i, code)] = words
        return explained
