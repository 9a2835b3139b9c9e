"""Language of a sentence or segment: ``id``, ``en``, ``mixed`` or ``und``, with a score.

Two kinds of evidence, each used for what it does best (figures: ``bench/langid.py``):

* **Marker words.** A word marks a language when that language knows it and the other
  does not: function words from spaCy's stop lists, content words from the spaCy lemma
  lookup tables (``spacy-lookups-data``), colloquial Indonesian from Pilah's lexicon.
  Words both languages know (*program, data, media*) and capitalised words inside a
  sentence (names: *Lembah Hijau*, *Dinas Koperasi*) mark nothing.
* **A detector** (lingua, offline, restricted to Indonesian, Malay and English; Malay
  counts as Indonesian). It labels the words neither vocabulary knows (*flexible,
  sustainability, jadwalnya*) when it is at least ``word_confidence`` sure, so that they
  count as markers too; and its probability that the sentence is English is pooled
  with the marker words as if it were ``detector_weight`` marker words, which decides
  Indonesian vs English: ``p_en = (en_words + weight * p_detector) / (markers + weight)``.
  So the detector settles short or balanced sentences, and clear marker evidence
  overrules the detector where it stumbles on two or three words (*Ah, yes.* ;
  *Kalau di marketplace?*).

The rule for ``mixed`` is Pilah's own: a sentence is mixed when the smaller of the two
languages has at least ``mixed_min_words`` marker words and at least ``mixed_min_share``
of all marker words; otherwise ``p_en`` decides between ``id`` and ``en`` (a tie goes
to ``id``). One loanword (*kami jualan lewat marketplace*) does not make a sentence
mixed; an English phrase or clause does (*secara policy framework, RPJMD kita sudah
mengakomodasi*). A sentence with fewer than ``min_words`` marker words is ``und``. A
segment is mixed when one of its sentences is, or when it has both Indonesian and
English sentences.

``detector = "markers"`` drops the detector and lets the marker words alone decide (Pilah's
first method, kept for comparison and as a fallback without lingua installed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from pipeline.caches import WordCache, memo
from pipeline.records import Segment
from pipeline.vocabulary import EN_ONLY_FUNCTION_WORDS, ID_ONLY_FUNCTION_WORDS, KnownWords, read_word_list

if TYPE_CHECKING:
    import pandas as pd

DETECTORS = ("lingua", "lingua-low", "py3langid", "markers")

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# Words shorter than this are not given to the detector: too little to go on.
_MIN_DETECTED_WORD = 4


# How a ``lang`` column may name Pilah's languages (ISO 639-1/-2, BCP 47 tags, names).
_LANGUAGE_NAMES = {
    "id": "id", "in": "id", "ind": "id", "indonesian": "id", "indonesia": "id", "bahasa": "id",
    "bahasa indonesia": "id", "en": "en", "eng": "en", "english": "en", "inggris": "en",
    "bahasa inggris": "en", "mixed": "mixed", "campur": "mixed", "campuran": "mixed",
}


def language_code(value: object) -> str:
    """``id``, ``en`` or ``mixed`` for a language as a person may write it in a table
    (``ID``, ``en-GB``, ``English``, ``Bahasa Indonesia``, ``id+en``); ``""`` for an empty
    cell or a language Pilah does not read, which is then left to the detector."""
    text = str(value or "").strip().casefold()
    if text in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[text]
    parts = {_LANGUAGE_NAMES.get(re.split(r"[-_\s]", part.strip())[0], "?")
             for part in re.split(r"[+/,;&]", text) if part.strip()}
    if "mixed" in parts or {"id", "en"} <= parts:
        return "mixed"
    return parts.pop() if len(parts) == 1 and parts <= {"id", "en"} else ""


@dataclass(frozen=True)
class LanguageGuess:
    """A language label with a score in [0, 1] and the marker counts behind it."""

    language: str
    score: float
    id_words: int
    en_words: int


@dataclass(frozen=True)
class LanguageSettings:
    """The ``[language]`` config section; every key has a default so old configs work."""

    mixed_min_words: int = 2
    mixed_min_share: float = 0.2
    min_words: int = 2
    detector: str = "lingua"
    word_confidence: float = 0.9
    detector_weight: float = 2.0

    def __post_init__(self):
        if self.detector not in DETECTORS:
            raise ValueError(
                f"[language] detector must be one of {', '.join(DETECTORS)}; "
                f"got {self.detector!r}. Fix the value in the config file."
            )


def detect_sentences(
    text: str, settings: LanguageSettings, lexicon: str | None = None
) -> list[tuple[int, int, LanguageGuess]]:
    """Label each sentence of ``text``; returns ``(start, end, guess)`` with char offsets.

    Examples
    --------
    >>> text = "Kami sudah coba. But we did not get any answer."
    >>> [(s, e, g.language) for s, e, g in detect_sentences(text, LanguageSettings())]
    [(0, 16, 'id'), (17, 47, 'en')]
    """
    return [
        (start, end, _guess_sentence(text[start:end], settings, lexicon)) for start, end in _sentence_spans(text)
    ]


def detect_text(text: str, settings: LanguageSettings, lexicon: str | None = None) -> LanguageGuess:
    """Label a piece of text (a segment, a turn) from the labels of its sentences.

    Examples
    --------
    >>> detect_text("Kita udah bikin branding-nya, but the problem is stoknya.",
    ...             LanguageSettings()).language
    'mixed'
    """
    guesses = [_guess_sentence(text[start:end], settings, lexicon) for start, end in _sentence_spans(text)]
    total_id = sum(g.id_words for g in guesses)
    total_en = sum(g.en_words for g in guesses)
    known = [g for g in guesses if g.language != "und"]
    if not known:
        if len(guesses) > 1 and total_id + total_en >= settings.min_words:
            return _guess_sentence(" ".join(text.split()), settings, lexicon)  # short sentences, one label
        return LanguageGuess("und", 0.0, total_id, total_en)
    labels = {g.language for g in known}
    if "mixed" in labels or {"id", "en"} <= labels:
        return LanguageGuess("mixed", _balance(total_id, total_en), total_id, total_en)
    weight = sum(g.id_words + g.en_words for g in known)
    score = sum(g.score * (g.id_words + g.en_words) for g in known) / weight
    return LanguageGuess(labels.pop(), round(score, 3), total_id, total_en)


def detect_segments(
    segments: list[Segment], settings: LanguageSettings, lexicon: str | None = None
) -> list[Segment]:
    """Return the segments with ``language`` and ``language_score`` set."""
    guessed = []
    for segment in segments:
        guess = detect_text(segment.text, settings, lexicon)
        guessed.append(replace(segment, language=guess.language, language_score=guess.score))
    return guessed


def label_table(
    frame: pd.DataFrame, settings: LanguageSettings, lexicon: str | None = None, text_column: str = "text"
) -> pd.DataFrame:
    """Return a copy of ``frame`` with ``lang_detected`` and ``lang_score`` columns added.

    Empty or missing texts get ``und`` with score 0.

    Examples
    --------
    >>> import pandas as pd
    >>> label_table(pd.DataFrame({"text": ["Kami sudah coba dan berhasil."]}),
    ...             LanguageSettings())["lang_detected"].tolist()
    ['id']
    """
    if text_column not in frame.columns:
        found = ", ".join(map(str, frame.columns)) or "no columns"
        raise ValueError(
            f"expected a column named {text_column!r} holding the texts; found {found}. "
            f"Rename the column or name it with the text column option."
        )
    guesses = [
        detect_text(text, settings, lexicon) if isinstance(text, str) else LanguageGuess("und", 0.0, 0, 0)
        for text in frame[text_column]
    ]
    labelled = frame.copy()
    labelled["lang_detected"] = [g.language for g in guesses]
    labelled["lang_score"] = [g.score for g in guesses]
    return labelled


def _sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """Offsets of the sentences of ``text``, surrounding white space left out."""
    start = 0
    breaks = [(m.start(), m.end()) for m in _SENTENCE_END.finditer(text)]
    for end, next_start in breaks + [(len(text), len(text))]:
        piece = text[start:end]
        if piece.strip():
            yield start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())
        start = next_start


def _guess_sentence(sentence: str, settings: LanguageSettings, lexicon: str | None) -> LanguageGuess:
    english_share = _detector(settings.detector)
    id_words, en_words = _count(sentence, settings, lexicon, english_share)
    total = id_words + en_words
    if total < settings.min_words:
        return LanguageGuess("und", 0.0, id_words, en_words)
    minority = min(id_words, en_words)
    if minority >= settings.mixed_min_words and minority / total >= settings.mixed_min_share:
        return LanguageGuess("mixed", _balance(id_words, en_words), id_words, en_words)
    p_en = en_words / total
    weight = settings.detector_weight
    if english_share is not None and en_words / (total + weight) <= 0.5 < (en_words + weight) / (total + weight):
        # The detector's probability counts as `detector_weight` marker words: it decides
        # when the markers are few or balanced, the markers when they are clear. When no
        # probability could change the answer, the detector (the costly part) is not asked
        # and the score is the markers' own.
        detected = english_share(_without_names(sentence))
        p_en = (en_words + weight * detected) / (total + weight)
    language = "en" if p_en > 0.5 else "id"
    return LanguageGuess(language, round(max(p_en, 1 - p_en), 3), id_words, en_words)


def _count(
    sentence: str, settings: LanguageSettings, lexicon: str | None, english_share: Callable[[str], float] | None
) -> tuple[int, int]:
    """The sentence's Indonesian and English marker words."""
    words = _WORD.findall(sentence)
    if not words:
        return 0, 0
    first, later = _markers(lexicon, settings.detector, settings.word_confidence)
    first.make_room()  # and later, linked to it
    later.make_room()
    total = first.get(words[0])
    if total is None:
        total = first[words[0]] = _marker(words[0], True, settings, lexicon, english_share)
    found = list(map(later.get, words[1:]))
    if None in found:
        found = [_marker(written, False, settings, lexicon, english_share) if value is None else value
                 for written, value in zip(words[1:], found)]
        later.update(zip(words[1:], found))
    total += sum(found)
    return total % _ENGLISH, total // _ENGLISH


