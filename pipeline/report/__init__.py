"""The data display report: ``report.html`` (one self-contained file) and ``displays.xlsx``.

``pipeline.display`` builds the matrices from the project store; this package draws the
charts (matplotlib → SVG), renders the HTML (a Jinja2 template, autoescaped) and writes
the same matrices as sheets.
"""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.display import SOURCES, build_displays
from pipeline.errors import InputError
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
    skip_speakers: tuple[str, ...] | list[str] = (),
    quotes_per_code: int = 8,
    project_name: str | None = None,
) -> dict:
    """Write the report (and ``xlsx_path``, when given) of the project in ``store``.

    Returns ``{"outputs": [paths], "seconds": {...}, "shown": {status: units}}``.
    """
    problems = []
    if lang not in REPORT_LANGUAGES:
        problems.append(f"--lang: expected one of {', '.join(REPORT_LANGUAGES)}, found {lang!r}")
    if source not in SOURCES:
        problems.append(f"--source: expected one of {', '.join(SOURCES)}, found {source!r}")
    if problems:
        raise InputError(html_path, "; ".join(problems))
    started = time.perf_counter()
    displays = build_displays(store, codebook, source, skip_speakers)
    built = time.perf_counter()
    labels = Labels(lang, codebook)
    meta = {"project": project_name or str(store.path.parent.parent.resolve().name or store.path),
            "codebook": f"{codebook.name} {codebook.version}"}
    html = render_html(displays, labels, meta, quotes_per_code)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(html, encoding="utf-8")
    rendered = time.perf_counter()
    outputs = [html_path]
    if xlsx_path is not None:
        outputs.append(write_displays_xlsx(displays, labels, xlsx_path))
    done = time.perf_counter()
    return {
        "outputs": [str(p) for p in outputs],
        "shown": dict(displays.overview["units"]),
        "segments": displays.overview["segments"],
        "seconds": {"displays": round(built - started, 3), "html": round(rendered - built, 3),
                    "xlsx": round(done - rendered, 3), "total": round(done - started, 3)},
    }


def report_settings(config, lang: str | None = None, source: str | None = None) -> dict:
    """The ``[report]`` settings of ``config`` with the command line's choices over them."""
    settings = config.section("report")
    return {"lang": lang or settings["lang"], "source": source or settings["source"],
            "quotes_per_code": int(settings["quotes_per_code"])}


__all__ = ["write_report", "report_settings", "REPORT_FILE", "DISPLAYS_FILE"]
