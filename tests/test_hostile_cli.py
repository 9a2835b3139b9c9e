"""Every user-facing command on a broken project and on a broken file: one clear line
(``error: …`` naming the file and the problem), exit code 2, never a Python traceback, and
nothing stored half-way.

A project is broken four ways (its database overwritten with other bytes, cut short, of a
newer schema, its ``pilah.toml`` not TOML); a file given to a command is broken as users
break them (an .xlsx that is no zip, a review sheet that is a zip bomb, a .qdpx that is no
zip, a .qdc that is no XML, a CoNLL-U that is binary, a scheduler address that is none).
``pilah serve`` is left out: it serves until stopped (tests/test_serve*.py open it).
"""

from __future__ import annotations

import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from cli_helpers import invoke, runner

from pipeline.cli import app
from pipeline.config import PROJECT_ROOT

TRANSCRIPT = ("Pewawancara: Apa kendala usaha Ibu?\n\nBu Sari: Modal kurang dan biaya kirim mahal, pelatihan dari "
              "dinas membantu.\n\nPewawancara: Pemasarannya?\n\nBu Sari: Lewat marketplace, internet sering putus.\n")
SETTINGS = '[project]\ncorpus = ["corpus"]\nout = "out"\n\n[suggest]\nmodel = "no-model-yet"\nencoder = "none"\n'
MODEL = PROJECT_ROOT / "models" / "default"


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sehat") / "proyek"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "a.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (root / "pilah.toml").write_text(SETTINGS, encoding="utf-8")
    invoke("run", "--project", root)
    return root


def _store(root: Path) -> Path:
    return root / ".pilah" / "pilah.sqlite"


def _broken(healthy: Path, tmp_path: Path, how: str) -> Path:
    root = tmp_path / "proyek"
    shutil.copytree(healthy, root)
    store = _store(root)
    for extra in (".pilah/pilah.sqlite-wal", ".pilah/pilah.sqlite-shm"):
        (root / extra).unlink(missing_ok=True)
    if how == "corrupt":
        store.write_bytes(b"bukan basis data SQLite " * 400)
    elif how == "truncated":
        store.write_bytes(store.read_bytes()[:3000])
    elif how == "newer":
        db = sqlite3.connect(store)
        db.execute("PRAGMA user_version = 99")
        db.close()  # checkpointed into the file, so that the snapshot below holds it
    elif how == "settings":
        (root / "pilah.toml").write_text("[project\ncorpus = [", encoding="utf-8")
    return root


def _commands(root: Path, files: Path) -> dict[str, list]:
    """The user-facing commands that work on a project, with the arguments they need."""
    sheet = files / "sheet.csv"
    shutil.copy(root / "out" / "suggestions.csv", sheet) if (root / "out" / "suggestions.csv").exists() else None
    codebook = files / "kode.qdc"
    codebook.write_text('<?xml version="1.0"?><CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
                        '<Code guid="00000000-0000-4000-8000-000000000001" name="baru" isCodable="true"/>'
                        "</Codes></CodeBook>", encoding="utf-8")
    out = files / "keluar"
    return {
        "status": ["status"],
        "status --json": ["status", "--json"],
        "models": ["models"],
        "models use": ["models", "use", "v1"],
        "review status": ["review", "status"],
        "review export": ["review", "export", "--out", out / "review.xlsx"],
        "review next": ["review", "next", "--out", out / "next.xlsx"],
        "review import": ["review", "import", sheet],
        "report": ["report", "--out", out / "report.html"],
        "export": ["export", "--out", out / "project.qdpx"],
        "import": ["import", codebook],
        "agreement": ["agreement"],
        "privacy report": ["privacy", "report"],
        "retrain": ["retrain"],
        "discover": ["discover", "--out", out],
        "run": ["run"],
        "query": ["query", "code:funding"],
        "cases": ["cases"],
        "codes history": ["codes", "history"],
        "codes rename": ["codes", "rename", "funding", "pendanaan"],
    }


def _one_line(result, *words: str) -> str:
    text = result.output
    flat = text.replace("\n", " ")
    assert result.exit_code == 2, f"exit code {result.exit_code}: {text[-2000:]}"
    assert "Traceback" not in text and "During handling" not in text, text[-2000:]
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text[-2000:]
    assert all(word in flat for word in words), (words, text[-2000:])
    return errors[0]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "-wal" not in p.name and "-shm" not in p.name}


@pytest.mark.parametrize("how", ["corrupt", "truncated", "newer", "settings"])
def test_hostile_cli_every_command_on_a_broken_project_says_one_line(healthy, tmp_path, how):
    root = _broken(healthy, tmp_path, how)
    files = tmp_path / "berkas"
    files.mkdir()
    commands = _commands(root, files)
    before = _snapshot(root)
    named = "pilah.toml" if how == "settings" else "pilah.sqlite"
    failures = {}
    for name, args in commands.items():
        result = runner.invoke(app, [str(a) for a in [*args, "--project", root]])
        try:
            _one_line(result, named)
        except AssertionError as exc:
            failures[name] = str(exc)[:600]
    assert failures == {}
    assert _snapshot(root) == before  # nothing stored, nothing rewritten
    assert not (files / "keluar").exists() or not any((files / "keluar").iterdir())


def _not_a_zip(path: Path) -> Path:
    path.write_text("decision,segment_id\naccept,x\n", encoding="utf-8")
    return path


