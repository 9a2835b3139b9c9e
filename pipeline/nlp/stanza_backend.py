"""The ``stanza`` backend: Stanza models trained here on UD Indonesian, as spaCy ``Doc``s.

Stanza tokenizes, expands multi-word tokens (*rumahnya* → *rumah* + *nya*), tags UPOS and
features and lemmatises; the result becomes a ``Doc`` on the vocab of the shared blank
Indonesian pipeline, with the same contract as the ``fast`` backend:

* ``doc.text`` is the input, character for character (tokens are built from Stanza's
  character offsets; runs of whitespace other than one space become whitespace tokens);
* one token per Stanza *word*; ``._.surface_id`` numbers the written tokens (whitespace
  tokens included), so the words split from one written token share it. When a multi-word
  token's words do not spell the written token (an expansion that changes letters), the
  written token stays whole and carries its first content word's annotations;
* ``pos_`` and ``lemma_`` (lower case) from Stanza, ``morph`` from Stanza's features (empty
  with the shipped models, which are trained without them), sentence starts from Stanza's
  sentences;
* ``norm_`` and ``._.is_filler`` from the fast backend's ``pilah_forms`` component, which
  does not get to change Stanza's lemmas.

Model files are checked against the checksums in ``meta.json`` before anything is loaded;
nothing is ever downloaded. Torch runs on one thread (two threads on a two-core machine made
Stanza 30-100x slower).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from spacy.tokens import Doc

import pipeline.nlp.extensions  # noqa: F401  (registers ._.surface_id, ._.is_filler)
from pipeline.checksums import file_sha256
from pipeline.errors import ModelError
from pipeline.nlp.fast import build_pipeline

log = logging.getLogger(__name__)

PROCESSORS = {
    "tokenize": "id_tokenizer.pt",
    "mwt": "id_mwt.pt",
    "pos": "id_pos.pt",
    "lemma": "id_lemma.pt",
}
FIX = "rebuild it with `pilah train stanza`"
CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM", "X", "INTJ", "SYM"}


def verify_models(model_dir: Path) -> dict:
    """Check every model file against ``meta.json``; return the metadata.

    Raises
    ------
    ModelError
        Listing every missing or changed file at once, and how to fix it.
    """
    model_dir = Path(model_dir)
    meta_path = model_dir / "meta.json"
    if not meta_path.is_file():
        raise ModelError(f"{meta_path}: missing; expected a Stanza model folder with meta.json "
                         f"and {', '.join(PROCESSORS.values())}; {FIX}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        checksums = dict(meta["checksums"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{meta_path}: not a Stanza model meta.json ({exc}); {FIX}") from None
    problems = []
    for name in sorted(set(checksums) | set(PROCESSORS.values()) | {"resources.json"}):
        path = model_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif name in checksums and file_sha256(path) != checksums[name]:
            problems.append(f"{path}: sha256 differs from meta.json (changed or corrupted)")
        elif name not in checksums and name != "resources.json":
            problems.append(f"{path}: no checksum in meta.json")
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ModelError(f"{model_dir}: Stanza model check failed, {FIX}\n{lines}")
    return meta


def _default_forms_settings() -> tuple[str, str]:
    from pipeline.config import load_config

    nlp = load_config().section("nlp")
    return nlp.get("colloquial_lexicon", ""), nlp.get("fillers", "")


class StanzaBackend:
    """Indonesian tokens, multi-word splits, UPOS, features and lemmas from Stanza.

    Parameters
    ----------
    model_dir
        Folder with ``meta.json``, ``resources.json`` and the four model files.
    colloquial_lexicon, fillers
        Lexicon files for ``norm_`` and ``._.is_filler``; the ``[nlp]`` defaults when None.

    Examples
    --------
    >>> backend = StanzaBackend(Path("models/stanza"))          # doctest: +SKIP
    >>> [t.text for t in backend("Programnya bagus.")]          # doctest: +SKIP
    ['Program', 'nya', 'bagus', '.']
    """

    def __init__(self, model_dir: Path, colloquial_lexicon: str | None = None,
                 fillers: str | None = None):
        import stanza
        import torch

        self.model_dir = Path(model_dir)
        self.meta_ = verify_models(self.model_dir)
        if colloquial_lexicon is None or fillers is None:
            default_lexicon, default_fillers = _default_forms_settings()
            colloquial_lexicon = default_lexicon if colloquial_lexicon is None else colloquial_lexicon
            fillers = default_fillers if fillers is None else fillers
        self.nlp = build_pipeline("id", str(colloquial_lexicon), str(fillers))
        self.forms = self.nlp.get_pipe("pilah_forms")
        torch.set_num_threads(1)
        paths = {f"{name}_model_path": str(self.model_dir / file) for name, file in PROCESSORS.items()}
        self.pipeline_ = stanza.Pipeline(
            lang="id",
            dir=str(self.model_dir),
            processors=",".join(PROCESSORS),
            download_method=None,
            use_gpu=False,
            logging_level="ERROR",  # only while loading: "Unsupported language: id" is expected
            **paths,
        )

    def __call__(self, text: str) -> Doc:
        return next(self.pipe([text]))

    def pipe(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[Doc]:
        """Yield one ``Doc`` per text, in order, running Stanza on ``batch_size`` texts at once."""
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) >= batch_size:
                yield from self._process(batch)
                batch = []
        if batch:
            yield from self._process(batch)

    def _process(self, texts: list[str]) -> list[Doc]:
        import stanza

        todo = [i for i, t in enumerate(texts) if t.strip()]
        results = {}
        if todo:
            documents = self.pipeline_([stanza.Document([], text=texts[i]) for i in todo])
            results = dict(zip(todo, documents))
        docs = []
        for i, text in enumerate(texts):
            doc = self._to_doc(text, results[i]) if i in results else self._blank_doc(text)
            docs.append(self._add_forms(doc))
        return docs

    def _blank_doc(self, text: str) -> Doc:
        """Empty or whitespace-only text: spaCy's own whitespace tokens, nothing for Stanza."""
        doc = self.nlp.make_doc(text)
        for surface_id, token in enumerate(doc):
            token.pos_ = "SPACE"
            token._.surface_id = surface_id
        return doc

    def _add_forms(self, doc: Doc) -> Doc:
        """``norm_`` and ``._.is_filler`` from ``pilah_forms``; lemmas stay Stanza's."""
        lemmas = [t.lemma_ for t in doc]
        self.forms(doc)
        for token, lemma in zip(doc, lemmas):
            token.lemma_ = lemma or token.lower_
        return doc

    def _to_doc(self, text: str, document) -> Doc:
        units = _Units(text)
        for sentence in document.sentences:
            starts = True
            for token in sentence.tokens:
                units.add_token(token, starts)
                starts = False
        units.close()
        return units.build(self.nlp.vocab)


