"""Benchmark: language identification methods on NusaX and the code-mixed fixture.

Each method labels every text as a whole (``detect_text``): the 400 Indonesian and 400
English NusaX sentiment test rows (parallel: same ids) and the hand-made code-mixed
fixture (``tests/fixtures/code_mixed.csv``, labels id / en / mixed / und).

* ``<detector> alone``: the detector's own choice between Indonesian (Malay counted as
  Indonesian) and English; it can say neither ``mixed`` nor ``und`` (``und`` only for
  a text without two words).
* ``<detector> + rule``: Pilah's method (``pipeline.language``) with that detector;
  ``markers`` is the same rule with marker words alone (Pilah's first method).

Accuracy on NusaX is strict: a row labelled ``mixed`` counts as wrong, although some
NusaX reviews do switch into English (*dikasih first impression yang tidak bagus*).
Speed is texts per second on all 875 texts, caches empty, models already loaded;
``load_s`` is the time to build the detector and label a first text.

    python bench/langid.py

Needs lingua-language-detector and py3langid installed (a missing one is skipped).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from pipeline import language
from pipeline.config import PROJECT_ROOT, load_config

NUSAX = PROJECT_ROOT.parent / "shared" / "data" / "nusax_senti"
FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "code_mixed.csv"
DETECTORS = ("lingua", "lingua-low", "py3langid")


def main() -> None:
    lexicon = load_config().section("nlp")["colloquial_lexicon"]
    data = _load()
    language._vocabularies(lexicon)
    load = {}
    for name in DETECTORS + ("markers",):
        try:
            load[name] = _load_seconds(name)
        except ImportError as exc:
            print(f"skipped {name}: {exc}")
    detectors = [name for name in DETECTORS if name in load]
    rows = []
    for name in detectors:
        rows.append(_measure(f"{name} alone", *_detector_alone(name), data) | {"load_s": load[name]})
    for name in detectors + ["markers"]:
        rows.append(_measure(f"{name} + rule", *_with_rule(name, lexicon), data) | {"load_s": load[name]})
    table = pd.DataFrame(rows).set_index("method")
    counts = {name: len(frame) for name, frame in data.items()}
    print(f"texts: {counts}")
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))


def _load() -> dict[str, pd.DataFrame]:
    indonesian = pd.read_csv(NUSAX / "indonesian" / "test.csv").assign(lang="id")
    english = pd.read_csv(NUSAX / "english" / "test.csv").assign(lang="en")
    fixture = pd.read_csv(FIXTURE, keep_default_na=False)
    return {"nusax_id": indonesian, "nusax_en": english, "fixture": fixture}


def _load_seconds(name: str) -> float:
    """Seconds to build a detector and label one text (models load on first use)."""
    language._detector.cache_clear()
    started = time.perf_counter()
    english_share = language._detector(name)
    if english_share is not None:
        english_share("Kami sudah coba, but no answer.")
    return time.perf_counter() - started


def _detector_alone(name: str) -> tuple[Callable[[str], str], Callable[[], None]]:
    english_share = language._detector(name)

    def label(text: str) -> str:
        if len(language._WORD.findall(text)) < 2:
            return "und"
        return "en" if english_share(text) >= 0.5 else "id"

    return label, english_share.cache_clear


def _with_rule(name: str, lexicon: str) -> tuple[Callable[[str], str], Callable[[], None]]:
    settings = language.LanguageSettings(detector=name)
    english_share = language._detector(name)

    def label(text: str) -> str:
        return language.detect_text(text, settings, lexicon).language

    return label, english_share.cache_clear if english_share else (lambda: None)


def _measure(method: str, label: Callable[[str], str], clear_cache: Callable[[], None], data) -> dict:
    label("Kami sudah coba, but no answer.")  # loads models and vocabularies
    clear_cache()
    predicted, seconds = {}, 0.0
    for name, frame in data.items():
        started = time.perf_counter()
        predicted[name] = [label(text) for text in frame["text"]]
        seconds += time.perf_counter() - started
    fixture_gold = data["fixture"]["lang"].tolist()
    fixture_pred = predicted["fixture"]
    hits = sum(g == p == "mixed" for g, p in zip(fixture_gold, fixture_pred))
    said_mixed = fixture_pred.count("mixed")
    return {
        "method": method,
        "nusax_id": _accuracy(data["nusax_id"]["lang"], predicted["nusax_id"]),
        "nusax_en": _accuracy(data["nusax_en"]["lang"], predicted["nusax_en"]),
        "nusax_mixed": predicted["nusax_id"].count("mixed") + predicted["nusax_en"].count("mixed"),
        "fixture": _accuracy(fixture_gold, fixture_pred),
        "mixed_recall": hits / fixture_gold.count("mixed"),
        "mixed_precision": hits / said_mixed if said_mixed else 0.0,
        "texts_per_s": round(sum(len(f) for f in data.values()) / seconds),
    }


def _accuracy(gold, predicted) -> float:
    gold = list(gold)
    return sum(g == p for g, p in zip(gold, predicted)) / len(gold)


if __name__ == "__main__":
    main()
