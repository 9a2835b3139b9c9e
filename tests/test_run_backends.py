"""`pilah run` end to end with either nlp backend: same contract, same exports."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import PROJECT_ROOT


@pytest.mark.parametrize("backend", ["fast", "stanza"])
def test_run_with_each_backend(tmp_path, sample_corpus, backend):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("02_pengusaha_kopi_lembah_hijau.txt", "04_pendamping_umkm_nadia.txt"):
        shutil.copy(sample_corpus / "interviews" / name, corpus / name)
    config = tmp_path / "pilah.toml"
    model_dir = (PROJECT_ROOT / "models" / "stanza").as_posix()
    config.write_text(f'[nlp]\nbackend = "{backend}"\nstanza_model = "{model_dir}"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(corpus), "--config", str(config), "--project", str(tmp_path),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert summary["counts"]["documents"] == 2 and summary["counts"]["failures"] == 0
    assert summary["counts"]["suggestions"] > 40
    assert set(summary["suggestions_per_document"]) == {"02_pengusaha_kopi_lembah_hijau.txt", "04_pendamping_umkm_nadia.txt"}
