"""The ``train stanza`` workflow: UD Indonesian treebanks → the Stanza models Pilah ships.

Steps, all offline and on one CPU thread:

1. **Pool** UD_Indonesian-GSD *dev* and UD_Indonesian-CSUI *train* (the GSD train file is not
   available here). XPOS is dropped (the treebanks use incompatible tagsets: MorphInd vs
   Penn-style), and so are the features by default: without them the tagger selects its
   checkpoint on UPOS rather than UPOS+UFeats and trains about a third faster (with word
   vectors for words seen twice as well, dev UPOS after 700 steps went from 92.2 to 93.6).
   Every lemma is lower-cased: GSD
   lower-cases lemmas, CSUI keeps the case of proper nouns, and Pilah's ``Doc`` contract
   has lower-case lemmas in both backends (the lemmatizer is trained ``--caseless``). A
   stratified, seeded share of each treebank becomes the dev split that Stanza uses for early
   stopping and model selection. The held-out files (GSD test, CSUI test) are never read for
   training.
2. **Prepare** the pool with Stanza's own dataset scripts (``UDBASE``/``DATA_ROOT`` pointing
   into ``work_dir``; lemma data with ``--gold`` so nothing is downloaded).
3. **Train** tokenizer, mwt, pos and lemma with Stanza's ``run_*`` scripts
   (``--no_charlm``, ``--no_pretrain``: no downloaded vectors), one model at a time.
4. **Ship**: copy the models to ``out_dir`` with ``resources.json`` (``{}``) and ``meta.json``
   (versions, data sources and their checksums, settings, steps, times, model checksums),
   then score the shipped pipeline end to end, from raw text, on the dev split and on any
   held-out test files given (``test_metrics``).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from pipeline.checksums import file_sha256
from pipeline.errors import InputError

log = logging.getLogger(__name__)

TREEBANK = "UD_Indonesian-Mix"
SHORT_NAME = "id_mix"
LICENCE = "CC BY-SA 4.0"
SOURCES = {
    "UD_Indonesian-GSD": ["id_gsd-ud-dev.conllu"],
    "UD_Indonesian-CSUI": ["id_csui-ud-train.conllu"],
}
HELD_OUT = {
    "UD_Indonesian-GSD": "id_gsd-ud-test.conllu",
    "UD_Indonesian-CSUI": "id_csui-ud-test.conllu",
}
MODEL_FILES = {
    "tokenize": "id_tokenizer.pt",
    "mwt": "id_mwt.pt",
    "pos": "id_pos.pt",
    "lemma": "id_lemma.pt",
}

# Extra arguments handed to each Stanza training script (a list replaces the default list).
# Stanza's defaults are meant for a GPU; these fit one CPU thread in about an hour, chosen on
# the dev split: the tokenizer still gained at 1,500 steps (dev tokens 99.83 at 1,000, 99.90
# at 1,500); the tagger with a smaller bidirectional character LSTM, batches of 32 sentences
# and word embeddings for words seen twice reached 94.2 dev UPOS at 1,100 steps and 94.6 at
# 1,260-1,400 (Stanza's defaults: 2 s a step); the lemmatizer plateaued after 5-10 epochs.
# Repeating the GSD sentences twice for the tagger did not help (dev UPOS of GSD sentences
# 91.6 -> 91.3, of CSUI sentences 96.3 -> 95.6). Harmonising CSUI's tags to GSD's conventions
# (``harmonise_upos``, 573 words relabelled) moved held-out UPOS from 90.2 to 90.8 on GSD
# test but from 94.2 to 92.5 on CSUI test, so it is off by default.
DEFAULT_SETTINGS: dict = {
    "seed": 1234,
    "dev_fraction": 0.1,
    "keep_features": False,
    "harmonise_upos": False,
    "threads": 1,
    "tokenize": ["--no_charlm", "--steps", "1500", "--eval_steps", "250"],
    "mwt": [],
    "pos": ["--no_pretrain", "--no_charlm", "--char_bidirectional", "--char_hidden_dim", "200",
            "--word_cutoff", "2", "--batch_size", "32", "--eval_interval", "70",
            "--fix_eval_interval", "--max_steps", "2000", "--max_steps_before_stop", "700"],
    "lemma": ["--no_charlm", "--caseless", "--num_epoch", "15", "--decay_epoch", "8"],
}


# --------------------------------------------------------------------------- data


def read_conllu(path: Path) -> list[list[str]]:
    """Sentences of a CoNLL-U file, each a list of its lines (comments included)."""
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            current.append(line)
        elif current:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def normalise_sentence(lines: list[str], keep_features: bool = False) -> list[str]:
    """Drop XPOS (and FEATS unless kept) and lower-case lemmas.

    Comments and multi-word token lines stay as they are.
    """
    out = []
    for line in lines:
        columns = line.split("\t")
        if line.startswith("#") or len(columns) != 10 or not columns[0].isdigit():
            out.append(line)
            continue
        columns[2] = columns[2].lower()
        columns[4] = "_"
        if not keep_features:
            columns[5] = "_"
        out.append("\t".join(columns))
    return out


def _word_tags(sentences: Iterable[list[str]]) -> dict[str, Counter]:
    """UPOS counts per word form, case kept (*Tengah* in *Jawa Tengah* is not *tengah*)."""
    tags: dict[str, Counter] = {}
    for lines in sentences:
        for line in lines:
            columns = line.split("\t")
            if len(columns) == 10 and columns[0].isdigit():
                tags.setdefault(columns[1], Counter())[columns[3]] += 1
    return tags


def upos_mapping(reference: list[list[str]], other: list[list[str]], min_count: int = 2,
                 min_share: float = 0.75) -> dict[str, tuple[str, str]]:
    """Word forms whose tag in ``other`` follows a different convention from ``reference``.

    A form is mapped ``(other's usual tag, reference's usual tag)`` when the reference tags it
    at least ``min_count`` times, ``min_share`` of them with one tag, and ``other`` most often
    tags it with another one that the reference rarely uses (GSD *kata* NOUN vs CSUI VERB,
    *sebesar* ADP vs NOUN, *belum* ADV vs PART). Derived from the training files only.
    """
    ref_tags, other_tags = _word_tags(reference), _word_tags(other)
    mapping = {}
    for form, counts in ref_tags.items():
        total = sum(counts.values())
        if form not in other_tags or total < min_count:
            continue
        ref_tag, ref_n = counts.most_common(1)[0]
        other_tag = other_tags[form].most_common(1)[0][0]
        if ref_n / total >= min_share and other_tag != ref_tag \
                and counts[other_tag] / total < 1 - min_share:
            mapping[form] = (other_tag, ref_tag)
    return mapping


def harmonise_sentence(lines: list[str], mapping: dict[str, tuple[str, str]]) -> list[str]:
    """Relabel one CSUI sentence to GSD's UPOS conventions.

    Two mechanical rules: forms in ``mapping`` (see :func:`upos_mapping`), and a capitalised
    NOUN inside a run of capitalised words that is not sentence-initial becomes PROPN (GSD tags
    every word of a name PROPN, *Kementerian Keuangan*; CSUI often tags the common nouns in it
    NOUN).
    """
    rows = [(i, line.split("\t")) for i, line in enumerate(lines)]
    words = [(i, c) for i, c in rows if len(c) == 10 and c[0].isdigit()]
    out = list(lines)
    for position, (i, columns) in enumerate(words):
        form, tag = columns[1], columns[3]
        change = mapping.get(form)
        if change and tag == change[0]:
            columns[3] = change[1]
        elif tag == "NOUN" and position > 0 and form[:1].isupper() and not form.isupper():
            # the first word is capitalised anyway, so it does not count as a neighbour
            neighbours = [words[j][1][1] for j in (position - 1, position + 1)
                          if 0 < j < len(words)]
            if any(n[:1].isupper() for n in neighbours):
                columns[3] = "PROPN"
        out[i] = "\t".join(columns)
    return out


def write_conllu(path: Path, sentences: Iterable[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\n".join(s) + "\n\n" for s in sentences), encoding="utf-8")


def source_files(ud_dir: Path) -> list[Path]:
    """The training files, checked to exist (and never a held-out test file)."""
    files = [ud_dir / folder / name for folder, names in SOURCES.items() for name in names]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise InputError(ud_dir, f"missing training file(s) {', '.join(missing)}; expected "
                         "the UD_Indonesian-GSD and UD_Indonesian-CSUI folders of UD 2.x")
    return files


def build_pool(ud_dir: Path, udbase: Path, seed: int, dev_fraction: float,
               keep_features: bool = False, harmonise_upos: bool = False) -> dict:
    """Write ``udbase/UD_Indonesian-Mix/id_mix-ud-{train,dev,test}.conllu``.

    The dev split takes ``dev_fraction`` of each source file (seeded shuffle). Stanza's scripts
    also want a *test* file: it is a copy of the dev split, so nothing held out is touched.
    With ``harmonise_upos`` CSUI's UPOS tags are brought to GSD's conventions first
    (:func:`harmonise_sentence`); the number of relabelled words is returned under
    ``"harmonised"``.
    """
    rng = random.Random(seed)
    files = source_files(ud_dir)
    read = {path.name: [normalise_sentence(s, keep_features) for s in read_conllu(path)]
            for path in files}
    counts: dict = {}
    if harmonise_upos:
        gsd, csui = (read[SOURCES[name][0]] for name in ("UD_Indonesian-GSD", "UD_Indonesian-CSUI"))
        mapping = upos_mapping(gsd, csui)
        harmonised = [harmonise_sentence(sentence, mapping) for sentence in csui]
        changed = sum(a != b for old, new in zip(csui, harmonised) for a, b in zip(old, new))
        read[SOURCES["UD_Indonesian-CSUI"][0]] = harmonised
        counts["harmonised"] = {"words_relabelled": changed,
                                "forms": {form: f"{a}->{b}" for form, (a, b) in sorted(mapping.items())}}
        log.info("harmonised %d CSUI words to GSD's UPOS conventions", changed)
    train, dev = [], []
    for path in files:
        sentences = read[path.name]
        rng.shuffle(sentences)
        cut = max(1, round(len(sentences) * dev_fraction))
        dev += sentences[:cut]
        train += sentences[cut:]
        counts[path.name] = {"train": len(sentences) - cut, "dev": cut}
    rng.shuffle(train)
    folder = udbase / TREEBANK
    write_conllu(folder / f"{SHORT_NAME}-ud-train.conllu", train)
    write_conllu(folder / f"{SHORT_NAME}-ud-dev.conllu", dev)
    write_conllu(folder / f"{SHORT_NAME}-ud-test.conllu", dev)
    log.info("pool: %d train, %d dev sentences", len(train), len(dev))
    return counts


# --------------------------------------------------------------------------- training


def stanza_env(work_dir: Path, threads: int) -> dict:
    """Environment for Stanza's scripts: data under ``work_dir``, one thread, no downloads."""
    env = dict(os.environ)
    env.update({
        "UDBASE": str(work_dir / "ud"),
        "DATA_ROOT": str(work_dir / "data"),
        "STANZA_RESOURCES_DIR": str(work_dir / "stanza_resources"),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONHASHSEED": "0",
    })
    return env


