"""Pilah's errors. Library code raises these; the CLI turns them into exit codes."""

from __future__ import annotations

from pathlib import Path


class PilahError(Exception):
    """Base class of every error Pilah raises on purpose."""


class InputError(PilahError):
    """A file could not be read as what it claims to be.

    The message always names the file and the problem, so that a batch can record it
    and go on with the next file.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(PilahError):
    """A configuration or codebook file is invalid; lists every problem found at once."""

    def __init__(self, source: str | Path, problems: list[str]):
        self.source = str(source)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.source}: {len(self.problems)} problem(s)\n{lines}")


class ModelError(PilahError):
    """A model directory is missing, incomplete, or does not match the codebook."""


class OutputError(PilahError):
    """A file could not be written (a full disk, no permission); names the file and the
    problem. What was there before is kept (``pipeline.outputs`` writes all or nothing)."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
