"""A gold coding (``document, quote, codes``, as ``corpus/gold.csv``) brought into a project
as an analyst's accepted codings: one ``add`` decision per quote × code, by ``reviewer``."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.errors import InputError
from pipeline.labels import parse_codes, read_table
from pipeline.store import Decision

_SPACE = re.compile(r"\s+")


def import_gold(store, gold_path: Path, reviewer: str = "gold") -> dict:
    """Add the gold coding's codes as decisions of ``reviewer`` on the stored segment whose
    text holds each quote (white space compared loosely). Returns ``{"added", "unchanged",
    "problems"}``: a quote found in no segment, or in several, is a problem, not a guess."""
    gold = read_table(Path(gold_path))
    missing = {"document", "quote", "codes"} - set(gold.columns)
    if missing:
        raise InputError(gold_path, f"missing column(s) {', '.join(sorted(missing))}")
    segments = store.segments_frame()
    texts: dict[str, list[tuple[str, str]]] = {}
    for path, segment_id, text in zip(segments["document"], segments["segment_id"], segments["segment_text"]):
        texts.setdefault(path, []).append((segment_id, _SPACE.sub(" ", text)))
    decisions, problems = [], []
    for line, row in gold.iterrows():
        quote = _SPACE.sub(" ", str(row["quote"])).strip()
        found = [s for s, text in texts.get(row["document"], []) if quote in text]
        if len(found) != 1:
            problems.append(f"{gold_path} row {line + 2}: quote {quote[:40]!r} found in {len(found)} segments")
            continue
        try:
            codes = parse_codes(row["codes"])
        except ValueError as exc:
            problems.append(f"{gold_path} row {line + 2}: {exc}")
            continue
        for code, direction in codes.items():
            decisions.append(Decision(found[0], None, "add", code, direction, reviewer, "", "gold"))
    counts = store.add_decisions(decisions)
    return {**counts, "problems": problems}
