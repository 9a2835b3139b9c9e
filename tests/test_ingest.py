"""The ingest stage: every format read from hand-made files, stored in one text form."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import docx
import openpyxl
import pytest
from fpdf import FPDF

from pipeline.errors import InputError
from pipeline.ingest import SUPPORTED_SUFFIXES, iter_documents, read_document
from pipeline.ingest.transcript import DEFAULT_TURN as TURN_PATTERN
from pipeline.records import Document, Failure

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_sample_binaries.py"
LONG = (
    "Dinas Koperasi dan UKM mendampingi pelaku usaha mikro sejak tahun 2019, "
    "terutama dalam sertifikasi halal, pengemasan dan akses pasar ekspor ke Jepang, "
    "meskipun biaya pengiriman masih menjadi kendala utama bagi banyak pelaku usaha."
)


# -- builders --------------------------------------------------------------------------


def write_docx(path: Path, paragraphs: list[str], table: list[list[str]] | None = None):
    document = docx.Document()
    document.add_paragraph(paragraphs[0], style="Title")
    for text in paragraphs[1:]:
        document.add_paragraph(text)
        document.add_paragraph("")  # empty paragraphs leave no trace
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for cells, row in zip(table, grid.rows):
            for text, cell in zip(cells, row.cells):
                cell.text = text
    document.save(path)
    return path


def write_pdf(path: Path, paragraphs: list[str]):
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, paragraphs[0])
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 11)
    for text in paragraphs[1:]:
        pdf.multi_cell(0, 6, text)
        pdf.ln(6)
    pdf.output(str(path))
    return path


def write_textless_pdf(path: Path):
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a "scan": drawing, no text layer
    pdf.output(str(path))
    return path


def write_xlsx(path: Path, rows: list[list[object]]):
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def read(path: Path) -> Document:
    return read_document(path, path.parent)


def paragraphs(document: Document) -> list[str]:
    return document.text.split("\n\n")


# -- stored text -----------------------------------------------------------------------


def test_ingest_text_is_stored_in_one_form(tmp_path):
    folder = tmp_path / "wawancara"
    folder.mkdir()
    path = folder / "Catatan.TXT"
    path.write_bytes(b"\r\n\r\nBaris satu   \r\nbaris dua\r\r\r\n\r\n\r\nParagraf dua\t\n\n")
    document = read_document(path, tmp_path, {"case": "Jateng"})
    assert document.text == "Baris satu\nbaris dua\n\nParagraf dua"
    assert document.version == hashlib.sha256(document.text.encode("utf-8")).hexdigest()
    assert document.id == document.path == "wawancara/Catatan.TXT"
    assert document.format == "txt"
    assert document.layout == "paragraphs"
    assert document.metadata == {"case": "Jateng"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_ingest_text_with_byte_order_mark(tmp_path, encoding):
    text = "Kopi dan café — “kerja sama” provinsi kembar"
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = ("\ufeff" + text).encode(encoding)
    path = tmp_path / "bom.txt"
    path.write_bytes(data)
    assert read(path).text == text


def test_ingest_cp1252_text_falls_back(tmp_path):
    path = tmp_path / "lama.txt"
    path.write_bytes("Résumé – “naïve” ekspor".encode("cp1252"))
    assert read(path).text == "Résumé – “naïve” ekspor"


def test_ingest_nfc_normalisation(tmp_path):
    path = tmp_path / "nfd.md"
    path.write_text("Cafe\u0301 di Semarang", encoding="utf-8")
    document = read(path)
    assert document.text == "Caf\u00e9 di Semarang"
    assert document.version == hashlib.sha256("Caf\u00e9 di Semarang".encode()).hexdigest()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"teks biasa dengan byte aneh \x81 di sini", "undecodable byte 0x81"),
        (bytes(range(1, 256)) * 40, "looks like binary data"),
        ("tanpa BOM".encode("utf-16-le"), "NUL"),
        (b" \n\t\n", "no text"),
    ],
)
def test_ingest_unreadable_text_raises_naming_the_file(tmp_path, data, problem):
    path = tmp_path / "rusak.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=problem) as raised:
        read(path)
    assert "rusak.txt" in str(raised.value)


def test_ingest_unsupported_suffix_raises(tmp_path):
    path = tmp_path / "lama.doc"
    path.write_bytes(b"whatever")
    with pytest.raises(InputError, match="unsupported file type '.doc'"):
        read(path)
    assert ".docx" in SUPPORTED_SUFFIXES and ".doc" not in SUPPORTED_SUFFIXES


# -- layout ----------------------------------------------------------------------------


def test_ingest_transcript_layout_detection(tmp_path):
    turns = tmp_path / "wawancara.txt"
    turns.write_text(
        "Transkrip wawancara\n\n"
        "[00:01:05] Pewawancara: Apa kendala utama?\n\n"
        "[00:01:20] Ibu Sari: Biaya kirim, Pak.\n\n"
        "Pewawancara: Lalu?\n\n"
        "Ibu Sari: Sertifikasi halal juga.\n",
        encoding="utf-8",
    )
    prose = tmp_path / "catatan.md"
    prose.write_text(
        "# Catatan lapangan\n\nNote: a remark.\n\nParagraf biasa.\n\nParagraf lagi.\n",
        encoding="utf-8",
    )
    assert read(turns).layout == "transcript"  # 4 of 5 lines are turns
    assert read(prose).layout == "paragraphs"  # 1 of 4
    assert TURN_PATTERN.match("[1:05.5] O'Brien-Smith Jr.: yes")
    assert not TURN_PATTERN.match("http://example.org")


# -- formats ---------------------------------------------------------------------------


def test_ingest_docx_paragraphs_and_table_rows(tmp_path):
    path = write_docx(
        tmp_path / "mou.docx",
        ["Nota Kesepahaman", "Pasal 1 – Tujuan", LONG],
        table=[["Bidang", "Kegiatan"], ["UMKM", "Pameran dagang"]],
    )
    document = read(path)
    assert paragraphs(document) == [
        "Nota Kesepahaman",
        "Pasal 1 – Tujuan",
        LONG,
        "Bidang | Kegiatan",
        "UMKM | Pameran dagang",
    ]
    assert (document.format, document.layout) == ("docx", "paragraphs")


def test_ingest_pdf_keeps_paragraphs_apart_and_joins_their_lines(tmp_path):
    path = write_pdf(tmp_path / "berita.pdf", ["Pameran Kuliner di Brisbane", LONG, LONG, "Akhir."])
    document = read(path)
    assert paragraphs(document) == ["Pameran Kuliner di Brisbane", LONG, LONG, "Akhir."]
    assert document.format == "pdf"


def test_ingest_pdf_paragraph_runs_on_over_a_page_break(tmp_path):
    path = write_pdf(tmp_path / "panjang.pdf", ["Judul"] + [LONG] * 12)
    assert paragraphs(read(path)) == ["Judul"] + [LONG] * 12


def test_ingest_pdf_without_text_layer_raises(tmp_path):
    path = write_textless_pdf(tmp_path / "pindaian.pdf")
    with pytest.raises(InputError, match="no text layer") as raised:
        read(path)
    assert "pindaian.pdf" in str(raised.value)


def test_ingest_html_blocks_become_paragraphs(tmp_path):
    path = tmp_path / "laporan.html"
    path.write_text(
        """<html><head><title>Judul tab</title><style>p {color: red}</style></head>
        <body><nav><a href="/">Beranda</a></nav>
        <h1>Laporan
            Evaluasi</h1>
        <p>Program <b>UMKM</b> berjalan.<br>Baris kedua.</p>
        <ul><li>Pendukung: anggaran</li><li>Penghambat: biaya kirim</li></ul>
        <blockquote>Kutipan &amp; catatan</blockquote>
        <table><tr><th>Faktor</th><th>Jumlah</th></tr><tr><td>Biaya</td><td>3</td></tr></table>
        <script>track("x")</script><!-- komentar --></body></html>""",
        encoding="utf-8",
    )
    assert paragraphs(read(path)) == [
        "Laporan Evaluasi",
        "Program UMKM berjalan.\nBaris kedua.",
        "Pendukung: anggaran",
        "Penghambat: biaya kirim",
        "Kutipan & catatan",
        "Faktor | Jumlah",
        "Biaya | 3",
    ]


def test_ingest_vtt_merges_cues_of_one_speaker(tmp_path):
    path = tmp_path / "rapat.vtt"
    path.write_text(
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:03.000\n<v Ani Wijaya>Selamat pagi,\nterima kasih\n\n"
        "00:00:03.500 --> 00:00:05.000\n<v Ani Wijaya>sudah datang.\n\n"
        "00:00:05.000 --> 00:00:06.000\nTanpa tag, masih Ani.\n\n"
        "intro-2\n00:01:05.250 --> 00:01:09.000\n<v.loud Budi>Sama-sama &amp; <i>halo</i>.\n\n"
        "00:01:10.000 --> 00:01:12.000\n<v Ani Wijaya>Baik.\n",
        encoding="utf-8",
    )
    document = read(path)
    assert document.text == (
        "[00:00:01] Ani Wijaya: Selamat pagi, terima kasih sudah datang. Tanpa tag, masih Ani."
        "\n\n[00:01:05] Budi: Sama-sama & halo."
        "\n\n[00:01:10] Ani Wijaya: Baik."
    )
    assert document.layout == "transcript"
    assert all(TURN_PATTERN.match(line) for line in paragraphs(document))


def test_ingest_srt_without_speakers_and_with_labels(tmp_path):
    path = tmp_path / "video.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,000\nbagian pertama\n\n"
        "2\n00:00:02,000 --> 00:00:04,000\ndari satu kalimat.\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\nKalimat lain.\n\n"
        "4\n00:00:07,000 --> 00:00:08,000\nModerator: Siapa berikutnya?\n\n"
        "5\n00:00:08,000 --> 00:00:09,000\nmasih moderator\n",
        encoding="utf-8",
    )
    assert read(path).text == (
        "[00:00:01] bagian pertama dari satu kalimat."
        "\n\n[00:00:05] Kalimat lain."
        "\n\n[00:00:07] Moderator: Siapa berikutnya? masih moderator"
    )


def test_ingest_invalid_vtt_raises(tmp_path):
    path = tmp_path / "bukan.vtt"
    path.write_text("00:00:01.000 --> 00:00:02.000\nno header\n", encoding="utf-8")
    with pytest.raises(InputError, match="WebVTT"):
        read(path)


def test_ingest_csv_answers_become_turns(tmp_path):
    path = tmp_path / "survei.csv"
    path.write_text(
        'No;Nama;Jawaban;Skor\n1;ani;"Ya,\nsetuju";3\n2;;Tidak;4\n3;Budi;;5\n4;7;Mungkin;2\n',
        encoding="utf-8-sig",
    )
    document = read(path)
    assert paragraphs(document) == ["ani: Ya, setuju", "R02: Tidak", "Nama 7: Mungkin"]
    assert [(b.speaker, b.metadata["row"], b.metadata["columns"]) for b in document.blocks] == [
        ("ani", 2, {"No": "1", "Skor": "3"}), ("R02", 3, {"No": "2", "Skor": "4"}), ("Nama 7", 5, {"No": "4", "Skor": "2"})
    ]
    assert [document.text[b.start:b.end] for b in document.blocks] == ["Ya, setuju", "Tidak", "Mungkin"]
    assert (document.format, document.layout) == ("csv", "transcript")


def test_ingest_csv_without_named_columns_uses_longest_text_and_row_numbers(tmp_path):
    path = tmp_path / "bebas.csv"
    path.write_text(
        "q,kota,isian\n1,Solo,Harga bahan baku naik terus\n2,Kudus,\n3,Pati,Pasar ekspor\n",
        encoding="utf-8",
    )
    assert paragraphs(read(path)) == ["R01: Harga bahan baku naik terus", "R03: Pasar ekspor"]


def test_ingest_xlsx_answers_become_turns(tmp_path):
    path = write_xlsx(
        tmp_path / "survei.xlsx",
        [
            ["Responden", "Umur", "Respons"],
            [1, 34, "Modal usaha\nsulit didapat"],
            [2, 41, None],
            ["Pak Joko", 52, "Pelatihan sangat membantu"],
        ],
    )
    document = read(path)
    assert paragraphs(document) == [
        "Responden 1: Modal usaha sulit didapat",
        "Pak Joko: Pelatihan sangat membantu",
    ]
    assert (document.format, document.layout) == ("xlsx", "transcript")


def test_ingest_table_without_text_column_raises(tmp_path):
    path = tmp_path / "angka.csv"
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    with pytest.raises(InputError, match="has no text column") as raised:
        read(path)
    assert "angka.csv" in str(raised.value)


# -- batches ---------------------------------------------------------------------------


def test_ingest_batch_records_failures_and_goes_on(tmp_path):
    (tmp_path / "a_rusak.docx").write_bytes(b"PK\x03\x04 not really a zip")
    write_textless_pdf(tmp_path / "b_pindaian.pdf")
    (tmp_path / "c_rusak.xlsx").write_bytes(b"garbage")
    write_docx(tmp_path / "d_baik.docx", ["Judul", LONG])
    (tmp_path / "e_baik.txt").write_text("Teks biasa.", encoding="utf-8")
    results = list(iter_documents(tmp_path))
    assert [type(r).__name__ for r in results] == [
        "Failure", "Failure", "Failure", "Document", "Document"
    ]
    failures = {r.path: r for r in results if isinstance(r, Failure)}
    assert set(failures) == {"a_rusak.docx", "b_pindaian.pdf", "c_rusak.xlsx"}
    assert "not a readable .docx" in failures["a_rusak.docx"].reason
    assert "no text layer" in failures["b_pindaian.pdf"].reason
    assert all(f.stage == "ingest" for f in failures.values())


def test_ingest_walk_is_sorted_recursive_and_skips_hidden(tmp_path):
    for name in ["b.txt", "a/z.md", "a/b/c.txt", ".hidden.txt", ".git/x.txt", "~$lock.docx"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("Isi.", encoding="utf-8")
    (tmp_path / "foto.jpg").write_bytes(b"\xff\xd8")
    paths = [document.path for document in iter_documents(tmp_path)]
    assert paths == ["a/b/c.txt", "a/z.md", "b.txt"]


def test_ingest_root_may_be_a_single_file(tmp_path):
    path = tmp_path / "satu.txt"
    path.write_text("Satu dokumen.", encoding="utf-8")
    [document] = iter_documents(path)
    assert (document.path, document.metadata) == ("satu.txt", {})


def test_ingest_manifest_lists_documents_and_their_metadata(tmp_path):
    (tmp_path / "wawancara").mkdir()
    (tmp_path / "wawancara" / "sari.txt").write_text("Ibu Sari: Biaya kirim.", encoding="utf-8")
    (tmp_path / "berita.md").write_text("Berita pameran.", encoding="utf-8")
    (tmp_path / "lupa.txt").write_text("Tidak terdaftar.", encoding="utf-8")
    (tmp_path / "manifest.csv").write_text(
        "file;title;case;actor;date\n"
        "wawancara\\sari.txt;Wawancara Sari;Jateng;UMKM;2024-03-01\n"
        "berita.md;Berita;;media;\n"
        "hilang.docx;Hilang;Jateng;;\n",
        encoding="utf-8-sig",
    )
    results = {r.path: r for r in iter_documents(tmp_path)}
    assert list(results) == ["wawancara/sari.txt", "berita.md", "hilang.docx", "lupa.txt"]
    assert results["wawancara/sari.txt"].metadata == {
        "title": "Wawancara Sari", "case": "Jateng", "actor": "UMKM", "date": "2024-03-01"
    }
    assert results["berita.md"].metadata == {"title": "Berita", "actor": "media"}
    assert results["hilang.docx"] == Failure(
        "hilang.docx", "ingest", "listed in manifest.csv but not found"
    )
    assert results["lupa.txt"] == Failure(
        "lupa.txt", "ingest", "not listed in manifest.csv — skipped"
    )


def test_ingest_manifest_without_file_column_raises(tmp_path):
    (tmp_path / "manifest.csv").write_text("path,title\na.txt,A\n", encoding="utf-8")
    with pytest.raises(InputError, match="no 'file' column"):
        list(iter_documents(tmp_path))


# -- sample binaries -------------------------------------------------------------------


@pytest.fixture
def sample_script():
    spec = importlib.util.spec_from_file_location("make_sample_binaries", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("system_fonts", [True, False])
def test_ingest_reads_back_the_sample_binaries(tmp_path, sample_script, monkeypatch, system_fonts):
    if not system_fonts:
        monkeypatch.setattr(sample_script, "FONT_DIRS", ())
    source = tmp_path / "sumber.txt"
    source.write_text(
        f"Judul Berita – Uji\n\nPasal 1 – Tujuan\n\n{LONG}\nbaris terbungkus.\n\nCafé.\n",
        encoding="utf-8",
    )
    expected = ["Judul Berita – Uji", "Pasal 1 – Tujuan", f"{LONG} baris terbungkus.", "Café."]
    sample_script.write_docx(source, tmp_path / "a.docx")
    sample_script.write_pdf(source, tmp_path / "b.pdf")
    sample_script.write_pdf(source, tmp_path / "c.pdf")
    assert paragraphs(read(tmp_path / "a.docx")) == expected
    dashes = expected if system_fonts else [p.replace("–", "-") for p in expected]
    assert paragraphs(read(tmp_path / "b.pdf")) == dashes
    assert (tmp_path / "b.pdf").read_bytes() == (tmp_path / "c.pdf").read_bytes()
    styles = [p.style.name for p in docx.Document(str(tmp_path / "a.docx")).paragraphs]
    assert styles == ["Title", "Heading 2", "Normal", "Normal"]


def test_ingest_source_signature_tells_an_edit_even_when_size_and_time_stay(tmp_path, monkeypatch):
    import os

    import pipeline.ingest
    from pipeline.ingest import source_signature

    path = tmp_path / "a.txt"
    path.write_text("Ani: Anggaran kurang.\n", encoding="utf-8")
    assert source_signature(path, "a.txt", {}) is None  # just written: it could change again unseen
    monkeypatch.setattr(pipeline.ingest, "RECENT_SECONDS", 0.0)
    signature = source_signature(path, "a.txt", {})
    assert signature is not None and source_signature(path, "a.txt", {}) == signature
    assert read_document(path, tmp_path).source == signature
    assert source_signature(path, "b.txt", {}) != signature  # its place in the corpus
    assert source_signature(path, "a.txt", {"role": "staf"}) != signature  # its manifest row
    before = os.stat(path)
    path.write_text("Ani: Anggaran tinggi.\n", encoding="utf-8")  # same size; the time put back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size and os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert source_signature(path, "a.txt", {}) != signature  # the change time moved
    link = tmp_path / "link.txt"
    link.symlink_to(path)
    assert source_signature(link, "link.txt", {}) is None  # a link is read (and checked) each time
    assert source_signature(tmp_path / "gone.txt", "gone.txt", {}) is None


def test_ingest_iter_documents_leaves_unread_only_what_unchanged_vouches_for(tmp_path, monkeypatch):
    import pipeline.ingest
    from pipeline.records import Unread

    monkeypatch.setattr(pipeline.ingest, "RECENT_SECONDS", 0.0)
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"{name}: Anggaran kurang.\n", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\x00\x01\x02 binary")
    read = {item.path: item for item in iter_documents(tmp_path)}
    known = {read["a.txt"].id: read["a.txt"].source}
    again = {item.path: item for item in iter_documents(tmp_path, unchanged=lambda i, s: known.get(i) == s)}
    assert again["a.txt"] == Unread("a.txt", "a.txt")
    assert isinstance(again["b.txt"], Document) and isinstance(again["c.txt"], Failure)
