"""The evidence conclusions are drawn from: one row per segment × code, with its place and attributes.

``evidence_frame`` reads the codings in force (status ``accepted``: accepted, edited, added
or imported by an analyst, on segments whose text is unchanged) and, only when asked, the
pending suggestions (status ``pending``), and gives each its document, case, speaker,
informant, role, source type, the case table's attributes, its reviewer and its text.

Who an **informant** is: the speaker of a turn (not the interviewer: ``[suggest]
skip_speakers``), else, for a document without speakers, its author (the manifest's
``actor``), else its title or path. Cases and informants are named, never file paths.
Under ``--pseudonymize`` the frame is read from the store and then pseudonymised with the
project's pseudonyms (texts, speakers, informants, document names).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pandas as pd

from pipeline.codebook import Codebook
from pipeline.conclude.cases import CaseTable, resolve
from pipeline.display import codings_in_force

STATUSES = ("accepted", "pending")
COLUMNS = ("status", "segment_id", "document_id", "document", "title", "case", "speaker", "informant", "role",
           "source_type", "place", "code", "direction", "factor_type", "reviewer", "origin", "score", "evidence",
           "text", "language")
# A sentence ends at . ! ? … (and their closing quotes or brackets) followed by white space.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")


def evidence_frame(store, codebook: Codebook, cases: CaseTable, statuses: Sequence[str] = ("accepted",),
                   skip_speakers: Sequence[str] = (), view=None) -> pd.DataFrame:
    """Every accepted coding (and pending suggestion, when ``statuses`` holds ``pending``)
    as one row of ``COLUMNS`` plus one column per attribute (``frame.attrs["attributes"]``).

    A segment × code counts once per status (the latest coding when coders differ on its
    direction), as in ``pipeline.display``. ``store`` is the project's store; ``view``, the
    pseudonymised view of it (``pipeline.privacy``) when the frame is to be pseudonymised.
    """
    pseudonymizer = getattr(view, "pseudonymizer", None)
    real = store
    documents = real.documents_frame()[["document_id", "path", "metadata", "layout"]]
    resolved = resolve(cases, documents)
    metadata = {d: _json(m) for d, m in zip(documents["document_id"], documents["metadata"])}
    segments = real.segments_frame()
    places = segments.set_index("segment_id")
    skip = {s.casefold() for s in skip_speakers}
    parts = []
    if "accepted" in statuses:
        codings = codings_in_force(real, places.index)
        parts.append(pd.DataFrame({
            "status": "accepted", "segment_id": codings["segment_id"].to_numpy(), "code": codings["code"].to_numpy(),
            "direction": codings["direction"].fillna("").replace("", "neutral").to_numpy(),
            "reviewer": codings["coder"].to_numpy(), "origin": codings["origin"].to_numpy(),
            "score": pd.to_numeric(codings["seen_score"], errors="coerce").to_numpy(dtype=float),
            "evidence": codings["seen_evidence"].to_numpy()}))
    if "pending" in statuses:
        pending = real.suggestions_frame(pending=True, places=False)
        pending = pending[pending["segment_id"].isin(places.index)]
        parts.append(pd.DataFrame({
            "status": "pending", "segment_id": pending["segment_id"].to_numpy(), "code": pending["code"].to_numpy(),
            "direction": pending["direction"].fillna("").replace("", "neutral").to_numpy(), "reviewer": "",
            "origin": pending["source"].to_numpy(), "score": pd.to_numeric(pending["score"]).to_numpy(),
            "evidence": pending["evidence"].fillna("").to_numpy()}))
    units = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["segment_id", "code"])
    at = places.loc[units["segment_id"]] if len(units) else places.iloc[:0]
    units["document_id"] = at["document_id"].to_numpy()
    units["document"] = at["document"].to_numpy()
    units["speaker"] = at["speaker"].fillna("").to_numpy()
    units["text"] = at["segment_text"].to_numpy()
    units["language"] = at["language"].to_numpy()
    units["place"] = [f"[{t}]" if isinstance(t, str) and t else f"¶ {int(i) + 1}"
                      for t, i in zip(at["timestamp"], at["idx"])]
    researcher = set(places.index[places["segment_role"] == "researcher"]) if "segment_role" in places else set()
    if (skip or researcher) and len(units):  # the researcher's own turns are no one's evidence
        units = units[[s.casefold() not in skip and i not in researcher
                       for s, i in zip(units["speaker"], units["segment_id"])]].reset_index(drop=True)
    found: dict[tuple[str, str], dict[str, str]] = {}

    def attributes_of(document_id: str, path: str, speaker: str) -> dict[str, str]:
        """A segment's attributes (``Resolved.of``), read once per document × speaker."""
        if (document_id, speaker) not in found:
            found[document_id, speaker] = resolved.of(document_id, path, metadata.get(document_id, {}), speaker)
        return found[document_id, speaker]

    rows = [attributes_of(d, p, s) for d, p, s in zip(units["document_id"], units["document"], units["speaker"])]
    for attribute in ["case", *resolved.attributes]:
        units[attribute] = [row.get(attribute, "") for row in rows]
    units["title"] = [str(metadata.get(d, {}).get("title") or p) for d, p in zip(units["document_id"], units["document"])]
    units["informant"] = [informant(s, metadata.get(d, {}), p) for s, d, p in
                          zip(units["speaker"], units["document_id"], units["document"])]
    units["factor_type"] = [(codebook.codes[c].factor_type or "") if c in codebook.codes else "" for c in units["code"]]
    if pseudonymizer is not None and len(units):
        units = _pseudonymised(units, pseudonymizer, view)
    ordered = list(COLUMNS) + [a for a in resolved.attributes if a not in COLUMNS]
    units = units.reindex(columns=ordered).sort_values(["case", "document", "segment_id", "code"], kind="stable")
    units = units.reset_index(drop=True)
    units.attrs["attributes"] = ["case", *resolved.attributes]
    units.attrs["reviewed"] = _reviewed_by_case(real, segments, attributes_of, skip, pseudonymizer)
    units.attrs["statuses"] = tuple(statuses)
    units.attrs["code_map"] = real.code_map() if hasattr(real, "code_map") else {}
    return units


