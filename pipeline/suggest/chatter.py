"""Turns that carry no content to code: greetings, thanks, back-channel, headings.

An interview is full of *Monggo, silakan Mas*, *iya*, *oke*, *terima kasih*; a document
of headings. A model trained on 25 decisions, or a code's definition matched by meaning,
finds something in them all the same (a greeting in every interview with the Osaka
partner looks like evidence of the partner). ``is_chatter`` says which segments hold
nothing but such words; the ``Suggester`` gives them no suggestion from the model or by
meaning. A codebook keyword matched in one is still suggested: the codebook asked for it.
"""

from __future__ import annotations

import re

from pipeline.suggest.features import STOP_WORDS, SegmentFeatures

# Greetings, thanks, politeness, agreement, back-channel and forms of address, in
# Indonesian (with Javanese and Sundanese words common in East Java interviews) and
# English; matched on the normalised words of a segment, after fillers are left out.
CHATTER_WORDS = frozenset("""
    monggo mangga silakan silahkan sumangga nggih inggih enggih injih iya iyaa iyah ya yaa yap yup yoi
    oke ok okay oké okey sip siap baik betul benar bener setuju paham mengerti ngerti
    terima kasih makasih trims thanks thank thx matur nuwun suwun sami sama sama-sama kembali
    halo hallo hai hi hello selamat pagi siang sore malam salam assalamualaikum waalaikumsalam
    wassalamualaikum permisi maaf sorry excuse pardon
    mas mbak mba bu ibu pak bapak bang kak dik dek om tante bro sis mister mr mrs ms miss sir madam
    nah oh ah eh wah wow hmm hm mm um uh er yeah yes right sure fine good great cool alright
    lanjut next sambung berikutnya dulu saja aja deh dong sih kok kan lho loh kah pun juga lagi
    tadi nanti sekarang begitu gitu gini begini jadi nah ini itu tersebut
    see bye goodbye dadah jumpa ketemu
    """.split())
_CONTENT = frozenset(STOP_WORDS) | CHATTER_WORDS
_HEADING = re.compile(r"^\s*(#{1,6}\s|(bab|bagian|chapter|section|part|lampiran|appendix)\b|[0-9ivx]+(\.[0-9]+)*[.)]?\s"
                      # an agreement's articles, a table's or figure's caption: "Pasal 6 – Pendanaan", "Tabel 1. …"
                      r"|(pasal|article|artikel|tabel|table|gambar|figure|grafik|chart)\s+([0-9]+[a-z]?|(?-i:[IVXLC]+))\b)",
                      re.IGNORECASE)
HEADING_MAX_WORDS = 8


def is_chatter(item: SegmentFeatures) -> bool:
    """Whether a segment holds no word beyond greetings, thanks, agreement, forms of
    address, fillers and function words, or is a heading: a short line (at most
    ``HEADING_MAX_WORDS`` words, no sentence punctuation) written as a heading
    (``# …``, numbered, *Bab*, *Bagian*, *Section*…, an article or caption: *Pasal 6 –
    Pendanaan*, *Table 1. …*) or in capitals. A speaker's turn or
    a table's row (``SegmentFeatures.turn``) is never a heading: a survey answer written
    in capitals (*LACK OF COMMUNICATION*, 2 % of NaPiRE's answers, most of them coded) is
    an answer."""
    words = item.words.split()
    if all(w in _CONTENT or not any(ch.isalpha() for ch in w) for w in words):
        return True
    return not item.turn and is_heading(item.doc.text)


def is_heading(text: str) -> bool:
    """A short line without sentence punctuation, numbered or marked as a heading or
    written in capitals."""
    line = text.strip()
    if not line or "\n" in line or len(line.split()) > HEADING_MAX_WORDS or line[-1] in ".?!,;":
        return False
    letters = [ch for ch in line if ch.isalpha()]
    return bool(_HEADING.match(line)) or (len(letters) >= 4 and all(ch.isupper() for ch in letters))
