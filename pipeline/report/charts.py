"""The report's charts, drawn by matplotlib and returned as SVG text.

matplotlib renders offline, with no browser or script at view time; glyphs are written
as paths (``svg.fonttype = "path"``), so a chart looks the same on any machine and
prints sharp. ``svg.hashsalt`` and no date make the same displays give the same SVG.
Each chart has one panel per status shown (accepted, pending), titled with it.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

from pipeline.display import Displays
from pipeline.report.labels import Labels

COLOURS = {"supporting": "#1b7f4b", "constraining": "#b83227", "neutral": "#9a9a9a"}
LANGUAGE_COLOURS = {"id": "#c8553d", "en": "#2d6a9f", "mixed": "#8e6bbf", "und": "#bdbdbd"}
_STYLE = {
    "svg.fonttype": "path",
    "svg.hashsalt": "pilah-report",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})  # constrained layout fits it: no second "tight" pass
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _panels(n: int, height: float, width: float = 6.2, stacked: bool = False) -> tuple[Figure, list]:
    """One panel per status: side by side, or one above the other (``stacked``)."""
    size = (width, height * n) if stacked else (width * n, height)
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.subplots(n if stacked else 1, 1 if stacked else n, squeeze=False)
    return figure, list(axes.ravel())


def _legend(figure: Figure, axes: list) -> None:
    """One legend for the figure, below the panels, never over a bar."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        figure.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=len(entries),
                      frameon=False, fontsize=8.5)


def factor_chart(displays: Displays, labels: Labels) -> str:
    """Per factor type, a bar to the right for supporting and to the left for constraining."""
    names = [labels.factor_type(f) for f in displays.factor_types]
    with rc_context(_STYLE):
        figure, axes = _panels(len(displays.statuses), 0.38 * len(names) + 1.2)
        for ax, status in zip(axes, displays.statuses):
            cells = displays.factor_cells[status].set_index(["factor_type", "direction"])["count"]
            supporting = np.array([cells.get((f, "supporting"), 0) for f in displays.factor_types])
            constraining = np.array([cells.get((f, "constraining"), 0) for f in displays.factor_types])
            y = np.arange(len(names))[::-1]
            ax.barh(y, supporting, color=COLOURS["supporting"], label=labels.direction("supporting"))
            ax.barh(y, -constraining, color=COLOURS["constraining"], label=labels.direction("constraining"))
            limit = max(1, supporting.max(initial=0), constraining.max(initial=0)) * 1.18
            ax.set_xlim(-limit, limit)
            ax.axvline(0, color="#333333", linewidth=0.8)
            for yy, s, c in zip(y, supporting, constraining):
                if s:
                    ax.text(s + limit * 0.02, yy, str(s), va="center", ha="left", fontsize=8)
                if c:
                    ax.text(-c - limit * 0.02, yy, str(c), va="center", ha="right", fontsize=8)
            ax.set_yticks(y, names)
            ax.xaxis.set_major_formatter(lambda v, _: f"{abs(v):.0f}")
            ax.set_xlabel(labels["segments"])
            ax.set_title(labels.status(status))
        _legend(figure, axes)
        return _svg(figure)


def stacked_chart(frames: dict[str, pd.DataFrame], displays: Displays, labels: Labels, kind: str) -> str:
    """Codes as horizontal bars stacked by direction (``kind="direction"``) or by segment
    language (``kind="language"``)."""
    codes = [c for c in displays.codes if any(frames[s].loc[c].sum() for s in displays.statuses)] or displays.codes
    names = [labels.code(c) for c in codes]
    colours = COLOURS if kind == "direction" else LANGUAGE_COLOURS
    name_of = labels.direction if kind == "direction" else labels.language
    with rc_context(_STYLE):
        figure, axes = _panels(len(displays.statuses), 0.3 * len(names) + 1.3)
        for ax, status in zip(axes, displays.statuses):
            frame = frames[status].reindex(index=codes, fill_value=0)
            y = np.arange(len(codes))[::-1]
            left = np.zeros(len(codes))
            for column, colour in colours.items():
                values = frame[column].to_numpy() if column in frame else np.zeros(len(codes))
                if values.sum():
                    ax.barh(y, values, left=left, color=colour, label=name_of(column))
                left += values
            for yy, total in zip(y, left):
                if total:
                    ax.text(total, yy, f" {total:.0f}", va="center", ha="left", fontsize=7.5)
            ax.set_xlim(0, max(1, left.max(initial=0)) * 1.12)
            ax.set_yticks(y, names)
            ax.set_xlabel(labels["segments"])
            ax.set_title(labels.status(status))
        _legend(figure, axes)
        return _svg(figure)


def cooccurrence_chart(displays: Displays, labels: Labels) -> str:
    """A heatmap of segments holding two codes; the diagonal (the code alone) is left blank."""
    codes = displays.codes
    names = [labels.code(c) for c in codes]
    size = 0.36 * len(codes) + 2.6
    with rc_context(_STYLE):
        figure, axes = _panels(len(displays.statuses), size, width=size + 1.6, stacked=True)
        for ax, status in zip(axes, displays.statuses):
            matrix = displays.cooccurrence[status].reindex(index=codes, columns=codes, fill_value=0).to_numpy(float, copy=True)
            np.fill_diagonal(matrix, np.nan)
            shown = np.ma.masked_invalid(matrix)
            counted = matrix[~np.isnan(matrix)]  # none when one code alone (its diagonal is blank)
            top = counted.max() if counted.size else 0
            image = ax.imshow(shown, cmap="Purples", vmin=0, vmax=max(1.0, top))
            for i in range(len(codes)):
                for j in range(len(codes)):
                    value = matrix[i, j]
                    if value and not np.isnan(value):
                        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                                color="white" if value > top * 0.55 else "#222222")
            ax.set_xticks(range(len(codes)), names, rotation=60, ha="right", rotation_mode="anchor")
            ax.set_yticks(range(len(codes)), names)
            ax.spines[:].set_visible(False)
            ax.set_title(labels.status(status))
            figure.colorbar(image, ax=ax, shrink=0.6, label=labels["segments"])
        return _svg(figure)
