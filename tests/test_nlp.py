import subprocess
import sys

from pipeline.nlp import pipeline_for, tokenize_segments
from pipeline.records import Segment


def test_nlp_normalises_colloquial_forms_without_changing_text(config):
    nlp = pipeline_for("id", config.section("nlp"))
    doc = nlp("Eh, anggarannya gak cukup, udah dipotong aja.")
    forms = {t.text: (t.norm_, t._.is_filler) for t in doc}
    assert forms["gak"] == ("tidak", False)
    assert forms["udah"] == ("sudah", False)
    assert forms["aja"] == ("saja", False)
    assert forms["anggaran"][0] == "anggaran" and forms["nya"][0] == "nya"
    assert forms["Eh"][1] is True
    assert doc.text == "Eh, anggarannya gak cukup, udah dipotong aja."


def test_nlp_lemmas_for_both_languages(config):
    nlp_id = pipeline_for("id", config.section("nlp"))
    assert {t.text: t.lemma_ for t in nlp_id("pelatihan dan trainings")} == {
        "pelatihan": "latih",
        "dan": "dan",
        "trainings": "training",
    }
    nlp_en = pipeline_for("en", config.section("nlp"))
    assert [t.lemma_ for t in nlp_en("budgets were delayed")] == ["budget", "be", "delay"]


def test_nlp_tokens_keep_offsets_and_order(config):
    segments = [
        Segment(id=str(i), document_id="d", index=i, start=0, end=len(t), text=t, language=lang)
        for i, (t, lang) in enumerate([("The fair helped.", "en"), ("Pamerannya membantu.", "id")])
    ]
    pairs = list(tokenize_segments(segments, config.section("nlp")))
    assert [s.id for s, _ in pairs] == ["0", "1"]
    for segment, doc in pairs:
        assert all(segment.text[t.idx : t.idx + len(t)] == t.text for t in doc)
    assert pairs[0][1].lang_ == "en" and pairs[1][1].lang_ == "id"


def test_nlp_colloquial_lexicon_is_attributed_and_indonesian_only(config):
    from pipeline.nlp import read_word_list

    path = config.section("nlp")["colloquial_lexicon"]
    header = open(path, encoding="utf-8").read(600)
    assert "IndoCollex" in header and "MIT" in header
    pairs = dict(line.split("\t", 1) for line in read_word_list(path))
    assert len(pairs) > 2000
    expected = {"gak": "tidak", "nggak": "tidak", "enggak": "tidak", "ga": "tidak", "udah": "sudah", "dah": "sudah",
                "aja": "saja", "gimana": "bagaimana", "bikin": "membuat"}
    assert {k: pairs[k] for k in expected} == expected
    assert not {"branding", "at", "by", "customers", "changes"} & set(pairs)  # translations, not colloquial forms


def test_nlp_colloquial_lexicon_leaves_english_segments_alone(config):
    doc = pipeline_for("en", config.section("nlp"))("They ask me at the office, ga?")
    assert [t.norm_ for t in doc][:5] == ["they", "ask", "me", "at", "the"]
    assert doc[-2].norm_ == "ga"


def test_importing_spacy_after_pilahs_start_up_leaves_its_command_line_out_until_asked_for():
    program = (
        "import importlib, sys\n"
        "from pipeline.cli.startup import trim_spacy_imports\n"
        "trim_spacy_imports()  # what the pilah console script does first\n"
        "import spacy\n"
        "assert [t.text for t in spacy.blank('id')('Halo, dunia.')] == ['Halo', ',', 'dunia', '.']\n"
        "assert 'spacy.cli' not in sys.modules and 'spacy.cli.info' not in sys.modules\n"
        "assert spacy.info(markdown=False, silent=True)['spacy_version'] == spacy.__version__\n"
        "import spacy.cli\n"
        "module = importlib.import_module('spacy.cli.info')\n"
        "assert module.__file__.endswith('info.py') and callable(module.info_model)\n"
        "assert spacy.cli.info is module.info\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
