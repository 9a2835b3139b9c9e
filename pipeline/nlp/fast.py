"""Tokens, normalised forms and lemmas for Indonesian, English and mixed segments.

The ``fast`` backend: spaCy's blank Indonesian and English tokenizers, the sentencizer, and
Pilah's ``pilah_forms`` component, which sets on every token

* tokens: spaCy's tokenizer with Pilah's rules, clitics split off as their own words
  (:mod:`.tokenizer`: *anggarannya* → *anggaran* + *nya*);
* ``norm_``: colloquial Indonesian mapped to its formal form (*gak* → *tidak*, from
  ``configs/lexicon/colloquial_id.tsv``; *anak2* → *anak-anak*), otherwise lower case;
* ``lemma_``: the spaCy lookup lemma of the normalised form (Indonesian table first, then
  English, so English words inside Indonesian sentences get English lemmas);
* ``._.is_filler``: discourse fillers (*eh, hmm, sih*) that suggestions ignore.

The original text is never changed: every token keeps its character offsets.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np
import spacy
from spacy.attrs import LEMMA, NORM, ORTH, SENT_START
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.caches import WordCache
from pipeline.nlp.extensions import FILLERS, SURFACE_IDS
from pipeline.nlp.tokenizer import TOKENIZER_CONFIG, add_clitic_splitting
from pipeline.vocabulary import lemma_table, read_word_list

# Lemmas of clitics split off by ``pilah_clitics`` (as in UD Indonesian CSUI).
CLITIC_LEMMAS = {"nya": "nya", "-nya": "nya", "ku": "aku", "mu": "kamu", "kau": "engkau", "kah": "kah", "lah": "lah", "pun": "pun"}
INDONESIAN_PREFIXES = ("di", "me", "men", "mem", "meng", "ter", "ber", "ke", "pe", "pen", "peng", "se")
_REDUPLICATED_DIGIT = re.compile(r"^([^\W\d_]{2,})2$")



class Forms:
    """Sets ``norm_`` and ``lemma_`` from lexicons and lookup tables, and marks fillers."""

    def __init__(self, colloquial: dict[str, str], fillers: set[str], lemma_tables: list, keep_name_case: bool = False):
        self.colloquial = colloquial
        self.fillers = frozenset(fillers)
        self.lemma_tables = lemma_tables
        self.keep_name_case = keep_name_case
        self._lemmas: dict[str, str] = {}
        # written form -> (norm, lemma), where no place matters; bounded (pipeline.caches)
        self._forms: dict[int, tuple[int, int]] = WordCache()

    def __call__(self, doc: Doc) -> Doc:
        self._set_forms([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        """``__call__`` for a stream of docs, ``batch_size`` at a time (``nlp.pipe``)."""
        docs = iter(docs)
        while batch := list(itertools.islice(docs, batch_size)):
            self._set_forms(batch)
            yield from batch

    def _set_forms(self, docs: list[Doc]) -> None:
        """Set the norms and lemmas of ``docs`` (of this pipeline), reading and writing them
        as arrays: each distinct written form of the batch is looked at once, and worked out
        once for good unless its lemma depends on its place (a Python step and a ``Token``
        per word had cost more than the rest)."""
        for doc in docs:
            doc.user_data[FILLERS] = self.fillers
        docs = [doc for doc in docs if len(doc)]
        if not docs:
            return
        strings = docs[0].vocab.strings
        orths = [doc.to_array(ORTH) for doc in docs]
        keys, inverse = np.unique(np.concatenate(orths), return_inverse=True)
        self._forms.make_room()
        kept = self._forms
        forms = [kept.get(orth) for orth in keys.tolist()]
        placed: dict[int, tuple[str, str]] = {}  # forms whose lemma depends on the place: text, norm
        for k in [k for k, found in enumerate(forms) if found is None]:
            orth = int(keys[k])
            text = strings[orth]
            norm = self._norm(text.lower())
            if norm in CLITIC_LEMMAS or (self.keep_name_case and text[:1].isupper()):
                # the lemma depends on the word's place: next to its host, or a sentence's first
                placed[k] = (text, norm)
                forms[k] = (0, 0)  # set per place below
            else:
                forms[k] = kept[orth] = (strings.add(norm), strings.add(self._word_lemma(0, text, norm, {}, False)))
        values = np.array(forms, dtype="uint64")[inverse]
        lengths = np.array([len(array) for array in orths])
        ends = np.cumsum(lengths)
        starts: dict[int, list[int]] = {}  # sentence starts of the docs that hold such forms
        places = np.flatnonzero(np.isin(inverse, list(placed))) if placed else np.zeros(0, np.int64)
        owner = np.searchsorted(ends, places, side="right")
        for at, d, i in zip(places.tolist(), owner.tolist(), (places - (ends - lengths)[owner]).tolist()):
            doc = docs[d]
            if d not in starts:
                starts[d] = doc.to_array(SENT_START).tolist()
            text, norm = placed[int(inverse[at])]
            lemma = self._word_lemma(i, text, norm, doc.user_data.get(SURFACE_IDS, {}), starts[d][i] == 1)
            values[at] = (strings.add(norm), strings.add(lemma))
        for doc, start, end in zip(docs, [0, *ends[:-1].tolist()], ends.tolist()):
            doc.from_array([NORM, LEMMA], values[start:end])

    def _norm(self, lower: str) -> str:
        norm = self.colloquial.get(lower, lower)
        if match := _REDUPLICATED_DIGIT.match(norm):  # anak2 -> anak-anak
            norm = f"{match[1]}-{match[1]}"
        return norm

    def _word_lemma(self, i: int, text: str, norm: str, surface_ids: dict[int, int], sentence_start: bool) -> str:
        if norm in CLITIC_LEMMAS:
            surface = surface_ids.get(i, i)
            if (i and surface == surface_ids.get(i - 1, i - 1)) or surface == surface_ids.get(i + 1, i + 1):
                return CLITIC_LEMMAS[norm]
        if "-" in norm.strip("-"):
            first, _, second = norm.partition("-")
            if second.startswith(first) or first == second:  # anak-anak, besar-besaran
                return self._lemma(first)
            if first in INDONESIAN_PREFIXES and second.isalpha():  # di-upgrade
                return self._lemma(second)
        lemma = self._lemma(norm)
        if self.keep_name_case and lemma == norm and text[:1].isupper() and not sentence_start:
            return text  # English names keep their case, as UD English lemmas do
        return lemma

    def _lemma(self, word: str) -> str:
        lemma = self._lemmas.get(word)
        if lemma is None:
            lemma = next((found for table in self.lemma_tables if (found := table.get(word)) is not None), word)
            self._lemmas[word] = lemma
        return lemma


@Language.factory("pilah_forms", default_config={"colloquial_lexicon": "", "fillers": ""})
def make_forms(nlp: Language, name: str, colloquial_lexicon: str, fillers: str) -> Forms:
    colloquial = {}
    if colloquial_lexicon and nlp.lang == "id":  # colloquial Indonesian only
        colloquial = dict(line.split("\t", 1) for line in read_word_list(colloquial_lexicon))
    filler_words = set(read_word_list(fillers)) if fillers else set()
    languages = ["id", "en"] if nlp.lang == "id" else ["en"]
    tables = [lemma_table(lang) for lang in languages]
    return Forms(colloquial, filler_words, tables, keep_name_case=nlp.lang == "en")


@lru_cache(maxsize=4)
def build_pipeline(language: str, colloquial_lexicon: str, fillers: str) -> Language:
    """A blank spaCy pipeline for ``id`` or ``en`` with sentencizer and ``pilah_forms``."""
    nlp = spacy.blank(language, config=TOKENIZER_CONFIG)
    if language == "id":
        add_clitic_splitting(nlp)
    nlp.add_pipe("sentencizer")
    nlp.add_pipe(
        "pilah_forms",
        config={"colloquial_lexicon": colloquial_lexicon, "fillers": fillers},
    )
    return nlp


def pipeline_for(language: str, settings: dict) -> Language:
    """The fast pipeline that reads a segment labelled ``language`` (mixed, und: Indonesian)."""
    lang = "en" if language == "en" else "id"
    return build_pipeline(lang, settings.get("colloquial_lexicon", ""), settings.get("fillers", ""))
