"""What makes a stored document stale: its text, and every setting and file it was processed with."""

import shutil

from pipeline.codebook import load_codebook
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.engine import settings_key
from pipeline.run import run


def test_engine_settings_key_follows_file_contents_not_paths(tmp_path):
    lexicon = tmp_path / "colloquial.tsv"
    shutil.copy(PROJECT_ROOT / "configs" / "lexicon" / "colloquial_id.tsv", lexicon)
    (tmp_path / "pilah.toml").write_text(f'[nlp]\ncolloquial_lexicon = "{lexicon.name}"\n', encoding="utf-8")
    config = load_config(tmp_path / "pilah.toml")
    codebook = load_codebook(config.path("suggest", "codebook"))
    before = settings_key(config, codebook, "abc")
    assert settings_key(load_config(tmp_path / "pilah.toml"), codebook, "abc") == before
    with open(lexicon, "a", encoding="utf-8") as handle:
        handle.write("gpp\tgak apa-apa\n")
    assert settings_key(load_config(tmp_path / "pilah.toml"), codebook, "abc") != before
    assert settings_key(config, codebook, "abd") != settings_key(config, codebook, "abc")


def test_engine_identical_files_and_a_lexicon_change_end_to_end(tmp_path, sample_corpus):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = sample_corpus / "interviews" / "02_pengusaha_kopi_lembah_hijau.txt"
    shutil.copy(source, corpus / "a.txt")
    shutil.copy(source, corpus / "b.txt")
    lexicon = tmp_path / "colloquial.tsv"
    shutil.copy(PROJECT_ROOT / "configs" / "lexicon" / "colloquial_id.tsv", lexicon)
    config = tmp_path / "pilah.toml"
    config.write_text(f'[nlp]\ncolloquial_lexicon = "{lexicon.name}"\n', encoding="utf-8")
    first = run(corpus, config, tmp_path / "out", tmp_path)
    assert first["counts"]["documents"] == 2 and first["counts"]["documents_processed"] == 2
    assert set(first["suggestions_per_document"]) == {"a.txt", "b.txt"}
    assert run(corpus, config, tmp_path / "out", tmp_path)["counts"]["documents_unchanged"] == 2
    with open(lexicon, "a", encoding="utf-8") as handle:
        handle.write("gpp\tgak apa-apa\n")
    assert run(corpus, config, tmp_path / "out", tmp_path)["counts"]["documents_processed"] == 2
