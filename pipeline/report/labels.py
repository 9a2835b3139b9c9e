"""The report's words in Indonesian and English (``--lang id|en``).

Code, factor-type and direction labels come from the codebook; everything else is here.
"""

from __future__ import annotations

REPORT_LANGUAGES = ("id", "en")

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "title": "Penyajian data",
        "subtitle": "Laporan Pilah untuk analis dan pembimbing",
        "generated": "Dibuat",
        "project": "Proyek",
        "codebook": "Buku kode",
        "shown_accepted": "Koding yang diterima analis",
        "shown_pending": "Saran yang belum ditinjau",
        "shown_all": "Koding yang diterima dan saran yang belum ditinjau, masing-masing terpisah",
        "shown": "Ditampilkan",
        "source_note": "Koding yang diterima sudah diputuskan analis; saran yang belum ditinjau adalah usulan Pilah yang belum diterima atau ditolak. Keduanya tidak pernah dijumlahkan.",
        "overview": "Ikhtisar",
        "overview_guide": "Cakupan data dan sejauh mana peninjauan: apa yang sudah diputuskan analis dan apa yang masih menunggu.",
        "documents": "Dokumen", "segments": "Segmen", "words": "Kata", "cases": "Kasus", "actors": "Aktor",
        "languages": "Bahasa segmen",
        "lang_id": "Indonesia", "lang_en": "Inggris", "lang_mixed": "Campuran", "lang_und": "Tak tentu",
        "progress": "Kemajuan peninjauan per kode",
        "suggested": "disarankan", "accepted": "diterima", "edited": "diubah", "added": "ditambah",
        "rejected": "ditolak", "pending": "menunggu", "stale": "usang",
        "stale_note": "koding usang (teks segmennya berubah) tidak ditampilkan",
        "factors": "Matriks faktor",
        "factors_guide": "Baca per baris: untuk tiap jenis faktor, berapa segmen yang menunjukkan faktor pendukung (hijau) dan penghambat (merah), dengan kutipan terkuat di tiap sel; makin gelap warnanya, makin banyak segmen.",
        "factor_type": "Jenis faktor",
        "by_case_counts": "per kasus",
        "factors_by_case": "Faktor per kasus",
        "factors_by_actor": "Faktor per aktor",
        "factors_by_guide": "Jumlah segmen per jenis faktor dan {dimension}: ▲ pendukung, ▼ penghambat; bandingkan kolom untuk melihat di mana faktor yang sama mendukung atau menghambat.",
        "factor_chart": "Faktor pendukung (kanan) dan penghambat (kiri) per jenis faktor",
        "codes_by": "Kode × {dimension}",
        "codes_by_guide": "Berapa segmen tiap kode per {dimension}; klik angka untuk melihat kutipan kode itu. Sel kosong: kode tidak muncul.",
        "dim_document": "dokumen", "dim_case": "kasus", "dim_actor": "aktor", "dim_role": "peran",
        "cooccurrence": "Ko-okurensi kode",
        "cooccurrence_guide": "Berapa segmen memuat dua kode sekaligus; sel gelap menandai kode yang sering muncul bersama (diagonal dikosongkan).",
        "frequency": "Frekuensi kode",
        "frequency_guide": "Berapa segmen tiap kode, dipilah menurut arah faktor (kiri) dan bahasa segmen (kanan).",
        "frequency_direction": "Frekuensi kode menurut arah",
        "frequency_language": "Frekuensi kode menurut bahasa",
        "quotes": "Kutipan per kode",
        "quotes_guide": "Kutipan terkuat tiap kode dalam konteksnya; kata bukti disorot. Semua kutipan ada di displays.xlsx.",
        "quotes_more": "{n} kutipan lainnya ada di lembar Kutipan pada displays.xlsx",
        "no_quotes": "Tidak ada kutipan.",
        "code": "Kode", "direction": "Arah", "count": "Jumlah", "quote": "Kutipan terkuat",
        "document": "Dokumen", "case": "Kasus", "actor": "Aktor", "role": "Peran", "speaker": "Penutur",
        "timestamp": "Waktu", "language": "Bahasa", "score": "Skor", "status": "Status", "evidence": "Bukti",
        "text": "Teks segmen", "total": "Total", "codes": "Kode",
        "empty": "Belum ada yang bisa ditampilkan dari sumber ini.",
        "score_none": "ditambah analis",
        "contents": "Isi",
        "others": "{n} lainnya",
        "sheet_overview": "Ikhtisar", "sheet_progress": "Kemajuan peninjauan", "sheet_factors": "Matriks faktor",
        "sheet_factors_case": "Faktor x kasus", "sheet_factors_actor": "Faktor x aktor",
        "sheet_codes_document": "Kode x dokumen", "sheet_codes_case": "Kode x kasus",
        "sheet_codes_actor": "Kode x aktor", "sheet_codes_role": "Kode x peran",
        "sheet_cooccurrence": "Ko-okurensi", "sheet_direction": "Kode x arah", "sheet_language": "Kode x bahasa",
        "sheet_quotes": "Kutipan",
    },
    "en": {
        "title": "Data display",
        "subtitle": "Pilah report for the analyst and the supervisor",
        "generated": "Generated",
        "project": "Project",
        "codebook": "Codebook",
        "shown_accepted": "Codings accepted by analysts",
        "shown_pending": "Suggestions not yet reviewed",
        "shown_all": "Accepted codings and suggestions not yet reviewed, each on its own",
        "shown": "Shown",
        "source_note": "Accepted codings were decided by an analyst; pending suggestions are Pilah's proposals nobody has accepted or rejected yet. The two are never added together.",
        "overview": "Overview",
        "overview_guide": "What the data covers and how far the review has got: what analysts decided and what still waits.",
        "documents": "Documents", "segments": "Segments", "words": "Words", "cases": "Cases", "actors": "Actors",
        "languages": "Segment languages",
        "lang_id": "Indonesian", "lang_en": "English", "lang_mixed": "Mixed", "lang_und": "Undetermined",
        "progress": "Review progress per code",
        "suggested": "suggested", "accepted": "accepted", "edited": "edited", "added": "added",
        "rejected": "rejected", "pending": "pending", "stale": "stale",
        "stale_note": "stale codings (their segment's text changed) are not shown",
        "factors": "Factor matrix",
        "factors_guide": "Read across: for each factor type, how many segments show it as a supporting (green) or constraining (red) factor, with the strongest quote in each cell; the darker the cell, the more segments.",
        "factor_type": "Factor type",
        "by_case_counts": "by case",
        "factors_by_case": "Factors by case",
        "factors_by_actor": "Factors by actor",
        "factors_by_guide": "Segments per factor type and {dimension}: ▲ supporting, ▼ constraining; compare columns to see where the same factor helps or hinders.",
        "factor_chart": "Supporting (right) and constraining (left) factors per factor type",
        "codes_by": "Code × {dimension}",
        "codes_by_guide": "How many segments hold each code per {dimension}; click a number for that code's quotes. An empty cell: the code does not occur.",
        "dim_document": "document", "dim_case": "case", "dim_actor": "actor", "dim_role": "role",
        "cooccurrence": "Code co-occurrence",
        "cooccurrence_guide": "How many segments hold two codes at once; dark cells mark codes that come together (the diagonal is left blank).",
        "frequency": "Code frequencies",
        "frequency_guide": "How many segments hold each code, by factor direction (left) and by segment language (right).",
        "frequency_direction": "Code frequency by direction",
        "frequency_language": "Code frequency by language",
        "quotes": "Quotes per code",
        "quotes_guide": "Each code's strongest quotes in context, evidence words highlighted. Every quote is in displays.xlsx.",
        "quotes_more": "{n} more quotes are on the Quotes sheet of displays.xlsx",
        "no_quotes": "No quotes.",
        "code": "Code", "direction": "Direction", "count": "Count", "quote": "Strongest quote",
        "document": "Document", "case": "Case", "actor": "Actor", "role": "Role", "speaker": "Speaker",
        "timestamp": "Time", "language": "Language", "score": "Score", "status": "Status", "evidence": "Evidence",
        "text": "Segment text", "total": "Total", "codes": "Codes",
        "empty": "Nothing to show from this source yet.",
        "score_none": "added by an analyst",
        "contents": "Contents",
        "others": "{n} others",
        "sheet_overview": "Overview", "sheet_progress": "Review progress", "sheet_factors": "Factor matrix",
        "sheet_factors_case": "Factors x case", "sheet_factors_actor": "Factors x actor",
        "sheet_codes_document": "Codes x document", "sheet_codes_case": "Codes x case",
        "sheet_codes_actor": "Codes x actor", "sheet_codes_role": "Codes x role",
        "sheet_cooccurrence": "Co-occurrence", "sheet_direction": "Codes x direction", "sheet_language": "Codes x language",
        "sheet_quotes": "Quotes",
    },
}


class Labels:
    """Words of one language, with the codebook's labels for codes, factor types and directions."""

    def __init__(self, lang: str, codebook):
        self.lang = lang
        self.text = TEXT[lang]
        self.codebook = codebook

    def __getitem__(self, key: str) -> str:
        return self.text[key]

    def code(self, code_id: str) -> str:
        code = self.codebook.codes.get(code_id)
        return code.label[self.lang] if code else code_id

    def factor_type(self, factor_type: str) -> str:
        labels = self.codebook.factor_types.get(factor_type)
        return labels[self.lang] if labels else (factor_type or "—")

    def direction(self, direction: str) -> str:
        labels = self.codebook.direction_labels.get(direction)
        return labels[self.lang] if labels else direction

    def status(self, status: str) -> str:
        return self.text[f"shown_{status}"]

    def language(self, language: str) -> str:
        return self.text.get(f"lang_{language}", language)

    def source(self, source: str) -> str:
        return self.text[{"accepted": "shown_accepted", "suggested": "shown_pending", "all": "shown_all"}[source]]
