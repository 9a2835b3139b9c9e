import pytest

from pipeline.errors import InputError
from pipeline.labels import format_codes, parse_codes, read_labels
from pipeline.metrics import code_metrics, direction_metrics


def test_labels_parse_and_format_codes():
    parsed = parse_codes(" funding=Constraining; training ;;")
    assert parsed == {"funding": "constraining", "training": None}
    assert format_codes(parsed) == "funding=constraining;training"
    assert parse_codes("") == {}
    with pytest.raises(ValueError, match="unknown direction 'bad'"):
        parse_codes("funding=bad")


def test_labels_read_table_reports_bad_rows_with_file(tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text("text,codes\nAnggaran kurang,funding=constraining\nX,funding=up\nY,nope\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_labels(table, known_codes={"funding"})
    message = str(caught.value)
    assert "labels.csv" in message and "row 3" in message and "row 4: code(s) not in the codebook: nope" in message
    table.write_text("text,codes,speaker\nAnggaran kurang,funding=constraining,Ani\nY,nope,\n", encoding="utf-8")
    frame = read_labels(table)  # without a codebook, any code id is accepted
    assert list(frame["labels"]) == [{"funding": "constraining"}, {"nope": None}]
    assert list(frame["speaker"]) == ["Ani", ""]


def test_metrics_per_code_and_direction():
    gold = [{"a", "b"}, {"a"}, set()]
    predicted = [{"a"}, {"a", "b"}, {"b"}]
    metrics = code_metrics(gold, predicted, ["a", "b"])
    assert metrics["per_code"]["a"] | {} == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "kappa": 1.0, "support": 2}
    assert metrics["per_code"]["b"]["precision"] == 0.0
    assert metrics["micro"] == {"precision": 0.5, "recall": 0.6667, "f1": 0.5714}
    result = direction_metrics(["supporting", "constraining"], ["supporting", "supporting"])
    assert result["accuracy"] == 0.5 and result["pairs"] == 2


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("teks;kode\nAnggaran kurang, katanya;funding=constraining\nPelatihan bagus;training\n", "utf-8-sig"),
        ("teks\tkode\nAnggaran kurang, katanya\tfunding=constraining\nPelatihan bagus\ttraining\n", "utf-16"),
        ("teks;kode\nAnggaran kurang, katanya;funding=constraining\nPelatihan bagus;training\n", "cp1252"),
    ],
)
def test_labels_detect_delimiter_and_encoding_and_take_named_columns(tmp_path, content, encoding):
    table = tmp_path / "excel.csv"
    table.write_bytes(content.encode(encoding))
    frame = read_labels(table, text_column="teks", codes_column="kode")
    assert list(frame["text"]) == ["Anggaran kurang, katanya", "Pelatihan bagus"]
    assert list(frame["labels"]) == [{"funding": "constraining"}, {"training": None}]


def test_labels_missing_columns_name_the_option(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("jawaban;kode\nYa;x\n", encoding="utf-8")
    with pytest.raises(InputError, match="--text-column NAME and --codes-column NAME"):
        read_labels(table)
    with pytest.raises(InputError, match="no 'isi' column"):
        read_labels(table, text_column="isi")


def test_labels_read_table_keeps_a_clashing_text_column_and_restores_names(tmp_path):
    from pipeline.labels import read_table, restore_columns

    table = tmp_path / "t.csv"
    table.write_text("text,jawaban\nlama,baru\n", encoding="utf-8")
    frame = read_table(table, text_column="jawaban")
    assert frame.loc[0, "text"] == "baru" and frame.loc[0, "text_original"] == "lama"
    assert list(restore_columns(frame).columns) == ["text", "jawaban"]
