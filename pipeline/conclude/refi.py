"""The case table in and out of REFI-QDA: ``Case`` elements with their ``VariableValue``s.

REFI-QDA 1.5 puts variables on sources and on cases (``CaseType``: ``VariableValue*`` then
``SourceRef*``). Going out (``pipeline.refi.write``), each case of the table carries its own
attributes as variables, and its documents as source references. Coming in
(:func:`import_cases`), a project's cases and their variables become case rows of the table
and its source references document rows; a cell the table fills already is kept.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.conclude.cases import CaseTable, read_case_table, write_case_table
from pipeline.refi.archive import Archive, RefiError, parse_xml
from pipeline.refi.codebook import normal_guid


def read_cases(path: Path) -> CaseTable:
    """The cases of a ``.qdpx`` as a case table: a row per case with its variables, a row
    per source it names (``document`` = the source's name)."""
    path = Path(path)
    if path.suffix.lower() != ".qdpx":
        raise RefiError(path, "expected a REFI-QDA project (.qdpx)")
    with Archive(path) as archive:
        entry = archive.project_entry()
        root = parse_xml(archive.read(entry), path, entry).getroot()
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    variables = {normal_guid(v.get("guid", "")): v.get("name", "") for v in root.iter(f"{ns}Variable")}
    sources = {normal_guid(s.get("guid", "")): s.get("name", "") for s in root.iter()
               if isinstance(s.tag, str) and s.tag.endswith("Source") and s.get("guid")}
    table = CaseTable(source=str(path))
    for case in root.iter(f"{ns}Case"):
        name = (case.get("name") or "").strip() or f"case {normal_guid(case.get('guid', ''))[:8]}"
        row = {"case": name}
        for value in case.findall(f"{ns}VariableValue"):
            ref = value.find(f"{ns}VariableRef")
            variable = variables.get(normal_guid(ref.get("targetGUID", ""))) if ref is not None else None
            held = [child.text or "" for child in value if child is not ref]
            if variable and held and held[0].strip():
                row[variable] = held[0].strip()
                if variable not in table.attributes:
                    table.attributes.append(variable)
        table.rows.append(row)
        for ref in case.findall(f"{ns}SourceRef"):
            source = sources.get(normal_guid(ref.get("targetGUID", "")))
            if source:
                table.rows.append({"case": name, "document": source})
    return table


def import_cases(qdpx: Path, table_path: Path) -> dict:
    """Merge the cases of ``qdpx`` into the case table at ``table_path`` (made when absent):
    new rows are added, empty cells filled; a value the table holds is kept, and a
    different one in the file is reported; a file without cases changes nothing. Returns
    ``{"added_rows", "filled", "conflicts", "cases"}``."""
    incoming = read_cases(qdpx)
    if not incoming.rows:
        return {"added_rows": 0, "filled": 0, "conflicts": [], "cases": 0}
    table = read_case_table(table_path) if Path(table_path).exists() else CaseTable(source=str(table_path))
    index = {_key(row): row for row in table.rows}
    added, filled, conflicts = 0, 0, []
    for row in incoming.rows:
        held = index.get(_key(row))
        if held is None:
            table.rows.append(dict(row))
            index[_key(row)] = table.rows[-1]
            added += 1
            continue
        for column, value in row.items():
            if not held.get(column):
                held[column] = value
                filled += 1
            elif held[column] != value:
                conflicts.append(f"{row['case']}: {column} is {held[column]!r} in the table, {value!r} in {qdpx}")
    table.attributes += [a for a in incoming.attributes if a not in table.attributes]
    write_case_table(table, table_path)
    return {"added_rows": added, "filled": filled, "conflicts": conflicts,
            "cases": len([r for r in incoming.rows if CaseTable.kind(r) == "case"])}


def _key(row: dict) -> tuple:
    return (CaseTable.kind(row), row.get("case", "") if CaseTable.kind(row) == "case" else "",
            row.get("document", ""), row.get("speaker", "").casefold())


def case_variables(store) -> dict[str, dict[str, str]]:
    """``{case: {variable: value}}`` of the case table's copy in ``store`` (for the export)."""
    found: dict[str, dict[str, str]] = {}
    rows = store.case_table_rows() if hasattr(store, "case_table_rows") else []
    for kind, key, attribute, value in rows:
        if kind == "case" and attribute != "case":
            found.setdefault(key, {})[attribute] = value
    return found


def document_cases(store) -> dict[str, str]:
    """``{document: case}`` the case table's document rows give (they override the manifest)."""
    rows = store.case_table_rows() if hasattr(store, "case_table_rows") else []
    return {key: value for kind, key, attribute, value in rows if kind == "document" and attribute == "case"}
