"""The conclusion displays' words in Indonesian and English (codes, factor types and
directions are labelled by the codebook through ``pipeline.report.labels.Labels``)."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "id": {
        "conclusions": "Penarikan kesimpulan",
        "conclusions_guide": "Tampilan untuk menarik dan memverifikasi kesimpulan (Miles, Huberman & Saldaña): pola, perbandingan, triangulasi dan bukti negatif. Faktor = jenis faktor dengan arahnya.",
        "shown_accepted": "Hanya koding yang diterima analis",
        "shown_all": "Koding yang diterima dan saran yang belum ditinjau (diminta secara eksplisit)",
        "table_conclusions": "Tabel kesimpulan: faktor pendukung dan penghambat",
        "table_conclusions_guide": "Setiap faktor dengan kasus, informan, sumber, jumlah, 2–3 kutipan contoh dari informan berbeda, dan memo analis.",
        "table_factor_matrix": "Matriks faktor: jenis faktor × arah",
        "table_by_attribute": "Faktor × {attribute}",
        "table_by_attribute_guide": "Per jenis faktor dan nilai atribut {attribute}: segmen (informan, kasus) untuk ▲ pendukung dan ▼ penghambat, dengan kutipan terkuat.",
        "table_triangulation": "Triangulasi: sumber dan informan yang membuktikan tiap faktor",
        "table_triangulation_guide": "Jenis sumber, peran informan dan kasus per faktor (jumlah segmen dalam kurung). ⚠ menandai faktor yang hanya didukung satu informan atau satu jenis sumber.",
        "table_negative": "Bukti negatif",
        "table_negative_guide": "Per faktor: koding jenis faktor yang sama dengan arah berlawanan, dan kasus tempat faktor itu tidak muncul di antara segmen yang sudah ditinjau (jumlah segmen yang ditinjau dalam kurung). Kasus yang belum ditinjau tidak dihitung sebagai ketiadaan.",
        "table_memos": "Memo analis",
        "factor": "Faktor", "direction": "Arah", "cases": "Kasus", "informants": "Informan", "sources": "Sumber",
        "segments": "Segmen", "documents": "Dokumen", "codes": "Kode", "quotes": "Kutipan contoh", "memo": "Memo",
        "value": "Nilai", "quote": "Kutipan terkuat", "where": "Asal", "source_types": "Jenis sumber",
        "roles": "Peran informan", "flags": "Catatan", "one informant": "hanya satu informan",
        "one source type": "hanya satu jenis sumber", "opposite": "Koding arah berlawanan",
        "opposite_quote": "Contoh arah berlawanan", "absent_in": "Tidak muncul di kasus (segmen ditinjau)",
        "not_reviewed": "Kasus belum ditinjau", "author": "Penulis", "target": "Tentang", "none": "—",
        "empty": "Belum ada koding yang diterima untuk ditampilkan.", "caption_table": "Tabel",
        "count_format": "{segments} segmen · {informants} informan · {cases} kasus",
        "title": "Temuan: faktor pendukung dan penghambat", "project": "Proyek", "generated": "Dibuat",
        "neutral": "netral", "sheet_conclusions": "Kesimpulan", "sheet_by_attribute": "Faktor x atribut",
        "sheet_triangulation": "Triangulasi", "sheet_negative": "Bukti negatif", "sheet_memos": "Memo",
        "no_case": "tanpa kasus",
    },
    "en": {
        "conclusions": "Drawing conclusions",
        "conclusions_guide": "Displays for drawing and verifying conclusions (Miles, Huberman & Saldaña): patterns, comparisons, triangulation and negative evidence. A factor is a factor type with its direction.",
        "shown_accepted": "Accepted codings only",
        "shown_all": "Accepted codings and suggestions not yet reviewed (asked for explicitly)",
        "table_conclusions": "Conclusions: supporting and constraining factors",
        "table_conclusions_guide": "Each factor with its cases, informants, sources, counts, 2–3 exemplar quotes from different informants, and the analyst's memos.",
        "table_factor_matrix": "Factor matrix: factor type × direction",
        "table_by_attribute": "Factors × {attribute}",
        "table_by_attribute_guide": "Per factor type and value of {attribute}: segments (informants, cases) for ▲ supporting and ▼ constraining, with the strongest quote.",
        "table_triangulation": "Triangulation: the sources and informants that attest each factor",
        "table_triangulation_guide": "Source types, informant roles and cases per factor (segments in brackets). ⚠ marks a factor attested by only one informant or one source type.",
        "table_negative": "Negative evidence",
        "table_negative_guide": "Per factor: the codings of the same factor type in the opposite direction, and the cases where the factor is absent among the segments reviewed there (reviewed segments in brackets). A case nobody has reviewed is not counted as an absence.",
        "table_memos": "Analysts' memos",
        "factor": "Factor", "direction": "Direction", "cases": "Cases", "informants": "Informants", "sources": "Sources",
        "segments": "Segments", "documents": "Documents", "codes": "Codes", "quotes": "Exemplar quotes", "memo": "Memo",
        "value": "Value", "quote": "Strongest quote", "where": "Source", "source_types": "Source types",
        "roles": "Informant roles", "flags": "Flags", "one informant": "one informant only",
        "one source type": "one source type only", "opposite": "Codings in the opposite direction",
        "opposite_quote": "Opposite example", "absent_in": "Absent in cases (segments reviewed)",
        "not_reviewed": "Cases not reviewed", "author": "Author", "target": "On", "none": "—",
        "empty": "No accepted codings to show yet.", "caption_table": "Table",
        "count_format": "{segments} segments · {informants} informants · {cases} cases",
        "title": "Findings: supporting and constraining factors", "project": "Project", "generated": "Generated",
        "neutral": "neutral", "sheet_conclusions": "Conclusions", "sheet_by_attribute": "Factors x attribute",
        "sheet_triangulation": "Triangulation", "sheet_negative": "Negative evidence", "sheet_memos": "Memos",
        "no_case": "no case",
    },
}

# The source types Pilah gives a document (pipeline.conclude.cases.FOLDER_TYPES, or its
# layout), in each language; a source type of the analyst's own is shown as written.
SOURCE_TYPES: dict[str, dict[str, str]] = {
    "id": {"interview": "wawancara", "document": "dokumen", "observation": "observasi",
           "focus group": "diskusi kelompok terarah", "survey": "survei"},
    "en": {},
}
