"""Start-up tricks of the ``pilah`` console script (never of ``import pipeline``).

The console script (``pipeline.cli.main``) calls :func:`trim_spacy_imports` before any
command runs. It trims two imports spaCy makes that no command of Pilah uses; together they
were a third of every command's start-up (figures: docs/benchmarks.md, *Start-up*):

* thinc (spaCy's machine-learning layer) does not import torch for its optional PyTorch
  bridge, which no spaCy pipeline of Pilah's uses. torch stays importable as usual; the
  Stanza backend imports it when it is asked for.
* ``import spacy`` does not import spaCy's command-line modules (``spacy.cli``, with weasel,
  requests and the training and packaging commands), which it loads only to offer
  ``spacy.info`` at its top level. While the ``spacy`` package itself is being
  imported, its ``spacy.cli.info`` is a stand-in whose ``info`` imports the real one when
  called; the stand-in is gone once ``spacy`` is loaded, so ``import spacy.cli``, ``python
  -m spacy`` and ``spacy.info()`` work as before.

Both change how other packages load in the process that calls them, which is why a library
import must not do them: a program that imports ``pipeline`` and then loads a torch-backed
spaCy pipeline gets thinc's torch support as usual. Nothing changes when torch, thinc or
spaCy is already loaded.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types


def trim_spacy_imports() -> None:
    """Both trims, for the ``pilah`` process only."""
    _spacy_without_torch_bridge()
    _spacy_without_cli()


def _spacy_without_torch_bridge() -> None:
    if "torch" in sys.modules or "thinc" in sys.modules:
        return
    sys.modules["torch"] = None  # thinc.compat reads this as "torch is not installed"
    try:
        import thinc.compat  # noqa: F401
    finally:
        del sys.modules["torch"]


def _spacy_info(*args, **kwargs):
    """``spacy.info``, imported when first called."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


class _SpacyLoader(importlib.abc.Loader):
    """Runs the ``spacy`` package's own loader with the ``spacy.cli.info`` stand-in in place."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        stand_in = types.ModuleType("spacy.cli.info", "Stand-in while spacy is imported (see pipeline.cli.startup).")
        stand_in.info = _spacy_info
        sys.modules.setdefault("spacy.cli.info", stand_in)
        try:
            self.loader.exec_module(module)
        finally:
            if sys.modules.get("spacy.cli.info") is stand_in:
                del sys.modules["spacy.cli.info"]


class _SpacyFinder(importlib.abc.MetaPathFinder):
    """Finds ``spacy`` as the path finder does, once, and gives it ``_SpacyLoader``."""

    def find_spec(self, name, path=None, target=None):
        if name != "spacy":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _SpacyLoader(spec.loader)
        return spec


def _spacy_without_cli() -> None:
    if "spacy" not in sys.modules:
        sys.meta_path.insert(0, _SpacyFinder())
