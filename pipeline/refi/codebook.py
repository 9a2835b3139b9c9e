"""Pilah's codebook as REFI-QDA codes and sets, and the merge of another tool's codes into it.

**How Pilah's codes look in the other tools**

- A code is a ``Code`` named by its id (what the review sheets show), with ``isCodable``
  false for folders; its ``Description`` holds its fields as labelled lines that any tool
  shows and that Pilah reads back::

      Label (id): Pelatihan dan pendampingan
      Label (en): Training and mentoring
      Definition: …
      Include: … / Exclude: …
      Factor type: human_resources
      Keywords (id): pelatihan; latih*
      Keywords (en): training; mentor*

- **Direction** is per coding (one code can be supporting in one segment, constraining in
  the next), and a REFI-QDA coding points to exactly one code, so a direction is a child
  code: ``funding [supporting]``, ``funding [constraining]``, ``funding [neutral]`` under
  ``funding``. A coding with a direction is a coding of the child; without one, of the code
  itself. Every tool keeps a code hierarchy and the coding's code, so the direction
  survives any round trip; in NVivo, aggregating ``funding`` shows all its codings. A code
  gets these children when it is a factor code (its codebook entry names a factor type) or
  when an exported coding gives it a direction.
- **Factor type** belongs to the code, not the coding: it is a ``Set`` of codes named
  ``factor type: <id>`` (ATLAS.ti code groups, MAXQDA code sets, NVivo sets) and a line of
  the code's description. Sets ``direction: supporting`` … group the direction children
  across codes, so "all constraining factors" is one set in the other tool.

Codes brought in from another tool keep their name, GUID, colour and description
(``refi_name``, ``refi_guid``, ``color`` and, for a description in the tool's own words,
``refi_plain`` in the project's codebook), so that exporting them again gives them back as
they came.
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field

from lxml import etree

from pipeline.codebook import Codebook
from pipeline import outputs
from pipeline.outputs import writable_text
from pipeline.records import DIRECTIONS

NAMESPACE = uuid.UUID("6f1d2c1e-4b7a-5e0c-9a51-70696c616821")  # Pilah's namespace for stable GUIDs
UNSPECIFIED = "unspecified"
_DIRECTION_WORDS = {**{d: d for d in DIRECTIONS}, "pendukung": "supporting", "penghambat": "constraining",
                    "netral": "neutral"}
_DIRECTION_NAME = re.compile(r"^(?P<code>.*) \[(?P<direction>[a-z]+)\]$")
_FIELDS = ("Label (id)", "Label (en)", "Definition", "Include", "Exclude", "Factor type", "Keywords (id)",
           "Keywords (en)")
_FIELD_LINE = re.compile(r"^(" + "|".join(re.escape(f) for f in _FIELDS) + r"): ?(.*)$")
_COLOUR = re.compile(r"^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")
FACTOR_SET = "factor type: "
DIRECTION_SET = "direction: "


def guid(*parts: str) -> str:
    """A GUID that is the same every time for the same thing (``guid("code", "funding")``)."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def direction_name(name: str, direction: str) -> str:
    return f"{name} [{direction}]"


# -- Pilah → REFI ------------------------------------------------------------------------
@dataclass
class ExportCode:
    """A code as it is written: GUID, name, codable, colour, description, children."""

    id: str
    guid: str
    name: str
    codable: bool
    description: str = ""
    color: str | None = None
    children: list["ExportCode"] = field(default_factory=list)
    direction_guids: dict[str, str] = field(default_factory=dict)
    factor_type: str | None = None


