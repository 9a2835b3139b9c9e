"""REFI-QDA exchange: the real NVivo 12 and ATLAS.ti 8 exports, Pilah's own project, both ways;
every written file validated against the schemas in ../shared/data/refi_qda."""

from __future__ import annotations

import json
import random
import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from pipeline.codebook import load_codebook
from pipeline.ingest import text as ingest_text
from pipeline.refi import SUGGESTION_USER, export_qdc, export_qdpx, import_file
from pipeline.refi.archive import parse_xml
from pipeline.refi.text import choose_unit, docx_text, stored_text, unit_offsets
from pipeline.store import Decision, Store

from tests.conftest import SHARED_DATA

REFI = SHARED_DATA / "refi_qda"
NVIVO = REFI / "nvivo12_oltas0517.qdpx"
ATLAS = REFI / "atlasti8_TestProject.qdpx"
P = "{urn:QDA-XML:project:1.0}"


@pytest.fixture(scope="session")
def project_schema():
    return etree.XMLSchema(etree.parse(str(REFI / "Project-mrt2019.xsd")))


@pytest.fixture(scope="session")
def codebook_schema():
    return etree.XMLSchema(etree.parse(str(REFI / "Codebook.xsd")))


def check_qdpx(path: Path, schema=None) -> etree._Element:
    """A written .qdpx as the notes require: one project.qde (valid against ``schema`` when
    given), no byte-order mark, a flat lowercase sources/ folder, every plainTextPath inside
    the archive."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert names[0] == "project.qde" and names.count("project.qde") == 1
        assert all(n == "project.qde" or (n.startswith("sources/") and n.count("/") == 1) for n in names)
        data = archive.read("project.qde")
        assert data.startswith(b'<?xml version="1.0" encoding="utf-8"')
        root = etree.fromstring(data)
        if schema is not None:
            assert schema.validate(etree.ElementTree(root)), schema.error_log.filter_from_errors()[:5]
        for source in root.iter(f"{P}TextSource"):
            entry = "sources/" + source.get("plainTextPath").removeprefix("internal://")
            assert entry in names and source.get("richTextPath") is None
            assert not archive.read(entry).startswith(b"\xef\xbb\xbf")
    return root


def snapshot(project: Path, codebook: Path | None = None) -> dict:
    """What a round trip must keep: texts, codings (code, coder, start, end, direction)."""
    with Store(project) as store:
        documents = store.documents_frame()
        codings = store.codings_frame()
    codings = codings[codings["origin"] != "imported-segment"]
    texts = dict(zip(documents["document_id"], documents["text"]))
    for row in codings.itertuples(index=False):
        assert texts[row.document_id][row.start:row.end] == row.text
    return {
        "texts": texts,
        "codings": sorted(zip(codings["document_id"], codings["start"], codings["end"], codings["code"],
                              codings["coder"], codings["direction"].fillna(""))),
    }


def exported_codes(root, ns=P) -> dict:
    """``{guid: (name, parent name, codable, description)}`` of every code of a file."""
    found = {}
    for code in root.iter(f"{ns}Code"):
        parent = code.getparent()
        found[code.get("guid").lower()] = (code.get("name"), parent.get("name") if parent.tag == f"{ns}Code" else None,
                                           code.get("isCodable"), code.findtext(f"{ns}Description") or "")
    return found


def users_of(root) -> set[str]:
    return {u.get("name") for u in root.iter(f"{P}User")}


# -- offsets and text -----------------------------------------------------------------
def test_refi_stored_text_is_ingest_text_and_maps_offsets():
    random.seed(7)
    pieces = ["ab", " ", "\t", "\r\n", "\n", "\r", "e\u0301", "\u00a0", "😀", "\u2028", "x\u0308\u0323", "\x1a", "\x85"]
    for _ in range(2000):
        raw = "".join(random.choice(pieces) for _ in range(random.randint(0, 25)))
        stored = stored_text(raw)
        assert stored.text == ingest_text.tidy(ingest_text.strip_controls(ingest_text.normalise(raw))[0])
        for i in range(len(raw)):  # runs of plain letters land on the same letters
            j = i
            while j < len(raw) and raw[j] in "ab":
                j += 1
                assert stored.text[stored.starts[i]:stored.ends[j]] == raw[i:j]


def test_refi_offsets_in_each_unit_land_on_the_same_text():
    raw = "Halo 😀 dunia.\r\nBaris dua 😀 di sini.\r\n"
    target = raw.index("Baris"), raw.index(" di sini")
    for unit, (start, end) in {"codepoints": (14, 25), "codepoints-crlf": (15, 26),
                               "utf16-crlf": (16, 28), "utf16": (15, 27)}.items():
        offsets = unit_offsets(raw, unit)
        assert (offsets[start], offsets[end]) == target, unit


@pytest.mark.shared_data
def test_refi_nvivo_offsets_are_utf16_code_units_of_the_crlf_text():
    with zipfile.ZipFile(NVIVO) as archive:
        qde = parse_xml(archive.read("project.qde"), NVIVO, "project.qde")
        source = next(s for s in qde.iter(f"{P}TextSource") if s.get("name") == "videos_10_selected")
        raw, _ = ingest_text.decode(archive.read("Sources/68bbdc14-c361-4432-b4dd-ae1dbfc12890.txt"), "x")
        selections = [(int(s.get("startPosition")), int(s.get("endPosition")), s.get("name") or "")
                      for s in source.iter(f"{P}PlainTextSelection")]
        assert choose_unit(raw, selections) == "utf16-crlf"
        offsets = unit_offsets(raw, "utf16-crlf")
        first = raw[offsets[selections[0][0]]:offsets[selections[0][1]]]
        assert first.startswith("Senkit nem lehet kötelezni oltásra") and first.endswith("nem élhet.")
        # under this reading 302 of the 303 selections begin at the start of a word (one coder's
        # selection starts inside one); under the others, fewer than half
        starts = lambda offsets: sum(not (raw[offsets[s] - 1].isalnum() and raw[offsets[s]].isalnum())  # noqa: E731
                                     for s, _, _ in selections)
        assert starts(offsets) == 302 and len(selections) == 303
        assert all(starts(unit_offsets(raw, u)) < 150 for u in ("codepoints", "codepoints-crlf", "utf16"))


@pytest.mark.shared_data
def test_refi_docx_text_is_the_plain_text_nvivo_wrote_beside_it():
    with zipfile.ZipFile(NVIVO) as archive:
        for guid in ("68bbdc14-c361-4432-b4dd-ae1dbfc12890", "ddbebe1b-306f-4271-acdd-ae1da7c06fcd"):
            plain, _ = ingest_text.decode(archive.read(f"Sources/{guid}.txt"), "x")
            import io

            with zipfile.ZipFile(io.BytesIO(archive.read(f"Sources/{guid}.docx"))) as docx:
                rich = docx_text(parse_xml(docx.read("word/document.xml"), NVIVO, "document.xml"))
            assert stored_text(rich).text == stored_text(plain).text


# -- NVivo 12 -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nvivo(tmp_path_factory, config, codebook):
    project = tmp_path_factory.mktemp("nvivo")
    report = import_file(NVIVO, project, config, codebook, project / "codebook.yaml", suggest=False)
    return project, report


@pytest.mark.shared_data
def test_refi_import_nvivo_keeps_every_source_code_user_and_coding(nvivo):
    project, report = nvivo
    figures = report.as_dict()
    assert figures["sources"] == ["videos_selection", "videos_10_selected"]
    assert len(figures["codes"]["added"]) == 152 and not figures["codes"]["conflicts"] and not figures["codes"]["renamed"]
    assert figures["users"] == ["Gergo", "floriansipos"]
    assert figures["offset_units"] == {"videos_selection": "codepoints", "videos_10_selected": "utf16-crlf"}
    assert figures["codings"] == {"segment": 287, "span only": 16, "added": 303, "already in the project": 0}
    assert figures["skipped"] == []
    book = load_codebook(project / "codebook.yaml")
    assert book.codes["piros"].parent == "2. Attitűd szint az oltáshoz" and book.codes["piros"].factor_type == "unspecified"
    assert book.codes["1. Oltás típusa"].definition == "COVID vay nem COVID"
    snap = snapshot(project)
    assert len(snap["codings"]) == 303 and {c[4] for c in snap["codings"]} == {"Gergo"}
    with Store(project) as store:  # the codings on one segment are decisions of their coder: retraining sees them
        from pipeline.retrain import codings_table

        table = codings_table(store)
    assert len(table) == len({c for c in store_segments(project)}) and (table["codes"] != "").all()
    assert "piros" in ";".join(table["codes"])


def store_segments(project: Path) -> set[str]:
    with Store(project) as store:
        codings = store.codings_frame()
    return set(codings["segment_id"].dropna())


@pytest.mark.shared_data
def test_refi_nvivo_round_trip_is_exact(nvivo, tmp_path, config, codebook, project_schema):
    project, _ = nvivo
    book = load_codebook(project / "codebook.yaml")
    with Store(project) as store:
        export_qdpx(store, book, tmp_path / "a.qdpx")
        export_qdpx(store, book, tmp_path / "b.qdpx")
    root = check_qdpx(tmp_path / "a.qdpx", project_schema)
    assert users_of(root) == {"Gergo", "floriansipos"}
    # the NVivo codes go back with their GUIDs, names, places and descriptions
    with zipfile.ZipFile(NVIVO) as archive:
        original = exported_codes(parse_xml(archive.read("project.qde"), NVIVO, "project.qde").getroot())
    written = exported_codes(root)
    assert {g: v for g, v in written.items() if g in original} == original
    # GUIDs are stable: two exports differ in their time stamps only
    strip = lambda p: [e.attrib.get("guid") for e in etree.fromstring(zipfile.ZipFile(p).read("project.qde")).iter()]  # noqa: E731
    assert strip(tmp_path / "a.qdpx") == strip(tmp_path / "b.qdpx")
    again = tmp_path / "again"
    report = import_file(tmp_path / "a.qdpx", again, config, codebook, again / "codebook.yaml", suggest=False)
    assert report.as_dict()["skipped"] == []
    assert snapshot(again) == snapshot(project)
    assert load_codebook(again / "codebook.yaml").codes.keys() == book.codes.keys()


# -- ATLAS.ti 8 -----------------------------------------------------------------------
@pytest.mark.shared_data
def test_refi_import_atlasti_reports_what_it_cannot_use_and_keeps_the_rest(tmp_path, config, codebook, project_schema):
    project = tmp_path / "atlas"
    report = import_file(ATLAS, project, config, codebook, project / "codebook.yaml", suggest=False)
    figures = report.as_dict()
    assert figures["sources"] == [] and figures["users"] == ["ATLAS.ti", "Friedrich Markgraf", "Sebastian Petrausch"]
    assert {"Coke::diet Coke", '"rushed"', "Breakfast food"} <= set(figures["codes"]["added"])
    assert len(figures["codes"]["added"]) == 14
    reasons = figures["skipped_by_reason"]
    assert reasons["its text file is not in the archive"] == 6
    assert reasons["PlainTextSelection on a source that was not imported"] == 8
    assert reasons["PDF source: Pilah imports text sources only"] == 2
    assert reasons["PDFSelection on a source that was not imported"] == 4
    assert reasons["picture source: Pilah imports text sources only"] == 1
    assert reasons["audio source: Pilah imports text sources only"] == 1
    assert reasons["video source: Pilah imports text sources only"] == 2
    assert figures["codings"]["on sources not imported"] == 16
    assert any(r.startswith("sets other than") for r in reasons) and any(r.startswith("notes are") for r in reasons)
    # round trip: codes (names, descriptions) and users survive
    book = load_codebook(project / "codebook.yaml")
    with Store(project) as store:
        export_qdpx(store, book, tmp_path / "atlas.qdpx")
    root = check_qdpx(tmp_path / "atlas.qdpx", project_schema)
    with zipfile.ZipFile(ATLAS) as archive:
        original = exported_codes(parse_xml(archive.read("Project.qde"), ATLAS, "Project.qde").getroot())
    written = exported_codes(root)
    assert {g: (v[0], v[3]) for g, v in written.items() if g in original} == {g: (v[0], v[3]) for g, v in original.items()}
    assert users_of(root) == set(figures["users"])
    again = tmp_path / "again"
    second = import_file(tmp_path / "atlas.qdpx", again, config, codebook, again / "codebook.yaml", suggest=False)
    assert second.as_dict()["codes"]["added"] == figures["codes"]["added"] and second.users == report.users


# -- Pilah's own project --------------------------------------------------------------
@pytest.fixture(scope="module")
def pilah_project(tmp_path_factory, processed_sample):
    project = tmp_path_factory.mktemp("pilah") / "project"
    shutil.copytree(processed_sample[0], project)  # the sample run once per session (tests/conftest.py)
    with Store(project) as store:
        suggestions = store.suggestions_frame()
        segments = store.segments_frame()
        picks = suggestions.drop_duplicates("segment_id").head(12)
        decisions = []
        for i, row in enumerate(picks.itertuples(index=False)):
            if i % 4 == 0:
                decisions.append(Decision(row.segment_id, row.suggestion_id, "accept", row.code, row.direction, "rina"))
            elif i % 4 == 1:
                other = next(d for d in ("supporting", "constraining", "neutral") if d != row.direction)
                decisions.append(Decision(row.segment_id, row.suggestion_id, "edit", row.code, other, "rina"))
            elif i % 4 == 2:
                decisions.append(Decision(row.segment_id, row.suggestion_id, "reject", row.code, row.direction, "rina"))
            else:
                decisions.append(Decision(row.segment_id, row.suggestion_id, "accept", row.code, row.direction, "budi"))
        blank = segments[~segments["segment_id"].isin(suggestions["segment_id"])].iloc[0]
        decisions.append(Decision(blank.segment_id, None, "add", "training", None, "budi"))
        store.add_decisions(decisions)
    return project


def test_refi_pilah_project_round_trip(pilah_project, tmp_path, config, codebook):
    with Store(pilah_project) as store:
        report = export_qdpx(store, codebook, tmp_path / "pilah.qdpx", with_suggestions=False)
    root = check_qdpx(tmp_path / "pilah.qdpx")
    before = snapshot(pilah_project)
    assert report["codings"] == len(before["codings"]) == 10 and users_of(root) == {"rina", "budi"}
    assert any(c[5] == "" for c in before["codings"]) and any(c[5] for c in before["codings"])
    # direction: a child code per direction; factor type: a set of codes
    names = {c.get("name") for c in root.iter(f"{P}Code")}
    assert {"funding [constraining]", "training [supporting]", "training [neutral]"} <= names
    sets = {s.get("name"): len(s) for s in root.iter(f"{P}Set")}
    assert "factor type: funding" in sets and "direction: constraining" in sets
    # cases and variables from the manifest
    assert {c.get("name") for c in root.iter(f"{P}Case")} >= {"Pemprov Nusa Kencana", "Kota Pesisir Kencana"}
    assert {v.get("name") for v in root.iter(f"{P}Variable")} >= {"actor", "role", "date", "title"}
    fresh = tmp_path / "fresh"
    imported = import_file(tmp_path / "pilah.qdpx", fresh, config, codebook, fresh / "codebook.yaml", suggest=False)
    figures = imported.as_dict()
    assert figures["skipped"] == [] and figures["codes"]["added"] == [] and figures["codes"]["conflicts"] == []
    assert figures["codings"]["segment"] == 10 and imported.codebook is None
    after = snapshot(fresh)
    assert after == before
    with Store(fresh) as store:
        documents = store.documents_frame()
    meta = json.loads(documents.set_index("document_id").loc["interviews/02_pengusaha_kopi_lembah_hijau.txt", "metadata"])
    assert meta["actor"] == "Mas Dimas" and meta["case"] == "Kabupaten Lembah Hijau" and meta["date"] == "2024-08-27"
    # the codings count for retraining and agreement in the new project, directions included
    from pipeline.agreement import coder_agreement
    from pipeline.retrain import codings_table

    with Store(pilah_project) as store:
        old = dict(zip(codings_table(store)["segment_id"], codings_table(store)["codes"]))
    with Store(fresh) as store:
        new = dict(zip(codings_table(store)["segment_id"], codings_table(store)["codes"]))
        figures = coder_agreement(store, ["rina", "budi"])
    assert {s: c for s, c in old.items() if c} == new
    assert figures["segments_reviewed"]["rina"] == 6 and figures["segments_reviewed"]["budi"] == 4
    # importing the same file again adds nothing
    again = import_file(tmp_path / "pilah.qdpx", fresh, config, codebook, fresh / "codebook.yaml", suggest=False)
    assert again.codings["added"] == 0 and again.codings["already in the project"] == 10
    assert again.documents_unchanged and not again.sources
    # ... nor into the project it came from
    same = import_file(tmp_path / "pilah.qdpx", pilah_project, config, codebook, tmp_path / "unused.yaml", suggest=False)
    assert same.codings["added"] == 0 and snapshot(pilah_project) == before


def test_refi_export_with_suggestions_for_review_in_the_other_tool(pilah_project, tmp_path, config, codebook):
    with Store(pilah_project) as store:
        report = export_qdpx(store, codebook, tmp_path / "s.qdpx", with_suggestions=True)
        pending = len(store.suggestions_frame()) - 12
    root = check_qdpx(tmp_path / "s.qdpx")
    assert report["suggestions"] == pending and SUGGESTION_USER in users_of(root)
    described = [s.findtext(f"{P}Description") for s in root.iter(f"{P}PlainTextSelection")
                 if (s.get("name") or "").startswith("Pilah suggestion")]
    assert len(described) == pending
    assert all("score" in d and "direction" in d and "evidence:" in d and "factor type" in d for d in described)
    fresh = tmp_path / "fresh"
    back = import_file(tmp_path / "s.qdpx", fresh, config, codebook, fresh / "codebook.yaml", suggest=False)
    reasons = back.as_dict()["skipped_by_reason"]
    assert reasons == {"a Pilah suggestion, not a coding: it is reviewed in Pilah's sheet": pending}
    assert back.codings["added"] == 10


def test_refi_codebook_export_merges_back(tmp_path, config, codebook):
    export_qdc(codebook, tmp_path / "book.qdc")
    data = (tmp_path / "book.qdc").read_bytes()
    root = etree.fromstring(data)
    c = "{urn:QDA-XML:codebook:1.0}"
    training = next(e for e in root.iter(f"{c}Code") if e.get("name") == "training")
    assert "Label (en): Training and mentoring" in training.findtext(f"{c}Description")
    assert "Factor type: human_resources" in training.findtext(f"{c}Description")
    report = import_file(tmp_path / "book.qdc", tmp_path / "p", config, codebook, tmp_path / "p" / "codebook.yaml")
    assert report.codes.added == [] and report.codes.conflicts == [] and report.codebook is None
    # another tool's edit: a new code under training, a changed definition, a name Pilah cannot use as an id
    text = data.decode("utf-8").replace(
        'name="training" isCodable="true">',
        'name="training" isCodable="true"><Code guid="00000000-0000-4000-8000-000000000001" name="magang; kerja" '
        'isCodable="true"><Description>Internships abroad</Description></Code>', 1)
    text = text.replace("Definition: Training, technical guidance", "Definition: Training and guidance", 1)
    (tmp_path / "edited.qdc").write_text(text, encoding="utf-8")
    report = import_file(tmp_path / "edited.qdc", tmp_path / "p", config, codebook, tmp_path / "p" / "codebook.yaml")
    assert report.codes.added == ["magang_ kerja"] and report.codes.renamed == [("magang; kerja", "magang_ kerja")]
    assert any("'training'" in c and "description" in c for c in report.codes.conflicts)
    merged = load_codebook(tmp_path / "p" / "codebook.yaml")
    assert merged.codes["magang_ kerja"].parent == "training" and merged.codes["training"].codable
    assert merged.codes["training"].definition == codebook.codes["training"].definition  # the project's kept
    export_qdc(merged, tmp_path / "merged.qdc")
    names = {e.get("name") for e in etree.fromstring((tmp_path / "merged.qdc").read_bytes()).iter(f"{c}Code")}
    assert "magang; kerja" in names  # the name goes back as it came


# -- real exports' quirks, built by hand --------------------------------------------------
def make_qdpx(path: Path, qde: str | bytes, files: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Project.qde", qde if isinstance(qde, bytes) else qde.encode("utf-8"))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return path


def docx_bytes(paragraphs: list[str]) -> bytes:
    import io

    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


G = "0000000{}-0000-4000-8000-00000000000{}"
QUIRKY = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="quirks" origin="MAXQDA-like">
  <Users><User guid="{G.format(1, 1)}" name="Ana"/><User guid="{G.format(1, 2)}" name="Ana"/></Users>
  <CodeBook><Codes>
    <Code guid="{G.format(2, 1)}" name="kendala" isCodable="true"><Description>Hambatan</Description>
      <Code guid="{G.format(2, 2)}" name="biaya" isCodable="true"/></Code>
    <Code guid="{G.format(2, 3)}" name="tema" isCodable="false"/>
  </Codes></CodeBook>
  <Sources>
    <TextSource guid="{G.format(3, 1)}" name="wawancara.txt" plainTextPath="{G.format(4, 1)}.txt">
      <PlainTextSelection guid="{G.format(5, 1)}" name="Biaya kirim mahal sekali." startPosition="11" endPosition="36">
        <Coding guid="{G.format(6, 1)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 2)}"/></Coding>
        <Coding guid="{G.format(6, 2)}" creatingUser="{G.format(1, 2)}"><CodeRef targetGUID="{G.format(2, 1)}"/></Coding>
      </PlainTextSelection>
      <PlainTextSelection guid="{G.format(5, 2)}" name="memo" startPosition="0" endPosition="5">
        <Description>a memo without a coding</Description>
      </PlainTextSelection>
      <PlainTextSelection guid="{G.format(5, 3)}" startPosition="0" endPosition="5">
        <Coding guid="{G.format(6, 3)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(9, 9)}"/></Coding>
      </PlainTextSelection>
      <PlainTextSelection guid="{G.format(5, 4)}" startPosition="0" endPosition="900">
        <Coding guid="{G.format(6, 4)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 1)}"/></Coding>
      </PlainTextSelection>
      <PlainTextSelection guid="{G.format(5, 5)}" startPosition="0" endPosition="5">
        <Coding guid="{G.format(6, 5)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 3)}"/></Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="{G.format(3, 2)}" name="wawancara.txt" plainTextPath="internal://{G.format(4, 2)}.txt"
                richTextPath="internal://{G.format(4, 3)}.docx">
      <PlainTextSelection guid="{G.format(5, 6)}" startPosition="0" endPosition="13">
        <Coding guid="{G.format(6, 6)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 1)}"/></Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="{G.format(3, 3)}" name="hilang.txt" plainTextPath="internal://{G.format(4, 4)}.txt">
      <PlainTextSelection guid="{G.format(5, 7)}" startPosition="0" endPosition="3">
        <Coding guid="{G.format(6, 7)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 1)}"/></Coding>
      </PlainTextSelection>
    </TextSource>
    <PDFSource guid="{G.format(3, 4)}" name="laporan.pdf" path="internal://{G.format(4, 5)}.pdf">
      <PDFSelection guid="{G.format(5, 8)}" page="0" firstX="1" firstY="1" secondX="2" secondY="2">
        <Coding guid="{G.format(6, 8)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 1)}"/></Coding>
      </PDFSelection>
    </PDFSource>
  </Sources>
</Project>"""


