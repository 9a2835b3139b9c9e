"""Shared fixtures: the default configuration, the sample codebook, built stages, the sample
corpus processed once per session (copied by each test that needs a processed project), and
the location of the public data sets.

Two groups of tests: the default run needs nothing beyond a clone (small cuts of the
public sets live in ``tests/fixtures/shared``); tests marked ``shared_data`` need the full
sets in ``../shared/data`` (or the folder named by ``PILAH_SHARED_DATA``) and run with
``python -m pytest -m shared_data``. Without the data that group says so and is skipped,
unless ``PILAH_REQUIRE_SHARED_DATA=1`` (set by ``.ci/run``) makes the absence an error.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.codebook import load_codebook
from pipeline.config import PROJECT_ROOT, load_config

SHARED_DATA = Path(os.environ.get("PILAH_SHARED_DATA") or PROJECT_ROOT.parent / "shared" / "data")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_CUTS = FIXTURES / "shared"  # the first rows of the shared sets (see its README)
_MISSING = (
    f"needs the full public data sets, not found at {SHARED_DATA}: put them in ../shared/data "
    "beside the project or name their folder with PILAH_SHARED_DATA"
)


def pytest_configure(config) -> None:
    # The sentence encoder (multilingual-e5-small) costs about a minute per 1,000 segments
    # here: tests use the fast stand-in (pipeline.embed.StandInEncoder) unless they are about
    # the encoder (tests/test_embed.py takes PILAH_ENCODER away for those). Set in the
    # environment, so worker processes, Dask workers and `python -m pipeline.cli` children
    # use it too. `PILAH_ENCODER=e5 python -m pytest` runs the suite with the real encoder.
    os.environ.setdefault("PILAH_ENCODER", "stand-in")


def pytest_report_header(config) -> str:
    state = "found" if SHARED_DATA.is_dir() else "absent"
    return f"shared data ({state}): {SHARED_DATA}; the tests needing it run with -m shared_data"


def pytest_collection_modifyitems(config, items) -> None:
    needing = [item for item in items if item.get_closest_marker("shared_data")]
    if not needing or SHARED_DATA.is_dir():
        return
    if os.environ.get("PILAH_REQUIRE_SHARED_DATA") == "1":
        raise pytest.UsageError(f"{len(needing)} selected test(s) {_MISSING}")
    for item in needing:
        item.add_marker(pytest.mark.skip(reason=_MISSING))


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


@pytest.fixture(scope="session")
def processed_sample(tmp_path_factory, sample_corpus) -> tuple[Path, str]:
    """The sample corpus processed once for the whole session, as a user does it: `pilah
    init` (the sample's codebook, the default settings; the encoder is the stand-in, see
    ``pytest_configure``) and `pilah run`. Returns the project folder and what the run
    printed. Tests copy it (``sample_project``, or ``shutil.copytree`` in a module's own
    fixture) instead of processing the corpus again; none changes this one."""
    from cli_helpers import invoke  # tests/cli_helpers.py

    root = tmp_path_factory.mktemp("sample") / "project"
    invoke("init", root, "--corpus", sample_corpus, "--codebook", PROJECT_ROOT / "configs" / "codebook.yaml")
    result = invoke("run", "--project", root)
    return root, result.output


@pytest.fixture()
def sample_project(processed_sample, tmp_path) -> Path:
    """A copy of the processed sample project of this session, this test's own."""
    copy = tmp_path / "project"
    shutil.copytree(processed_sample[0], copy)
    return copy
