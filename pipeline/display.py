"""Data display (Miles, Huberman & Saldaña's second activity): the project's codes as matrices.

Everything here is read from the project store and returned as DataFrames; nothing is
drawn or written (``pipeline.report`` renders these as HTML and as sheets).

What a display shows is one of two things, never mixed without a label:

- **accepted**: the codings in force whose segment text is unchanged (accepted, edited,
  added or imported by an analyst);
- **pending**: the suggestions in force that no decision in force has settled yet (the
  rows of the review sheet with an empty ``decision``; ``pipeline.review.review_frame``).

``source`` chooses ``"accepted"``, ``"suggested"`` (pending) or ``"all"`` (both, each
counted on its own: every matrix is a ``{status: DataFrame}`` mapping). A segment × code
counts once per status; when coders differ on the direction of one, the latest coding
counts.

Memory stays near the size of the matrices: the segments and the pending suggestions are
read ``DOCUMENTS_AT_ONCE`` documents at a time, and the units are held without their
segment's text, which a display reads from the store for the units it shows (a quote;
``Displays.texts``). At 10,000 documents the displays now add 50 MB to the peak of
``pilah run``; holding every text, word and suggestion at once they added 360 MB.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import pandas as pd

from pipeline.codebook import Codebook
from pipeline.decisions import review_status
from pipeline.errors import InputError
from pipeline.records import DIRECTIONS, RESEARCHER
from pipeline.store import Store

SOURCES = ("accepted", "suggested", "all")
STATUSES = {"accepted": ("accepted",), "suggested": ("pending",), "all": ("accepted", "pending")}
LANGUAGES = ("id", "en", "mixed", "und")
DIMENSIONS = ("document", "case", "actor", "role")
NO_VALUE = "—"  # a case, actor or role the manifest does not give
UNIT_COLUMNS = ("status", "segment_id", "document", "case", "actor", "role", "speaker", "timestamp", "language",
                "code", "direction", "factor_type", "score", "evidence")
DOCUMENTS_AT_ONCE = 500  # the segments are read this many documents at a time, their texts not kept
_MODEL_PREFIX = re.compile(r"^\s*model:\s*")
_CUE_PREFIX = re.compile(r"^\s*(?:supporting|constraining|neutral):\s*")


@dataclass
class Displays:
    """The displays of one project, from one ``source``.

    Every matrix is ``{status: DataFrame}`` with one entry per status the source shows
    (``"accepted"`` and/or ``"pending"``), in that order.
    """

    source: str
    statuses: tuple[str, ...]
    units: pd.DataFrame  # one row per status × segment × code shown (``UNIT_COLUMNS``), without text
    texts: Callable[[Sequence[str]], dict[str, str]]  # segment ids → their text, read from the store
    text_digest: str  # of every current segment's text: what the units show besides their own columns
    overview: dict
    progress: pd.DataFrame  # per code: suggested, accepted, edited, added, rejected, pending, stale
    factor_cells: dict[str, pd.DataFrame]  # factor_type × direction: count, per-case counts, strongest quote
    factor_by: dict[str, dict[str, pd.DataFrame]]  # "case"/"actor" → status → factor_type × (value, direction)
    code_by: dict[str, dict[str, pd.DataFrame]]  # dimension → status → code × value counts
    cooccurrence: dict[str, pd.DataFrame]  # status → code × code: segments holding both
    code_direction: dict[str, pd.DataFrame]  # status → code × direction counts
    code_language: dict[str, pd.DataFrame]  # status → code × segment language counts
    factor_types: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


def build_displays(
    store: Store,
    codebook: Codebook,
    source: str = "all",
) -> Displays:
    """Read the project and build every display from ``source`` (accepted / suggested / all).

    Examples
    --------
    >>> with Store("my-project") as store:                       # doctest: +SKIP
    ...     displays = build_displays(store, codebook, "accepted")
    >>> displays.code_by["case"]["accepted"].loc["funding"]       # doctest: +SKIP
    """
    if source not in SOURCES:
        raise InputError("--source", f"expected one of {', '.join(SOURCES)}, found {source!r}")
    statuses = STATUSES[source]
    places, words, text_digest = _places(store, DOCUMENTS_AT_ONCE)
    texts = partial(shown_texts, store)
    frames = []
    if "accepted" in statuses:
        frames.append(_accepted_units(store, codebook, places))
    if "pending" in statuses:
        frames.append(_pending_units(store, codebook, places, DOCUMENTS_AT_ONCE))
    units = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(UNIT_COLUMNS))
    units = units.reindex(columns=list(UNIT_COLUMNS))
    codes = _code_order(codebook, units)
    factor_types = list(codebook.factor_types) + sorted(set(units["factor_type"]) - set(codebook.factor_types) - {""})
    by_status = {s: units[units["status"] == s] for s in statuses}
    return Displays(
        source=source,
        statuses=statuses,
        units=units,
        texts=texts,
        text_digest=text_digest,
        overview=_overview(places, words, units, store),
        progress=_progress(store, codes),
        factor_cells={s: factor_cells(u, factor_types, texts) for s, u in by_status.items()},
        factor_by={dim: {s: _factor_by(u, factor_types, dim) for s, u in by_status.items()} for dim in ("case", "actor")},
        code_by={dim: {s: _crosstab(u, "code", dim, codes, sorted(set(places[dim]))) for s, u in by_status.items()}
                 for dim in DIMENSIONS},
        cooccurrence={s: cooccurrence(u, codes) for s, u in by_status.items()},
        code_direction={s: _crosstab(u, "code", "direction", codes, list(DIRECTIONS)) for s, u in by_status.items()},
        code_language={s: _crosstab(u, "code", "language", codes, list(LANGUAGES)) for s, u in by_status.items()},
        factor_types=factor_types,
        codes=codes,
    )


# -- the units shown ------------------------------------------------------------------
def _places(store: Store, documents_at_once: int) -> tuple[pd.DataFrame, int, str]:
    """Per current segment: document, case, actor, role (from the manifest), speaker,
    timestamp, language and tokens, indexed by segment id; with the words of all segments
    and a digest of their texts (segment id and text, in the documents' path order).

    The segments are read ``documents_at_once`` documents at a time and their texts are not
    kept (``shown_texts`` reads those a display shows)."""
    parts, words, digest = [], 0, hashlib.sha256()
    for documents in _document_parts(store, documents_at_once):
        segments = store.segments_frame(documents)
        for segment_id, text in zip(segments["segment_id"], segments["segment_text"]):
            words += len(text.split())
            digest.update(f"{segment_id}\x1f{text}\x1e".encode("utf-8"))
        parts.append(_place_columns(segments))
    return pd.concat(parts) if len(parts) > 1 else parts[0], words, digest.hexdigest()


def _document_parts(store: Store, size: int) -> Iterator[list[str]]:
    """The project's document ids, ``size`` at a time, in the order of their paths (at
    least one part, empty when the project is)."""
    paths = store.document_paths()
    ordered = sorted(paths, key=lambda d: (paths[d], d))
    for start in range(0, max(len(ordered), 1), size):
        yield ordered[start:start + size]


def _shared(values: Iterable) -> list:
    """``values`` with one object per distinct value. Each value read from SQLite is an
    object of its own: 75,000 units held 75,000 copies of a few codes and directions."""
    seen: dict = {}
    return [seen.setdefault(v, v) for v in values]


def _place_columns(segments: pd.DataFrame) -> pd.DataFrame:
    metadata = {doc: json.loads(m) if isinstance(m, str) else {} for doc, m in
                zip(segments["document"], segments["metadata"])}
    places = pd.DataFrame({
        "document": _shared(segments["document"]),
        "speaker": _shared(segments["speaker"].fillna("")),
        "timestamp": _shared(segments["timestamp"].fillna("")),
        "language": _shared(segments["language"]),
        "tokens": segments["tokens"].to_numpy(),
        "segment_role": _shared(segments["segment_role"]),
    }, index=pd.Index(segments["segment_id"].to_numpy(), name="segment_id"))
    for key in ("case", "actor", "role"):
        places[key] = [str(metadata[doc].get(key) or NO_VALUE) for doc in places["document"]]
    return places


def shown_texts(store: Store, segment_ids: Sequence[str]) -> dict[str, str]:
    """``{segment_id: text}`` as the displays show it (``store`` may be the pseudonymised view)."""
    return {key: text for key, (text, _) in store.segment_texts(list(dict.fromkeys(segment_ids))).items()}


def with_text(units: pd.DataFrame, texts: Callable[[Sequence[str]], dict[str, str]]) -> pd.DataFrame:
    """``units`` with their segment's ``text`` (``Displays.texts``): for the units a display shows."""
    found = texts(units["segment_id"].tolist())
    return units.assign(text=[found[s] for s in units["segment_id"]])


