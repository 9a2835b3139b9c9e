"""Cut a document into segments: its turns for transcripts, paragraphs otherwise.

Every segment's ``text`` is ``document.text[start:end]``, so offsets exported to NVivo or
ATLAS.ti land on the same characters. Ids come from :func:`segment_id` (document, text,
occurrence), so an edit elsewhere in the document leaves a segment's id as it was; every
part of Pilah that names segments (tables, discovery) uses it.

The turns come from the reader (``document.blocks``: speaker, times and offsets as the
source gives them), never parsed back from the stored text; only a transcript Document
built by hand, without blocks, has its turns found with the built-in pattern. A segment longer than
:data:`MAX_SEGMENT_CHARS` (a transcript without line breaks, a 10 MB table cell) is cut
at the last sentence end, line break or space before the limit, so that no single piece
of text reaches the tokenizer whole; the pieces keep the turn's speaker and time.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator

from pipeline.records import Document, Segment, role_of

# Longest segment, in characters: about 800 words, longer than almost any spoken turn;
# spaCy's memory grows with the length of one text (its own limit is 1,000,000).
MAX_SEGMENT_CHARS = 5000
_BLOCK = re.compile(r"\S(?:.*\S)?(?:\n(?!\s*\n).*\S)*")  # text between blank lines
_BREAKS = (re.compile(r"[.?!…][\"'”’)\]]*\s"), re.compile(r"\n"), re.compile(r"\s"))


def segment_id(document_id: str, text: str, occurrence: int = 0) -> str:
    """The one id scheme for segments: a segment keeps its id while its text is unchanged.

    ``occurrence`` counts earlier segments of the same document with the same text (a
    repeated *"Ya."*), so that each keeps its own id. Offsets are not part of the id: an
    edit earlier in the document moves a segment without changing it.

    Examples
    --------
    >>> segment_id("a.txt", "Halo.") == segment_id("a.txt", "Halo.")
    True
    >>> segment_id("a.txt", "Halo.") == segment_id("b.txt", "Halo.")
    False
    """
    key = "\x1f".join((document_id, str(occurrence), text))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def segment_ids(document_ids: list[str], texts: list[str]) -> list[str]:
    """:func:`segment_id` for many (document, text) pairs, counting occurrences in order.

    Examples
    --------
    >>> a, b, c = segment_ids(["t.csv"] * 3, ["Ya.", "Tidak.", "Ya."])
    >>> a == segment_id("t.csv", "Ya.") and c == segment_id("t.csv", "Ya.", 1)
    True
    """
    seen: Counter[tuple[str, str]] = Counter()
    ids = []
    for document_id, text in zip(document_ids, texts):
        ids.append(segment_id(document_id, text, seen[document_id, text]))
        seen[document_id, text] += 1
    return ids


def segment_document(document: Document, researchers: Iterable[str] = ()) -> list[Segment]:
    """Return the segments of ``document`` in reading order.

    Turns whose speaker is one of ``researchers`` (the project's ``[suggest]
    skip_speakers``, compared without regard to case) get the role ``RESEARCHER``: the
    researcher's own questions, stored and exported with the rest, never suggested for.

    Examples
    --------
    >>> from pipeline.records import Block, Document
    >>> text = "Ani: Halo.\\n\\nBudi: Hai juga."
    >>> doc = Document("a.txt", "a.txt", "txt", "transcript", text,
    ...                blocks=(Block(5, 10, "Ani"), Block(18, 27, "Budi")))
    >>> [(s.speaker, s.text) for s in segment_document(doc)]
    [('Ani', 'Halo.'), ('Budi', 'Hai juga.')]
    >>> [s.role for s in segment_document(doc, researchers=["ani"])]
    ['researcher', '']
    """
    researchers = {r.casefold() for r in researchers}
    blocks = document.blocks
    if not blocks and document.layout == "transcript":
        # A transcript built by hand, not by ingest: parse its turns with the built-in pattern.
        from pipeline.ingest.transcript import parse_transcript

        blocks = tuple(parse_transcript(document.text).blocks)
    if blocks:
        spans = [
            (start, end, block)
            for block in blocks
            for start, end in _pieces(document.text, block.start, block.end)
        ]
    else:
        spans = [
            (start, end, None)
            for match in _BLOCK.finditer(document.text)
            for start, end in _pieces(document.text, match.start(), match.end())
        ]
    seen: Counter[str] = Counter()
    segments = []
    for index, (start, end, block) in enumerate(spans):
        text = document.text[start:end]
        segments.append(Segment(
            id=segment_id(document.id, text, seen[text]),
            document_id=document.id,
            index=index,
            start=start,
            end=end,
            text=text,
            speaker=block.speaker if block else None,
            timestamp=block.timestamp if block else None,
            end_time=block.end_time if block else None,
            metadata=dict(block.metadata) if block else {},
            role=role_of(block.speaker if block else None, researchers),
        ))
        seen[text] += 1
    return segments


def text_pieces(text: str, limit: int = MAX_SEGMENT_CHARS) -> list[str]:
    """``text`` cut as a segment is cut: trimmed pieces of at most ``limit`` characters,
    at a sentence end, line break or space where one is near (``[]`` for blank text).

    >>> text_pieces("Satu. Dua. Tiga.", limit=8)
    ['Satu.', 'Dua.', 'Tiga.']
    """
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return [text[a:b] for a, b in _pieces(text, start, end, limit)] if end > start else []


def _pieces(text: str, start: int, end: int, limit: int = MAX_SEGMENT_CHARS) -> Iterator[tuple[int, int]]:
    """Cut ``text[start:end]`` into trimmed pieces of at most ``limit`` characters."""
    while end - start > limit:
        window = text[start:start + limit]
        cut = 0
        for pattern in _BREAKS:
            found = [m.end() for m in pattern.finditer(window) if m.end() > limit // 2]
            if found:
                cut = found[-1]
                break
        cut = cut or limit
        piece = text[start:start + cut]
        stripped = piece.rstrip()
        if stripped:
            yield start, start + len(stripped)
        start += cut
        start += len(text[start:end]) - len(text[start:end].lstrip())
    if end > start:
        yield start, end
