"""The report as one self-contained HTML file: styles inline, charts as ``data:`` SVG
images, no script, and a Content-Security-Policy that forbids any fetch, so it opens
offline and nothing in it (a quote included) can reach the network."""

from __future__ import annotations

import base64
import math
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from pipeline.display import DIMENSIONS, Displays, evidence_words, keyword_in_context, quotes, with_text
from pipeline.report import charts
from pipeline.report.labels import Labels

TEMPLATE = "report.html.j2"
MAX_COLUMNS = 24  # a matrix wider than this shows its busiest columns and one for the rest
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["j2", "html"]),
                   trim_blocks=True, lstrip_blocks=True)
# (red, green, blue) of the cell colours: supporting, constraining, and a neutral heat.
_RGB = {"supporting": (27, 127, 75), "constraining": (184, 50, 39), "neutral": (120, 120, 120), "heat": (74, 60, 140)}


def render_html(displays: Displays, labels: Labels, meta: dict, quotes_per_code: int = 8, conclusions=None,
                memos: pd.DataFrame | None = None) -> str:
    """The report's HTML text. ``meta``: ``project``, ``codebook`` (name and version) and
    optionally ``generated`` (a time stamp); ``conclusions``: the conclusion displays
    (``pipeline.conclude``), shown after the factor matrices."""
    from pipeline.conclude.render import html_section
    from pipeline.conclude.words import WORDS

    context = {
        "conclusions": html_section(conclusions, labels) if conclusions is not None else "",
        "conclusions_title": WORDS[labels.lang]["conclusions"],
        "t": labels,
        "lang": labels.lang,
        "csp": CSP,
        "meta": {"generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")} | meta,
        "source": labels.source(displays.source),
        "statuses": [{"id": s, "label": labels.status(s), "n": displays.overview["units"].get(s, 0)}
                     for s in displays.statuses],
        "overview": _overview(displays, labels),
        "factors": [_factor_block(displays, labels, s) for s in displays.statuses],
        "factors_by": [_factor_by(displays, labels, dim) for dim in ("case", "actor")],
        "codes_by": [_codes_by(displays, labels, dim) for dim in DIMENSIONS],
        "charts": {
            "factors": _data_uri(charts.factor_chart(displays, labels)),
            "cooccurrence": _data_uri(charts.cooccurrence_chart(displays, labels)),
            "direction": _data_uri(charts.stacked_chart(displays.code_direction, displays, labels, "direction")),
            "language": _data_uri(charts.stacked_chart(displays.code_language, displays, labels, "language")),
        },
        "quotes": _quotes(displays, labels, quotes_per_code),
        "memos": _memos(memos, labels),
    }
    return _ENV.get_template(TEMPLATE).render(**context)


# The workspace's memos (``pilah serve``), after the quotes: what each is on, its text, who wrote it.
MEMO_WORDS = {"id": {"memos": "Memo", "project": "Proyek", "document": "Dokumen", "code": "Kode", "segment": "Segmen"},
              "en": {"memos": "Memos", "project": "Project", "document": "Document", "code": "Code", "segment": "Segment"}}


def _memos(memos: pd.DataFrame | None, labels: Labels) -> dict:
    words = MEMO_WORDS.get(labels.lang, MEMO_WORDS["en"])
    rows = [] if memos is None else [
        {"on": words[m.target], "target": labels.code(m.target_id) if m.target == "code" else m.target_id,
         "text": m.text, "author": m.author, "date": str(m.created_at)[:10]}
        for m in memos.sort_values("memo_id").itertuples(index=False)]
    return {"title": words["memos"], "rows": rows}


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _shade(kind: str, n: float, top: float) -> str:
    if not n or not top:
        return ""
    red, green, blue = _RGB[kind]
    alpha = 0.12 + 0.6 * math.sqrt(n / top)
    text = "color:#fff;" if alpha > 0.5 else ""
    return f"background:rgba({red},{green},{blue},{alpha:.2f});{text}"


