from pipeline.records import Document
from pipeline.segment import segment_document


def _doc(text, layout):
    return Document(id="f" * 64, path="a.txt", format="txt", layout=layout, text=text)


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


def test_segment_transcript_offsets_count_code_points():
    text = "Bu Sari: Kainnya — tenun ikat 🧵 — laku.\n\nPewawancara: Oké."
    segments = segment_document(_doc(text, "transcript"))
    assert segments[1].text == "Oké."
    assert text[segments[1].start : segments[1].end] == "Oké."
