"""Cut a document into segments: speaker turns for transcripts, paragraphs otherwise.

Every segment's ``text`` is ``document.text[start:end]``, so offsets exported to NVivo or
ATLAS.ti land on the same characters. Ids come from ``segment_id`` (document, text,
occurrence), so an edit elsewhere in the document leaves a segment's id as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator

from pipeline.records import TURN_PATTERN, Document, Segment

_TURN = re.compile(TURN_PATTERN, re.MULTILINE)
_BLOCK = re.compile(r"\S(?:.*\S)?(?:\n(?!\s*\n).*\S)*")  # text between blank lines


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


def segment_document(document: Document) -> list[Segment]:
    """Return the segments of ``document`` in reading order.

    Examples
    --------
    >>> from pipeline.records import Document
    >>> doc = Document("abc", "a.txt", "txt", "transcript", "Ani: Halo.\\n\\nBudi: Hai juga.")
    >>> [(s.speaker, s.text) for s in segment_document(doc)]
    [('Ani', 'Halo.'), ('Budi', 'Hai juga.')]
    """
    spans = _turns(document.text) if document.layout == "transcript" else _paragraphs(document.text)
    seen: Counter[str] = Counter()
    segments = []
    for index, (start, end, speaker, timestamp) in enumerate(spans):
        text = document.text[start:end]
        segments.append(Segment(
            id=segment_id(document.id, text, seen[text]),
            document_id=document.id,
            index=index,
            start=start,
            end=end,
            text=text,
            speaker=speaker,
            timestamp=timestamp,
        ))
        seen[text] += 1
    return segments


def _paragraphs(text: str, offset: int = 0) -> Iterator[tuple[int, int, None, None]]:
    for match in _BLOCK.finditer(text):
        yield offset + match.start(), offset + match.end(), None, None


def _turns(text: str) -> Iterator[tuple[int, int, str | None, str | None]]:
    """A turn runs from its label to the next label; lines before the first are paragraphs."""
    matches = list(_TURN.finditer(text))
    if not matches:
        yield from _paragraphs(text)
        return
    yield from _paragraphs(text[: matches[0].start()])
    for match, following in zip(matches, matches[1:] + [None]):
        end = following.start() if following else len(text)
        body = text[match.end() : end].rstrip()
        if body:
            yield match.end(), match.end() + len(body), match["speaker"].strip(), match["timestamp"]
