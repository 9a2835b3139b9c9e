"""What a new user's trial of Pilah ran into (a study of seven interviews with typed header
blocks, a codebook of its own, a one-file corpus), each checked as the user met it: through
``pilah`` commands on real files, with the stand-in encoder (tests/conftest.py)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import invoke, runner, said
from pipeline.cli import app
from pipeline.config import PROJECT_ROOT

CODEBOOK = PROJECT_ROOT / "configs" / "codebook.yaml"
SETTINGS = 'encoder = "stand-in"\n'  # lines added to the [suggest] table pilah init wrote

# Two interviews with a typed header block, as the trial's 05_koperasi_sidoarjo.txt.
SURABAYA = """Lokasi: Surabaya
Tanggal: 14 Maret 2024
Informan: Pak Darto (Ketua Koperasi)

P: Bagaimana pengalaman koperasi ikut program?
Pak Darto: Pelatihan ekspor dari dinas sangat membantu kami menembus pasar Korea.
P: Ada kendala?
Pak Darto: Modal kerja kurang dan bank minta agunan yang kami tidak punya.
"""
MALANG = """Lokasi: Malang
Tanggal: 20 Maret 2024
Informan: Bu Sri

P: Apa manfaat program?
Bu Sri: Magang di Korea membuat kami paham standar kemasan.
P: Kendalanya?
Bu Sri: Perizinan ekspor berbelit dan lama sekali.
"""
GOLD = [
    ("surabaya.txt", "Pelatihan ekspor dari dinas sangat membantu", "training=supporting"),
    ("malang.txt", "Magang di Korea membuat kami paham", "training=supporting"),
]


def _project(folder: Path, files: dict[str, str], codebook: Path = CODEBOOK, settings: str = SETTINGS) -> Path:
    """``pilah init`` on a corpus of ``files`` (name → text) in ``folder``/wawancara."""
    corpus = folder / "wawancara"
    corpus.mkdir(parents=True)
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    invoke("init", folder, "--corpus", corpus, "--codebook", codebook)
    toml = folder / "pilah.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[suggest]\n", "[suggest]\n" + settings, 1),
                    encoding="utf-8")
    return folder


def _gold(project: Path, rows) -> None:
    from pipeline.conclude.gold import import_gold
    from pipeline.project import Project

    path = project / "gold.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("document", "quote", "codes"), *rows])
    with Project.open(project) as opened:
        assert import_gold(opened.store, path)["problems"] == []


# -- 1. python -m pipeline.cli ------------------------------------------------------------
def test_python_dash_m_pipeline_cli_runs_the_console_script(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "init", str(tmp_path / "p")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p" / "pilah.toml").is_file()
    # the same entry as the console script (pyproject: pilah = "pipeline.cli:main"), start-up trims included
    probe = ("import runpy, pipeline.cli, pipeline.cli.startup as s\n"
             "calls = []\n"
             "s.trim_spacy_imports = lambda: calls.append('trim')\n"
             "pipeline.cli.app = lambda: calls.append('app')\n"
             "runpy.run_module('pipeline.cli', run_name='__main__')\n"
             "print(calls)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['trim', 'app']"


# -- 2. header-block fields are attributes ----------------------------------------------------
def test_header_block_fields_are_attributes_to_query_and_tabulate(tmp_path):
    project = _project(tmp_path / "p", {"surabaya.txt": SURABAYA, "malang.txt": MALANG})
    invoke("run", "--project", project)
    _gold(project, GOLD)
    result = invoke("query", "lokasi=Surabaya", "--project", project)
    assert "Pelatihan ekspor dari dinas" in result.output
    assert "Magang di Korea" not in result.output
    assert "1 codings on 1 segments" in said(result)
    # the people and dates of a header are no attributes (a name would pass pseudonymisation)
    refused = runner.invoke(app, ["query", "informan=Bu Sri", "--project", str(project)])
    assert refused.exit_code == 2 and "unknown field 'informan'" in said(refused)
    from pipeline.conclude import project_evidence
    from pipeline.conclude.displays import build_conclusions
    from pipeline.project import Project

    with Project.open(project) as opened:
        conclusions = build_conclusions(project_evidence(opened, False, ("accepted",)), opened.codebook)
    assert conclusions.attribute == "lokasi"
    assert conclusions.values == ["Malang", "Surabaya"]
    invoke("report", "--project", project)
    page = (project / "out" / "report.html").read_text(encoding="utf-8")
    assert "Surabaya" in page and "{&#x27;Lokasi&#x27;" not in page and "{'Lokasi'" not in page


# -- 3. a label cut by an unquoted comma -------------------------------------------------------
def test_a_codebook_label_with_an_unquoted_comma_is_refused_with_its_place_and_the_fix(tmp_path):
    text = CODEBOOK.read_text(encoding="utf-8")
    cut = "label: {id: Pelatihan, pendampingan dan magang, en: Training and mentoring}"
    wrong = tmp_path / "kodebuku.yaml"
    wrong.write_text(text.replace("label: {id: Pelatihan dan pendampingan, en: Training and mentoring}", cut, 1),
                     encoding="utf-8")
    assert cut in wrong.read_text(encoding="utf-8")
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--codebook", str(wrong)])
    assert result.exit_code == 2
    message = said(result)
    assert "kodebuku.yaml" in message
    assert "(training).label: unknown key(s) 'pendampingan dan magang'" in message
    assert 'quote the label: {id: "Pelatihan, pendampingan dan magang", en: "Training and mentoring"}' in message
    assert "Traceback" not in result.output
    # quoted as the message says, it loads with the whole label
    wrong.write_text(text.replace("label: {id: Pelatihan dan pendampingan, en: Training and mentoring}",
                                  'label: {id: "Pelatihan, pendampingan dan magang", en: "Training and mentoring"}', 1),
                     encoding="utf-8")
    from pipeline.codebook import load_codebook

    assert load_codebook(wrong).codes["training"].label["id"] == "Pelatihan, pendampingan dan magang"


# -- 4. no warnings on a corpus with little in it ------------------------------------------
ONE_CODE = """name: Studi UMKM
version: "0.1"
factor:
  directions:
    supporting: {label: {id: Faktor pendukung, en: Supporting factor}, cues: {id: [membantu], en: [help*]}}
    constraining: {label: {id: Faktor penghambat, en: Constraining factor}, cues: {id: [kendala, sulit], en: [barrier*]}}
    neutral: {label: {id: Netral, en: Neutral}}
  negators: {id: [tidak, belum], en: [not, "no"]}
  types:
    - {id: funding, label: {id: Pendanaan, en: Funding}}
