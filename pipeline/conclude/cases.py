"""Cases and their attributes: the project's case table, read, checked and resolved per segment.

The case table is a CSV the analyst keeps in the project folder (``cases.csv``, or the
file ``[conclude] cases`` names). It has a ``case`` column, optional ``document`` and
``speaker`` columns, and one column per attribute (``sektor``, ``kabupaten``, ``role``,
``source_type`` …). What a row describes follows from which keys it fills:

- ``case`` alone: the case's own attributes (REFI-QDA: variables on the case);
- ``document``: that document (its path in the corpus, or its id) belongs to ``case`` when
  given, and has the row's attributes (e.g. ``source_type``);
- ``speaker``: that speaker, in every document or only in ``document`` when both are
  given, has the row's attributes (e.g. ``role``) and belongs to ``case`` when given.

A segment's attributes are resolved from the general to the particular, each over the one
before: the manifest's columns of its document (``role``, ``source_type`` and any column
of your own), the attributes of its case, of its document, of its speaker in any document,
of its speaker in that document. Two attributes always have a value: ``source_type``
(from the table or the manifest, else the document's folder: ``interviews/`` → interview,
``documents/`` → document, ``observations/`` → observation …, else interview for a
transcript of speaker turns and document for the rest) and ``case`` (``—`` when nothing
gives one: a segment of no case, counted in no case).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError
from pipeline.outputs import one_line

log = logging.getLogger(__name__)

CASE_FILE = "cases.csv"
KEYS = ("case", "document", "speaker")
KINDS = ("case", "document", "speaker")
NO_CASE = "—"
ROLE, SOURCE_TYPE = "role", "source_type"
# Manifest columns that are not attributes of a segment: identity, titles, the author.
NOT_ATTRIBUTES = {"file", "id", "title", "case", "actor", "language", "date"}
# Header-block fields of a transcript that are not attributes: dates, times and people's names.
HEADER_NOT_ATTRIBUTES = {"tanggal", "date", "waktu", "time", "jam", "durasi", "duration", "hari", "day",
                         "informan", "informant", "narasumber", "responden", "respondent", "nama", "name",
                         "pewawancara", "interviewer", "moderator", "fasilitator", "facilitator", "notulen",
                         "transkriptor", "transcriber"}
# A document's first folder → its source type, when neither table nor manifest says.
FOLDER_TYPES = {
    "interview": "interview", "interviews": "interview", "wawancara": "interview", "transcripts": "interview",
    "transkrip": "interview", "document": "document", "documents": "document", "dokumen": "document",
    "observation": "observation", "observations": "observation", "observasi": "observation",
    "fieldnotes": "observation", "catatan_lapangan": "observation", "fgd": "focus group",
    "focus_groups": "focus group", "survey": "survey", "survei": "survey", "news": "document", "berita": "document",
}


@dataclass
class CaseTable:
    """A case table: ``rows`` of ``{column: value}`` (empty values left out), the attribute
    columns in the file's order, and where it came from (``source``: a path, or ``""``)."""

    rows: list[dict[str, str]] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    source: str = ""

    @staticmethod
    def kind(row: dict[str, str]) -> str:
        if row.get("document") and not row.get("speaker"):
            return "document"
        if row.get("speaker"):
            return "speaker"
        return "case"

    def of_kind(self, kind: str) -> list[dict[str, str]]:
        return [row for row in self.rows if self.kind(row) == kind]

    def store_rows(self) -> list[tuple[str, str, str, str]]:
        """``(kind, key, attribute, value)`` rows for ``Store.save_case_table``; a speaker's key
        is ``document\\x1fspeaker`` (``document`` empty: in every document)."""
        found = []
        for row in self.rows:
            kind = self.kind(row)
            key = {"case": row.get("case", ""), "document": row.get("document", ""),
                   "speaker": f"{row.get('document', '')}\x1f{row.get('speaker', '')}"}[kind]
            for column in ("case", *self.attributes):
                if row.get(column) and not (kind == "case" and column == "case"):
                    found.append((kind, key, column, row[column]))
            if kind == "case" and not any(r[:2] == ("case", key) for r in found):
                found.append(("case", key, "case", key))
        return found

    @classmethod
    def from_store_rows(cls, rows: list[tuple[str, str, str, str]]) -> "CaseTable":
        table, by_key, attributes = cls(source="project store"), {}, []
        for kind, key, attribute, value in rows:
            if (kind, key) not in by_key:
                row = {"case": key} if kind == "case" else (
                    {"document": key} if kind == "document" else dict(zip(("document", "speaker"), key.split("\x1f", 1))))
                by_key[(kind, key)] = {k: v for k, v in row.items() if v}
                table.rows.append(by_key[(kind, key)])
            by_key[(kind, key)][attribute] = value
            if attribute != "case" and attribute not in attributes:
                attributes.append(attribute)
        table.attributes = attributes
        return table


