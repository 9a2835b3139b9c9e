"""Pseudonymised exports (``pipeline.privacy``): the rules measured on a hand-made test set
of 46 interview passages with planted identifiers (tests/fixtures/privacy), every byte of a
pseudonymised run scanned for them, the qdpx's selections on the same passages, and a
co-coder's sheet imported back onto the right segments."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
import yaml
from lxml import etree
from openpyxl import load_workbook

from pipeline.privacy import OffsetMap, Pseudonymizer, pseudonymised, read_names
from pipeline.store import SCHEMA_VERSION, Store
from cli_helpers import invoke, said  # tests/cli_helpers.py
from tests.conftest import FIXTURES, SHARED_DATA

PRIVACY = FIXTURES / "privacy"
NAMES = PRIVACY / "names.txt"
P = "{urn:QDA-XML:project:1.0}"


def passages() -> list[dict]:
    return yaml.safe_load((PRIVACY / "passages.yaml").read_text(encoding="utf-8"))


def _present(term: str, text: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(term)}(?![\w])", text) is not None


def measure(pseudonymizer: Pseudonymizer, items: list[dict]) -> dict:
    """Recall of the planted names, share of the ``keep`` words replaced, and the planted
    e-mails, phones and NIK left, after pseudonymising the passages as an export does
    (speakers first, then every text once to learn the names, then the texts)."""
    pseudonymizer.add_speakers(dict.fromkeys(item["speaker"] for item in items))
    for item in items:
        pseudonymizer.replace(item["text"])
    names = replaced = keep = kept = 0
    missed, lost, left = [], [], []
    for item in items:
        out = pseudonymizer.text(item["text"])
        for name in item.get("names", []):
            names += 1
            if any(_present(word, out) for word in name.split() if len(word) > 2):
                missed.append(f"{item['id']}: {name}")
            else:
                replaced += 1
        for word in item.get("keep", []):
            keep += 1
            if _present(word, out):
                kept += 1
            else:
                lost.append(f"{item['id']}: {word}")
        for kind in ("emails", "phones", "niks", "addresses"):
            left += [f"{item['id']}: {v}" for v in item.get(kind, []) if v in out]
    return {"names": names, "name_recall": replaced / names, "keep": keep, "keep_replaced": (keep - kept) / keep,
            "missed": missed, "lost": lost, "left": left}


def test_privacy_rules_meet_the_targets_on_the_test_set(tmp_path):
    items = passages()
    assert len(items) >= 40 and {item["lang"] for item in items} == {"id", "en", "mixed"}
    with Store(tmp_path) as store:
        figures = measure(Pseudonymizer(store, read_names(NAMES), exempt_speakers=["Pewawancara", "Interviewer"]),
                          items)
    print(f"\nnames {figures['names']}: recall {figures['name_recall']:.3f} (missed {figures['missed']}); "
          f"keep words {figures['keep']}: {figures['keep_replaced']:.3f} replaced ({figures['lost']})")
    assert figures["left"] == []
    assert figures["name_recall"] >= 0.95, figures["missed"]
    assert figures["keep_replaced"] < 0.05, figures["lost"]


def test_privacy_finds_the_formats_of_the_issue(tmp_path):
    with Store(tmp_path) as store:
        p = Pseudonymizer(store)
        text = ("Pak Budi: +62 812-3456-7890, 0812 3456 7890 atau (031) 555-1234; budi@desa.id; "
                "NIK 3578011234560001; Jl. Melati No. 5. Tahun 2019-2024, Rp 15.000.000, jam 10.30, 25%.")
        assert p.text(text) == ("Person A: [TELEPON-1], [TELEPON-1] atau [TELEPON-2]; [EMAIL-1]; "
                                "NIK [NIK-1]; [ALAMAT-1]. Tahun 2019-2024, Rp 15.000.000, jam 10.30, 25%.")
        # institutions, offices and greetings after an honorific are no one
        for kept in ("Dinas Koperasi dan UKM", "Bapak Gubernur datang", "Ibu Kota Nusantara", "Bu Kadis",
                     "Bapak Ibu sekalian", "Terima kasih, Pak. Saya mulai", "Jalan keluarnya belum ada"):
            assert p.text(kept) == kept


def test_privacy_pseudonyms_are_stable_across_runs_and_only_in_the_store(tmp_path):
    with Store(tmp_path) as store:
        first = Pseudonymizer(store, exempt_speakers=["Pewawancara"])
        first.add_speakers(["Pewawancara", "Bu Warsini", "P"])
        assert first.speaker("Pewawancara") == "Pewawancara" and first.speaker("P") == "P"
        assert first.text("Bu Warsini dan Mas Joko, warsini@batik.id") == "Informan 1 dan Person A, [EMAIL-1]"
    with Store(tmp_path) as store:  # a later run: the same values, the same pseudonyms
        again = Pseudonymizer(store)
        assert again.text("Mas Joko, warsini@batik.id, Warsini") == "Person A, [EMAIL-1], Informan 1"
        assert again.speaker("Bu Warsini") == "Informan 1"
        assert again.path("interviews/05_batik_warsini.txt") == "interviews/05_batik_Informan_1.txt"
        assert again.restore("Informan 1 menolak; [EMAIL-1]") == "Warsini menolak; warsini@batik.id"
        assert set(store.pseudonyms_frame()["kind"]) == {"person", "email"}


def test_privacy_offset_map_keeps_selections_on_the_same_words():
    text = "Kata Pak Budi: dana kurang."
    offsets = OffsetMap([(5, 13, 8)])  # "Pak Budi" → "Person A"
    rewritten = "Kata Person A: dana kurang."
    start, end = text.index("dana"), text.index("kurang") + len("kurang")
    assert rewritten[offsets.start(start):offsets.end(end)] == "dana kurang"
    assert rewritten[offsets.start(7):offsets.end(10)] == "Person A"  # a cut name widens to its pseudonym
    offsets = OffsetMap([(5, 13, 2)])
    assert "Kata XX: dana kurang."[offsets.start(start):offsets.end(end)] == "dana kurang"


def test_privacy_store_migrates_version_2_to_the_current_one(tmp_path):
    with Store(tmp_path) as store:  # version 2: no pseudonyms, nor version 4's documents.source_key
        store.db.execute("DROP TABLE pseudonyms")
        store.db.execute("ALTER TABLE documents DROP COLUMN source_key")
        for table, column in (("segments", "role"), ("failures", "traceback")):  # nor version 5's columns
            if column in {row[1] for row in store.db.execute(f"PRAGMA table_info({table})")}:
                store.db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        store.db.execute("PRAGMA user_version = 2")
        store.db.commit()
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "source_key" in {row[1] for row in store.db.execute("PRAGMA table_info(documents)")}
        store.add_pseudonyms([("email", "a@b.id", "[EMAIL-1]")])
        assert store.pseudonyms_frame()["pseudonym"].tolist() == ["[EMAIL-1]"]
    fresh = tmp_path / "fresh"
    with Store(fresh):
        pass
    assert sqlite3.connect(fresh / ".pilah" / "pilah.sqlite").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


# -- end to end: a pseudonymised run, every byte scanned ------------------------------
def write_corpus(folder: Path, items: list[dict]) -> None:
    """The passages as speaker-turn transcripts, one file per interview."""
    files: dict[str, list[str]] = {}
    for i, item in enumerate(items):
        files.setdefault(item["file"], []).append(f"[00:{i:02d}:00] {item['speaker']}: {item['text']}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, turns in files.items():
        (folder / f"{name}.txt").write_text("\n\n".join(turns) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def pseudonymised_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    write_corpus(root / "corpus", passages())
    (root / "rules.toml").write_text('[suggest]\nmodel = "no-model-yet"\n', encoding="utf-8")
    out, project = root / "out", root / "project"
    invoke("run", root / "corpus", "--pseudonymize", "--names", NAMES, "--project", project, "--out", out,
            "--config", root / "rules.toml", "--workers", 1)
    # again, nothing changed: no export is rewritten, and run.json is pseudonymised all the same
    (out / "run.json").rename(out / "first-run.json")
    invoke("run", root / "corpus", "--pseudonymize", "--names", NAMES, "--project", project, "--out", out,
            "--config", root / "rules.toml", "--workers", 1)
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["exports_unchanged"] is True
    invoke("export", "--pseudonymize", "--names", NAMES, "--with-suggestions", "--project", project,
            "--out", out / "project.qdpx", "--config", root / "rules.toml")
    invoke("report", "--pseudonymize", "--names", NAMES, "--project", project, "--out", out / "en" / "report.html",
            "--lang", "en", "--config", root / "rules.toml")
    invoke("review", "export", "--pseudonymize", "--names", NAMES, "--project", project,
            "--out", out / "review.csv", "--config", root / "rules.toml")
    return root, out, project


def readable_bytes(out: Path) -> dict[str, bytes]:
    """Every file under ``out``, zip archives (xlsx, qdpx) opened member by member, and the
    ``data:`` images of an HTML file decoded."""
    found = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found[str(path)] = data
        if data[:2] == b"PK":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    found[f"{path}!{member}"] = archive.read(member)
        for i, image in enumerate(re.findall(rb"data:[\w/+.-]+;base64,([A-Za-z0-9+/=]+)", data)):
            found[f"{path}#image{i}"] = base64.b64decode(image)
    return found


def test_privacy_no_planted_identifier_survives_in_any_output_byte(pseudonymised_run):
    root, out, project = pseudonymised_run
    files = readable_bytes(out)
    assert {Path(f).name for f in files} >= {"suggestions.xlsx", "suggestions.csv", "report.html", "displays.xlsx",
                                               "run.json", "first-run.json", "project.qdpx", "review.csv"}
    assert any("!sources/" in f for f in files)
    items = passages()
    numbers = [v for item in items for kind in ("emails", "phones", "niks") for v in item.get(kind, [])]
    for value in numbers:
        needles = {value.encode(), value.lower().encode()}
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 8:
            needles.add(digits.encode())
        leaks = [f for f, data in files.items() if any(n in data for n in needles)]
        assert leaks == [], f"{value} is in {leaks}"
    addresses = [v for item in items for v in item.get("addresses", [])]
    assert [a for a in addresses if any(a.encode() in d for d in files.values())] == []
    text = {f: d.decode("utf-8", errors="replace") for f, d in files.items()}
    speakers = {item["speaker"].split()[-1] for item in items} - {"Pewawancara", "Interviewer"}
    names = {item_name for item in items for item_name in item.get("names", [])}
    left = {name for name in names | speakers if any(_present(name, t) for t in text.values())}
    assert speakers.isdisjoint(left), left
    assert len(left) / len(names | speakers) < 0.05, left
    # the mapping itself never leaves the store
    with Store(project) as store:
        mapping = store.pseudonyms_frame()
    assert len(mapping) > 30
    assert "Budi Santoso" in set(mapping["value"])
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert summary["pseudonymized"] is True


def test_privacy_qdpx_codes_the_same_passages(pseudonymised_run):
    root, out, project = pseudonymised_run
    with zipfile.ZipFile(out / "project.qdpx") as archive:
        qde = etree.fromstring(archive.read("project.qde"))
        sources = {s.get("name"): archive.read("sources/" + s.get("plainTextPath").removeprefix("internal://"))
                   .decode("utf-8") for s in qde.iter(f"{P}TextSource")}
        selections = {(s.getparent().get("name"), int(s.get("startPosition")), int(s.get("endPosition")))
                      for s in qde.iter(f"{P}PlainTextSelection")}
    assert selections
    with Store(project) as store:
        suggestions = store.suggestions_frame(pending=True)
        view = pseudonymised(store, _config(root), _codebook(), NAMES)
        p = view.pseudonymizer
        expected = {}
        for row in suggestions.itertuples(index=False):
            document = view.document_id(store.segments_frame().set_index("segment_id").at[row.segment_id, "document_id"])
            expected[row.segment_id] = (document, p.text(row.segment_text))
    # every pending suggestion is a selection of its segment: the same passage, pseudonymised
    found = {}
    for document, start, end in selections:
        found.setdefault(document, set()).add(sources[document][start:end])
    for document, segment_text in expected.values():
        assert segment_text in found[document]
    assert all("Budi Santoso" not in text for text in sources.values())


@pytest.mark.shared_data
def test_privacy_pseudonymised_qdpx_validates(pseudonymised_run):
    from tests.test_refi import check_qdpx

    root, out, project = pseudonymised_run
    schema = etree.XMLSchema(etree.parse(str(SHARED_DATA / "refi_qda" / "Project-mrt2019.xsd")))
    check_qdpx(out / "project.qdpx", schema)


def _config(root: Path):
    from pipeline.config import load_config

    return load_config(root / "rules.toml")


def _codebook():
    from pipeline.codebook import load_codebook
    from pipeline.config import load_config

    return load_codebook(load_config().path("suggest", "codebook"))


def test_privacy_co_coder_sheet_lands_on_the_right_segments(pseudonymised_run, tmp_path):
    """A co-coder gets the pseudonymised sheet, decides and comments, and the researcher
    imports it: each decision is on the segment of its row, the pseudonymised text is not
    taken for an edit or a changed segment, and a comment naming *Informan 1* is stored with
    the real name."""
    root, out, project = pseudonymised_run
    sheet = tmp_path / "co-coder.xlsx"
    sheet.write_bytes((out / "suggestions.xlsx").read_bytes())
    book = load_workbook(sheet)
    rows = book["Suggestions"]
    header = [c.value for c in rows[1]]
    col = {name: i for i, name in enumerate(header)}
    decided = {}
    for row in rows.iter_rows(min_row=2):
        segment, code = row[col["segment_id"]].value, row[col["code"]].value
        if not segment or segment in decided:
            continue
        if code:
            row[col["decision"]].value = "accept" if len(decided) % 2 else "reject"
        else:
            row[col["decision"]].value, row[col["corrected_code"]].value = "add", "funding"
        row[col["comment"]].value = f"cek dengan {row[col['speaker']].value}"
        decided[segment] = (row[col["decision"]].value, code or "funding", row[col["speaker"]].value)
        if len(decided) == 12:
            break
    book.save(sheet)
    output = said(invoke("review", "import", sheet, "--reviewer", "coder2", "--project", project,
                         "--config", root / "rules.toml"))
    assert f"{len(decided)} decisions added" in output and "0 skipped" in output and "stale" not in output
    with Store(project) as store:
        decisions = store.decisions_frame(in_force=True, reviewer="coder2")
        mapping = dict(zip(store.pseudonyms_frame()["pseudonym"], store.pseudonyms_frame()["value"]))
        segments = store.segments_frame().set_index("segment_id")
    assert len(decisions) == len(decided)
    for row in decisions.itertuples(index=False):
        decision, code, speaker = decided[row.segment_id]
        assert (row.decision, row.key) == (decision, code)
        assert row.segment_text == segments.at[row.segment_id, "segment_text"]  # the real text, not the sheet's
        assert not row.stale
        assert row.comment == f"cek dengan {mapping.get(speaker, speaker)}"
    # the next pseudonymised run imports nothing new from the pre-filled sheet it rewrites
    output = said(invoke("run", root / "corpus", "--pseudonymize", "--names", NAMES, "--project", project,
                         "--out", out, "--config", root / "rules.toml", "--workers", 1))
    assert "imported" not in output


def test_privacy_config_default_and_candidates(pseudonymised_run, tmp_path):
    """``[privacy] pseudonymize = true`` makes every export pseudonymised unless the command
    says ``--no-pseudonymize``; candidate codes are pseudonymised like the rest."""
    import pandas as pd

    from pipeline.privacy import pseudonymize_candidates

    root, out, project = pseudonymised_run
    config = tmp_path / "private.toml"
    config.write_text('[suggest]\nmodel = "no-model-yet"\n[privacy]\npseudonymize = true\n'
                      f'names = "{NAMES.as_posix()}"\n', encoding="utf-8")
    invoke("review", "export", "--project", project, "--out", tmp_path / "default.csv", "--config", config)
    invoke("review", "export", "--no-pseudonymize", "--project", project, "--out", tmp_path / "real.csv",
            "--config", config)
    assert "hendra.wijaya@gmail.com" not in (tmp_path / "default.csv").read_text(encoding="utf-8-sig")
    assert "hendra.wijaya@gmail.com" in (tmp_path / "real.csv").read_text(encoding="utf-8-sig")
    candidates = pd.DataFrame({"label": ["warsini / batik"], "top_terms": ["warsini, batik, shopee"],
                               "exemplar_1": ["Nomornya +62 812-9988-7766, itu nomor Bu Warsini sendiri"],
                               "exemplar_2": [""], "exemplar_3": [""],
                               "exemplar_sources": ["wawancara_pendamping.txt (abc)"]})
    with Store(project) as store:
        shown = pseudonymize_candidates(candidates, store, _config(root), _codebook(), NAMES)
        warsini = store.pseudonyms_frame().set_index("value").at["Warsini", "pseudonym"]
    assert shown.at[0, "label"] == f"{warsini} / batik" and shown.at[0, "top_terms"].startswith(f"{warsini}, batik")
    assert "7766" not in shown.at[0, "exemplar_1"] and "Warsini" not in shown.at[0, "exemplar_1"]


# -- round 3: what leaked around the texts ---------------------------------------------
LEAKY_SETTINGS = ('[project]\ncorpus = ["corpus"]\nout = "out"\n\n[suggest]\nmodel = "no-model-yet"\n'
                  'encoder = "none"\n')


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory):
    """A pseudonymised project whose leaks were around the texts: a name and a phone in a
    file name, an informant named by label (Bu Sari) and by full name (Sari Anggraini), her
    surname after her first name alone."""
    root = tmp_path_factory.mktemp("bocor")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "wawancara_Budi_Santoso_081234567890.txt").write_text(
        "Pewawancara: Apa kendala koperasi, Pak?\n\n"
        "Pak Budi: Modal kurang dan biaya kirim mahal, pelatihan dari dinas membantu.\n", encoding="utf-8")
    (corpus / "wawancara_sari.txt").write_text(
        "Pewawancara: Silakan perkenalkan diri, Bu.\n\n"
        "Bu Sari: Nama saya Sari Anggraini, saya membuat keripik.\n\n"
        "Pewawancara: Siapa yang membantu pemasaran?\n\n"
        "Bu Sari: Anak saya. Kata orang desa, Sari Anggraini paling rajin ikut pelatihan.\n", encoding="utf-8")
    (root / "pilah.toml").write_text(LEAKY_SETTINGS, encoding="utf-8")
    invoke("run", "--project", root, "--pseudonymize")
    out = root / "out"
    invoke("export", "--pseudonymize", "--with-suggestions", "--project", root, "--out", out / "project.qdpx")
    invoke("review", "export", "--pseudonymize", "--project", root, "--out", out / "review.csv")
    return root, out


def test_privacy_file_names_surnames_and_full_names_leave_nothing(leaky_run):
    root, out = leaky_run
    files = readable_bytes(out)
    assert {Path(f.split("!")[0]).name for f in files} >= {"suggestions.xlsx", "suggestions.csv", "report.html",
                                                           "displays.xlsx", "run.json", "project.qdpx", "review.csv"}
    text = {f: d.decode("utf-8", errors="replace") for f, d in files.items()}
    for secret in ("Santoso", "081234567890", "0812", "Anggraini", "Budi", "Sari"):
        leaks = [f for f, t in text.items() if _present(secret, t) or _present(secret.lower(), t)]
        assert leaks == [], f"{secret} is in {leaks}"
    assert not any(re.search(r"(Informan|Person)[ _]\w+[ _]Anggraini", t) for t in text.values())


def test_privacy_one_informant_has_one_pseudonym(leaky_run):
    root, _ = leaky_run
    with Store(root) as store:
        mapping = store.pseudonyms_frame()
    persons = dict(zip(mapping.loc[mapping["kind"] == "person", "value"],
                       mapping.loc[mapping["kind"] == "person", "pseudonym"]))
    assert "Sari Anggraini" not in persons and persons["Sari"].startswith("Informan")
    assert sorted(persons) == ["Budi", "Sari"]


LEAKY_CODE = {"id": "bantuan_budi_santoso", "label": {"id": "Bantuan Pak Budi Santoso", "en": "Support from Mr Budi Santoso"},
              "definition": "Dana dari koperasi; hubungi 0812 3456 7890 atau budi@desa.id.", "factor_type": "funding",
              "keywords": {"id": ["modal", "dana"], "en": ["capital", "fund*"]}}


def _leaky_codebook(path: Path) -> Path:
    """The sample codebook with one code that names a person, a phone and an e-mail."""
    from pipeline.config import PROJECT_ROOT

    raw = yaml.safe_load((PROJECT_ROOT / "configs" / "codebook.yaml").read_text(encoding="utf-8"))
    raw["codes"].append(LEAKY_CODE)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_privacy_codebook_naming_someone_is_refused_with_the_code_named(tmp_path):
    from cli_helpers import runner

    from pipeline.cli import app

    root = tmp_path / "proyek"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "a.txt").write_text("Pewawancara: Modalnya?\n\nBu Ani: Modal kurang, pelatihan membantu.\n",
                                           encoding="utf-8")
    _leaky_codebook(root / "kode.yaml")
    (root / "pilah.toml").write_text(LEAKY_SETTINGS + 'codebook = "kode.yaml"\n', encoding="utf-8")
    refused = runner.invoke(app, ["run", "--project", str(root), "--pseudonymize"])
    assert refused.exit_code == 2, refused.output
    flat = refused.output.replace("\n", "")
    assert "kode.yaml" in flat and "code 'bantuan_budi_santoso' label (id): 'Pak Budi Santoso' (person)" in flat
    assert "(phone)" in flat and "(email)" in flat and "Traceback" not in flat
    assert not (root / "out" / "suggestions.xlsx").exists()
    invoke("run", "--project", root)  # without --pseudonymize the codebook is the analyst's own business
    for args in (["export", "--out", root / "p.qdpx"], ["report", "--out", root / "r.html"],
                 ["review", "export", "--out", root / "s.xlsx"]):
        result = runner.invoke(app, [str(a) for a in [*args, "--project", root, "--pseudonymize"]])
        assert result.exit_code == 2 and "bantuan_budi_santoso" in result.output.replace("\n", ""), result.output
        assert not Path(args[-1]).exists()