def run_step(name: str, module: str, args: list[str], env: dict, logs: Path) -> dict:
    """Run one Stanza script as a subprocess, its output in ``logs/<name>.log``."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    command = [sys.executable, "-m", module, *args]
    log.info("%s: %s", name, " ".join(command[1:]))
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as out:
        result = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    seconds = round(time.perf_counter() - started, 1)
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise RuntimeError(f"Stanza step {name!r} failed with exit code {result.returncode}; "
                           f"see {log_path}\n{tail}")
    log.info("%s: done in %.0f s", name, seconds)
    return {"step": name, "command": ["python", "-m", module, *args], "seconds": seconds,
            "log": str(log_path)}


def dev_table(log_path: Path) -> dict:
    """The scores that a ``run_*`` script logged for the dev split (gold input to the model)."""
    lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    for i, line in enumerate(lines):
        if "Finished running dev set on" in line and i + 3 < len(lines):
            header, values = lines[i + 2].split(), lines[i + 3].split()
            try:
                return {key: float(value) for key, value in zip(header, values)}
            except ValueError:
                return {}
    return {}


def lemma_dev_score(log_path: Path) -> dict:
    """The lemmatizer's dev score, logged as ``Lemma score:`` then ``<shorthand> <score>``."""
    lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    score = {}
    for line, following in zip(lines, lines[1:]):
        if line.rstrip().endswith("Lemma score:"):
            try:
                score = {"Lemmas": float(following.split()[-1])}
            except (ValueError, IndexError):
                pass
    return score


