"""Pseudonymised exports: what leaves the researcher's machine names no one.

Under ``--pseudonymize`` (or ``[privacy] pseudonymize = true``) every file Pilah writes —
review sheets, the REFI-QDA project and its sources, the report and its displays, the
candidate codes, ``run.json`` — has its identifiers replaced, and the project store keeps
the real text (the store is never pseudonymised; only what leaves it is):

- **persons**: speaker labels (``Pak Hendra:`` → ``Informan 1:``), the names of the
  project's names file (``configs/names.txt`` or ``--names FILE``), and names found in the
  text by rules: an honorific before capitalised words (*Pak, Bapak, Bu, Ibu, Mas, Mbak,
  Kak, Bang, Haji/H., Hj., Mr., Mrs., Ms., Dr., Prof.*), *nama saya / namanya / my name
  is* before them, and Japanese *-san*. Once a name is known, it is replaced wherever it
  stands, with or without its honorific. Speakers become *Informan 1, 2, …*, others
  *Person A, B, …*;
- **e-mail addresses** → ``[EMAIL-1]``; **phone numbers**, Indonesian and international
  (*+62 812-3456-7890, 0812 3456 7890, (031) 555-1234*) → ``[TELEPON-1]``; **16-digit NIK**
  → ``[NIK-1]``; **street addresses** (*Jl. Melati No. 5*, *Gg. Mawar*, *12 King Street*)
  → ``[ALAMAT-1]``.

Each real value has one pseudonym for the life of the project (table ``pseudonyms`` of the
store); the mapping never leaves the store (``pilah privacy report`` shows it to the
researcher). Rules were chosen by measurement (``bench/privacy.py``, README): a rule that
takes every capitalised word it does not know for a name finds a few more names and
replaces places and institutions too, so names are only taken where a rule says so.

Offsets stay true: a document's text is rewritten once, with an :class:`OffsetMap`, and
segment and coding offsets go through the same map, so a pseudonymised qdpx codes the same
passages (:class:`PseudonymisedStore`).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.store import Store

KINDS = ("person", "email", "phone", "nik", "address")
TAGS = {"email": "EMAIL", "phone": "TELEPON", "nik": "NIK", "address": "ALAMAT"}
SPEAKER_PSEUDONYM = "Informan"
PERSON_PSEUDONYM = "Person"

HONORIFICS = ("Bapak", "Pak", "Ibu", "Bu", "Mas", "Mbak", "Kak", "Bang", "Haji", "Hj.", "H.", "Mrs.", "Mrs", "Mr.",
              "Mr", "Ms.", "Ms", "Miss", "Dr.", "Drs.", "Dra.", "Prof.", "Professor", "Ir.", "Governor", "Mayor")
_HONORIFIC = "(?:" + "|".join(re.escape(h) + ("" if h.endswith(".") else r"(?![\w.])") for h in
                              sorted(HONORIFICS, key=len, reverse=True)) + ")"
_HONORIFICS = rf"{_HONORIFIC}(?:[ \t]+{_HONORIFIC})*"
_UPPER = "A-ZÀ-ÖØ-Þ"
_NAME_WORD = rf"[{_UPPER}][^\W\d_]*(?:['’\-][^\W\d_]+)*"
# Words that follow an honorific without being a name: offices and titles (Pak Gubernur,
# Bu Kadis), "Ibu Kota", "Bapak Ibu" (several honorifics are a greeting, not a name).
ROLE_WORDS = frozenset(w.casefold() for w in """
    Gubernur Wagub Wakil Kepala Kadis Kabid Kasi Kasubag Kasubbag Sekda Sekretaris Bupati Wabup Wali Walikota
    Wawali Camat Lurah Kades Menteri Presiden Direktur Dirut Ketua Dosen Guru Dokter Kota Pertiwi Negara Dinas
    Kabupaten Provinsi Desa Ustadz Ustaz Kyai Haji Bidan Kapolda Kapolres Rektor Dekan Kepsek Staf Komisaris
    Governor Mayor Minister President Director Secretary Chairman Chair Head Deputy Professor Doctor Mister Madam
    Sir Dear Speaker General