def test_refi_import_reads_real_world_quirks(tmp_path, config, codebook):
    """BOM before <?xml, Project.qde and Sources/ capitalised, plainTextPath without
    internal://, \\r\\n counted as one (ATLAS.ti), a selection without coding (MAXQDA), a
    repeated source name and user name, a rich-text source with an empty plain-text file, a
    missing source file, a PDF selection, an unknown code, a folder code, offsets out of range."""
    text = "Pak Budi:\r\n\r\nBiaya kirim mahal sekali. Tapi pelatihan membantu.\r\n"
    path = make_qdpx(tmp_path / "quirks.qdpx", b"\xef\xbb\xbf" + QUIRKY.encode("utf-8"), {
        f"Sources/{G.format(4, 1)}.txt": b"\xef\xbb\xbf" + text.encode("utf-8"),
        f"Sources/{G.format(4, 2)}.txt": b"",
        f"Sources/{G.format(4, 3)}.docx": docx_bytes(["Ringkasan FGD", "Peserta sepakat."]),
    })
    project = tmp_path / "p"
    report = import_file(path, project, config, codebook, project / "codebook.yaml", suggest=False)
    figures = report.as_dict()
    assert figures["sources"] == ["wawancara.txt", f"wawancara.txt ({G.format(3, 2)[:8]})"]
    assert figures["users"] == ["Ana", f"Ana ({G.format(1, 2)[:8]})"]
    reasons = figures["skipped_by_reason"]
    assert reasons["a selection with no coding (a description or memo only)"] == 1
    assert reasons[f"its code {G.format(9, 9)} is not in the file's codebook"] == 1
    assert reasons["code 'tema' is a folder (not codable) in the project's codebook"] == 1
    assert reasons["positions outside the source's text"] == 1
    assert reasons["its text file is not in the archive"] == 1
    assert reasons["PDF source: Pilah imports text sources only"] == 1
    assert reasons["PDFSelection on a source that was not imported"] == 1
    assert reasons["the name repeats in the file; imported as 'wawancara.txt (00000003)'"] == 1
    snap = snapshot(project)
    coded = {(c[0], c[3], c[4]): snap["texts"][c[0]][c[1]:c[2]] for c in snap["codings"]}
    assert coded[("wawancara.txt", "biaya", "Ana")] == "Biaya kirim mahal sekali."
    assert coded[("wawancara.txt", "kendala", f"Ana ({G.format(1, 2)[:8]})")] == "Biaya kirim mahal sekali."
    assert coded[(f"wawancara.txt ({G.format(3, 2)[:8]})", "kendala", "Ana")] == "Ringkasan FGD"
    assert report.units["wawancara.txt"] == "codepoints"


