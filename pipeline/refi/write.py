"""Export: the project as a REFI-QDA project (``.qdpx``) or its codebook alone (``.qdc``).

A ``.qdpx`` holds ``project.qde`` (UTF-8, no byte-order mark) and ``sources/<GUID>.txt``
(lowercase folder, UTF-8 without byte-order mark, ``\\n`` newlines: every tool counts the
characters of this text the same way). Each reviewer is a ``User``; each coding in force is
a ``Coding`` by its coder on a ``PlainTextSelection`` whose positions are Unicode code
points of the source text, end exclusive. GUIDs are derived from what they stand for
(``pipeline.refi.codebook.guid``), so exporting the same project twice gives the same GUIDs.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import defaultdict
from pathlib import Path

import pandas as pd
from lxml import etree

import pipeline
from pipeline.codebook import Codebook
from pipeline.outputs import one_line, replacing, write_bytes
from pipeline.refi.codebook import codes_element, export_codes, guid, sets_element
from pipeline.store import Store, now

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
SUGGESTION_USER = "Pilah suggestions"
USERS_SETTING = "refi.users"  # users brought in by `pilah import` who hold no coding (yet)
# Manifest columns that are not case variables: the file, the id, Pilah's own keys.
_NOT_VARIABLES = {"file", "id", "case"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def export_qdpx(store: Store, codebook: Codebook, out: Path, with_suggestions: bool = False,
                name: str = "Pilah project") -> dict:
    """Write the project to ``out`` (a ``.qdpx``); returns what was written and what not."""
    documents = store.documents_frame()
    current = dict(zip(documents["document_id"], documents["version"]))
    codings = store.codings_frame(current=True)
    codings = codings[codings["origin"] != "imported-segment"].copy()
    codings["direction"] = codings["direction"].fillna("")
    in_force = (codings["document_id"].map(current) == codings["version"]).to_numpy(dtype=bool)
    stale, codings = codings.loc[~in_force], codings.loc[in_force]
    codings = codings.drop_duplicates(["document_id", "start", "end", "code", "coder", "direction"])
    suggestions = _pending(store) if with_suggestions else pd.DataFrame(columns=["code", "direction", "segment_id"])
    used = list(dict.fromkeys(list(codings["code"]) + list(suggestions["code"])))
    directed = {c for c, d in zip(codings["code"], codings["direction"]) if d} | set(suggestions["code"])
    roots = export_codes(codebook, [c for c in used if c not in codebook.codes], directed)
    targets = _targets(roots)
    known = json.loads(store.setting(USERS_SETTING) or "[]")
    reviewers = set(store.decisions_frame(in_force=False)["reviewer"])
    memos = _memos(store)
    coders = sorted(set(codings["coder"]) | reviewers | set(known) | set(memos["author"]))
    users = coders + ([SUGGESTION_USER] if len(suggestions) else [])
    user_guid = {u: guid("user", u) for u in users}

    P = f"{{{PROJECT_NS}}}"
    stamp = now()
    project = etree.Element(f"{P}Project", nsmap={None: PROJECT_NS}, name=one_line(name) or "Pilah project",
                            origin=f"Pilah {pipeline.__version__}", creationDateTime=stamp, modifiedDateTime=stamp)
    if users:
        users_element = etree.SubElement(project, f"{P}Users")
        for user in users:
            etree.SubElement(users_element, f"{P}User", guid=user_guid[user], name=user)
    codebook_element = etree.SubElement(project, f"{P}CodeBook")
    codebook_element.append(codes_element(f"{P}Codes", roots, codebook))
    metadata = {row.document_id: json.loads(row.metadata or "{}") for row in documents.itertuples(index=False)}
    variables = _variables(metadata)
    on_cases, case_of = _case_table(store, documents)
    for values in on_cases.values():
        for key in values:
            variables.setdefault(key, "Text")
    if variables:
        element = etree.SubElement(project, f"{P}Variables")
        for key, kind in variables.items():
            etree.SubElement(element, f"{P}Variable", guid=guid("variable", key), name=key, typeOfVariable=kind)
    cases = defaultdict(list)
    source_guid = {d: str(m.get("refi_guid") or guid("source", d)) for d, m in metadata.items()}
    for document_id, meta in metadata.items():
        case = case_of.get(document_id) or str(meta.get("case") or "").strip()
        if case:
            cases[case].append(source_guid[document_id])
    for case in on_cases:
        cases.setdefault(case, [])
    if cases:
        element = etree.SubElement(project, f"{P}Cases")
        for case, members in cases.items():
            case_element = etree.SubElement(element, f"{P}Case", guid=guid("case", case), name=case)
            for variable, value in on_cases.get(case, {}).items():  # variables on the case (REFI-QDA 1.5)
                value_element = etree.SubElement(case_element, f"{P}VariableValue")
                etree.SubElement(value_element, f"{P}VariableRef", targetGUID=guid("variable", variable))
                etree.SubElement(value_element, f"{P}TextValue").text = value
            for member in members:
                etree.SubElement(case_element, f"{P}SourceRef", targetGUID=member)
    files: dict[str, bytes] = {}
    if len(documents):
        sources = etree.SubElement(project, f"{P}Sources")
        by_document = {k: g for k, g in codings.groupby("document_id", sort=False)}
        pending = {k: g for k, g in suggestions.groupby("document_id", sort=False)} if len(suggestions) else {}
        for row in documents.itertuples(index=False):
            key = source_guid[row.document_id]
            files[f"sources/{key}.txt"] = row.text.encode("utf-8")
            source = etree.SubElement(sources, f"{P}TextSource", guid=key, name=row.document_id,
                                      plainTextPath=f"internal://{key}.txt")
            _selections(source, row, by_document.get(row.document_id), targets, user_guid, P)
            _suggestions(source, row, pending.get(row.document_id), targets, user_guid, P)
            _memo_refs(source, row, memos, user_guid, P)
            for variable, kind in variables.items():
                value = metadata[row.document_id].get(variable)
                if value is None or str(value) == "":
                    continue
                value_element = etree.SubElement(source, f"{P}VariableValue")
                etree.SubElement(value_element, f"{P}VariableRef", targetGUID=guid("variable", variable))
                etree.SubElement(value_element, f"{P}{'DateValue' if kind == 'Date' else 'TextValue'}").text = str(value)
    _notes(project, codebook_element, memos, targets, user_guid, P)
    sets = sets_element(f"{P}Sets", roots, codebook)
    if sets is not None:
        project.append(sets)
    for memo in memos[memos["target"] == "project"].itertuples(index=False):  # notes on the project as a whole
        etree.SubElement(project, f"{P}NoteRef", targetGUID=guid("note", str(memo.memo_id)))
    files["project.qde"] = _xml(project)
    _write_zip(out, files)
    return {
        "path": str(out), "sources": len(documents), "codes": len(targets), "users": users,
        "codings": len(codings), "suggestions": len(suggestions), "notes": len(memos),
        "skipped": [{"what": "coding", "name": f"{r.code} by {r.coder} in {r.document}",
                     "reason": "stale: the document's text changed since it was coded"}
                    for r in stale.itertuples(index=False)],
    }


def export_qdc(codebook: Codebook, out: Path) -> dict:
    """Write the codebook alone (``.qdc``): codes, direction children and factor-type sets."""
    C = f"{{{CODEBOOK_NS}}}"
    root = etree.Element(f"{C}CodeBook", nsmap={None: CODEBOOK_NS}, origin=f"Pilah {pipeline.__version__}")
    roots = export_codes(codebook)
    root.append(codes_element(f"{C}Codes", roots, codebook))
    sets = sets_element(f"{C}Sets", roots, codebook)
    if sets is not None:
        root.append(sets)
    write_bytes(Path(out), _xml(root))  # all or nothing (pipeline.outputs)
    return {"path": str(out), "codes": len(_targets(roots))}


def _xml(root) -> bytes:
    """UTF-8, no byte-order mark, the declaration in double quotes as every tool writes it."""
    return (b'<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n'
            + etree.tostring(root, encoding="utf-8", xml_declaration=False, pretty_print=True))


def _pending(store: Store) -> pd.DataFrame:
    """Suggestions in force that no reviewer has decided on yet."""
    pending = store.suggestions_frame(pending=True)
    segments = store.segments_frame()[["segment_id", "document_id"]]
    return pending.merge(segments, on="segment_id", how="inner")


# -- memos as REFI-QDA notes (the workspace's memos, pipeline.serve) ---------------------
def _memos(store) -> pd.DataFrame:
    """The memos in force as the view shows them (``ProjectView.memos_frame``: pseudonymised
    under a pseudonymised view); a segment memo gets its segment's place (memos on segments
    no longer current are left out: their place is gone)."""
    memos = store.memos_frame()
    memos["document_id"] = memos["target_id"]
    segments = store.segments_frame()[["segment_id", "document_id", "segment_start", "segment_end"]]
    place = segments.set_index("segment_id")
    on_segment = memos["target"] == "segment"
    known = memos["target_id"].isin(place.index)
    memos.loc[on_segment & known, "document_id"] = memos.loc[on_segment & known, "target_id"].map(place["document_id"])
    memos["start"] = memos["target_id"].map(place["segment_start"]).where(on_segment)
    memos["end"] = memos["target_id"].map(place["segment_end"]).where(on_segment)
    return memos[~on_segment | known].sort_values("memo_id").reset_index(drop=True)


def _memo_refs(source, document, memos: pd.DataFrame, user_guid, P) -> None:
    """A document's memos as ``NoteRef``; a segment memo as a selection of the segment with its ``NoteRef``."""
    mine = memos[memos["document_id"] == document.document_id]
    for memo in mine[mine["target"] == "segment"].itertuples(index=False):
        start, end = int(memo.start), int(memo.end)
        selection = etree.Element(f"{P}PlainTextSelection", guid=guid("memo selection", str(memo.memo_id)),
                                  name=_quote(document.text[start:end]), startPosition=str(start), endPosition=str(end),
                                  creatingUser=user_guid[memo.author], creationDateTime=_datetime(memo.created_at))
        etree.SubElement(selection, f"{P}NoteRef", targetGUID=guid("note", str(memo.memo_id)))
        _insert(source, selection, after=("Description", "PlainTextContent", "PlainTextSelection"), P=P)
    for memo in mine[mine["target"] == "document"].itertuples(index=False):
        note = etree.Element(f"{P}NoteRef", targetGUID=guid("note", str(memo.memo_id)))
        _insert(source, note, after=("Description", "PlainTextContent", "PlainTextSelection", "Coding", "NoteRef"), P=P)