def codings_in_force(store: Store, segment_ids: Iterable[str]) -> pd.DataFrame:
    """The codings in force on ``segment_ids`` (not stale; the latest coding of a segment ×
    code when coders differ), with the score and evidence their decision saw
    (``seen_score``, ``seen_evidence``). The displays and ``pipeline.conclude`` both count these."""
    codings = store.codings_frame()
    codings = codings[~codings["stale"] & codings["segment_id"].isin(segment_ids)]
    codings = codings.sort_values("coding_id").drop_duplicates(["segment_id", "code"], keep="last")
    decisions = store.decisions_frame(in_force=False).set_index("decision_id")
    return codings.assign(seen_score=codings["decision_id"].map(decisions["seen_score"]),
                          seen_evidence=codings["decision_id"].map(decisions["seen_evidence"]).fillna(""))


def _accepted_units(store: Store, codebook: Codebook, places: pd.DataFrame) -> pd.DataFrame:
    codings = codings_in_force(store, places.index)
    units = _with_place(pd.DataFrame({
        "status": "accepted",
        "segment_id": codings["segment_id"].to_numpy(),
        "code": _shared(codings["code"]),
        "direction": _shared(codings["direction"].fillna("neutral").replace("", "neutral")),
        "score": codings["seen_score"].to_numpy(dtype=float),
        "evidence": _shared(codings["seen_evidence"]),
    }), places)
    return _with_factor_type(units, codebook)