def _marker(written: str, first: bool, settings: LanguageSettings, lexicon: str | None,
            english_share: Callable[[str], float] | None) -> int:
    """What the written word marks, as it counts in ``_count``: Indonesian words plus
    English words times ``_ENGLISH``. A stop word marks its language(s) anywhere; a
    capitalised word after a sentence's first marks nothing (a name: Lembah Hijau, Dinas
    Koperasi, is not a language switch); a word one vocabulary knows marks its language,
    and one neither knows is given to the detector when it is long enough."""
    indonesian, english = _vocabularies(lexicon)
    word = written.lower()
    id_stop, en_stop = word in indonesian.stop_words, word in english.stop_words
    if id_stop or en_stop:
        return id_stop + en_stop * _ENGLISH
    if not first and written[0].isupper():
        return 0
    in_id, in_en = word in indonesian, word in english
    if in_id or in_en:
        return (in_id and not in_en) + (in_en and not in_id) * _ENGLISH
    if english_share is not None and len(word) >= _MIN_DETECTED_WORD:
        p_en = english_share(word)
        return (p_en <= 1 - settings.word_confidence) + (p_en >= settings.word_confidence) * _ENGLISH
    return 0


def _without_names(sentence: str) -> str:
    """The sentence without capitalised words after the first: names mislead detectors."""
    kept = [m.group() for i, m in enumerate(_WORD.finditer(sentence)) if not (i and m.group()[0].isupper())]
    return " ".join(kept) or sentence


