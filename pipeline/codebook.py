"""The codebook: hierarchical codes with bilingual labels and keywords, and the factor frame.

A codebook is a YAML file (see ``configs/codebook.yaml``). Loading validates the whole file
and reports every problem at once, each with its location.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.records import DIRECTIONS

LANGUAGES = ("id", "en")
LEMMA_PREFIX = "lemma:"  # a keyword written "lemma:latih" also matches words whose lemma is "latih"
# The keys each part of a codebook may have: any other key is reported (a misspelt
# `keyword:` would otherwise leave its code without keywords, silently).
KEYS = {
    "codebook": ("name", "version", "description", "factor", "codes"),
    "factor": ("directions", "negators", "types"),
    "direction": ("label", "cues"),
    "type": ("id", "label", "description"),
    "code": ("id", "label", "definition", "include", "exclude", "factor_type", "keywords", "lemmas",
             "children", "codable", "examples",
             # kept for the REFI-QDA exchange (pipeline.refi.codebook): a code brought in from
             # another tool goes back with its own name, GUID, colour and description
             "refi_name", "refi_guid", "refi_plain", "color"),
}


@dataclass(frozen=True)
class Code:
    """One code. ``keywords`` maps a language to words or phrases ("latih*" = prefix,
    "lemma:latih" = also through lemmas); ``lemmas``: every keyword also matches lemmas."""

    id: str
    label: dict[str, str]
    definition: str = ""
    include: str = ""
    exclude: str = ""
    factor_type: str | None = None
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    parent: str | None = None
    codable: bool = True
    lemmas: bool = False
    # short quotes that the code fits, in any language: matched by meaning when an encoder
    # is on (``pipeline.suggest.semantic``), without any training run
    examples: tuple[str, ...] = ()

    def label_in(self, language: str) -> str:
        """Label in the segment's language: English for ``en``, Indonesian otherwise."""
        return self.label["en"] if language == "en" else self.label["id"]


@dataclass(frozen=True)
class Codebook:
    """Validated codebook. ``codes`` keeps file order, parents before children."""

    name: str
    version: str
    codes: dict[str, Code]
    factor_types: dict[str, dict[str, str]]
    direction_labels: dict[str, dict[str, str]]
    cues: dict[str, dict[str, tuple[str, ...]]]
    negators: dict[str, tuple[str, ...]]
    hash: str
    source: str
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def model_key(self) -> str:
        """What a trained model depends on, hashed: the codable code ids (a model has one
        column per code, in this order) and the factor directions (its direction classes).

        Wording is left out on purpose: labels, definitions and examples are read from the
        codebook in use when suggesting (the codebook by meaning), and keywords and cues
        feed features named by code and direction, so a model still means what it meant
        when a definition is reworded or a label quoted. Editing them sets no model aside;
        adding, removing or renaming a code does (:meth:`pipeline.project.Project.model`)."""
        parts = {"codes": [code.id for code in self.codable()], "directions": sorted(self.direction_labels)}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def codable(self) -> list[Code]:
        """The codes a segment can receive (folders excluded)."""
        return [code for code in self.codes.values() if code.codable]

    def path_of(self, code_id: str) -> list[str]:
        """Ids from the root folder down to ``code_id``."""
        path = [code_id]
        while (parent := self.codes[path[0]].parent) is not None:
            path.insert(0, parent)
        return path


