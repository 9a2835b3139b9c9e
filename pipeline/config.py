"""Run configuration: ``configs/pilah.toml`` holds every default; a user file overrides it."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import re
import tomllib
from dataclasses import dataclass
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "pilah.toml"
# Keys whose values are paths, resolved against the folder of the file that set them.
PATH_KEYS = {
    ("nlp", "colloquial_lexicon"),
    ("nlp", "fillers"),
    ("nlp", "stanza_model"),
    ("suggest", "codebook"),
    ("suggest", "model"),
    ("privacy", "names"),
}
# Settings that take one of a few values, checked when the configuration is loaded (the
# stages hold the same lists: pipeline.language.DETECTORS, pipeline.nlp.BACKENDS,
# pipeline.embed.ENCODERS, pipeline.report.labels.REPORT_LANGUAGES, pipeline.display.SOURCES).
CHOICES = {
    ("language", "detector"): ("lingua", "lingua-low", "py3langid", "markers"),
    ("nlp", "backend"): ("fast", "stanza"),
    ("suggest", "encoder"): ("e5", "none", "stand-in"),
    ("report", "lang"): ("id", "en"),
    ("report", "source"): ("accepted", "suggested", "all"),
    ("conclude", "source"): ("accepted", "all"),
}
# The Python package each detector needs (the extras are optional installs).
DETECTOR_PACKAGES = {"lingua": "lingua", "lingua-low": "lingua", "py3langid": "py3langid"}
POSITIVE = {("ingest", "max_file_mb"), ("ingest", "max_unpacked_mb"), ("ingest", "max_text_mb"), ("nlp", "batch_size")}


@dataclass(frozen=True)
class Config:
    """Merged configuration. ``values`` is plain data; path keys are absolute."""

    values: dict
    sources: tuple[str, ...]
    hash: str

    def section(self, name: str) -> dict:
        """Return one stage's section (a copy, safe to change)."""
        return copy.deepcopy(self.values.get(name, {}))

    def path(self, section: str, key: str) -> Path:
        """Return a path setting as an absolute ``Path``."""
        return Path(self.values[section][key])


def load_config(path: str | Path | Sequence[str | Path] | None = None) -> Config:
    """Load the defaults and, if given, a user TOML file (or several, each over the one
    before: a project's ``pilah.toml``, then ``--config``) over them.

    Unknown sections or keys and values of the wrong type are all reported at once. A
    ``[project]`` table is the project's own (``pipeline.project``) and is not a setting.

    Examples
    --------
    >>> cfg = load_config()
    >>> cfg.section("nlp")["backend"]
    'fast'
    """
    defaults = read_toml(DEFAULT_CONFIG)
    values = _resolve_paths(defaults, DEFAULT_CONFIG.parent)
    sources = [str(DEFAULT_CONFIG)]
    hashed = copy.deepcopy(defaults)
    paths = [] if path is None else [path] if isinstance(path, (str, Path)) else list(path)
    for path in map(Path, paths):
        user = read_toml(path)
        user.pop("project", None)
        problems = _check_against(defaults, user)
        if problems:
            raise ConfigError(path, problems)
        for section, entries in user.items():
            values[section].update(_resolve_paths({section: entries}, path.parent)[section])
            hashed[section].update(entries)
        sources.append(str(path))
    problems = check_values(values)
    if problems:
        raise ConfigError(sources[-1], problems)
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()
    return Config(values=values, sources=tuple(sources), hash=digest)


def read_toml(path: Path) -> dict:
    """A TOML file's tables; ``ConfigError`` naming the file when it is missing, not TOML or not UTF-8."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8 text (byte {exc.start}); save it as UTF-8"]) from None


def _check_against(defaults: dict, user: dict) -> list[str]:
    problems = []
    for section, entries in user.items():
        if section not in defaults:
            known = ", ".join(sorted(defaults))
            problems.append(f"unknown section [{section}]; expected one of: {known}")
            continue
        if not isinstance(entries, dict):
            problems.append(f"[{section}] must be a table of settings")
            continue
        for key, value in entries.items():
            if key not in defaults[section]:
                known = ", ".join(sorted(defaults[section]))
                problems.append(f"[{section}] unknown key {key!r}; expected one of: {known}")
                continue
            expected = type(defaults[section][key])
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
                problems.append(
                    f"[{section}] {key} = {value!r}: expected {expected.__name__}, "
                    f"found {type(value).__name__}"
                )
    return problems


def check_values(values: dict) -> list[str]:
    """Problems with the merged values: unknown choices, bad numbers, a turn pattern that
    does not compile, a detector whose package is missing, a Stanza backend without models.

    Run when the configuration is loaded, so that a bad value stops the run before any
    document is read, with every problem named at once.
    """
    problems = []
    for (section, key), allowed in CHOICES.items():
        value = values.get(section, {}).get(key)
        if value not in allowed:
            problems.append(f"[{section}] {key} = {value!r}: expected one of {', '.join(allowed)}")
    for section, key in sorted(POSITIVE):
        value = values.get(section, {}).get(key)
        if isinstance(value, (int, float)) and value <= 0:
            problems.append(f"[{section}] {key} = {value!r}: must be greater than 0")
    detector = values.get("language", {}).get("detector")
    package = DETECTOR_PACKAGES.get(detector)
    if package and importlib.util.find_spec(package) is None:
        problems.append(
            f"[language] detector = {detector!r} needs the Python package {package!r}, which is "
            "not installed; install it, or choose another detector (\"markers\" needs none)"
        )
    nlp = values.get("nlp", {})
    if nlp.get("backend") == "stanza" and not Path(nlp.get("stanza_model", "")).is_dir():
        problems.append(
            f"[nlp] backend = \"stanza\" but stanza_model {nlp.get('stanza_model')!r} is not a "
            "folder; train the models with `pilah train stanza` or use backend = \"fast\""
        )
    problems += check_turn_pattern(values.get("ingest", {}).get("turn_pattern", ""))
    return problems


def check_turn_pattern(pattern: str) -> list[str]:
    """Problems with a project's own turn pattern (empty: the built-in one is used).

    Examples
    --------
    >>> check_turn_pattern(r"^(?P<speaker>[A-Z]+) - ")
    []
    >>> check_turn_pattern(r"^(\\w+):")
    ['[ingest] turn_pattern has no (?P<speaker>...) group; name the group that holds the speaker']
    """
    if not pattern:
        return []
    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        return [f"[ingest] turn_pattern is not a valid regular expression: {exc}"]
    problems = []
    if "speaker" not in compiled.groupindex:
        problems.append("[ingest] turn_pattern has no (?P<speaker>...) group; name the group that holds the speaker")
    unknown = set(compiled.groupindex) - {"speaker", "timestamp", "end_time", "time_after"}
    if unknown:
        problems.append(
            f"[ingest] turn_pattern has unknown group(s) {', '.join(sorted(unknown))}; "
            "use speaker, timestamp, end_time"
        )
    return problems


def _resolve_paths(values: dict, base: Path) -> dict:
    resolved = copy.deepcopy(values)
    for section, key in PATH_KEYS:
        if key in resolved.get(section, {}):
            resolved[section][key] = str((base / resolved[section][key]).resolve())
    return resolved
