"""The display matrices, on a project built by hand: two interviews of two cases, some
suggestions accepted, rejected, edited or added, one segment edited since (stale)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from pipeline import display
from pipeline.decisions import review_status
from pipeline.display import build_displays, cooccurrence, evidence_words, keyword_in_context, with_text
from pipeline.privacy import pseudonymised
from pipeline.records import Document, Segment, Suggestion
from pipeline.report import content_key
from pipeline.report.html import highlighted
from pipeline.segment import segment_id
from pipeline.store import Decision, Store

from display_reference import units_read_whole  # tests/display_reference.py

TURNS = {
    "a.txt": ["Dana APBD dipotong, jadi pelatihan ditunda.", "Pelatihan di Jepang sangat membantu kami.",
              "Izin edar BPOM sulit sekali diurus."],
    "b.txt": ["The budget was cut again this year.", "Training in Minamiura helped our staff a lot."],
}
META = {"a.txt": {"case": "Nusa Kencana", "actor": "Pak Hendra", "role": "official"},
        "b.txt": {"case": "Minamiura", "actor": "Ms. Tanaka", "role": "partner"}}
# (document, turn, code, direction, score, evidence)
SUGGESTED = [
    ("a.txt", 0, "funding", "constraining", 0.91, "dipotong; APBD"),
    ("a.txt", 0, "training", "constraining", 0.55, "pelatihan"),
    ("a.txt", 1, "training", "supporting", 0.88, "Pelatihan; membantu"),
    ("a.txt", 2, "certification", "constraining", 0.7, "BPOM; Izin edar"),
    ("b.txt", 0, "funding", "constraining", 0.8, "model: budget, cut"),
    ("b.txt", 1, "training", "supporting", 0.95, "Training"),
    ("b.txt", 1, "hr_capacity", "supporting", 0.4, "staff"),
]


def _save(store: Store, name: str, turns: list[str], run: int) -> dict[int, str]:
    text = "\n\n".join(turns)
    document = Document(id=name, path=name, format="txt", layout="paragraphs", text=text, metadata=META[name])
    segments, at = [], 0
    for index, turn in enumerate(turns):
        start = text.index(turn, at)
        segments.append(Segment(segment_id(name, turn), name, index, start, start + len(turn), turn, language="id"))
        at = start + len(turn)
    suggestions = [Suggestion(segments[i].id, code, direction, "", score, "rule", evidence)
                   for doc, i, code, direction, score, evidence in SUGGESTED if doc == name and i < len(turns)]
    store.save_document(document, segments, [len(t.split()) for t in turns], suggestions, f"key-{run}", run, "m1")
    return {i: s.id for i, s in enumerate(segments)}


@pytest.fixture()
def project(tmp_path):
    store = Store(tmp_path)
    run = store.start_run("corpus")
    ids = {name: _save(store, name, turns, run) for name, turns in TURNS.items()}
    suggestions = store.suggestions_frame().set_index(["segment_id", "code"])["suggestion_id"]

    def decide(doc, turn, code, decision, new_code=None, direction=None, reviewer="rina"):
        segment = ids[doc][turn]
        suggestion = suggestions.get((segment, code)) if decision != "add" else None
        return Decision(segment, suggestion, decision, new_code or code, direction, reviewer)

    store.add_decisions([
        decide("a.txt", 0, "funding", "accept", direction="constraining"),
        decide("a.txt", 0, "training", "reject"),
        decide("a.txt", 1, "training", "accept", direction="supporting"),
        decide("b.txt", 0, "funding", "edit", direction="neutral"),
        decide("b.txt", 0, "", "add", new_code="leadership", direction="supporting"),
        decide("a.txt", 2, "certification", "accept", direction="constraining"),
    ])
    # the third turn of a.txt is rewritten: its accepted coding becomes stale
    edited = list(TURNS["a.txt"])
    edited[2] = "Izin edar BPOM sekarang lebih cepat."
    _save(store, "a.txt", edited, store.start_run("corpus"))
    yield store
    store.close()


def test_display_accepted_are_the_codings_in_force_not_stale(project, codebook):
    displays = build_displays(project, codebook, "accepted")
    units = displays.units
    assert set(units["status"]) == {"accepted"}
    assert sorted(zip(units["code"], units["direction"])) == [
        ("funding", "constraining"), ("funding", "neutral"), ("leadership", "supporting"), ("training", "supporting")]
    assert displays.overview["stale_codings"] == 1
    assert displays.statuses == ("accepted",) and set(displays.code_by["case"]) == {"accepted"}


def test_display_pending_are_the_suggestions_no_decision_settled(project, codebook):
    displays = build_displays(project, codebook, "suggested")
    pending = displays.units
    assert set(pending["status"]) == {"pending"}
    assert sorted(pending["code"]) == ["certification", "hr_capacity", "training"]
    assert len(pending) == review_status(project)["pending"]
    assert displays.progress.loc["training", "rejected"] == 1 and displays.progress.loc["training", "pending"] == 1


def test_display_all_keeps_accepted_and_pending_apart(project, codebook):
    displays = build_displays(project, codebook, "all")
    assert displays.statuses == ("accepted", "pending")
    by_case = displays.code_by["case"]
    assert by_case["accepted"].loc["training"].to_dict() == {"Minamiura": 0, "Nusa Kencana": 1}
    assert by_case["pending"].loc["training"].to_dict() == {"Minamiura": 1, "Nusa Kencana": 0}
    assert displays.overview["units"] == {"accepted": 4, "pending": 3}
    assert displays.code_direction["accepted"].loc["funding"].to_dict() == {"supporting": 0, "constraining": 1, "neutral": 1}


def test_display_factor_matrix_counts_and_strongest_quote(project, codebook):
    displays = build_displays(project, codebook, "all")
    cells = displays.factor_cells["accepted"].set_index(["factor_type", "direction"])
    funding = cells.loc[("funding", "constraining")]
    assert funding["count"] == 1 and funding["by_case"] == {"Nusa Kencana": 1}
    assert funding["quote"] == TURNS["a.txt"][0] and funding["quote_actor"] == "Pak Hendra"
    assert cells.loc[("funding", "neutral"), "count"] == 1
    pending = displays.factor_cells["pending"].set_index(["factor_type", "direction"])
    # two pending human-resources suggestions on one segment: one segment, the higher score quoted
    hr = pending.loc[("human_resources", "supporting")]
    assert hr["count"] == 1 and hr["quote_code"] == "training" and hr["quote_score"] == pytest.approx(0.95)
    assert list(dict.fromkeys(displays.factor_cells["pending"]["factor_type"])) == list(codebook.factor_types)
    by_actor = displays.factor_by["actor"]["accepted"]
    assert by_actor.loc["human_resources", ("Pak Hendra", "supporting")] == 1


@pytest.mark.parametrize("source", ["accepted", "suggested", "all"])
def test_display_units_read_a_document_at_a_time_are_those_of_one_whole_read(project, codebook, source, monkeypatch):
    """The units are read one part of the documents at a time and held without their text;
    with the text read back by segment id they are the units of one whole read, row for row."""
    monkeypatch.setattr(display, "DOCUMENTS_AT_ONCE", 1)
    displays = build_displays(project, codebook, source)
    assert "text" not in displays.units.columns
    whole = units_read_whole(project, codebook, source)
    assert len(whole) == sum(displays.overview["units"].values()) > 0
    pd.testing.assert_frame_equal(with_text(displays.units, displays.texts), whole)


def test_display_parts_change_no_matrix(project, codebook, monkeypatch):
    whole = build_displays(project, codebook, "all")
    monkeypatch.setattr(display, "DOCUMENTS_AT_ONCE", 1)
    parts = build_displays(project, codebook, "all")
    assert parts.overview == whole.overview and parts.text_digest == whole.text_digest
    assert parts.overview["words"] == sum(len(t.split()) for t in project.segments_frame()["segment_text"])
    pd.testing.assert_frame_equal(parts.progress, whole.progress)
    for name in ("factor_cells", "cooccurrence", "code_direction", "code_language"):
        for status in whole.statuses:
            pd.testing.assert_frame_equal(getattr(parts, name)[status], getattr(whole, name)[status])
    for name in ("factor_by", "code_by"):
        for dimension, frames in getattr(whole, name).items():
            for status, frame in frames.items():
                pd.testing.assert_frame_equal(getattr(parts, name)[dimension][status], frame)


def test_display_strongest_quote_is_the_text_of_the_strongest_unit(project, codebook):
    displays = build_displays(project, codebook, "all")
    whole = units_read_whole(project, codebook, "all")
    for status in displays.statuses:
        units = whole[whole["status"] == status]
        ranked = units.assign(rank=units["score"].fillna(1.0), n=[len(evidence_words(e)) for e in units["evidence"]])
        ranked = ranked.sort_values(["rank", "n"], ascending=False, kind="stable")
        for cell in displays.factor_cells[status].itertuples():
            chosen = ranked[(ranked["factor_type"] == cell.factor_type) & (ranked["direction"] == cell.direction)]
            assert cell.quote == (chosen["text"].iloc[0] if len(chosen) else ""), (status, cell.factor_type)


def test_display_texts_of_the_pseudonymised_view_name_no_one_and_change_the_report_key(project, codebook, config,
                                                                                       tmp_path):
    """The units hold no text, so the report's content key covers the texts apart: a name
    added to the names file changes only the texts, and must change the key, or the report
    written before (with the real name) would be kept."""
    (tmp_path / "none.txt").write_text("", encoding="utf-8")
    (tmp_path / "names.txt").write_text("Jepang\n", encoding="utf-8")
    before = build_displays(pseudonymised(project, config, codebook, tmp_path / "none.txt"), codebook, "all")
    after = build_displays(pseudonymised(project, config, codebook, tmp_path / "names.txt"), codebook, "all")
    pd.testing.assert_frame_equal(before.units, after.units)
    segments = list(after.units["segment_id"])
    assert any("Jepang" in text for text in before.texts(segments).values())
    assert not any("Jepang" in text for text in after.texts(segments).values())
    assert before.text_digest != after.text_digest
    key = content_key(after, codebook, "id", 8, "p")
    assert content_key(replace(after, text_digest=before.text_digest), codebook, "id", 8, "p") != key


def test_display_cooccurrence_counts_segments_with_both_codes():
    units = pd.DataFrame({"segment_id": ["s1", "s1", "s2", "s2", "s2", "s3"],
                          "code": ["a", "b", "a", "b", "b", "c"]})
    matrix = cooccurrence(units, ["a", "b", "c"])
    assert matrix.loc["a", "b"] == 2 and matrix.loc["b", "a"] == 2 and matrix.loc["b", "b"] == 2
    assert matrix.loc["a", "c"] == 0 and matrix.loc["c", "c"] == 1


def test_display_keyword_in_context_finds_evidence_words():
    text = "Awal " + "kata " * 80 + "lalu dana APBD dipotong tahun ini. " + "lagi " * 80
    window, spans = keyword_in_context(text, "dipotong; APBD", width=120)
    assert len(window) <= 124 and window.startswith("…") and window.endswith("…")
    assert sorted(window[a:b] for a, b in spans) == ["APBD", "dipotong"]
    assert evidence_words("model: budget, cut, a") == ["budget", "cut"]


def test_report_quote_html_is_escaped_and_highlighted():
    html = str(highlighted('<script>alert(1)</script> dana "APBD" & <b>x</b>', "APBD"))
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>" not in html
    assert "<mark>APBD</mark>" in html


def test_report_wide_matrix_keeps_busiest_columns_and_adds_up_the_rest(codebook):
    from pipeline.report.html import _fold
    from pipeline.report.labels import Labels

    labels = Labels("en", codebook)
    frame = pd.DataFrame([[i + 1 for i in range(30)], [1] * 30], index=["a", "b"], columns=[f"v{i}" for i in range(30)])
    folded = _fold(frame, labels, 24)
    assert list(folded.columns[:-1]) == [f"v{i}" for i in range(7, 30)] and folded.columns[-1] == "7 others"
    assert folded.loc["a", "7 others"] == sum(range(1, 8)) and folded.loc["b"].sum() == 30
    wide = pd.DataFrame([[1, 2] * 30], index=["funding"],
                        columns=pd.MultiIndex.from_product([[f"c{i:02d}" for i in range(30)], ["supporting", "constraining"]]))
    folded = _fold(wide, labels, 24)
    assert folded.shape[1] == 48 and folded.loc["funding", ("7 others", "constraining")] == 14


def test_report_of_an_empty_project_says_there_is_nothing_yet(tmp_path, codebook):
    from pipeline.report import write_report

    with Store(tmp_path) as store:
        summary = write_report(store, codebook, tmp_path / "out" / "report.html", "en", "all",
                               xlsx_path=tmp_path / "out" / "displays.xlsx")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert summary["shown"] == {} and "Nothing to show from this source yet." in html
    assert (tmp_path / "out" / "displays.xlsx").exists()


def test_report_quotes_of_both_statuses_share_the_places():
    from pipeline.report.html import _share

    every = pd.DataFrame({"status": ["accepted"] * 6 + ["pending"] * 6, "n": range(12)})
    assert list(_share(every, 8)["status"]) == ["accepted"] * 4 + ["pending"] * 4
    assert list(_share(every.iloc[:8], 8)["status"]) == ["accepted"] * 6 + ["pending"] * 2
    assert list(_share(every.iloc[4:], 8)["status"]) == ["accepted"] * 2 + ["pending"] * 6
    assert len(_share(every.iloc[:6], 8)) == 6