def _zip_bomb_sheet(path: Path, megabytes: int = 210) -> Path:
    """A review sheet of 0.2 MB whose sheet XML unpacks to ``megabytes`` MB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as handle:
            for _ in range(megabytes):
                handle.write(b" " * (1 << 20))
    return path


def test_hostile_cli_every_command_given_a_broken_file_says_one_line(healthy, tmp_path):
    root = tmp_path / "proyek"
    shutil.copytree(healthy, root)
    notzip = _not_a_zip(tmp_path / "bukan_zip.xlsx")
    bomb = _zip_bomb_sheet(tmp_path / "bom.xlsx")
    binary = tmp_path / "biner.conllu"
    binary.write_bytes(bytes(range(1, 256)) * 40)
    bad_qdpx = tmp_path / "rusak.qdpx"
    bad_qdpx.write_bytes(b"PK\x03\x04 bukan arsip")
    bad_qdc = tmp_path / "rusak.qdc"
    bad_qdc.write_text("<CodeBook><Codes><Code", encoding="utf-8")
    bad_toml = tmp_path / "rusak.toml"
    bad_toml.write_text("[ingest\nmax_file_mb = ", encoding="utf-8")
    cases = {
        "review import (not a zip)": (["review", "import", notzip], ["bukan_zip.xlsx", "not a readable .xlsx"]),
        "review import (zip bomb)": (["review", "import", bomb], ["bom.xlsx", "max_unpacked_mb"]),
        "import (qdpx not a zip)": (["import", bad_qdpx], ["rusak.qdpx"]),
        "import (qdc not XML)": (["import", bad_qdc], ["rusak.qdc"]),
        "suggest": (["suggest", "--input", notzip, "--model", MODEL, "--out", tmp_path / "x.csv"], ["bukan_zip.xlsx"]),
        "langid": (["langid", "--input", notzip, "--out", tmp_path / "y.csv"], ["bukan_zip.xlsx"]),
        "train": (["train", "--labels", notzip, "--out", tmp_path / "model"], ["bukan_zip.xlsx"]),
        "evaluate": (["evaluate", "--labels", notzip, "--model", MODEL], ["bukan_zip.xlsx"]),
        "retrain": (["retrain", "--labels", notzip], ["bukan_zip.xlsx"]),
        "discover": (["discover", "--input", notzip, "--out", tmp_path / "d"], ["bukan_zip.xlsx"]),
        "evaluate-nlp": (["evaluate-nlp", "--conllu", binary], ["biner.conllu"]),
        "cases": (["cases", "--import", notzip], ["bukan_zip.xlsx"]),
        "run (config)": (["run", "--config", bad_toml], ["rusak.toml"]),
        "run (scheduler refused)": (["run", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1"],
                                    ["tcp://127.0.0.1:1", "no Dask scheduler answers"]),
        "run (scheduler not a url)": (["run", "--engine", "dask", "--scheduler", "not a url!!"],
                                      ["not a url!!", "not a scheduler address"]),
    }
    before = _snapshot(root)
    failures = {}
    for name, (args, words) in cases.items():
        result = runner.invoke(app, [str(a) for a in [*args, "--project", root]])
        try:
            _one_line(result, *words)
        except AssertionError as exc:
            failures[name] = str(exc)[:600]
    assert failures == {}
    with sqlite3.connect(_store(root)) as db:
        runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert runs == 1  # the healthy run only: no refused run left a row
    assert {k: v for k, v in _snapshot(root).items() if k.startswith("out")} == \
        {k: v for k, v in before.items() if k.startswith("out")}


@pytest.mark.parametrize("sheet", ["bomb", "not a zip"])
def test_hostile_cli_run_refuses_a_broken_sheet_in_out_before_any_work(healthy, tmp_path, sheet):
    """`pilah run` imports the review sheets in out/ first: one that is a zip bomb or no zip
    stops the run in one line, before anything is read or stored, and is left as it was."""
    root = tmp_path / "proyek"
    shutil.copytree(healthy, root)
    target = root / "out" / "suggestions.xlsx"
    _zip_bomb_sheet(target) if sheet == "bomb" else _not_a_zip(target)
    kept = target.read_bytes()
    (root / "corpus" / "b.txt").write_text(TRANSCRIPT.replace("Bu Sari", "Bu Tini"), encoding="utf-8")
    result = runner.invoke(app, ["run", "--project", str(root)])
    _one_line(result, "suggestions.xlsx", "max_unpacked_mb" if sheet == "bomb" else "not a readable .xlsx")
    assert target.read_bytes() == kept
    with sqlite3.connect(_store(root)) as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 1


def test_hostile_cli_scheduler_that_says_nothing_is_refused_and_a_real_one_passes(healthy, tmp_path, monkeypatch):
    """Something listening at --scheduler that is no Dask scheduler (Dask's client waited for
    it for ever) is one line after CONNECT_SECONDS; a real scheduler passes the check."""
    import socket
    import threading

    from distributed import LocalCluster

    from pipeline import executors

    monkeypatch.setattr(executors, "CONNECT_SECONDS", 0.5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    held = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
    address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
    root = tmp_path / "proyek"
    shutil.copytree(healthy, root)
    result = runner.invoke(app, ["run", "--engine", "dask", "--scheduler", address, "--project", str(root)])
    _one_line(result, address, "not a Dask scheduler")
    silent.close()
    with LocalCluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        executors.check_scheduler(cluster.scheduler_address)  # greets at once: no error
