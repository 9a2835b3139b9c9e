"""Pilah: bilingual (Indonesian + English) code suggestions for qualitative research.

Importing the package keeps thinc (spaCy's machine-learning layer) from importing torch
for its optional PyTorch bridge, which no spaCy pipeline of Pilah's uses: that import alone
cost 1.6 s of every command's start-up. torch stays importable as usual — the Stanza backend
imports it when it is asked for. Nothing changes when torch or thinc is already loaded.
"""

import sys


def _spacy_without_torch_bridge() -> None:
    if "torch" in sys.modules or "thinc" in sys.modules:
        return
    sys.modules["torch"] = None  # thinc.compat reads this as "torch is not installed"
    try:
        import thinc.compat  # noqa: F401
    finally:
        del sys.modules["torch"]


_spacy_without_torch_bridge()

__version__ = "0.1.0"