# libyaml's safe loader where PyYAML was built with it (6 ms for the sample codebook, 36 ms in Python)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_codebook(path: str | Path) -> Codebook:
    """Read and validate a YAML codebook.

    Raises
    ------
    ConfigError
        Listing every problem found, each with its location in the file.
    """
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except FileNotFoundError:
        raise ConfigError(path, ["codebook file not found"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, [f"not valid YAML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8 text (byte {exc.start}); save it as UTF-8"]) from None
    return parse_codebook(raw, source=str(path))


def parse_codebook(raw: object, source: str = "<codebook>") -> Codebook:
    """Validate codebook data already parsed from YAML or JSON (see ``load_codebook``)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(source, ["the codebook must be a mapping with 'codes' and 'factor'"])
    _check_keys(raw, "codebook", "top level", problems)
    factor = raw.get("factor") or {}
    if not isinstance(factor, dict):
        problems.append("factor: must be a mapping with 'directions', 'negators' and 'types'")
        factor = {}
    _check_keys(factor, "factor", "factor", problems)
    factor_types = _parse_factor_types(factor.get("types"), problems)
    direction_labels, cues = _parse_directions(factor.get("directions"), problems)
    negators = _parse_lang_words(factor.get("negators") or {}, "factor.negators", problems)
    codes: dict[str, Code] = {}
    raw_codes = raw.get("codes")
    if not isinstance(raw_codes, list) or not raw_codes:
        problems.append("codes: must be a non-empty list")
    else:
        for index, item in enumerate(raw_codes):
            _parse_code(item, f"codes[{index}]", None, factor_types, codes, problems)
    if codes and not any(code.codable for code in codes.values()):
        problems.append("codes: no codable code (every code is a folder)")
    _check_characters(raw, "", problems)
    if problems:
        raise ConfigError(source, problems)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
    return Codebook(
        name=str(raw.get("name", "")),
        version=str(raw.get("version", "")),
        codes=codes,
        factor_types=factor_types,
        direction_labels=direction_labels,
        cues=cues,
        negators=negators,
        hash=digest,
        source=source,
        raw=raw,
    )


def _parse_factor_types(raw: object, problems: list[str]) -> dict[str, dict[str, str]]:
    types: dict[str, dict[str, str]] = {}
    if not isinstance(raw, list) or not raw:
        problems.append("factor.types: must be a non-empty list of {id, label}")
        return types
    for index, item in enumerate(raw):
        where = f"factor.types[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            problems.append(f"{where}: needs an 'id' (text)")
            continue
        _check_keys(item, "type", f"{where} ({item['id']})", problems)
        if item["id"] in types:
            problems.append(f"{where}: duplicate factor type id {item['id']!r}")
        types[item["id"]] = _parse_label(item.get("label"), f"{where} ({item['id']})", problems)
    return types


def _parse_directions(raw: object, problems: list[str]):
    labels: dict[str, dict[str, str]] = {}
    cues: dict[str, dict[str, tuple[str, ...]]] = {}
    if not isinstance(raw, dict):
        problems.append(f"factor.directions: must map each of {', '.join(DIRECTIONS)}")
        return labels, cues
    for name in raw:
        if name not in DIRECTIONS:
            problems.append(
                f"factor.directions.{name}: unknown direction; expected {', '.join(DIRECTIONS)}"
            )
    for name in DIRECTIONS:
        entry = raw.get(name)
        where = f"factor.directions.{name}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: missing (needs a label)")
            continue
        _check_keys(entry, "direction", where, problems)
        labels[name] = _parse_label(entry.get("label"), where, problems)
        cues[name] = _parse_lang_words(entry.get("cues") or {}, f"{where}.cues", problems)
    return labels, cues


def _parse_code(item, where, parent, factor_types, codes, problems) -> None:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a mapping")
        return
    code_id = item.get("id")
    if not isinstance(code_id, str) or not code_id.strip():
        problems.append(f"{where}: needs an 'id' (text)")
        return
    where = f"{where} ({code_id})"
    _check_keys(item, "code", where, problems)
    if not isinstance(item.get("lemmas", False), bool):
        problems.append(f"{where}.lemmas: must be true or false")
    if ";" in code_id or "=" in code_id:
        problems.append(f"{where}: id may not contain ';' or '='")
    if code_id in codes:
        problems.append(f"{where}: duplicate code id {code_id!r}")
    children = item.get("children") or []
    codable = bool(item.get("codable", not children))
    factor_type = item.get("factor_type")
    if codable and factor_type is None:
        problems.append(f"{where}: a codable code needs a 'factor_type'")
    elif factor_type is not None and factor_type not in factor_types:
        problems.append(
            f"{where}: factor_type {factor_type!r} is not in factor.types "
            f"({', '.join(factor_types)})"
        )
    codes[code_id] = Code(
        id=code_id,
        label=_parse_label(item.get("label"), where, problems),
        definition=str(item.get("definition", "")),
        include=str(item.get("include", "")),
        exclude=str(item.get("exclude", "")),
        factor_type=factor_type,
        keywords=_parse_lang_words(item.get("keywords") or {}, f"{where}.keywords", problems),
        parent=parent,
        codable=codable,
        lemmas=item.get("lemmas") is True,
        examples=_parse_examples(item.get("examples"), where, problems),
    )
    if not isinstance(children, list):
        problems.append(f"{where}.children: must be a list")
        return
    for index, child in enumerate(children):
        _parse_code(child, f"{where}.children[{index}]", code_id, factor_types, codes, problems)


def _parse_examples(raw: object, where: str, problems: list[str]) -> tuple[str, ...]:
    """A code's ``examples:``: a list of non-empty quotes (absent: none)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(q, str) and q.strip() for q in raw):
        problems.append(f"{where}.examples: must be a list of non-empty quotes")
        return ()
    return tuple(q.strip() for q in raw)


def _check_characters(raw: object, where: str, problems: list[str]) -> None:
    """Report every text of the codebook holding a control character (tab and line break
    aside): no exporter (xlsx, qdpx, docx, the report's charts) can write one."""
    from pipeline.outputs import CONTROL_CHARACTERS

    if isinstance(raw, str):
        found = CONTROL_CHARACTERS.search(raw)
        if found:
            problems.append(f"{where or 'top level'}: {raw[:40]!r} holds the control character "
                            f"U+{ord(found.group()):04X}; remove it")
    elif isinstance(raw, dict):
        for key, value in raw.items():
            _check_characters(key, where or "top level", problems)
            _check_characters(value, f"{where}.{key}" if where else str(key), problems)
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            _check_characters(value, f"{where}[{index}]", problems)


def _check_keys(item: dict, kind: str, where: str, problems: list[str]) -> None:
    """Report every key of ``item`` that a ``kind`` entry does not have."""
    for key in item:
        if key not in KEYS[kind]:
            problems.append(f"{where}: unknown key {key!r}; expected one of {', '.join(KEYS[kind])}")


def _parse_label(raw: object, where: str, problems: list[str]) -> dict[str, str]:
    raw = raw if isinstance(raw, dict) else {}
    unknown = [key for key in raw if key not in LANGUAGES]
    if unknown:
        problems.append(f"{where}.label: unknown key(s) {', '.join(repr(str(k)) for k in unknown)}; "
                        f"expected {' and '.join(LANGUAGES)}" + _comma_hint(raw))
    missing = [lang for lang in LANGUAGES if not isinstance(raw.get(lang), str)]
    if missing:
        problems.append(
            f"{where}: needs a label in both languages, e.g. {{id: ..., en: ...}} "
            f"(missing: {', '.join(missing)})"
        )
    return {lang: str(raw.get(lang, "")) for lang in LANGUAGES}


def _comma_hint(raw: dict) -> str:
    """What a label cut by an unquoted comma meant: YAML reads ``{id: Regulasi, perizinan,
    en: Rules}`` as the label ``Regulasi`` and an empty key ``perizinan``.

    Examples
    --------
    >>> _comma_hint({"id": "Regulasi", "perizinan dan sertifikasi": None, "en": "Regulation"})
    ': a comma in an unquoted label ends it; quote the label: {id: "Regulasi, perizinan dan sertifikasi", en: "Regulation"}'
    """
    texts: dict[str, str] = {}
    current = None
    for key, value in raw.items():
        if key in LANGUAGES:
            current = key
            texts[key] = "" if value is None else str(value)
        elif value is None and current is not None:
            texts[current] += f", {key}"
        else:
            return ""
    if not any(key not in LANGUAGES for key in raw) or current is None:
        return ""
    shown = ", ".join(f'{lang}: "{texts[lang]}"' for lang in LANGUAGES if lang in texts)
    return f": a comma in an unquoted label ends it; quote the label: {{{shown}}}"


def _parse_lang_words(raw: object, where: str, problems: list[str]) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must map a language (id, en) to a list of words")
        return {}
    words: dict[str, tuple[str, ...]] = {}
    for lang, items in raw.items():
        if lang not in LANGUAGES:
            problems.append(f"{where}.{lang}: unknown language; expected one of {LANGUAGES}")
            continue
        if not isinstance(items, list) or not all(isinstance(w, str) and w.strip() for w in items):
            problems.append(f"{where}.{lang}: must be a list of non-empty words or phrases")
            continue
        words[lang] = tuple(w.strip().lower() for w in items)
        for word in words[lang]:
            if word.startswith(LEMMA_PREFIX) and not word[len(LEMMA_PREFIX):].strip():
                problems.append(f"{where}.{lang}: {word!r} names no word after {LEMMA_PREFIX!r}")
    return words


def codebook_for_codes(code_ids: list[str], frame: Codebook, source: str = "<labels>") -> Codebook:
    """A flat codebook of ``code_ids`` (labels = ids, factor type ``unspecified``) that
    borrows the direction cues and negators of ``frame``: for labelled tables trained
    without a codebook of their own.

    Each code's keywords are the words of its id that tell it from the other codes
    (``air_panas`` → *air*, *panas*; ``wifi`` → *wifi*), as a text search on the code's
    name would find it: the rules then have something to suggest before the model has
    examples, and the model learns how far to trust them. Left out: words of one letter,
    numbers, function words (*the*, *of*, *does*, *not*, *yang*) and a word that names
    more than one of the codes (*customer* in ``lack_of_customer_involvement`` and
    ``customer_dissatisfaction``), which cannot say which of them a segment is about; a
    code left with no word keeps those of its words that are not function words.

    NaPiRE 2018's code names made keywords of every word: its keyword rules alone were
    3 % precise on the test respondents (``bench/zero_shot.py``), and at 25-50 coded
    answers those rules were most of Pilah's wrong suggestions."""
    from pipeline.vocabulary import FUNCTION_WORDS  # spaCy's word lists, only when needed

    named = {c: _name_words(c) for c in code_ids}
    words = {c: [w for w in found if w not in FUNCTION_WORDS] or found for c, found in named.items()}
    naming = Counter(w for found in words.values() for w in found)
    keywords = {c: [w for w in found if naming[w] == 1] or found for c, found in words.items()}
    factor = dict(frame.raw.get("factor", {}))
    factor["types"] = [{"id": "unspecified", "label": {"id": "Belum ditentukan", "en": "Unspecified"}}]
    raw = {
        "name": f"codes of {source}",
        "factor": factor,
        "codes": [{"id": c, "label": {"id": c, "en": c}, "factor_type": "unspecified",
                   "keywords": dict.fromkeys(("id", "en"), keywords[c])} for c in code_ids],
    }
    return parse_codebook(raw, source=source)


def _name_words(code_id: str) -> list[str]:
    """The words of a code id: ``"air_panas"`` → ``["air", "panas"]``."""
    words = re.findall(r"[^\W\d_]{2,}", code_id.lower())
    return list(dict.fromkeys(words))
