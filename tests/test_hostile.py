"""Hostile and damaged files: each one is read safely or refused with its reason."""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path

import docx
import pytest

from pipeline.errors import InputError
from pipeline.ingest import iter_documents, read_document
from pipeline.ingest.files import MB
from pipeline.records import Document, Failure
from pipeline.segment import segment_document

SMALL = {"max_file_mb": 1, "max_unpacked_mb": 2, "max_text_mb": 1, "turn_pattern": ""}


def _results(root: Path, settings: dict | None = None) -> dict[str, Document | Failure]:
    return {item.path: item for item in iter_documents(root, settings)}


def test_hostile_control_characters_are_removed_with_a_warning(tmp_path):
    path = tmp_path / "dos.txt"
    path.write_bytes(b"Ani: Halo\x07 semua.\r\n\r\nBudi: Hai\x0bjuga.\r\n\x1a")
    document = read_document(path, tmp_path)
    assert document.text == "Ani: Halo semua.\n\nBudi: Hai\njuga."  # \v is a line break
    assert any("control character" in w for w in document.warnings)
    for segment in segment_document(document):
        assert document.text[segment.start:segment.end] == segment.text
    assert not any(ord(c) < 32 and c != "\n" for c in document.text)


def test_hostile_control_characters_in_table_cells_and_cues(tmp_path):
    table = tmp_path / "t.csv"
    table.write_bytes(b"nama,jawaban\nAni\x01,Ya\x1a setuju\n")
    document = read_document(table, tmp_path)
    assert document.text == "Ani: Ya setuju"
    assert document.warnings == ("removed 2 control character(s)",)


def test_hostile_binary_without_nul_bytes_is_refused(tmp_path):
    path = tmp_path / "foto.txt"
    path.write_bytes(bytes(b for b in os.urandom(20000) if b))
    with pytest.raises(InputError, match="looks like binary data"):
        read_document(path, tmp_path)


def test_hostile_high_bytes_that_are_not_utf8_are_refused(tmp_path):
    path = tmp_path / "arsip.txt"
    path.write_bytes(bytes([0xA0 + (i % 90) for i in range(4000)]))
    with pytest.raises(InputError, match="looks like binary data"):
        read_document(path, tmp_path)


def test_hostile_two_stray_bytes_do_not_turn_utf8_into_cp1252(tmp_path):
    path = tmp_path / "campur.txt"
    path.write_bytes("Kafé di Semarang — “kerja sama”. ".encode() + b"\x92\x93" + " Oké.".encode())
    document = read_document(path, tmp_path)
    assert document.text == "Kafé di Semarang — “kerja sama”. \ufffd\ufffd Oké."
    assert any("2 byte(s) not valid UTF-8" in w for w in document.warnings)


def test_hostile_many_bad_bytes_in_utf8_fail_the_file(tmp_path):
    path = tmp_path / "campur.txt"
    path.write_bytes("Kafé ".encode() + b"caf\xe9 " * 40)
    with pytest.raises(InputError, match="mixes UTF-8"):
        read_document(path, tmp_path)


def test_hostile_bad_subtitle_cue_keeps_its_text_and_reports_the_line(tmp_path):
    path = tmp_path / "rapat.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nAni: Selamat pagi.\n\n"
        "2\n00:00:03,000 -> 00:00:04,000\nBudi: Kata yang hampir hilang.\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nAni: Terima kasih.\n",
        encoding="utf-8",
    )
    document = read_document(path, tmp_path)
    segments = segment_document(document)
    assert [(s.speaker, s.timestamp, s.text) for s in segments] == [
        ("Ani", "00:00:01", "Selamat pagi."),
        ("Budi", None, "Kata yang hampir hilang."),
        ("Ani", "00:00:05", "Terima kasih."),
    ]
    assert segments[0].end_time == "00:00:02"
    assert any(w.startswith("line 6: no valid cue timing") for w in document.warnings)


def test_hostile_vtt_bad_cue_between_two_of_one_speaker_is_not_lost(tmp_path):
    path = tmp_path / "a.vtt"
    path.write_text(
        "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ani>Satu.\n\n"
        "00:03.000 --> xx\n<v Ani>Dua.\n\n00:05.000 --> 00:06.000\n<v Ani>Tiga.\n",
        encoding="utf-8",
    )
    document = read_document(path, tmp_path)
    assert "Satu. Dua. Tiga." in document.text
    assert len(document.warnings) == 1 and "line 6" in document.warnings[0]


