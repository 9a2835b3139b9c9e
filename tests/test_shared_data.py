"""Tests on the full public data sets in ../shared/data (``-m shared_data``; .ci/run runs them)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.language import LanguageSettings, detect_text
from tests.conftest import SHARED_CUTS, SHARED_DATA

pytestmark = pytest.mark.shared_data


@pytest.mark.parametrize(
    ("cut", "source", "rows"),
    [
        ("hoasa_test_first200.csv", "indonlu_hoasa/test_preprocess.csv", 200),
        ("nusax_indonesian_test_first120.csv", "nusax_senti/indonesian/test.csv", 120),
        ("nusax_english_test_first120.csv", "nusax_senti/english/test.csv", 120),
    ],
)
def test_shared_data_fixture_cuts_are_the_first_rows_of_their_source(cut, source, rows):
    pd.testing.assert_frame_equal(pd.read_csv(SHARED_CUTS / cut), pd.read_csv(SHARED_DATA / source).head(rows))


@pytest.mark.parametrize(("folder", "lang", "floor"), [("indonesian", "id", 0.9), ("english", "en", 0.95)])
def test_shared_data_language_on_the_whole_nusax_test_split(folder, lang, floor, config):
    texts = pd.read_csv(SHARED_DATA / "nusax_senti" / folder / "test.csv")["text"]
    lexicon = config.section("nlp")["colloquial_lexicon"]
    labels = [detect_text(text, LanguageSettings(), lexicon).language for text in texts]
    assert len(labels) == 400
    assert labels.count(lang) / len(labels) >= floor
    other = {"id": "en", "en": "id"}[lang]
    assert labels.count(other) / len(labels) <= 0.01  # errors are "mixed", almost never the other language