def test_refi_import_refuses_hostile_archives(tmp_path, config, codebook, monkeypatch):
    from pipeline.refi import RefiError

    def refused(path: Path, *words: str) -> str:
        with pytest.raises(RefiError) as caught:
            import_file(path, tmp_path / "p", config, codebook, tmp_path / "p" / "codebook.yaml", suggest=False)
        message = str(caught.value)
        assert str(path) in message and all(w in message for w in words), message
        return message

    qde = QUIRKY
    # path traversal and absolute names, in the archive and in a source reference
    for name in ("../evil.txt", "/etc/evil.txt", "C:/evil.txt", "sources/../../evil.txt"):
        path = tmp_path / "traversal.qdpx"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("project.qde", qde)
            archive.writestr(name, b"x")
        refused(path, "points outside the archive", name)
    refused(make_qdpx(tmp_path / "ref.qdpx", qde.replace(f'plainTextPath="{G.format(4, 1)}.txt"',
                                                         'plainTextPath="internal://../../../etc/passwd"')),
            "points outside the archive", "../../../etc/passwd")
    # entities: billion laughs and an external entity are refused, never expanded or read
    laughs = ('<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Project xmlns="urn:QDA-XML:project:1.0" name="&c;"/>')
    refused(make_qdpx(tmp_path / "laughs.qdpx", laughs), "DOCTYPE", "Project.qde")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me", encoding="utf-8")
    external = (f'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY x SYSTEM "file://{secret}">]>'
                '<Project xmlns="urn:QDA-XML:project:1.0" name="&x;"/>')
    message = refused(make_qdpx(tmp_path / "external.qdpx", external), "DOCTYPE")
    assert "do not read me" not in message
    (tmp_path / "laughs.qdc").write_text(laughs.replace("Project", "CodeBook"), encoding="utf-8")
    refused(tmp_path / "laughs.qdc", "DOCTYPE")
    # a zip bomb: far more decompressed than the cap allows
    import pipeline.refi.archive as archive_module

    monkeypatch.setattr(archive_module, "MAX_BYTES", 5_000_000)
    bomb = make_qdpx(tmp_path / "bomb.qdpx", QUIRKY, {f"sources/{G.format(4, 1)}.txt": b"0" * 20_000_000})
    assert bomb.stat().st_size < 200_000
    refused(bomb, "zip bomb")
    # not an archive at all, and no project.qde
    (tmp_path / "plain.qdpx").write_bytes(b"not a zip")
    refused(tmp_path / "plain.qdpx", "not a readable .qdpx")
    refused(make_qdpx(tmp_path / "empty.qdpx", b"").with_name("empty.qdpx"), "well-formed")


