import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import InputError
from pipeline.nlp import pipeline_for
from pipeline.nlp.evaluate import evaluate_backend, read_documents, to_conllu

CONLLU = """# newdoc id = d1
# sent_id = 1
# text = Programnya berjalan baik.
1-2\tProgramnya\t_\t_\t_\t_\t_\t_\t_\t_
1\tProgram\tprogram\tNOUN\t_\t_\t3\tnsubj\t_\t_
2\tnya\tnya\tPRON\t_\t_\t1\tnmod\t_\t_
3\tberjalan\tjalan\tVERB\t_\t_\t0\troot\t_\t_
4\tbaik\tbaik\tADV\t_\t_\t3\tadvmod\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = 2
# text = Anak-anak senang.
1\tAnak-anak\tanak\tNOUN\t_\t_\t2\tnsubj\t_\t_
2\tsenang\tsenang\tADJ\t_\t_\t0\troot\t_\tSpaceAfter=No
3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_

"""


@pytest.fixture()
def treebank(tmp_path):
    path = tmp_path / "id_tiny-ud-test.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    return path


def test_evaluate_reads_raw_text_per_document(treebank):
    assert read_documents(treebank) == ["Programnya berjalan baik. Anak-anak senang."]


def test_evaluate_writes_clitics_as_multiword_tokens(config):
    doc = pipeline_for("id", config.section("nlp"))("Programnya berjalan.")
    lines = to_conllu(doc).splitlines()
    assert lines[0] == "1-2\tProgramnya" + "\t_" * 8
    assert lines[1].split("\t")[:3] == ["1", "Program", "program"]
    assert lines[2].split("\t")[:3] == ["2", "nya", "nya"]


def test_evaluate_fast_backend_scores_a_hand_made_treebank(treebank, config):
    figures = evaluate_backend(treebank, "fast", config.section("nlp"))
    assert figures["tokens_f1"] == 100.0 and figures["words_f1"] == 100.0
    assert figures["sentences_f1"] == 100.0
    assert figures["upos_acc"] is None and figures["words_per_s"] > 0
    assert 0 < figures["lemma_acc"] <= 100.0
    blank = evaluate_backend(treebank, "blank", config.section("nlp"))
    assert blank["words_f1"] < 100.0  # bare spaCy neither splits -nya nor keeps Anak-anak


def test_evaluate_nlp_cli_writes_json(treebank, tmp_path):
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(app, ["evaluate-nlp", "--conllu", str(treebank), "--json", str(out)])
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert set(figures) >= {"tokens_f1", "sentences_f1", "lemma_acc", "upos_acc", "words_per_s"}


def test_evaluate_rejects_a_file_without_text(tmp_path, config):
    path = tmp_path / "bad.conllu"
    path.write_text("1\tA\ta\tX\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no '# text = ' lines"):
        evaluate_backend(path, "fast", config.section("nlp"))


def test_langid_cli_labels_every_row(tmp_path):
    table = tmp_path / "answers.csv"
    table.write_text(
        "text,respondent\n"
        '"Jadi kita udah bikin branding-nya, but the problem is stoknya gak ada.",R1\n'
        "Anggaran kami dipotong tahun ini.,R2\n"
        "The budget was cut this year.,R3\n",
        encoding="utf-8",
    )
    out = tmp_path / "labelled.xlsx"
    result = CliRunner().invoke(app, ["langid", "--input", str(table), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    labelled = pd.read_excel(out)
    assert list(labelled["lang_detected"]) == ["mixed", "id", "en"]
    assert list(labelled["respondent"]) == ["R1", "R2", "R3"]
    assert labelled["lang_score"].between(0, 1).all()
    missing = CliRunner().invoke(app, ["langid", "--input", str(table), "--out", str(out), "--column", "jawaban"])
    assert missing.exit_code == 2 and "no 'jawaban' column" in " ".join(missing.output.split())
