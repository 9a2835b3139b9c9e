"""Run configuration: ``configs/pilah.toml`` holds every default; a user file overrides it."""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass
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
}


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


def load_config(path: str | Path | None = None) -> Config:
    """Load the defaults and, if given, a user TOML file over them.

    Unknown sections or keys and values of the wrong type are all reported at once.

    Examples
    --------
    >>> cfg = load_config()
    >>> cfg.section("nlp")["backend"]
    'fast'
    """
    defaults = _read_toml(DEFAULT_CONFIG)
    values = _resolve_paths(defaults, DEFAULT_CONFIG.parent)
    sources = [str(DEFAULT_CONFIG)]
    hashed = copy.deepcopy(defaults)
    if path is not None:
        path = Path(path)
        user = _read_toml(path)
        problems = _check_against(defaults, user)
        if problems:
            raise ConfigError(path, problems)
        for section, entries in user.items():
            values[section].update(_resolve_paths({section: entries}, path.parent)[section])
            hashed[section].update(entries)
        sources.append(str(path))
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()
    return Config(values=values, sources=tuple(sources), hash=digest)


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None


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


def _resolve_paths(values: dict, base: Path) -> dict:
    resolved = copy.deepcopy(values)
    for section, key in PATH_KEYS:
        if key in resolved.get(section, {}):
            resolved[section][key] = str((base / resolved[section][key]).resolve())
    return resolved