""".split()) | frozenset(h.rstrip(".").casefold() for h in HONORIFICS)
# Places and institutions that never are a person, whatever stands before them (the
# codebook's words and ``[privacy] keep`` add to these).
KEEP_WORDS = frozenset(w.casefold() for w in """
    Dinas Koperasi UKM UMKM Bappeda Bapperida Pemprov Pemkab Pemkot Provinsi Kabupaten Kota Kecamatan Kelurahan
    Desa Kementerian Kemenkop Bank BUMN BUMD Badan Balai Kantor Pemerintah Indonesia Jepang Japan Jakarta
    Prefektur Prefecture JETRO JICA Universitas University Sekretariat DPRD Program Programme Kelompok
    Kopi Coffee Toko Warung Batik Roastery Kafe Cafe CV PT UD Tim Team Sekolah Pondok Pesantren Paguyuban Komunitas
    Sanggar Usaha Group Company Shop Store Restoran Hotel
    """.split())
# "namanya" names a group or a business as often as a person when one of these stands just before.
_NAMED_THING = re.compile(r"(?i)\b(?:kelompok|usaha|toko|warung|program|brand|merek|merk|produk|desa|kampung|"
                          r"koperasi|perusahaan|kafe|cafe|komunitas|paguyuban|sanggar|tim|kegiatan|acara|aplikasi)\w*\W+"
                          r"(?:\w+\W+){0,2}$")
# Speaker labels that are roles, not persons: left as they are.
ROLE_SPEAKERS = re.compile(r"^(?:[A-Za-z]{1,2}\.?|(?:speaker|pembicara|participant|peserta|informan|narasumber|"
                           r"responden|respondent|interviewee|unknown|moderator|pewawancara|interviewer|"
                           r"peneliti|researcher|fasilitator)(?:[ \t]*\d+)?)$", re.IGNORECASE)

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_NIK = re.compile(r"(?<![\d.])\d{4}([ .\-]?)\d{4}\1\d{4}\1\d{4}(?![\d])")
_PHONE = re.compile(r"""
    (?<![\w+/.,-])
    (?:
        \+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,5}){1,4}   # +62 812-3456-7890, +81 3 1234 5678
      | \(0\d{1,4}\)[ .\-]?\d{3,4}(?:[ .\-]?\d{2,5}){0,2}                      # (031) 555-1234
      | 0\d{2,4}(?:[ .\-]?\d{2,5}){1,3}                                        # 0812 3456 7890, 031-5551234
      | 62\d{9,12}                                                              # 6281234567890
    )
    (?![\w])
""", re.VERBOSE)
_RT_RW = r"RT\.?[ \t]?\d{1,3}(?:[ \t]?/[ \t]?RW\.?[ \t]?\d{1,3})?"
_STREET_WORD = rf"(?!(?:No|Nomor|Blok|Kav|RT|RW)\b)[{_UPPER}0-9][\w'’\-]*"
_ADDRESS = re.compile(rf"""
    (?<![\w])
    (?:
        (?:Jl\.|Jln\.?|Jalan|Gg\.|Gang|Komplek|Kompleks|Perum(?:ahan)?\.?)[ \t]*
        {_STREET_WORD}(?:[ \t]+{_STREET_WORD}){{0,3}}
        (?:[ \t]*,?[ \t]*(?:(?:No\.?|Nomor|Blok|Kav\.?)[ \t]*[\w/.\-]*\d[\w/\-]*|{_RT_RW}))*
      | \d{{1,5}}[ \t]+(?:[{_UPPER}][a-z]+[ \t]+){{1,3}}(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Boulevard|Blvd\.)
      | {_RT_RW}
    )
""", re.VERBOSE)
_HONORIFIC_NAME = re.compile(rf"(?<![\w.])(?P<lead>{_HONORIFICS})[ \t]+(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})")
_INTRODUCED = re.compile(rf"(?<!\w)(?:[Nn]ama saya|[Nn]amanya|[Nn]ama beliau|[Pp]anggil saja|[Dd]ipanggil|"
                         rf"[Mm]y name is|[Mm]y name's)[ \t]+(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})")
# A relation before a name: "suaminya Teguh", "teman saya, Mbak Yanti", "my colleague Kenji Mori".
_RELATED = re.compile(rf"(?<!\w)(?:(?:suami|istri|isteri|anak|adik|kakak|ayah|paman|bibi|mertua|keponakan|teman|temen|"
                      rf"rekan|kolega|atasan|asisten|sekretaris)(?:nya|ku|mu)?(?:[ \t]+(?:saya|gue|gua|aku|kami|beliau))?|"
                      rf"(?:[Mm]y|[Hh]is|[Hh]er|[Oo]ur|[Tt]heir)[ \t]+(?:colleague|predecessor|successor|wife|husband|son|"
                      rf"daughter|brother|sister|assistant|boss|supervisor|friend))[ \t]*,?[ \t]+"
                      rf"(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}})")
_SAN = re.compile(rf"(?<![\w])(?P<name>{_NAME_WORD})-(?:san|sama|sensei|kun|chan)(?!\w)")


def _stop_words() -> frozenset[str]:
    from pipeline.vocabulary import FUNCTION_WORDS  # spaCy's word lists, loaded when needed

    return FUNCTION_WORDS | {"terima", "selamat", "iya", "oke", "ok", "baik"}


def read_names(path: str | Path) -> list[str]:
    """The persons of a names file: one name a line (an honorific before it is dropped),
    ``#`` starts a comment. A missing file is an ``InputError`` naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise InputError(path, "names file not found; give an existing file (one name a line) or leave it out") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the names file: {exc}") from None
    names = (strip_honorifics(line.split("#", 1)[0].strip()) for line in lines)
    return list(dict.fromkeys(name for name in names if name))