def case_table_path(root: Path, setting: str = "") -> Path:
    """The case table of the project at ``root``: ``setting`` (``[conclude] cases``, relative
    to the project folder) or ``cases.csv`` there."""
    path = Path(setting) if setting else Path(CASE_FILE)
    return path if path.is_absolute() else Path(root) / path


def read_case_table(path: Path) -> CaseTable:
    """Read a case table CSV (UTF-8, with or without a byte-order mark; ``,`` or ``;``).

    Raises
    ------
    InputError
        Naming the file: unreadable, no ``case`` column, a row without any key, a column
        name twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "case table not found; write one (columns case, document, speaker and your "
                               "attributes) or name it in pilah.toml under [conclude] cases") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the case table as UTF-8 text: {exc}") from None
    if not text.strip():
        raise InputError(path, "the case table is empty: it needs a header with a case column")
    dialect = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=dialect))
    except csv.Error as exc:  # e.g. a cell over the csv module's field limit (128 KiB)
        raise InputError(path, f"cannot read the case table as CSV: {exc}") from None
    reader = iter(rows)
    header = [str(one_line(h)) for h in next(reader)]  # clean at the door: every exporter can write them
    lowered = [h.casefold() for h in header]
    if "case" not in lowered:
        raise InputError(path, f"no 'case' column; found {', '.join(header) or 'no columns'} "
                               "(the table needs case, and optionally document and speaker, then attributes)")
    repeated = sorted({h for h in lowered if lowered.count(h) > 1})
    if repeated or "" in lowered:
        raise InputError(path, f"column names must be unique and not empty: {', '.join(repeated) or 'an empty name'}")
    columns = [h if h.casefold() not in KEYS else h.casefold() for h in header]
    table = CaseTable(attributes=[c for c in columns if c not in KEYS], source=str(path))
    problems = []
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        row = {c: str(one_line(v)) for c, v in zip(columns, values) if str(one_line(v))}
        if not any(row.get(k) for k in KEYS):
            problems.append(f"row {number}: no case, document or speaker")
            continue
        table.rows.append(row)
    if problems:
        raise InputError(path, "; ".join(problems))
    return table


def write_case_table(table: CaseTable, path: Path) -> None:
    """Write ``table`` as a CSV (all or nothing, ``pipeline.outputs``)."""
    from pipeline.outputs import write_text

    keys = [k for k in KEYS if k == "case" or any(k in row for row in table.rows)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keys + table.attributes)
    for row in table.rows:
        writer.writerow([row.get(c, "") for c in keys + table.attributes])
    write_text(Path(path), out.getvalue())


@dataclass
class Resolved:
    """The case table applied to a project's documents and speakers."""

    table: CaseTable
    attributes: list[str]  # every attribute a segment may have, role and source type first
    layouts: dict[str, str] = field(default_factory=dict)  # document id → "transcript" or "paragraphs"

    def __post_init__(self):
        self._cases = {row["case"]: row for row in self.table.of_kind("case")}
        self._documents: dict[str, dict] = {}
        for row in self.table.of_kind("document"):
            self._documents[row["document"]] = row
        self._speakers: dict[tuple[str, str], dict] = {}
        for row in self.table.of_kind("speaker"):
            self._speakers[(row.get("document", ""), row["speaker"].casefold())] = row

    def document_row(self, document_id: str, path: str) -> dict:
        return self._documents.get(path) or self._documents.get(document_id) or {}

    def of(self, document_id: str, path: str, metadata: dict, speaker: str) -> dict[str, str]:
        """The attributes (``case`` included) of a segment of ``speaker`` in this document."""
        document = self.document_row(document_id, path)
        spoken = (speaker or "").casefold()
        anywhere = self._speakers.get(("", spoken), {}) if spoken else {}
        here = (self._speakers.get((path, spoken)) or self._speakers.get((document_id, spoken)) or {}) if spoken else {}
        case = (here.get("case") or anywhere.get("case") or document.get("case") or str(metadata.get("case") or "")
                or NO_CASE)
        found = metadata_attributes(metadata)
        for row in (self._cases.get(case, {}), document, anywhere, here):
            found.update({k: v for k, v in row.items() if k not in KEYS})
        found.setdefault(SOURCE_TYPE, source_type_of(path, self.layouts.get(document_id, "")))
        found["case"] = case
        return found