def _reviewed_by_case(store, segments: pd.DataFrame, attributes_of, skip: set, pseudonymizer) -> dict:
    """``{case: segments an analyst has reviewed}`` (a decision or a coding in force on them),
    every case of the project included (0: nothing reviewed there yet): where a factor can
    be said to be absent. ``attributes_of(document_id, path, speaker)``: a segment's attributes."""
    reviewed = set(store.decisions_frame(in_force=True)["segment_id"]) | set(store.codings_frame()["segment_id"].dropna())
    counts: dict[str, int] = {}
    for row in segments.itertuples(index=False):
        speaker = row.speaker if isinstance(row.speaker, str) else ""
        if speaker.casefold() in skip or getattr(row, "segment_role", "") == "researcher":
            continue
        case = attributes_of(row.document_id, row.document, speaker)["case"]
        case = pseudonymizer.text(case) if pseudonymizer is not None else case
        counts[case] = counts.get(case, 0) + int(row.segment_id in reviewed)
    return counts


def informant(speaker: str, metadata: dict, path: str) -> str:
    """Who speaks in a segment: its speaker, else its document's author, else its title or path."""
    return speaker or str(metadata.get("actor") or metadata.get("title") or path)


def _pseudonymised(units: pd.DataFrame, p, view) -> pd.DataFrame:
    units = units.copy()
    units["speaker"] = [p.speaker(s) if s else s for s in units["speaker"]]
    units["informant"] = [p.speaker(i) if s else p.text(i) for i, s in zip(units["informant"], units["speaker"])]
    texts = view.segment_texts(list(units["segment_id"]))
    units["text"] = [texts[s][0] if s in texts else p.text(t) for s, t in zip(units["segment_id"], units["text"])]
    for column in ("document", "document_id"):
        units[column] = [p.path(d) for d in units[column]]
    for column in ("title", "case", "role"):
        units[column] = [p.text(v) for v in units[column]]
    return units


def _json(value) -> dict:
    try:
        found = json.loads(value) if isinstance(value, str) else (value or {})
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` (ends at ``.!?…`` followed by space)."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    if start < len(text.rstrip()):
        spans.append((start, len(text.rstrip())))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def cut_quote(text: str, evidence: str = "", limit: int = 320) -> str:
    """``text`` cut at sentence boundaries to about ``limit`` characters: whole sentences
    around the first evidence word found (else from the start), ``…`` where sentences were
    left out. A single sentence longer than ``limit`` is kept whole: a quote is never cut
    inside a sentence.

    Examples
    --------
    >>> cut_quote("Dana kurang. Pelatihan membantu kami. Pasar sulit.", "pelatihan", 30)
    '… Pelatihan membantu kami. …'
    """
    text = " ".join(str(text or "").split())
    spans = sentences(text)
    if len(text) <= limit or len(spans) <= 1:
        return text
    words = [w.strip().casefold() for w in re.split(r"[;,]", str(evidence or "")) if w.strip()]
    words = [w.removeprefix("model:").strip() for w in words]
    folded = text.casefold()
    hits = [folded.find(w) for w in words if w and folded.find(w) >= 0]
    anchor = min(hits) if hits else 0
    first = next((i for i, (a, b) in enumerate(spans) if a <= anchor < b + 1), 0)
    chosen = [first]
    while True:
        grown = False
        for candidate in (chosen[-1] + 1, chosen[0] - 1):
            if 0 <= candidate < len(spans):
                lo, hi = min(chosen + [candidate]), max(chosen + [candidate])
                if spans[hi][1] - spans[lo][0] <= limit:
                    chosen = list(range(lo, hi + 1))
                    grown = True
                    break
        if not grown:
            break
    lo, hi = chosen[0], chosen[-1]
    quote = text[spans[lo][0]:spans[hi][1]]
    return ("… " if lo > 0 else "") + quote + (" …" if hi < len(spans) - 1 else "")
