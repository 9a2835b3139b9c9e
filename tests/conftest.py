"""Shared fixtures: the default configuration, the sample codebook, built stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.codebook import load_codebook
from pipeline.config import PROJECT_ROOT, load_config

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def config():
    return load_config()


@pytest.fixture(scope="session")
def codebook(config):
    return load_codebook(config.path("suggest", "codebook"))


@pytest.fixture(scope="session")
def stages(config, codebook):
    from pipeline.engine import Stages

    return Stages(config, codebook, None)


@pytest.fixture(scope="session")
def sample_corpus() -> Path:
    return PROJECT_ROOT / "corpus"
