"""Runs the stages over a corpus, document by document, and writes results to the store.

Documents stream through one at a time (bounded memory); segments of a document go through
spaCy in ``nlp.pipe`` batches. A document whose text, configuration, codebook and model are
unchanged since it was last processed is skipped; one whose file shows the signature it was
stored from (and the same settings) is not even read again. A failure in one document is
recorded with its file and stage, and the batch goes on.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from spacy.tokens import Doc

import pipeline
from pipeline.checksums import file_sha256
from pipeline.codebook import Codebook
from pipeline.config import PATH_KEYS, Config
from pipeline.embed import configured_encoder, embed
from pipeline.errors import PilahError
from pipeline.ingest import iter_documents
from pipeline.language import LanguageSettings, detect_segments, language_code
from pipeline.nlp import tokenize_segments
from pipeline.records import RESEARCHER, Document, Failure, Segment, Suggestion, Unread
from pipeline.segment import segment_document, segment_ids
from pipeline.store import Store
from pipeline.suggest import Scorer, Suggester, require_encoder


YOUNG_COLLECTIONS_EVERY = 10_000  # new objects between the garbage collector's looks during a run (default 700)
# Documents whose segments go through spaCy and the suggester together, and about how
# much text at most (≈ 28,000 words): memory stays bounded. Each batch looks up each
# distinct word it holds once (rules, forms, features, n-grams), so a larger batch looks
# up fewer words per segment: 200,000 characters took 19 % less CPU to suggest than
# 50,000 (six alternating runs on 1,000 documents), with little more memory.
BATCH_DOCUMENTS = 256
BATCH_CHARACTERS = 200_000
SEGMENTS_AT_ONCE = 1_000  # a longer document's segments go through spaCy and the suggester in parts


@dataclass
class RunStats:
    """What a run did: counts, seconds per stage, failures, and the documents it saw."""

    counts: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    document_ids: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # document_ids, for look-ups


class Stages:
    """The condense stages, built once per run from the configuration.

    ``code_vectors``: the codebook's texts embedded as queries
    (``pipeline.suggest.semantic.CodeVectors``); computed through the vector cache by
    ``use_store`` when not given. ``encoder``: the ``[suggest] encoder`` (``None``: off or
    not installed, suggestions by words).
    """

    def __init__(self, config: Config, codebook: Codebook, model: Scorer | None, code_vectors=None):
        self.config = config
        self.nlp_settings = config.section("nlp")
        self.language_settings = LanguageSettings(**config.section("language"))
        self.lexicon = self.nlp_settings.get("colloquial_lexicon")
        # the researcher's own turns: Segment.role, decided here once, read by every consumer
        self.researchers = tuple(config.section("suggest").get("skip_speakers", []))
        self.encoder = configured_encoder(config.section("suggest"))
        require_encoder(model, self.encoder_id)  # a model trained on vectors needs their encoder
        self.code_vectors = code_vectors
        self.suggester = self._suggester(codebook, model)
        self._cache = None  # the vector cache: the project Store in the process that gave it
        self._cache_pid: int | None = None
        self._cache_path: Path | None = None  # the database, for other processes to read
        self._reader = None  # their read-only view (pipeline.store.VectorReader)
        self._reader_pid: int | None = None
        self._loaded = False

    def _suggester(self, codebook: Codebook, model: Scorer | None) -> Suggester:
        return Suggester(codebook, model, self.config.section("suggest"), code_vectors=self.code_vectors)

    @property
    def encoder_id(self) -> str | None:
        return None if self.encoder is None else self.encoder.id

    @property
    def cache_path(self) -> Path | None:
        """The project database whose vector cache the stages read (``use_store``)."""
        return self._cache_path

    def use_store(self, store: Store | None = None, path: Path | None = None) -> "Stages":
        """Look vectors up in (and add them to) ``store``'s cache; other processes (forked
        workers) read the database read-only and hand what they embed back (``Processed.
        vectors``). Only ``path``: read that database read-only (a Dask worker; a path it
        cannot open reads as empty). Embeds the codebook's texts through the cache the first
        time (``code_vectors``)."""
        self._cache, self._cache_pid = store, os.getpid() if store is not None else None
        self._cache_path = Path(store.path) if store is not None else path
        self._reader = None
        if self.encoder is not None and (self.code_vectors is None or self.code_vectors.encoder_id != self.encoder.id):
            from pipeline.suggest.semantic import CodeVectors

            self.code_vectors = CodeVectors.from_codebook(
                self.suggester.codebook, lambda texts: embed(texts, self.encoder, self.vector_cache(), kind="query"),
                self.encoder.id)
            self.suggester = self._suggester(self.suggester.codebook, self.suggester.model)
        return self

    def vector_cache(self):
        """Where this process looks vectors up: the store given to ``use_store`` in the
        process that gave it, a read-only view of its database elsewhere, else ``None``."""
        if self._cache is not None and self._cache_pid == os.getpid():
            return self._cache
        if self._cache_path is None:
            return None
        if self._reader is None or self._reader_pid != os.getpid():
            from pipeline.store import VectorReader

            self._reader, self._reader_pid = VectorReader(self._cache_path), os.getpid()
        return self._reader

    def take_vectors(self) -> dict:
        """The vectors this process embedded but could not store, by ``(encoder, kind)``;
        forgotten here (the driver stores them)."""
        cache = self.vector_cache()
        return cache.take() if cache is not None and hasattr(cache, "take") else {}

    def embeds(self, segment: Segment) -> bool:
        """Whether a segment gets a vector: not the researcher's own turn."""
        return segment.role != RESEARCHER

    def embed(self, segments: Sequence[Segment], seconds: Counter) -> np.ndarray | None:
        """One vector per segment, aligned (zeros for the turns not embedded), or ``None``
        without an encoder."""
        if self.encoder is None:
            return None
        started = time.perf_counter()
        vectors = np.zeros((len(segments), self.encoder.dim), dtype=np.float32)
        wanted = [i for i, segment in enumerate(segments) if self.embeds(segment)]
        if wanted:
            vectors[wanted] = embed([segments[i].text for i in wanted], self.encoder, self.vector_cache())
        seconds["embed"] += time.perf_counter() - started
        return vectors

    def vectors(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray | None:
        """``texts`` embedded through the vector cache (``use_store``): what a retrain, a
        training table, ``review next`` or ``discover`` needs, without embedding a text the
        store holds; ``None`` without an encoder. One row per text, float32."""
        if self.encoder is None:
            return None
        return embed(texts, self.encoder, self.vector_cache(), kind=kind)

    def suggest(self, items: list[tuple[Segment, Doc]], seconds: Counter) -> list[Suggestion]:
        """The embedding stage, then the suggestions, for tokenized segments. Raises
        ``_StageFailed`` naming the stage that failed."""
        try:
            vectors = self.embed([segment for segment, _ in items], seconds)
        except _DOCUMENT_ERRORS as exc:
            raise _StageFailed("embed", exc) from exc
        started = time.perf_counter()
        try:
            return self.suggester(items, vectors)
        except _DOCUMENT_ERRORS as exc:
            raise _StageFailed("suggest", exc) from exc
        finally:
            seconds["suggest"] += time.perf_counter() - started

    def segment(self, document: Document, seconds: Counter) -> list[Segment]:
        started = time.perf_counter()
        segments = segment_document(document, self.researchers)
        seconds["segment"] += time.perf_counter() - started
        return self.detect_language(segments, seconds)

    def detect_language(self, segments: list[Segment], seconds: Counter) -> list[Segment]:
        started = time.perf_counter()
        segments = detect_segments(segments, self.language_settings, self.lexicon)
        seconds["language"] += time.perf_counter() - started
        return segments

    def table_segments(self, table: pd.DataFrame, seconds: Counter) -> list[Segment]:
        """One segment per row of a table with a ``text`` column, in the language its
        ``lang`` column names (``ID``, ``en-GB``, ``English``…); rows without one, or with a
        language Pilah does not read, get the detector's. A row without a ``document`` is
        an answer: its metadata holds its row number."""
        given = [language_code(v) for v in table["lang"]] if "lang" in table.columns else [""] * len(table)
        documents = [str(v) for v in table["document"]] if "document" in table.columns else [""] * len(table)
        texts = [str(v) for v in table["text"]]
        # a row with no document of its own is an answer in a table (a row, never a heading)
        segments = [
            Segment(id=sid, document_id=document, index=i, start=0, end=len(text), text=text, language=lang or "und",
                    metadata={} if document else {"row": i + 1})
            for i, (sid, document, text, lang) in enumerate(zip(segment_ids(documents, texts), documents, texts, given))
        ]
        unknown = [i for i, lang in enumerate(given) if not lang]
        for i, detected in zip(unknown, self.detect_language([segments[i] for i in unknown], seconds)):
            segments[i] = detected
        return segments

    def load(self) -> float:
        """Load what the stages read lazily (the language detector's models, both spaCy
        pipelines and their word tables, the encoder's model) by processing a short document of both languages;
        the seconds it took (0 once loaded)."""
        if self._loaded:
            return 0.0
        started = time.perf_counter()
        if hasattr(self.encoder, "model"):  # mapped before workers are forked, so that they share it
            self.encoder.model()
        process_documents([_WARM_UP], self)  # its vectors are cached like any other: a re-run embeds nothing
        self._loaded = True
        return time.perf_counter() - started

    def tokenize(self, segments: list[Segment], seconds: Counter) -> list[tuple[Segment, Doc]]:
        started = time.perf_counter()
        items = list(tokenize_segments(segments, self.nlp_settings))
        seconds["nlp"] += time.perf_counter() - started
        return items


def process_corpus(
    corpus: Path | Sequence[Path],
    stages: Stages,
    store: Store,
    run_id: int,
    model_version: str | None,
    model_checksum: str | None = None,
    on_document: Callable[[str], None] | None = None,
    executor: Executor | None = None,
    read_all: bool = False,
) -> RunStats:
    """Process every document of ``corpus`` (a folder or file, or several, one after the
    other: two files of one id are a failure) into ``store``; returns the run's statistics.

    A document is processed again when its text, the configuration, the codebook or the
    model file (``model_checksum``) changed since it was last stored; a file whose
    signature and settings are those its document was stored with is not read (unless
    ``read_all``). The per-document stages run in ``executor`` (this process by default;
    see ``pipeline.executors``); only this process writes to the store, each document
    whole (``Store.derived_writes``), so a run killed midway leaves whole documents and the
    next run completes the rest.
    """
    stats = RunStats()
    stages.use_store(store)
    base_key = settings_key(stages.config, stages.suggester.codebook, model_checksum, stages.encoder_id)
    executor = executor or InProcess(stages)
    keys: dict[str, tuple[str, str | None]] = {}  # processing and source key of each document sent

    def unchanged(document_id: str, signature: str) -> bool:
        return store.source_key(document_id) == source_key(signature, base_key)

    def wanted(settle: Callable[[], None]) -> Iterator[Document]:
        loaded = False
        corpora = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
        documents = chain.from_iterable(iter_documents(folder, stages.config.section("ingest"),
                                                       None if read_all else unchanged) for folder in corpora)
        for item in _timed(documents, stats.seconds, "ingest"):
            if isinstance(item, Failure):
                _fail(item, store, run_id, stats)
            elif isinstance(item, Unread):
                if _count(item, store, run_id, stats):
                    stats.counts["documents_unchanged"] += 1
                    stats.counts["documents_unread"] += 1
            elif (key := _admit(item, base_key, store, run_id, stats)) is not None:
                if not loaded:  # only a run with something to process loads the pipelines
                    cpu = time.process_time()
                    stats.seconds["load"] += stages.load()
                    stats.seconds["load_cpu"] += time.process_time() - cpu
                    settle()
                    loaded = True
                keys[item.id] = (key, source_key(item.source, base_key))
                yield item
                # asked for another document: what was stored since is committed before
                # the next batch is processed, so that a run killed meanwhile keeps it
                store.commit_group()
                continue  # counted once stored
            if on_document is not None:
                on_document(item.path)

    with store.derived_writes(), _fewer_collections() as settle:
        for document, outcome in executor.map(wanted(settle)):
            _store(document, outcome, keys.pop(document.id), store, run_id, model_version, stats)
            if on_document is not None:
                on_document(document.path)
    return stats


@contextmanager
def _fewer_collections() -> Iterator[Callable[[], None]]:
    """Garbage collection for processing a corpus; yields ``settle``, to call once the
    pipelines are loaded.

    A run makes millions of short-lived objects and keeps growing caches of words. The
    collector then looked at new objects every 700 allocations and walked every object
    (loaded pipelines, tables, model and caches) in each full collection: 2.9 s of a
    10,000-document run. Here it looks every ``YOUNG_COLLECTIONS_EVERY`` allocations, and
    ``settle`` collects once and moves what exists (what was loaded) out of its reach for
    the rest of the run; forked workers inherit both. Everything is as before afterwards.
    """
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTIONS_EVERY, *before[1:])

    def settle() -> None:
        gc.collect()
        gc.freeze()

    try:
        yield settle
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