class _Units:
    """Collects spaCy token columns from Stanza tokens, keeping every character of the text."""

    def __init__(self, text: str):
        self.text = text
        self.cursor = 0
        self.surface = 0
        self.words: list[str] = []
        self.spaces: list[bool] = []
        self.pos: list[str] = []
        self.morphs: list[str] = []
        self.lemmas: list[str] = []
        self.sent_starts: list[bool] = []
        self.surface_ids: list[int] = []

    def _append(self, word: str, pos: str, morph: str, lemma: str, starts: bool) -> None:
        self.words.append(word)
        self.spaces.append(False)
        self.pos.append(pos)
        self.morphs.append(morph)
        self.lemmas.append(lemma)
        self.sent_starts.append(starts)
        self.surface_ids.append(self.surface)

    def _gap(self, end: int) -> None:
        """Whitespace (or anything Stanza skipped) between the cursor and ``end``."""
        gap = self.text[self.cursor:end]
        if not gap:
            return
        if gap[0] == " " and self.words and not self.spaces[-1]:
            self.spaces[-1] = True
            gap = gap[1:]
        if gap:
            pos = "SPACE" if gap.isspace() else "X"
            self._append(gap, pos, "", gap if gap.isspace() else gap.lower(), not self.words)
            self.surface += 1
        self.cursor = end

    def add_token(self, token, starts: bool) -> None:
        start, end = token.start_char, token.end_char
        if start is None or end is None or start < self.cursor or end > len(self.text):
            raise ValueError(f"Stanza token {token.text!r} has no usable offsets ({start}, {end})")
        self._gap(start)
        surface = self.text[start:end]
        words = token.words
        pieces = [w.text for w in words]
        if len(words) > 1 and "".join(pieces).lower() == surface.lower():
            offset = 0
            for index, word in enumerate(words):
                piece = surface[offset:offset + len(word.text)]
                offset += len(word.text)
                self._append(piece, *_annotations(word), starts and index == 0)
        else:
            self._append(surface, *_annotations(_head_word(words)), starts)
        self.surface += 1
        self.cursor = end

    def close(self) -> None:
        self._gap(len(self.text))

    def build(self, vocab) -> Doc:
        if self.sent_starts:
            self.sent_starts[0] = True
            if len(self.words) > 1 and self.pos[0] == "SPACE":
                self.sent_starts[1] = False  # leading whitespace joins the first sentence
        doc = Doc(vocab, words=self.words, spaces=self.spaces, pos=self.pos, morphs=self.morphs,
                  lemmas=self.lemmas, sent_starts=self.sent_starts)
        for token, surface_id in zip(doc, self.surface_ids):
            token._.surface_id = surface_id
        return doc


def _head_word(words):
    """The first content word of a multi-word token (the first word when none is)."""
    return next((w for w in words if w.upos in CONTENT_POS), words[0])


def _annotations(word) -> tuple[str, str, str]:
    lemma = (word.lemma or word.text).lower()
    return word.upos or "X", word.feats or "", lemma
