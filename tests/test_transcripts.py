"""Transcripts as researchers type them: every style of tests/fixtures/transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config
from pipeline.ingest import read_document
from pipeline.ingest.transcript import parse_transcript
from pipeline.segment import segment_document

STYLES = Path(__file__).parent / "fixtures" / "transcripts"
EXPECTED = json.loads((STYLES / "expected.json").read_text(encoding="utf-8"))


def test_transcripts_fixture_holds_at_least_twelve_styles():
    assert len(EXPECTED) >= 12
    assert sorted(EXPECTED) == sorted(p.name for p in STYLES.iterdir() if p.suffix in (".txt", ".md") and p.name != "README.md")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transcripts_style_gives_speakers_timestamps_and_offsets(name):
    document = read_document(STYLES / name, STYLES)
    expected = EXPECTED[name]
    assert document.layout == "transcript"
    segments = segment_document(document)
    assert [[s.speaker, s.timestamp, s.text] for s in segments] == expected["segments"]
    for segment in segments:
        assert document.text[segment.start:segment.end] == segment.text
    assert document.metadata.get("header", {}) == expected.get("header", {})
    if "end_times" in expected:
        assert [s.end_time for s in segments] == expected["end_times"]


def test_transcripts_header_needs_turns_after_it_and_quiet_fields():
    # "Catatan:" alone is a note, not a transcript; a field that speaks again is a turn.
    assert not parse_transcript("Catatan: hanya satu baris.").is_transcript
    turns = parse_transcript("Pewawancara: Selamat pagi\nBu Sari: Pagi.\nPewawancara: Apa kabar?")
    assert turns.header == {}
    assert [b.speaker for b in turns.blocks] == ["Pewawancara", "Bu Sari", "Pewawancara"]


def test_transcripts_prose_with_a_colon_is_not_a_transcript():
    text = "Laporan ini membahas UMKM.\n\nCatatan: angka sementara.\n\nParagraf biasa.\n\nParagraf lagi."
    assert not parse_transcript(text).is_transcript


def test_transcripts_project_turn_pattern_from_the_config(tmp_path):
    path = tmp_path / "lain.txt"
    path.write_text("#1 ANI > Halo semua.\n#2 BUDI > Halo juga.\n", encoding="utf-8")
    config = tmp_path / "pilah.toml"
    config.write_text('[ingest]\nturn_pattern = "^#(?P<timestamp>\\\\d+) (?P<speaker>[A-Z]+) > "\n', encoding="utf-8")
    settings = load_config(config).section("ingest")
    document = read_document(path, tmp_path, settings=settings)
    assert [(s.speaker, s.timestamp, s.text) for s in segment_document(document)] == [
        ("ANI", "1", "Halo semua."), ("BUDI", "2", "Halo juga.")
    ]
    assert read_document(path, tmp_path).layout == "paragraphs"  # the built-in pattern does not know it


def test_transcripts_bad_turn_pattern_is_a_config_error(tmp_path):
    config = tmp_path / "pilah.toml"
    config.write_text('[ingest]\nturn_pattern = "^(\\\\w+):("\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="turn_pattern is not a valid regular expression"):
        load_config(config)


def test_transcripts_agenda_lines_are_not_label_lines():
    agenda = "Susunan acara\n\n09:00:00 Pembukaan\n09:30:00 Sambutan Kepala Dinas\n10:00:00 Diskusi\n"
    assert not parse_transcript(agenda).is_transcript


def test_transcripts_project_turn_pattern_adds_to_the_built_in_ones(tmp_path):
    own = tmp_path / "lain.txt"
    own.write_text("#1 ANI > Halo semua.\n#2 BUDI > Halo juga.\n", encoding="utf-8")
    usual = tmp_path / "biasa.txt"
    usual.write_text("Pewawancara: Apa kendalanya?\nBu Sari: Modal kurang.\n", encoding="utf-8")
    config = tmp_path / "pilah.toml"
    pattern = 'turn_pattern = "^#(?P<timestamp>\\\\d+) (?P<speaker>[A-Z]+) > "\n'
    config.write_text("[ingest]\n" + pattern, encoding="utf-8")
    settings = load_config(config).section("ingest")
    assert [s.speaker for s in segment_document(read_document(own, tmp_path, settings=settings))] == ["ANI", "BUDI"]
    assert [s.speaker for s in segment_document(read_document(usual, tmp_path, settings=settings))] == [
        "Pewawancara", "Bu Sari"]
    config.write_text("[ingest]\n" + pattern + "turn_pattern_replaces = true\n", encoding="utf-8")
    only = load_config(config).section("ingest")
    assert read_document(usual, tmp_path, settings=only).layout == "paragraphs"  # the project's pattern alone
    assert [s.speaker for s in segment_document(read_document(own, tmp_path, settings=only))] == ["ANI", "BUDI"]


@pytest.mark.parametrize("name", ["17_whatsapp_iphone_id.txt", "18_whatsapp_iphone_en.txt",
                                  "19_whatsapp_android_id.txt", "20_whatsapp_android_en.txt"])
def test_transcripts_whatsapp_messages_are_turns_and_multi_line_messages_stay_one(name):
    document = read_document(STYLES / name, STYLES)
    segments = [s for s in segment_document(document) if s.speaker]
    assert [s.speaker for s in segments][:2] == ["Pak Budi", "Bu Sari"]
    assert all(s.timestamp and s.timestamp[:1].isdigit() for s in segments)
    assert "\n" in segments[1].text  # the message that runs over several lines is one turn
    assert not any(s.text.startswith(("[", "12/03", "3/12")) for s in segment_document(document))


def test_transcripts_time_on_its_own_line_marks_the_next_turn(tmp_path):
    document = read_document(STYLES / "21_google_meet.txt", STYLES)
    texts = [s.text for s in segment_document(document)]
    assert not any("00:05:12" in text or "00:00:00" in text for text in texts)
    assert [(s.speaker, s.timestamp) for s in segment_document(document)] == [
        (None, None), ("Pak Budi", "00:00:00"), ("Bu Sari", None), ("Pak Budi", None), ("Bu Sari", "00:05:12"),
        ("Pak Budi", None)]


def test_transcripts_header_fields_are_metadata_never_speakers():
    document = read_document(STYLES / "23_header_lokasi.txt", STYLES)
    assert document.metadata["header"]["Narasumber"] == "Pak Budi (Ketua Koperasi)"
    assert {s.speaker for s in segment_document(document)} == {None, "P", "Pak Budi"}
