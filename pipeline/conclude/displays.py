"""Displays for drawing and verifying conclusions (Miles, Huberman & Saldaña's third activity).

All four are built from an evidence frame (``pipeline.conclude.evidence``), by default the
**accepted codings only**; a *factor* is a factor type with a direction (supporting or
constraining), as in the report's factor matrix:

- ``factor_by_attribute``: factor × the values of one attribute (a case-table column,
  ``case``, ``role``, ``source_type`` …), per direction the segments, informants and cases
  and the strongest quote of each cell;
- ``triangulation``: per factor, the source types, informant roles and cases that attest
  it, flagged when one informant or one source type is all there is;
- ``negative_evidence``: per factor, the codings of the same factor type in the opposite
  direction, and the cases where the factor is absent although an analyst reviewed
  segments there (a case nobody reviewed is "not reviewed", never "absent");
- ``conclusions_table``: per factor, what a findings chapter lists: direction, cases,
  informants, sources, counts, 2–3 exemplar quotes from different informants, memos.

The *strongest* quote of a group is the coding whose suggestion scored highest when the
analyst accepted it; codings an analyst added (no score) come after, the longest first.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import pandas as pd

from pipeline.codebook import Codebook
from pipeline.conclude.cases import count_cases
from pipeline.conclude.evidence import cut_quote

log = logging.getLogger(__name__)

FACTOR_DIRECTIONS = ("supporting", "constraining")
OPPOSITE = {"supporting": "constraining", "constraining": "supporting"}
EXEMPLARS = 3


@dataclass
class Conclusions:
    """The conclusion displays of one project, from the statuses in ``statuses``."""

    statuses: tuple[str, ...]
    attribute: str
    attributes: list[str]
    factor_by_attribute: pd.DataFrame
    triangulation: pd.DataFrame
    negative: pd.DataFrame
    conclusions: pd.DataFrame
    memos: pd.DataFrame
    factor_matrix: pd.DataFrame  # factor type × direction (neutral too): segments, informants, cases, quote
    factor_types: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)

    def digest(self) -> str:
        """A hash of everything shown (part of the report's content key)."""
        digest = hashlib.sha256()
        for frame in (self.factor_by_attribute, self.triangulation, self.negative, self.conclusions, self.memos,
                      self.factor_matrix):
            digest.update(frame.astype(str).to_json(orient="split").encode())
        digest.update(repr((self.statuses, self.attribute, self.attributes)).encode())
        return digest.hexdigest()


def build_conclusions(evidence: pd.DataFrame, codebook: Codebook, attribute: str | None = None,
                      memos: pd.DataFrame | None = None, code_map: dict[str, str] | None = None) -> Conclusions:
    """Every conclusion display from ``evidence``; ``attribute``: the column of the factor ×
    attribute matrix (default: the first case-table attribute, else ``case``)."""
    attributes = list(evidence.attrs.get("attributes", ["case"]))
    if attribute is None:
        extra = [a for a in attributes if a not in ("case", "role", "source_type")]
        attribute = extra[0] if extra else "case"
    if attribute not in evidence.columns:
        from pipeline.errors import InputError

        raise InputError("--by", f"unknown attribute {attribute!r} (--by, or [conclude] by); known: {', '.join(attributes)}")
    factors = evidence[evidence["direction"].isin(FACTOR_DIRECTIONS) & (evidence["factor_type"] != "")]
    factor_types = [f for f in codebook.factor_types if f in set(factors["factor_type"])] + sorted(
        set(factors["factor_type"]) - set(codebook.factor_types))
    values = sorted({str(v) for v in evidence[attribute].fillna("")} - {""})
    memo_frame = _memos(memos, codebook, code_map or {})
    return Conclusions(
        statuses=tuple(evidence.attrs.get("statuses", ("accepted",))),
        attribute=attribute,
        attributes=attributes,
        factor_by_attribute=factor_by_attribute(factors, attribute, factor_types, values),
        triangulation=triangulation(factors, factor_types),
        negative=negative_evidence(evidence, factors, factor_types, evidence.attrs.get("reviewed", {})),
        conclusions=conclusions_table(factors, factor_types, memo_frame, codebook),
        memos=memo_frame,
        factor_matrix=factor_matrix(evidence[evidence["factor_type"] != ""], factor_types),
        factor_types=factor_types,
        values=values,
    )


def strongest(group: pd.DataFrame) -> pd.Series:
    """The row of ``group`` with the strongest quote (see the module docstring)."""
    order = group.assign(_score=group["score"].fillna(-1.0), _len=group["text"].str.len())
    return order.sort_values(["_score", "_len", "segment_id"], ascending=[False, False, True], kind="stable").iloc[0]


def _factor_groups(factors: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """``{(factor_type, direction): its rows}`` for each factor with rows, in one pass."""
    return {key: g for key, g in factors.groupby(["factor_type", "direction"])} if len(factors) else {}


def where(row) -> str:
    """Case · informant · document title · place: how a quote is attributed."""
    return " · ".join(str(v) for v in (row["case"], row["informant"], row["title"], row["place"]) if v)


def factor_by_attribute(factors: pd.DataFrame, attribute: str, factor_types: list[str],
                        values: list[str]) -> pd.DataFrame:
    """One row per factor type × attribute value × direction: segments, informants, cases,
    and the strongest quote with its place (empty cells kept, with zeros)."""
    rows = []
    grouped = {key: g for key, g in factors.groupby(["factor_type", attribute, "direction"])} if len(factors) else {}
    for factor_type in factor_types:
        for value in values:
            for direction in FACTOR_DIRECTIONS:
                group = grouped.get((factor_type, value, direction))
                row = {"factor_type": factor_type, "value": value, "direction": direction, "segments": 0,
                       "informants": 0, "cases": 0, "quote": "", "where": "", "code": ""}
                if group is not None and len(group):
                    best = strongest(group)
                    row.update(segments=int(group["segment_id"].nunique()), informants=int(group["informant"].nunique()),
                               cases=count_cases(group["case"]), quote=cut_quote(best["text"], best["evidence"], 240),
                               where=where(best), code=best["code"])
                rows.append(row)
    return pd.DataFrame(rows, columns=["factor_type", "value", "direction", "segments", "informants", "cases", "quote",
                                       "where", "code"])


def factor_matrix(units: pd.DataFrame, factor_types: list[str]) -> pd.DataFrame:
    """Factor type × direction (supporting, constraining, neutral): the report's factor
    matrix from the evidence shown here, with informants and cases per cell."""
    every = factor_by_attribute(units.assign(_all=""), "_all", factor_types, [""])
    neutral = units[units["direction"] == "neutral"].groupby("factor_type")["segment_id"].nunique()
    every = every.drop(columns=["value"])
    return every.assign(neutral=[int(neutral.get(f, 0)) for f in every["factor_type"]])


def _listed(series: pd.Series, by: pd.Series | None = None) -> str:
    """``value (n)`` for each distinct value, the most frequent first: n distinct segments."""
    counts = (by.groupby(series).nunique() if by is not None else series.value_counts())
    counts = counts.sort_index().sort_values(ascending=False, kind="stable")
    return "; ".join(f"{value} ({int(n)})" for value, n in counts.items() if str(value))


def triangulation(factors: pd.DataFrame, factor_types: list[str]) -> pd.DataFrame:
    """Per factor: who and what attests it (source types, roles, cases, informants), and
    flags for a factor resting on one informant or one source type."""
    rows, groups = [], _factor_groups(factors)
    for factor_type in factor_types:
        for direction in FACTOR_DIRECTIONS:
            group = groups.get((factor_type, direction))
            if group is None:
                continue
            informants, types = group["informant"].nunique(), group["source_type"].nunique()
            flags = ([ "one informant"] if informants == 1 else []) + (["one source type"] if types == 1 else [])
            rows.append({
                "factor_type": factor_type, "direction": direction, "segments": int(group["segment_id"].nunique()),
                "informants": int(informants), "source_types": int(types), "cases": count_cases(group["case"]),
                "documents": int(group["document"].nunique()),
                "by_source_type": _listed(group["source_type"], group["segment_id"]),
                "by_role": _listed(group["role"].fillna("").replace("", "—"), group["segment_id"]),
                "by_case": _listed(group["case"], group["segment_id"]),
                "informant_names": _listed(group["informant"], group["segment_id"]),
                "flags": flags,
            })
    return pd.DataFrame(rows, columns=["factor_type", "direction", "segments", "informants", "source_types", "cases",
                                       "documents", "by_source_type", "by_role", "by_case", "informant_names", "flags"])


def negative_evidence(evidence: pd.DataFrame, factors: pd.DataFrame, factor_types: list[str],
                      reviewed: dict[str, int]) -> pd.DataFrame:
    """Per factor: the codings of its factor type in the opposite direction (count,
    informants, the strongest), and the cases where it is absent among reviewed segments."""
    rows, groups = [], _factor_groups(factors)
    statused = evidence[evidence["status"] == "accepted"] if "accepted" in set(evidence["status"]) else evidence
    all_cases = sorted(set(reviewed) | set(statused["case"]))
    for factor_type in factor_types:
        for direction in FACTOR_DIRECTIONS:
            here = groups.get((factor_type, direction))
            if here is None:
                continue
            opposite = groups.get((factor_type, OPPOSITE[direction]), factors.iloc[:0])
            found_in = set(here["case"])
            absent = [c for c in all_cases if c not in found_in and reviewed.get(c, 0) > 0]
            unreviewed = [c for c in all_cases if c not in found_in and reviewed.get(c, 0) == 0]
            best = strongest(opposite) if len(opposite) else None
            rows.append({
                "factor_type": factor_type, "direction": direction, "segments": int(here["segment_id"].nunique()),
                "opposite": int(opposite["segment_id"].nunique()),
                "opposite_informants": int(opposite["informant"].nunique()),
                "opposite_cases": "; ".join(sorted(set(opposite["case"]))),
                "opposite_quote": cut_quote(best["text"], best["evidence"], 240) if best is not None else "",
                "opposite_where": where(best) if best is not None else "",
                "absent_in": "; ".join(f"{c} ({reviewed[c]})" for c in absent),
                "not_reviewed": "; ".join(unreviewed),
            })
    return pd.DataFrame(rows, columns=["factor_type", "direction", "segments", "opposite", "opposite_informants",
                                       "opposite_cases", "opposite_quote", "opposite_where", "absent_in", "not_reviewed"])


def exemplars(group: pd.DataFrame, n: int = EXEMPLARS) -> list[pd.Series]:
    """Up to ``n`` strong quotes from different informants, different cases first."""
    ordered = group.assign(_score=group["score"].fillna(-1.0), _len=group["text"].str.len()).sort_values(
        ["_score", "_len", "segment_id"], ascending=[False, False, True], kind="stable")
    chosen, informants, cases = [], set(), set()
    for pass_ in (0, 1, 2):
        for _, row in ordered.iterrows():
            if len(chosen) >= n:
                return chosen
            if any(row["segment_id"] == c["segment_id"] for c in chosen):
                continue
            if pass_ == 0 and (row["case"] in cases or row["informant"] in informants):
                continue
            if pass_ == 1 and row["informant"] in informants:
                continue
            chosen.append(row)
            informants.add(row["informant"])
            cases.add(row["case"])
    return chosen


def conclusions_table(factors: pd.DataFrame, factor_types: list[str], memos: pd.DataFrame,
                      codebook: Codebook) -> pd.DataFrame:
    """Per factor (supporting first): cases, informants, sources, counts, codes, exemplar
    quotes with their attribution, and the memos on its codes."""
    rows, groups = [], _factor_groups(factors)
    for direction in FACTOR_DIRECTIONS:
        for factor_type in factor_types:
            group = groups.get((factor_type, direction))
            if group is None:
                continue
            codes = list(dict.fromkeys(group["code"]))
            notes = memos[memos["code"].isin(codes) | (memos["code"] == factor_type)] if len(memos) else memos
            rows.append({
                "direction": direction, "factor_type": factor_type, "codes": codes,
                "segments": int(group["segment_id"].nunique()), "informants": int(group["informant"].nunique()),
                "cases": count_cases(group["case"]), "documents": int(group["document"].nunique()),
                "case_names": "; ".join(sorted(set(group["case"]))),
                "informant_names": "; ".join(sorted(set(group["informant"]))),
                "sources": _listed(group["source_type"], group["segment_id"]),
                "quotes": [(cut_quote(r["text"], r["evidence"], 240), where(r)) for r in exemplars(group)],
                "memo": "\n".join(f"{t} ({a})" for t, a in zip(notes["text"], notes["author"])) if len(notes) else "",
            })
    return pd.DataFrame(rows, columns=["direction", "factor_type", "codes", "segments", "informants", "cases",
                                       "documents", "case_names", "informant_names", "sources", "quotes", "memo"])


def _memos(memos: pd.DataFrame | None, codebook: Codebook, code_map: dict[str, str]) -> pd.DataFrame:
    """The memos on codes and on the project, a code's memo under the code it reads as now."""
    columns = ["target", "code", "text", "author", "created_at"]
    if memos is None or memos.empty:
        return pd.DataFrame(columns=columns)
    memos = memos[memos["target"].isin(["code", "project"])]
    return pd.DataFrame({
        "target": memos["target"].to_numpy(),
        "code": [code_map.get(t, t) for t in memos["target_id"]],
        "text": memos["text"].to_numpy(), "author": memos["author"].to_numpy(),
        "created_at": memos["created_at"].to_numpy()}, columns=columns)


def conclusions_from_view(view, codebook: Codebook, skip_speakers=(), source: str = "accepted", cases: str = "",
                          by: str | None = None) -> Conclusions:
    """The conclusion displays for ``pipeline.report.write_report``, from what it was given:
    the plain or pseudonymised view of a store. The case table is ``cases`` (``[conclude]
    cases``, relative to the project folder) or the project folder's ``cases.csv``, else the
    copy the store kept when it was last read; accepted codings only unless ``source`` is
    ``"all"``; ``by``: the attribute of the factor × attribute display."""
    from pathlib import Path

    from pipeline.conclude.cases import load_case_table
    from pipeline.conclude.evidence import evidence_frame

    store = view.unmasked()
    from pipeline.conclude.cases import CaseTable
    from pipeline.errors import InputError

    try:
        table = load_case_table(Path(store.path).parent.parent, cases, store)
    except InputError as exc:  # the report of a run goes on without it; `pilah cases` shows the problem
        log.warning("%s; the conclusion displays use the manifest's cases only", exc)
        table = CaseTable()
    statuses = ("accepted", "pending") if source == "all" else ("accepted",)
    evidence = evidence_frame(store, codebook, table, statuses, skip_speakers,
                              view=view if hasattr(view, "pseudonymizer") else None)
    return build_conclusions(evidence, codebook, by, view.memos_frame(), store.code_map())