def highlighted(text: str, evidence: object, width: int = 240) -> Markup:
    """A quote in context, whole sentences around its first evidence word (about ``width``
    characters, ``pipeline.conclude.evidence.cut_quote``), with its evidence words in
    ``<mark>``; everything else escaped."""
    from pipeline.conclude.evidence import cut_quote

    quote = cut_quote(text or "", "; ".join(evidence_words(evidence)), width)
    window, spans = keyword_in_context(quote, evidence, max(width, len(quote)))
    parts, at = [], 0
    for start, end in spans:
        parts.append(escape(window[at:start]))
        parts.append(Markup("<mark>") + escape(window[start:end]) + Markup("</mark>"))
        at = end
    parts.append(escape(window[at:]))
    return Markup("").join(parts)


def _where(row, labels: Labels, with_case: bool = False) -> str:
    """Case, actor, document, speaker [timestamp]; a speaker the actor already names is not repeated."""
    parts = [row["actor"] if row["actor"] != "—" else "", row["document"]]
    if with_case:
        parts.insert(0, row["case"])
    speaker = row["speaker"] if row["speaker"] and row["speaker"] not in row["actor"] else ""
    speaker = " ".join(p for p in (speaker, f"[{row['timestamp']}]" if row["timestamp"] else "") if p)
    return " · ".join(p for p in (*parts, speaker) if p)


def _overview(displays: Displays, labels: Labels) -> dict:
    overview = displays.overview
    progress = displays.progress
    columns = list(progress.columns)
    return {
        "figures": [(labels["documents"], f"{overview['documents']:,}"), (labels["segments"], f"{overview['segments']:,}"),
                    (labels["words"], f"{overview['words']:,}"), (labels["cases"], f"{len(overview['cases']):,}"),
                    (labels["actors"], f"{len(overview['actors']):,}")],
        "languages": [(labels.language(k), v, round(100 * v / max(1, overview["segments"]))) for k, v in
                      overview["languages"].items()],
        "cases": overview["cases"],
        "progress_columns": [labels[c] for c in columns],
        "progress": [{"label": labels.code(code), "code": code, "values": [int(v) for v in row]}
                     for code, row in zip(progress.index, progress.to_numpy())],
        "progress_total": [int(v) for v in progress.sum().to_numpy()] if len(progress) else [0] * len(columns),
        "stale_codings": overview["stale_codings"],
    }


def _factor_block(displays: Displays, labels: Labels, status: str) -> dict:
    cells = displays.factor_cells[status]
    top = max(1, int(cells[cells["direction"] != "neutral"]["count"].max())) if len(cells) else 1
    rows = []
    for factor_type in displays.factor_types:
        here = cells[cells["factor_type"] == factor_type].set_index("direction")
        row = {"label": labels.factor_type(factor_type), "cells": [], "neutral": int(here.loc["neutral", "count"])}
        for direction in ("supporting", "constraining"):
            cell = here.loc[direction]
            count = int(cell["count"])
            row["cells"].append({
                "direction": direction,
                "count": count,
                "style": _shade(direction, count, top),
                "quote": highlighted(cell["quote"], cell["quote_evidence"], 200) if count else "",
                "code": labels.code(cell["quote_code"]) if count else "",
                "where": _where({"actor": cell["quote_actor"], "document": cell["quote_document"],
                                 "speaker": cell["quote_speaker"], "timestamp": cell["quote_timestamp"]},
                                labels) if count else "",
                "by_case": " · ".join(f"{k} {v}" for k, v in sorted(cell["by_case"].items(), key=lambda kv: -kv[1])),
            })
        rows.append(row)
    return {"status": status, "label": labels.status(status), "rows": rows,
            "n": displays.overview["units"].get(status, 0),
            "directions": [labels.direction(d) for d in ("supporting", "constraining", "neutral")]}