def strip_honorifics(label: str) -> str:
    """``"Bu Hj. Warsini"`` → ``"Warsini"``; the words of a name, single-spaced."""
    return re.sub(rf"^{_HONORIFICS}[ \t]+", "", " ".join(label.split())).strip()


@dataclass(frozen=True)
class Found:
    """An identifier found in a text: ``text[start:end]`` is replaced; ``value`` is what
    the store maps to a pseudonym (a person's name without honorific)."""

    start: int
    end: int
    kind: str
    value: str


class OffsetMap:
    """Positions in a text → positions in its pseudonymised form.

    A position inside a replaced span moves to the replacement's start when it opens a
    selection and to its end when it closes one, so a selection never cuts a pseudonym.
    """

    def __init__(self, spans: Sequence[tuple[int, int, int]]):
        # (old start, old end, new length) of each replacement, in order, not overlapping
        self._spans = list(spans)
        self._starts = [start for start, _, _ in self._spans]
        self._before, shift = [], 0  # the shift of everything before each span
        for start, end, length in self._spans:
            self._before.append(shift)
            shift += length - (end - start)

    def start(self, position: int) -> int:
        i = bisect_right(self._starts, position) - 1
        if i < 0:
            return position
        start, end, length = self._spans[i]
        return start + self._before[i] if position < end else position + self._before[i] + length - (end - start)

    def end(self, position: int) -> int:
        i = bisect_left(self._starts, position) - 1
        if i < 0:
            return position
        start, end, length = self._spans[i]
        return start + self._before[i] + length if position <= end else position + self._before[i] + length - (end - start)