def count_cases(values) -> int:
    """How many cases ``values`` (a segment's ``case`` each) name: segments of no case
    (``NO_CASE``) belong to none, so they add no case.

    Examples
    --------
    >>> count_cases(["—", "—"]), count_cases(["Surabaya", "—", "Surabaya", "Malang"])
    (0, 2)
    """
    return len({str(v) for v in values if v and str(v) != NO_CASE})


def source_type_of(path: str, layout: str = "") -> str:
    """A document's source type from its folders: the first one ``FOLDER_TYPES`` knows
    (``wave2/interviews/a.txt`` → interview), else its first folder, else ``interview`` for
    a transcript (``layout``: speaker turns) and ``document`` for the rest.

    Examples
    --------
    >>> source_type_of("wave2/interviews/a.txt"), source_type_of("a.txt", "transcript"), source_type_of("a.txt")
    ('interview', 'interview', 'document')
    """
    folders = [part.casefold() for part in Path(path).parts[:-1]]
    known = [FOLDER_TYPES[f] for f in folders if f in FOLDER_TYPES]
    if known or folders:
        return known[0] if known else folders[0]
    return "interview" if layout == "transcript" else "document"


def resolve(table: CaseTable, documents) -> Resolved:
    """``table`` applied to the project's documents (a frame with ``metadata``): the
    attributes any segment may have, role and source type first."""
    attributes = [ROLE, SOURCE_TYPE]
    for metadata in documents["metadata"]:
        for key in metadata_attributes(_metadata(metadata)):
            if key not in attributes:
                attributes.append(key)
    attributes += [a for a in table.attributes if a not in attributes]
    layouts = dict(zip(documents["document_id"], documents["layout"])) if "layout" in documents else {}
    return Resolved(table, attributes, layouts)


def metadata_attributes(metadata: dict) -> dict[str, str]:
    """A document's attributes from its metadata: the manifest's columns, and the fields of a
    transcript's header block (``metadata["header"]``, e.g. ``Lokasi: Surabaya``) each as an
    attribute of its own, named in lower case with ``_`` for spaces (``lokasi``). A manifest
    column wins over a header field of the same name. Identity, titles, dates and the names of
    people (``Informan``, ``Pewawancara``) are not attributes.

    Examples
    --------
    >>> metadata_attributes({"sektor": "food", "header": {"Lokasi": "Surabaya", "Tanggal": "14 Maret 2024",
    ...                      "Jenis Usaha": "Kerupuk", "Informan": "Pak Darto"}})
    {'lokasi': 'Surabaya', 'jenis_usaha': 'Kerupuk', 'sektor': 'food'}
    """
    found: dict[str, str] = {}
    header = metadata.get("header")
    if isinstance(header, dict):
        for name, value in header.items():
            key = re.sub(r"\W+", "_", str(name).casefold()).strip("_")
            if key and key not in NOT_ATTRIBUTES | HEADER_NOT_ATTRIBUTES and value not in (None, ""):
                found[key] = str(value)
    for key, value in metadata.items():
        if key not in NOT_ATTRIBUTES and key != "header" and not key.startswith("refi_") and value not in (None, ""):
            found.pop(key, None)
            found[key] = str(value)
    return found


def _metadata(value) -> dict:
    if isinstance(value, dict):
        return value
    try:
        found = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


@dataclass
class CaseCheck:
    """What ``check_cases`` found: per case its attributes and what it holds; problems."""

    cases: list[dict]
    problems: list[str]
    informants: list[dict] = field(default_factory=list)  # informant, case, role, source type, segments


