"""The workspace's words in Indonesian and English (``[report] lang``), decision words included.

The decision and direction words are those a review sheet accepts as well
(``pipeline.decisions``): *terima / tolak / ubah / tambah*, *pendukung / penghambat / netral*.
"""

from __future__ import annotations

from pipeline.records import DECISIONS, DECISIONS_ID, DIRECTIONS, DIRECTIONS_ID

LANGS = ("id", "en")

DECISION_WORDS = {
    "en": {**{d: d for d in DECISIONS}, "undo": "undone"},
    "id": {**dict(zip(DECISIONS, DECISIONS_ID)), "undo": "dibatalkan"},
}
DIRECTION_WORDS = {"en": {d: d for d in DIRECTIONS}, "id": dict(zip(DIRECTIONS, DIRECTIONS_ID))}
STATUS_WORDS = {
    "en": {"pending": "pending", "accepted": "accepted", "rejected": "rejected", "stale": "stale", "all": "all"},
    "id": {"pending": "menunggu", "accepted": "diterima", "rejected": "ditolak", "stale": "usang", "all": "semua"},
}

_UI = {
    "title": ("Ruang kerja tinjauan", "Review workspace"),
    "queue": ("Antrean", "Queue"),
    "document": ("Dokumen", "Document"),
    "documents": ("Dokumen", "Documents"),
    "memos": ("Memo", "Memos"),
    "coders": ("Dua pengode", "Two coders"),
    "progress": ("Kemajuan", "Progress"),
    "language": ("English", "Bahasa Indonesia"),  # the switch names the other language
    "blind": ("Mode buta", "Blind mode"),
    "blind_on": ("hanya keputusan Anda yang tampak", "only your own decisions are shown"),
    "reviewer": ("Peninjau", "Reviewer"),
    "code": ("Kode", "Code"),
    "direction": ("Arah", "Direction"),
    "case": ("Kasus", "Case"),
    "speaker": ("Penutur", "Speaker"),
    "status": ("Status", "Status"),
    "confidence": ("Keyakinan", "Confidence"),
    "low": ("rendah", "low"),
    "score": ("Skor", "Score"),
    "evidence": ("Bukti", "Evidence"),
    "definition": ("Definisi", "Definition"),
    "from_next": ("dari `review next`", "from `review next`"),
    "order": ("Urutan", "Order"),
    "order_document": ("dokumen", "document"),
    "order_next": ("peringkat `review next`", "`review next` ranking"),
    "any": ("semua", "any"),
    "filter": ("Saring", "Filter"),
    "skip": ("lewati", "skip"),
    "undo": ("batalkan", "undo"),
    "next": ("berikut", "next"),
    "previous": ("sebelumnya", "previous"),
    "memo": ("memo", "memo"),
    "save": ("Simpan", "Save"),
    "cancel": ("Batal", "Cancel"),
    "search": ("Cari", "Search"),
    "search_codes": ("cari kode…", "search codes…"),
    "nothing": ("Tidak ada saran yang cocok dengan saringan ini.", "No suggestion matches these filters."),
    "of": ("dari", "of"),
    "decided": ("Keputusan", "Decision"),
    "by": ("oleh", "by"),
    "keys": ("Tombol", "Keys"),
    "open_document": ("buka dokumen", "open the document"),
    "select_hint": ("Pilih teks untuk mengodenya (hanya rentang itu).",
                    "Select text to code it (that span only)."),
    "code_span": ("Kodekan rentang", "Code the span"),
    "accept_on_span": ("Terima saran pada rentang ini", "Accept a suggestion on this span"),
    "suggested": ("disarankan", "suggested"),
    "coded": ("dikodekan", "coded"),
    "project": ("Proyek", "Project"),
    "segment": ("Segmen", "Segment"),
    "new_memo": ("Memo baru", "New memo"),
    "on": ("pada", "on"),
    "author": ("Penulis", "Author"),
    "edit_memo": ("ubah", "edit"),
    "no_memos": ("Belum ada memo.", "No memos yet."),
    "coder_a": ("Pengode A", "Coder A"),
    "coder_b": ("Pengode B", "Coder B"),
    "kappa": ("κ", "κ"),
    "disagreements": ("Segmen tempat pengode berbeda", "Segments where the coders differ"),
    "need_two": ("Perlu keputusan dua peninjau.", "Needs the decisions of two reviewers."),
    "overall": ("Keseluruhan", "Overall"),
    "reviewed": ("ditinjau", "reviewed"),
    "model_kappa": ("κ model", "model κ"),
    "to_ready": ("jarak ke ambang siap", "distance to the readiness threshold"),
    "ready": ("siap", "ready"),
    "retrain": ("Latih ulang", "Retrain"),
    "retraining": ("Melatih ulang…", "Retraining…"),
    "before": ("sebelum", "before"),
    "after": ("sesudah", "after"),
    "switched": ("model baru dipakai", "the new model is in use"),
    "not_switched": ("model lama tetap dipakai", "the model in use is kept"),
    "failed": ("gagal", "failed"),
    "not_saved": ("Tidak tersimpan", "Not saved"),
    "turns_around": ("giliran sebelum dan sesudah", "turns before and after"),
}
UI = {lang: {key: pair[i] for key, pair in _UI.items()} for i, lang in enumerate(LANGS)}


def words(lang: str) -> dict:
    """Everything the templates say, in ``lang`` ("id" or "en")."""
    lang = lang if lang in LANGS else "id"
    return {"ui": UI[lang], "decision": DECISION_WORDS[lang], "direction": DIRECTION_WORDS[lang],
            "status": STATUS_WORDS[lang], "lang": lang}
