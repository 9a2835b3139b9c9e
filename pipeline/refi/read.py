"""Import: another tool's REFI-QDA project (``.qdpx``) or codebook (``.qdc``) into a project.

Files are read as real exports write them, not only as the specification says (see
``pipeline.refi.archive`` for the safety rules and ``pipeline.refi.text`` for offsets).
Everything not imported is listed with its reason; the rest is kept:

- **codes** merge into the project's codebook (``pipeline.refi.codebook.merge_codes``);
- **text sources** become documents (id = the source's name; a name that repeats gets its
  GUID added), cut into segments as ``pilah run`` cuts them — except that a source whose
  paragraphs or turns run over many lines (NVivo's tables: one cell a line; see
  ``_segments``) is cut at its line breaks — with languages, tokens and suggestions, so
  they are reviewed like any document;
- **codings** become codings of their users, each on its exact span. A span stands for the
  segments it covers at least half of (``SEGMENT_SHARE``): one such segment → that
  segment's coding (with an ``add`` decision by its coder, so ``pilah retrain`` and ``pilah
  agreement`` count it); several → each of them; none (a few words of a long paragraph) →
  the span alone, kept and exported again but not used for training or agreement;
- PDF, picture, audio and video sources and their selections, transcripts, notes, links,
  graphs and sets other than Pilah's are reported and skipped.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from lxml import etree

from pipeline.codebook import Codebook, parse_codebook
from pipeline.engine import Stages, settings_key
from pipeline.ingest import text as ingest_text
from pipeline.ingest.transcript import parse_transcript, turn_patterns
from pipeline.records import Block, Document, Segment
from pipeline.refi.archive import Archive, RefiError, parse_xml
from pipeline.outputs import writable_text, write_text
from pipeline.refi.codebook import (CodeTreeError, MergeReport, merge_codes, normal_guid, one_line, read_codes,
                                    read_factor_sets)
from pipeline.refi.text import choose_unit, docx_text, stored_text, unit_offsets
from pipeline.refi.write import SUGGESTION_USER, USERS_SETTING
from pipeline.segment import segment_document
from pipeline.store import ImportedCoding, Store, run_lock
from pipeline.suggest.scoring import model_checksum

SEGMENT_SHARE = 0.5
LINES_PER_PARAGRAPH = 3
_OTHER_SOURCES = {"PDFSource": "PDF", "PictureSource": "picture", "AudioSource": "audio", "VideoSource": "video"}
_SELECTIONS = ("PlainTextSelection", "PDFSelection", "PictureSelection", "AudioSelection", "VideoSelection",
               "TranscriptSelection")
_LINE = re.compile(r"(?m)^[ \t]*(\S[^\n]*)")
_PARAGRAPH = re.compile(r"\S(?:.*\S)?(?:\n(?!\s*\n).*\S)*")  # text between blank lines, as pipeline.segment reads it


@dataclass
class ImportReport:
    """What an import brought in, and each thing it did not, with the reason."""

    path: str
    kind: str
    sources: list[str] = field(default_factory=list)
    documents_unchanged: list[str] = field(default_factory=list)
    documents_changed: list[str] = field(default_factory=list)  # a new version of a document the project holds
    users: list[str] = field(default_factory=list)
    codes: MergeReport = field(default_factory=MergeReport)
    codings: Counter = field(default_factory=Counter)
    skipped: list[dict] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    codebook: str | None = None
    seconds: float = 0.0

    def skip(self, what: str, name: str, reason: str) -> None:
        self.skipped.append({"what": what, "name": name, "reason": reason})

    def as_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "sources": self.sources,
                "documents_unchanged": self.documents_unchanged, "documents_changed": self.documents_changed,
                "users": self.users, "codes": self.codes.as_dict(),
                "codings": dict(self.codings), "offset_units": self.units, "codebook": self.codebook,
                "skipped": self.skipped, "skipped_by_reason": dict(Counter(s["reason"] for s in self.skipped)),
                "seconds": round(self.seconds, 2)}


def import_file(path: Path, project_dir: Path, config, codebook: Codebook, codebook_out: Path,
                suggest: bool = True, model_for=None) -> ImportReport:
    """Import a ``.qdpx`` or ``.qdc`` into the project at ``project_dir``.

    New sources are segmented, their languages detected and (with ``suggest``) tokenized and
    given suggestions by the project's model, as ``pilah run`` does for a corpus document;
    without ``suggest`` they are stored with segments and languages only (token counts 0).

    The merged codebook is written to ``codebook_out`` when the file brings codes or factor
    types the project's codebook lacks (the project's codebook file itself is never
    overwritten unless it is ``codebook_out``).

    ``model_for(codebook)``: the project's model for the merged codebook, ``(scorer, meta,
    dir)`` (``pipeline.project.Project.model``); ``None``: the codebook's rules suggest alone.
    """
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise RefiError(path, "file not found")
    suffix = path.suffix.lower()
    if suffix == ".qdc":
        report = ImportReport(str(path), "qdc")
        data = path.read_bytes()
        if len(data) > 256 << 20:
            raise RefiError(path, "a codebook over 256 MB; refused")
        root = parse_xml(data, path, path.name).getroot()
        ns = _namespace(root)
        if root.tag != f"{ns}CodeBook":
            raise RefiError(path, f"expected a REFI-QDA codebook (root CodeBook), found {root.tag}")
        _merge(root.find(f"{ns}Codes"), root.find(f"{ns}Sets"), ns, codebook, codebook_out, report, path)
    elif suffix == ".qdpx":
        report = ImportReport(str(path), "qdpx")
        with Archive(path) as archive:
            entry = archive.project_entry()
            root = parse_xml(archive.read(entry), path, entry).getroot()
            ns = _namespace(root)
            if root.tag != f"{ns}Project":
                raise RefiError(path, f"{entry}: expected a REFI-QDA project (root Project), found {root.tag}")
            check_unique_guids(root, ns, path)  # before anything is merged or stored
            codebook_element = root.find(f"{ns}CodeBook")
            merged = _merge(codebook_element.find(f"{ns}Codes") if codebook_element is not None else None,
                            root.find(f"{ns}Sets"), ns, codebook, codebook_out, report, path)
            _import_project(root, ns, archive, project_dir, config, merged, report, suggest, model_for)
    else:
        raise RefiError(path, f"expected a .qdpx (project) or .qdc (codebook), found {suffix or 'no extension'}")
    report.seconds = time.perf_counter() - started
    return report


def _namespace(root) -> str:
    return root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""


def check_unique_guids(root, ns: str, path: Path) -> None:
    """Refuse a file in which two users or two codes share a GUID, naming each duplicate.

    Codings point to their code and their coder by GUID: with two codes (or users) under
    one GUID, which one a coding means is unknown, and merging them would drop one code and
    give the codings of one coder to the other. Nothing is imported from such a file.
    """
    problems = []
    for kind in ("User", "Code"):
        names: dict[str, list[str]] = {}
        for element in root.iter(f"{ns}{kind}"):
            names.setdefault(normal_guid(element.get("guid", "")), []).append(one_line(element.get("name")))
        problems += [f"{kind.lower()}s {', '.join(repr(n) for n in held)} share the GUID {guid}"
                     for guid, held in names.items() if guid and len(held) > 1]
    if problems:
        raise RefiError(path, f"{len(problems)} duplicate GUID(s), so codings cannot be told apart: "
                              f"{'; '.join(problems[:20])}{' …' if len(problems) > 20 else ''}; nothing was "
                              "imported: export the file again from its tool, or give each one its own GUID")


def _merge(codes, sets, ns, codebook: Codebook, codebook_out: Path, report: ImportReport, path: Path) -> Codebook:
    check_unique_guids(codes if codes is not None else etree.Element("none"), ns, path)
    try:
        found = read_codes(codes, ns)
    except CodeTreeError as exc:
        raise RefiError(path, str(exc)) from None
    raw, merge = merge_codes(codebook.raw, found, read_factor_sets(sets, ns))
    report.codes = merge
    if not merge.added and not merge.factor_types_added:
        return codebook
    merged = parse_codebook(raw, source=str(codebook_out))  # validates; raises ConfigError listing problems
    codebook_out = Path(codebook_out)
    write_text(codebook_out,  # all or nothing (pipeline.outputs): never a codebook cut short
               "# Pilah codebook: the project's codes with those imported by `pilah import` (REFI-QDA).\n"
               + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=1000))
    report.codebook = str(codebook_out)
    return merged


def _import_project(root, ns, archive: Archive, project_dir: Path, config, codebook: Codebook,
                    report: ImportReport, suggest: bool, model_for=None) -> None:
    users = _users(root, ns)
    report.users = sorted(set(users.values()))
    context = {"users": users, "cases": _cases(root, ns), "names": Counter(),
               "turn_pattern": turn_patterns(config.section("ingest")),
               "variables": {normal_guid(v.get("guid", "")): v.get("name", "") for v in root.iter(f"{ns}Variable")}}
    with run_lock(project_dir), Store(project_dir) as store:  # an import writes documents as a run does
        model, meta, _ = model_for(codebook) if model_for is not None else (None, None, None)
        stages = Stages(config, codebook, model).use_store(store)
        key = settings_key(config, codebook, model_checksum(meta), stages.encoder_id)
        run_id = store.start_run(f"import {archive.path}")
        existing = {row.document_id: row.version for row in store.documents_frame().itertuples(index=False)}

        def save(document: Document) -> list[Segment]:
            if existing.get(document.id) == document.version:
                report.documents_unchanged.append(document.id)
                return _stored_segments(store, document.id)
            if document.id in existing:
                report.documents_changed.append(document.id)
            report.sources.append(document.id)
            return _save(document, stages, store, run_id, meta["version"] if meta else None, key, suggest)

        rows: list[ImportedCoding] = []
        sources = root.find(f"{ns}Sources")
        for source in sources if sources is not None else []:
            rows += _import_source(source, ns, archive, codebook, context, save, report)
        counts = store.add_imported_codings(rows, source=f"REFI-QDA {archive.path.name}")
        known = json.loads(store.setting(USERS_SETTING) or "[]")
        store.set_setting(USERS_SETTING, json.dumps(sorted(set(known) | set(users.values()) - {SUGGESTION_USER}),
                                                    ensure_ascii=False))
        report.codings["added"] = counts["added"]
        report.codings["already in the project"] = counts["unchanged"]
        for what in ("Notes", "Links", "Graphs"):
            element = root.find(f"{ns}{what}")
            if element is not None and len(element):
                report.skip(what.lower()[:-1], f"{len(element)} {what.lower()}", f"{what.lower()} are not imported: "
                            "Pilah keeps codes, sources and codings")
        if report.codes.other_sets:
            report.skip("set", f"{report.codes.other_sets} sets", "sets other than Pilah's factor types are not imported: "
                        "Pilah keeps no sets")
        store.finish_run(run_id, {"counts": {"documents": len(report.sources) + len(report.documents_unchanged),
                                             "documents_processed": len(report.sources)},
                                  "import": report.as_dict()})


def _import_source(source, ns, archive: Archive, codebook: Codebook, context: dict, save,
                   report: ImportReport) -> list[ImportedCoding]:
    """One source of the file → a stored document and its codings (or a reason it is skipped)."""
    kind = _local_name(source)
    name = one_line(source.get("name")) or f"source {normal_guid(source.get('guid', ''))[:8]}"
    if kind != "TextSource":
        _skip_source(source, ns, name, f"{_OTHER_SOURCES.get(kind, kind)} source: Pilah imports text sources only", report)
        return []
    raw = _source_text(source, ns, archive, name, report)
    if raw is None:
        return []
    stored = stored_text(raw)
    if not stored.text.strip():
        _skip_source(source, ns, name, "the source holds no text", report)
        return []
    context["names"][name] += 1
    source_guid = normal_guid(source.get("guid", ""))
    document_id = name if context["names"][name] == 1 else f"{name} ({source_guid[:8]})"
    if document_id != name:
        report.skip("name", name, f"the name repeats in the file; imported as {document_id!r}")
    metadata = {"refi_guid": source_guid, "refi_file": archive.path.name,
                **_source_variables(source, ns, context["variables"])}
    if context["cases"].get(source_guid):
        metadata["case"] = context["cases"][source_guid]
    turns = parse_transcript(stored.text, context["turn_pattern"])
    document = Document(id=document_id, path=document_id, format="refi",
                        layout="transcript" if turns.is_transcript else "paragraphs", text=stored.text,
                        metadata=metadata, blocks=tuple(turns.blocks) if turns.is_transcript else ())
    segments = save(document)
    return _codings(source, ns, raw, stored, document, segments, context["users"], codebook, report)


def _local_name(element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _users(root, ns) -> dict[str, str]:
    found: dict[str, str] = {}
    seen: Counter = Counter()
    for user in root.iter(f"{ns}User"):
        name = one_line(user.get("name")) or f"user {normal_guid(user.get('guid', ''))[:8]}"
        seen[name] += 1
        found[normal_guid(user.get("guid", ""))] = name if seen[name] == 1 else f"{name} ({normal_guid(user.get('guid', ''))[:8]})"
    return found


def _cases(root, ns) -> dict[str, str]:
    """``{source GUID: case name}`` (the first case naming the source)."""
    found: dict[str, str] = {}
    for case in root.iter(f"{ns}Case"):
        for ref in case.findall(f"{ns}SourceRef"):
            found.setdefault(normal_guid(ref.get("targetGUID", "")), one_line(case.get("name")))
    return found


def _source_variables(source, ns, variables: dict[str, str]) -> dict[str, str]:
    found = {}
    for value in source.findall(f"{ns}VariableValue"):
        ref = value.find(f"{ns}VariableRef")
        name = variables.get(normal_guid(ref.get("targetGUID", ""))) if ref is not None else None
        held = [child.text or "" for child in value if _local_name(child) != "VariableRef"]
        if name and held:
            found[one_line(name)] = writable_text(held[0])
    return found


def _source_text(source, ns, archive: Archive, name: str, report: ImportReport) -> str | None:
    """The source's plain text: its ``plainTextPath`` file, else the text of its ``.docx``
    (when the plain-text file is empty or missing), else its ``PlainTextContent``."""
    plain, rich = source.get("plainTextPath"), source.get("richTextPath")
    text = None
    if plain:
        entry = archive.find_source(plain)
        if entry is not None:
            text, _ = ingest_text.decode(archive.read(entry), f"{archive.path}:{entry}")
    if (text is None or not text.strip()) and rich and rich.lower().endswith(".docx"):
        entry = archive.find_source(rich)
        if entry is not None:
            text = _docx(archive, entry)
    if (text is None or not text.strip()) and source.find(f"{ns}PlainTextContent") is not None:
        text = source.findtext(f"{ns}PlainTextContent") or ""
    if text is None:
        _skip_source(source, ns, f"{name} ({plain or rich or 'no path'})", "its text file is not in the archive", report)
    return text


def _docx(archive: Archive, entry: str) -> str:
    import io
    import zipfile

    data = archive.read(entry)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            info = inner.getinfo("word/document.xml")
            if info.file_size > archive.max_bytes - archive.read_bytes:
                raise RefiError(archive.path, f"{entry}: word/document.xml decompresses past the archive's limit; refused")
            with inner.open(info) as stream:
                xml = stream.read(archive.max_bytes - archive.read_bytes + 1)
            archive.read_bytes += len(xml)
            if archive.read_bytes > archive.max_bytes:
                raise RefiError(archive.path, f"{entry}: decompresses past the archive's limit; refused as a possible zip bomb")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise RefiError(archive.path, f"{entry}: not a readable .docx: {exc}") from None
    return docx_text(parse_xml(xml, archive.path, f"{entry}:word/document.xml"))


def _skip_source(source, ns, name: str, reason: str, report: ImportReport) -> None:
    report.skip("source", name, reason)
    for element in source.iter():
        kind = _local_name(element)
        if kind in _SELECTIONS:
            codings = len(element.findall(f"{ns}Coding"))
            report.skip(kind, f"{element.get('name') or element.get('guid')} in {name} ({codings} coding(s))",
                        f"{kind} on a source that was not imported")
            report.codings["on sources not imported"] += codings


def _segments(document: Document, researchers=()) -> list[Segment]:
    """Pilah's segments (paragraphs, or turns; those of ``researchers`` with their role,
    ``pipeline.segment``); where they hold more than
    ``LINES_PER_PARAGRAPH`` lines on average — a table exported one cell a line (NVivo), a
    text whose paragraphs are single lines — each paragraph or turn is cut at its line
    breaks instead, the pieces keeping their turn's speaker and time."""
    segments = segment_document(document, researchers)
    lines = len(_LINE.findall(document.text))
    if not segments or lines <= LINES_PER_PARAGRAPH * len(segments):
        return segments
    spans = document.blocks or tuple(Block(m.start(), m.end()) for m in _PARAGRAPH.finditer(document.text))
    pieces = []
    for block in spans:
        position = block.start
        for line in document.text[block.start:block.end].split("\n"):
            start, end = position + len(line) - len(line.lstrip()), position + len(line.rstrip())
            if end > start:
                pieces.append(replace(block, start=start, end=end))
            position += len(line) + 1
    return segment_document(replace(document, blocks=tuple(pieces)), researchers)


