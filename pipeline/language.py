"""Language of a segment: ``id``, ``en``, ``mixed`` (both in one sentence or turn) or ``und``.

Counts marker words per sentence: function words from spaCy's Indonesian and English stop
lists (minus the few they share) and colloquial Indonesian forms from Pilah's lexicon.
Content words are not counted, so English loanwords inside Indonesian sentences
(*marketplace*, *branding-nya*) do not make a sentence mixed; English function words do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.id.stop_words import STOP_WORDS as ID_STOP_WORDS

from pipeline.records import Segment

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


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
def _markers(lexicon: str | None) -> tuple[frozenset[str], frozenset[str]]:
    indonesian = set(ID_STOP_WORDS) - set(EN_STOP_WORDS)
    english = set(EN_STOP_WORDS) - set(ID_STOP_WORDS)
    if lexicon:
        for line in Path(lexicon).read_text(encoding="utf-8").splitlines():
            informal = line.split("\t", 1)[0]
            if line and not line.startswith("#") and informal not in english:
                indonesian.add(informal)
    # Stop-list entries that are also everyday words of the other language.
    english -= {"me", "di", "per"}
    return frozenset(indonesian), frozenset(english)


def detect_text(text: str, settings: LanguageSettings, lexicon: str | None = None) -> LanguageGuess:
    """Label a piece of text, sentence by sentence.

    Examples
    --------
    >>> detect_text("Kita udah bikin branding-nya, but the problem is stoknya.",
    ...             LanguageSettings()).language
    'mixed'
    """
    indonesian, english = _markers(lexicon)
    sentences = [_count(s, indonesian, english) for s in _SENTENCE_END.split(text) if s.strip()]
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


def _count(sentence: str, indonesian: frozenset[str], english: frozenset[str]) -> tuple[int, int]:
    words = [w.lower() for w in _WORD.findall(sentence)]
    return sum(w in indonesian for w in words), sum(w in english for w in words)


def _label(id_words: int, en_words: int, settings: LanguageSettings) -> str:
    minority = min(id_words, en_words)
    if minority >= settings.mixed_min_words and minority / (id_words + en_words) >= settings.mixed_min_share:
        return "mixed"
    return "id" if id_words >= en_words else "en"
