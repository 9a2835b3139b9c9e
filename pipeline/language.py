"""Language of a segment: ``id``, ``en``, ``mixed`` (both in one sentence or turn) or ``und``.

Counts marker words per sentence. A word marks a language when that language knows it and
the other does not: function words from spaCy's stop lists, content words from the spaCy
lemma lookup tables (``spacy-lookups-data``), and colloquial Indonesian from Pilah's
lexicon. Words both languages know (*program, data, media*) and capitalised words inside a
sentence (names: *Lembah Hijau*, *Dinas Koperasi*) mark nothing. So
*"Secara policy framework, RPJMD kita sudah mengakomodasi"* is mixed, while an Indonesian
sentence with a single English loanword stays Indonesian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS
from spacy.lookups import load_lookups

from pipeline.records import Segment

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


class _Vocabulary:
    """Words one language knows: stop words, lookup-table forms and lemmas, extra words."""

    def __init__(self, lang: str, stop_words: set[str], extra: set[str]):
        self.table = load_lookups(lang, ["lemma_lookup"]).get_table("lemma_lookup")
        self.words = set(stop_words) | set(self.table.values()) | extra
        self.stop_words = frozenset(stop_words)

    def __contains__(self, word: str) -> bool:
        return word in self.words or word in self.table


@dataclass(frozen=True)
class LanguageGuess:
    """A language label with a score in [0, 1] and the marker counts behind it."""

    language: str
    score: float
    id_words: int
    en_words: int


@dataclass(frozen=True)
class LanguageSettings:
    """Thresholds of the ``[language]`` config section."""

    mixed_min_words: int = 2
    mixed_min_share: float = 0.2
    min_words: int = 2


@lru_cache(maxsize=4)
def _vocabularies(lexicon: str | None) -> tuple[_Vocabulary, _Vocabulary]:
    colloquial = set()
    if lexicon:
        for line in Path(lexicon).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                colloquial.add(line.split("\t", 1)[0])
    shared = set(ID_STOP_WORDS) & set(EN_STOP_WORDS)
    indonesian = _Vocabulary("id", set(ID_STOP_WORDS) - shared, colloquial)
    english = _Vocabulary("en", set(EN_STOP_WORDS) - shared, set())
    return indonesian, english


def detect_text(text: str, settings: LanguageSettings, lexicon: str | None = None) -> LanguageGuess:
    """Label a piece of text, sentence by sentence.

    Examples
    --------
    >>> detect_text("Kita udah bikin branding-nya, but the problem is stoknya.",
    ...             LanguageSettings()).language
    'mixed'
    """
    vocabularies = _vocabularies(lexicon)
    sentences = [_count(s, *vocabularies) for s in _SENTENCE_END.split(text) if s.strip()]
    total_id = sum(i for i, _ in sentences)
    total_en = sum(e for _, e in sentences)
    total = total_id + total_en
    if total < settings.min_words:
        return LanguageGuess("und", 0.0, total_id, total_en)
    labels = {_label(i, e, settings) for i, e in sentences if i + e}
    share_id = total_id / total
    if "mixed" in labels or {"id", "en"} <= labels:
        return LanguageGuess("mixed", round(1 - abs(2 * share_id - 1), 3), total_id, total_en)
    language = "id" if total_id >= total_en else "en"
    return LanguageGuess(language, round(max(share_id, 1 - share_id), 3), total_id, total_en)


def detect_segments(
    segments: list[Segment], settings: LanguageSettings, lexicon: str | None = None
) -> list[Segment]:
    """Return the segments with ``language`` and ``language_score`` set."""
    guessed = []
    for segment in segments:
        guess = detect_text(segment.text, settings, lexicon)
        guessed.append(replace(segment, language=guess.language, language_score=guess.score))
    return guessed


def _count(sentence: str, indonesian: _Vocabulary, english: _Vocabulary) -> tuple[int, int]:
    id_words = en_words = 0
    for position, match in enumerate(_WORD.finditer(sentence)):
        word = match.group().lower()
        if word in indonesian.stop_words or word in english.stop_words:
            id_words += word in indonesian.stop_words
            en_words += word in english.stop_words
            continue
        if position and match.group()[0].isupper():
            continue  # a name (Lembah Hijau, Dinas Koperasi) is not a language switch
        in_id, in_en = word in indonesian, word in english
        id_words += in_id and not in_en
        en_words += in_en and not in_id
    return id_words, en_words


def _label(id_words: int, en_words: int, settings: LanguageSettings) -> str:
    minority = min(id_words, en_words)
    if minority >= settings.mixed_min_words and minority / (id_words + en_words) >= settings.mixed_min_share:
        return "mixed"
    return "id" if id_words >= en_words else "en"
