"""A small project built by hand for the workspace tests (``tests/test_serve*.py``):
documents, segments and suggestions written through ``Store.save_document``, as a run would;
and the ``project`` and ``ws`` fixtures over it (a test module imports them by name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.project import Project
from pipeline.records import Document, Segment, Suggestion
from pipeline.segment import segment_ids
from pipeline.serve.workspace import Workspace
from pipeline.store import Store

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
TURNS = {
    "interviews/ani.txt": ("Jawa Tengah", [
        ("Pewawancara", "Bagaimana pelatihan untuk UMKM di sini?"),
        ("Bu Ani", "Pelatihan digital dari dinas 😀 sangat membantu kami menjual secara online."),
        ("Pewawancara", "Apa hambatannya?"),
        ("Bu Ani", f"Anggaran terbatas dan regulasi yang rumit {HOSTILE} membuat kami lambat."),
        ("Bu Ani", "Pameran dagang di Hainan membuka pasar baru."),
    ]),
    "interviews/budi.txt": ("Hainan", [
        ("Interviewer", "How did the exchange programme work?"),
        ("Mr Budi", "The study visit to Haikou gave us contacts and training in export rules."),
        ("Mr Budi", "Language barriers and slow permits were the main constraints."),
    ]),
}
# (document, turn index, code, direction, score, evidence, confidence)
SUGGESTIONS = [
    ("interviews/ani.txt", 1, "training", "supporting", 0.91, "Pelatihan; membantu", ""),
    ("interviews/ani.txt", 1, "digitalisation", "supporting", 0.74, "digital; online", ""),
    ("interviews/ani.txt", 3, "funding", "constraining", 0.88, "Anggaran terbatas", ""),
    ("interviews/ani.txt", 3, "regulation", "constraining", 0.66, "regulasi", "low"),
    ("interviews/ani.txt", 4, "promotion", "supporting", 0.81, "Pameran dagang", ""),
    ("interviews/budi.txt", 1, "exchange", "supporting", 0.85, "study visit", ""),
    ("interviews/budi.txt", 2, "language_culture", "constraining", 0.79, "Language barriers", ""),
]


def documents(hostile: bool = True) -> list[tuple[Document, list[Segment]]]:
    out = []
    for path, (case, turns) in TURNS.items():
        text, spans = "", []
        for speaker, said in turns:
            said = said if hostile else said.replace(f" {HOSTILE}", "")
            line = f"{speaker}: "
            start = len(text) + len(line)
            text += line + said + "\n"
            spans.append((start, start + len(said), speaker))
        document = Document(path, path, "txt", "transcript", text, {"case": case})
        ids = segment_ids([path] * len(spans), [text[a:b] for a, b, _ in spans])
        segments = [Segment(sid, path, n, a, b, text[a:b], speaker, None, "en" if "budi" in path else "id", 0.9)
                    for n, (sid, (a, b, speaker)) in enumerate(zip(ids, spans))]
        out.append((document, segments))
    return out


def make_project(root: Path, lang: str = "en", reviewer: str = "ani", hostile: bool = True) -> Path:
    """A project folder with its pilah.toml and a store holding the documents above and
    their suggestions (``hostile``: with markup in one turn); returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus").mkdir(exist_ok=True)
    codebook = Path(__file__).resolve().parents[1] / "configs" / "codebook.yaml"
    (root / "pilah.toml").write_text(
        f'[project]\ncorpus = ["corpus"]\nout = "out"\n\n[suggest]\ncodebook = "{codebook.as_posix()}"\n'
        f'encoder = "none"\n\n[review]\nreviewer = "{reviewer}"\n\n[report]\nlang = "{lang}"\n', encoding="utf-8")
    with Store(root) as store:
        run = store.start_run("corpus")
        for document, segments in documents(hostile):
            suggestions = [Suggestion(segments[k].id, code, direction, "", score, "rule", evidence, confidence)
                           for path, k, code, direction, score, evidence, confidence in SUGGESTIONS
                           if path == document.id]
            store.save_document(document, segments, [len(s.text.split()) for s in segments], suggestions,
                                "key", run, None)
        store.finish_run(run, {})
    return root


@pytest.fixture
def project(tmp_path):
    """The project of :func:`make_project`, opened."""
    make_project(tmp_path / "p")
    with Project.open(tmp_path / "p") as opened:
        yield opened


@pytest.fixture
def ws(project):
    """A workspace over ``project``, as ``pilah serve`` makes it."""
    return Workspace(project.store, project.codebook, project.config, project.root, project.reviewer(), project.lang())
