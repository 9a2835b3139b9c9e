"""Conclusion drawing and verification: cases and attributes, queries, code work, and the
displays a findings chapter uses (report, ``displays.xlsx``, Word).

- ``cases``: the project's case table (``cases.csv``) and each segment's attributes;
- ``evidence``: the accepted codings (or, asked, pending suggestions) with their place,
  case, informant and attributes; quotes cut at sentence boundaries;
- ``query``: ``pilah query``'s expression language, results and saved queries;
- ``displays``: factor × attribute, triangulation, negative evidence, conclusions table;
- ``render`` / ``docx``: those displays as HTML, sheets and Word tables;
- ``codes``: rename, merge, split, adopt, kept in the store's history.

The functions here take a :class:`pipeline.project.Project`; the modules' own functions
take a store and a codebook.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.conclude.cases import CaseTable, load_case_table
from pipeline.conclude.displays import Conclusions, build_conclusions, conclusions_from_view
from pipeline.conclude.evidence import evidence_frame

DEFAULT_STATUSES = ("accepted",)


def settings(config) -> dict:
    """The ``[conclude]`` settings (empty values where the configuration has none)."""
    found = {"cases": "", "by": "", "source": "accepted"}
    found.update(config.section("conclude") if "conclude" in config.values else {})
    return found


def statuses_of(source: str | None) -> tuple[str, ...]:
    """``accepted`` (the default) or ``all`` (accepted and pending, each labelled)."""
    from pipeline.errors import InputError

    if source in (None, "", "accepted"):
        return ("accepted",)
    if source == "all":
        return ("accepted", "pending")
    raise InputError("[conclude] source", f"expected accepted or all, found {source!r}")


def project_cases(project) -> CaseTable:
    """The project's case table (its copy kept in the store)."""
    return load_case_table(project.root, settings(project.config)["cases"], project.store)


def project_evidence(project, pseudonymize: bool | None = None, statuses: Sequence[str] = DEFAULT_STATUSES,
                     view=None):
    """The evidence frame of a project, pseudonymised when asked (or configured); ``view``:
    the project's view when the caller has it already (a pseudonymised one is costly)."""
    view = view if view is not None else project.view(pseudonymize)
    return evidence_frame(project.store, project.codebook, project_cases(project), statuses,
                          project.config.section("suggest").get("skip_speakers", []),
                          view=view if hasattr(view, "pseudonymizer") else None)


def project_conclusions(project, pseudonymize: bool | None = None, attribute: str | None = None,
                        source: str | None = None) -> Conclusions:
    """Every conclusion display of the project (``[conclude]`` settings under the arguments)."""
    chosen = settings(project.config)
    view = project.view(pseudonymize)
    evidence = project_evidence(project, pseudonymize, statuses_of(source or chosen["source"]), view)
    return build_conclusions(evidence, project.codebook, attribute or chosen["by"] or None,
                             view.memos_frame(), project.store.code_map())


def write_conclusions_docx(project, out, lang: str | None = None, pseudonymize: bool | None = None,
                           attribute: str | None = None, source: str | None = None):
    """``pilah report --format docx``: the conclusion displays of ``project`` as a Word
    document at ``out``, labelled in ``lang`` (default ``[report] lang``)."""
    from pipeline.conclude.docx import write_docx
    from pipeline.errors import InputError
    from pipeline.report.labels import REPORT_LANGUAGES, Labels

    lang = lang or project.lang()
    if lang not in REPORT_LANGUAGES:
        raise InputError(out, f"--lang: expected one of {', '.join(REPORT_LANGUAGES)}, found {lang!r}")
    conclusions = project_conclusions(project, pseudonymize, attribute, source)
    return write_docx(conclusions, Labels(lang, project.codebook), out, project.root.resolve().name)


__all__ = ["CaseTable", "Conclusions", "build_conclusions", "evidence_frame", "project_cases", "project_evidence",
           "project_conclusions", "conclusions_from_view", "statuses_of", "write_conclusions_docx"]