def export_codes(codebook: Codebook, extra: list[str] = (), directed: set[str] = frozenset()) -> list[ExportCode]:
    """The code tree to write: the codebook's codes (plus ``extra`` codes used in codings but
    missing from it, at the top level), each factor code and each code in ``directed`` with
    its three direction children."""
    entries = raw_entries(codebook.raw)
    nodes: dict[str, ExportCode] = {}
    roots: list[ExportCode] = []
    for code in codebook.codes.values():
        entry = entries.get(code.id, {})
        name = str(entry.get("refi_name") or code.id)
        factor = code.factor_type if code.factor_type and code.factor_type != UNSPECIFIED else None
        node = ExportCode(
            id=code.id, guid=str(entry.get("refi_guid") or guid("code", code.id)), name=name, codable=code.codable,
            description=str(code.definition) if entry.get("refi_plain") else describe(code),
            color=entry.get("color") if _COLOUR.match(str(entry.get("color") or "")) else None,
            factor_type=code.factor_type)
        if code.codable and (factor or code.id in directed):
            node.direction_guids = {d: guid("direction", code.id, d) for d in DIRECTIONS}
        nodes[code.id] = node
        (nodes[code.parent].children if code.parent in nodes else roots).append(node)
    for code_id in extra:
        if code_id not in nodes:
            node = ExportCode(id=code_id, guid=guid("code", code_id), name=code_id, codable=True)
            if code_id in directed:
                node.direction_guids = {d: guid("direction", code_id, d) for d in DIRECTIONS}
            nodes[code_id] = node
            roots.append(node)
    return roots


def describe(code) -> str:
    """A code's fields as labelled lines (see the module docstring)."""
    lines = [f"Label (id): {code.label.get('id', '')}", f"Label (en): {code.label.get('en', '')}"]
    for key, value in (("Definition", code.definition), ("Include", code.include), ("Exclude", code.exclude),
                       ("Factor type", code.factor_type)):
        if value:
            lines.append(f"{key}: {value}")
    for lang in ("id", "en"):
        if code.keywords.get(lang):
            lines.append(f"Keywords ({lang}): " + "; ".join(code.keywords[lang]))
    return "\n".join(lines)


def codes_element(tag: str, roots: list[ExportCode], codebook: Codebook) -> etree._Element:
    """``<Codes>`` in namespace-qualified ``tag`` form (``{ns}Codes``)."""
    ns = tag[: tag.index("}") + 1]
    codes = etree.Element(tag)

    def add(parent, node: ExportCode) -> None:
        element = etree.SubElement(parent, f"{ns}Code", guid=node.guid, name=node.name,
                                   isCodable="true" if node.codable else "false")
        if node.color:
            element.set("color", node.color)
        if node.description:
            etree.SubElement(element, f"{ns}Description").text = node.description
        for child in node.children:
            add(element, child)
        for direction, child_guid in node.direction_guids.items():
            label = codebook.direction_labels.get(direction, {})
            child = etree.SubElement(element, f"{ns}Code", guid=child_guid, name=direction_name(node.name, direction),
                                     isCodable="true")
            etree.SubElement(child, f"{ns}Description").text = (
                f"{label.get('id', direction)} / {label.get('en', direction)}: {node.name} coded as a {direction} "
                "factor (Pilah: the direction of a coding is its child code)")

    for root in roots:
        add(codes, root)
    return codes


def sets_element(tag: str, roots: list[ExportCode], codebook: Codebook) -> etree._Element | None:
    """``<Sets>``: one set per factor type (its codes) and per direction (the direction children).

    A member is ``MemberCode targetGUID=…`` in a project, ``MemberCode guid=…`` in a codebook
    (the two schemas differ)."""
    ns = tag[: tag.index("}") + 1]
    member_key = "guid" if "codebook" in ns else "targetGUID"
    by_type: dict[str, list[str]] = {}
    by_direction: dict[str, list[str]] = {d: [] for d in DIRECTIONS}

    def walk(node: ExportCode) -> None:
        if node.factor_type and node.factor_type != UNSPECIFIED:
            by_type.setdefault(node.factor_type, []).append(node.guid)
        for direction, child in node.direction_guids.items():
            by_direction[direction].append(child)
        for child in node.children:
            walk(child)

    for root in roots:
        walk(root)
    if not by_type and not any(by_direction.values()):
        return None
    sets = etree.Element(tag)
    def add_set(kind: str, name: str, key: str, label: dict, members: list) -> None:
        element = etree.SubElement(sets, f"{ns}Set", guid=guid(kind, key), name=name + key)
        etree.SubElement(element, f"{ns}Description").text = f"{label.get('id', key)} / {label.get('en', key)}"
        for member in members:
            etree.SubElement(element, f"{ns}MemberCode", {member_key: member})

    for factor_type, members in by_type.items():
        add_set("factor type", FACTOR_SET, factor_type, codebook.factor_types.get(factor_type, {}), members)
    for direction, members in by_direction.items():
        if members:
            add_set("direction set", DIRECTION_SET, direction, codebook.direction_labels.get(direction, {}), members)
    return sets