def _notes(project, codebook_element, memos: pd.DataFrame, targets, user_guid, P) -> None:
    """``<Notes>`` after the sources, one ``Note`` per memo; a code memo's ``NoteRef`` on its code."""
    if not len(memos):
        return
    notes = etree.Element(f"{P}Notes")
    names = {"project": "Memo on the project", "document": "Memo on document", "code": "Memo on code",
             "segment": "Memo on a segment of"}
    for memo in memos.itertuples(index=False):
        target = memo.target_id if memo.target != "segment" else memo.document_id
        note = etree.SubElement(notes, f"{P}Note", guid=guid("note", str(memo.memo_id)),
                                name=f"{names[memo.target]} {target}".strip(), creatingUser=user_guid[memo.author],
                                creationDateTime=_datetime(memo.created_at))
        etree.SubElement(note, f"{P}PlainTextContent").text = memo.text
        if memo.target == "code" and (memo.target_id, None) in targets:
            code = codebook_element.find(f".//{P}Code[@guid='{targets[(memo.target_id, None)]}']")
            _insert(code, etree.Element(f"{P}NoteRef", targetGUID=guid("note", str(memo.memo_id))),
                    after=("Description", "NoteRef"), P=P)
    _insert(project, notes, after=("Users", "CodeBook", "Variables", "Cases", "Sources"), P=P)


