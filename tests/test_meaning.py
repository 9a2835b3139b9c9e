"""The meaning model: codes learned from the segments' vectors and the codebook's texts
(``pipeline.suggest.meaning``), inside ``SuggestionModel`` and its ``Scorer``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from pipeline.codebook import parse_codebook
from pipeline.embed import StandInEncoder
from pipeline.engine import Stages
from pipeline.suggest import Suggester
from pipeline.suggest.features import code_frame, featurize_many
from pipeline.suggest.meaning import fit_meaning, text_rows, unit_centred
from pipeline.suggest.model import MEANING_BELOW
from pipeline.suggest.scoring import VECTOR
from pipeline.suggest.semantic import CodeVectors
from pipeline.train import train
from test_suggest_semantic import _items, _raw


def test_the_closed_form_is_weighted_ridge_with_balanced_classes():
    """Each code's weights are scikit-learn's ``Ridge`` on +1/-1 targets, the rows weighted
    by their own weight times their class's balancing factor (the intercept a column of ones,
    penalised like the rest)."""
    rng = np.random.default_rng(0)
    rows = unit_centred(rng.normal(size=(40, 6)).astype(np.float32), np.zeros(6))
    present = (rng.random((40, 3)) < [0.2, 0.5, 0.0]).astype(int)  # the third code: no segment, no text
    texts = unit_centred(rng.normal(size=(3, 6)).astype(np.float32), np.zeros(6))
    text_labels = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    text_weights = np.array([6.0, 6.0, 12.0])
    coef, held_out = fit_meaning(rows, present, texts, text_labels, text_weights, alpha=3.0)
    X, w = np.vstack([rows, texts]), np.r_[np.ones(40), text_weights]
    for k in range(2):
        y = np.r_[present[:, k], text_labels[:, k]].astype(bool)
        positive, negative = w[y].sum(), w[~y].sum()
        balance = np.where(y, (positive + negative) / (2 * positive), (positive + negative) / (2 * negative))
        expected = Ridge(alpha=3.0, fit_intercept=False).fit(X, np.where(y, 1.0, -1.0), sample_weight=w * balance)
        np.testing.assert_allclose(coef[:, k], expected.coef_, rtol=1e-6, atol=1e-9)
    # one class only: the ridge on its -1 targets, which says no (0 would be a coin toss)
    expected = Ridge(alpha=3.0, fit_intercept=False).fit(X, -np.ones(len(X)), sample_weight=w)
    np.testing.assert_allclose(coef[:, 2], expected.coef_, rtol=1e-6, atol=1e-9)
    assert (rows @ coef[:, 2] < 0).all() and (held_out[:, 2] < 0).all()
    assert held_out.shape == (40, 3) and np.abs(held_out[:, :2]).sum() > 0


def test_a_codes_texts_share_its_weight_and_direction_texts_are_left_out():
    vectors = np.eye(4, dtype=np.float32)
    found, labels, weights = text_rows(["a", "b"], ["a", "a", "b", ""], vectors, weight=12.0)
    assert labels.tolist() == [[1, 0], [1, 0], [0, 1]] and weights.tolist() == [6.0, 6.0, 12.0]
    np.testing.assert_array_equal(found, vectors[:3])


def _book(codebook):
    raw = _raw(codebook, {"training", "infrastructure", "certification"})
    for code in raw["codes"]:
        code.pop("keywords", None)
        code["examples"] = []
    certification = next(c for c in raw["codes"] if c["id"] == "certification")
    certification["examples"] = ["Sertifikat halal dan izin edar BPOM untuk produk olahan."]
    return parse_codebook(raw)


def _table():
    texts = ([f"Pelatihan pengemasan angkatan {i} diikuti dua puluh perajin." for i in range(12)]
             + [f"Jalan kabupaten rusak sepanjang {i} kilometer." for i in range(12)]
             + ["Izin edar BPOM untuk sambal kami keluar."])
    codes = ["training=supporting"] * 12 + ["infrastructure=constraining"] * 12 + ["certification=supporting"]
    return pd.DataFrame({"text": texts, "codes": codes, "lang": "id"})


def test_one_coded_segment_and_the_codebook_teach_a_code(stages, codebook):
    """A code with one coded segment has no word model; its meaning model, which counts the
    codebook's example quote as coded segments, suggests it on a new segment close to the
    quote, and the evidence names the closest text. Without the codebook's texts the same
    single segment scores it lower."""
    book = _book(codebook)
    stages = Stages(stages.config, book, None)
    encoder = StandInEncoder()
    table = _table()
    code_vectors = CodeVectors.from_codebook(book, encoder.queries, encoder.id)
    vectors = encoder.passages(table["text"].tolist())
    model, _ = train(table, book, stages, "one", folds=1, vectors=vectors, encoder_id=encoder.id,
                     code_vectors=code_vectors)
    alone, _ = train(table, book, stages, "one", folds=1, vectors=vectors, encoder_id=encoder.id)
    assert "certification" in model.meaning_codes_ and "certification" in alone.meaning_codes_
    asked = ["Sertifikat halal produk olahan sudah terbit.", "Pelatihan pengemasan diikuti perajin."]
    found = {}
    for name, trained in (("with", model), ("alone", alone)):
        suggester = Suggester(book, trained.scorer(), stages.config.section("suggest"), code_vectors)
        found[name] = [s for s in suggester(_items(stages, asked), encoder.passages(asked)) if s.code == "certification"]
    assert [s.segment_id for s in found["with"]] == ["t:0"]
    assert found["with"][0].source == "model" and found["with"][0].evidence.startswith("example: Sertifikat halal")
    assert all(s.score < found["with"][0].score for s in found["alone"] if s.segment_id == "t:0")


def test_the_scorer_scores_the_meaning_model_as_the_estimator_does(stages, codebook):
    book = _book(codebook)
    stages = Stages(stages.config, book, None)
    encoder = StandInEncoder()
    table = _table()
    code_vectors = CodeVectors.from_codebook(book, encoder.queries, encoder.id)
    model, _ = train(table, book, stages, "one", folds=1, vectors=encoder.passages(table["text"].tolist()),
                     encoder_id=encoder.id, code_vectors=code_vectors)
    assert model.meaning_weights_ is not None
    asked = ["Sertifikat halal untuk produk olahan kami.", "Jalan rusak lagi.", "Pelatihan untuk perajin."]
    features = featurize_many(_items(stages, asked), Suggester(book, None, {}).rules)
    frame = code_frame(features, [c.id for c in book.codable()], encoder.passages(asked))
    np.testing.assert_allclose(model.scorer().predict_proba(frame).to_numpy(),
                               model.predict_proba(frame).to_numpy(), rtol=1e-5)
    # a segment without a vector (one the encoder skipped) has no meaning to suggest by: a
    # code learned by meaning alone gets about 0 there (its decision of 0 read as 0.5 before)
    frame[VECTOR] = [frame[VECTOR][0], None, frame[VECTOR][2]]
    proba = model.scorer().predict_proba(frame)
    assert "certification" in model.meaning_codes_ and not model.weights_[:, model.scored_.index("certification")].any()
    assert proba.loc[1, "certification"] < 1e-6 and proba.loc[0, "certification"] > 0.5


def test_codes_with_many_coded_segments_keep_their_word_model_alone(stages, codebook):
    """From ``MEANING_BELOW`` coded segments on, a code is left to its word model."""
    book = _book(codebook)
    stages = Stages(stages.config, book, None)
    encoder = StandInEncoder()
    many = MEANING_BELOW + 2
    texts = ([f"Pelatihan pengemasan angkatan {i} diikuti perajin." for i in range(many)]
             + [f"Jalan kabupaten rusak sepanjang {i} kilometer." for i in range(6)])
    codes = ["training=supporting"] * many + ["infrastructure=constraining"] * 6
    table = pd.DataFrame({"text": texts, "codes": codes, "lang": "id"})
    model, _ = train(table, book, stages, "many", folds=1, vectors=encoder.passages(texts), encoder_id=encoder.id,
                     code_vectors=CodeVectors.from_codebook(book, encoder.queries, encoder.id))
    assert model.meaning_codes_ == ["infrastructure"]
    assert set(model.learned_) == {"training", "infrastructure"}
