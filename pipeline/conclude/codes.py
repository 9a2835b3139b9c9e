"""Code work: rename, merge, split and adopt codes, with the project's codings following.

What the analyst decided is never rewritten. Each operation

- writes the project's codebook anew (validated first; the previous file is kept in
  ``.pilah/codebooks/``, with a time stamp);
- appends a row to the store's ``code_history``;
- **rename** and **merge** record which old code reads as which new one (``code_map``):
  every coding, decision and suggestion stored with an old code is read, exported
  (review sheet, report, REFI-QDA) and trained on under its new code, and a suggestion of
  the new code on a segment an analyst decided under the old one is not pending again;
- **split** ``A --into B,C`` adds B and C beside A and puts each segment coded A up for
  review under B and under C (suggestions of source ``split``, pending in the review sheet
  and the workspace); A's codings stay A's until the analyst decides;
- **adopt** turns a ``pilah discover`` candidate into a code with its label, top words
  as keywords and exemplars as examples, and puts the candidate's segments up for review
  under it (suggestions of source ``adopt``).

The model in use was trained on the codes as they were: until ``pilah retrain`` (or
``--retrain``), the new and renamed codes are suggested by the codebook's rules.
"""

from __future__ import annotations

import copy
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from pipeline.codebook import Codebook, parse_codebook
from pipeline.errors import InputError, PilahError
from pipeline.outputs import one_line, writable_text
from pipeline.records import Suggestion
from pipeline.store import ADOPT_SOURCE, SPLIT_SOURCE

BACKUP_DIR = "codebooks"
# an id: no ";" or "=" (they separate codes and directions in sheets), no control character or
# line break (every exporter must write it), no space at either end
_ID = re.compile(r"^[^;=\s\x00-\x1f\x7f-\x9f](?:[^;=\x00-\x1f\x7f-\x9f]*[^;=\s\x00-\x1f\x7f-\x9f])?$")


class CodeWorkError(PilahError):
    """Code work that cannot be done as asked: names the code and why."""


def _entries(raw: dict) -> dict[str, tuple[list, dict]]:
    """``{code id: (the list holding its entry, the entry)}`` over the whole tree."""
    found = {}

    def walk(items):
        for item in items or []:
            if isinstance(item, dict):
                found[str(item.get("id"))] = (items, item)
                walk(item.get("children"))

    walk(raw.get("codes"))
    return found


def _check_new_id(code: str, entries: dict) -> None:
    if not _ID.match(code or ""):
        raise CodeWorkError(f"code id {code!r}: write it without ';', '=', control characters, line breaks "
                            "or spaces at either end")
    if code in entries:
        raise CodeWorkError(f"code {code!r} is in the codebook already; choose another id")


def _check_not_retired(store, code: str, back_from: tuple[str, ...] = ()) -> None:
    """Refuse a new code whose id an earlier rename or merge retired: the codings stored with
    that id read as the code it became, and new ones could not be told apart from them. A
    code renamed back (``back_from`` holds the code it became) is allowed."""
    became = store.code_map().get(code)
    if became is not None and became not in back_from:
        raise CodeWorkError(f"code id {code!r} was renamed or merged into {became!r} before, and the codings "
                            f"stored under it read as {became!r}; choose another id")


def _known(code: str, entries: dict) -> dict:
    if code not in entries:
        raise CodeWorkError(f"no code {code!r} in the codebook; codes: {', '.join(entries)}")
    return entries[code][1]


def write_codebook(raw: dict, codebook: Codebook, root: Path, action: str) -> Codebook:
    """Validate ``raw`` and write it over the project's codebook file, the previous file
    kept in ``.pilah/codebooks/`` first. Returns the new codebook."""
    from pipeline.outputs import write_text
    from pipeline.store import STORE_DIR

    path = Path(codebook.source)
    try:
        path.resolve().relative_to(Path(root).resolve())
    except ValueError:
        raise CodeWorkError(f"{path}: the codebook lies outside the project folder {root} (shared, or Pilah's own); "
                            "give the project its own copy first (`pilah init` makes one, or copy it and name it "
                            "in pilah.toml under [suggest] codebook)") from None
    new = parse_codebook(raw, source=str(path))  # raises ConfigError listing every problem
    if path.exists():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        backup = Path(root) / STORE_DIR / BACKUP_DIR / f"{path.stem}-{stamp}{path.suffix}"
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, backup)
    header = (f"# Pilah codebook, written by `pilah codes {action}`; the file before it is in "
              f"{STORE_DIR}/{BACKUP_DIR}/ and the code work in the store's history (`pilah codes history`).\n")
    write_text(path, header + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=1000))
    return new


