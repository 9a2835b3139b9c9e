"""Build the hostile corpus of ``tests/test_hostile_run.py`` in a folder (big files are
generated here, never committed). Run by hand: ``python tests/make_hostile_corpus.py DIR``.

Returns (``build``) the names of the files that must be processed and, for each file that
must fail, a word its reason must contain.
"""

from __future__ import annotations

import os
import random
import sys
import zipfile
from pathlib import Path

import docx

MB = 1024 * 1024
# The config the hostile run uses: limits small enough for test-sized files to cross.
CONFIG = "[ingest]\nmax_file_mb = 1\nmax_unpacked_mb = 5\n"
SECRET = "RAHASIA-DI-LUAR-KORPUS"


def build(root: Path) -> tuple[set[str], dict[str, str]]:
    """Write the corpus under ``root / "corpus"`` (and one file outside it)."""
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    (root / "luar.txt").write_text(f"Ani: {SECRET}.\n\nBudi: {SECRET}.\n", encoding="utf-8")
    good: set[str] = set()
    bad: dict[str, str] = {}

    def text(name: str, content: bytes, ok: bool = True, reason: str = "") -> None:
        (corpus / name).write_bytes(content)
        if ok:
            good.add(name)
        else:
            bad[name] = reason

    transcript = (
        "Informan: Bu Warsini\nTanggal: 12 Maret 2024\n\n"
        "00.00.28 Pewawancara : Apa kendala usaha Ibu?\n"
        "00.00.35 Bu Warsini : Modal kurang dan biaya kirim mahal, pelatihan dari dinas membantu.\n"
    )
    text("01_wawancara.txt", transcript.encode())
    text("02_dos_ctrl_z.txt", transcript.replace("\n", "\r\n").encode() + b"\x1a")
    text("03_bel_dan_escape.txt", b"Ani: Anggaran\x07 kurang.\x1b[0m\n\nBudi: Pelatihan\x0b bagus.\n")
    random.seed(13)
    text("04_biner.txt", bytes(b for b in random.randbytes(30000) if b), False, "binary")
    text("05_byte_nyasar.txt", "Kafé: modal kurang — “kerja sama” bagus. ".encode() + b"\x92\x93 ok.")
    text("06_cue_rusak.srt", (
        "1\n00:00:01,000 --> 00:00:02,000\nAni: Modal kurang.\n\n"
        "2\n00:00:03,000 -> 00:00:04,000\nBudi: Pelatihan membantu.\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nAni: Terima kasih.\n").encode())
    text("07_besar.txt", b"Teks yang sangat panjang sekali. " * (MB // 20), False, "max_file_mb")
    bomb = corpus / "08_bom.docx"
    document = docx.Document()
    document.add_paragraph("Halo")
    document.save(bomb)
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/isi.bin", b"\0" * (6 * MB))
    bad[bomb.name] = "max_unpacked_mb"
    if hasattr(os, "mkfifo"):
        os.mkfifo(corpus / "09_pipa.txt")
        bad["09_pipa.txt"] = "named pipe"
    (corpus / "10_nol.txt").symlink_to("/dev/zero")
    (corpus / "11_passwd.txt").symlink_to("/etc/passwd")
    (corpus / "12_luar.txt").symlink_to(root / "luar.txt")
    for name in ("10_nol.txt", "11_passwd.txt", "12_luar.txt"):
        bad[name] = "outside the corpus folder"
    (corpus / "13_tautan_dalam.txt").symlink_to(corpus / "01_wawancara.txt")
    good.add("13_tautan_dalam.txt")
    text("14_kembar_a.txt", b"Ani: Isi yang sama persis, modal kurang.\n\nBudi: Ya, pelatihan.\n")
    text("15_kembar_b.txt", b"Ani: Isi yang sama persis, modal kurang.\n\nBudi: Ya, pelatihan.\n")
    text("=HYPERLINK(\"http-x\").txt", (
        "Ani: =HYPERLINK(\"http://contoh.invalid\",\"modal kurang\")\n\n"
        "Budi: +62 812 modal kurang, pelatihan membantu\n\n"
        "Ani: -1+1 anggaran dipotong\n\n"
        "Budi: @SUM(1+1) biaya kirim mahal\n").encode())
    text("16_tabel_formula.csv", (
        "nama;jawaban\n"
        "=cmd;=1+1 modal kurang sekali\n"
        "@ani;\tpelatihan membantu usaha kami\n").encode("utf-8-sig"))
    text("17_kosong.txt", b"   \n\n", False, "no text")
    text("18_nama_bel\x07.txt", b"Ani: Modal kurang.\n\nBudi: Ya.\n", False, "control character")
    # round 3: read wrongly without a word, or a traceback on stderr
    text("19_srt_tanpa_baris_kosong.srt", (
        "1\n00:00:01,000 --> 00:00:02,000\nAni: Modal kurang.\n"
        "2\n00:00:03,000 --> 00:00:04,000\nBudi: Pelatihan membantu.\n").encode())
    text("20_vtt_waktu_mustahil.vtt", (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ani>Modal kurang.\n\n"
        "99:99:99.999 --> 99:99:99.999\n<v Budi>Pelatihan membantu.\n").encode())
    text("21_whatsapp.txt", (
        "12/03/24 10.15 - Pak Budi: Modal kurang,\nbiaya kirim mahal.\n"
        "12/03/24 10.16 - Bu Sari: Pelatihan dari dinas membantu.\n").encode())
    text("22_dalam.html", b"<div>" * 60_000 + b"Modal kurang, pelatihan membantu." + b"</div>" * 60_000)  # under 1 MB
    text("23_kepala.txt", (
        "Lokasi : Surabaya\nHari/Tanggal : Senin, 3 Mei 2024\nNarasumber : Pak Budi\n\n"
        "P: Apa kendalanya?\nPak Budi: Modal kurang.\nP: Pelatihannya?\nPak Budi: Membantu.\n").encode())
    return good, bad


# What round 3's files must become: (file, speakers of its segments in order, a text no
# segment may hold: a timing line, a chat's date, a label left in a turn).
ROUND_3 = {
    "19_srt_tanpa_baris_kosong.srt": (["Ani", "Budi"], "-->"),
    "20_vtt_waktu_mustahil.vtt": (["Ani", "Budi"], "99:99"),
    "21_whatsapp.txt": (["Pak Budi", "Bu Sari"], "12/03/24"),
    "22_dalam.html": ([None], "RecursionError"),
    "23_kepala.txt": ([None, "P", "Pak Budi", "P", "Pak Budi"], "Pak Budi: Modal"),  # the header's lines: a paragraph
}


if __name__ == "__main__":  # pragma: no cover
    print(build(Path(sys.argv[1])))