codes:
  - id: permodalan
    label: {id: Permodalan, en: Capital}
    definition: Modal kerja, kredit dan anggaran program.
    factor_type: funding
    keywords: {id: [modal, kredit, anggaran], en: [capital, loan*, budget*]}
"""


def test_a_one_file_corpus_with_one_code_runs_without_warnings(tmp_path):
    import warnings

    codebook = tmp_path / "kb.yaml"
    codebook.write_text(ONE_CODE, encoding="utf-8")
    project = _project(tmp_path / "p", {"a.txt": "Ani: Modalnya kurang, kredit susah.\n"}, codebook)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke("run", "--project", project)
        invoke("report", "--project", project)
    assert "report.html" in result.output
    ours = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught if "/pipeline/" in w.filename.replace("\\", "/")]
    assert ours == []
    assert "RuntimeWarning" not in result.output


# -- 5. cases, documents and source types counted alike everywhere -------------------------
def test_a_project_without_cases_counts_no_case_everywhere_in_its_language(tmp_path):
    project = _project(tmp_path / "p", {"surabaya.txt": "Transkrip Wawancara 01\n\n" + SURABAYA,
                                        "malang.txt": MALANG}, settings=SETTINGS + 'skip_speakers = ["P"]\n')
    invoke("run", "--project", project)
    _gold(project, GOLD)
    query = said(invoke("query", "code=training", "--project", project))
    assert "2 codings on 2 segments, 2 informants, 0 cases, 2 documents" in query
    assert "training supporting: 2 (2 informants, 0 cases)" in query
    cases = invoke("cases", "--project", project, "--json")
    import json

    found = json.loads(cases.output)
    # the transcript's title line is no one's words: the informants are the two speakers, interviewed
    assert [(i["informant"], i["source_type"]) for i in found["informants"]] == [
        ("Bu Sri", "interview"), ("Pak Darto", "interview")]
    assert said(invoke("cases", "--project", project)).endswith(
        "0 cases (2 document(s) without a case: —), 2 problem(s)")
    invoke("report", "--project", project)
    import html
    import re

    page = html.unescape(re.sub(r"<[^>]+>", " ", (project / "out" / "report.html").read_text(encoding="utf-8")))
    page = " ".join(page.split())
    assert "0 Kasus" in page  # the overview
    conclusions = page[page.index("Tabel kesimpulan"):page.index("Bukti negatif")]
    assert "1 kasus" not in conclusions and "Kasus 1" not in conclusions
    assert "0: tanpa kasus" in conclusions
    assert "Dokumen 2 wawancara (2)" in conclusions  # Indonesian source types
    assert "interview" not in conclusions and "document (" not in conclusions


# -- 6. smaller things a user reads ----------------------------------------------------------
def test_what_report_retrain_review_status_and_discover_print(tmp_path):
    codebook = tmp_path / "kb.yaml"
    codebook.write_text(ONE_CODE, encoding="utf-8")
    project = _project(tmp_path / "p", {"surabaya.txt": SURABAYA, "malang.txt": MALANG}, codebook,
                       SETTINGS + 'skip_speakers = ["P"]\n')
    invoke("run", "--project", project)
    # a report with nothing new says it kept the files, not that it wrote them
    again = invoke("report", "--project", project).output
    assert "unchanged since it was written" in again
    assert "wrote" not in again and f"kept {project / 'out' / 'report.html'}" in said(invoke("report", "--project", project))
    # retrain with no model in use (the bundled model belongs to another codebook): no "None"
    _gold(project, [("surabaya.txt", "Modal kerja kurang", "permodalan=constraining"),
                    ("malang.txt", "Perizinan ekspor berbelit", "permodalan=constraining")])
    retrained = runner.invoke(app, ["retrain", "--project", str(project)], env={"COLUMNS": "120"})
    assert retrained.exit_code == 0, retrained.output
    assert "None" not in retrained.output
    assert "before (no model)" in retrained.output
    # review status at 80 columns: every code id in full
    import json

    ids = list(json.loads(invoke("review", "status", "--json", "--project", project).output)["per_code"])
    assert ids
    narrow = runner.invoke(app, ["review", "status", "--project", str(project)], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0 and "…" not in narrow.output
    for code in ids:
        assert code in narrow.output.split()


def test_discover_finding_no_candidate_in_small_groups_points_to_min_size(tmp_path):
    project = _project(tmp_path / "p", {"surabaya.txt": SURABAYA, "malang.txt": MALANG},
                       settings=SETTINGS + 'skip_speakers = ["P"]\n')
    invoke("run", "--project", project)
    result = said(invoke("discover", "--project", project))
    assert "0 segments in candidates" in result
    assert "in groups too small" in result and " 0 in groups too small" not in result
    assert "pilah discover --min-size 3" in result
    smallest = said(invoke("discover", "--project", project, "--min-size", "3"))
    assert "--min-size 3` reports" not in smallest  # nothing smaller to point to


# -- 7. whose decisions: one default ------------------------------------------------------------
def _decide(sheet: Path, decisions: dict[int, str]) -> list[tuple[str, str]]:
    """Write ``decisions`` (n-th row holding a suggestion → decision) into the review sheet;
    the (text, code) of each row decided."""
    import openpyxl

    book = openpyxl.load_workbook(sheet)
    rows = book["Suggestions"]
    header = {cell.value: cell.column for cell in rows[1]}
    suggested = [r for r in range(2, rows.max_row + 1) if rows.cell(r, header["code"]).value]
    decided = []
    for nth, decision in decisions.items():
        row = suggested[nth]
        rows.cell(row, header["decision"]).value = decision
        decided.append((rows.cell(row, header["segment_text"]).value, rows.cell(row, header["code"]).value))
    book.save(sheet)
    return decided


def test_a_run_records_empty_reviewer_cells_as_the_projects_reviewer_as_an_import_does(tmp_path):
    project = _project(tmp_path / "p", {"surabaya.txt": SURABAYA, "malang.txt": MALANG},
                       settings=SETTINGS + 'skip_speakers = ["P"]\n')
    with (project / "pilah.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[review]\nreviewer = "rina"\n')
    invoke("run", "--project", project)
    sheet = project / "out" / "suggestions.xlsx"
    first = _decide(sheet, {0: "accept"})
    invoke("review", "import", sheet, "--reviewer", "budi", "--project", project)  # Budi's sheet
    second = _decide(sheet, {1: "reject"})  # Rina goes on in the same sheet (Budi's row still says accept)
    invoke("run", "--project", project)
    from pipeline.project import Project

    with Project.open(project) as opened:
        assert opened.reviewer() == "rina"
        decisions = opened.store.decisions_frame(in_force=True)
    found = sorted(zip(decisions["reviewer"], decisions["decision"], decisions["code"]))
    # Budi's accept stays his alone (a run does not make it Rina's too); the new row is Rina's
    assert found == sorted([("budi", "accept", first[0][1]), ("rina", "reject", second[0][1])])
