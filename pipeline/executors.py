"""Where the per-document stages run: worker processes on this machine, or a Dask cluster.

Both take documents in batches (``engine.batches``) and give each document back with its
outcome (``Processed`` or a ``Failure``) in the order they came, keeping at most a few
batches per worker in flight, so memory does not grow with the corpus. Neither touches the project store: the driver
(``pipeline.engine.process_corpus``) writes every result, so the results are the same
whichever executor ran them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.codebook import Codebook
from pipeline.config import Config
from pipeline.engine import InProcess, Processed, Stages, batches, process_documents
from pipeline.errors import InputError
from pipeline.records import Document, Failure

IN_FLIGHT_PER_WORKER = 3  # batches
WORKER_BATCH_CHARACTERS = 100_000  # smaller batches than in process keep every worker busy
# With the sentence encoder a batch costs about a hundred times as much (e5 reads about 5
# segments a second here): batches of 100,000 characters left one worker with most of a
# corpus of a few hundred segments (bench/embed_speed.py), batches of 10,000 share it out.
ENCODER_BATCH_CHARACTERS = 10_000


def batch_characters(stages: Stages) -> int:
    """Characters per batch sent to a worker: fewer when the stages embed."""
    return WORKER_BATCH_CHARACTERS if stages.encoder is None else ENCODER_BATCH_CHARACTERS
_STAGES: Stages | None = None  # the forked workers' stages, inherited from the driver


def default_workers() -> int:
    return os.cpu_count() or 1


def forkable(stages: Stages) -> bool:
    """Worker processes are forked from the driver (they share its loaded pipelines and the
    encoder's mmap-ed weights); torch, which the Stanza backend runs, does not survive a
    fork once its threads run, nor does the encoder's OpenMP runtime with more than one
    thread (``pipeline.embed``)."""
    return ("fork" in mp.get_all_start_methods() and stages.nlp_settings.get("backend") == "fast"
            and getattr(stages.encoder, "threads", 1) == 1)


class Workers:
    """``workers`` processes on this machine: this one and ``workers - 1`` forked ones.

    This process (the driver) reads the documents and writes every result to the store; in
    between it takes a batch itself whenever the forked workers have enough waiting. With a
    worker process per CPU besides it, the driver's reading and writing competed with them
    for the CPUs: two workers on two cores ran 1.1-1.4x one process.
    """

    def __init__(self, stages: Stages, workers: int):
        self.stages = stages
        self.workers = workers

    def map(self, documents: Iterable[Document]) -> Iterator[tuple[Document, Processed | Failure]]:
        global _STAGES
        _STAGES = self.stages

        def submit(batch: list[Document]):
            # the workers are forked at the first task: the language detector, spaCy
            # pipelines and lexicons are loaded before it (by the run, which times it, when
            # its first document comes), so the workers share them instead of each loading
            # its own; a run with nothing to process loads nothing
            self.stages.load()
            return pool.submit(_process, batch)

        try:
            with ProcessPoolExecutor(self.workers - 1, mp_context=mp.get_context("fork")) as pool:
                yield from _in_order(documents, submit, self.workers - 1,
                                     here=lambda batch: process_documents(batch, self.stages),
                                     characters=batch_characters(self.stages))
        finally:
            _STAGES = None


def _process(batch: list[Document]) -> list[Processed | Failure]:
    return process_documents(batch, _STAGES)


@dataclass(frozen=True)
class StageSpec:
    """What a Dask worker needs to build the stages once: plain, picklable data."""

    key: str
    config: Config
    codebook: Codebook
    model: object
    code_vectors: object = None  # the codebook's query vectors, computed once by the driver
    store_path: Path | None = None  # the project database, read-only where the worker can open it


_WORKER_STAGES: dict[str, Stages] = {}  # per Dask worker process, by StageSpec.key


def _process_on_worker(batch: list[Document], spec: StageSpec) -> list[Processed | Failure]:
    stages = _WORKER_STAGES.get(spec.key)
    if stages is None:
        stages = Stages(spec.config, spec.codebook, spec.model, code_vectors=spec.code_vectors)
        stages = _WORKER_STAGES.setdefault(spec.key, stages.use_store(path=spec.store_path))
    return process_documents(batch, stages)


class Dask:
    """The per-document stages as tasks on a Dask cluster: the one at ``scheduler``
    (``tcp://host:8786``), or a ``LocalCluster`` of ``workers`` processes when none is given.

    The workers need Pilah installed (the same version) with its dependencies; the model,
    the codebook and its vectors travel with the tasks, the configuration's files (lexicons,
    Stanza models) are read on the workers from the same paths. A worker that can open the
    project database there reads cached vectors from it (read-only); what it embeds comes
    back with the results and the driver stores it.
    """

    def __init__(self, stages: Stages, scheduler: str | None = None, workers: int = 2):
        self.stages = stages
        self.scheduler = scheduler
        self.workers = workers
        if scheduler is not None:
            check_scheduler(scheduler)  # at once, in one line, before the run starts

    def map(self, documents: Iterable[Document]) -> Iterator[tuple[Document, Processed | Failure]]:
        from distributed import LocalCluster

        cluster = None
        if self.scheduler is None:
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=":0")
        try:
            with _client(self.scheduler or cluster) as client:
                settings = self.stages.config
                spec = StageSpec(f"{settings.hash}|{self.stages.suggester.codebook.hash}|{id(self.stages)}",
                                 settings, self.stages.suggester.codebook, self.stages.suggester.model,
                                 self.stages.code_vectors, self.stages.cache_path)
                [shared] = client.scatter([spec], broadcast=True)
                width = max(len(client.scheduler_info().get("workers", {})), 1)
                yield from _in_order(documents, lambda batch: client.submit(_process_on_worker, batch, shared, pure=False),
                                     width, characters=batch_characters(self.stages))
        finally:
            if cluster is not None:
                cluster.close()


def _in_order(documents: Iterable[Document], submit, workers: int, here: Callable[[list[Document]], list] | None = None,
              characters: int = WORKER_BATCH_CHARACTERS) -> Iterator[tuple[Document, Processed | Failure]]:
    """Submit batches of documents while fewer than ``IN_FLIGHT_PER_WORKER`` per worker
    wait; yield each document with its outcome, in order. With ``here``, a batch that finds
    the workers' queue full is processed in this process instead of waiting for room."""
    pending: deque = deque()  # (batch, future or outcomes), in the documents' order
    waiting = 0  # futures among them
    limit = workers * IN_FLIGHT_PER_WORKER
    for batch in batches(documents, characters=characters):
        if here is not None and waiting >= limit:
            pending.append((batch, here(batch)))
        else:
            pending.append((batch, submit(batch)))
            waiting += 1
        # hand on what is ready; wait for the oldest only when the queue is long
        while pending and (len(pending) > 2 * limit or waiting > limit or _ready(pending[0][1])):
            done, outcome = pending.popleft()
            if not isinstance(outcome, list):
                outcome, waiting = outcome.result(), waiting - 1
            yield from zip(done, outcome)
    while pending:
        done, outcome = pending.popleft()
        yield from zip(done, outcome if isinstance(outcome, list) else outcome.result())


def _ready(outcome) -> bool:
    return isinstance(outcome, list) or outcome.done()


SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
CONNECT_SECONDS = 5.0


def check_scheduler(address: str) -> None:
    """Refuse a Dask scheduler address that is not one (``tcp://host:port``), or where
    nothing answers within ``CONNECT_SECONDS``: one line, instead of Dask's traceback after
    its 30-second timeout.

    Raises
    ------
    InputError
        Naming the address and the problem.
    """
    import socket
    from urllib.parse import urlsplit

    expected = "expected a scheduler address such as tcp://192.168.1.10:8786 (or leave --scheduler out for a " \
               "local cluster)"
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise InputError(f"--scheduler {address!r}", f"not a scheduler address; {expected}")
    if parts.scheme == "ucx":
        return
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_SECONDS) as probe:
            # a Dask scheduler greets a new connection at once (its handshake); something else
            # listening there may say nothing, and Dask's client would wait for it for ever
            greeting = probe.recv(1) if parts.scheme == "tcp" else b"-"
    except TimeoutError:
        greeting = b""
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"--scheduler {address!r}", f"no Dask scheduler answers there ({reason}); start one "
                                                    "(`dask scheduler`) or check the address") from None
    if not greeting:
        raise InputError(f"--scheduler {address!r}", f"something listens there but it is not a Dask scheduler (it "
                                                    f"said nothing in {CONNECT_SECONDS:g} s); check the address and port")


@contextmanager
def _client(address):
    """A Dask client; a scheduler that cannot be reached is an InputError in one line."""
    from distributed import Client

    try:
        client = Client(address, timeout=f"{CONNECT_SECONDS:g}s")
    except (OSError, TimeoutError) as exc:
        raise InputError(f"--scheduler {address!r}", f"cannot connect to the Dask scheduler: {exc}") from None
    with client:
        yield client


def make_executor(stages: Stages, engine: str = "local", workers: int | None = None, scheduler: str | None = None):
    """The executor a run asks for: ``local`` with ``workers`` processes (1: this process),
    or ``dask`` (at ``scheduler``, else a local cluster of ``workers`` processes)."""
    workers = workers or default_workers()
    if engine == "dask":
        return Dask(stages, scheduler, workers)
    if engine != "local":
        raise ValueError(f"--engine {engine!r}: expected local or dask")
    if workers > 1 and forkable(stages):
        return Workers(stages, workers)
    return InProcess(stages)
