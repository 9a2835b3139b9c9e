"""The ``nlp`` stage: segments → spaCy ``Doc``s with tokens, normalised forms and lemmas.

Two backends produce the same ``Doc`` contract (config ``[nlp] backend``):

* ``fast`` (:mod:`.fast`): spaCy tokenizers with Indonesian-aware rules and lookup lemmas;
* ``stanza`` (:mod:`.stanza_backend`): Stanza models trained here on UD Indonesian.

Every token carries ``norm_`` (colloquial forms normalised), ``lemma_``,
``._.is_filler`` and ``._.surface_id`` (tokens split from one written word, such as
*rumah* + *nya*, share it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

from spacy.tokens import Doc

from pipeline.nlp.fast import build_pipeline, pipeline_for
from pipeline.vocabulary import read_word_list
from pipeline.records import Segment

__all__ = ["BACKENDS", "build_pipeline", "pipeline_for", "read_word_list", "reader_for", "tokenize_segments"]

BACKENDS = ("fast", "stanza")
Reader = Callable[[Iterable[str]], Iterator[Doc]]


def reader_for(language: str, settings: dict) -> Reader:
    """A function from texts to ``Doc``s for segments labelled ``language``.

    With ``backend = "stanza"`` Indonesian, mixed and undetermined segments go through
    the Stanza models in ``stanza_model``; English goes through the fast pipeline (the
    models trained here are Indonesian).
    """
    backend = settings.get("backend", "fast")
    if backend not in BACKENDS:
        raise ValueError(f"unknown nlp backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "stanza" and language != "en":
        stanza = _stanza_backend(str(settings["stanza_model"]), settings.get("colloquial_lexicon", ""),
                                 settings.get("fillers", ""))
        return lambda texts: stanza.pipe(texts, batch_size=settings.get("batch_size", 64))
    nlp = pipeline_for(language, settings)
    return lambda texts: nlp.pipe(texts, batch_size=settings.get("batch_size", 64))


@lru_cache(maxsize=2)
def _stanza_backend(model_dir: str, colloquial_lexicon: str, fillers: str):
    from pathlib import Path

    from pipeline.nlp.stanza_backend import StanzaBackend

    return StanzaBackend(Path(model_dir), colloquial_lexicon, fillers)


def tokenize_segments(segments: Iterable[Segment], settings: dict) -> Iterator[tuple[Segment, Doc]]:
    """Yield ``(segment, doc)`` in input order, each language read in batches."""
    segments = list(segments)
    docs: list[Doc | None] = [None] * len(segments)
    for lang in ("id", "en"):
        chosen = [i for i, s in enumerate(segments) if ("en" if s.language == "en" else "id") == lang]
        if chosen:
            for i, doc in zip(chosen, reader_for(lang, settings)(segments[i].text for i in chosen)):
                docs[i] = doc
    return zip(segments, docs)
