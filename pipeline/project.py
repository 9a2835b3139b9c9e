"""The project: one folder, its ``pilah.toml`` and its store, opened once per command.

A project is a folder holding ``pilah.toml`` (the corpus folders it reads, its codebook and
its settings, over the defaults of ``configs/pilah.toml``) and ``.pilah/`` (the SQLite
store). :class:`Project` gathers what every workflow needs (the merged configuration, the
codebook, the store, the model in use, the stages, and the plain or pseudonymised view the
exporters read), so that nothing is assembled twice and no command mixes two codebooks.

``pilah init`` writes the ``pilah.toml``; every command run in the folder (or below it, or
given ``--project DIR``) reads it. The repository itself is a project whose corpus is the
bundled sample (``corpus/``), so ``pilah run`` there runs the sample.

A folder that has a store but no ``pilah.toml`` (made before projects remembered their
settings) still opens, with the bundled defaults; a warning says how to make it remember
its own (``pilah init DIR --corpus ... --codebook ...`` writes the file beside the store).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Protocol, Sequence

import pandas as pd

from pipeline.codebook import Codebook, load_codebook
from pipeline.config import DEFAULT_CONFIG, PATH_KEYS, Config, load_config, read_toml
from pipeline.errors import ConfigError, InputError
from pipeline.store import STORE_DIR, STORE_FILE, Store

log = logging.getLogger(__name__)

PROJECT_FILE = "pilah.toml"
PROJECT_SECTION = "project"  # the table of pilah.toml that is the project's own: corpus, out
DEFAULT_OUT = "out"
CODEBOOK_SETTING = "codebook:last"  # store setting: the codes of the codebook the last run used
ROLES_SETTING = "roles:researchers"  # store setting: the researcher's labels the segments' roles follow


class ProjectView(Protocol):
    """What exporters (review sheets, report, REFI-QDA, candidates) read of a project.

    Two classes implement it: :class:`PlainView` (the store as it is) and
    :class:`pipeline.privacy.PseudonymisedStore` (every text, speaker, path and metadata value
    pseudonymised). Neither exposes the database itself; ``unmasked`` hands the store
    behind the view to the readers that pseudonymise what they take from it themselves
    (the conclusion displays, the REFI-QDA case table), and to nothing else.
    """

    path: Path

    def document_id(self, raw: str) -> str: ...
    def unmasked(self) -> Store: ...
    def setting(self, key: str) -> str | None: ...
    def document_paths(self, document_ids: list[str] | None = None) -> dict[str, str]: ...
    def documents_frame(self) -> pd.DataFrame: ...
    def segments_frame(self, document_ids: list[str] | None = None, active: bool = True) -> pd.DataFrame: ...
    def segment_texts(self, segment_ids: Sequence[str]) -> dict[str, tuple[str, bool]]: ...
    def suggestion_counts(self, pending: bool = False) -> dict[str, int]: ...
    def record_counts(self) -> dict[str, int]: ...
    def suggestions_frame(self, document_ids: list[str] | None = None, pending: bool = False,
                          reviewer: str | None = None, places: bool = True) -> pd.DataFrame: ...
    def decisions_frame(self, in_force: bool = True, reviewer: str | None = None) -> pd.DataFrame: ...
    def codings_frame(self, current: bool = True) -> pd.DataFrame: ...
    def carried_segments(self) -> dict[str, str]: ...
    def memos_frame(self) -> pd.DataFrame: ...  # the workspace's memos in force


# The store's methods a view passes on as they are (ProjectView's, less document_id).
_VIEW_METHODS = frozenset({"setting", "document_paths", "documents_frame", "segments_frame", "segment_texts",
                           "suggestion_counts", "record_counts", "suggestions_frame", "decisions_frame",
                           "codings_frame", "carried_segments", "memos_frame"})


class PlainView:
    """The store as exporters read it, real text and all: :class:`ProjectView`'s methods and
    nothing else (any other attribute is an ``AttributeError``, the database included)."""

    def __init__(self, store: Store):
        self._store = store
        self.path = store.path

    def document_id(self, raw: str) -> str:
        return raw

    def unmasked(self) -> Store:
        return self._store

    def __getattr__(self, name: str):
        if name in _VIEW_METHODS:
            return getattr(self._store, name)
        raise AttributeError(f"{name!r} is not part of a project's view (ProjectView)")


class Project:
    """One project: its folder, merged configuration, codebook, store, model and stages.

    Open it with :meth:`open` (a folder, or the first ``pilah.toml`` above the current
    folder) or make one with :meth:`init`; close it with :meth:`close` or a ``with`` block.
    The store is opened on first use, once.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     (Path(folder) / "interviews").mkdir()
    ...     with Project.init(Path(folder), [Path(folder) / "interviews"], None, None) as project:
    ...         [p.name for p in project.corpus], project.out_dir.name, project.reviewer()
    (['interviews'], 'out', 'analyst')
    """

    def __init__(self, root: Path, config: Config, codebook: Codebook, corpus: list[Path], out_dir: Path,
                 names: Path | None = None, settings_file: Path | None = None):
        self.root = root
        self.config = config
        self.codebook = codebook
        self.corpus = corpus
        self.out_dir = out_dir
        self.names = names
        self.settings_file = settings_file  # the project's pilah.toml, None for a folder without one
        self._store: Store | None = None
        self._model = None
        self._stages = None
        self.model_note: str | None = None  # why the project's chosen model is set aside, if it is

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, root: Path | None = None, *, config: Path | None = None, codebook: Path | None = None,
             names: Path | None = None, new_ok: bool = False) -> "Project":
        """Open the project at ``root``, or, with ``root`` None, the first folder from the
        current one upwards that holds a ``pilah.toml`` (the current folder if none does).

        ``config`` and ``codebook`` override the project's own for one command (``--config``,
        ``--codebook``); ``names`` is the names file of pseudonymised exports (``--names``).
        A folder with neither a ``pilah.toml`` nor a store is no project: ``InputError``,
        unless ``new_ok`` (``pilah run CORPUS --project DIR`` makes one there).
        """
        root = find_root(Path.cwd()) if root is None else Path(root)
        if root.exists() and not root.is_dir():
            raise InputError(root, "the project must be a folder, found a file")
        settings_file = root / PROJECT_FILE
        own = settings_file if settings_file.is_file() else None
        if own is None and not new_ok and not (root / STORE_DIR / STORE_FILE).exists():
            raise InputError(root, "not a Pilah project: no pilah.toml and no .pilah/pilah.sqlite here; make one with "
                                   "`pilah init DIR --corpus FOLDER --codebook FILE`, or run `pilah run CORPUS --project DIR`")
        if own is None and (root / STORE_DIR / STORE_FILE).exists() and config is None:
            log.warning("%s has no pilah.toml: it uses the bundled settings and codebook (%s); `pilah init %s "
                        "--corpus FOLDER --codebook FILE` makes it remember its own", root,
                        DEFAULT_CONFIG.parent / "codebook.yaml", root)
        overlays = [p for p in (own, config) if p is not None]
        cfg = load_config(overlays or None)
        book = load_codebook(codebook or cfg.path("suggest", "codebook"))
        section = _project_section(own) if own is not None else {}
        corpus = [_resolve(root, p) for p in section.get("corpus", [])]
        out_dir = _resolve(root, section.get("out", DEFAULT_OUT))
        return cls(root, cfg, book, corpus, out_dir, names, own)

    @classmethod
    def init(cls, root: Path, corpus: list[Path], codebook: Path | None, config: Path | None) -> "Project":
        """Make ``root`` a project: write its ``pilah.toml`` and open it.

        ``corpus``: the folders of documents it reads (default ``root/corpus``, made empty);
        ``codebook``: its codebook (default a copy of the bundled sample codebook, to edit);
        ``config``: a TOML file of settings over the defaults, copied into ``pilah.toml``.
        Paths are written relative to ``root`` where they lie inside it. A folder that is
        already a project is refused; one with a store but no ``pilah.toml`` (an older
        project) gets the file and keeps its store.
        """
        root = Path(root)
        settings_file = root / PROJECT_FILE
        if settings_file.exists():
            raise InputError(settings_file, "already a Pilah project; edit its pilah.toml to change its corpus, "
                                            "codebook or settings")
        if root.exists() and not root.is_dir():
            raise InputError(root, "the project must be a folder, found a file")
        settings = read_toml(config) if config is not None else {}
        settings.pop(PROJECT_SECTION, None)
        load_config(config)  # every problem of the settings file, before anything is written
        if codebook is not None:
            load_codebook(codebook)
        corpus = [Path(p) for p in corpus] or [root / "corpus"]
        for folder in corpus:
            if folder.exists() and not folder.is_dir() and not folder.is_file():
                raise InputError(folder, "the corpus must be a folder or a file")
            if folder.resolve() == root.resolve():
                raise InputError(folder, "the corpus cannot be the project folder itself (the exports written "
                                         "there would be read as documents); give the folder of documents with --corpus")
        for folder in corpus:
            if not folder.exists():
                if folder == root / "corpus":
                    folder.mkdir(parents=True)
                else:
                    raise InputError(folder, "corpus folder not found")
        root.mkdir(parents=True, exist_ok=True)
        if codebook is None:
            codebook = root / "codebook.yaml"
            if not codebook.exists():
                shutil.copyfile(DEFAULT_CONFIG.parent / "codebook.yaml", codebook)
        for (section, key) in PATH_KEYS:  # the config file's own paths, relative to its folder
            if key in settings.get(section, {}):
                settings[section][key] = _relative(root, (Path(config).parent / settings[section][key]).resolve())
        settings.setdefault("suggest", {})["codebook"] = _relative(root, Path(codebook).resolve())
        text = ("# A Pilah project (written by `pilah init`). Every command run in this folder reads it:\n"
                "# [project] names the corpus folders and where exports go (relative to this file); the\n"
                "# other tables override configs/pilah.toml of Pilah, as `--config` does.\n"
                + _toml({PROJECT_SECTION: {"corpus": [_relative(root, p.resolve()) for p in corpus],
                                           "out": DEFAULT_OUT}, **settings}))
        settings_file.write_text(text, encoding="utf-8")
        return cls.open(root)

    # -- what commands use ---------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The project's store, opened on first use."""
        if self._store is None:
            self._store = Store(self.root)
            self._sync_roles()
        return self._store

    def researchers(self) -> list[str]:
        """The speaker labels of the researcher's own turns: ``[suggest] skip_speakers``."""
        return list(self.config.section("suggest").get("skip_speakers", []))

    def _sync_roles(self) -> None:
        """Segments stored before roles were (schema 4), or under another list of the
        researcher's labels, get their role now; new segments get it at segmentation."""
        wanted = json.dumps(sorted({r.casefold() for r in self.researchers()}), ensure_ascii=False)
        if self._store.setting(ROLES_SETTING) != wanted:
            changed = self._store.assign_roles(self.researchers())
            self._store.set_setting(ROLES_SETTING, wanted)
            if changed:
                log.info("%s: %d segment(s) got their role for [suggest] skip_speakers", self._store.path, changed)

    def store_exists(self) -> bool:
        """Whether the project has a store yet (a first ``pilah run`` makes it)."""
        return self._store is not None or (self.root / STORE_DIR / STORE_FILE).exists()

    def reviewer(self) -> str:
        """Whose decisions a command records when it is not told (``pilah run`` and ``pilah review
        import`` for a sheet's empty reviewer cells, ``pilah serve`` without ``--reviewer``, code
        work): ``[review] reviewer``, else "analyst" (``pipeline.decisions.DEFAULT_REVIEWER``)."""
        from pipeline.decisions import DEFAULT_REVIEWER

        return self.config.section("review").get("reviewer") or DEFAULT_REVIEWER

    def lang(self) -> str:
        """The language of the report's labels: ``[report] lang``, "id" or "en"."""
        return self.config.section("report")["lang"]

    def model(self, codebook: Codebook | None = None):
        """The model the project suggests with: ``(scorer, meta, model_dir)``.

        The version chosen with ``pilah models use`` (or made by ``pilah retrain``), else the
        configured one; ``(None, None, dir)`` when there is none, or when it was trained with
        another codebook than the project's (or ``codebook``, e.g. one an import merged
        codes into): the codebook's rules suggest alone.
        """
        if codebook is not None and codebook.hash != self.codebook.hash:
            return self._load_model(codebook)
        if self._model is None:
            self._model = self._load_model(self.codebook)
        return self._model

    def _load_model(self, codebook: Codebook):
        from pipeline.suggest import load_model

        chosen = self.store.setting("model") if self.store_exists() else None
        model_dir = Path(chosen) if chosen else self.config.path("suggest", "model")
        self.model_note = None
        if not (model_dir / "meta.json").exists():
            return None, None, model_dir
        model, meta = load_model(model_dir)
        trained = meta["codebook"]
        # a model records the codes it depends on (Codebook.model_key); an older one the whole codebook
        if (trained.get("model_key") or trained["sha256"]) != (codebook.model_key if trained.get("model_key")
                                                               else codebook.hash):
            if chosen:  # a version this project retrained: the researcher is told, once, by the command
                self.model_note = model_set_aside(meta, codebook)
                log.info("%s", self.model_note)
            else:  # the configured model (the bundled sample's) belongs to another codebook: nothing to tell
                log.debug("model %s was trained with another codebook; using codebook rules only", model_dir)
            return None, None, model_dir
        return model, meta, model_dir

    def forget_model(self) -> None:
        """Drop the model read by :meth:`model` (another version was chosen since)."""
        self._model, self._stages = None, None

    def stages(self, codebook: Codebook | None = None, model=None):
        """The condense stages with the project's settings, codebook and model, built once.

        With another ``codebook`` (a table's own codes, codes just renamed or merged) or a
        ``model`` of its own (a model directory's, ``pilah suggest``): stages for them with
        the project's settings, built anew (without ``model``, the codebook's rules alone)."""
        from pipeline.engine import Stages

        # vectors are looked up in (and added to) the project's cache, where it has a store
        if model is not None or (codebook is not None and codebook.hash != self.codebook.hash):
            return Stages(self.config, codebook or self.codebook, model).use_store(self._cache())
        if self._stages is None:
            self._stages = Stages(self.config, self.codebook, self.model()[0]).use_store(self._cache())
        return self._stages

    def _cache(self) -> Store | None:
        return self.store if self.store_exists() else None

    def pseudonymize(self, flag: bool | None = None) -> bool:
        """Whether exports are pseudonymised: ``flag`` (``--pseudonymize/--no-pseudonymize``), else ``[privacy] pseudonymize``."""
        return bool(self.config.section("privacy")["pseudonymize"]) if flag is None else flag

    def view(self, pseudonymize: bool | None = None) -> ProjectView:
        """What the exports read: the plain store, or its pseudonymised view."""
        if not self.pseudonymize(pseudonymize):
            return PlainView(self.store)
        from pipeline.privacy import pseudonymised

        return pseudonymised(self.store, self.config, self.codebook, self.names)

    def codebook_changes(self) -> dict[str, list]:
        """What changed in the codebook since the last run recorded its codes
        (:meth:`remember_codebook`): ``added`` and ``removed`` code ids, and ``renamed``
        ``(old, new)`` pairs (an id gone and a new one with the same label or definition).
        Empty lists when nothing changed or nothing was recorded."""
        saved = self.store.setting(CODEBOOK_SETTING)
        return codebook_changes(json.loads(saved) if saved else None, _codebook_summary(self.codebook))

    def remember_codebook(self) -> None:
        """Record the codes of the codebook in use, for :meth:`codebook_changes` next time."""
        self.store.set_setting(CODEBOOK_SETTING, json.dumps(_codebook_summary(self.codebook), ensure_ascii=False))

    def use_codebook(self, path: Path) -> None:
        """Make ``path`` the project's codebook from now on: its ``pilah.toml`` names it (the
        file is written when the folder has none). Used when an import merged codes into a
        new codebook file."""
        settings_file = self.root / PROJECT_FILE
        line = f"codebook = {_toml_value(_relative(self.root, Path(path).resolve()))}"
        text = settings_file.read_text(encoding="utf-8") if settings_file.exists() else ""
        lines = text.splitlines()
        section, done = None, False
        for i, current in enumerate(lines):
            stripped = current.strip()
            if stripped.startswith("["):
                section = stripped.strip("[] ")
            elif section == "suggest" and stripped.split("=")[0].strip() == "codebook":
                lines[i], done = line, True
        if not done:
            index = next((i for i, current in enumerate(lines) if current.strip() == "[suggest]"), None)
            if index is None:
                lines += ["", "[suggest]", line]
            else:
                lines.insert(index + 1, line)
        settings_file.write_text("\n".join(lines).lstrip("\n") + "\n", encoding="utf-8")
        self.settings_file = settings_file
        self.codebook = load_codebook(path)
        self._model, self._stages = None, None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc is not None and self._store is not None:
            self._store.fail_open_runs(exc)  # a run ended by an error is closed as failed
        self.close()


