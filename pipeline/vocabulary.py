"""Words each language knows, from spaCy's packaged tables, and word-list files.

Shared by the ``language`` and ``nlp`` stages (it sits below both, beside ``records``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS
from spacy.util import load_language_data, registry

# The function words of both languages (spaCy's stop-word lists): *the, of, not, yang, dan*.
FUNCTION_WORDS = frozenset(EN_STOP_WORDS | ID_STOP_WORDS)
# The function words only one of the two languages has (*yang*, *dan*; *the*, *of*): what
# tells them apart (``language``'s detector, ``discover``'s matrix language).
ID_ONLY_FUNCTION_WORDS = frozenset(ID_STOP_WORDS) - frozenset(EN_STOP_WORDS)
EN_ONLY_FUNCTION_WORDS = frozenset(EN_STOP_WORDS) - frozenset(ID_STOP_WORDS)


class KnownWords:
    """Words spaCy knows in one language: lemma-table entries (inflected forms), their
    lemmas, stop words, and any ``extra`` words."""

    def __init__(self, lang: str, stop_words: Iterable[str], extra: Iterable[str] = ()):
        self.table = lemma_table(lang)
        self.stop_words = frozenset(stop_words)
        self.words = frozenset(set(self.table.values()) | self.stop_words | set(extra))

    def __contains__(self, word: str) -> bool:
        return word in self.words or word in self.table


@lru_cache(maxsize=2)
def lemma_table(lang: str) -> dict[str, str]:
    """spaCy's lemma lookup table for ``lang`` (``spacy-lookups-data``), inflected form →
    lemma, read once per process: the language and nlp stages both need it. A plain dict
    of the table's data: spaCy's ``Table`` keys it by string hash, which took three times
    as long to build (0.12 s of every command for the two languages) and gives the same
    look-ups."""
    return load_language_data(registry.lookups.get(lang)["lemma_lookup"])


@lru_cache(maxsize=1)
def indonesian_words() -> KnownWords:
    return KnownWords("id", ID_STOP_WORDS)


@lru_cache(maxsize=1)
def english_words() -> KnownWords:
    return KnownWords("en", EN_STOP_WORDS)


def read_word_list(path: str | Path) -> list[str]:
    """Lines of a lexicon file, without comments and blank lines."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]