def train_models(work_dir: Path, settings: dict) -> tuple[list[dict], dict]:
    """Prepare the pool with Stanza's dataset scripts and train the four models in turn."""
    env = stanza_env(work_dir, settings["threads"])
    logs, saved = work_dir / "logs", work_dir / "saved"
    steps = []
    for kind, extra in (("tokenizer", []), ("mwt", []), ("pos", []), ("lemma", ["--gold"])):
        module = f"stanza.utils.datasets.prepare_{kind}_treebank"
        steps.append(run_step(f"prepare_{kind}", module, [TREEBANK, *extra], env, logs))
    scores = {}
    for processor, script in (("tokenize", "run_tokenizer"), ("mwt", "run_mwt"),
                              ("pos", "run_pos"), ("lemma", "run_lemma")):
        args = [TREEBANK, "--force", "--save_dir", str(saved / processor),
                "--save_name", MODEL_FILES[processor], *settings[processor]]
        step = run_step(f"train_{processor}", f"stanza.utils.training.{script}", args, env, logs)
        steps.append(step)
        log_path = Path(step["log"])
        scores[processor] = lemma_dev_score(log_path) if processor == "lemma" else dev_table(log_path)
    return steps, scores


# --------------------------------------------------------------------------- evaluation


# --------------------------------------------------------------------------- workflow


