"""Suggestions by meaning: segment vectors matched to what the codebook says of each code.

A new project has a codebook and no coding yet. With a sentence encoder
(``pipeline.embed``), each code's labels (id and en), definition, inclusion notes and
``examples:`` quotes are embedded once as e5 *queries* (``code_texts``, ``CodeVectors``),
each segment as a *passage*; a segment is suggested a code when its similarity to one of
the code's texts stands out, both against the corpus (how far above what that text scores
on most segments) and against the other codes (``ZeroShot``). The evidence names the text
that matched (``definition: …``, ``example: …``), so that a person can check it.

The same vectors give a direction: the similarity to bilingual descriptions of a
supporting, a constraining and a neutral statement (``direction_texts``), beside the
codebook's cue words and negation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pipeline.codebook import Codebook

DIRECTION = "direction:"  # the source of a direction's text in ``code_texts`` (its code is "")
# What a supporting, constraining or neutral statement says, in both languages, beside the
# codebook's own direction labels and cue words.
DIRECTION_DESCRIPTIONS = {
    "supporting": (
        "Hal yang membantu, mendukung, memudahkan atau membuat program berhasil; hasil yang baik.",
        "Something that helps, supports or enables the work and makes it succeed; a good result.",
    ),
    "constraining": (
        "Hambatan, kendala, masalah atau kesulitan yang menghambat program; hasil yang buruk.",
        "A barrier, obstacle, problem or difficulty that holds the work back; a bad result.",
    ),
    "neutral": (
        "Keterangan atau fakta biasa tanpa penilaian baik atau buruk.",
        "A plain description or fact, neither good nor bad.",
    ),
}


def code_texts(codebook: Codebook) -> list[tuple[str, str, str]]:
    """Every text an encoder should embed (as a query) for ``codebook``: ``(code, source,
    text)`` triples, in a fixed order.

    Per codable code: its labels (``"label"``, Indonesian then English, once if equal),
    definition and inclusion notes (``"definition"``, ``"include"``, each led by the English
    label, so that a note's subject is named) and each of its ``examples:`` (``"example"``).
    Then, with code ``""``, the texts of each direction (source ``"direction:<name>"``):
    its labels in both languages, a description (``DIRECTION_DESCRIPTIONS``) and its cue
    words.
    """
    entries: list[tuple[str, str, str]] = []
    for code in codebook.codable():
        labels = [text for text in dict.fromkeys((code.label.get("id", ""), code.label.get("en", ""))) if text.strip()]
        entries += [(code.id, "label", text) for text in labels]
        name = code.label.get("en") or code.id
        for source, note in (("definition", code.definition), ("include", code.include)):
            if note.strip():
                entries.append((code.id, source, f"{name}: {note.strip()}"))
        entries += [(code.id, "example", quote) for quote in code.examples]
    for direction, descriptions in DIRECTION_DESCRIPTIONS.items():
        source = DIRECTION + direction
        labels = codebook.direction_labels.get(direction, {})
        texts = [*labels.values(), *descriptions]
        cues = [word.rstrip("*") for words in codebook.cues.get(direction, {}).values() for word in words]
        if cues:
            texts.append(", ".join(dict.fromkeys(cues)))
        entries += [("", source, text) for text in dict.fromkeys(t for t in texts if t.strip())]
    return entries


@dataclass
class CodeVectors:
    """The vectors of ``code_texts(codebook)``: row ``k`` of ``matrix`` (float32, unit
    length) embeds ``texts[k]`` as a query, from ``codes[k]`` (``""`` for a direction's
    text) and ``sources[k]``. ``encoder_id`` names the encoder that made them."""

    codes: list[str]
    sources: list[str]
    texts: list[str]
    matrix: np.ndarray
    encoder_id: str = ""
    _rows: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_codebook(cls, codebook: Codebook, queries: Callable[[list[str]], np.ndarray],
                      encoder_id: str = "") -> "CodeVectors":
        """Embed ``code_texts(codebook)`` with ``queries`` (texts → ``(n, dim)`` vectors,
        e.g. ``lambda t: embed(t, encoder, store, kind="query")``)."""
        entries = code_texts(codebook)
        texts = [text for _, _, text in entries]
        matrix = np.asarray(queries(texts), dtype=np.float32) if texts else np.zeros((0, 0), np.float32)
        return cls([c for c, _, _ in entries], [s for _, s, _ in entries], texts, matrix, encoder_id)

    def rows_of(self, code: str) -> np.ndarray:
        """The rows of ``code``'s texts."""
        if code not in self._rows:
            self._rows[code] = np.array([k for k, c in enumerate(self.codes) if c == code], dtype=np.int64)
        return self._rows[code]

    def direction_rows(self) -> dict[str, np.ndarray]:
        """Per direction, the rows of its texts."""
        return {d: np.array([k for k, s in enumerate(self.sources) if s == DIRECTION + d], dtype=np.int64)
                for d in DIRECTION_DESCRIPTIONS}

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1]) if self.matrix.ndim == 2 else 0


def evidence_text(codebook: Codebook, code: str, source: str, text: str, limit: int = 120) -> str:
    """What a suggestion by meaning shows as its evidence: ``"definition: …"``,
    ``"include: …"``, ``"example: …"`` or ``"label: …"``, the note as the codebook words
    it (without the label ``code_texts`` put before it), cut at ``limit`` characters."""
    entry = codebook.codes.get(code)
    if entry is not None and source in ("definition", "include"):
        text = getattr(entry, source).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return f"{source}: {text}"


def unit_rows(vectors: np.ndarray | None, count: int) -> np.ndarray | None:
    """``vectors`` as float32 with ``count`` rows, or ``None`` when there are none or
    they do not line up (a row of zeros stays zero: a skipped segment)."""
    if vectors is None:
        return None
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != count:
        return None
    return vectors


__all__ = ["CodeVectors", "code_texts", "evidence_text", "DIRECTION_DESCRIPTIONS"]
