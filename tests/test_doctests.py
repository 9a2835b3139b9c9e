"""The examples in the docstrings of ingest, segment, config and labels still hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "pipeline.ingest",
    "pipeline.ingest.text",
    "pipeline.ingest.tables",
    "pipeline.ingest.html",
    "pipeline.ingest.subtitles",
    "pipeline.ingest.transcript",
    "pipeline.segment",
    "pipeline.config",
    "pipeline.labels",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests_of(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
