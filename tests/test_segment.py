from collections import Counter

import pandas as pd

from pipeline.ingest.transcript import parse_transcript
from pipeline.records import Block, Document
from pipeline.segment import MAX_SEGMENT_CHARS, segment_document, segment_id


def _doc(text, layout):
    blocks = tuple(parse_transcript(text).blocks) if layout == "transcript" else ()
    return Document(id="a.txt", path="a.txt", format="txt", layout=layout, text=text, blocks=blocks)


def test_segment_turns_carry_speaker_timestamp_and_offsets():
    text = (
        "Wawancara 3\n\n"
        "[00:01:02] Pewawancara: Bagaimana anggarannya?\n\n"
        "[00:01:10] Pak Hendra: Anggaran kami dipotong.\nLalu programnya ditunda.\n\n"
        "Ms. Tanaka: The budget was fine."
    )
    segments = segment_document(_doc(text, "transcript"))
    assert [(s.speaker, s.timestamp) for s in segments] == [
        (None, None),
        ("Pewawancara", "00:01:02"),
        ("Pak Hendra", "00:01:10"),
        ("Ms. Tanaka", None),
    ]
    assert segments[2].text == "Anggaran kami dipotong.\nLalu programnya ditunda."
    for segment in segments:
        assert text[segment.start : segment.end] == segment.text
    assert [s.index for s in segments] == [0, 1, 2, 3]


def test_segment_uses_the_readers_blocks_without_parsing_text():
    text = "[00:00:01] Dr. Ani (Dinas KUMKM): Selamat pagi."
    start = text.index("Selamat")
    block = Block(start, len(text), "Dr. Ani (Dinas KUMKM)", "00:00:01", "00:00:04", {"line": 3})
    document = Document("a.vtt", "a.vtt", "vtt", "transcript", text, blocks=(block,))
    (segment,) = segment_document(document)
    assert (segment.speaker, segment.timestamp, segment.end_time, segment.text) == (
        "Dr. Ani (Dinas KUMKM)", "00:00:01", "00:00:04", "Selamat pagi."
    )
    assert segment.metadata == {"line": 3}


def test_segment_paragraphs_split_on_blank_lines_and_trim():
    text = "Judul\n\nParagraf satu,\nbaris dua.\n\n\n   Paragraf dua.  "
    segments = segment_document(_doc(text, "paragraphs"))
    assert [s.text for s in segments] == ["Judul", "Paragraf satu,\nbaris dua.", "Paragraf dua."]
    assert all(text[s.start : s.end] == s.text for s in segments)


def test_segment_ids_are_stable_and_unique():
    text = "A: satu\n\nB: dua\n\nA: satu"
    first = segment_document(_doc(text, "transcript"))
    second = segment_document(_doc(text, "transcript"))
    assert [s.id for s in first] == [s.id for s in second]
    assert len({s.id for s in first}) == 3
    assert first[0].id == segment_id("a.txt", "satu") and first[2].id == segment_id("a.txt", "satu", 1)


def test_segment_ids_do_not_depend_on_offsets():
    before = segment_document(_doc("A: satu\n\nB: dua", "transcript"))
    after = segment_document(_doc("Judul baru\n\nA: satu\n\nB: dua", "transcript"))
    assert [s.id for s in before] == [s.id for s in after if s.speaker]


def test_segment_transcript_offsets_count_code_points():
    text = "Bu Sari: Kainnya — tenun ikat 🧵 — laku.\n\nPewawancara: Oké."
    segments = segment_document(_doc(text, "transcript"))
    assert segments[1].text == "Oké."
    assert text[segments[1].start : segments[1].end] == "Oké."


def test_segment_long_text_is_cut_at_sentence_ends_within_the_limit():
    sentence = "Pelaku usaha membutuhkan modal dan pelatihan ekspor. "
    text = "Bu Sari: " + sentence * 400 + "\n\nPewawancara: Terima kasih."
    segments = segment_document(_doc(text, "transcript"))
    long = [s for s in segments if s.speaker == "Bu Sari"]
    assert len(long) > 1 and all(len(s.text) <= MAX_SEGMENT_CHARS for s in segments)
    assert all(s.text.endswith(".") for s in long)
    assert all(text[s.start:s.end] == s.text for s in segments)
    assert "".join(s.text + " " for s in long).strip() == (sentence * 400).strip()


def test_segment_text_without_spaces_is_still_cut():
    text = "x" * (MAX_SEGMENT_CHARS * 2 + 10)
    segments = segment_document(_doc(text, "paragraphs"))
    assert [len(s.text) for s in segments] == [MAX_SEGMENT_CHARS, MAX_SEGMENT_CHARS, 10]


def test_segment_table_rows_use_the_one_id_scheme(stages):
    table = pd.DataFrame({"text": ["Ya.", "Tidak.", "Ya."], "document": ["t.csv"] * 3, "lang": ["id"] * 3})
    segments = stages.table_segments(table, Counter())
    assert [s.id for s in segments] == [
        segment_id("t.csv", "Ya."), segment_id("t.csv", "Tidak."), segment_id("t.csv", "Ya.", 1)
    ]