class Pseudonymizer:
    """Finds identifiers and replaces them with the project's pseudonyms.

    Parameters
    ----------
    store : Store
        The project store: it holds the mapping (read at start, each new pseudonym added
        at once, so every file of a run and of later runs agrees).
    names : iterable of str
        Persons known in advance (the names file).
    keep : iterable of str
        Words never taken for (part of) a name: the codebook's labels and keywords,
        ``[privacy] keep``.
    exempt_speakers : iterable of str
        Speaker labels that are roles (``[suggest] skip_speakers``), left as they are.

    Examples
    --------
    >>> p = Pseudonymizer(Store(tmp), names=["Budi Santoso"])           # doctest: +SKIP
    >>> p.text("Pak Budi Santoso (budi@desa.id, 0812 3456 7890)")       # doctest: +SKIP
    'Person A ([EMAIL-1], [TELEPON-1])'
    """

    # The rules that find names no list holds (bench/privacy.py measures them).
    NAME_RULES = (_HONORIFIC_NAME, _INTRODUCED, _RELATED, _SAN)

    def __init__(self, store: Store, names: Iterable[str] = (), keep: Iterable[str] = (),
                 exempt_speakers: Iterable[str] = ()):
        self.store = store
        self.keep = KEEP_WORDS | {w.casefold() for word in keep for w in re.findall(r"[^\W\d_]+", word)}
        self.stop = _stop_words()
        self.exempt = {s.casefold() for s in exempt_speakers}
        frame = store.pseudonyms_frame()
        self.pseudonyms = {(k, v): p for k, v, p in zip(frame["kind"], frame["value"], frame["pseudonym"])}
        self.persons = list(dict.fromkeys([*(v for k, v in self.pseudonyms if k == "person"),
                                           *(n for n in (strip_honorifics(n) for n in names) if n)]))
        self.speakers: set[str] = set()
        self.aliases: dict[str, str] = {}  # a full name → the one-word known person it is (canonical)
        self._known = self._tokens = None  # patterns of the known persons, rebuilt when one is added

    # -- the mapping ------------------------------------------------------------------
    def pseudonym(self, kind: str, value: str) -> str:
        """The pseudonym of ``value``, made (and stored) the first time it is asked for."""
        key = (kind, value)
        if key not in self.pseudonyms:
            if kind == "person":
                prefix = SPEAKER_PSEUDONYM if value in self.speakers else PERSON_PSEUDONYM
                taken = sum(1 for (k, _), p in self.pseudonyms.items() if k == kind and p.startswith(prefix + " "))
                label = str(taken + 1) if prefix == SPEAKER_PSEUDONYM else _letters(taken)
                pseudonym = f"{prefix} {label}"
            else:
                taken = sum(1 for k, _ in self.pseudonyms if k == kind)
                pseudonym = f"[{TAGS[kind]}-{taken + 1}]"
            self.pseudonyms[key] = pseudonym
            self.store.add_pseudonyms([(kind, value, pseudonym)])
            if kind == "person" and value not in self.persons:
                self.persons.append(value)
                self._known = self._tokens = None
        return self.pseudonyms[key]

    def add_speakers(self, labels: Iterable[str]) -> None:
        """Register the persons behind speaker labels (before any text, so speakers are
        *Informan N* in the order they are first heard)."""
        for label in labels:
            value = self._speaker_value(label)
            if value:
                value = self.canonical(value)  # "Bu Sari" is Sari Anggraini of the names file
                self.speakers.add(value)
                if value not in self.persons:
                    self.persons.append(value)
                    self._known = self._tokens = None
                self.pseudonym("person", value)

    def _speaker_value(self, label: object) -> str:
        if not isinstance(label, str):  # no speaker (a paragraph of a document)
            return ""
        label = " ".join(label.split())
        if not label or label.casefold() in self.exempt or ROLE_SPEAKERS.match(label):
            return ""
        return strip_honorifics(label) or label

    # -- finding ----------------------------------------------------------------------
    def find(self, text: str) -> list[Found]:
        """Identifiers in ``text``, in order, not overlapping (e-mails, NIK, phones and
        addresses first, then persons)."""
        taken: list[Found] = []

        def take(start: int, end: int, kind: str, value: str) -> None:
            if start < end and not any(f.start < end and start < f.end for f in taken):
                taken.append(Found(start, end, kind, value))

        for m in _EMAIL.finditer(text):
            take(m.start(), m.end(), "email", m.group().lower())
        for m in _NIK.finditer(text):
            take(m.start(), m.end(), "nik", re.sub(r"\D", "", m.group()))
        for m in _PHONE.finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 8 <= len(digits) <= 15:
                take(m.start(), m.end(), "phone", "0" + digits[2:] if digits.startswith("62") else digits)
        for m in _ADDRESS.finditer(text):
            take(m.start(), m.end(), "address", " ".join(m.group().split()).rstrip(",."))
        persons = []  # every rule's candidates; the longest at each place wins
        known = self._known_pattern()
        if known is not None:
            for m in known.finditer(text):  # with the surname after it: never "Person C Anggraini"
                end, surname = self._surname(text, m.end())
                persons.append((m.start(), end, " ".join([m.group("name") or m.group("part"), *surname])))
        for pattern in self.NAME_RULES:
            for m in pattern.finditer(text):
                words = self._name_words(m.group("name"))
                if pattern is _INTRODUCED and _NAMED_THING.search(text[max(0, m.start() - 40):m.start()]):
                    continue
                if words:
                    start = m.start() if pattern is _HONORIFIC_NAME else m.start("name")
                    end = m.start("name") + len(re.match(rf"\S+(?:[ \t]+\S+){{{len(words) - 1}}}", m.group("name")).group())
                    end = m.end() if pattern is _SAN else end  # "Watanabe-san" goes whole
                    persons.append((start, end, " ".join(words)))
        for start, end, name in sorted(persons, key=lambda c: (c[0], c[0] - c[1])):
            take(start, end, "person", self.canonical(name))
        return sorted(taken, key=lambda f: f.start)

    def _surname(self, text: str, end: int, joiner: str = r"[ \t]+") -> tuple[int, list[str]]:
        """The name words right after a known name at ``end`` (at most two, none that is an
        office, an institution, a common word or an acronym): a surname the known name
        leaves behind; returns the new end and the words."""
        words: list[str] = []
        following = re.compile(rf"{joiner}(?P<word>{_NAME_WORD})(?![^\W_])")
        while len(words) < 2 and (m := following.match(text, end)) and self._name_words(m.group("word")):
            words.append(m.group("word"))
            end = m.end()
        return end, words

    def _name_words(self, name: str) -> list[str]:
        """The words of a candidate name up to the first that cannot be part of one."""
        words = []
        for word in name.split():
            folded = word.casefold()
            if folded in ROLE_WORDS or folded in self.keep or folded in self.stop or (len(word) > 1 and word.isupper()):
                break  # an office, an institution, a common word or an acronym (SMK, RT) ends the name
            words.append(word)
        return words

    def canonical(self, name: str) -> str:
        """A name as the store knows it: ``Budi`` is ``Budi Santoso`` when only one known
        person has that first or last name; ``Sari Anggraini`` is ``Sari`` (the speaker
        ``Bu Sari``) when ``Sari`` is the only known one-word person it starts or ends with,
        so that one informant never gets two pseudonyms, one by label and one by full name."""
        name = " ".join(name.split())
        if name in self.persons:
            return name
        words = name.split()
        if len(words) > 1:
            matches = [p for p in self.persons if " " not in p and p in (words[0], words[-1])]
            if len(matches) != 1:
                return name
            if self.aliases.get(name) != matches[0]:  # its words are that person's in file names too
                self.aliases[name] = matches[0]
                self._tokens = None
            return matches[0]
        matches = [p for p in self.persons if name in (p.split()[0], p.split()[-1])]
        return matches[0] if len(matches) == 1 else name

    def _known_pattern(self) -> re.Pattern | None:
        """Known persons wherever they stand; the first or last name of a longer one only
        after an honorific ("Pak Budi" for Budi Santoso: "Budi" alone may be anyone, and a
        group's name taken for a person's must not spread to its words)."""
        if self._known is None:
            parts = set()
            for person in self.persons:
                words = person.split()
                if len(words) > 1:
                    parts.update(w for w in (words[0], words[-1]) if len(w) > 2 and w.casefold() not in self.keep
                                 and w.casefold() not in self.stop and w.casefold() not in ROLE_WORDS)
            spaced = lambda names: "|".join(re.escape(p).replace(r"\ ", r"[ \t]+")  # noqa: E731
                                            for p in sorted(names, key=len, reverse=True))
            alternatives = [rf"(?:{_HONORIFICS}[ \t]+)?(?P<name>{spaced(self.persons)})"] if self.persons else []
            alternatives += [rf"{_HONORIFICS}[ \t]+(?P<part>{spaced(parts - set(self.persons))})"] if parts - set(self.persons) else []
            self._known = re.compile(rf"(?<![\w])(?:{'|'.join(alternatives)})(?![\w])") if alternatives else False
        return self._known or None

    # -- replacing --------------------------------------------------------------------
    def replace(self, text: str) -> tuple[str, OffsetMap]:
        """``text`` with every identifier replaced, and the map of its offsets."""
        parts, spans, at = [], [], 0
        for found in self.find(text):
            pseudonym = self.pseudonym(found.kind, found.value)
            parts += [text[at:found.start], pseudonym]
            spans.append((found.start, found.end, len(pseudonym)))
            at = found.end
        parts.append(text[at:])
        return "".join(parts), OffsetMap(spans)

    def text(self, value: object) -> object:
        """A text with its identifiers replaced (anything not a string as it is)."""
        return self.replace(value)[0] if isinstance(value, str) and value else value

    def speaker(self, label: object) -> object:
        """A speaker label: its person's pseudonym, a role label as it is."""
        value = self._speaker_value(label)
        return self.pseudonym("person", self.canonical(value)) if value else label

    def tokens(self, value: object, joiner: str = " ") -> object:
        """Known names in text that is not prose — a file path, evidence words, top terms
        — matched without regard to case (``04_umkm_nadia.txt`` → ``04_umkm_Informan_3.txt``),
        then the text rules."""
        if not isinstance(value, str) or not value:
            return value
        return self.text(self._known_tokens(value, joiner))

    def path(self, value: object) -> object:
        """A file name or path: what :meth:`text` finds in it with ``_`` read as a space
        (``wawancara_Budi_Santoso_081234567890.txt``: the name with its surname, the phone),
        then known names in any case (:meth:`tokens`); pseudonyms joined by ``_``."""
        if not isinstance(value, str) or not value:
            return value
        spaced = value.replace("_", " ")  # the same length: what is found in it is found in value
        parts, at = [], 0
        for found in self.find(spaced):
            parts += [value[at:found.start], self.pseudonym(found.kind, found.value).replace(" ", "_")]
            at = found.end
        parts.append(value[at:])
        return self._known_tokens("".join(parts), joiner="_")

    def _known_tokens(self, value: str, joiner: str) -> str:
        pattern = self._token_pattern()
        if pattern is None:
            return value
        return pattern.sub(lambda m: self.pseudonym("person", self._lookup(m.group())).replace(" ", joiner), value)

    def _lookup(self, written: str) -> str:
        words = re.findall(r"[^\W\d_]+", written.casefold())
        for alias, person in self.aliases.items():
            if re.findall(r"[^\W\d_]+", alias.casefold()) == words or written.casefold() in alias.casefold().split():
                return person
        for person in self.persons:
            if re.findall(r"[^\W\d_]+", person.casefold()) == words:
                return person
        return self.canonical(next(p for p in self.persons if written.casefold() in
                                    [w.casefold() for w in p.split()]))

    def _token_pattern(self) -> re.Pattern | None:
        if self._tokens is None:
            self._tokens = self._build_token_pattern() or False
        return self._tokens or None

    def _build_token_pattern(self) -> re.Pattern | None:
        alternatives = set()
        for person in [*self.persons, *self.aliases]:
            words = re.findall(r"[^\W\d_]+", person)
            alternatives.add(r"[\W_]+".join(map(re.escape, words)))
            alternatives.update(re.escape(w) for w in words if len(w) > 2 and w.casefold() not in self.keep
                                and w.casefold() not in self.stop and w.casefold() not in ROLE_WORDS)
        alternatives.discard("")
        if not alternatives:
            return None
        joined = "|".join(sorted(alternatives, key=len, reverse=True))
        return re.compile(rf"(?<![^\W_])(?:{joined})(?![^\W_])", re.IGNORECASE)

    def metadata(self, value: object) -> object:
        """A document's metadata (JSON text or dict): paths by :meth:`path`, REFI ids,
        dates and languages as they are, every other text by :meth:`text`."""
        if isinstance(value, str):
            try:
                loaded = json.loads(value)
            except ValueError:
                return self.text(value)
            return json.dumps(self.metadata(loaded), ensure_ascii=False)
        if isinstance(value, dict):
            return {key: value[key] if key.startswith("refi_") or key in ("date", "language", "lang")
                    else self.path(value[key]) if key in ("file", "id", "path") else self.metadata(value[key])
                    for key in value}
        if isinstance(value, list):
            return [self.metadata(v) for v in value]
        return self.text(value)

    def json(self, value: object) -> object:
        """A JSON-like value (``run.json``) with every text and key pseudonymised; text that
        looks like a path is taken as one."""
        if isinstance(value, dict):
            return {self.json(k): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, str):
            return self.path(value) if _PATH_LIKE.search(value) else self.text(value)
        return value

    def frame(self, frame: pd.DataFrame, texts: Sequence[str] = (), speakers: Sequence[str] = (),
              paths: Sequence[str] = (), tokens: Sequence[str] = (), metadata: Sequence[str] = ()) -> pd.DataFrame:
        """A copy of ``frame`` with these columns pseudonymised (absent columns skipped)."""
        out = frame.copy()
        for columns, how in ((speakers, self.speaker), (texts, self.text), (paths, self.path),
                             (tokens, self.tokens), (metadata, self.metadata)):
            for column in columns:
                if column in out.columns:
                    out[column] = [how(v) for v in out[column]]
        return out

    def restore(self, text: str) -> str:
        """Pseudonyms in ``text`` (a co-coder's comment) back to the real values, for the
        store: the inverse of the mapping, longest pseudonym first."""
        if not text or not self.pseudonyms:
            return text
        reverse = {p: v for (_, v), p in self.pseudonyms.items()}
        pattern = re.compile("|".join(rf"(?<![\w\[]){re.escape(p)}(?![\w\]])" if p[0] != "[" else re.escape(p)
                                      for p in sorted(reverse, key=len, reverse=True)))
        return pattern.sub(lambda m: reverse[m.group()], text)


