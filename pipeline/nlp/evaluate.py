"""Measure an nlp backend against a Universal Dependencies ``.conllu`` file.

The backend reads the treebank's raw text (each document's ``# text`` lines joined by a
space, so sentence splitting is measured too); its ``Doc``s are written as CoNLL-U, words
of one written token grouped as a multi-word token, and scored with the CoNLL 2018 shared
task's evaluation (``udtools.udeval``, installed with Stanza).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from spacy.tokens import Doc, Token
from udtools import udeval

from pipeline.errors import InputError

if not Token.has_extension("surface_id"):
    Token.set_extension("surface_id", default=None)

Pipe = Callable[[Iterable[str]], Iterator[Doc]]


def read_documents(path: str | Path) -> list[str]:
    """The raw text of each document of a ``.conllu`` file (``# newdoc`` starts a new one)."""
    documents: list[list[str]] = [[]]
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the CoNLL-U file: {exc}") from None
    for line in lines:
        if line.startswith("# newdoc") and documents[-1]:
            documents.append([])
        elif line.startswith("# text = "):
            documents[-1].append(line[len("# text = ") :].strip())
    texts = [" ".join(sentences) for sentences in documents if sentences]
    if not texts:
        raise InputError(path, "no '# text = ' lines: cannot recover the raw text to evaluate on")
    return texts


def to_conllu(doc: Doc) -> str:
    """A ``Doc`` as CoNLL-U: one word per token, tokens sharing ``._.surface_id`` (or a
    contraction such as *do* + *n't*) under one multi-word token line."""
    lines = []
    for sentence in doc.sents:
        words = [t for t in sentence if not t.is_space]
        groups = _surface_groups(words)
        number = 1
        for group in groups:
            if len(group) > 1:
                surface = "".join(t.text for t in group)
                lines.append(f"{number}-{number + len(group) - 1}\t{surface}" + "\t_" * 8)
            for token in group:
                head = 0 if number == 1 else 1
                lemma = token.lemma_ or token.text
                lines.append("\t".join([str(number), token.text, lemma, token.pos_ or "X", "_", "_",
                                        str(head), "root" if head == 0 else "dep", "_", "_"]))
                number += 1
        lines.append("")
    return "\n".join(lines) + "\n"


def _surface_groups(words: list[Token]) -> list[list[Token]]:
    groups: list[list[Token]] = []
    for token in words:
        previous = groups[-1][-1] if groups else None
        joined = previous is not None and not previous.whitespace_ and (
            (token._.surface_id is not None and token._.surface_id == previous._.surface_id)
            or _contraction(previous, token)
        )
        if joined:
            groups[-1].append(token)
        else:
            groups.append([token])
    return groups


_EN_CLITICS = {"'m", "n't", "'s", "'ve", "'ll", "'re", "'d", "’m", "n’t", "’s", "’ve", "’ll", "’re", "’d",
               "nt", "not", "ta", "na", "m", "ve", "ll", "re", "d", "s"}


def _contraction(previous: Token, token: Token) -> bool:
    """English clitics that UD writes inside one multi-word token: *I'm, don't, cannot,
    gotta, ive* (spaCy's tokenizer exceptions split them; nothing joins them but spelling)."""
    return previous.lang_ == "en" and previous.is_alpha and token.lower_ in _EN_CLITICS


def evaluate_conllu(path: str | Path, pipe: Pipe, has_tagger: bool) -> dict:
    """Score ``pipe`` on the raw text of ``path``.

    Returns
    -------
    dict
        ``tokens_f1``, ``sentences_f1``, ``words_f1``, ``lemma_acc``, ``upos_acc`` (``None``
        when the backend has no tagger), all in percent, and ``words_per_s``.
    """
    texts = read_documents(path)
    started = time.perf_counter()
    docs = list(pipe(texts))
    seconds = time.perf_counter() - started
    system = "".join(to_conllu(doc) for doc in docs)
    try:
        gold = udeval.load_conllu_file(str(path))
        scored = udeval.evaluate(gold, udeval.load_conllu(io.StringIO(system), "<system>", {}))
    except udeval.UDError as exc:
        raise InputError(path, f"cannot score against this file: {exc}") from None
    words = sum(len(doc) for doc in docs)
    return {
        "file": Path(path).name,
        "tokens_f1": round(100 * scored["Tokens"].f1, 2),
        "sentences_f1": round(100 * scored["Sentences"].f1, 2),
        "words_f1": round(100 * scored["Words"].f1, 2),
        "lemma_acc": round(100 * scored["Lemmas"].f1, 2),
        "upos_acc": round(100 * scored["UPOS"].f1, 2) if has_tagger else None,
        "words_per_s": round(words / seconds) if seconds else None,
        "words": words,
    }


def evaluate_backend(path: str | Path, backend: str, settings: dict, language: str | None = None) -> dict:
    """Score one backend (``fast``, ``stanza`` or ``blank`` = bare ``spacy.blank``) on ``path``.

    ``language`` defaults to the treebank's file-name prefix (``en_…`` → English).
    """
    import spacy

    from pipeline.nlp import reader_for

    language = language or ("en" if Path(path).name.startswith("en") else "id")
    if backend == "blank":
        nlp = spacy.blank(language)
        nlp.add_pipe("sentencizer")
        pipe, has_tagger = nlp.pipe, False
    else:
        pipe = reader_for(language, {**settings, "backend": backend})
        has_tagger = backend == "stanza" and language != "en"
    pipe(["warm up"])  # load models and tables outside the timed run
    return {"backend": backend, "language": language, **evaluate_conllu(path, pipe, has_tagger)}
