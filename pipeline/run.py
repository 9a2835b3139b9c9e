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
from pipeline.codebook import load_codebook
from pipeline.config import load_config
from pipeline.engine import Stages, process_corpus
from pipeline.errors import InputError
from pipeline.decisions import import_sheet, pending_decisions
from pipeline.executors import make_executor
from pipeline.privacy import pseudonymised, pseudonymizer_for, wanted
from pipeline.store import Store, check_writable, run_lock
from pipeline.suggest import load_model
from pipeline.suggest.scoring import model_checksum

log = logging.getLogger(__name__)


def run(
    corpus: Path,
    config_path: Path | None = None,
    out_dir: Path = Path("out"),
    project_dir: Path = Path("."),
    on_document: Callable[[str], None] | None = None,
    codebook_path: Path | None = None,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    pseudonymize: bool | None = None,
    names: Path | None = None,
    read_all: bool = False,
) -> dict:
    """Process ``corpus`` into the project store of ``project_dir`` and write the exports.

    Before anything is processed, decisions typed into the review sheets at ``out_dir``
    that the project does not hold yet are imported (the sheets are about to be rewritten),
    and the output folder and the project database are checked.

    ``workers`` processes run the per-document stages (default: one per CPU); with
    ``engine="dask"`` they run on the Dask cluster at ``scheduler`` (or a local one). Only
    this process writes to the store, and only one run at a time works on a project.

    ``pseudonymize`` (default ``[privacy] pseudonymize``): every file written names no one
    (``pipeline.privacy``; ``names``: the project's names file); the store keeps the real
    text, and the summary returned is the real one.

    ``read_all``: read every file, also those whose signature shows them unchanged since
    they were stored (``pipeline.ingest.source_signature``).

    Returns the run summary that is also written to ``out_dir / "run.json"``.
    """
    started = time.perf_counter()
    if not corpus.exists():
        raise InputError(corpus, "corpus folder not found")
    config = load_config(config_path)
    codebook = load_codebook(codebook_path or config.path("suggest", "codebook"))
    check_output_folder(out_dir)
    settings = config.section("suggest")
    with run_lock(project_dir):
        check_writable(project_dir)
        with Store(project_dir) as store:
            record = ExportRecord.load(store, out_dir)
            imported = import_pending_sheets(store, out_dir, codebook, config.section("review").get("reviewer") or None,
                                             record)
            model, meta, model_dir = project_model(store, config, codebook)
            model_version = meta["version"] if meta else None
            stages = Stages(config, codebook, model)
            run_id = store.start_run(str(corpus))
            checksum = model_checksum(meta)
            executor = make_executor(stages, engine, workers, scheduler)
            processing, cpu = time.perf_counter(), time.process_time()
            stats = process_corpus(corpus, stages, store, run_id, model_version, checksum, on_document, executor,
                                   read_all=read_all)
            processing, cpu = time.perf_counter() - processing, time.process_time() - cpu
            private = wanted(config, pseudonymize)
            fingerprint = exports_fingerprint(store, config, codebook, stats.document_ids,
                                              private and _content_digest(names or Path(config.section("privacy")["names"])))
            # processing_cpu and load_cpu: this process's CPU seconds (not its workers')
            seconds = dict(stats.seconds) | {"processing": processing, "processing_cpu": cpu}
            unchanged = record.current(fingerprint)
            if unchanged:
                written, rows = record.paths(), record.rows
            else:
                # imported here: the report's charts import matplotlib (1 s), which a re-run
                # with nothing changed does not need
                from pipeline.report import DISPLAYS_FILE, REPORT_FILE, report_settings, write_report
                from pipeline.review import export_review

                exported, document_ids = store, stats.document_ids
                if private:  # the view rewrites every document: only when the exports are written
                    exported = pseudonymised(store, config, codebook, names)
                    document_ids = [exported.document_id(d) for d in stats.document_ids]
                export_started = time.perf_counter()
                review = export_review(exported, codebook, document_ids, out_dir, config.section("review")["formats"],
                                       skip_speakers=settings.get("skip_speakers", []))
                seconds["export"] = time.perf_counter() - export_started
                report = write_report(exported, codebook, out_dir / REPORT_FILE, xlsx_path=out_dir / DISPLAYS_FILE,
                                      skip_speakers=settings.get("skip_speakers", []), **report_settings(config))
                seconds["report"] = report["seconds"]["total"]
                written = [*review.paths, *map(Path, report["outputs"])]
                rows = {"review_rows": review.rows, "decisions_prefilled": review.prefilled,
                        "stale_decisions": review.stale,
                        "suggestions_per_document": dict(sorted(review.suggestions_per_document.items()))}
                ExportRecord(out_dir, fingerprint, {Path(p).name: file_sha256(p) for p in written}, rows).save(store)
            counts = store.document_counts(stats.document_ids)
            summary = {
                "run_id": run_id,
                "corpus": str(corpus),
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
                "failures": [asdict(f) for f in stats.failures],
                "outputs": [str(p) for p in written],
                "pseudonymized": private,
            }
            store.finish_run(run_id, summary)
            # the mapping is in the store: a re-run that wrote no export needs no rewritten documents
            shown = pseudonymizer_for(store, config, codebook, names).json(summary) if private else summary
        (out_dir / "run.json").write_text(json.dumps(shown, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
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
                          record: ExportRecord | None = None):
    """Import the decisions of the review sheets at ``out_dir`` before they are rewritten.

    A sheet that cannot be read, or rows that cannot be imported, stop the run
    (``InputError`` naming the sheet and each row): rewriting the sheet would lose that
    review work. The good rows are imported all the same; importing is idempotent, so
    decisions already in the project add nothing. A sheet still as the last run wrote it
    (``record``) holds only decisions the project has, and is not read.
    """
    reports = []
    for name in REVIEW_SHEETS:
        path = out_dir / name
        if record is not None and record.unchanged(path):
            continue
        if pending_decisions(path):
            report = import_sheet(store, path, codebook, reviewer)
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


def project_model(store: Store, config, codebook):
    """The model the project uses: the version chosen with ``pilah models use`` (or made by
    ``pilah retrain``), else the configured one; ``(None, None, dir)`` when it was trained
    with another codebook (the codebook rules suggest alone)."""
    chosen = store.setting("model")
    model_dir = Path(chosen) if chosen else config.path("suggest", "model")
    if not (model_dir / "meta.json").exists():
        return None, None, model_dir
    model, meta = load_model(model_dir)
    if meta["codebook"]["sha256"] != codebook.hash:
        log.warning("model %s was trained with another codebook; using codebook rules only", model_dir)
        return None, None, model_dir
    return model, meta, model_dir