def check_cases(table: CaseTable, store) -> CaseCheck:
    """Check ``table`` against the project in ``store``: rows naming documents or speakers
    the project does not hold, cases no document belongs to, documents without a case, and
    attributes a case (or document, or speaker) leaves empty where others of its kind give one."""
    documents = store.documents_frame()
    segments = store.segments_frame()
    resolved = resolve(table, documents)
    paths = dict(zip(documents["document_id"], documents["path"]))
    known_documents = set(paths) | set(paths.values())
    speakers = {str(s).casefold() for s in segments["speaker"].dropna()}
    speakers_in = defaultdict(set)
    for document_id, speaker in zip(segments["document_id"], segments["speaker"]):
        if isinstance(speaker, str):
            speakers_in[document_id].add(speaker.casefold())
            speakers_in[paths.get(document_id, document_id)].add(speaker.casefold())
    problems = []
    for row in table.rows:
        if row.get("document") and row["document"] not in known_documents:
            problems.append(f"{table.source}: unknown document {row['document']!r} (not in the project; "
                            "write its path as the manifest or `pilah status` shows it)")
        elif row.get("speaker"):
            where = speakers_in.get(row["document"], set()) if row.get("document") else speakers
            if row["speaker"].casefold() not in where:
                problems.append(f"{table.source}: unknown speaker {row['speaker']!r}"
                                + (f" in {row['document']}" if row.get("document") else ""))
    seen: dict[tuple, int] = defaultdict(int)
    for row in table.rows:
        seen[(table.kind(row), row.get("case") if table.kind(row) == "case" else "", row.get("document", ""),
              row.get("speaker", "").casefold())] += 1
    for key, n in seen.items():
        if n > 1:
            problems.append(f"{table.source}: {key[0]} {' '.join(k for k in key[1:] if k)!r} has {n} rows; keep one")
    members: dict[str, dict] = defaultdict(lambda: {"documents": set(), "speakers": set(), "segments": 0})
    informants: dict[tuple, int] = {}
    metadata = {d: _metadata(m) for d, m in zip(documents["document_id"], documents["metadata"])}
    for row in segments.itertuples(index=False):
        attributes = resolved.of(row.document_id, row.document, metadata.get(row.document_id, {}),
                                 row.speaker if isinstance(row.speaker, str) else "")
        entry = members[attributes["case"]]
        entry["documents"].add(row.document)
        entry["segments"] += 1
        if getattr(row, "segment_role", "") == "researcher":
            continue  # the interviewer is no one's informant
        speaker = row.speaker if isinstance(row.speaker, str) else ""
        if speaker:
            entry["speakers"].add(speaker)
        elif resolved.layouts.get(row.document_id) == "transcript":
            continue  # a transcript's title or header lines before the first turn: no one's words
        meta = metadata.get(row.document_id, {})
        who = (speaker or str(meta.get("actor") or meta.get("title") or row.document), attributes["case"],
               attributes.get(ROLE, ""), attributes.get(SOURCE_TYPE, ""))
        informants[who] = informants.get(who, 0) + 1
    for document_id, path in paths.items():
        case = resolved.of(document_id, path, metadata[document_id], "")["case"]
        if case == NO_CASE:
            problems.append(f"{path}: no case (give it one in the manifest's case column or a document row of the table)")
    case_rows = {row["case"]: row for row in table.of_kind("case")}
    for case in case_rows:
        if case not in members:
            problems.append(f"{table.source}: case {case!r} holds no document of the project")
    for case in sorted(set(members) - set(case_rows) - {NO_CASE}):
        if table.rows:
            problems.append(f"{table.source}: case {case!r} has no row of its own: its attributes are missing")
    for kind in KINDS:
        rows = table.of_kind(kind)
        used = [a for a in table.attributes if any(a in row for row in rows)]
        for row in rows:
            missing = [a for a in used if a not in row]
            if missing:
                name = row.get("speaker") or row.get("document") or row.get("case")
                problems.append(f"{table.source}: {kind} {name!r} has no value for {', '.join(missing)}")
    cases = []
    on_cases = [a for a in table.attributes if any(a in row for row in case_rows.values())]
    for case in sorted(set(members) | set(case_rows)):
        entry = members.get(case, {"documents": set(), "speakers": set(), "segments": 0})
        cases.append({"case": case, **{a: case_rows.get(case, {}).get(a, "") for a in on_cases},
                      "documents": len(entry["documents"]), "speakers": len(entry["speakers"]),
                      "segments": entry["segments"]})
    found = [{"informant": who, "case": case, "role": role, "source_type": kind, "segments": n}
             for (who, case, role, kind), n in sorted(informants.items())]
    return CaseCheck(cases, problems, found)


def load_case_table(root: Path, setting: str, store=None) -> CaseTable:
    """The project's case table: read from its file when there is one (and its copy kept
    in ``store``), else the copy the store kept, else an empty table."""
    path = case_table_path(root, setting)
    if path.exists():
        table = read_case_table(path)
        if store is not None and hasattr(store, "save_case_table"):
            store.save_case_table(table.store_rows())
        return table
    if setting:
        raise InputError(path, "case table not found ([conclude] cases names it)")
    if store is not None and hasattr(store, "case_table_rows"):
        return CaseTable.from_store_rows(store.case_table_rows())
    return CaseTable()