# -- REFI → Pilah ------------------------------------------------------------------------
@dataclass
class RefiCode:
    guid: str
    name: str
    codable: bool
    description: str
    color: str | None
    parent: str | None  # parent's GUID
    path: tuple[str, ...]  # names from the root


MAX_CODE_DEPTH = 100  # codes nested deeper than this are refused (real codebooks nest a few levels)


class CodeTreeError(ValueError):
    """A code tree nested deeper than ``MAX_CODE_DEPTH``; the import names the file."""


def read_codes(codes: etree._Element | None, ns: str) -> list[RefiCode]:
    """Every ``Code`` under ``<Codes>``, parents before children (depth first, in file order).

    Walked with a stack, not recursion, so that no nesting depth can exhaust Python's stack;
    names and descriptions come without control characters (:func:`one_line`).

    Raises
    ------
    CodeTreeError
        When codes nest deeper than ``MAX_CODE_DEPTH`` levels, naming the deepest code's GUID.
    """
    found: list[RefiCode] = []
    if codes is None:
        return found
    stack: list[tuple[etree._Element, RefiCode | None, int]] = [
        (child, None, 1) for child in reversed(codes.findall(f"{ns}Code"))]
    while stack:
        element, parent, depth = stack.pop()
        if depth > MAX_CODE_DEPTH:
            raise CodeTreeError(f"codes nest more than {MAX_CODE_DEPTH} levels deep (code "
                                f"{normal_guid(element.get('guid', ''))} is at level {depth}); no tool writes such "
                                "a tree: check the file")
        name = one_line(element.get("name"))
        code = RefiCode(guid=normal_guid(element.get("guid", "")), name=name,
                        codable=element.get("isCodable", "true").strip().lower() in ("true", "1"),
                        description=str(writable_text(element.findtext(f"{ns}Description") or "")),
                        color=element.get("color"), parent=parent.guid if parent else None,
                        path=(parent.path if parent else ()) + (name,))
        found.append(code)
        stack.extend((child, code, depth + 1) for child in reversed(element.findall(f"{ns}Code")))
    return found


def read_factor_sets(sets: etree._Element | None, ns: str) -> tuple[dict[str, str], dict[str, dict], int]:
    """``({code GUID: factor type}, {factor type: label}, other sets)`` from ``<Sets>``."""
    types: dict[str, str] = {}
    labels: dict[str, dict] = {}
    other = 0
    for element in (sets.findall(f"{ns}Set") if sets is not None else []):
        name = element.get("name", "")
        if name.startswith(FACTOR_SET) and name[len(FACTOR_SET):].strip():
            factor_type = name[len(FACTOR_SET):].strip()
            parts = [p.strip() for p in (element.findtext(f"{ns}Description") or "").split(" / ")]
            labels[factor_type] = {"id": parts[0] or factor_type, "en": parts[-1] or factor_type}
            for member in element.findall(f"{ns}MemberCode"):
                types[normal_guid(member.get("targetGUID") or member.get("guid") or "")] = factor_type
        elif not name.startswith(DIRECTION_SET):
            other += 1
    return types, labels, other