def _pending_units(store: Store, codebook: Codebook, places: pd.DataFrame,
                   documents_at_once: int) -> pd.DataFrame:
    """The suggestions in force no decision in force has settled: the review sheet's
    undecided suggestion rows (``Store.suggestions_frame(pending=True)``, the one rule the
    sheet and ``pilah review status`` share), without the researcher's own turns
    (``Segment.role``).

    Read ``documents_at_once`` documents at a time, in the order of the whole read (path,
    segment, score), keeping only the columns shown: the whole read was 30 MB at 10,000
    documents."""
    shown = places.index[places["segment_role"] != RESEARCHER]
    parts = []
    for documents in _document_parts(store, documents_at_once):
        pending = store.suggestions_frame(documents, pending=True, places=False)
        pending = pending[pending["segment_id"].isin(shown)]
        parts.append(pd.DataFrame({
            "status": "pending",
            "segment_id": pending["segment_id"].to_numpy(),
            "code": _shared(pending["code"]),
            "direction": _shared(pending["direction"].fillna("").replace("", "neutral")),
            "score": pd.to_numeric(pending["score"], errors="coerce").to_numpy(dtype=float),
            "evidence": _shared(pending["evidence"].fillna("")),
        }))
    units = _with_place(pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0], places)
    return _with_factor_type(units, codebook)


