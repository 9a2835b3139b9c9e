"""`pilah serve`: the local review workspace in the browser (``pipeline.serve``)."""

from __future__ import annotations

import webbrowser
from typing import Annotated, Optional

import typer

from pipeline.cli.common import ProjectOption, handle_errors, open_project


def register(app: typer.Typer) -> None:
    """Add ``pilah serve`` to ``app``."""

    @app.command("serve")
    @handle_errors
    def serve_cli(
        project: ProjectOption = None,
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")] = 0,
        reviewer: Annotated[Optional[str], typer.Option("--reviewer", help="Whose decisions these are; default \\[review] reviewer, else 'analyst'.")] = None,
        no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the URL only; do not open a browser.")] = False,
    ) -> None:
        """Review in the browser: the queue one suggestion at a time (keys a x e 1 2 3 space u j k m),
        documents with span coding, memos, two coders, progress and retrain. Local and offline;
        prints the one URL (with this start's token) that opens it."""
        from pipeline.serve import serve

        def ready(url: str) -> None:
            print(url, flush=True)
            if not no_browser:
                webbrowser.open(url)

        with open_project(project) as opened:
            serve(opened, port=port, reviewer=reviewer, on_ready=ready)