def _save(document: Document, stages: Stages, store: Store, run_id: int, model_version, key: str,
          suggest: bool) -> list[Segment]:
    seconds: Counter = Counter()
    segments = stages.detect_language(_segments(document, stages.researchers), seconds)
    tokens, suggestions = [0] * len(segments), []
    if suggest:
        items = stages.tokenize(segments, seconds)
        tokens, suggestions = [len(doc) for _, doc in items], stages.suggest(items, seconds)
    processing_key = hashlib.sha256(f"{document.version}|refi|{key}|{suggest}".encode()).hexdigest()
    store.save_document(document, segments, tokens, suggestions, processing_key, run_id, model_version)
    return segments


def _stored_segments(store: Store, document_id: str) -> list[Segment]:
    frame = store.segments_frame([document_id])
    return [Segment(id=r.segment_id, document_id=r.document_id, index=int(r.idx), start=int(r.segment_start),
                    end=int(r.segment_end), text=r.segment_text) for r in frame.itertuples(index=False)]


def _codings(source, ns, raw, stored, document, segments, users, codebook, report) -> list[ImportedCoding]:
    selections = []
    for selection in source.findall(f"{ns}PlainTextSelection"):
        try:
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
        except (TypeError, ValueError):
            report.skip("selection", f"{selection.get('name') or selection.get('guid')} in {document.id}",
                        "startPosition/endPosition missing or not whole numbers")
            continue
        selections.append((selection, start, end))
    unit = choose_unit(raw, [(s, e, sel.get("name") or "") for sel, s, e in selections])
    report.units[document.id] = unit
    offsets = unit_offsets(raw, unit)
    starts = [s.start for s in segments]
    rows = []
    for selection, start, end in selections:
        where = f"{start}–{end} in {document.id}"
        codings = selection.findall(f"{ns}Coding")
        if not codings:
            report.skip("selection", where, "a selection with no coding (a description or memo only)")
            continue
        if not (0 <= start <= end < len(offsets)) or offsets[start] < 0 or offsets[end] < 0:
            for _ in codings:
                report.skip("coding", f"{where} ({len(raw)} characters)", "positions outside the source's text")
            continue
        a, b = int(stored.starts[offsets[start]]), int(stored.ends[offsets[end]])
        if b <= a:
            for _ in codings:
                report.skip("coding", where, "the selection holds no text once line ends and spaces are normalised")
            continue
        covered = _covered(segments, starts, a, b)
        for coding in codings:
            ref = coding.find(f"{ns}CodeRef")
            target = normal_guid(ref.get("targetGUID", "")) if ref is not None else ""
            if target in report.codes.directions:
                code, direction = report.codes.directions[target]
            elif target in report.codes.codes:
                code, direction = report.codes.codes[target], None
            else:
                report.skip("coding", where, f"its code {target or '(none)'} is not in the file's codebook")
                continue
            if code not in codebook.codes or not codebook.codes[code].codable:
                report.skip("coding", where, f"code {code!r} is a folder (not codable) in the project's codebook")
                continue
            user = normal_guid(coding.get("creatingUser") or selection.get("creatingUser") or "")
            coder = users.get(user) or (f"user {user[:8]}" if user else "unknown coder")
            if coder == SUGGESTION_USER:
                report.skip("coding", where, "a Pilah suggestion, not a coding: it is reviewed in Pilah's sheet")
                continue
            rows.append(ImportedCoding(document.id, document.version, a, b, stored.text[a:b], code, direction, coder,
                                       tuple(covered)))
            report.codings["segment" if len(covered) == 1 else "several segments" if covered else "span only"] += 1
    return rows


def _covered(segments: list[Segment], starts: list[int], a: int, b: int) -> list[str]:
    """The segments a span ``[a, b)`` covers at least ``SEGMENT_SHARE`` of."""
    found = []
    i = max(bisect.bisect_right(starts, a) - 1, 0)
    while i < len(segments) and segments[i].start < b:
        segment = segments[i]
        overlap = min(b, segment.end) - max(a, segment.start)
        if overlap > 0 and overlap >= SEGMENT_SHARE * (segment.end - segment.start):
            found.append(segment.id)
        i += 1
    return found
