import pytest

from pipeline.language import LanguageSettings, detect_text


@pytest.fixture(scope="module")
def lexicon(config):
    return config.section("nlp")["colloquial_lexicon"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Anggaran kami dipotong karena refocusing setelah pandemi.", "id"),
        ("Gak ada yang bisa bantu, udah gitu aja.", "id"),
        ("The budget was cut after the election and we had to wait.", "en"),
        ("Jadi kita udah bikin branding-nya, but the problem is mereka gak punya stok.", "mixed"),
        ("Kami sudah coba. But we did not get any answer from them.", "mixed"),
        ("Secara policy framework, RPJMD kita sudah mengakomodasi, tapi implementation-nya masih lemah.", "mixed"),
        ("Kami jualan lewat marketplace dan Instagram sekarang.", "id"),
        ("The antenna shop in Minamiura sells coffee from Lembah Hijau.", "en"),
        ("Oke.", "und"),
        ("12.500", "und"),
    ],
)
def test_language_labels(text, expected, lexicon):
    assert detect_text(text, LanguageSettings(), lexicon).language == expected


def test_language_score_is_a_share(lexicon):
    guess = detect_text("Kami sudah coba dan mereka juga setuju dengan itu.", LanguageSettings(), lexicon)
    assert guess.language == "id" and guess.score == 1.0
    mixed = detect_text("Kita udah bikin, but the problem is stoknya.", LanguageSettings(), lexicon)
    assert 0 < mixed.score <= 1
