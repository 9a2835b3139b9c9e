"""A transcript corrected after it was reviewed: a small edit (a comma) carries the
decisions and codings of both coders to the new text, offsets mapped through the edit and
marked *carried*; a larger edit leaves them stale, as before."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.project import Project
from pipeline.run import run
from pipeline.store import CARRIED, UNDO, Decision, carry_limit, edit_distance, map_span

SMALL = "Bu Sari: Modal kurang dan biaya kirim mahal pelatihan dari dinas sangat membantu kami."
LARGE = "Bu Sari: Pemasaran online lewat marketplace membantu tetapi akses internet di desa masih sulit."
TRANSCRIPT = f"Pewawancara: Apa kendala usaha Ibu?\n\n{SMALL}\n\nPewawancara: Bagaimana pemasarannya?\n\n{LARGE}\n"
SETTINGS = '[project]\ncorpus = ["corpus"]\nout = "out"\n\n[suggest]\nmodel = "no-model-yet"\nencoder = "none"\n'


@pytest.fixture
def reviewed(tmp_path):
    """A project whose two turns of Bu Sari two coders reviewed: rina accepted a suggestion
    on each; dewi added a code to the first, and coded part of it (the workspace's span)."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "wawancara.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (tmp_path / "pilah.toml").write_text(SETTINGS, encoding="utf-8")
    with Project.open(tmp_path) as project:
        run(project)
        store = project.store
        segments = store.segments_frame().set_index("segment_text")
        first, second = segments.loc[SMALL.split(": ", 1)[1]], segments.loc[LARGE.split(": ", 1)[1]]
        suggestions = store.suggestions_frame(pending=True)
        on_first = suggestions[suggestions["segment_id"] == first["segment_id"]].iloc[0]
        on_second = suggestions[suggestions["segment_id"] == second["segment_id"]].iloc[0]
        words = "pelatihan dari dinas"
        at = int(first["segment_start"]) + first.name.index(words)
        added = next(c for c in project.codebook.codable() if c.id != on_first["code"]).id
        store.add_decisions([
            Decision(first["segment_id"], on_first["suggestion_id"], "accept", on_first["code"],
                     on_first["direction"], "rina", "jelas", "sheet"),
            Decision(second["segment_id"], on_second["suggestion_id"], "accept", on_second["code"],
                     on_second["direction"], "rina", "", "sheet"),
            Decision(first["segment_id"], None, "add", added, "supporting", "dewi", "", "workspace"),
            Decision(first["segment_id"], None, "add", on_first["code"], "supporting", "dewi", "bagian ini",
                     "workspace", span=(at, at + len(words))),
        ])
    return tmp_path, on_first["code"], added


def test_hostile_edits_a_comma_carries_both_coders_decisions_and_codings(reviewed):
    root, accepted, added = reviewed
    edited = SMALL.replace("mahal pelatihan", "mahal, pelatihan")
    larger = LARGE.replace("Pemasaran online lewat marketplace membantu", "Penjualan naik sejak pelatihan daring")
    (root / "corpus" / "wawancara.txt").write_text(TRANSCRIPT.replace(SMALL, edited).replace(LARGE, larger),
                                                   encoding="utf-8")
    with Project.open(root) as project:
        summary = run(project)
        store = project.store
        decisions = store.decisions_frame(in_force=True)
        codings = store.codings_frame()
        new_first = store.segments_frame().set_index("segment_text").loc[edited.split(": ", 1)[1]]
        from pipeline.decisions import review_status

        status = review_status(store)
        carried_from = set(store.carried_segments())
    carried = decisions[decisions["source"] == CARRIED]
    assert sorted(zip(carried["reviewer"], carried["decision"], carried["code"])) == sorted([
        ("rina", "accept", accepted), ("dewi", "add", added), ("dewi", "add", accepted)])
    assert set(carried["segment_id"]) == {new_first["segment_id"]} and not carried["stale"].any()
    assert set(carried["comment"]) == {"jelas", "", "bagian ini"}
    on_new = codings[(codings["segment_id"] == new_first["segment_id"]) & ~codings["stale"]]
    texts = sorted(on_new["text"])
    assert texts == sorted([new_first.name, new_first.name, "pelatihan dari dinas"])
    document = store_text(root)
    for row in on_new.itertuples(index=False):
        assert document[row.start:row.end] == row.text  # offsets mapped through the edit
    # the old decisions stay as they were (stale, on the old text); the larger edit's is not carried
    stale = decisions[decisions["stale"]]
    assert len(stale) == 4 and set(stale["source"]) == {"sheet", "workspace"}
    assert list(stale.loc[~stale["segment_id"].isin(carried_from), "reviewer"]) == ["rina"]
    assert status["carried"] == 3 and status["stale"] == 1
    assert status["per_reviewer"]["dewi"]["carried"] == 2 and status["per_reviewer"]["rina"]["carried"] == 1
    sheet = pd.read_excel(root / "out" / "suggestions.xlsx", dtype=str).fillna("")
    marked = sheet[(sheet["segment_id"] == new_first["segment_id"]) & (sheet["decision"] != "")]
    assert set(marked["source"]) == {CARRIED} and len(marked) >= 2
    assert summary["counts"]["stale_decisions"] == 1
    assert summary["counts"]["carried_decisions"] == 3


def test_hostile_edits_carry_only_the_decisions_in_force(reviewed):
    """A decision a later one of its reviewer replaced, or an undo took back, is not
    carried; the one in force is, and the other reviewer's decision on the same code too."""
    root, accepted, added = reviewed
    with Project.open(root) as project:
        store = project.store
        first = store.segments_frame().set_index("segment_text").loc[SMALL.split(": ", 1)[1]]
        rinas = store.decisions_frame(in_force=True).query("reviewer == 'rina' and segment_id == @first.segment_id")
        store.add_decisions([
            Decision(first["segment_id"], rinas["suggestion_id"].iloc[0], "reject", accepted, None, "rina", "salah",
                     "sheet"),
            Decision(first["segment_id"], None, UNDO, added, "supporting", "dewi", "", "workspace"),
        ])
    edited = SMALL.replace("mahal pelatihan", "mahal, pelatihan")
    (root / "corpus" / "wawancara.txt").write_text(TRANSCRIPT.replace(SMALL, edited), encoding="utf-8")
    with Project.open(root) as project:
        run(project)
        decisions = project.store.decisions_frame(in_force=True)
    carried = decisions[decisions["source"] == CARRIED]
    assert sorted(zip(carried["reviewer"], carried["decision"], carried["code"], carried["comment"])) == sorted([
        ("rina", "reject", accepted, "salah"), ("dewi", "add", accepted, "bagian ini")])


def store_text(root) -> str:
    with Project.open(root) as project:
        return project.store.documents_frame().iloc[0]["text"]


def test_hostile_edits_review_status_says_carried(reviewed):
    from cli_helpers import invoke, said

    root, *_ = reviewed
    text = (root / "corpus" / "wawancara.txt").read_text(encoding="utf-8")
    (root / "corpus" / "wawancara.txt").write_text(text.replace("mahal pelatihan", "mahal, pelatihan"),
                                                   encoding="utf-8")
    assert "3 decision(s) carried to a segment whose text a small edit changed" in said(invoke("run", "--project", root))
    out = said(invoke("review", "status", "--project", root))
    assert "3 carried to a segment's edited text" in out and "0 stale" in out


@pytest.mark.parametrize("old, new, limit, expected", [
    ("Modal kurang dan biaya kirim mahal", "Modal kurang, dan biaya kirim mahal", 1, 1),
    ("Modal kurang", "Modal kurang", 1, 0),
    ("Modal kurang dan biaya", "Modal lebih dan biaya", 3, None),
    ("a" * 400, "a" * 395 + "bbbbb", 20, 5),
])
def test_hostile_edits_distance_is_bounded(old, new, limit, expected):
    assert edit_distance(old, new, limit) == expected


def test_hostile_edits_rule_and_span_mapping():
    assert [carry_limit("x" * n) for n in (10, 100, 1000)] == [1, 2, 5]
    old, new = "biaya kirim mahal pelatihan dari dinas", "biaya kirim mahal, pelatihan dari dinas"
    start = old.index("pelatihan")
    a, b = map_span(old, new, start, start + len("pelatihan dari dinas"))
    assert new[a:b] == "pelatihan dari dinas"