_PATH_LIKE = re.compile(r"[/\\]|\.[A-Za-z0-9]{2,5}$")


def _letters(n: int) -> str:
    """0 → A, 25 → Z, 26 → AA (spreadsheet column names)."""
    label = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        label = chr(65 + rest) + label
    return label


class PseudonymisedStore:
    """What the exporters read instead of the store under ``--pseudonymize``: the same
    frames (``documents_frame``, ``segments_frame``, ``suggestions_frame``,
    ``decisions_frame``, ``codings_frame``), ``segment_texts`` and ``suggestion_counts``, with every text, speaker, path, document id and
    metadata value pseudonymised.

    Each document's current text is rewritten once, with its :class:`OffsetMap`; segment and
    coding offsets of that version go through the map and their text is cut from the
    rewritten document, so ``text == document.text[start:end]`` holds in the view as in the
    store, and a REFI selection covers the same passage. Document ids are pseudonymised
    paths; methods taking ``document_ids`` take the view's ids.

    Only the methods the exporters use are here: a new reader gets an ``AttributeError``,
    never the store's real text.
    """

    def __init__(self, store: Store, pseudonymizer: Pseudonymizer):
        self._store, self.path, self.pseudonymizer = store, store.path, pseudonymizer  # the store stays private
        p = pseudonymizer
        documents = store.documents_frame()
        segments = store.segments_frame()
        p.add_speakers(dict.fromkeys(s for s in segments["speaker"] if isinstance(s, str)))
        for row in documents.itertuples(index=False):  # learn every name before any text is rewritten
            p.replace(row.text)
            p.metadata(row.metadata)
        self._documents = {}
        for row in documents.itertuples(index=False):
            text, offsets = p.replace(row.text)
            self._documents[row.document_id] = (row.version, text, offsets)
        self._ids = {raw: p.path(raw) for raw in documents["document_id"]}
        self._raw = {shown: raw for raw, shown in self._ids.items()}
        self._segments = {}
        for row in segments.itertuples(index=False):
            self._segments[row.segment_id] = self._span(row.document_id, row.version, row.segment_start,
                                                        row.segment_end, row.segment_text)

    def document_id(self, raw: str) -> str:
        """The view's id of a document of the store."""
        return self._ids.get(raw) or self.pseudonymizer.path(raw)

    def unmasked(self) -> Store:
        """The store behind the view (``ProjectView.unmasked``): for the readers that
        pseudonymise what they take from it with ``pseudonymizer`` themselves."""
        return self._store

    def setting(self, key: str) -> str | None:
        return self._store.setting(key)

    def document_paths(self, document_ids: list[str] | None = None) -> dict[str, str]:
        paths = self._store.document_paths(self._raw_ids(document_ids))
        return {self.document_id(raw): self.pseudonymizer.path(path) for raw, path in paths.items()}

    def _span(self, document_id: str, version: str, start: int, end: int, text: str) -> tuple[int, int, str]:
        current = self._documents.get(document_id)
        if current is None or current[0] != version:  # an older version of the text: its offsets stay
            return int(start), int(end), self.pseudonymizer.text(text)
        _, rewritten, offsets = current
        start, end = offsets.start(int(start)), offsets.end(int(end))
        return start, end, rewritten[start:end]

    def _raw_ids(self, document_ids: list[str] | None) -> list[str] | None:
        return None if document_ids is None else [self._raw.get(d, d) for d in document_ids]

    def _places(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Segment offsets and text of the view, by segment id."""
        spans = [self._segments.get(s) or (a, b, self.pseudonymizer.text(t)) for s, a, b, t in
                 zip(frame["segment_id"], frame["segment_start"], frame["segment_end"], frame["segment_text"])]
        if spans:
            frame["segment_start"], frame["segment_end"], frame["segment_text"] = map(list, zip(*spans))
        return frame

    def _common(self, frame: pd.DataFrame, paths: Sequence[str] = (), **columns) -> pd.DataFrame:
        frame = self.pseudonymizer.frame(frame, speakers=("speaker",), paths=("document", *paths),
                                         metadata=("metadata",), **columns)
        if "document_id" in frame.columns:
            frame["document_id"] = [self.document_id(d) for d in frame["document_id"]]
        return frame

    def documents_frame(self) -> pd.DataFrame:
        frame = self._store.documents_frame()
        frame["text"] = [self._documents[d][1] for d in frame["document_id"]]
        return self._common(frame, paths=("path",))

    def segments_frame(self, document_ids: list[str] | None = None, active: bool = True) -> pd.DataFrame:
        frame = self._store.segments_frame(self._raw_ids(document_ids), active)
        spans = [self._span(*row) for row in zip(frame["document_id"], frame["version"], frame["segment_start"],
                                                  frame["segment_end"], frame["segment_text"])]
        if spans:
            frame["segment_start"], frame["segment_end"], frame["segment_text"] = map(list, zip(*spans))
        return self._common(frame)

    def segment_texts(self, segment_ids: Sequence[str]) -> dict[str, tuple[str, bool]]:
        """``{segment_id: (text, active)}`` as ``segments_frame`` shows the texts."""
        return {key: (self._segments[key][2] if key in self._segments else self.pseudonymizer.text(text), active)
                for key, (text, active) in self._store.segment_texts(segment_ids).items()}

    def record_counts(self) -> dict[str, int]:
        return self._store.record_counts()  # counts name no one

    def memos_frame(self) -> pd.DataFrame:
        """The workspace's memos in force, their text pseudonymised and a document memo's
        document named as the view names it."""
        frame = self._store.memos_frame()
        frame["text"] = [self.pseudonymizer.text(t) for t in frame["text"]]
        frame["author"] = [self.pseudonymizer.text(a) for a in frame["author"]]
        frame["target_id"] = [self.document_id(t) if k == "document" else t
                              for k, t in zip(frame["target"], frame["target_id"])]
        return frame

    def suggestion_counts(self, pending: bool = False) -> dict[str, int]:
        return self._store.suggestion_counts(pending)  # codes name no one

    def carried_segments(self) -> dict[str, str]:
        return self._store.carried_segments()  # segment ids name no one

    def suggestions_frame(self, document_ids: list[str] | None = None, pending: bool = False,
                          reviewer: str | None = None, places: bool = True) -> pd.DataFrame:
        frame = self._store.suggestions_frame(self._raw_ids(document_ids), pending, reviewer, places)
        return self._common(self._places(frame) if places else frame, tokens=("evidence",))

    def decisions_frame(self, in_force: bool = True, reviewer: str | None = None) -> pd.DataFrame:
        frame = self._store.decisions_frame(in_force, reviewer)
        current = [self._segments.get(s) for s in frame["segment_id"]]
        frame["segment_start"] = [c[0] if c else s for c, s in zip(current, frame["segment_start"])]
        frame["segment_end"] = [c[1] if c else e for c, e in zip(current, frame["segment_end"])]
        return self._common(frame, texts=("segment_text", "comment"), tokens=("seen_evidence",))

    def codings_frame(self, current: bool = True) -> pd.DataFrame:
        frame = self._store.codings_frame(current)
        spans = [self._span(*row) for row in zip(frame["document_id"], frame["version"], frame["start"],
                                                  frame["end"], frame["text"])]
        if spans:
            frame["start"], frame["end"], frame["text"] = map(list, zip(*spans))
        return self._common(frame)


def codebook_words(codebook) -> list[str]:
    """The words of a codebook's labels, definitions, notes and keywords: never a name."""
    words = []
    for code in codebook.codes.values():
        words += [*code.label.values(), code.definition, code.include, code.exclude]
        words += [k for keywords in code.keywords.values() for k in keywords]
    words += [label for labels in codebook.factor_types.values() for label in labels.values()]
    return words


def pseudonymizer_for(store: Store, config, codebook, names: Path | None = None,
                      keep_codebook: bool = True) -> Pseudonymizer:
    """The project's pseudonymizer: the names file (``names``, else ``[privacy] names``;
    the shipped example holds none), the codebook's (unless not ``keep_codebook``) and
    ``[privacy] keep``'s words kept, the speaker labels of the researcher's own turns
    (``Segment.role``) left as they are."""
    settings = config.section("privacy")
    path = names or Path(settings["names"])
    return Pseudonymizer(store, read_names(path) if names or path.is_file() else [],
                         keep=[*(codebook_words(codebook) if keep_codebook else []), *settings["keep"]],
                         exempt_speakers=store.researcher_speakers())


def codebook_identifiers(codebook, pseudonymizer: Pseudonymizer) -> list[str]:
    """Where a codebook names a person (known, or by the name rules) or holds an e-mail,
    phone, NIK or address: ``code 'x' label (id): 'Budi Santoso' (person)`` per finding.
    A code id is read as a file name is (``bantuan_budi`` as ``bantuan budi``)."""
    found = []
    pseudonymizer.add_speakers(pseudonymizer.store.speakers())
    for code in codebook.codes.values():
        fields = {"id": code.id.replace("_", " "), "label (id)": code.label.get("id", ""),
                  "label (en)": code.label.get("en", ""), "definition": code.definition, "include": code.include,
                  "exclude": code.exclude, **{f"keywords ({lang})": "; ".join(words)
                                              for lang, words in code.keywords.items()}}
        for field, text in fields.items():
            for hit in pseudonymizer.find(str(text or "")):
                found.append(f"code {code.id!r} {field}: {text[hit.start:hit.end]!r} ({hit.kind})")
    for factor_type, labels in codebook.factor_types.items():
        for lang, text in labels.items():
            for hit in pseudonymizer.find(str(text or "")):
                found.append(f"factor type {factor_type!r} label ({lang}): {text[hit.start:hit.end]!r} ({hit.kind})")
    return found


def check_codebook(store: Store, config, codebook, names: Path | None = None) -> None:
    """Refuse to pseudonymise exports whose codebook names someone: a codebook goes out whole
    (code names in the sheets, the qdpx, the report's charts), and its words are kept from
    pseudonymisation, so a name in it would leave as written and stay in the texts too.

    Raises
    ------
    InputError
        Naming the codebook file and each code and field that holds an identifier.
    """
    found = codebook_identifiers(codebook, pseudonymizer_for(store, config, codebook, names, keep_codebook=False))
    if found:
        raise InputError(codebook.source, f"--pseudonymize would export {len(found)} identifier(s) of the codebook as "
                                          f"written: {'; '.join(found[:10])}{' …' if len(found) > 10 else ''}; "
                                          "reword these codes (a codebook names topics, not people), then export again")


def pseudonymised(store: Store, config, codebook, names: Path | None = None) -> PseudonymisedStore:
    """The store as pseudonymised exports read it (see :class:`PseudonymisedStore`); a
    codebook that names someone is refused (:func:`check_codebook`)."""
    check_codebook(store, config, codebook, names)
    return PseudonymisedStore(store, pseudonymizer_for(store, config, codebook, names))


def wanted(config, flag: bool | None) -> bool:
    """Whether to pseudonymise: the command line's ``--pseudonymize/--no-pseudonymize``,
    else ``[privacy] pseudonymize``."""
    return bool(config.section("privacy")["pseudonymize"]) if flag is None else flag


def privacy_report(store: Store) -> dict:
    """For the researcher's eyes only: what pseudonymised exports replace, by kind (values
    and pseudonyms), and how often each stands in the current documents."""
    frame = store.pseudonyms_frame()
    p = Pseudonymizer(store)
    counts: dict[tuple[str, str], int] = {}
    for text in store.documents_frame()["text"]:
        for found in p.find(text):
            key = (found.kind, p.canonical(found.value) if found.kind == "person" else found.value)
            counts[key] = counts.get(key, 0) + 1
    rows = [{"kind": k, "value": v, "pseudonym": ps, "occurrences": counts.get((k, v), 0), "created_at": c}
            for k, v, ps, c in frame.itertuples(index=False)]
    return {"by_kind": {kind: {"values": sum(1 for r in rows if r["kind"] == kind),
                               "occurrences": sum(r["occurrences"] for r in rows if r["kind"] == kind)}
                        for kind in KINDS},
            "pseudonyms": rows}


def pseudonymize_candidates(candidates: pd.DataFrame, store: Store, config, codebook,
                            names: Path | None = None) -> pd.DataFrame:
    """Candidate codes (``pipeline.discover``) as a pseudonymised export shows them: the
    exemplars' text, the labels' and top terms' words, the exemplars' documents."""
    p = pseudonymised(store, config, codebook, names).pseudonymizer
    out = p.frame(candidates, texts=("exemplar_1", "exemplar_2", "exemplar_3"), tokens=("label", "top_terms"),
                  paths=("exemplar_sources",))
    out.attrs = dict(candidates.attrs)
    return out
