"""`pilah serve`: the local review workspace in the browser (issue: the review workspace)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the workspace command to ``app`` (filled in by the workspace work)."""
