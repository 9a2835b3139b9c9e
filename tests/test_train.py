import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.errors import InputError, ModelError
from pipeline.suggest import load_model
from pipeline.suggest.scoring import MODEL_FILE
from pipeline.train import labels_from_gold

TURNS = {
    "a.txt": [
        ("Ani", "Anggaran kami dipotong lagi, jadi pelatihan ditunda."),
        ("Pewawancara", "Lalu bagaimana?"),
        ("Ani", "Kami ngobrol soal cuaca saja."),
    ],
    "b.txt": [
        ("Budi", "The training in Minamiura really helped our staff."),
        ("Budi", "We had no budget left for the fair."),
    ],
}


@pytest.fixture()
def tiny_corpus(tmp_path):
    for name, turns in TURNS.items():
        (tmp_path / name).write_text("\n\n".join(f"{s}: {t}" for s, t in turns), encoding="utf-8")
    (tmp_path / "gold.csv").write_text(
        "document,quote,codes\n"
        "a.txt,Anggaran kami dipotong,funding=constraining;training=constraining\n"
        "b.txt,The training in Minamiura,training=supporting\n"
        "b.txt,We had no budget,funding=constraining;promotion\n",
        encoding="utf-8",
    )
    return tmp_path


def test_train_gold_becomes_one_row_per_segment(tiny_corpus, stages):
    labels = labels_from_gold(tiny_corpus, tiny_corpus / "gold.csv", stages)
    assert list(labels["codes"]) == [
        "funding=constraining;training=constraining", "", "", "training=supporting", "funding=constraining;promotion"]
    assert list(labels["speaker"]) == ["Ani", "Pewawancara", "Ani", "Budi", "Budi"]
    assert list(labels["lang"][3:]) == ["en", "en"]


