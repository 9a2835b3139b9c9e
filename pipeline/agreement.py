"""Agreement between coders, and between the model and each coder, per code.

**Unit.** A segment × code: does the coder put this code on this segment (presence)? A
coder has *reviewed* a segment when they made at least one decision in force on it (an
accept, reject, edit or add); their codings in force are what they put on it. Two coders are
compared on the segments both reviewed; the model (the suggestions in force) is compared with
a coder on the segments that coder reviewed. Segments whose text changed since (stale) are
left out. **Direction** is compared separately, on the segment × code units both coded,
as supporting / constraining / neutral.

Cohen's κ for each pair (``pipeline.metrics.cohen_kappa``, the one κ of Pilah);
Krippendorff's α (nominal) over all coders, on the segments at least two of them reviewed
(a coder who did not review a segment is a missing value); percent agreement beside both.
A code whose suggestions agree with the coders at a mean κ below ``READY_KAPPA`` is flagged
*not ready for bulk suggestion* (``pipeline.metrics.ready``, the one readiness rule: the
same that marks a code low confidence when a model is trained).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import numpy as np
from pipeline.metrics import READY_KAPPA, cohen_kappa, ready
from pipeline.project import Project

MODEL = "model"


def krippendorff_alpha(data: np.ndarray) -> float | None:
    """Krippendorff's α for nominal data: ``data`` is coders × units, ``np.nan`` = missing.

    Units with fewer than two values are left out. ``None`` when every value is the same
    (no variation: α is undefined).

    Examples
    --------
    Krippendorff's (2011) worked example of nominal data, 4 coders × 12 units:

    >>> nan = np.nan
    >>> data = np.array([
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]])
    >>> round(krippendorff_alpha(data), 3)
    0.743
    """
    data = np.asarray(data, dtype=float)
    values = np.unique(data[~np.isnan(data)])
    index = {v: i for i, v in enumerate(values)}
    coincidences = np.zeros((len(values), len(values)))
    for unit in data.T:
        present = unit[~np.isnan(unit)]
        if len(present) < 2:
            continue
        counts = np.zeros(len(values))
        for v in present:
            counts[index[v]] += 1
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (len(present) - 1)
    totals = coincidences.sum(axis=1)
    n = totals.sum()
    expected = (n * n - (totals**2).sum()) / (n - 1) if n > 1 else 0.0
    if expected == 0:
        return None
    observed = coincidences.sum() - np.trace(coincidences)
    return float(1 - observed / expected)


def agreement(project: Project, coders: list[str] | None = None) -> dict:
    """The ``pilah agreement`` workflow: :func:`coder_agreement` of the project's store."""
    return coder_agreement(project.store, coders)


def coder_agreement(store, coders: list[str] | None = None) -> dict:
    """Per code: κ and percent agreement for each pair of coders and for the model against
    each coder, α over all coders, direction agreement, and whether the code is ready for
    bulk suggestion. See the module docstring for the unit. ``store``: a ``Store`` (or the
    workspace's connection of its own to it)."""
    decisions = store.decisions_frame(in_force=True)
    decisions = decisions[~decisions["stale"]]
    codings = store.codings_frame()
    codings = codings[~codings["stale"] & codings["segment_id"].notna()]
    known = sorted(set(decisions["reviewer"]) | set(codings["coder"]))
    coders = [c for c in (coders or known)]
    unknown = [c for c in coders if c not in known]
    reviewed = {c: set(decisions.loc[decisions["reviewer"] == c, "segment_id"]) | set(
        codings.loc[codings["coder"] == c, "segment_id"]) for c in coders}
    coded: dict[str, dict[str, dict[str, str | None]]] = {c: defaultdict(dict) for c in coders}
    for row in codings[codings["coder"].isin(coders)].itertuples(index=False):
        coded[row.coder][row.segment_id][row.code] = row.direction
    suggestions = store.suggestions_frame()
    proposed: dict[str, set] = defaultdict(set)
    for segment, code in zip(suggestions["segment_id"], suggestions["code"]):
        proposed[segment].add(code)
    codes = sorted({code for c in coders for seg in coded[c].values() for code in seg} | set(suggestions["code"]))
    per_code = {}
    for code in codes:
        entry: dict = {"pairs": {}, "model": {}, "direction": {}}
        for a, b in combinations(coders, 2):
            units = sorted(reviewed[a] & reviewed[b])
            entry["pairs"][f"{a}|{b}"] = _presence([code in coded[a].get(u, {}) for u in units],
                                                   [code in coded[b].get(u, {}) for u in units])
            both = [u for u in units if code in coded[a].get(u, {}) and code in coded[b].get(u, {})]
            entry["direction"][f"{a}|{b}"] = _labels([coded[a][u][code] or "" for u in both],
                                                     [coded[b][u][code] or "" for u in both])
        for c in coders:
            units = sorted(reviewed[c])
            entry["model"][c] = _presence([code in proposed.get(u, set()) for u in units],
                                          [code in coded[c].get(u, {}) for u in units])
        entry["alpha"] = _alpha(code, coders, reviewed, coded)
        model_kappas = [m["kappa"] for m in entry["model"].values() if m["kappa"] is not None]
        entry["model_kappa"] = round(float(np.mean(model_kappas)), 3) if model_kappas else None
        entry["ready"] = ready(entry["model_kappa"])
        per_code[code] = entry
    return {
        "unit": "segment × code presence, on the segments both coders reviewed (the model: the segments the coder "
                "reviewed); direction separately, on the segment × code units both coded; stale segments left out",
        "coders": coders,
        "unknown_coders": unknown,
        "segments_reviewed": {c: len(reviewed[c]) for c in coders},
        "ready_kappa": READY_KAPPA,
        "per_code": per_code,
        "not_ready": [code for code, e in per_code.items() if not e["ready"]],
    }


def _presence(a: list[bool], b: list[bool]) -> dict:
    return _labels([int(x) for x in a], [int(x) for x in b])


def _labels(a: list, b: list) -> dict:
    """κ and percent agreement of two label lists; κ is ``None`` when it is undefined (no
    unit, or both give one and the same label throughout)."""
    if not a:
        return {"units": 0, "kappa": None, "percent": None}
    percent = float(np.mean([x == y for x, y in zip(a, b)]))
    kappa = cohen_kappa(a, b)
    return {"units": len(a), "kappa": None if kappa is None else round(kappa, 3), "percent": round(percent, 3)}


def _alpha(code: str, coders: list[str], reviewed: dict, coded: dict) -> float | None:
    units = sorted({u for c in coders for u in reviewed[c]
                    if sum(u in reviewed[other] for other in coders) >= 2})
    if not units or len(coders) < 2:
        return None
    data = np.array([[float(code in coded[c].get(u, {})) if u in reviewed[c] else np.nan for u in units]
                     for c in coders])
    alpha = krippendorff_alpha(data)
    return None if alpha is None else round(alpha, 3)