def _balance(id_words: int, en_words: int) -> float:
    """1.0 when both languages have as many marker words, towards 0 when one dominates."""
    total = id_words + en_words
    return round(1 - abs(2 * id_words / total - 1), 3) if total else 0.0


_ENGLISH = 1 << 32  # a mark is Indonesian words + English words * _ENGLISH


@lru_cache(maxsize=8)
def _markers(lexicon: str | None, detector: str, word_confidence: float) -> tuple[dict[str, int], dict[str, int]]:
    """Per written word, its ``_marker`` as a sentence's first word and elsewhere, each
    worked out once: a sentence's marks are then summed in one pass (a word's marks take
    its lower case and four vocabulary look-ups, and the detector is the costly part);
    bounded (``pipeline.caches``)."""
    later = WordCache()
    return WordCache(linked=(later,)), later


@lru_cache(maxsize=4)
def _vocabularies(lexicon: str | None) -> tuple[KnownWords, KnownWords]:
    colloquial = {line.split("\t", 1)[0] for line in read_word_list(lexicon)} if lexicon else set()
    indonesian = KnownWords("id", ID_ONLY_FUNCTION_WORDS, colloquial)
    english = KnownWords("en", EN_ONLY_FUNCTION_WORDS)
    return indonesian, english


@lru_cache(maxsize=4)
def _detector(name: str) -> Callable[[str], float] | None:
    """A function giving the probability that a text is English rather than Indonesian/Malay.

    Both detectors carry their models inside the installed package: nothing is downloaded.
    """
    if name == "markers":
        return None
    package = "py3langid" if name == "py3langid" else "lingua-language-detector"
    try:
        if name == "py3langid":
            return _py3langid()
        return _lingua(low_accuracy=name == "lingua-low")
    except ImportError as exc:
        raise ImportError(
            f"[language] detector = {name!r} needs the package {package} ({exc}); "
            f"install it with `pip install {package}`, or set detector = \"markers\"."
        ) from exc


def _lingua(low_accuracy: bool) -> Callable[[str], float]:
    from lingua import Language, LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_languages(Language.INDONESIAN, Language.MALAY, Language.ENGLISH)
    # Every model a word of five letters or more needs, loaded at once and in parallel
    # (0.25-0.35 s wall on two cores, against 0.4-0.6 s loaded one after the other at the
    # first question); the probabilities are the same up to the last bits, which differ
    # between two detectors of either kind (lingua sums in hash-map order)
    builder = builder.with_preloaded_language_models()
    detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

    @memo(maxsize=65536)
    def english_share(text: str) -> float:
        return detector.compute_language_confidence(text, Language.ENGLISH)

    return english_share


def _py3langid() -> Callable[[str], float]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(["id", "ms", "en"])

    @memo(maxsize=65536)
    def english_share(text: str) -> float:
        return float(dict(identifier.rank(text))["en"])

    return english_share
