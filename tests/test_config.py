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