def normal_guid(value: str) -> str:
    return value.strip().strip("{}").lower()


def one_line(value: str | None) -> str:
    """A name as the project stores it: one line, no control characters (clean at the door).

    Examples
    --------
    >>> one_line("Ana\\x85\\rRahma\\x9b ")
    'Ana Rahma'
    """
    return str(outputs.one_line(value or ""))


def parse_description(text: str) -> dict | None:
    """The fields of a description written by :func:`describe`; ``None`` for any other text."""
    fields: dict[str, str] = {}
    current = None
    for line in text.split("\n"):
        match = _FIELD_LINE.match(line)
        if match:
            current = match.group(1)
            fields[current] = match.group(2)
        elif current is not None:
            fields[current] += "\n" + line
        else:
            return None
    if "Label (id)" not in fields or "Label (en)" not in fields:
        return None
    return fields


@dataclass
class MergeReport:
    """What a merge did to the project's codebook, and how the file's codes map onto it."""

    added: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (name in the file, Pilah id)
    conflicts: list[str] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)  # file GUID → Pilah code id
    directions: dict[str, tuple[str, str]] = field(default_factory=dict)  # file GUID → (code id, direction)
    factor_types_added: list[str] = field(default_factory=list)
    other_sets: int = 0

    def as_dict(self) -> dict:
        return {"added": self.added, "matched": len(self.matched), "renamed": [
            {"name": name, "id": code} for name, code in self.renamed], "conflicts": self.conflicts,
            "factor_types_added": self.factor_types_added, "direction_codes": len(self.directions),
            "sets_not_imported": self.other_sets}