def test_hostile_file_over_max_file_mb_is_refused_before_reading(tmp_path):
    path = tmp_path / "besar.txt"
    path.write_bytes(b"Teks panjang. " * (MB // 10))
    with pytest.raises(InputError, match=r"over the limit of 1 MB \(\[ingest\] max_file_mb\)"):
        read_document(path, tmp_path, settings=SMALL)


def test_hostile_docx_that_unpacks_too_far_is_refused(tmp_path):
    path = tmp_path / "bom.docx"
    document = docx.Document()
    document.add_paragraph("Halo")
    document.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/filler.bin", b"\0" * (3 * MB))
    assert path.stat().st_size < MB
    with pytest.raises(InputError, match=r"would expand to \d MB.*max_unpacked_mb"):
        read_document(path, tmp_path, settings=SMALL)
    assert read_document(path, tmp_path).text == "Halo"  # within the default limit


def test_hostile_xlsx_that_unpacks_too_far_is_refused(tmp_path):
    path = tmp_path / "bom.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (3 * MB))
    with pytest.raises(InputError, match="max_unpacked_mb"):
        read_document(path, tmp_path, settings=SMALL)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_hostile_fifo_is_reported_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "pipa.txt")
    (tmp_path / "baik.txt").write_text("Teks biasa.", encoding="utf-8")
    results: dict = {}
    worker = threading.Thread(target=lambda: results.update(_results(tmp_path)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "reading a FIFO blocked the batch"
    assert "named pipe" in results["pipa.txt"].reason
    assert isinstance(results["baik.txt"], Document)


def test_hostile_links_out_of_the_corpus_are_not_followed(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "rahasia"
    corpus.mkdir()
    outside.mkdir()
    (outside / "kunci.txt").write_text("Kata sandi: rahasia", encoding="utf-8")
    (corpus / "asli.txt").write_text("Ani: Halo.\n\nBudi: Hai.", encoding="utf-8")
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    (corpus / "nol.txt").symlink_to("/dev/zero")
    (corpus / "kunci.txt").symlink_to(outside / "kunci.txt")
    (corpus / "folder").symlink_to(outside, target_is_directory=True)
    (corpus / "salinan.txt").symlink_to(corpus / "asli.txt")  # inside the corpus: fine
    results = _results(corpus)
    for name in ("passwd.txt", "nol.txt", "kunci.txt", "folder"):
        assert isinstance(results[name], Failure), name
        assert "outside the corpus folder: not followed" in results[name].reason
    assert results["salinan.txt"].text == results["asli.txt"].text
    assert not any("rahasia" in getattr(item, "text", "") for item in results.values())


def test_hostile_manifest_cannot_point_through_a_link_out_of_the_corpus(tmp_path):
    (tmp_path / "luar.txt").write_text("di luar", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "dalam.txt").symlink_to(tmp_path / "luar.txt")
    (corpus / "manifest.csv").write_text("file\ndalam.txt\n../luar.txt\n", encoding="utf-8")
    results = _results(corpus)
    assert "not followed" in results["dalam.txt"].reason
    assert "outside the corpus folder" in results["../luar.txt"].reason


def test_hostile_files_with_identical_content_stay_two_documents(tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("Ani: Sama persis.\n\nBudi: Ya.", encoding="utf-8")
    results = _results(tmp_path)
    assert [results[n].id for n in ("a.txt", "b.txt")] == ["a.txt", "b.txt"]
    assert results["a.txt"].version == results["b.txt"].version
    ids = [{s.id for s in segment_document(results[n])} for n in ("a.txt", "b.txt")]
    assert not ids[0] & ids[1]


def test_hostile_extracted_text_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "panjang.csv"
    path.write_text("jawaban\n" + ("kata " * 100 + "\n") * 2500, encoding="utf-8")
    with pytest.raises(InputError, match=r"over the limit of 1 million \(\[ingest\] max_text_mb\)"):
        read_document(path, tmp_path, settings={**SMALL, "max_file_mb": 1.2})


def test_hostile_long_transcript_is_read_in_linear_time(tmp_path):
    import time

    path = tmp_path / "panjang.txt"
    turn = "Pewawancara: Apa kendalanya?\n\nBu Sari: Modal kurang, biaya kirim mahal sekali.\n\n"
    path.write_text(turn * 12_000, encoding="utf-8")  # 1 MB, 24,000 turns
    started = time.perf_counter()
    document = read_document(path, tmp_path)
    segments = segment_document(document)
    assert time.perf_counter() - started < 20  # about 0.3 s here; quadratic line counting took minutes
    assert len(segments) == 24_000 and segments[-1].metadata["line"] == 47_999


def test_hostile_control_characters_in_file_names_and_manifest_fields(tmp_path):
    (tmp_path / "bel\x07.txt").write_text("Teks biasa.", encoding="utf-8")
    (tmp_path / "baik.txt").write_text("Teks biasa.", encoding="utf-8")
    (tmp_path / "manifest.csv").write_bytes(b"file,case\nbel\x07.txt,K1\nbaik.txt,Kasus\x1b 2\n")
    results = _results(tmp_path)
    assert "name holds a control character (U+0007)" in results["bel\x07.txt"].reason
    assert results["baik.txt"].metadata == {"case": "Kasus 2"}


# -- round 3: read wrongly without a word ---------------------------------------------------
def test_hostile_srt_without_blank_lines_is_read_cue_by_cue(tmp_path):
    path = tmp_path / "rapat.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nAni: Modal kurang.\n"
        "2\n00:00:03,000 --> 00:00:04,500\nBudi: Pelatihan membantu.\nsekali.\n"
        "3\n00:00:05,000 --> 00:00:06,000\nAni: Terima kasih.\n",
        encoding="utf-8",
    )
    document = read_document(path, tmp_path)
    segments = segment_document(document)
    assert [(s.speaker, s.timestamp, s.end_time, s.text) for s in segments] == [
        ("Ani", "00:00:01", "00:00:02", "Modal kurang."),
        ("Budi", "00:00:03", "00:00:04", "Pelatihan membantu. sekali."),
        ("Ani", "00:00:05", "00:00:06", "Terima kasih."),
    ]
    assert document.warnings == ()
    assert "-->" not in document.text


@pytest.mark.parametrize("timing, problem", [
    ("00:99:00.000 --> 01:00:00.000", "impossible time"),
    ("99:99:99.999 --> 99:99:99.999", "impossible time"),
    ("00:00:09.000 --> 00:00:05.000", "the cue ends before it starts"),
    ("00:00:07.000 --> 00:00:0x", None),
])
def test_hostile_vtt_impossible_timing_is_refused_and_named(tmp_path, timing, problem):
    path = tmp_path / "a.vtt"
    path.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ani>Satu.\n\n"
        f"cue-2\n{timing}\n<v Budi>Dua.\n\n00:00:10.000 --> 00:00:11.000\n<v Ani>Tiga.\n",
        encoding="utf-8",
    )
    document = read_document(path, tmp_path)
    segments = segment_document(document)
    assert [(s.speaker, s.timestamp, s.text) for s in segments] == [
        ("Ani", "00:00:01", "Satu."), ("Budi", None, "Dua."), ("Ani", "00:00:10", "Tiga.")]
    assert "-->" not in document.text and "cue-2" not in document.text
    assert len(document.warnings) == 1 and document.warnings[0].startswith("line 7: no valid cue timing")
    assert timing in document.warnings[0] and (problem is None or problem in document.warnings[0])


def test_hostile_html_100000_deep_is_read_without_a_traceback(tmp_path, caplog):
    (tmp_path / "dalam.html").write_text("<div>" * 100_000 + "Modal kurang." + "</div>" * 100_000, encoding="utf-8")
    (tmp_path / "baik.txt").write_text("Teks biasa.", encoding="utf-8")
    results = _results(tmp_path)
    assert results["dalam.html"].text == "Modal kurang."
    assert isinstance(results["baik.txt"], Document)
    assert not [r for r in caplog.records if r.exc_info] and "RecursionError" not in caplog.text


def test_hostile_reader_recursing_too_deep_is_one_failure_without_traceback(tmp_path, caplog, monkeypatch):
    from pipeline.ingest import html

    def recurse(path, data):
        return recurse(path, data)

    monkeypatch.setattr(html, "read", recurse)
    (tmp_path / "dalam.html").write_text("<p>x</p>", encoding="utf-8")
    (tmp_path / "baik.txt").write_text("Teks biasa.", encoding="utf-8")
    results = _results(tmp_path)
    assert "nested too deeply to read" in results["dalam.html"].reason
    assert isinstance(results["baik.txt"], Document)
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("turn, marks", [
    ("[12/03/24 10.15.02] Pak Budi: Modal kurang.\nbiaya kirim mahal.\n[12/03/24 10.16.00] Bu Sari: Ya.\n", False),
    ("Pak Budi: Modal kurang, biaya kirim mahal.\nBu Sari: Ya, pelatihan membantu.\n", True),
    ("K{n}: pendek\n", False),  # a run of quiet fields at the top: the header scan stops early
])
def test_hostile_long_chat_and_meeting_are_read_in_linear_time(tmp_path, turn, marks):
    import time

    lines = [turn.replace("{n}", str(n)) + ("00:05:12\n" if marks and n % 10 == 0 else "") for n in range(12_000)]
    path = tmp_path / "panjang.txt"
    path.write_text("".join(lines), encoding="utf-8")
    started = time.perf_counter()
    document = read_document(path, tmp_path)
    segment_document(document)
    assert time.perf_counter() - started < 20  # a few seconds here; a quadratic scan takes minutes
    assert document.layout == "transcript"