def _insert(parent, element, after: tuple[str, ...], P: str) -> None:
    """Put ``element`` into ``parent`` after its last child named in ``after`` (the schema's order)."""
    at = 0
    for n, child in enumerate(parent):
        if child.tag in {f"{P}{name}" for name in after}:
            at = n + 1
    parent.insert(at, element)


def _targets(roots) -> dict[tuple[str, str | None], str]:
    """``{(code, direction or None): GUID}`` of every code the file holds."""
    found = {}

    def walk(node) -> None:
        found[(node.id, None)] = node.guid
        for direction, child in node.direction_guids.items():
            found[(node.id, direction)] = child
        for child in node.children:
            walk(child)

    for root in roots:
        walk(root)
    return found


def _selections(source, document, codings, targets, user_guid, P) -> None:
    if codings is None:
        return
    for (start, end), group in codings.groupby(["start", "end"], sort=True):
        first = group.iloc[0]
        selection = etree.SubElement(
            source, f"{P}PlainTextSelection", guid=guid("selection", document.document_id, str(start), str(end)),
            name=_quote(document.text[int(start):int(end)]), startPosition=str(int(start)), endPosition=str(int(end)),
            creatingUser=user_guid[first["coder"]], creationDateTime=_datetime(first["created_at"]))
        for coding in group.itertuples(index=False):
            direction = coding.direction or None
            element = etree.SubElement(
                selection, f"{P}Coding", guid=guid("coding", document.document_id, str(start), str(end), coding.code,
                                                   coding.coder, direction or ""),
                creatingUser=user_guid[coding.coder], creationDateTime=_datetime(coding.created_at))
            etree.SubElement(element, f"{P}CodeRef", targetGUID=targets[(coding.code, direction)])