def test_refi_archive_counts_what_it_reads_not_what_it_declares(tmp_path):
    from pipeline.refi import RefiError
    from pipeline.refi.archive import Archive

    path = make_qdpx(tmp_path / "a.qdpx", QUIRKY, {"sources/a.txt": b"0" * 3_000_000, "sources/b.txt": b"1" * 3_000_000})
    with Archive(path, max_bytes=7_000_000) as archive:
        archive.read("sources/a.txt")
        archive.read("sources/b.txt")
        with pytest.raises(RefiError, match="zip bomb"):
            archive.read("sources/a.txt")  # the running total passes the cap


# -- as a new user runs it ------------------------------------------------------------
@pytest.mark.shared_data
def test_refi_cli_new_user_flow_import_nvivo_retrain_run_export(tmp_path, sample_corpus, project_schema):
    """pilah import (the NVivo sample) → pilah retrain → pilah run → pilah export --with-suggestions:
    the file validates and holds the NVivo codings and Pilah's pending suggestions."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    runner = CliRunner()
    project = tmp_path / "project"

    def invoke(*args):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    said = invoke("import", NVIVO, "--project", project, "--no-suggest", "--json", tmp_path / "import.json")
    assert "2 sources imported" in said and "152 codes added" in said and "303 codings added" in said
    assert "its pilah.toml names it" in said  # the merged codebook is the project's from now on: no --config
    assert json.loads((tmp_path / "import.json").read_text(encoding="utf-8"))["skipped"] == []
    said = invoke("retrain", "--project", project)
    assert "switched to" in said
    invoke("run", sample_corpus, "--project", project, "--out", tmp_path / "out")
    said = invoke("export", "--project", project, "--with-suggestions", "--out", tmp_path / "x.qdpx")
    assert "12 sources" in said and "303 codings" in said and "pending suggestions" in said
    root = check_qdpx(tmp_path / "x.qdpx", project_schema)
    assert {"Gergo", "floriansipos", SUGGESTION_USER} <= users_of(root)
    invoke("export", "--format", "qdc", "--project", project, "--out", tmp_path / "x.qdc")
    assert "codes" in invoke("import", tmp_path / "x.qdc", "--project", tmp_path / "other")
    result = runner.invoke(app, ["export", "--format", "nvivo", "--project", str(project)])
    # click's usage error comes in a rich panel that wraps at the terminal's width: read it without the frame
    said = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "'nvivo' is not one of 'qdpx', 'qdc'" in said
    result = runner.invoke(app, ["import", str(tmp_path / "import.json"), "--project", str(project)])
    assert result.exit_code == 2 and "expected a .qdpx (project) or .qdc (codebook)" in " ".join(result.output.split())


def test_refi_direction_survives_a_tool_that_flattens_the_code_tree(tmp_path, config, codebook):
    """A tool without nested codes may send Pilah's direction children back flat, named
    ``parent::child`` (ATLAS.ti's way) or bare; either is read as the direction."""
    qde = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="flat">
  <Users><User guid="{G.format(1, 1)}" name="Sari"/></Users>
  <CodeBook><Codes>
    <Code guid="{G.format(2, 1)}" name="funding" isCodable="true"/>
    <Code guid="{G.format(2, 2)}" name="funding::funding [constraining]" isCodable="true"/>
    <Code guid="{G.format(2, 3)}" name="training [pendukung]" isCodable="true"/>
  </Codes></CodeBook>
  <Sources>
    <TextSource guid="{G.format(3, 1)}" name="catatan.txt" plainTextPath="internal://{G.format(4, 1)}.txt">
      <PlainTextSelection guid="{G.format(5, 1)}" startPosition="0" endPosition="24">
        <Coding guid="{G.format(6, 1)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 2)}"/></Coding>
        <Coding guid="{G.format(6, 2)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 3)}"/></Coding>
      </PlainTextSelection>
    </TextSource>
  </Sources>
</Project>"""
    path = make_qdpx(tmp_path / "flat.qdpx", qde, {f"sources/{G.format(4, 1)}.txt": "Anggaran pelatihan dipotong.".encode()})
    report = import_file(path, tmp_path / "p", config, codebook, tmp_path / "p" / "codebook.yaml", suggest=False)
    assert report.codes.added == [] and report.codebook is None and report.as_dict()["skipped"] == []
    assert {(c[3], c[5]) for c in snapshot(tmp_path / "p")["codings"]} == {("funding", "constraining"),
                                                                          ("training", "supporting")}


def test_refi_a_source_edited_in_the_other_tool_is_a_new_version(tmp_path, config, codebook):
    """Re-importing a source whose text changed stores a new version: the codings on the old
    text stay (stale, not exported again, counted), the new file's codings are added."""
    def archive(name: str, text: str, start: int, end: int) -> Path:
        qde = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="v">
  <Users><User guid="{G.format(1, 1)}" name="Sari"/></Users>
  <CodeBook><Codes><Code guid="{G.format(2, 1)}" name="funding" isCodable="true"/></Codes></CodeBook>
  <Sources><TextSource guid="{G.format(3, 1)}" name="catatan.txt" plainTextPath="internal://{G.format(4, 1)}.txt">
    <PlainTextSelection guid="{G.format(5, 1)}" startPosition="{start}" endPosition="{end}">
      <Coding guid="{G.format(6, 1)}" creatingUser="{G.format(1, 1)}"><CodeRef targetGUID="{G.format(2, 1)}"/></Coding>
    </PlainTextSelection></TextSource></Sources>
</Project>"""
        return make_qdpx(tmp_path / name, qde, {f"sources/{G.format(4, 1)}.txt": text.encode("utf-8")})

    project = tmp_path / "p"
    first = import_file(archive("a.qdpx", "Anggaran dipotong.\n\nPelatihan jalan.", 0, 18), project, config, codebook,
                        project / "codebook.yaml", suggest=False)
    assert first.sources == ["catatan.txt"] and first.codings["segment"] == 1
    second = import_file(archive("b.qdpx", "Anggaran dipotong lagi.\n\nPelatihan jalan.", 25, 41), project, config,
                         codebook, project / "codebook.yaml", suggest=False)
    assert second.documents_changed == ["catatan.txt"] and second.codings["added"] == 1
    with Store(project) as store:
        report = export_qdpx(store, codebook, tmp_path / "out.qdpx")
        assert len(store.codings_frame()) == 2  # nothing deleted
    assert report["codings"] == 1 and [s["reason"] for s in report["skipped"]] == [
        "stale: the document's text changed since it was coded"]
    root = check_qdpx(tmp_path / "out.qdpx")
    (selection,) = root.iter(f"{P}PlainTextSelection")
    assert (selection.get("startPosition"), selection.get("endPosition"), selection.get("name")) == ("25", "41",
                                                                                                   "Pelatihan jalan.")


def test_refi_code_names_that_repeat_are_kept_apart_and_go_back_as_they_came(tmp_path, config, codebook):
    qdc = f"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo-like"><Codes>
  <Code guid="{G.format(2, 1)}" name="Pendukung" isCodable="false">
    <Code guid="{G.format(2, 2)}" name="lainnya" isCodable="true"><Description>lain-lain (pendukung)</Description></Code></Code>
  <Code guid="{G.format(2, 3)}" name="Penghambat" isCodable="false">
    <Code guid="{G.format(2, 4)}" name="lainnya" isCodable="true"><Description>lain-lain (penghambat)</Description></Code></Code>
</Codes></CodeBook>"""
    (tmp_path / "in.qdc").write_text(qdc, encoding="utf-8")
    out = tmp_path / "p" / "codebook.yaml"
    report = import_file(tmp_path / "in.qdc", tmp_path / "p", config, codebook, out)
    assert report.codes.added == ["Pendukung", "Pendukung/lainnya", "Penghambat", "Penghambat/lainnya"]
    assert report.codes.renamed == [("lainnya", "Pendukung/lainnya"), ("lainnya", "Penghambat/lainnya")]
    merged = load_codebook(out)
    assert merged.codes["Penghambat/lainnya"].parent == "Penghambat"
    assert merged.codes["Penghambat/lainnya"].definition == "lain-lain (penghambat)"
    export_qdc(merged, tmp_path / "out.qdc")
    root = etree.fromstring((tmp_path / "out.qdc").read_bytes())
    written = exported_codes(root, "{urn:QDA-XML:codebook:1.0}")
    assert written[G.format(2, 4)] == ("lainnya", "Penghambat", "true", "lain-lain (penghambat)")
    assert written[G.format(2, 2)] == ("lainnya", "Pendukung", "true", "lain-lain (pendukung)")
    again = import_file(tmp_path / "out.qdc", tmp_path / "p", config, merged, out)
    assert again.codes.added == [] and again.codes.conflicts == []


@pytest.mark.shared_data
def test_refi_every_file_pilah_writes_validates(pilah_project, tmp_path, config, codebook, project_schema,
                                                codebook_schema):
    """Project-mrt2019.xsd and Codebook.xsd: Pilah's project with and without suggestions, a
    project imported from hand-built files, the codebook alone and one merged with another's."""
    with Store(pilah_project) as store:
        export_qdpx(store, codebook, tmp_path / "plain.qdpx")
        export_qdpx(store, codebook, tmp_path / "suggestions.qdpx", with_suggestions=True)
    check_qdpx(tmp_path / "plain.qdpx", project_schema)
    check_qdpx(tmp_path / "suggestions.qdpx", project_schema)
    text = "Pak Budi:\r\n\r\nBiaya kirim mahal sekali. Tapi pelatihan membantu.\r\n"
    quirks = make_qdpx(tmp_path / "quirks.qdpx", QUIRKY, {f"Sources/{G.format(4, 1)}.txt": text.encode("utf-8"),
                                                          f"Sources/{G.format(4, 3)}.docx": docx_bytes(["Ringkasan"])})
    project = tmp_path / "q"
    import_file(quirks, project, config, codebook, project / "codebook.yaml", suggest=False)
    merged = load_codebook(project / "codebook.yaml")
    with Store(project) as store:
        export_qdpx(store, merged, tmp_path / "q.qdpx")
    check_qdpx(tmp_path / "q.qdpx", project_schema)
    for book, name in ((codebook, "book.qdc"), (merged, "merged.qdc")):
        export_qdc(book, tmp_path / name)
        root = etree.fromstring((tmp_path / name).read_bytes())
        assert codebook_schema.validate(etree.ElementTree(root)), codebook_schema.error_log.filter_from_errors()[:5]