# Two paragraphs, Indonesian and English, for ``Stages.load``.
_WARM_UP = Document("warm-up", "warm-up.txt", "txt", "paragraphs",
                    "Programnya udah jalan, tapi anggarannya kurang.\n\nThe export programme is running well.")


@dataclass
class Processed:
    """A document's results, ready for the store (made where the stages run)."""

    segments: list[Segment]
    tokens: list[int]
    suggestions: list[Suggestion]
    seconds: Counter
    vectors: dict = field(default_factory=dict)  # embedded where the store could not be written (Stages.take_vectors)


def process_documents(documents: Sequence[Document], stages: Stages) -> list[Processed | Failure]:
    """Segment, detect the language, tokenize, embed and suggest a batch of documents, one
    outcome per document in order; writes to no store (vectors it embeds go to the cache
    ``Stages.use_store`` gave, in this process).

    The segments of the whole batch go through spaCy, the encoder and the suggester together: a
    suggestion depends only on its segment, so the outcomes are those of one document at a
    time, without the fixed cost of each call per document. When the batch's tokenization
    or suggestion fails, its documents are processed one by one, so that the failure is
    reported for the document that caused it and the others go on.
    """
    seconds: Counter = Counter()
    outcomes: list[Processed | Failure | list[Segment]] = []
    for document in documents:
        try:
            outcomes.append(stages.segment(document, seconds))
        except _DOCUMENT_ERRORS as exc:
            outcomes.append(failure(document.path, "segment", exc))
    segmented = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, list)]
    segments = [segment for i in segmented for segment in outcomes[i]]
    try:
        counts, suggestions = _tokenize_and_suggest(segments, stages, seconds)
    except _StageFailed:
        return _with_vectors([_process_alone(documents[i], outcome, stages) if isinstance(outcome, list) else outcome
                              for i, outcome in enumerate(outcomes)], stages)
    by_segment: dict[str, list[Suggestion]] = {}
    for suggestion in suggestions:
        by_segment.setdefault(suggestion.segment_id, []).append(suggestion)
    tokens = iter(counts)
    total = max(len(segments), 1)
    for i in segmented:
        mine = outcomes[i]
        share = Counter({stage: value * len(mine) / total for stage, value in seconds.items()})
        outcomes[i] = Processed(mine, [next(tokens) for _ in mine],
                                [s for segment in mine for s in by_segment.pop(segment.id, [])], share)
    return _with_vectors(outcomes, stages)


