"""The ``nlp`` stage: segments → spaCy ``Doc``s with tokens, normalised forms and lemmas.

Two backends produce the same ``Doc`` contract (config ``[nlp] backend``):

* ``fast`` (:mod:`.fast`): spaCy tokenizers with Indonesian-aware rules and lookup lemmas;
* ``stanza`` (:mod:`.stanza_backend`): Stanza models trained here on UD Indonesian.

Every token carries ``norm_`` (colloquial forms normalised), ``lemma_``,
``._.is_filler`` and ``._.surface_id`` (tokens split from one written word, such as
*rumah* + *nya*, share it).
"""

from pipeline.nlp.fast import build_pipeline, pipeline_for, read_word_list, tokenize_segments

__all__ = ["build_pipeline", "pipeline_for", "read_word_list", "tokenize_segments"]
