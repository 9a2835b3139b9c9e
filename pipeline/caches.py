"""The one mechanism for what the stages remember about words between batches.

Tokenizing, detecting languages and suggesting look the same written words up again and
again (a corpus has far fewer distinct words than words), so each of those stages keeps
what it worked out per word. Every such cache is a :class:`WordCache`: a plain ``dict``
(the look-ups stay C-speed dict look-ups on the hot paths), bounded by one rule: when it
holds more than ``WORDS_KEPT`` entries it is emptied, with the caches linked to it, before
the next batch fills it again. Memory therefore stays bounded on any corpus, and a run
never holds more than one batch's worth of words beyond the cap.

:func:`clear` empties every cache of the process (the word caches and the functions'
memos registered with :func:`memo`), e.g. between two benchmarks.
"""

from __future__ import annotations

import weakref
from functools import lru_cache

WORDS_KEPT = 500_000  # entries a word cache holds before it is emptied

_CACHES: weakref.WeakSet = weakref.WeakSet()
_MEMOS: list = []


class _Bounded:
    """What every word cache shares: a limit, caches linked to it, ``make_room``."""

    def _bound(self, limit: int, linked: tuple) -> None:
        self.limit = limit
        self.linked = linked
        _CACHES.add(self)

    def __hash__(self) -> int:  # for the registry of caches (a dict or set is unhashable)
        return id(self)

    def __eq__(self, other) -> bool:
        return self is other

    def make_room(self) -> bool:
        """Empty this cache and its linked ones when over the limit (call before a batch);
        whether it was emptied."""
        if len(self) <= self.limit:
            return False
        self.clear()
        for cache in self.linked:
            cache.clear()
        return True


class WordCache(_Bounded, dict):
    """A ``dict`` of per-word results, emptied when it holds more than ``limit`` entries.

    ``linked``: caches filled together with this one (e.g. the forms seen and those that
    split), emptied with it so that they stay consistent.

    >>> seen = WordCache(limit=2)
    >>> seen.update(a=1, b=2, c=3)
    >>> seen.make_room(), len(seen)
    (True, 0)
    """

    def __init__(self, limit: int = WORDS_KEPT, linked: tuple = ()):
        dict.__init__(self)
        self._bound(limit, linked)


class WordSet(_Bounded, set):
    """A ``set`` of words seen, bounded as :class:`WordCache` is."""

    def __init__(self, limit: int = WORDS_KEPT, linked: tuple = ()):
        set.__init__(self)
        self._bound(limit, linked)


def memo(maxsize: int):
    """``functools.lru_cache(maxsize)`` for a function whose results are kept (a loaded
    table, a detector's answer per word), registered so that :func:`clear` empties it."""
    def decorate(function):
        cached = lru_cache(maxsize=maxsize)(function)
        _MEMOS.append(weakref.ref(cached))
        return cached

    return decorate


def clear() -> None:
    """Empty every word cache and every registered memo of this process."""
    for cache in list(_CACHES):
        cache.clear()
    for ref in _MEMOS:
        function = ref()
        if function is not None:
            function.cache_clear()