def _fold(frame: pd.DataFrame, labels: Labels, limit: int) -> pd.DataFrame:
    """At most ``limit`` columns (first level: a case, actor…): the values with the most
    segments, in their order, and one column adding up the others (the sheets keep all)."""
    values = list(dict.fromkeys(frame.columns.get_level_values(0)))
    if len(values) <= limit:
        return frame
    totals = frame.T.groupby(level=0).sum().sum(axis=1) if frame.columns.nlevels > 1 else frame.sum()
    kept = set(totals.sort_values(ascending=False, kind="stable").index[: limit - 1])
    others = [v for v in values if v not in kept]
    name = labels["others"].format(n=len(others))
    if frame.columns.nlevels > 1:
        rest = frame.loc[:, others].T.groupby(level=1).sum().T
        rest.columns = pd.MultiIndex.from_product([[name], rest.columns])
        return pd.concat([frame.loc[:, [v for v in values if v in kept]], rest], axis=1)
    return frame[[v for v in values if v in kept]].assign(**{name: frame[others].sum(axis=1)})


def _factor_by(displays: Displays, labels: Labels, dimension: str) -> dict:
    blocks = []
    for status in displays.statuses:
        frame = _fold(displays.factor_by[dimension][status], labels, MAX_COLUMNS)
        values = list(dict.fromkeys(frame.columns.get_level_values(0)))
        top = max(1, int(frame.to_numpy().max())) if frame.size else 1
        rows = []
        for factor_type in displays.factor_types:
            cells = []
            for value in values:
                s, c = int(frame.loc[factor_type, (value, "supporting")]), int(frame.loc[factor_type, (value, "constraining")])
                kind = "supporting" if s > c else "constraining" if c > s else "neutral"
                cells.append({"s": s, "c": c, "style": _shade(kind, max(s, c), top) if s or c else ""})
            rows.append({"label": labels.factor_type(factor_type), "cells": cells})
        blocks.append({"status": status, "label": labels.status(status), "values": values, "rows": rows})
    name = labels[f"dim_{dimension}"]
    return {"id": f"factors-{dimension}", "title": labels[f"factors_by_{dimension}"],
            "guide": labels["factors_by_guide"].format(dimension=name), "blocks": blocks}


def _codes_by(displays: Displays, labels: Labels, dimension: str) -> dict:
    blocks = []
    for status in displays.statuses:
        frame = _fold(displays.code_by[dimension][status], labels, MAX_COLUMNS)
        top = max(1, int(frame.to_numpy().max())) if frame.size else 1
        rows = [{"code": code, "label": labels.code(code),
                 "cells": [{"n": int(n), "style": _shade("heat", int(n), top)} for n in frame.loc[code].to_numpy()],
                 "total": int(frame.loc[code].sum())} for code in frame.index]
        blocks.append({"status": status, "label": labels.status(status), "values": list(frame.columns), "rows": rows})
    name = labels[f"dim_{dimension}"]
    return {"id": f"codes-{dimension}", "title": labels["codes_by"].format(dimension=name),
            "guide": labels["codes_by_guide"].format(dimension=name), "blocks": blocks}


def _quotes(displays: Displays, labels: Labels, limit: int) -> list[dict]:
    sections = []
    for code in displays.codes:
        every = quotes(displays.units, code)
        chosen = with_text(_share(every, limit), displays.texts)
        definition = displays_definition(labels, code)
        items = [{
            "status": row["status"], "status_label": labels[row["status"]],
            "direction": row["direction"], "direction_label": labels.direction(row["direction"]),
            "quote": highlighted(row["text"], row["evidence"]),
            "where": _where(row, labels, with_case=True),
            "language": labels.language(row["language"]),
            "score": f"{row['score']:.2f}" if not pd.isna(row["score"]) else labels["score_none"],
        } for _, row in chosen.iterrows()]
        sections.append({"code": code, "label": labels.code(code), "definition": definition, "items": items,
                         "more": max(0, len(every) - len(chosen)),
                         "counts": {s: int((every["status"] == s).sum()) for s in displays.statuses}})
    return sections


def _share(every: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most ``limit`` quotes, accepted first; with both statuses, half the places each
    (the unused places of one go to the other), so pending suggestions are seen too."""
    accepted, pending = every[every["status"] == "accepted"], every[every["status"] == "pending"]
    if accepted.empty or pending.empty:
        return every.head(limit)
    take = min(len(accepted), max(limit - limit // 2, limit - len(pending)))
    return pd.concat([accepted.head(take), pending.head(limit - take)])


def displays_definition(labels: Labels, code: str) -> str:
    entry = labels.codebook.codes.get(code)
    return entry.definition if entry else ""

