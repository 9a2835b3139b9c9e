"""The examples in the docstrings of every module of the package still hold.

Every module whose source holds an example (``>>>``) is collected, so a new module's
examples are tested without being listed here."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import pipeline

PACKAGE = Path(pipeline.__file__).parent
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py") if ">>>" in path.read_text(encoding="utf-8")
)


def test_doctests_are_found_across_the_package():
    assert {"pipeline.project", "pipeline.metrics", "pipeline.segment", "pipeline.caches"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests_of(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
