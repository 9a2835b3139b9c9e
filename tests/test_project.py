"""A project Pilah remembers: `pilah init`, commands that need no --config afterwards, a
codebook changed between runs, projects made before pilah.toml, broken stores."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pandas as pd
import pytest
import yaml

from cli_helpers import invoke, runner, said  # tests/cli_helpers.py
from pipeline.cli import app
from pipeline.config import PROJECT_ROOT
from pipeline.errors import InputError
from pipeline.project import Project, find_root
from pipeline.records import RESEARCHER
from pipeline.store import Store

TRANSCRIPT = ("Pewawancara: Bagaimana pelatihan ekspor untuk UMKM di sini?\n\n"
              "Bu Sari: Pelatihan pengemasan sangat membantu, tapi anggaran kami dipotong.\n\n"
              "Pewawancara: Apa kendalanya?\n\n"
              "Bu Sari: Modal kurang dan biaya kirim mahal sekali.\n")


def _own_codebook(path, drop=(), rename=None):
    """The sample codebook less the codes ``drop``, with ``rename`` = (old id, new id)."""
    raw = yaml.safe_load((PROJECT_ROOT / "configs" / "codebook.yaml").read_text(encoding="utf-8"))

    def walk(codes):
        kept = []
        for code in codes:
            if code["id"] in drop:
                continue
            if rename and code["id"] == rename[0]:
                code = {**code, "id": rename[1]}
            if "children" in code:
                code = {**code, "children": walk(code["children"])}
            kept.append(code)
        return kept

    raw["codes"] = walk(raw["codes"])
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture()
def own_study(tmp_path):
    """A researcher's own folder of interviews and their own codebook, outside any project."""
    corpus = tmp_path / "wawancara"
    corpus.mkdir()
    (corpus / "sari.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (corpus / "dedi.txt").write_text(TRANSCRIPT.replace("Bu Sari", "Pak Dedi"), encoding="utf-8")
    codebook = _own_codebook(tmp_path / "kodebuku.yaml", drop=("leadership",))
    settings = tmp_path / "settings.toml"
    settings.write_text('[review]\nreviewer = "rina"\n', encoding="utf-8")
    return corpus, codebook, settings


def test_project_init_then_every_command_uses_the_projects_own_settings(own_study, tmp_path, monkeypatch):
    corpus, codebook, settings = own_study
    folder = tmp_path / "studi"
    result = invoke("init", folder, "--corpus", corpus, "--codebook", codebook, "--config", settings)
    assert "pilah.toml" in said(result)
    written = (folder / "pilah.toml").read_text(encoding="utf-8")
    assert str(corpus) in written and str(codebook) in written and 'reviewer = "rina"' in written

    monkeypatch.chdir(folder)  # as the README says: cd into the project, then no options at all
    invoke("run")
    summary = json.loads((folder / "out" / "run.json").read_text(encoding="utf-8"))
    assert summary["counts"]["documents"] == 2  # the project's corpus, never the bundled sample
    assert summary["codebook"]["source"] == str(codebook)
    sheet = (folder / "out" / "suggestions.csv").read_text(encoding="utf-8-sig")
    assert "leadership" not in sheet and "sari.txt" in sheet
    # commands that used to need --config or did not take it: the project's codebook throughout
    status = json.loads(invoke("review", "status", "--json").stdout)
    assert "leadership" not in status["per_code"]
    invoke("export", "--format", "qdc")
    book = (folder / "out" / "codebook.qdc").read_text(encoding="utf-8")
    assert "leadership" not in book.lower() and "Training" in book
    # a decision imported without --reviewer is the project's [review] reviewer's
    frame = pd.read_csv(folder / "out" / "suggestions.csv", dtype=str, keep_default_na=False)
    decided = frame[frame["suggestion_id"] != ""].head(1).assign(decision="accept")
    decided.to_csv(folder / "decided.csv", index=False)
    assert "1 decisions added" in said(invoke("review", "import", "decided.csv"))
    with Store(folder) as store:
        assert list(store.decisions_frame()["reviewer"]) == ["rina"]


def test_project_run_without_a_corpus_names_the_file_to_fix_and_reads_nothing_else(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "pilah.toml").write_text("[project]\ncorpus = []\n", encoding="utf-8")
    result = runner.invoke(app, ["run", "--project", str(folder)])
    assert result.exit_code == 2 and "pilah.toml" in said(result) and "names no corpus" in said(result)
    assert "Traceback" not in result.output and not (folder / "out").exists()


def test_project_init_refuses_what_would_go_wrong_later(own_study, tmp_path):
    corpus, codebook, _ = own_study
    invoke("init", tmp_path / "a", "--corpus", corpus)
    again = runner.invoke(app, ["init", str(tmp_path / "a"), "--corpus", str(corpus)])
    assert again.exit_code == 2 and "already a Pilah project" in said(again)
    missing = runner.invoke(app, ["init", str(tmp_path / "b"), "--corpus", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nowhere" in said(missing) and "not found" in said(missing)
    itself = runner.invoke(app, ["init", str(corpus), "--corpus", str(corpus)])
    assert itself.exit_code == 2 and "cannot be the project folder" in said(itself)
    bad_book = tmp_path / "bad.yaml"
    bad_book.write_text("codes: [unclosed\n", encoding="utf-8")
    refused = runner.invoke(app, ["init", str(tmp_path / "c"), "--corpus", str(corpus), "--codebook", str(bad_book)])
    assert refused.exit_code == 2 and "bad.yaml" in said(refused) and not (tmp_path / "c" / "pilah.toml").exists()
    # without --codebook the project gets a copy of the sample codebook to edit, beside pilah.toml
    with Project.open(tmp_path / "a") as project:
        assert project.codebook.source == str(tmp_path / "a" / "codebook.yaml")


def test_project_a_changed_codebook_is_reported_added_removed_renamed(own_study, tmp_path):
    corpus, codebook, _ = own_study
    folder = tmp_path / "studi"
    invoke("init", folder, "--corpus", corpus, "--codebook", codebook)
    invoke("run", "--project", folder)
    unchanged = invoke("status", "--project", folder)
    assert "codebook changed" not in said(unchanged)
    _own_codebook(codebook, drop=("market_access",), rename=("funding", "pendanaan"))  # leadership is back
    changed = invoke("status", "--project", folder)
    assert ("the codebook changed since the last run" in said(changed) and "added leadership" in said(changed)
            and "removed market_access" in said(changed) and "renamed funding → pendanaan" in said(changed))
    invoke("run", "--project", folder)  # the run uses it and remembers it: nothing more to report
    assert "codebook changed" not in said(invoke("status", "--project", folder))


def test_project_made_before_pilah_toml_opens_and_init_keeps_its_store(sample_project, tmp_path, caplog):
    (sample_project / "pilah.toml").unlink()  # a project as Pilah made them before: a store, no pilah.toml
    with Store(sample_project) as store:
        documents = store.document_ids()
    result = invoke("status", "--project", sample_project)
    assert f"{len(documents)} documents" in said(result)
    with caplog.at_level("WARNING"), Project.open(sample_project) as project:
        assert project.settings_file is None and project.corpus == []
    assert "no pilah.toml" in caplog.text and "pilah init" in caplog.text
    invoke("init", sample_project, "--corpus", PROJECT_ROOT / "corpus")
    with Project.open(sample_project) as project:
        assert project.settings_file is not None and project.store.document_ids() == documents


def test_project_not_a_project_is_one_clear_line(tmp_path):
    for args in (["status"], ["models"], ["review", "status"], ["agreement"], ["report"]):
        result = runner.invoke(app, [*args, "--project", str(tmp_path)])
        assert result.exit_code == 2, (args, result.output)
        assert "not a Pilah project" in said(result) and "pilah init" in said(result) and "Traceback" not in result.output
    assert not (tmp_path / ".pilah").exists()


@pytest.mark.parametrize("damage", ["not a database", "newer schema"])
def test_project_a_broken_store_is_one_line_for_status_and_models(sample_project, damage):
    database = sample_project / ".pilah" / "pilah.sqlite"
    if damage == "newer schema":
        with sqlite3.connect(database) as db:
            db.execute("PRAGMA user_version = 99")
        expected = "newer than this Pilah"
    else:
        for extra in database.parent.glob("pilah.sqlite-*"):
            extra.unlink()
        database.write_bytes(b"this is not a database, it is a text file" * 100)
        expected = "cannot open the project database"
    for args in (["status"], ["models"], ["review", "status"]):
        result = runner.invoke(app, [*args, "--project", str(sample_project)])
        assert result.exit_code == 2 and expected in said(result), (args, result.output)
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_project_schema_4_store_gets_its_segments_roles(sample_project):
    """A store of schema 4 (no segments.role) is migrated, and the project gives its stored
    segments their role from [suggest] skip_speakers without processing anything again."""
    database = sample_project / ".pilah" / "pilah.sqlite"
    with sqlite3.connect(database) as db:
        researchers = db.execute(f"SELECT COUNT(*) FROM segments WHERE role = '{RESEARCHER}'").fetchone()[0]
        db.execute("ALTER TABLE segments DROP COLUMN role")
        db.execute("ALTER TABLE failures DROP COLUMN traceback")
        db.execute("DELETE FROM settings WHERE key LIKE 'roles:%'")
        db.execute("PRAGMA user_version = 4")
    assert researchers > 0  # the sample's interviewers
    with Project.open(sample_project) as project:
        segments = project.store.segments_frame()
        assert int((segments["segment_role"] == RESEARCHER).sum()) == researchers
        assert set(segments.loc[segments["segment_role"] == RESEARCHER, "speaker"].str.casefold()) <= {
            s.casefold() for s in project.researchers()}
    summary = json.loads(invoke("status", "--json", "--project", sample_project).stdout)
    assert summary["documents"] == 10


def test_project_open_walks_up_from_a_subfolder(tmp_path, monkeypatch):
    (tmp_path / "pilah.toml").write_text('[project]\ncorpus = ["data"]\n', encoding="utf-8")
    deep = tmp_path / "notes" / "2024"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path.resolve()
    monkeypatch.chdir(deep)
    with Project.open() as project:
        assert project.root == tmp_path.resolve() and project.corpus == [tmp_path.resolve() / "data"]
    with pytest.raises(InputError, match="not a Pilah project"):
        Project.open(tmp_path / "notes")  # an explicit folder is that folder, not its parent's project


def test_project_view_is_the_protocol_and_never_the_database(sample_project):
    with Project.open(sample_project) as project:
        plain, private = project.view(False), project.view(True)
        for view in (plain, private):
            assert len(view.segments_frame()) and len(view.suggestions_frame(pending=True, places=False))
            assert not hasattr(view, "db") and not hasattr(view, "store")  # no view exposes the raw database
        speakers = set(plain.segments_frame()["speaker"].dropna()) - {"Pewawancara", "Interviewer"}
        assert speakers and not speakers & set(private.segments_frame()["speaker"].dropna())


def test_project_the_repository_is_the_sample_project():
    """`pilah run` in a clone runs the sample: the repository's pilah.toml names it."""
    project = Project.open(PROJECT_ROOT)
    assert project.corpus == [PROJECT_ROOT / "corpus"] and project.out_dir == PROJECT_ROOT / "out"
    assert project.codebook.source == str(PROJECT_ROOT / "configs" / "codebook.yaml")
    assert project.config.sources == (str(PROJECT_ROOT / "configs" / "pilah.toml"), str(PROJECT_ROOT / "pilah.toml"))


def test_project_export_names_codings_whose_codes_the_codebook_lacks(sample_project, tmp_path):
    """A project whose codebook changed after coding: the export says which codes of its
    codings the codebook no longer holds, instead of mixing two codebooks silently."""
    from pipeline.store import Decision

    with Store(sample_project) as store:
        row = store.suggestions_frame().query("code == 'market_access'").iloc[0]
        store.add_decisions([Decision(row.segment_id, row.suggestion_id, "accept", row.code, row.direction, "rina")])
    book = _own_codebook(tmp_path / "own.yaml", drop=("market_access",))
    result = invoke("export", "--project", sample_project, "--codebook", book, "--out", tmp_path / "p.qdpx")
    assert "1 code(s) of the project's codings are not in its codebook (market_access)" in said(result)
    clean = invoke("export", "--project", sample_project, "--out", tmp_path / "q.qdpx")
    assert "not in its codebook" not in said(clean)