def test_train_gold_reports_every_quote_not_found(tiny_corpus, stages):
    gold = tiny_corpus / "gold.csv"
    gold.write_text("document,quote,codes\na.txt,Tidak ada di sini,funding\nc.txt,Apa pun,funding\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        labels_from_gold(tiny_corpus, gold, stages)
    message = str(caught.value)
    assert "gold.csv" in message and "found in 0 segments of a.txt" in message and "'c.txt' not found" in message


def test_train_cli_writes_model_with_meta_and_checksum(tmp_path):
    rows = (
        [("Anggaran kami dipotong lagi tahun ini.", "funding=constraining")] * 10
        + [("Pelatihan pengemasan sangat membantu.", "training=supporting")] * 10
        + [("The budget was cut again this year.", "funding=constraining")] * 10
        + [("Kami ngobrol soal cuaca saja.", "")] * 10
    )
    table = tmp_path / "labels.csv"
    table.write_text("text,codes\n" + "\n".join(f"{t},{c}" for t, c in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "--labels", str(table), "--out", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    model, meta = load_model(tmp_path / "model")
    assert set(model.learned_) == {"funding", "training"}
    assert meta["data"]["rows"] == 40 and len(meta["data"]["sha256"]) == 64
    assert meta["codebook"]["sha256"] and meta["versions"]["scikit-learn"]
    assert meta["metrics"]["suggestions"]["per_code"]["funding"]["support"] == 20
    assert meta["metrics"]["scheme"] == "5-fold, rows shuffled"
    funding = meta["code_sources"]["funding"]
    assert funding["use"] in ("model", "rules") and isinstance(funding["ready"], bool)
    assert set(funding["model"]) >= {"f1", "precision", "kappa"} and set(funding["rules"]) >= {"f1", "precision", "kappa"}
    assert "who suggests them" in result.output and "funding" in result.output
    assert set(meta["seconds"]) == {"features", "cross_validation", "fit"}
    with open(tmp_path / "model" / MODEL_FILE, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelError, match="checksum"):
        load_model(tmp_path / "model")


def test_shipped_model_matches_codebook_and_reports_cross_validated_metrics(codebook, config):
    model, meta = load_model(config.path("suggest", "model"))
    assert meta["codebook"]["sha256"] == codebook.hash, "retrain: pilah train"
    metrics = meta["metrics"]
    assert metrics["scheme"].endswith("whole documents held out")
    micro, per_code = metrics["suggestions"]["micro"], metrics["suggestions"]["per_code"]
    assert micro["f1"] == pytest.approx(2 * micro["precision"] * micro["recall"] / (micro["precision"] + micro["recall"]),
                                        abs=1e-3)
    supported = [entry["f1"] for entry in per_code.values() if entry["support"]]
    assert metrics["suggestions"]["macro_f1"] == pytest.approx(sum(supported) / len(supported), abs=1e-3)
    assert set(per_code) == {code.id for code in codebook.codable()}  # every code the sheet can hold is scored
    assert json.dumps(meta)  # plain data only


def _hotel_table(path):
    rows = (
        [("AC kamar mati dan panas sekali.", "ac=constraining")] * 8
        + [("AC dingin, kamar nyaman.", "ac=supporting")] * 8
        + [("Wifi lambat, tidak bisa kerja.", "wifi=constraining")] * 8
        + [("Wifi kencang di semua lantai.", "wifi=supporting")] * 8
        + [("Sarapan biasa saja.", "")] * 8
    )
    import pandas as pd

    pd.DataFrame([{"text": t, "codes": c, "guest": f"g{i}"} for i, (t, c) in enumerate(rows)]).to_csv(path, index=False)
    return path


def test_train_suggest_evaluate_on_a_table_without_codebook(tmp_path):
    table = _hotel_table(tmp_path / "hotel.csv")
    runner = CliRunner()
    refused = runner.invoke(app, ["train", "--labels", str(table)])
    assert refused.exit_code == 2 and "--out" in refused.output
    trained = runner.invoke(app, ["train", "--labels", str(table), "--out", str(tmp_path / "m")])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "m" / "codebook.yaml").exists()
    meta = json.loads((tmp_path / "m" / "meta.json").read_text(encoding="utf-8"))
    assert meta["labels"] == ["ac", "wifi"]

    new = tmp_path / "new.csv"
    new.write_text("text,guest\nAC-nya mati terus.,x\nWifi-nya kencang sekali.,y\nKolam renang bersih.,z\n", encoding="utf-8")
    out = tmp_path / "suggested.csv"
    result = runner.invoke(app, ["suggest", "--input", str(new), "--model", str(tmp_path / "m"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    suggested = pd.read_csv(out, keep_default_na=False)
    assert list(suggested.columns) == ["text", "guest", "suggested_codes", "suggested_scores", "evidence"]
    assert suggested["suggested_codes"][0].startswith("ac=") and suggested["suggested_codes"][1].startswith("wifi=")
    assert suggested["suggested_scores"][0].startswith("ac:")

    figures_path = tmp_path / "figures.json"
    evaluated = runner.invoke(app, ["evaluate", "--labels", str(table), "--model", str(tmp_path / "m"),
                                    "--json", str(figures_path)])
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    assert set(figures["suggestions"]["per_code"]["ac"]) == {"precision", "recall", "f1", "kappa", "support"}
    assert figures["suggestions"]["micro"]["f1"] > 0.9
    assert figures["direction"]["accuracy"] > 0.9 and figures["code_direction_pairs"]["pairs"] == 4


@pytest.mark.shared_data
def test_suggest_in_worker_processes_gives_the_same_rows(config):
    """NusaX's 500 Indonesian + 500 English training sentences, suggested by the shipped
    model in one process and in two."""
    import pandas as pd

    from pipeline.config import PROJECT_ROOT
    from pipeline.engine import Stages
    from pipeline.table_suggestions import PARALLEL_MIN_ROWS, load_model_dir, suggest_labels

    from tests.conftest import SHARED_DATA

    nusax = SHARED_DATA / "nusax_senti"
    table = pd.concat([pd.read_csv(nusax / lang / "train.csv")[["text"]] for lang in ("indonesian", "english")],
                      ignore_index=True)
    assert len(table) >= PARALLEL_MIN_ROWS
    model, _, book = load_model_dir(PROJECT_ROOT / "models" / "default")
    stages = Stages(config, book, model)
    alone = suggest_labels(table, model, book, stages, jobs=1)
    shared = suggest_labels(table, model, book, stages, jobs=2)
    pd.testing.assert_frame_equal(alone, shared)
    assert (alone["suggested_codes"] != "").sum() > 50  # the sentences do speak of funding, markets…


def test_directions_from_the_batch_features_equal_those_built_afresh(config):
    """The suggester hands the presence features of a batch to the direction model instead
    of building the character n-grams twice; the directions are the same either way."""
    from pipeline.config import PROJECT_ROOT
    from pipeline.engine import Stages
    from pipeline.suggest.features import code_frame, direction_rows
    from pipeline.table_suggestions import load_model_dir, table_features

    import pandas as pd

    model, _, book = load_model_dir(PROJECT_ROOT / "models" / "default")
    assert model.chars is not None and model.has_direction
    texts = ["Anggaran pelatihan kami dipotong, jadi kurang dana.", "The trade fair opened new markets for us.",
             "Izin halal belum keluar, tapi pemasaran online lancar."]
    codes = [c.id for c in book.codable()]
    X = code_frame(table_features(pd.DataFrame({"text": texts}), Stages(config, book, model)), codes)
    pairs = [(i, code) for i in (2, 0, 1) for code in ("funding", "promotion", "certification")]
    rows = direction_rows(X, pairs)
    shared = model.predict_direction(rows, features=model.transform(X))
    assert list(shared) == list(model.predict_direction(rows))
    assert set(shared) <= {"supporting", "constraining", "neutral"} and len(set(shared)) > 1


def test_train_on_a_few_rows_falls_back_to_the_rules(tmp_path):
    """Too few rows for any code to be learned: the model keeps the codebook rules, the
    cross-validation shrinks to one fold per row, and one row skips it."""
    runner = CliRunner()
    few = tmp_path / "few.csv"
    few.write_text("text,codes\nWifi-nya mati.,wifi=constraining\nAC-nya dingin.,ac=supporting\nKolam bersih.,\n",
                   encoding="utf-8")
    trained = runner.invoke(app, ["train", "--labels", str(few), "--out", str(tmp_path / "few")])
    assert trained.exit_code == 0, trained.output
    meta = json.loads((tmp_path / "few" / "meta.json").read_text(encoding="utf-8"))
    assert meta["learned_codes"] == [] and meta["rule_only_codes"] == ["ac", "wifi"]
    assert meta["metrics"]["scheme"] == "3-fold, rows shuffled"

    new = tmp_path / "new.csv"
    new.write_text("text\nWifi di kamar lambat.\n", encoding="utf-8")
    out = tmp_path / "suggested.csv"
    result = runner.invoke(app, ["suggest", "--input", str(new), "--model", str(tmp_path / "few"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wifi=" in out.read_text(encoding="utf-8-sig")  # the code's name is its keyword

    one = tmp_path / "one.csv"
    one.write_text("text,codes\nWifi-nya mati.,wifi=constraining\n", encoding="utf-8")
    trained = runner.invoke(app, ["train", "--labels", str(one), "--out", str(tmp_path / "one")])
    assert trained.exit_code == 0, trained.output
    assert json.loads((tmp_path / "one" / "meta.json").read_text(encoding="utf-8"))["metrics"] is None


def test_train_on_a_table_without_codes_names_the_file(tmp_path):
    table = tmp_path / "uncoded.csv"
    table.write_text("text,codes\nWifi-nya mati.,\nAC-nya dingin.,\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "--labels", str(table), "--out", str(tmp_path / "m")])
    message = " ".join(result.output.split())  # the console wraps long lines
    assert result.exit_code == 2
    assert "uncoded.csv: no row has a code" in message
    assert not (tmp_path / "m").exists()


def test_lang_column_is_read_as_written_by_people(stages):
    """``English`` and ``EN`` get the English tokenizer (*don't* → *do n't*); ``fr`` is no
    language Pilah reads, so the detector decides."""
    from collections import Counter

    import pandas as pd

    english = "We don't have the trainings."
    table = pd.DataFrame({"text": [english, english, "Kami tidak dapat pelatihan.", english],
                          "lang": ["English", "EN", "Bahasa Indonesia", "fr"]})
    segments = stages.table_segments(table, Counter())
    assert [s.language for s in segments] == ["en", "en", "id", "en"]
    docs = [doc for _, doc in stages.tokenize(segments, Counter())]
    assert [t.text for t in docs[1]][:3] == ["We", "do", "n't"]


def test_suggest_a_cell_longer_than_spacy_takes_goes_piece_by_piece(config):
    """A 1.2-million-character cell (spaCy refuses over 1,000,000) is suggested in pieces;
    its codes are those of the pieces, and the other rows are as they are alone."""
    import pandas as pd

    from pipeline.config import PROJECT_ROOT
    from pipeline.engine import Stages
    from pipeline.table_suggestions import load_model_dir, suggest_labels

    model, _, book = load_model_dir(PROJECT_ROOT / "models" / "default")
    stages = Stages(config, book, model)
    short = "Anggaran pelatihan kami dipotong, jadi kurang dana untuk modal UMKM."
    long = "Kami berdiskusi soal cuaca dan jalan. " * 31_600 + short
    table = pd.DataFrame({"text": [short, long, "Pemasaran online lewat marketplace."]})
    assert len(long) > 1_200_000
    result = suggest_labels(table, model, book, stages, jobs=1)
    alone = suggest_labels(table.iloc[[0, 2]], model, book, stages, jobs=1)
    assert list(result["suggested_codes"].iloc[[0, 2]]) == list(alone["suggested_codes"])
    assert set(result["suggested_codes"][1].split(";")) & set(result["suggested_codes"][0].split(";"))


def test_a_model_of_an_older_format_is_refused_with_the_fix(tmp_path):
    import shutil

    from pipeline.config import PROJECT_ROOT

    old = tmp_path / "old"
    shutil.copytree(PROJECT_ROOT / "models" / "default", old)
    meta = json.loads((old / "meta.json").read_text(encoding="utf-8"))
    assert meta["format"] == 3
    (old / MODEL_FILE).rename(old / "model.joblib")  # format 2 pickled the estimator there
    (old / "meta.json").write_text(json.dumps(meta | {"format": 2}), encoding="utf-8")
    with pytest.raises(ModelError, match=r"format 2.*retrain it with `pilah train`"):
        load_model(old)
    del meta["format"]  # as written before formats were recorded
    (old / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelError, match=r"format 1.*retrain it with `pilah train`"):
        load_model(old)


_FIT_IN_THIS_PROCESS = None  # the real fold fit, for the spies below
_PARENT = None
_NOTES = None  # a file each fold process writes its process id to


def _fit_noting_the_process(rows):
    import os

    with open(_NOTES, "a", encoding="utf-8") as notes:
        notes.write(f"{os.getpid()}\n")
    return _FIT_IN_THIS_PROCESS(rows)


def _fit_or_die(rows):
    """A fold fit that kills the fold process it runs in (a machine out of memory)."""
    import os

    if os.getpid() != _PARENT:
        os._exit(1)
    return _FIT_IN_THIS_PROCESS(rows)


def test_folds_fitted_in_other_processes_give_the_figures_of_one(sample_corpus, stages, codebook, monkeypatch,
                                                                 tmp_path):
    """`pilah train` and `retrain` fit the cross-validation's folds in forked processes; the
    figures are those one process gives, and a fold process that dies leaves its fold to this one."""
    import os

    import pipeline.train as training

    labels = labels_from_gold(sample_corpus, sample_corpus / "gold.csv", stages)
    assert labels["document"].nunique() >= 3 and (labels["codes"] != "").sum() >= 30
    assert training._fold_jobs(stages, 2, 5) == 2 and training._fold_jobs(stages, 8, 3) == 3
    alone = training.train(labels, codebook, stages, "gold", folds=3, jobs=1)[1]["metrics"]
    assert alone["suggestions"]["micro"]["f1"] > 0.3

    global _FIT_IN_THIS_PROCESS, _PARENT, _NOTES
    _FIT_IN_THIS_PROCESS, _PARENT, _NOTES = training._fit_fold, os.getpid(), tmp_path / "fold_processes.txt"
    monkeypatch.setattr(training, "_fit_fold", _fit_noting_the_process)
    assert training.train(labels, codebook, stages, "gold", folds=3, jobs=2)[1]["metrics"] == alone
    processes = _NOTES.read_text(encoding="utf-8").split()
    assert len(processes) == 3 and str(os.getpid()) not in processes  # every fold fitted elsewhere

    monkeypatch.setattr(training, "_fit_fold", _fit_or_die)
    assert training.train(labels, codebook, stages, "gold", folds=3, jobs=2)[1]["metrics"] == alone
