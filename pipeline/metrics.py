"""Agreement between suggested and gold codes: per code and overall, and for direction; and
Pilah's one Cohen's κ and one readiness rule, which training, evaluation and ``pilah
agreement`` all use (docs/agreement.md).

**κ.** Cohen's kappa of two label lists (scikit-learn's ``cohen_kappa_score``): the
agreement beyond what chance gives, 1 for perfect agreement, 0 for chance. It is undefined
(``None``) when there is no unit, or when both give one and the same label throughout.

**Ready.** A code is *ready* for bulk suggestion when its suggestions agree with the
analysts at κ ≥ ``READY_KAPPA`` (0.6, the lower bound of "substantial" agreement in Landis
and Koch's reading, about Krippendorff's tentative 0.667): the agreement one asks of a
second human coder before trusting their coding. Below it, the code's suggestions are marked
low confidence in the review sheet and listed as not ready by ``pilah agreement``; a code
whose κ is undefined (never suggested, never coded) is not ready.
"""

from __future__ import annotations

from collections import Counter

READY_KAPPA = 0.6
# scikit-learn is imported where it is used: suggesting (pilah suggest, pilah run) reads
# ``ready`` and never loads scikit-learn


def cohen_kappa(a, b) -> float | None:
    """Cohen's κ of two label lists, rounded to 4 places; ``None`` when undefined.

    >>> cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]), cohen_kappa([0, 0], [0, 0])
    (0.5, None)
    """
    from sklearn.metrics import cohen_kappa_score

    a, b = list(a), list(b)
    if not a or len(set(a) | set(b)) < 2:
        return None
    kappa = float(cohen_kappa_score(a, b))
    return None if kappa != kappa else round(kappa, 4)


def ready(kappa: float | None) -> bool:
    """Whether a code whose suggestions agree with the analysts at ``kappa`` is ready for bulk suggestion.

    >>> ready(0.61), ready(0.59), ready(None)
    (True, False, False)
    """
    return kappa is not None and kappa >= READY_KAPPA


def code_metrics(gold: list[set[str]], predicted: list[set[str]], codes: list[str]) -> dict:
    """Precision, recall, F1, Cohen's kappa and support per code; micro and macro F1.

    Examples
    --------
    >>> code_metrics([{"a"}, set()], [{"a"}, {"a"}], ["a"])["micro"]["precision"]
    0.5
    """
    per_code, totals = {}, Counter()
    for code in codes:
        g = [code in s for s in gold]
        p = [code in s for s in predicted]
        tp = sum(a and b for a, b in zip(g, p))
        fp = sum(b and not a for a, b in zip(g, p))
        fn = sum(a and not b for a, b in zip(g, p))
        totals.update(tp=tp, fp=fp, fn=fn)
        per_code[code] = {**_prf(tp, fp, fn), "kappa": cohen_kappa(g, p), "support": sum(g)}
    supported = [m["f1"] for m in per_code.values() if m["support"]]
    return {
        "per_code": per_code,
        "micro": _prf(totals["tp"], totals["fp"], totals["fn"]),
        "macro_f1": round(sum(supported) / len(supported), 4) if supported else 0.0,
    }


def direction_metrics(gold: list[str], predicted: list[str]) -> dict:
    """Accuracy and macro-F1 of directions predicted for gold (segment, code) pairs."""
    from sklearn.metrics import f1_score

    if not gold:
        return {"accuracy": None, "macro_f1": None, "pairs": 0}
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold)
    return {
        "accuracy": round(accuracy, 4),
        "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4),
        "pairs": len(gold),
        "gold_distribution": dict(Counter(gold)),
    }


def pair_metrics(gold: list[dict], predicted: list[dict]) -> dict:
    """Micro and macro F1 over (code, direction) pairs, e.g. ``funding=constraining``;
    gold codes without a direction are left out."""
    def pairs(row: dict) -> set[str]:
        return {f"{code}={direction}" for code, direction in row.items() if direction}

    gold_pairs = [pairs(row) for row in gold]
    labels = sorted(set().union(*gold_pairs)) if gold_pairs else []
    scored = code_metrics(gold_pairs, [pairs(row) for row in predicted], labels)
    return {"micro": scored["micro"], "macro_f1": scored["macro_f1"], "pairs": len(labels)}


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}
