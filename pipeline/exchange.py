"""What a project writes for people and other tools outside a run, and what it takes in from
them: the report (``pilah report``), REFI-QDA projects and codebooks out and in (``pilah
export``, ``pilah import``), and the privacy report (``pilah privacy report``).

Each takes a :class:`~pipeline.project.Project`; the formats themselves are written and read
by ``pipeline.report``, ``pipeline.refi`` and ``pipeline.privacy``.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import InputError
from pipeline.privacy import privacy_report as _privacy_report
from pipeline.project import Project
from pipeline.refi import ImportReport, export_qdc, export_qdpx, import_file
from pipeline.report import DISPLAYS_FILE, REPORT_FILE, report_settings, write_report
from pipeline.store import check_writable

EXCHANGE_FORMATS = ("qdpx", "qdc")
IMPORTED_CODEBOOK = "codebook.yaml"  # where an import that brings codes writes the merged codebook


def report(project: Project, out: Path | None = None, lang: str | None = None, source: str | None = None,
           pseudonymize: bool | None = None, conclusions=None) -> dict:
    """Write the data display: ``out`` (default the project's ``out/report.html``) and
    displays.xlsx beside it. ``lang`` and ``source`` default to ``[report]``'s; the
    conclusion displays are ``conclusions`` (``pipeline.conclude.project_conclusions``), by
    default built from the project's store and case table, accepted codings only."""
    out = out or project.out_dir / REPORT_FILE
    return write_report(project.view(pseudonymize), project.codebook, out, xlsx_path=out.parent / DISPLAYS_FILE,
                        conclusions=conclusions,
                        **report_settings(project.config, lang, source))


def export(project: Project, format: str = "qdpx", out: Path | None = None, with_suggestions: bool = False,
           pseudonymize: bool | None = None) -> tuple[dict, Path]:
    """Write a REFI-QDA file for NVivo, ATLAS.ti, MAXQDA or QualCoder: the project (``qdpx``:
    sources, codebook, users, codings) or its codebook alone (``qdc``). ``out`` defaults to
    the project's ``out/project.qdpx`` or ``out/codebook.qdc``. Returns what was written."""
    if format not in EXCHANGE_FORMATS:
        raise InputError("--format", f"{format!r}: expected one of {', '.join(EXCHANGE_FORMATS)}")
    target = out or project.out_dir / ("project.qdpx" if format == "qdpx" else "codebook.qdc")
    if format == "qdc":
        return export_qdc(project.codebook, target), target
    view = project.view(pseudonymize)
    written = export_qdpx(view, project.codebook, target, with_suggestions=with_suggestions,
                          name=project.root.resolve().name or "Pilah project")
    # never two codebooks mixed silently: codings of codes the codebook lacks are named
    written["outside_codebook"] = sorted(set(view.codings_frame()["code"]) - set(project.codebook.codes))
    return written, target


def import_refi(project: Project, file: Path, suggest: bool = True) -> ImportReport:
    """Bring the sources, codes, users and codings of a REFI-QDA project (``.qdpx``) or the
    codes of a codebook (``.qdc``) into the project.

    Codes merge into the project's codebook: when the file brings new ones, the merged
    codebook is written to the project folder's ``codebook.yaml`` and the project's
    ``pilah.toml`` names it from then on (``Project.use_codebook``)."""
    if file.suffix.lower() == ".qdpx":
        check_writable(project.root)
    imported = import_file(file, project.root, project.config, project.codebook, project.root / IMPORTED_CODEBOOK,
                           suggest=suggest, model_for=project.model)
    if imported.codebook:
        project.use_codebook(Path(imported.codebook))
    return imported


def privacy_report(project: Project) -> dict:
    """What ``--pseudonymize`` replaces, by kind and count, with each real value and its
    pseudonym (for the researcher's eyes only)."""
    return _privacy_report(project.store)
