"""REFI-QDA files built to break an import: deep code trees, GUIDs used twice. Each is
refused in one line naming the file and the problem, with nothing stored half-way."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest
from cli_helpers import runner

from pipeline.cli import app

G = "0000000{}-0000-4000-8000-{:012d}"
PROJECT = '[project]\ncorpus = ["corpus"]\nout = "out"\n\n[suggest]\nmodel = "no-model-yet"\nencoder = "none"\n'


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proyek"
    (root / "corpus").mkdir(parents=True)
    (root / "pilah.toml").write_text(PROJECT, encoding="utf-8")
    return root


def _qdpx(path: Path, qde: str, files: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", qde.encode("utf-8"))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return path


def _nested(depth: int) -> str:
    opening = "".join(f'<Code guid="{G.format(2, n)}" name="kode {n}" isCodable="true">' for n in range(depth))
    return opening + "</Code>" * depth


def _one_line_refusal(project: Path, file: Path, *words: str) -> str:
    result = runner.invoke(app, ["import", str(file), "--project", str(project)])
    flat = result.output.replace("\n", "")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in flat and result.output.strip().startswith("error:"), result.output
    assert file.name in flat and all(word in flat for word in words), result.output
    return flat


def _stored(project: Path) -> dict[str, int]:
    store = project / ".pilah" / "pilah.sqlite"
    if not store.exists():
        return {}
    with sqlite3.connect(store) as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("documents", "codings", "decisions")}


@pytest.mark.parametrize("suffix", [".qdc", ".qdpx"])
def test_hostile_refi_1500_nested_codes_are_refused_in_one_line(project, tmp_path, suffix):
    codes = f"<Codes>{_nested(1500)}</Codes>"
    if suffix == ".qdc":
        path = tmp_path / "dalam.qdc"
        path.write_text(f'<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0">{codes}</CodeBook>',
                        encoding="utf-8")
    else:
        path = _qdpx(tmp_path / "dalam.qdpx", f'<?xml version="1.0"?><Project xmlns="urn:QDA-XML:project:1.0" '
                                              f'name="p"><CodeBook>{codes}</CodeBook></Project>')
    _one_line_refusal(project, path, "nest more than 100 levels")
    assert not any(_stored(project).values())
    assert not (project / "codebook.yaml").exists()


def test_hostile_refi_codes_nested_a_few_levels_still_import(project, tmp_path):
    path = tmp_path / "wajar.qdc"
    path.write_text(f'<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>{_nested(12)}</Codes>'
                    "</CodeBook>", encoding="utf-8")
    result = runner.invoke(app, ["import", str(path), "--project", str(project)])
    assert result.exit_code == 0, result.output


DUPLICATED = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="kembar">
  <Users><User guid="{u1}" name="Ana"/><User guid="{u1}" name="Budi"/></Users>
  <CodeBook><Codes>
    <Code guid="{c1}" name="biaya" isCodable="true"/><Code guid="{c1}" name="modal" isCodable="true"/>
  </Codes></CodeBook>
  <Sources>
    <TextSource guid="{s1}" name="wawancara.txt" plainTextPath="internal://{s1}.txt">
      <PlainTextSelection guid="{p1}" startPosition="0" endPosition="24">
        <Coding guid="{k1}" creatingUser="{u1}"><CodeRef targetGUID="{c1}"/></Coding>
      </PlainTextSelection>
    </TextSource>
  </Sources>
</Project>"""


def test_hostile_refi_duplicate_guids_are_refused_naming_each(project, tmp_path):
    guids = {key: G.format(n, n) for n, key in enumerate(("u1", "c1", "s1", "p1", "k1"), start=1)}
    path = _qdpx(tmp_path / "kembar.qdpx", DUPLICATED.format(**guids),
                 {f"Sources/{guids['s1']}.txt": "Biaya kirim mahal sekali di desa.".encode()})
    flat = _one_line_refusal(project, path, "2 duplicate GUID(s)", guids["u1"], guids["c1"])
    assert "'Ana', 'Budi'" in flat and "'biaya', 'modal'" in flat
    assert not any(_stored(project).values())
    assert not (project / "codebook.yaml").exists()


def test_hostile_refi_renamed_code_is_named_on_the_console(project, tmp_path):
    path = tmp_path / "nama.qdc"
    path.write_text('<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
                    f'<Code guid="{G.format(2, 1)}" name="magang; kerja" isCodable="true"/></Codes></CodeBook>',
                    encoding="utf-8")
    result = runner.invoke(app, ["import", str(path), "--project", str(project)])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "renamed code 'magang; kerja' → id 'magang_ kerja'" in flat
    assert "'name' → id 'id'" not in flat