def find_root(start: Path) -> Path:
    """The first folder from ``start`` upwards holding a ``pilah.toml``; ``start`` if none does."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return start


def model_set_aside(meta: dict, codebook: Codebook) -> str:
    """What a researcher is told when a model trained with other codes than the codebook's
    now is set aside: which codes changed, and to run ``pilah retrain``."""
    trained = list(meta.get("labels") or [])
    now = [code.id for code in codebook.codable()]
    added, removed = [c for c in now if c not in trained], [c for c in trained if c not in now]
    changed = "; ".join(part for part in (("added " + ", ".join(added)) if added else "",
                                          ("removed " + ", ".join(removed)) if removed else "") if part)
    return (f"the model {meta.get('version', '')} was trained with other codes than the codebook's now "
            f"({changed or 'their order or the directions changed'}): the codebook suggests alone until "
            "you run `pilah retrain`")


def codebook_changes(before: dict | None, after: dict) -> dict[str, list]:
    """Compare two codebook summaries (code id → label and definition).

    Examples
    --------
    >>> old = {"a": "Training|t", "b": "Funding|f", "c": "Trust|x"}
    >>> new = {"a": "Training|t", "money": "Funding|f", "d": "Markets|m"}
    >>> codebook_changes(old, new)
    {'added': ['d'], 'removed': ['c'], 'renamed': [('b', 'money')]}
    """
    if not before:
        return {"added": [], "removed": [], "renamed": []}
    gone = [c for c in before if c not in after]
    new = [c for c in after if c not in before]
    renamed = []
    for old in list(gone):
        match = next((c for c in new if _same_code(before[old], after[c])), None)
        if match is not None:
            renamed.append((old, match))
            gone.remove(old)
            new.remove(match)
    return {"added": new, "removed": gone, "renamed": renamed}


def _same_code(a: str, b: str) -> bool:
    label_a, _, definition_a = a.partition("|")
    label_b, _, definition_b = b.partition("|")
    return label_a == label_b or (bool(definition_a) and definition_a == definition_b)


def _codebook_summary(codebook: Codebook) -> dict[str, str]:
    return {c.id: f"{c.label.get('en') or c.label.get('id', '')}|{c.definition}" for c in codebook.codes.values()}


def _project_section(path: Path) -> dict:
    section = read_toml(path).get(PROJECT_SECTION, {})
    problems = []
    if not isinstance(section, dict):
        raise ConfigError(path, [f"[{PROJECT_SECTION}] must be a table (corpus, out)"])
    for key, value in section.items():
        if key == "corpus" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            problems.append(f"[{PROJECT_SECTION}] corpus = {value!r}: expected a list of folders, e.g. [\"interviews\"]")
        elif key == "out" and not isinstance(value, str):
            problems.append(f"[{PROJECT_SECTION}] out = {value!r}: expected a folder")
        elif key not in ("corpus", "out"):
            problems.append(f"[{PROJECT_SECTION}] unknown key {key!r}; expected one of: corpus, out")
    if problems:
        raise ConfigError(path, problems)
    return section


def _resolve(root: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else root / path


def _relative(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` when it lies below it, else absolute."""
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _toml(tables: dict[str, dict]) -> str:
    """TOML text of tables of strings, numbers, booleans and lists of them."""
    lines = []
    for name, entries in tables.items():
        lines.append(f"\n[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in entries.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
