"""The run workflow: corpus folder → project store → review exports and ``run.json``."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import spacy

import pipeline
from pipeline.checksums import file_sha256
from pipeline.engine import process_corpus
from pipeline.errors import InputError
from pipeline.decisions import DEFAULT_REVIEWER, import_sheet, pending_decisions
from pipeline.executors import make_executor
from pipeline.outputs import digest, write_text
from pipeline.privacy import pseudonymizer_for
from pipeline.project import Project
from pipeline.store import Store, check_writable, run_lock
from pipeline.suggest.scoring import model_checksum

log = logging.getLogger(__name__)


def run(
    project: Project,
    corpus: Path | list[Path] | None = None,
    out_dir: Path | None = None,
    on_document: Callable[[str], None] | None = None,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    pseudonymize: bool | None = None,
    read_all: bool = False,
) -> dict:
    """Process the project's corpus (or ``corpus``) into its store and write the exports to
    ``out_dir`` (default the project's ``out/``).

    Before anything is processed, decisions typed into the review sheets at ``out_dir``
    that the project does not hold yet are imported (the sheets are about to be rewritten),
    and the output folder and the project database are checked. A project without a corpus
    (none named in its ``pilah.toml``, none given) is an ``InputError``: nothing else, such
    as the bundled sample, is read in its place.

    ``workers`` processes run the per-document stages (default: one per CPU); with
    ``engine="dask"`` they run on the Dask cluster at ``scheduler`` (or a local one). Only
    this process writes to the store, and only one run at a time works on a project.

    ``pseudonymize`` (default ``[privacy] pseudonymize``): every file written names no one
    (``pipeline.privacy``; the names file is the project's); the store keeps the real text,
    and the summary returned is the real one.

    ``read_all``: read every file, also those whose signature shows them unchanged since
    they were stored (``pipeline.ingest.source_signature``).

    Returns the run summary that is also written to ``out_dir / "run.json"``.
    """
    started = time.perf_counter()
    corpora = project.corpus if corpus is None else [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    if not corpora:
        raise InputError(project.settings_file or project.root,
                         "the project names no corpus: give one (`pilah run FOLDER`) or name it in pilah.toml "
                         "([project] corpus = [\"FOLDER\"], written by `pilah init --corpus FOLDER`)")
    for folder in map(Path, corpora):
        if not folder.exists():
            raise InputError(folder, "corpus folder not found")
    out_dir = project.out_dir if out_dir is None else Path(out_dir)
    config, codebook, names, project_dir = project.config, project.codebook, project.names, project.root
    check_output_folder(out_dir)
    with run_lock(project_dir):
        check_writable(project_dir)
        store = project.store
        record = ExportRecord.load(store, out_dir)
        sheets_read: dict[str, str | None] = {}  # each review sheet's digest as this run read it
        # empty reviewer cells are the project's reviewer's, as in `pilah review import` (one default)
        imported = import_pending_sheets(store, out_dir, codebook, None, record, sheets_read, default=project.reviewer())
        model, meta, model_dir = project.model()
        model_version = meta["version"] if meta else None
        stages = project.stages()
        executor = make_executor(stages, engine, workers, scheduler)  # a scheduler not answering: before any run row
        if project.pseudonymize(pseudonymize):  # a codebook that names someone: refused before any work
            from pipeline.privacy import check_codebook

            check_codebook(store, config, codebook, names)
        run_id = store.start_run(", ".join(map(str, corpora)))
        checksum = model_checksum(meta)
        processing, cpu = time.perf_counter(), time.process_time()
        stats = process_corpus(corpora, stages, store, run_id, model_version, checksum, on_document, executor,
                               read_all=read_all)
        processing, cpu = time.perf_counter() - processing, time.process_time() - cpu
        private = project.pseudonymize(pseudonymize)
        fingerprint = exports_fingerprint(store, config, codebook, stats.document_ids,
                                          private and _content_digest(names or Path(config.section("privacy")["names"])))
        # processing_cpu and load_cpu: this process's CPU seconds (not its workers')
        seconds = dict(stats.seconds) | {"processing": processing, "processing_cpu": cpu}
        unchanged = record.current(fingerprint)
        if unchanged:
            written, rows = record.paths(), record.rows
        else:
            # imported here: the report's charts import matplotlib (a second), which a re-run
            # with nothing changed does not need
            from pipeline.report import DISPLAYS_FILE, REPORT_FILE, report_settings, write_report
            from pipeline.review import export_review

            exported = project.view(private)  # pseudonymised: every document rewritten, only when written
            document_ids = [exported.document_id(d) for d in stats.document_ids]
            export_started = time.perf_counter()
            # a sheet saved while the run worked: its decisions first, then it is replaced
            imported += import_pending_sheets(store, out_dir, codebook, None, None, sheets_read,
                                              default=project.reviewer())
            review = export_review(exported, codebook, document_ids, out_dir, config.section("review")["formats"],
                                   read=sheets_read)
            seconds["export"] = time.perf_counter() - export_started
            report = write_report(exported, codebook, out_dir / REPORT_FILE, xlsx_path=out_dir / DISPLAYS_FILE,
                                  **report_settings(config))
            seconds["report"] = report["seconds"]["total"]
            written = [*review.paths, *map(Path, report["outputs"])]
            rows = {"review_rows": review.rows, "decisions_prefilled": review.prefilled,
                    "stale_decisions": review.stale,
                    "suggestions_per_document": dict(sorted(review.suggestions_per_document.items()))}
            ExportRecord(out_dir, fingerprint, {Path(p).name: file_sha256(p) for p in written}, rows).save(store)
        counts = store.document_counts(stats.document_ids)
        summary = {
            "run_id": run_id,
            "corpus": ", ".join(map(str, corpora)),
            "project_store": str(store.path),
            "counts": {
                "documents": stats.counts["documents"],
                "documents_processed": stats.counts["documents_processed"],
                "documents_unchanged": stats.counts["documents_unchanged"],
                "documents_unread": stats.counts["documents_unread"],
                **counts,
                "review_rows": rows["review_rows"],
                "decisions_prefilled": rows["decisions_prefilled"],
                "stale_decisions": rows["stale_decisions"],
                "carried_decisions": store.carried_count(run_id),
                "failures": len(stats.failures),
            },
            "imported_decisions": [report.as_dict() for report in imported],
            "suggestions_per_document": rows["suggestions_per_document"],
            "exports_unchanged": unchanged,
            "engine": {"name": engine, "workers": getattr(executor, "workers", 1), "scheduler": scheduler},
            "seconds": {k: round(v, 3) for k, v in seconds.items()} | {"total": round(time.perf_counter() - started, 3)},
            "versions": {
                "pilah": pipeline.__version__,
                "python": platform.python_version(),
                "spacy": spacy.__version__,
                "scikit-learn": version("scikit-learn"),
                "pandas": pd.__version__,
            },
            "config": {"sources": list(config.sources), "sha256": config.hash},
            "codebook": {"source": codebook.source, "sha256": codebook.hash},
            "model": {"path": str(model_dir), "version": model_version} if meta else None,
            # why the project's retrained model is not used (codes changed since), else None
            "model_note": getattr(project, "model_note", None),
            # the sentence encoder that gave the segments their vectors (pipeline.embed); None: words only
            "encoder": stages.encoder_id,
            "failures": [asdict(f) for f in stats.failures],
            "outputs": [str(p) for p in written],
            "sheets_kept_beside": [str(p) for p in (review.kept_beside if not unchanged else [])],
            "pseudonymized": private,
        }
        store.finish_run(run_id, summary)
        project.remember_codebook()
        # the mapping is in the store: a re-run that wrote no export needs no rewritten documents
        shown = pseudonymizer_for(store, config, codebook, names).json(summary) if private else summary
        write_text(out_dir / "run.json", json.dumps(shown, indent=2, ensure_ascii=False) + "\n")
    return summary


def check_output_folder(out_dir: Path) -> None:
    """Fail before any work, naming the path, when the exports could not be written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "--out must be a folder, and this is a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".pilah-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(out_dir, f"the output folder cannot be written: {exc.strerror or exc}") from None


REVIEW_SHEETS = ("suggestions.xlsx", "suggestions.csv")


def import_pending_sheets(store: Store, out_dir: Path, codebook, reviewer: str | None,
                          record: ExportRecord | None = None, seen: dict[str, str | None] | None = None,
                          default: str = DEFAULT_REVIEWER):
    """Import the decisions of the review sheets at ``out_dir`` before they are rewritten.

    A sheet that cannot be read, or rows that cannot be imported, stop the run
    (``InputError`` naming the sheet and each row): rewriting the sheet would lose that
    review work. The good rows are imported all the same; importing is idempotent, so
    decisions already in the project add nothing. A sheet still as the last run wrote it
    (``record``) holds only decisions the project has, and is not read.

    ``seen``: each sheet's digest (by name) as last read, updated here; a sheet whose digest
    is there already and unchanged is not read again (the run calls this once before it
    processes and once before it writes the sheets, for a sheet saved meanwhile).

    ``reviewer`` and ``default`` are ``import_sheet``'s: whose the decisions are (every row's),
    and whose the rows without a ``reviewer`` cell are (``Project.reviewer()``).
    """
    reports = []
    seen = {} if seen is None else seen
    for name in REVIEW_SHEETS:
        path = out_dir / name
        current = digest(path)
        if name in seen and seen[name] == current:
            continue
        seen[name] = current
        if record is not None and record.unchanged(path):
            continue
        if pending_decisions(path):
            report = import_sheet(store, path, codebook, reviewer, default=default)
            if report.added:
                log.warning("imported %d decision(s) from %s before rewriting it", report.added, path)
            if report.problems:
                rows = "; ".join(f"row {row}: {reason}" for row, reason in report.problems[:20])
                raise InputError(path, f"{len(report.problems)} decision row(s) cannot be imported, so the sheet was "
                                       f"not rewritten and nothing was processed: {rows}. Correct them (or clear their "
                                       f"decision cells) and run again; `pilah review import {path}` lists them too")
            reports.append(report)
    return reports


@dataclass
class ExportRecord:
    """What the last run wrote to an output folder: the fingerprint of what the exports were
    made from, the SHA-256 of each file (by name, in ``out_dir``), and the sheet's counts
    for ``run.json``. Kept in the
    project store, so that a re-run with nothing changed rewrites nothing."""

    out_dir: Path
    fingerprint: str = ""
    files: dict[str, str] = field(default_factory=dict)
    rows: dict = field(default_factory=dict)

    @staticmethod
    def key(out_dir: Path) -> str:
        return f"exports:{out_dir.resolve()}"

    @classmethod
    def load(cls, store: Store, out_dir: Path) -> "ExportRecord":
        saved = json.loads(store.setting(cls.key(out_dir)) or "{}")
        return cls(out_dir, saved.get("fingerprint", ""), saved.get("files", {}), saved.get("rows", {}))

    def save(self, store: Store) -> None:
        store.set_setting(self.key(self.out_dir), json.dumps(
            {"fingerprint": self.fingerprint, "files": self.files, "rows": self.rows}, ensure_ascii=False))

    def unchanged(self, path: Path) -> bool:
        """Whether ``path`` is still the file the last run wrote."""
        recorded = self.files.get(path.name) if path.parent.resolve() == self.out_dir.resolve() else None
        return recorded is not None and path.is_file() and file_sha256(path) == recorded

    def current(self, fingerprint: str) -> bool:
        """Whether the exports were made from ``fingerprint`` and are all still as written."""
        return bool(self.files) and fingerprint == self.fingerprint and all(map(self.unchanged, self.paths()))

    def paths(self) -> list[Path]:
        return [self.out_dir / name for name in self.files]


def exports_fingerprint(store: Store, config, codebook, document_ids: list[str], pseudonyms: str | bool) -> str:
    """What the review sheets and the report are made from: the store's contents, the run's
    documents, the configuration, the codebook, Pilah's version and ``pseudonyms`` (false,
    or the digest of the names file that pseudonymised exports used)."""
    parts = [pipeline.__version__, config.hash, codebook.hash, store.revision(), json.dumps(document_ids),
             json.dumps(pseudonyms)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _content_digest(path: Path | None) -> str:
    return file_sha256(path) if path is not None and Path(path).is_file() else "-"
