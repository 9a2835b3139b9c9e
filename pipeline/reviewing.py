"""The review workflows of a project: import a reviewed sheet (``pilah review import``), write
one (``pilah review export``, blind for a second coder with ``--reviewer``), and where the
review and the project stand (``pilah review status``, ``pilah status``).

Each takes a :class:`~pipeline.project.Project`; the sheets themselves are written by
``pipeline.review`` and read back by ``pipeline.decisions``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.decisions import ImportReport, import_sheet, review_status
from pipeline.project import Project
from pipeline.review import review_frame, write_sheet


def import_decisions(project: Project, sheet: Path, reviewer: str | None = None) -> ImportReport:
    """Append the decisions of a reviewed sheet to the project.

    ``reviewer`` (``--reviewer NAME``): every decision of the sheet is NAME's, also where it
    says what another reviewer decided (a blind second coder); a sheet written by
    :func:`export_sheet` for a reviewer carries that name and imports the same way without
    it. Otherwise rows without a reviewer are the project's ``[review] reviewer``'s.
    """
    return import_sheet(project.store, sheet, project.codebook, reviewer, default=project.reviewer())


def export_sheet(project: Project, out: Path, reviewer: str | None = None,
                 pseudonymize: bool | None = None) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """Write the review sheet of the whole project to ``out``, the decisions in force
    pre-filled. With ``reviewer``: a blind sheet for that reviewer (only their own decisions
    pre-filled, their name in every row's ``reviewer`` cell, so that importing it records
    every decision as theirs). Returns the file, the rows and the stale decisions."""
    frame, stale = review_frame(project.view(pseudonymize), project.codebook, reviewer=reviewer)
    if reviewer:
        frame["reviewer"] = reviewer
    return write_sheet(frame, out, project.codebook, stale), frame, stale


def status(project: Project) -> dict:
    """Per code and per reviewer: suggested, accepted, rejected, edited, added, pending, stale."""
    return review_status(project.store)


def project_status(project: Project) -> dict:
    """The project at a glance: documents, segment/token/suggestion counts, decisions, and
    its last run with its failures."""
    store = project.store
    ids = store.document_ids()
    counts = store.document_counts(ids)
    review = review_status(store)
    runs = store.runs_frame()
    last_failures = store.failures_frame(int(runs["run"].iloc[0])) if len(runs) else None
    return {"documents": len(ids), **counts, "decisions": review["decisions"], "pending": review["pending"],
            "stale": review["stale"], "runs": len(runs),
            "last_run": None if runs.empty else {
                "run": int(runs["run"].iloc[0]), "started_at": runs["started_at"].iloc[0],
                "finished_at": runs["finished_at"].iloc[0], "failures": last_failures.to_dict("records")}}
