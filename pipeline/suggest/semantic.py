"""Suggestions by meaning: segment vectors matched to what the codebook says of each code.

A new project has a codebook and no coding yet. With a sentence encoder
(``pipeline.embed``), each code's labels (id and en), definition, inclusion notes and
``examples:`` quotes are embedded once as e5 *queries* (``code_texts``, ``CodeVectors``),
each segment as a *passage*; a segment is suggested a code when its similarity to one of
the code's texts stands out, both against the corpus (how far above what that text scores
on most segments) and against the other codes (``ZeroShot``). The evidence names the text
that matched (``definition: …``, ``example: …``), so that a person can check it.

The same vectors give a direction: the similarity to bilingual descriptions of a
supporting, a constraining and a neutral statement (``DIRECTION_DESCRIPTIONS`` and the
codebook's direction labels, ``CodeVectors.direction_rows``), beside the codebook's cue
words and negation.
"""

from __future__ import annotations

import re
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
        # a label written as an identifier (``air_panas``, from a table's codes) read as words
        labels = [text if " " in text else text.replace("_", " ")
                  for text in (code.label.get("id", ""), code.label.get("en", ""))]
        labels = [text for text in dict.fromkeys(labels) if text.strip()]
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


class ZeroShot:
    """Codes and directions from the codebook alone, by meaning.

    A code's similarity to a segment is the best cosine between the segment's vector and
    one of the code's texts (``CodeVectors``). No labels say where to cut, so the cut is
    relative, twice: a code is suggested where its similarity stands ``min_z`` standard
    deviations above the segment's mean similarity to all the codes (it is about this code
    more than about the others), and where it stands ``min_lift`` above what the codebook's
    texts of different codes score against each other (it is about a code at all: that
    level says where unrelated texts of this domain sit for this encoder, about 0.8 for
    e5's cosines, near 0 for the stand-in's), at most ``max_codes`` a segment. A code with
    keywords (``keyworded``) needs ``min_z_keyworded``: its rules already find it, and on
    the sample gold the looser cut added as many wrong suggestions as right ones. The cuts
    were chosen on the sample corpus's gold coding (``bench/zero_shot.py``: by meaning
    alone, micro-F1 0.21 at these cuts, 0.10 at 1.5 for every code; with the rules 0.511
    either way), never on a test split.

    Direction: the segment's similarity to each direction's texts, the supporting minus
    the constraining one (less its mean over the codebook's direction texts) beside the cue
    words' vote (``rules.cue_direction``); ``direction_margin`` is how far the similarity
    must lean for it to decide on its own.
    """

    def __init__(self, code_vectors: CodeVectors, codes: list[str], min_lift: float = 0.0,
                 min_z: float = 1.0, max_codes: int = 2, direction_margin: float = 0.01,
                 keyworded: frozenset = frozenset(), min_z_keyworded: float = 1.5,
                 background: tuple[float, float] | None = None):
        self.vectors = code_vectors
        self.codes = [c for c in codes if len(code_vectors.rows_of(c))]
        self.max_codes = max_codes
        self.min_z = np.array([min_z_keyworded if c in keyworded else min_z for c in self.codes], np.float32)
        self.unrelated, self.spread = background or unrelated_similarity(code_vectors, self.codes)
        self.min_similarity = self.unrelated + min_lift
        self.direction_margin = direction_margin
        self._directions = code_vectors.direction_rows()

    def similarities(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per segment and code (``self.codes``), the best similarity and the row of the
        text that gave it."""
        sims = vectors @ self.vectors.matrix.T
        best = np.full((len(vectors), len(self.codes)), -1.0, np.float32)
        row = np.zeros((len(vectors), len(self.codes)), np.int64)
        for j, code in enumerate(self.codes):
            rows = self.vectors.rows_of(code)
            at = sims[:, rows].argmax(axis=1)
            best[:, j] = sims[np.arange(len(vectors)), rows[at]]
            row[:, j] = rows[at]
        return best, row

    def choose(self, vectors: np.ndarray) -> list[list[tuple[str, float, int]]]:
        """Per segment, ``(code, score, text row)`` of the codes suggested by meaning, best
        first; score in 0.3-0.7, below what a trained model's confident suggestions get."""
        if not self.codes or vectors is None or not len(vectors):
            return [[] for _ in range(0 if vectors is None else len(vectors))]
        best, row = self.similarities(vectors)
        z = self.lift(best)
        empty = ~vectors.any(axis=1)
        chosen = []
        for i in range(len(vectors)):
            picked = [] if empty[i] else np.flatnonzero((z[i] >= self.min_z) & (best[i] >= self.min_similarity))
            ranked = sorted(picked, key=lambda j: -z[i, j])[: self.max_codes]
            chosen.append([(self.codes[j], round(0.3 + 0.4 / (1 + float(np.exp(-(z[i, j] - self.min_z[j])))), 4),
                            int(row[i, j])) for j in ranked])
        return chosen

    def lift(self, best: np.ndarray) -> np.ndarray:
        """How far each code's similarity stands above the segment's mean similarity to the
        other codes, in units of the spread of similarities between unrelated texts (so
        that neither the number of codes nor the encoder's scale moves the cut)."""
        count = best.shape[1]
        if count < 2:  # nothing to set it against but what unrelated texts score
            return (best - self.unrelated) / self.spread
        others = (best.sum(axis=1, keepdims=True) - best) / (count - 1)
        return (best - others) / self.spread

    def direction_scores(self, vectors: np.ndarray) -> np.ndarray:
        """Per segment, supporting minus constraining similarity (positive: supporting)."""
        if vectors is None or not len(vectors):
            return np.zeros(0)
        sims = vectors @ self.vectors.matrix.T
        supporting = sims[:, self._directions["supporting"]].max(axis=1)
        constraining = sims[:, self._directions["constraining"]].max(axis=1)
        return supporting - constraining

    def direction(self, score: float, cues: str) -> str:
        """The direction from one segment's ``direction_scores`` and its cues' vote: the
        cues where they lean one way, else the vectors where they lean by at least
        ``direction_margin``, else neutral. On the sample gold (519 coded pairs, 28 %
        neutral) the cues alone gave 53 % neutral and macro-F1 0.419; with the vectors
        behind them, 36 % neutral and 0.435 (``bench/zero_shot.py``)."""
        if cues != "neutral":
            return cues
        if score >= self.direction_margin:
            return "supporting"
        if score <= -self.direction_margin:
            return "constraining"
        return "neutral"


def unrelated_similarity(code_vectors: CodeVectors, codes: list[str]) -> tuple[float, float]:
    """The mean and standard deviation of the cosines between texts of different codes: how
    similar this encoder finds unrelated texts of the codebook's domain, and how much that
    varies (0 and 1 with fewer than two codes)."""
    rows = [code_vectors.rows_of(c) for c in codes]
    owner = np.concatenate([np.full(len(r), k) for k, r in enumerate(rows)]) if rows else np.zeros(0, int)
    if len(set(owner.tolist())) < 2:
        return 0.0, 1.0
    matrix = code_vectors.matrix[np.concatenate(rows)]
    sims = matrix @ matrix.T
    different = sims[owner[:, None] != owner[None, :]]
    return float(different.mean()), max(float(different.std()), 1e-3)


def evidence_text(codebook: Codebook, code: str, source: str, text: str, limit: int = 120,
                  segment: str | None = None) -> str:
    """What a suggestion by meaning shows as its evidence: ``"definition: …"``,
    ``"include: …"``, ``"example: …"`` or ``"label: …"``, the note as the codebook words
    it (without the label ``code_texts`` put before it), cut at ``limit`` characters.

    A definition or include note is shortened to its part (between commas, semicolons
    and full stops) sharing the most words with ``segment``, else clipped at
    ``DEFINITION_CHARS``: the whole definition repeated on every row said nothing about
    why this segment matched.

    Examples
    --------
    >>> _closest_part("Modal kerja usaha, akses kredit, dan anggaran pemerintah untuk program.",
    ...               "kendala utamanya anggaran pemerintah")
    'anggaran pemerintah untuk program'
    """
    entry = codebook.codes.get(code)
    if entry is not None and source in ("definition", "include"):
        text = getattr(entry, source).strip()
        part = _closest_part(text, segment) if segment else ""
        text, limit = (part, limit) if part else (text, min(limit, DEFINITION_CHARS))
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;") + "…"
    return f"{SOURCE_NAMES.get(source, source)}: {text}"


DEFINITION_CHARS = 60  # a definition shown as evidence, when no part of it shares a word with the segment
_PARTS = re.compile(r"[,;:]\s+|(?<=[.!?])\s+")
_WORDS = re.compile(r"\w{3,}")
_JOINER = re.compile(r"^(?:dan|atau|serta|and|or)\s+", re.IGNORECASE)  # a part's leading "and"


def _closest_part(text: str, segment: str) -> str:
    """The part of ``text`` sharing the most words (of three letters or more) with
    ``segment``, without its final full stop; ``""`` when none shares a word."""
    said = {w.casefold() for w in _WORDS.findall(segment)}
    parts = [_JOINER.sub("", p.strip().rstrip(".")) for p in _PARTS.split(text) if p.strip()]
    scored = [(len({w.casefold() for w in _WORDS.findall(p)} & said), -k, p) for k, p in enumerate(parts)]
    best = max(scored, default=(0, 0, ""))
    return best[2] if best[0] else ""


DECISION = "decision"  # the source of a coded example a model keeps (``examples_of``)
SOURCE_NAMES = {DECISION: "coded example"}


def examples_of(model) -> tuple[CodeVectors, tuple[float, float]] | None:
    """The coded examples a model trained on vectors keeps for the codes it has too few
    examples to learn (``SuggestionModel.example_*``, ``Scorer.example_*``): their vectors
    as ``CodeVectors`` and the background similarity of its training rows; ``None``
    without."""
    vectors = getattr(model, "example_vectors", None)
    if vectors is None:
        vectors = getattr(model, "example_vectors_", None)
    if vectors is None or not len(vectors):
        return None
    codes = getattr(model, "example_codes", None) or getattr(model, "example_codes_", [])
    texts = getattr(model, "example_texts", None) or getattr(model, "example_texts_", [])
    background = getattr(model, "example_background", None) or getattr(model, "example_background_", None)
    return (CodeVectors(list(codes), [DECISION] * len(codes), list(texts), np.asarray(vectors, np.float32)),
            tuple(background))


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
