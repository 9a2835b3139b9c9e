"""How Pilah's modules import each other (docs/architecture.md), and that importing Pilah
changes nothing in other packages.

The layers, bottom up: records and errors; config, codebook, store and the other shared
modules; the stages and the formats they read and write; ``pipeline.project``; the
workflows, each a function taking a ``Project``; the front ends (``pipeline.cli``, the
workspace ``pipeline.serve``). A module imports only from its own layer or below, and no
workflow imports another workflow, so every workflow stands on the same layer. Imports are
read from the source (module level and inside functions alike).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pipeline

PACKAGE = Path(pipeline.__file__).parent
# The workflows: what a command (or the workspace) calls with a Project.
WORKFLOWS = {"pipeline.run", "pipeline.retrain", "pipeline.reviewing", "pipeline.agreement", "pipeline.discover",
             "pipeline.exchange", "pipeline.tables", "pipeline.conclude"}
# Packages whose __init__ is the workflow and whose modules are its building blocks.
PACKAGE_WORKFLOWS = {"pipeline.conclude"}
FRONT_ENDS = {"pipeline.cli", "pipeline.serve"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _owner(name: str, groups: set[str]) -> str | None:
    """The group (a module or package of ``groups``) that ``name`` belongs to: a package of
    ``PACKAGE_WORKFLOWS`` is its ``__init__`` alone (and what it defines)."""
    for group in groups:
        if name == group or (name.startswith(group + ".") and (
                group not in PACKAGE_WORKFLOWS or name.count(".") == group.count(".") + 1
                and not (PACKAGE / Path(*name.split(".")[1:])).with_suffix(".py").exists())):
            return group
    return None


def _imports() -> dict[str, set[str]]:
    """Every pipeline module and the pipeline modules it imports (anywhere in its source)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("pipeline")}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pipeline import run`
        graph[name] = found
    return graph


def test_imports_no_workflow_imports_another():
    crossing = sorted(
        (module, imported)
        for module, imports in _imports().items() if (mine := _owner(module, WORKFLOWS))
        for imported in imports if (theirs := _owner(imported, WORKFLOWS)) and theirs != mine
    )
    assert crossing == [], "a workflow imports another workflow: " + "; ".join(f"{a} → {b}" for a, b in crossing)


def test_imports_point_down_from_the_front_ends_to_the_workflows_to_the_project():
    upward = []
    for module, imports in _imports().items():
        if _owner(module, FRONT_ENDS):
            continue
        above = FRONT_ENDS if _owner(module, WORKFLOWS) else FRONT_ENDS | WORKFLOWS
        upward += [(module, imported) for imported in imports if _owner(imported, above)]
        if module != "pipeline.project" and not _owner(module, WORKFLOWS):
            upward += [(module, i) for i in imports if i == "pipeline.project" or i.startswith("pipeline.project.")]
    assert upward == [], "imports pointing up a layer: " + "; ".join(f"{a} → {b}" for a, b in sorted(upward))


def test_importing_pilah_leaves_thinc_torch_detection_and_the_import_system_alone():
    """`import pipeline` (and its command line, and the run workflow, which loads spaCy)
    leaves thinc seeing torch as it does without Pilah, adds no import finder and hides no
    module: start-up tricks belong to the `pilah` console script alone."""
    probe = ("import sys\n"
             "{imports}"
             "import thinc.compat\n"
             "assert [f for f in sys.meta_path if type(f).__module__.startswith('pipeline')] == [], sys.meta_path\n"
             "assert [k for k, v in sys.modules.items() if v is None and k.split('.')[0] in ('torch', 'spacy')] == []\n"
             "print(thinc.compat.has_torch)\n")
    seen = []
    for imports in ("", "import pipeline, pipeline.cli, pipeline.project, pipeline.run\n"):
        result = subprocess.run([sys.executable, "-c", probe.format(imports=imports)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        seen.append(result.stdout.strip())
    assert seen[0] == seen[1] == "True"  # torch is installed (Stanza needs it): thinc finds it either way
