"""Pilah's command line: a package of thin modules, one per command group.

Each command parses its arguments, opens the project once (``pipeline.cli.common.
open_project``), calls one workflow function and prints; ``handle_errors`` turns bad input
into one red line and exit code 2. A command module defines ``register(app)``; the workflow
a command calls is imported when it runs, so that ``pilah --help`` loads no pipeline.
"""

from __future__ import annotations

import gc
import logging

import typer

from pipeline.cli import conclude, exchange, models, project, report, review, run, serve, tables

app = typer.Typer(
    help="Pilah: bilingual (Indonesian + English) code suggestions for qualitative research, for analysts to review.",
    no_args_is_help=True,
    add_completion=False,
)

for _module in (project, run, review, models, report, exchange, tables, serve, conclude):
    _module.register(app)


def main() -> None:  # pragma: no cover - console script entry
    from pipeline.cli.startup import trim_spacy_imports

    trim_spacy_imports()  # the console script's own start-up (not a library import's)
    from pipeline.cli.common import VisibleFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(VisibleFormatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    try:
        app()
    finally:
        # The command is done. The interpreter's collections at exit would walk every object
        # that importing spaCy, pandas and SciPy made (docs/benchmarks.md, Start-up); frozen,
        # they are simply freed with the process. Exit handlers and flushing still run.
        gc.freeze()


if __name__ == "__main__":
    main()
