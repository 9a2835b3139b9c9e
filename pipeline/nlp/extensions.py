"""Pilah's token attributes, registered once for every backend.

* ``token._.surface_id``: index of the written token a word came from; words split from
  one written token (*rumah* + *nya*) share it. Defaults to the token's own index.
* ``token._.is_filler``: the token is a discourse filler (*eh, hmm, sih*).

Both are stored per ``Doc`` in ``doc.user_data`` (one dict each), which is much cheaper than
per-token extension defaults on long documents.
"""

from __future__ import annotations

from spacy.tokens import Token

SURFACE_IDS = "pilah_surface_ids"
FILLERS = "pilah_fillers"


def _get_surface_id(token: Token) -> int:
    ids = token.doc.user_data.get(SURFACE_IDS)
    return token.i if ids is None else ids.get(token.i, token.i)


def _set_surface_id(token: Token, value: int) -> None:
    token.doc.user_data.setdefault(SURFACE_IDS, {})[token.i] = value


def _get_is_filler(token: Token) -> bool:
    return token.lower_ in token.doc.user_data.get(FILLERS, ())


def _set_is_filler(token: Token, value: bool) -> None:
    fillers = set(token.doc.user_data.get(FILLERS, ()))
    (fillers.add if value else fillers.discard)(token.lower_)
    token.doc.user_data[FILLERS] = frozenset(fillers)


for name, getter, setter in (
    ("surface_id", _get_surface_id, _set_surface_id),
    ("is_filler", _get_is_filler, _set_is_filler),
):
    if not Token.has_extension(name):
        Token.set_extension(name, getter=getter, setter=setter)