def rename(store, codebook: Codebook, root: Path, old: str, new: str, reviewer: str) -> dict:
    """Rename code ``old`` to ``new``: the codebook entry keeps everything but its id."""
    raw = copy.deepcopy(codebook.raw)
    entries = _entries(raw)
    _known(old, entries)["id"] = new
    _check_new_id(new, entries)
    _check_not_retired(store, new, (old,))
    book = write_codebook(raw, codebook, root, "rename")
    store.add_code_change("rename", [old], [new], reviewer, mapping={old: new})
    return {"action": "rename", "codes": [old], "into": new, "codebook": book.source, "coded segments": _count(store, new)}


def merge(store, codebook: Codebook, root: Path, codes: list[str], into: str, reviewer: str,
          label: str | None = None) -> dict:
    """Merge ``codes`` into ``into`` (an existing code, or a new one in the first code's place
    with its factor type): keywords and examples are pooled, the merged entries removed."""
    raw = copy.deepcopy(codebook.raw)
    entries = _entries(raw)
    codes = list(dict.fromkeys(codes))  # a code named twice is merged once
    if len(codes) < 2 and into in codes or not codes:
        raise CodeWorkError("merge needs at least two codes, or one code into another")
    parts = [_known(code, entries) for code in codes if code != into]
    for code, entry in zip([c for c in codes if c != into], parts):
        if entry.get("children"):
            raise CodeWorkError(f"code {code!r} is a folder with codes under it; merge the codes, not the folder")
    if into in entries:
        target = entries[into][1]
    else:
        _check_new_id(into, entries)
        _check_not_retired(store, into, tuple(codes))
        first = parts[0]
        types = {p.get("factor_type") for p in parts if p.get("factor_type")}
        if len(types) > 1:
            raise CodeWorkError(f"codes {', '.join(codes)} have different factor types ({', '.join(sorted(types))}); "
                                f"merge them into one of them, or give the merged code one in the codebook first")
        label = one_line(label or "") or into  # clean at the door: every exporter writes it
        target = {"id": into, "label": {"id": label, "en": label},
                  "definition": "Merged from " + ", ".join(codes) + ": "
                                + " / ".join(p.get("definition", "") for p in parts if p.get("definition"))}
        if types:
            target["factor_type"] = types.pop()
        holder = entries[codes[0]][0]
        holder.insert(holder.index(first), target)
    for entry in parts:
        _pool(target, entry)
    for code in codes:
        if code != into:
            holder, entry = entries[code]
            holder.remove(entry)
    book = write_codebook(raw, codebook, root, "merge")
    store.add_code_change("merge", codes, [into], reviewer, mapping={c: into for c in codes if c != into})
    return {"action": "merge", "codes": codes, "into": into, "codebook": book.source, "coded segments": _count(store, into)}


def _pool(target: dict, entry: dict) -> None:
    keywords = target.setdefault("keywords", {})
    for lang, words in (entry.get("keywords") or {}).items():
        keywords[lang] = list(dict.fromkeys(list(keywords.get(lang) or []) + list(words or [])))
    if not keywords:
        target.pop("keywords")
    examples = list(dict.fromkeys(list(target.get("examples") or []) + list(entry.get("examples") or [])))
    if examples:
        target["examples"] = examples


def split(store, codebook: Codebook, root: Path, code: str, into: list[str], reviewer: str) -> dict:
    """Add ``into`` beside ``code`` (its factor type, no keywords yet) and put each segment
    coded ``code`` up for review under each of them; ``code`` and its codings stay."""
    raw = copy.deepcopy(codebook.raw)
    entries = _entries(raw)
    entry = _known(code, entries)
    if len(into) < 2:
        raise CodeWorkError("split needs two codes or more: --into B,C")
    if code in into:
        raise CodeWorkError(f"split {code!r} into other codes, not into itself: --into B,C")
    twice = sorted({c for c in into if into.count(c) > 1})
    if twice:
        raise CodeWorkError(f"split --into names {', '.join(map(repr, twice))} twice; name each new code once")
    holder = entries[code][0]
    at = holder.index(entry) + 1
    for new in into:
        if new in entries:
            continue
        _check_new_id(new, entries)
        _check_not_retired(store, new)
        child = {"id": new, "label": {"id": new, "en": new}, "definition": f"Split from {code}: {entry.get('definition', '')}"}
        if entry.get("factor_type"):
            child["factor_type"] = entry["factor_type"]
        holder.insert(at, child)
        at += 1
    entry["definition"] = f"[split into {', '.join(into)}: its codings are up for review] " + entry.get("definition", "")
    book = write_codebook(raw, codebook, root, "split")
    segments = store.raw_coded_segments(code).drop_duplicates("segment_id")
    rows = [Suggestion(segment_id=s, code=new, direction=d if isinstance(d, str) and d else "neutral",
                       factor_type=book.codes[new].factor_type or "", score=0.5, source=SPLIT_SOURCE,
                       evidence=f"split from {code}: keep it under {new}, or reject")
            for s, d in zip(segments["segment_id"], segments["direction"]) for new in into]
    added = store.add_review_suggestions(rows, SPLIT_SOURCE, f"codes split {code} into {', '.join(into)}")
    store.add_code_change("split", [code], into, reviewer, note=f"{len(segments)} segments up for review")
    return {"action": "split", "codes": [code], "into": into, "codebook": book.source,
            "segments": int(len(segments)), "suggestions": added}


