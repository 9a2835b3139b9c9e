"""The project the conclusion tests share: the sample corpus run once, its gold coding
imported as accepted codings (reviewer "gold"), and a case table of its four cases.

Hand counts in the tests read corpus/gold.csv, corpus/manifest.csv, the codebook YAML and
``CASES`` with the csv and yaml modules, never through ``pipeline.conclude``.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import yaml

from pipeline.config import PROJECT_ROOT

CORPUS = PROJECT_ROOT / "corpus"
GOLD = CORPUS / "gold.csv"
MANIFEST = CORPUS / "manifest.csv"
# The four cases with their attributes, and each interview's informant role.
CASE_ROWS = {
    "Pemprov Nusa Kencana": {"sektor": "pemerintahan", "kabupaten": "Kota Kencana"},
    "Kabupaten Lembah Hijau": {"sektor": "food", "kabupaten": "Lembah Hijau"},
    "Kota Pesisir Kencana": {"sektor": "fashion", "kabupaten": "Pesisir Kencana"},
    "Prefektur Minamiura": {"sektor": "pemerintahan", "kabupaten": "Minamiura"},
}
ROLES = {
    "interviews/01_kabid_umkm_dinas.txt": "government official",
    "interviews/02_pengusaha_kopi_lembah_hijau.txt": "entrepreneur",
    "interviews/03_minamiura_international_affairs.txt": "foreign partner",
    "interviews/04_pendamping_umkm_nadia.txt": "facilitator",
    "interviews/05_pengrajin_batik_sari.vtt": "entrepreneur",
    "interviews/06_perencana_bappeda_rudi.txt": "government official",
}
SETTINGS = '[suggest]\nencoder = "stand-in"\n'


def write_cases(path: Path) -> Path:
    lines = ["case,document,speaker,sektor,kabupaten,role"]
    lines += [f"{case},,,{row['sektor']},{row['kabupaten']}," for case, row in CASE_ROWS.items()]
    lines += [f",{document},,,,{role}" for document, role in ROLES.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_project(folder: Path) -> Path:
    """Run the sample corpus into a new project at ``folder``, import the gold coding,
    write its case table."""
    from pipeline.conclude.gold import import_gold
    from pipeline.project import Project
    from pipeline.run import run

    settings = folder.parent / f"{folder.name}-settings.toml"
    settings.write_text(SETTINGS, encoding="utf-8")
    with Project.init(folder, [CORPUS], None, settings) as project:
        run(project, workers=1)
        report = import_gold(project.store, GOLD)
        assert report["problems"] == [], report["problems"]
    write_cases(folder / "cases.csv")
    return folder


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# -- hand counts, read straight from the files -------------------------------------------
def factor_types() -> dict[str, str]:
    """code → factor type, from the codebook YAML."""
    raw = yaml.safe_load((PROJECT_ROOT / "configs" / "codebook.yaml").read_text(encoding="utf-8"))
    found = {}

    def walk(items):
        for item in items or []:
            if item.get("factor_type"):
                found[item["id"]] = item["factor_type"]
            walk(item.get("children"))

    walk(raw["codes"])
    return found


def gold_factor_rows() -> list[dict]:
    """One row per gold quote × code with a factor direction: document, quote, code,
    direction, factor type, case, sektor, source type (the document's folder), role."""
    types = factor_types()
    with open(MANIFEST, encoding="utf-8") as handle:
        manifest = {row["file"]: row for row in csv.DictReader(handle)}
    rows = []
    with open(GOLD, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for part in row["codes"].split(";"):
                code, _, direction = part.strip().partition("=")
                if direction not in ("supporting", "constraining") or code not in types:
                    continue
                document = row["document"]
                case = manifest[document]["case"]
                rows.append({"document": document, "quote": " ".join(row["quote"].split()), "code": code,
                             "direction": direction, "factor_type": types[code], "case": case,
                             "sektor": CASE_ROWS[case]["sektor"],
                             "source_type": "interview" if document.startswith("interviews/") else "document",
                             "role": ROLES.get(document) or manifest[document]["role"]})
    return rows


def hand_count(rows: list[dict]) -> dict:
    """Segments (distinct quotes), informants (each sample document has one: its interviewee
    or its author), cases, and per source type / role / case the distinct quotes."""
    by = defaultdict(lambda: defaultdict(set))
    for row in rows:
        for key in ("source_type", "role", "case"):
            by[key][row[key]].add((row["document"], row["quote"]))
    return {"segments": len({(r["document"], r["quote"]) for r in rows}),
            "informants": len({r["document"] for r in rows}), "cases": len({r["case"] for r in rows}),
            **{key: {value: len(quotes) for value, quotes in found.items()} for key, found in by.items()}}
