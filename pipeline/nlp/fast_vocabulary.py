"""Word lists shared by the fast backend's components, loaded once per process."""

from __future__ import annotations

from functools import lru_cache

from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS
from spacy.lookups import load_lookups


class KnownWords:
    """Words spaCy knows in one language: lemma-table entries (inflected forms, looked up
    by hash), their lemmas, and stop words."""

    def __init__(self, lang: str, stop_words):
        self.table = load_lookups(lang, ["lemma_lookup"]).get_table("lemma_lookup")
        self.words = frozenset(set(self.table.values()) | set(stop_words))

    def __contains__(self, word: str) -> bool:
        return word in self.words or word in self.table


@lru_cache(maxsize=1)
def indonesian_words() -> KnownWords:
    return KnownWords("id", ID_STOP_WORDS)


@lru_cache(maxsize=1)
def english_words() -> KnownWords:
    return KnownWords("en", EN_STOP_WORDS)