def _suggestions(source, document, suggestions, targets, user_guid, P) -> None:
    if suggestions is None:
        return
    for row in suggestions.sort_values(["segment_start", "code"]).itertuples(index=False):
        selection = etree.SubElement(
            source, f"{P}PlainTextSelection", guid=guid("suggestion", row.suggestion_id),
            name=f"Pilah suggestion: {row.code} ({row.direction}, {row.score:.2f})",
            startPosition=str(int(row.segment_start)), endPosition=str(int(row.segment_end)),
            creatingUser=user_guid[SUGGESTION_USER])
        etree.SubElement(selection, f"{P}Description").text = (
            f"Pilah suggestion, pending review: code {row.code}; direction {row.direction}; factor type "
            f"{row.factor_type}; score {row.score:.3f}; source {row.source}"
            + (f"; confidence {row.confidence}" if row.confidence else "") + f"; evidence: {row.evidence}")
        coding = etree.SubElement(selection, f"{P}Coding", guid=guid("suggestion coding", row.suggestion_id),
                                  creatingUser=user_guid[SUGGESTION_USER])
        etree.SubElement(coding, f"{P}CodeRef", targetGUID=targets[(row.code, row.direction or None)])


def _case_table(store, documents: pd.DataFrame) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The project's case table (``pilah cases``; the copy its store keeps): ``{case:
    {variable: value}}`` and ``{document id: case}`` for the documents it assigns. Read
    from the store under a (pseudonymised) view, its values pseudonymised like the rest."""
    rows = store.unmasked().case_table_rows()
    pseudonymizer = getattr(store, "pseudonymizer", None)
    shown = pseudonymizer.text if pseudonymizer is not None else (lambda value: value)
    ids = {path: document_id for document_id, path in zip(documents["document_id"], documents["path"])}
    ids.update({document_id: document_id for document_id in documents["document_id"]})
    if pseudonymizer is not None:  # the table names documents by their real path
        ids.update({key: store.document_id(key) for key in {r[1] for r in rows if r[0] == "document"}})
    on_cases: dict[str, dict[str, str]] = {}
    case_of: dict[str, str] = {}
    for kind, key, attribute, value in rows:
        if kind == "case" and attribute != "case":
            on_cases.setdefault(shown(key), {})[attribute] = shown(value)
        elif kind == "case":
            on_cases.setdefault(shown(key), {})
        elif kind == "document" and attribute == "case" and key in ids:
            case_of[ids[key]] = shown(value)
    return on_cases, case_of


def _variables(metadata: dict[str, dict]) -> dict[str, str]:
    """``{variable: typeOfVariable}`` from the documents' manifest columns."""
    values: dict[str, list[str]] = defaultdict(list)
    for meta in metadata.values():
        for key, value in meta.items():
            if key not in _NOT_VARIABLES and not key.startswith("refi_") and value is not None and str(value) != "":
                values[key].append(str(value))
    return {key: "Date" if all(_DATE.match(v) for v in found) else "Text" for key, found in values.items()}


def _quote(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _datetime(value: str) -> str:
    return str(value) if value else now()


def _write_zip(out: Path, files: dict[str, bytes]) -> None:
    """The archive, written all or nothing (``pipeline.outputs.replacing``)."""
    with replacing(Path(out)) as (temporary, _):
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for entry in sorted(files, key=lambda e: (e != "project.qde", e)):
                data = files[entry]
                archive.writestr(zipfile.ZipInfo(entry, date_time=(2020, 1, 1, 0, 0, 0)), data,
                                 compress_type=zipfile.ZIP_DEFLATED)