def read_candidates(path: Path) -> pd.DataFrame:
    from pipeline.labels import read_table

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no candidates here: run `pilah discover` first (it writes candidates.csv)")
    table = read_table(path)
    if "candidate" not in table.columns:
        raise InputError(path, "not a candidates table of `pilah discover` (no 'candidate' column)")
    return table


def adopt(store, codebook: Codebook, root: Path, candidates: pd.DataFrame, candidate: str, reviewer: str,
          code: str | None = None, label: str | None = None, parent: str | None = None,
          factor_type: str | None = None, keywords: int = 6) -> dict:
    """Make ``candidate`` a code: its label, its top words as keywords (in its language),
    its exemplars as examples; its segments go up for review under the new code."""
    found = candidates[candidates["candidate"].astype(str) == candidate]
    if found.empty:
        raise CodeWorkError(f"no candidate {candidate!r}; candidates: {', '.join(candidates['candidate'].astype(str))}")
    row = found.iloc[0]
    name = one_line(label or str(row.get("label", "")).replace(" / ", ", "))  # clean at the door
    code = code or re.sub(r"[^0-9a-z]+", "_", str(row.get("label", candidate)).casefold()).strip("_") or candidate
    raw = copy.deepcopy(codebook.raw)
    entries = _entries(raw)
    _check_new_id(code, entries)
    _check_not_retired(store, code)
    language = str(row.get("language") or "id")
    terms = [one_line(t) for t in str(row.get("top_terms", "")).split(",") if one_line(t)][:keywords]
    examples = [writable_text(row[k]).strip() for k in ("exemplar_1", "exemplar_2", "exemplar_3")
                if k in row and isinstance(row[k], str) and writable_text(row[k]).strip()]
    entry = {"id": code, "label": {"id": name, "en": name},
             "definition": f"Adopted from the discover candidate {candidate} ({row.get('size', '?')} segments)."}
    if factor_type:
        if factor_type not in codebook.factor_types:
            raise CodeWorkError(f"factor type {factor_type!r}: expected one of {', '.join(codebook.factor_types)}")
        entry["factor_type"] = factor_type
    if terms:  # a candidate of both languages ("id+en") gives its words to both
        entry["keywords"] = {lang: terms for lang in ("id", "en") if lang in language.split("+")} or {"id": terms}
    if examples:
        entry["examples"] = examples
    if parent:
        holder = _known(parent, entries).setdefault("children", [])
    else:
        holder = raw.setdefault("codes", [])
    holder.append(entry)
    book = write_codebook(raw, codebook, root, "adopt")
    segment_ids = re.findall(r"\(([0-9a-f]{8,})\)", str(row.get("segment_ids", "")))
    known = set(store.segment_texts(segment_ids))
    rows = [Suggestion(segment_id=s, code=code, direction="neutral", factor_type=entry.get("factor_type", ""),
                       score=float(row.get("cohesion") or 0.5), source=ADOPT_SOURCE,
                       evidence=f"discover candidate {candidate}: {', '.join(terms[:3])}")
            for s in dict.fromkeys(segment_ids) if s in known]
    added = store.add_review_suggestions(rows, ADOPT_SOURCE, f"codes adopt {candidate} as {code}")
    store.add_code_change("adopt", [candidate], [code], reviewer, note=f"{added} segments up for review")
    return {"action": "adopt", "codes": [candidate], "into": code, "codebook": book.source,
            "keywords": terms, "examples": len(examples), "suggestions": added}


def _count(store, code: str) -> int:
    """The segments holding a coding in force of ``code`` (as codes read now)."""
    codings = store.codings_frame()
    return int(codings.loc[codings["code"] == code, "segment_id"].nunique())
