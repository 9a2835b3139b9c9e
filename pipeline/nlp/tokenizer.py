"""Indonesian-aware tokenization for the fast backend, and clitic splitting.

Adjustments to spaCy's tokenizers (offsets into the original text never change):

* both languages: runs of punctuation (``!!``, ``***``, ``===``, ``$$$``, ``----==``) stay one token,
  as do hashtags and mentions (``#UMKM``, ``@dinas``); TeX-style quotes ``` `` ``` and
  ``''`` are tokens;
* Indonesian: hyphenated words stay whole (reduplication *anak-anak*, *UMKM-UMKM*,
  *ke-5*, *1960-an*, English words with Indonesian affixes *di-upgrade*), as do
  slash compounds (*S/A*, *34/PMK.011/2007*); *Rp* is split from a following amount;
  abbreviations ending in a period (*dll.*, *s.d.*, *a.n.*, *Jl.*, *Kab.*, *No.*) are one
  token, so the sentencizer does not end a sentence after them; spaCy's 15,577 exceptions
  that only keep a hyphenated word whole are left out, since no infix rule cuts such a word
  here (loading them took a second of every start-up; the tokens are the same, tested);
* English: *e-mail*, *e-commerce*, *b/c*, *w/o* stay whole, as in UD English.

``CliticTokenizer`` then splits clitics off words, as Universal Dependencies does, into
separate tokens that share ``._.surface_id``: *-nya, -kah, -pun* whenever the base is a
known Indonesian word (*programnya* → *program* + *nya*; also *-nya* after an English word,
*mentornya*), *-lah, -ku, -mu, ku-, kau-* only when the
whole word is unknown (so *masalah* and *kurang* stay whole), and *-nya* after a hyphen
(*branding-nya* → *branding* + *-nya*).
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.attrs import SPACY
from spacy.symbols import ORTH
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex, registry

from pipeline.caches import WordSet
from pipeline.nlp.extensions import SURFACE_IDS
from pipeline.vocabulary import english_words, indonesian_words

_PUNCT_RUN = r"(?:[!?]{2,}|\*{2,}|\${2,}|[-=]*={2,}[-=]*|-{3,}[-=]*|_{2,}|~{2,}|#{2,}|<{2,}|>{2,})"
_TEX_QUOTES = ("``", "''")
_HASHTAG = re.compile(r"^[#@][^\W_][\w]*$")
_ID_ABBREVIATIONS = (
    "dll.", "dsb.", "dst.", "dkk.", "s.d.", "a.n.", "u.p.", "u.b.", "d.a.", "No.", "no.", "Jl.", "Kab.", "Kec.",
    "Kel.", "Prov.", "Tgl.", "tgl.", "Yth.", "Bpk.", "Sdr.", "Sdri.", "Dr.", "Drs.", "Dra.", "Ir.", "Prof.", "Hj.",
    "H.", "S.E.", "S.H.", "S.T.", "S.Pd.", "S.Sos.", "M.Si.", "M.M.", "M.T.", "Tbk.", "hlm.", "Ttd.", "ttd.", "Rp.",
)
_EN_WHOLE = ("e-mail", "E-mail", "e-mails", "E-mails", "e-commerce", "E-commerce", "b/c", "w/o", "w/")
_CLITIC_SUFFIXES = ("nya", "kah", "pun", "lah", "ku", "mu")
_ALWAYS = ("nya", "kah", "pun")  # split whenever the base is a known word
_CLITIC_PREFIXES = ("kau", "ku")
_HYPHENATED_WORD = re.compile(r"^[^\W_]+(?:-[^\W_]+)+$")
_WHOLE = ("anak-anak", "UMKM-UMKM", "S/A", "minus/idn", "1960-an", "ke-5", "di-upgrade")


@registry.tokenizers("pilah.tokenizer.v1")
def create_tokenizer():
    """spaCy factory: ``spacy.blank(lang, config=TOKENIZER_CONFIG)`` builds Pilah's tokenizer
    directly (building spaCy's default first and replacing it cost as much again)."""
    return build_tokenizer


TOKENIZER_CONFIG = {"nlp": {"tokenizer": {"@tokenizers": "pilah.tokenizer.v1"}}}


def build_tokenizer(nlp: Language) -> Tokenizer:
    """A tokenizer with Pilah's rules for ``nlp.lang`` (``id`` or ``en``)."""
    defaults = nlp.Defaults
    prefixes = [_PUNCT_RUN, *map(re.escape, _TEX_QUOTES), *defaults.prefixes]
    suffixes = [_PUNCT_RUN, *map(re.escape, _TEX_QUOTES), *defaults.suffixes]
    infixes = list(defaults.infixes)
    whole_words = _EN_WHOLE
    if nlp.lang == "id":
        prefixes.insert(0, r"Rp(?=[0-9])")
        # Drop every infix rule that would cut a word Indonesian writes whole.
        infixes = [p for p in infixes if not any(re.search(p, word) for word in _WHOLE)]
        whole_words = _ID_ABBREVIATIONS
    default_match = defaults.token_match
    rules = dict(defaults.tokenizer_exceptions)
    if nlp.lang == "id":
        rules = {text: rule for text, rule in rules.items() if not _keeps_hyphenated_word_whole(text, rule)}
    rules.update({word: [{"ORTH": word}] for word in whole_words})
    return Tokenizer(
        nlp.vocab,
        rules=rules,
        prefix_search=compile_prefix_regex(prefixes).search,
        suffix_search=compile_suffix_regex(suffixes).search,
        infix_finditer=compile_infix_regex(infixes).finditer,
        token_match=lambda text: _HASHTAG.match(text) or (default_match(text) if default_match else None),
        url_match=defaults.url_match,
    )


def _keeps_hyphenated_word_whole(text: str, rule: list[dict]) -> bool:
    """Whether a tokenizer exception only says that a hyphenated word is one token."""
    return len(rule) == 1 and rule[0] == {ORTH: text} and bool(_HYPHENATED_WORD.match(text))


class CliticTokenizer:
    """Wraps a spaCy tokenizer and splits Indonesian clitics off the words it returns.

    Building the ``Doc`` once from the split words keeps tokenization linear in the text
    length (retokenizing a long document split by split is quadratic).
    """

    def __init__(self, tokenizer, known, english):
        self.tokenizer = tokenizer
        self.known = known
        self.english = english
        self._splits: dict[int, tuple[str, ...]] = {}  # those that split, and their parts
        self._nya: set[int] = set()  # those that are "-nya" (cut off a hyphenated word by spaCy)
        # written forms (string hashes) already classified; bounded (pipeline.caches), the
        # two above emptied with it
        self._seen: set[int] = WordSet(linked=(self._splits, self._nya))

    def __call__(self, text: str) -> Doc:
        doc = self.tokenizer(text)
        orths = doc.to_array(ORTH).tolist()
        # each written form is classified once; a document whose words neither split nor
        # join is returned as spaCy made it, and the others are rebuilt around the words
        # that do, without a Python step per word
        if not self._seen.issuperset(orths):
            self._classify(orths, doc.vocab.strings)
        splits = self._splits
        split_at = [i for i, orth in enumerate(orths) if orth in splits] if not splits.keys().isdisjoint(orths) else []
        hyphenated = "-" in text and not self._nya.isdisjoint(orths)
        if not split_at and not hyphenated:
            doc.user_data[SURFACE_IDS] = {}  # every token is a written word of its own
            return doc
        strings = doc.vocab.strings
        written_words = [strings[orth] for orth in orths]
        written_spaces = [bool(space) for space in doc.to_array(SPACY).tolist()]
        nya = self._nya
        words: list[str] = []
        spaces: list[bool] = []
        surface: dict[int, int] = {}
        written = 0  # the written words so far

        def copy(start: int, end: int) -> None:
            """Tokens ``start`` to ``end`` are written words of their own."""
            nonlocal written
            if len(words) != written:  # after a split, a token's index and its word's differ
                surface.update(zip(range(len(words), len(words) + end - start), range(written, written + end - start)))
            words.extend(written_words[start:end])
            spaces.extend(written_spaces[start:end])
            written += end - start

        previous = 0
        for i in sorted({*split_at, *(i for i, orth in enumerate(orths) if orth in nya)} if hyphenated else split_at):
            copy(previous, i)
            if orths[i] in nya and i and not written_spaces[i - 1]:
                pieces, word = (written_words[i],), written - 1  # joins the word before it
            else:
                pieces, word = splits.get(orths[i], (written_words[i],)), written
                written += 1
            for k, part in enumerate(pieces):
                if len(words) != word:
                    surface[len(words)] = word
                words.append(part)
                spaces.append(written_spaces[i] and k == len(pieces) - 1)
            previous = i + 1
        copy(previous, len(orths))
        if split_at:
            doc = Doc(doc.vocab, words=words, spaces=spaces)
        # only the tokens that are not a written word of their own (``surface_id`` of the rest: their index)
        doc.user_data[SURFACE_IDS] = surface
        return doc

    def _classify(self, orths: list[int], strings) -> None:
        """Record which of the written forms ``orths`` not seen yet split (``parts``) or
        are "-nya" (after forgetting every form once too many are kept)."""
        self._seen.make_room()
        orths = set(orths).difference(self._seen)
        for orth in orths:
            word = strings[orth]
            if word.lower() == "-nya":
                self._nya.add(orth)
            parts = self.parts(word)
            if parts:
                self._splits[orth] = parts
        self._seen.update(orths)

    def pipe(self, texts, batch_size: int = 1000):
        for text in texts:
            yield self(text)

    def parts(self, word: str) -> tuple[str, ...] | None:
        """The clitic split of ``word``, or ``None`` when it stays whole."""
        lower = word.lower()
        if not lower.isalpha():
            if lower.endswith("-nya") and lower[:-4].replace("-", "").isalpha() and len(lower) > 5:
                return word[:-4], word[-4:]
            return None
        whole_known = lower in self.known
        for clitic in _CLITIC_SUFFIXES:
            base = lower[: -len(clitic)]
            if not lower.endswith(clitic) or len(base) < 3:
                continue
            if base in self.known and (clitic in _ALWAYS or not whole_known):
                return word[: len(base)], word[len(base) :]
            if clitic == "nya" and not whole_known and base in self.english:  # mentornya
                return word[: len(base)], word[len(base) :]
        for clitic in _CLITIC_PREFIXES:
            base = lower[len(clitic) :]
            if lower.startswith(clitic) and len(base) >= 4 and base in self.known and not whole_known:
                return word[: len(clitic)], word[len(clitic) :]
        return None


def add_clitic_splitting(nlp: Language) -> None:
    """Make ``nlp``'s tokenizer split Indonesian clitics (see the module docstring)."""
    nlp.tokenizer = CliticTokenizer(nlp.tokenizer, indonesian_words(), english_words())
