"""`pilah run` end to end with either nlp backend: the same segments (ids and offsets), the
same contract of the exports; only the tokens and what the suggester makes of them differ."""

import json
import shutil
from pathlib import Path

import pandas as pd

from cli_helpers import invoke  # tests/cli_helpers.py
from pipeline.config import PROJECT_ROOT
from pipeline.store import Store

DOCUMENTS = ("02_pengusaha_kopi_lembah_hijau.txt", "04_pendamping_umkm_nadia.txt")


def _run(tmp_path, corpus, backend):
    project = tmp_path / backend
    project.mkdir()
    config = project / "settings.toml"
    model_dir = (PROJECT_ROOT / "models" / "stanza").as_posix()
    config.write_text(f'[nlp]\nbackend = "{backend}"\nstanza_model = "{model_dir}"\n', encoding="utf-8")
    invoke("run", corpus, "--config", config, "--project", project, "--out", project / "out")
    summary = json.loads((project / "out" / "run.json").read_text(encoding="utf-8"))
    with Store(project) as store:
        segments = store.segments_frame()
        texts = dict(zip(store.documents_frame()["document_id"], store.documents_frame()["text"]))
        suggestions = store.suggestions_frame()
    return summary, segments, texts, suggestions


def test_run_with_each_backend_gives_the_same_segments_and_a_sheet_for_each(tmp_path, sample_corpus):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in DOCUMENTS:
        shutil.copy(sample_corpus / "interviews" / name, corpus / name)
    runs = {backend: _run(tmp_path, corpus, backend) for backend in ("fast", "stanza")}
    columns = ["segment_id", "document_id", "segment_start", "segment_end", "segment_text", "speaker", "language"]
    fast, stanza = (runs[b][1][columns].sort_values("segment_id").reset_index(drop=True) for b in ("fast", "stanza"))
    pd.testing.assert_frame_equal(fast, stanza)  # segmenting and language do not depend on the tokenizer
    for summary, segments, texts, suggestions in runs.values():
        assert summary["counts"]["documents"] == 2 and summary["counts"]["failures"] == 0
        assert set(summary["suggestions_per_document"]) == set(DOCUMENTS)
        assert all(texts[d][s:e] == t for d, s, e, t in zip(segments["document_id"], segments["segment_start"],
                                                            segments["segment_end"], segments["segment_text"]))
        assert set(suggestions["segment_id"]) <= set(segments["segment_id"])
        # the sheet has a row for each suggestion and a blank row for each segment without one
        csv = next(Path(p) for p in summary["outputs"] if Path(p).name == "suggestions.csv")
        sheet = pd.read_csv(csv, dtype=str, keep_default_na=False)
        assert summary["counts"]["suggestions"] == len(suggestions) == int((sheet["suggestion_id"] != "").sum())
    # the tokenizers differ, so the token counts do (and what the suggester finds, a little)
    assert runs["fast"][0]["counts"]["tokens"] != runs["stanza"][0]["counts"]["tokens"]