def merge_codes(raw: dict, codes: list[RefiCode], factor_sets: tuple[dict, dict, int]) -> tuple[dict, MergeReport]:
    """The project's codebook data (``Codebook.raw``) with the file's codes merged in.

    A code of the file is the project's code with the same GUID, else with the same name (a
    name that repeats in the file is matched and added by its path, ``parent/child``). New
    codes are added under their parent with the file's name, GUID, colour and description;
    a code that cannot take its name as an id (``;`` or ``=`` in it, empty, or taken) gets
    another id, reported, and keeps its name for the next export. Differences in
    description, hierarchy or codable flag of a known code are reported and the project's
    version is kept: nothing is silently renamed or overwritten.
    """
    raw = copy.deepcopy(raw)
    report = MergeReport()
    code_types, type_labels, report.other_sets = factor_sets
    entries = raw_entries(raw)
    parents = _parents(raw)
    by_guid = {str(e.get("refi_guid") or guid("code", i)).lower(): i for i, e in entries.items()}
    by_name = {str(e.get("refi_name") or i): i for i, e in entries.items()}
    counts: dict[str, int] = {}
    for code in codes:
        counts[code.name] = counts.get(code.name, 0) + 1
    types = raw.setdefault("factor", {}).setdefault("types", [])
    known_types = {t.get("id") for t in types if isinstance(t, dict)}
    by_code_guid = {c.guid: c for c in codes}
    for code in codes:
        parent = by_code_guid.get(code.parent) if code.parent else None
        match = _DIRECTION_NAME.match(code.name)
        if match and match["direction"] in _DIRECTION_WORDS:
            # under its code (as Pilah writes it), or flattened by a tool without a code tree
            # ("funding::funding [supporting]", as ATLAS.ti names nested codes)
            if parent and parent.guid in report.codes and match["code"] == parent.name:
                base = report.codes[parent.guid]
            else:
                base = by_name.get(match["code"].split("::")[-1]) if not code.parent else None
            if base:
                report.directions[code.guid] = (base, _DIRECTION_WORDS[match["direction"]])
                continue
        repeated = counts[code.name] > 1
        name_key = "/".join(code.path) if repeated else code.name
        found = by_guid.get(code.guid) or by_name.get(name_key)
        parent_id = report.codes.get(code.parent) if code.parent else None
        if found:
            report.codes[code.guid] = found
            report.matched.append(found)
            _compare(code, found, entries[found], parents.get(found), parent_id, report)
            continue
        fields = parse_description(code.description)
        factor_type = code_types.get(code.guid) or (fields or {}).get("Factor type", "").strip() or None
        wanted = name_key.replace(";", "_").replace("=", "_").strip() or f"code {code.guid[:8]}"
        code_id = wanted if wanted not in entries else f"{wanted} ({code.guid[:8]})"
        entry: dict = {"id": code_id, "codable": code.codable, "refi_guid": code.guid}
        if code_id != code.name:
            entry["refi_name"] = code.name
            report.renamed.append((code.name, code_id))
        if fields:
            entry["label"] = {"id": fields["Label (id)"], "en": fields["Label (en)"]}
            for key, name in (("definition", "Definition"), ("include", "Include"), ("exclude", "Exclude")):
                if fields.get(name):
                    entry[key] = fields[name]
            keywords = {lang: [w.strip() for w in fields[f"Keywords ({lang})"].split(";") if w.strip()]
                        for lang in ("id", "en") if fields.get(f"Keywords ({lang})")}
            if keywords:
                entry["keywords"] = keywords
        else:
            entry["label"] = {"id": code.name or code_id, "en": code.name or code_id}
            entry["definition"] = code.description
            entry["refi_plain"] = True
        if code.color and _COLOUR.match(code.color):
            entry["color"] = code.color
        if code.codable:
            entry["factor_type"] = factor_type or UNSPECIFIED
            if entry["factor_type"] not in known_types:
                label = type_labels.get(entry["factor_type"]) or (
                    {"id": "Belum ditentukan", "en": "Unspecified"} if entry["factor_type"] == UNSPECIFIED
                    else {"id": entry["factor_type"], "en": entry["factor_type"]})
                types.append({"id": entry["factor_type"], "label": label})
                known_types.add(entry["factor_type"])
                report.factor_types_added.append(entry["factor_type"])
        if parent_id:
            holder = entries[parent_id]
            holder.setdefault("codable", not holder.get("children"))
            holder.setdefault("children", []).append(entry)
        else:
            raw.setdefault("codes", []).append(entry)
        entries[code_id] = entry
        parents[code_id] = parent_id
        by_guid[code.guid] = code_id
        by_name[name_key] = code_id
        report.codes[code.guid] = code_id
        report.added.append(code_id)
    return raw, report


def _compare(code: RefiCode, code_id: str, entry: dict, parent: str | None, file_parent: str | None,
             report: MergeReport) -> None:
    if (file_parent or None) != (parent or None):
        report.conflicts.append(f"code {code_id!r}: under {file_parent or 'the top level'} in the file, under "
                                f"{parent or 'the top level'} in the project; kept the project's place")
    codable = bool(entry.get("codable", not entry.get("children")))
    if codable != code.codable:
        report.conflicts.append(f"code {code_id!r}: {'codable' if code.codable else 'a folder'} in the file, "
                                f"{'codable' if codable else 'a folder'} in the project; kept the project's")
    fields = parse_description(code.description)
    theirs = (fields.get("Definition", "") if fields else code.description).strip()
    if theirs and theirs != str(entry.get("definition") or "").strip():
        report.conflicts.append(f"code {code_id!r}: the file's description differs from the project's; "
                                "kept the project's")


def raw_entries(raw: dict) -> dict[str, dict]:
    """Every code entry of codebook data by id (entries are the data's own dicts)."""
    found: dict[str, dict] = {}

    def walk(items) -> None:
        for item in items or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                found[item["id"]] = item
                walk(item.get("children"))

    walk(raw.get("codes"))
    return found


def _parents(raw: dict) -> dict[str, str | None]:
    found: dict[str, str | None] = {}

    def walk(items, parent) -> None:
        for item in items or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                found[item["id"]] = parent
                walk(item.get("children"), item["id"])

    walk(raw.get("codes"), None)
    return found
