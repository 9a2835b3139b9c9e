import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError


def test_config_defaults_resolve_paths(config):
    assert config.section("nlp")["backend"] == "fast"
    assert config.path("suggest", "codebook").is_file()


def test_config_user_file_overrides_and_changes_hash(tmp_path, config):
    user = tmp_path / "mine.toml"
    user.write_text('[suggest]\nmax_codes_per_segment = 2\ncodebook = "book.yaml"\n', encoding="utf-8")
    merged = load_config(user)
    assert merged.section("suggest")["max_codes_per_segment"] == 2
    assert merged.path("suggest", "codebook") == (tmp_path / "book.yaml").resolve()
    assert merged.section("nlp") == config.section("nlp")
    assert merged.hash != config.hash


def test_config_reports_all_unknown_keys_and_types(tmp_path):
    user = tmp_path / "bad.toml"
    user.write_text('[nlp]\nbakend = "fast"\nbatch_size = "big"\n[colour]\nx = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(user)
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("unknown key 'bakend'" in p for p in problems)
    assert any("batch_size = 'big': expected int, found str" in p for p in problems)
    assert any("unknown section [colour]" in p for p in problems)


def test_config_unknown_choices_are_named_before_any_work(tmp_path):
    """Every setting of a few values is checked when the project is read: a report language
    or display source that does not exist used to surface after the run, as a `--lang` flag."""
    user = tmp_path / "bad.toml"
    user.write_text('[language]\ndetector = "langdetect"\n[nlp]\nbackend = "spacy-trf"\n'
                    '[ingest]\nmax_file_mb = 0\n[report]\nlang = "xx"\nsource = "bogus"\n'
                    '[conclude]\nsource = "some"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(user)
    problems = caught.value.problems
    assert "[language] detector = 'langdetect': expected one of lingua, lingua-low, py3langid, markers" in problems
    assert "[nlp] backend = 'spacy-trf': expected one of fast, stanza" in problems
    assert "[ingest] max_file_mb = 0: must be greater than 0" in problems
    assert "[report] lang = 'xx': expected one of id, en" in problems
    assert "[report] source = 'bogus': expected one of accepted, suggested, all" in problems
    assert "[conclude] source = 'some': expected one of accepted, all" in problems


def test_config_choices_match_what_the_stages_accept():
    from pipeline.config import CHOICES
    from pipeline.display import SOURCES
    from pipeline.embed import ENCODERS
    from pipeline.language import DETECTORS
    from pipeline.nlp import BACKENDS
    from pipeline.report.labels import REPORT_LANGUAGES

    assert set(CHOICES["language", "detector"]) == set(DETECTORS)
    assert set(CHOICES["nlp", "backend"]) == set(BACKENDS)
    assert set(CHOICES["suggest", "encoder"]) == set(ENCODERS)
    assert set(CHOICES["report", "lang"]) == set(REPORT_LANGUAGES)
    assert set(CHOICES["report", "source"]) == set(SOURCES)


def test_config_stanza_backend_needs_its_model_folder(tmp_path):
    user = tmp_path / "stanza.toml"
    user.write_text('[nlp]\nbackend = "stanza"\nstanza_model = "no/such/folder"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="stanza_model .* is not a folder"):
        load_config(user)


def test_config_max_file_mb_is_read_by_ingest(tmp_path):
    from pipeline.ingest import iter_documents

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("x " * 400_000, encoding="utf-8")
    user = tmp_path / "small.toml"
    user.write_text("[ingest]\nmax_file_mb = 0.5\n", encoding="utf-8")
    (failure,) = iter_documents(corpus, load_config(user).section("ingest"))
    assert "over the limit of 0.5 MB ([ingest] max_file_mb)" in failure.reason
    (document,) = iter_documents(corpus, load_config().section("ingest"))
    assert document.path == "a.txt"


def test_cli_run_with_a_bad_detector_exits_2_before_reading(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    user = tmp_path / "bad.toml"
    user.write_text('[language]\ndetector = "langdetect"\n', encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Teks.", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(corpus), "--config", str(user), "--out", str(tmp_path / "out"),
                                      "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "[language] detector = 'langdetect'" in result.output  # printed as text, not rich markup
    assert not (tmp_path / "out" / "run.json").exists()
    assert result.exception is None or isinstance(result.exception, SystemExit)