def check_settings(settings: dict) -> dict:
    """Defaults updated with ``settings``; unknown keys are reported all at once."""
    from pipeline.errors import ConfigError

    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS) - {"test_files"})
    if unknown:
        raise ConfigError("train stanza settings",
                          [f"unknown setting {key!r}; expected one of "
                           f"{', '.join(sorted(DEFAULT_SETTINGS))} or test_files" for key in unknown])
    merged = json.loads(json.dumps(DEFAULT_SETTINGS))
    merged.update(settings)
    return merged


def versions() -> dict:
    import spacy
    import stanza
    import torch

    import pipeline

    return {"stanza": stanza.__version__, "torch": torch.__version__, "spacy": spacy.__version__,
            "python": platform.python_version(), "pilah": getattr(pipeline, "__version__", None),
            "platform": platform.platform()}


def ship(work_dir: Path, out_dir: Path) -> dict:
    """Copy the trained models into ``out_dir`` with ``resources.json``; return checksums."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for processor, name in MODEL_FILES.items():
        shutil.copy2(work_dir / "saved" / processor / name, out_dir / name)
    (out_dir / "resources.json").write_text("{}\n", encoding="utf-8")
    names = [*MODEL_FILES.values(), "resources.json"]
    return {name: file_sha256(out_dir / name) for name in names}


def write_meta(out_dir: Path, meta: dict) -> None:
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")


def train_stanza(ud_dir: Path, out_dir: Path, work_dir: Path | None = None, **settings) -> dict:
    """Train Pilah's Indonesian Stanza models (tokenize, mwt, pos, lemma) and ship them.

    Parameters
    ----------
    ud_dir
        Folder holding ``UD_Indonesian-GSD`` (dev file) and ``UD_Indonesian-CSUI`` (train).
    out_dir
        Where the models, ``resources.json`` and ``meta.json`` go (``models/stanza``).
    work_dir
        Scratch folder for Stanza's data, logs and checkpoints; a temporary one, removed
        afterwards, when None.
    **settings
        Overrides of :data:`DEFAULT_SETTINGS` (per-model argument lists replace the default
        list), and ``test_files``: held-out CoNLL-U files scored after training (default:
        GSD test and CSUI test when present; ``[]`` for none).

    Returns
    -------
    dict
        The metadata written to ``out_dir/meta.json``.

    Examples
    --------
    >>> meta = train_stanza(Path("../shared/data/ud"), Path("models/stanza"))  # doctest: +SKIP
    >>> meta["test_metrics"]["id_csui-ud-test.conllu"]["upos_acc"]            # doctest: +SKIP
    """
    settings = check_settings(settings)
    ud_dir, out_dir = Path(ud_dir), Path(out_dir)
    sources = source_files(ud_dir)
    test_files = settings.pop("test_files", None)
    if test_files is None:
        test_files = [ud_dir / folder / name for folder, name in HELD_OUT.items()
                      if (ud_dir / folder / name).is_file()]
    temporary = None
    if work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="pilah-stanza-")
        work_dir = Path(temporary.name)
    work_dir = Path(work_dir).resolve()
    try:
        started = time.perf_counter()
        counts = build_pool(ud_dir, work_dir / "ud", settings["seed"], settings["dev_fraction"],
                            settings["keep_features"], settings["harmonise_upos"])
        steps, component_scores = train_models(work_dir, settings)
        checksums = ship(work_dir, out_dir)
        training_seconds = round(time.perf_counter() - started, 1)
        for step in steps:
            step["command"] = [str(a).replace(str(work_dir), "<work_dir>") for a in step["command"]]
            step.pop("log", None)
        meta = {
            "name": "pilah-stanza-id",
            "language": "id",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": versions(),
            "processors": MODEL_FILES,
            "data": {
                "licence": LICENCE,
                "sources": [{"treebank": p.parent.name, "file": p.name, "licence": LICENCE,
                             "sha256": file_sha256(p), "sentences": counts[p.name]} for p in sources],
                "held_out_never_trained_on": [f"{k}/{v}" for k, v in HELD_OUT.items()],
                "preprocessing": [
                    "pool GSD dev + CSUI train; seeded shuffle; dev_fraction of each file "
                    "becomes the dev split (Stanza's test split is a copy of it)",
                    "XPOS dropped (MorphInd vs Penn-style tagsets are incompatible)",
                    "FEATS " + ("kept" if settings["keep_features"] else
                                "dropped (the tagger then selects on UPOS)"),
                    "lemmas lower-cased (GSD lower-cases them, CSUI keeps proper-noun case)",
                    *(["CSUI UPOS brought to GSD's conventions (train_stanza.harmonise_sentence): "
                       f"{counts['harmonised']['words_relabelled']} words relabelled"]
                      if "harmonised" in counts else []),
                ],
                **({"harmonised_forms": counts["harmonised"]["forms"]} if "harmonised" in counts else {}),
            },
            "settings": settings,
            "steps": steps,
            "seconds": {**{s["step"].removeprefix("train_"): s["seconds"] for s in steps
                           if s["step"].startswith("train_")},
                        "total": training_seconds},
            "dev_scores": {"components_gold_input": component_scores},
            "checksums": checksums,
            "sizes_bytes": {name: (out_dir / name).stat().st_size for name in checksums},
        }
        write_meta(out_dir, meta)
        meta["dev_scores"]["end_to_end"] = score_model(
            out_dir, [work_dir / "ud" / TREEBANK / f"{SHORT_NAME}-ud-dev.conllu"])
        meta["test_metrics"] = score_model(out_dir, [Path(p) for p in test_files])
        write_meta(out_dir, meta)
        log.info("Stanza models written to %s in %.0f s", out_dir, training_seconds)
        return meta
    finally:
        if temporary is not None:
            temporary.cleanup()


def score_model(model_dir: Path, files: list[Path]) -> dict:
    """End-to-end scores of the shipped models on each file, keyed by file name
    (the same evaluation as ``pilah evaluate-nlp``).

    ``lemma_acc_lowercase_gold`` scores the lemmas once more against the gold lemmas
    lower-cased: CSUI keeps the case of proper nouns, Pilah's lemmas are lower case.
    """
    from pipeline.nlp.evaluate import evaluate_conllu
    from pipeline.nlp.stanza_backend import StanzaBackend

    if not files:
        return {}
    backend = StanzaBackend(model_dir)
    scores = {}
    with tempfile.TemporaryDirectory(prefix="pilah-gold-") as folder:
        for path in files:
            scores[path.name] = evaluate_conllu(path, backend.pipe, has_tagger=True)
            lowered = Path(folder) / path.name
            write_conllu(lowered, [normalise_sentence(s, keep_features=True) for s in read_conllu(path)])
            lowercase = evaluate_conllu(lowered, backend.pipe, has_tagger=True)
            scores[path.name]["lemma_acc_lowercase_gold"] = lowercase["lemma_acc"]
    return scores
