"""The data display report: ``report.html`` (one self-contained file) and ``displays.xlsx``.

``pipeline.display`` builds the matrices from the project store; this package draws the
charts (matplotlib → SVG), renders the HTML (a Jinja2 template, autoescaped) and writes
the same matrices as sheets.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pandas as pd

import pipeline

from pipeline.codebook import Codebook
from pipeline.display import SOURCES, build_displays
from pipeline.errors import InputError
from pipeline.outputs import write_text
from pipeline.report.html import render_html
from pipeline.report.labels import REPORT_LANGUAGES, Labels
from pipeline.report.sheets import write_displays_xlsx
from pipeline.store import Store

REPORT_FILE = "report.html"
DISPLAYS_FILE = "displays.xlsx"


def write_report(
    store: Store,
    codebook: Codebook,
    html_path: Path,
    lang: str = "id",
    source: str = "all",
    xlsx_path: Path | None = None,
    quotes_per_code: int = 8,
    project_name: str | None = None,
    conclusions=None,
    conclude: dict | None = None,
) -> dict:
    """Write the report (and ``xlsx_path``, when given) of the project in ``store``.

    ``conclusions`` (``pipeline.conclude.Conclusions``): the conclusion displays, counting
    accepted codings only unless they were built otherwise; by default they are built here
    from ``store`` and the project's case table, accepted codings only, whatever ``source``,
    with the ``[conclude]`` settings ``conclude`` (``cases``, ``by``, ``source``).

    When the report at ``html_path`` was written from the same displays, settings and
    code (its content key), nothing is rewritten (``"unchanged": True``).

    Returns ``{"outputs": [paths], "unchanged": bool, "seconds": {...}, "shown": {status: units}}``.
    """
    problems = []
    if lang not in REPORT_LANGUAGES:
        problems.append(f"--lang: expected one of {', '.join(REPORT_LANGUAGES)}, found {lang!r}")
    if source not in SOURCES:
        problems.append(f"--source: expected one of {', '.join(SOURCES)}, found {source!r}")
    if problems:
        raise InputError(html_path, "; ".join(problems))
    started = time.perf_counter()
    displays = build_displays(store, codebook, source)
    if conclusions is None:
        from pipeline.conclude.displays import conclusions_from_view

        conclude = conclude or {}
        conclusions = conclusions_from_view(store, codebook, source=conclude.get("source") or "accepted",
                                            cases=conclude.get("cases", ""), by=conclude.get("by") or None)
    built = time.perf_counter()
    labels = Labels(lang, codebook)
    project = project_name or str(store.path.parent.parent.resolve().name or store.path)
    memos = store.memos_frame()  # the workspace's memos, as the view shows them
    memo_digest = hashlib.sha256(memos.to_json().encode()).hexdigest()
    key = content_key(displays, codebook, lang, quotes_per_code, project + conclusions.digest() + memo_digest)
    outputs = [html_path] + ([xlsx_path] if xlsx_path is not None else [])
    unchanged = written_key(html_path) == key and all(p.exists() for p in outputs)
    if not unchanged:
        meta = {"project": project, "codebook": f"{codebook.name} {codebook.version}", "key": key}
        html = render_html(displays, labels, meta, quotes_per_code, conclusions, memos)
        write_text(html_path, html)  # all or nothing (pipeline.outputs)
    rendered = time.perf_counter()
    if xlsx_path is not None and not unchanged:
        write_displays_xlsx(displays, labels, xlsx_path, conclusions)
    done = time.perf_counter()
    return {
        "outputs": [str(p) for p in outputs],
        "unchanged": unchanged,
        "shown": dict(displays.overview["units"]),
        "segments": displays.overview["segments"],
        "seconds": {"displays": round(built - started, 3), "html": round(rendered - built, 3),
                    "xlsx": round(done - rendered, 3), "total": round(done - started, 3)},
    }


# What makes a report: the code that draws it (a change to it redraws every report)...
_SOURCES = sorted(Path(__file__).parent.glob("*.py")) + [Path(__file__).parent / "report.html.j2",
                                                         Path(__file__).parent.parent / "display.py"]
_KEY_META = re.compile(r'<meta name="pilah-displays" content="([0-9a-f]{64})">')


def content_key(displays, codebook: Codebook, lang: str, quotes_per_code: int, project: str) -> str:
    """A hash of everything the report shows and how: the same key, the same files.

    ``pilah run`` on an unchanged project therefore leaves report.html and displays.xlsx as
    they are (drawing the charts is most of the report's time)."""
    digest = hashlib.sha256()
    for path in _SOURCES:
        digest.update(path.read_bytes())
    digest.update(pd.util.hash_pandas_object(displays.units.astype(str), index=False).to_numpy().tobytes())
    digest.update(displays.text_digest.encode())  # the units hold no text: a quote's text is read when shown
    digest.update(displays.progress.to_json().encode())
    settings = {"overview": displays.overview, "source": displays.source, "lang": lang, "quotes": quotes_per_code,
                "project": project, "codebook": codebook.hash, "pilah": pipeline.__version__}
    digest.update(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def written_key(html_path: Path) -> str | None:
    """The content key an existing report was written with (``None``: no report there)."""
    try:
        with open(html_path, encoding="utf-8", errors="replace") as handle:
            found = _KEY_META.search(handle.read(4096))
    except OSError:
        return None
    return found.group(1) if found else None


def report_settings(config, lang: str | None = None, source: str | None = None) -> dict:
    """The ``[report]`` settings of ``config`` with the command line's choices over them."""
    settings = config.section("report")
    return {"lang": lang or settings["lang"], "source": source or settings["source"],
            "quotes_per_code": int(settings["quotes_per_code"]), "conclude": config.section("conclude")}


__all__ = ["write_report", "report_settings", "REPORT_FILE", "DISPLAYS_FILE"]