def _with_place(units: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """``units`` (of segments in ``places``) with their segment's place; the segment ids
    become the places' own objects, so each segment's id is held once."""
    at = places.index.get_indexer(units["segment_id"])
    units["segment_id"] = places.index.to_numpy()[at]
    for column in ("document", "case", "actor", "role", "speaker", "timestamp", "language"):
        units[column] = places[column].to_numpy()[at]
    return units


def _with_factor_type(units: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    units["factor_type"] = [(codebook.codes[c].factor_type or "") if c in codebook.codes else "" for c in units["code"]]
    return units


def _code_order(codebook: Codebook, units: pd.DataFrame) -> list[str]:
    """Codable codes in codebook order, then codes the codebook does not know (imported)."""
    known = [code.id for code in codebook.codable()]
    return known + sorted(set(units["code"]) - set(known))


# -- overview and review progress ---------------------------------------------------
def _overview(places: pd.DataFrame, words: int, units: pd.DataFrame, store: Store) -> dict:
    languages = places["language"].value_counts()
    codings = store.codings_frame()
    return {
        "documents": int(places["document"].nunique()),
        "segments": int(len(places)),
        "words": words,
        "tokens": int(places["tokens"].sum()) if len(places) else 0,
        "languages": {lang: int(languages.get(lang, 0)) for lang in LANGUAGES},
        "cases": sorted(set(places["case"]) - {NO_VALUE}),
        "actors": sorted(set(places["actor"]) - {NO_VALUE}),
        "units": {status: int(n) for status, n in units["status"].value_counts().items()},
        "stale_codings": int(codings["stale"].sum()),
    }


def _progress(store: Store, codes: list[str]) -> pd.DataFrame:
    columns = ["suggested", "accepted", "edited", "added", "rejected", "pending", "stale"]
    if not store.suggestion_counts():  # no suggestion in force: nothing to review yet
        return pd.DataFrame(0, index=codes, columns=columns)
    status = review_status(store)
    frame = pd.DataFrame.from_dict(status["per_code"], orient="index").reindex(columns=columns)
    order = [c for c in codes if c in frame.index] + sorted(set(frame.index) - set(codes))
    return frame.reindex(order).fillna(0).astype(int)


# -- matrices -------------------------------------------------------------------------
def _crosstab(units: pd.DataFrame, rows: str, columns: str, row_order: list[str], column_order: list[str]) -> pd.DataFrame:
    """Counts of ``units`` by ``rows`` × ``columns``, every row and column of the orders kept."""
    counts = units.groupby([rows, columns]).size().unstack(fill_value=0) if len(units) else pd.DataFrame()
    extra = [c for c in counts.columns if c not in column_order]
    return counts.reindex(index=row_order, columns=column_order + extra, fill_value=0).fillna(0).astype(int)


def factor_cells(units: pd.DataFrame, factor_types: list[str],
                 texts: Callable[[Sequence[str]], dict[str, str]]) -> pd.DataFrame:
    """The factor matrix, long: one row per factor type × direction with its ``count``,
    counts per case (``by_case``: ``{case: n}``) and the strongest quote (the unit with
    the highest score; an analyst's added coding, which has none, counts as 1.0), its text
    read with ``texts`` (``Displays.texts``)."""
    rows, quoted = [], []
    ranked = units.assign(rank_score=units["score"].fillna(1.0),
                          n_evidence=[len(evidence_words(e)) for e in units["evidence"]])
    ranked = ranked.sort_values(["rank_score", "n_evidence"], ascending=False, kind="stable")
    for factor_type in factor_types:
        for direction in DIRECTIONS:
            cell = ranked[(ranked["factor_type"] == factor_type) & (ranked["direction"] == direction)]
            best = cell.iloc[0] if len(cell) else None
            quoted.append(best["segment_id"] if best is not None else None)
            rows.append({
                "factor_type": factor_type,
                "direction": direction,
                "count": int(cell["segment_id"].nunique()),
                "codes": {str(k): int(v) for k, v in cell["code"].value_counts().items()},
                "by_case": {str(k): int(v) for k, v in cell.drop_duplicates("segment_id")["case"].value_counts().items()},
                "quote": "",  # the text of ``quoted``, read below
                "quote_evidence": best["evidence"] if best is not None else "",
                "quote_code": best["code"] if best is not None else "",
                "quote_document": best["document"] if best is not None else "",
                "quote_actor": best["actor"] if best is not None else "",
                "quote_speaker": best["speaker"] if best is not None else "",
                "quote_timestamp": best["timestamp"] if best is not None else "",
                "quote_score": float(best["score"]) if best is not None else float("nan"),
            })
    cells = pd.DataFrame(rows)
    found = texts([s for s in quoted if s is not None])
    if len(cells):
        cells["quote"] = [found[s] if s is not None else "" for s in quoted]
    return cells


def _factor_by(units: pd.DataFrame, factor_types: list[str], dimension: str) -> pd.DataFrame:
    """Segments per factor type × (case or actor, direction); a segment counts once per cell."""
    values = sorted(set(units[dimension])) if len(units) else []
    columns = pd.MultiIndex.from_product([values, list(DIRECTIONS)], names=[dimension, "direction"])
    if not len(units):
        return pd.DataFrame(0, index=pd.Index(factor_types, name="factor_type"), columns=columns)
    once = units.drop_duplicates(["segment_id", "factor_type", "direction"])
    counts = once.groupby(["factor_type", dimension, "direction"]).size().unstack([1, 2], fill_value=0)
    return counts.reindex(index=factor_types, columns=columns, fill_value=0).fillna(0).astype(int)


def cooccurrence(units: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Code × code: the number of segments holding both codes (the diagonal: holding the code)."""
    if not len(units):
        return pd.DataFrame(0, index=codes, columns=codes)
    presence = units.groupby(["segment_id", "code"]).size().unstack(fill_value=0).clip(upper=1)
    presence = presence.reindex(columns=codes, fill_value=0)
    return (presence.T @ presence).astype(int)


def quotes(units: pd.DataFrame, code: str, limit: int | None = None) -> pd.DataFrame:
    """The units of ``code``, accepted first, strongest (highest score) first (without their
    text: ``with_text`` adds it to those shown)."""
    chosen = units[units["code"] == code]
    chosen = chosen.assign(_accepted=chosen["status"] == "accepted", _score=chosen["score"].fillna(1.0))
    chosen = chosen.sort_values(["_accepted", "_score", "document"], ascending=[False, False, True], kind="stable")
    chosen = chosen.drop(columns=["_accepted", "_score"])
    return chosen.head(limit) if limit is not None else chosen


def evidence_words(evidence: object) -> list[str]:
    """The words of a suggestion's evidence (``"a; b"`` for rules, ``"model: a, b"`` for the
    model), one-letter words left out."""
    if not isinstance(evidence, str):
        return []
    found = []
    for part in evidence.split(" · "):  # then "constraining: cue, words" (the direction's cues)
        part = _MODEL_PREFIX.sub("", part) if not found else _CUE_PREFIX.sub("", part)
        found += [w.strip().removeprefix("not ") for w in re.split(r"[;,]", part) if len(w.strip()) > 1]
    return found


def keyword_in_context(text: str, evidence: object, width: int = 240) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``text`` of about ``width`` characters around its first evidence word,
    and the ``(start, end)`` spans of the evidence words inside the window.

    Examples
    --------
    >>> keyword_in_context("Dana APBD dipotong tahun ini.", "dipotong")
    ('Dana APBD dipotong tahun ini.', [(10, 18)])
    """
    words = evidence_words(evidence)
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in sorted(words, key=len, reverse=True)),
                         re.IGNORECASE) if words else None
    hits = [m.span() for m in pattern.finditer(text)] if pattern else []
    if len(text) <= width:
        return text, hits
    centre = hits[0][0] if hits else 0
    start = max(0, min(centre - width // 3, len(text) - width))
    end = min(len(text), start + width)
    while start > 0 and not text[start - 1].isspace() and centre - start < width // 2:
        start -= 1
    window = ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")
    shift = start - (1 if start > 0 else 0)
    return window, [(a - shift, b - shift) for a, b in hits if a >= start and b <= end]