def _with_vectors(outcomes: list, stages: Stages) -> list:
    """The vectors this process embedded and could not store go to the driver with the
    batch's first processed document."""
    made = stages.take_vectors()
    for outcome in outcomes:
        if made and isinstance(outcome, Processed):
            outcome.vectors = made
            break
    return outcomes


def _tokenize_and_suggest(segments: list[Segment], stages: Stages, seconds: Counter) -> tuple[list[int], list[Suggestion]]:
    """Tokens per segment and the suggestions, ``SEGMENTS_AT_ONCE`` segments at a time: only
    their ``Doc``s (and vectors) are held, so a 10 MB transcript does not hold a million
    tokens at once. The embedding stage sits between the tokens and the suggestions."""
    counts: list[int] = []
    suggestions: list[Suggestion] = []
    for start in range(0, len(segments), SEGMENTS_AT_ONCE):
        try:
            items = stages.tokenize(segments[start:start + SEGMENTS_AT_ONCE], seconds)
        except _DOCUMENT_ERRORS as exc:
            raise _StageFailed("nlp", exc) from exc
        counts += [len(doc) for _, doc in items]
        suggestions += stages.suggest(items, seconds)
    return counts, suggestions


class _StageFailed(Exception):
    """A stage's error, with the stage's name for the failure report."""

    def __init__(self, stage: str, error: Exception):
        super().__init__(f"{type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


def _process_alone(document: Document, segments: list[Segment], stages: Stages) -> Processed | Failure:
    seconds: Counter = Counter()
    try:
        counts, suggestions = _tokenize_and_suggest(segments, stages, seconds)
        return Processed(segments, counts, suggestions, seconds)
    except _StageFailed as failed:
        return failure(document.path, failed.stage, failed.error)


# The per-document boundary: whatever one document raises is its failure, and the run goes
# on with the next (a KeyError in one document must not stop a 10,000-document run).
_DOCUMENT_ERRORS = (Exception,)


def failure(path: str, stage: str, error: Exception) -> Failure:
    """``error`` as ``path``'s failure at ``stage``: bad input (a ``PilahError``) by its
    message, anything else (a bug) with its traceback, for the report to show."""
    trace = "" if isinstance(error, PilahError) else "".join(traceback.format_exception(error))
    return Failure(path, stage, f"{type(error).__name__}: {error}", trace)


def batches(documents: Iterable[Document], characters: int = BATCH_CHARACTERS,
            most: int = BATCH_DOCUMENTS) -> Iterator[list[Document]]:
    """Consecutive documents in batches of at most ``most`` documents and about
    ``characters`` characters of text (a longer document is a batch of its own)."""
    batch: list[Document] = []
    size = 0
    for document in documents:
        if batch and (size + len(document.text) > characters or len(batch) >= most):
            yield batch
            batch, size = [], 0
        batch.append(document)
        size += len(document.text)
    if batch:
        yield batch


class InProcess:
    """Runs the per-document stages in this process, a batch of documents at a time."""

    def __init__(self, stages: Stages):
        self.stages = stages

    def map(self, documents: Iterable[Document]) -> Iterator[tuple[Document, Processed | Failure]]:
        for batch in batches(documents):
            yield from zip(batch, process_documents(batch, self.stages))


class Executor(Protocol):
    """Where the per-document stages run: ``map`` yields each document with its outcome, in
    the order given (``InProcess`` here; worker processes and Dask in ``pipeline.executors``)."""

    def map(self, documents: Iterable[Document]) -> Iterator[tuple[Document, Processed | Failure]]: ...


def _count(document: Document | Unread, store: Store, run_id: int, stats: RunStats) -> bool:
    """Count the document in the run, unless another file of the corpus has its id (a
    failure: ``False``)."""
    if document.id in stats.seen:
        _fail(Failure(document.path, "ingest", f"document id {document.id!r} is used by another file of this "
                                               "corpus; give each file its own id in manifest.csv"), store, run_id, stats)
        return False
    stats.document_ids.append(document.id)
    stats.seen.add(document.id)
    stats.counts["documents"] += 1
    return True


def _admit(document: Document, base_key: str, store: Store, run_id: int, stats: RunStats) -> str | None:
    """The document's processing key when it must be processed; ``None`` when it is a
    duplicate id (a failure) or unchanged since it was stored."""
    if not _count(document, store, run_id, stats):
        return None
    key = hashlib.sha256(f"{document.version}|{base_key}".encode()).hexdigest()
    if store.processing_key(document.id) == key:
        store.touch_document(document, source_key(document.source, base_key))
        stats.counts["documents_unchanged"] += 1
        return None
    return key


def _store(document, outcome, keys, store, run_id, model_version, stats) -> None:
    if isinstance(outcome, Failure):
        _fail(outcome, store, run_id, stats)
        stats.counts["documents"] -= 1
        if store.processing_key(document.id) is None:  # else its last good version stays in the exports
            stats.document_ids.remove(document.id)
        return
    stats.seconds.update(outcome.seconds)
    started = time.perf_counter()
    for (encoder, kind), vectors in outcome.vectors.items():
        store.add_vectors(vectors, encoder, kind)
    key, source = keys
    store.save_document(document, outcome.segments, outcome.tokens, outcome.suggestions, key, run_id, model_version,
                        source_key=source)
    stats.seconds["store"] += time.perf_counter() - started
    stats.counts["documents_processed"] += 1


def _fail(failure: Failure, store: Store, run_id: int, stats: RunStats) -> None:
    stats.failures.append(failure)
    store.add_failure(run_id, failure)


def settings_key(config: Config, codebook: Codebook, model_checksum: str | None, encoder_id: str | None = None) -> str:
    """What a document's stored results depend on besides its text: Pilah's version, the
    configuration's values, the codebook, the model file, the encoder in use (``None``:
    none) and the *contents* of every file the configuration points to (lexicons,
    fillers, Stanza models), so that editing a lexicon re-processes the corpus."""
    parts = [pipeline.__version__, config.hash, codebook.hash, model_checksum or "rules"]
    if encoder_id is not None:
        parts.append(f"encoder={encoder_id}")
    for section, key in sorted(PATH_KEYS):
        if key in config.values.get(section, {}) and (section, key) != ("suggest", "model"):
            parts.append(f"{section}.{key}={_content_hash(Path(config.values[section][key]))}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def source_key(signature: str | None, settings: str) -> str | None:
    """What the store keeps of the file a document was read from: its signature
    (``pipeline.ingest.source_signature``) under these settings (``None`` without one)."""
    return None if signature is None else hashlib.sha256(f"{signature}|{settings}".encode()).hexdigest()


def _content_hash(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents); "-" when absent."""
    if path.is_file():
        return file_sha256(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{item.relative_to(path).as_posix()}={file_sha256(item)}\n".encode())
        return digest.hexdigest()
    return "-"


def _timed(iterable: Iterable, seconds: Counter, name: str):
    iterator = iter(iterable)
    while True:
        started = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            seconds[name] += time.perf_counter() - started
            return
        seconds[name] += time.perf_counter() - started
        yield item
