"""The display units as ``build_displays`` read them before it streamed (issue 14): every
segment with its text, every coding and every pending suggestion in one read. The tests
of the streaming displays compare what they show with this."""

from __future__ import annotations

import json

import pandas as pd

from pipeline.display import NO_VALUE, STATUSES, UNIT_COLUMNS
from pipeline.records import RESEARCHER


def units_read_whole(store, codebook, source: str) -> pd.DataFrame:
    """One row per status × segment × code shown (``UNIT_COLUMNS`` and ``text``), in the
    order the displays hold them; pending suggestions on the researcher's own turns left out."""
    segments = store.segments_frame()
    metadata = {doc: json.loads(m) for doc, m in zip(segments["document"], segments["metadata"])}
    places = pd.DataFrame({"document": segments["document"].to_numpy(),
                           "speaker": segments["speaker"].fillna("").to_numpy(),
                           "timestamp": segments["timestamp"].fillna("").to_numpy(),
                           "language": segments["language"].to_numpy(),
                           "text": segments["segment_text"].to_numpy(),
                           "segment_role": segments["segment_role"].to_numpy()},
                          index=pd.Index(segments["segment_id"].to_numpy(), name="segment_id"))
    for key in ("case", "actor", "role"):
        places[key] = [str(metadata[doc].get(key) or NO_VALUE) for doc in places["document"]]
    frames = []
    if "accepted" in STATUSES[source]:
        codings = store.codings_frame()
        codings = codings[~codings["stale"] & codings["segment_id"].isin(places.index)]
        codings = codings.sort_values("coding_id").drop_duplicates(["segment_id", "code"], keep="last")
        decisions = store.decisions_frame(in_force=False).set_index("decision_id")
        frames.append(pd.DataFrame({
            "status": "accepted", "segment_id": codings["segment_id"].to_numpy(), "code": codings["code"].to_numpy(),
            "direction": codings["direction"].fillna("neutral").replace("", "neutral").to_numpy(),
            "score": codings["decision_id"].map(decisions["seen_score"]).to_numpy(dtype=float),
            "evidence": codings["decision_id"].map(decisions["seen_evidence"]).fillna("").to_numpy()}))
    if "pending" in STATUSES[source]:
        pending = store.suggestions_frame(pending=True, places=False)
        shown = places.index[places["segment_role"] != RESEARCHER]
        pending = pending[pending["segment_id"].isin(shown)]
        frames.append(pd.DataFrame({
            "status": "pending", "segment_id": pending["segment_id"].to_numpy(), "code": pending["code"].to_numpy(),
            "direction": pending["direction"].fillna("").replace("", "neutral").to_numpy(),
            "score": pd.to_numeric(pending["score"]).to_numpy(dtype=float),
            "evidence": pending["evidence"].fillna("").to_numpy()}))
    units = pd.concat(frames, ignore_index=True)
    for column in ("document", "case", "actor", "role", "speaker", "timestamp", "language", "text"):
        units[column] = units["segment_id"].map(places[column]).to_numpy()
    units["factor_type"] = [codebook.codes[c].factor_type or "" if c in codebook.codes else "" for c in units["code"]]
    return units.reindex(columns=[*UNIT_COLUMNS, "text"])
