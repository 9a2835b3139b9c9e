"""`pilah cases`, `pilah query`, `pilah codes`: drawing and verifying conclusions."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the conclusion commands to ``app`` (filled in by the conclusions work)."""
