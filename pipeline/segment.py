"""Cut a document into segments: speaker turns for transcripts, paragraphs otherwise.

Every segment's ``text`` is ``document.text[start:end]``, so offsets exported to NVivo or
ATLAS.ti land on the same characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.records import TURN_PATTERN, Document, Segment

_TURN = re.compile(TURN_PATTERN, re.MULTILINE)
_BLOCK = re.compile(r"\S(?:.*\S)?(?:\n(?!\s*\n).*\S)*")  # text between blank lines


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
    return [
        Segment(
            id=f"{document.id[:12]}:{start}-{end}",
            document_id=document.id,
            index=index,
            start=start,
            end=end,
            text=document.text[start:end],
            speaker=speaker,
            timestamp=timestamp,
        )
        for index, (start, end, speaker, timestamp) in enumerate(spans)
    ]


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
