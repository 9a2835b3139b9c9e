"""The ``discover`` stage: candidate new codes from the segments no code covers.

Segments that neither the codebook rules nor the model coded (or whose every suggestion an
analyst rejected) are grouped by what they say. Each group large enough becomes a
*candidate code* for the analyst to check: a short label from its most distinctive words,
its size, and the three segments nearest its centre. Nothing is added to the codebook; the
analyst decides.

With a sentence encoder (``[suggest] encoder``, ``pipeline.embed``) the segments are grouped
by their vectors, Indonesian and English together: the encoder places a sentence near its
translation, so a candidate may hold both languages (its ``language`` is then ``id+en``)
and its exemplars then show both. Without one, they are grouped by the words they share,
per language group (Indonesian, English). How a candidate is made:

1. Words: the lemmas of content words, as the suggestion model sees them
   (``pipeline.suggest.features.featurize``), minus stop words of both languages, fillers,
   back-channel words and forms of address (*iya, nggih, monggo, mas, silakan*), clitics and
   numbers. A segment with fewer than ``min_terms`` such words is left out, and so is one
   sharing no word with another. Back-channel words never label a candidate; by meaning, a
   segment needs ``min_terms`` words besides them, so that greetings and back-channel turns
   (*"Monggo, silakan Mas"*) never make one.
2. Vectors: the segments' sentence vectors (cached in the project store, never embedded
   twice), centred on their mean and scaled to unit length; without an encoder, TF-IDF
   over the lemmas found in at least two segments of the group (sublinear counts), reduced
   by truncated SVD (LSA) and scaled to unit length.
3. Clusters: k-means for every k from 2 to ``min(max_candidates, n // min_size)``; the k
   with the highest mean silhouette (cosine) wins. Clusters under ``min_size`` are dropped.
4. Labels: class-based TF-IDF (a word's share of the cluster's words times
   ``log(1 + mean words per cluster / the word's count in the group)``), words found in at
   least two of the cluster's segments first; each lemma is shown as the word the cluster's
   segments most often use for it (*pelatihan*, not the lemma *latih*).
5. Exemplars: the three segments nearest the cluster centre (cosine); in a candidate of
   both languages, at least one of each.
6. Cohesion: mean cosine similarity of the cluster's segments to its centre (0–1).

Everything runs with one BLAS thread and fixed seeds, so one seed gives one output.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize
from spacy.tokens import Doc
from threadpoolctl import threadpool_limits

from pipeline.errors import InputError
from pipeline.segment import segment_ids
from pipeline.project import Project
from pipeline.records import RESEARCHER
from pipeline.review import export_candidates
from pipeline.store import Store
from pipeline.suggest.features import STOP_WORDS, featurize_many
from pipeline.vocabulary import EN_ONLY_FUNCTION_WORDS, ID_ONLY_FUNCTION_WORDS

if TYPE_CHECKING:
    from pipeline.engine import Stages

log = logging.getLogger(__name__)

# The candidates table, in column order (candidates.csv, candidates.xlsx).
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "candidate",
    "language",
    "label",
    "size",
    "share",
    "cohesion",
    "exemplar_1",
    "exemplar_2",
    "exemplar_3",
    "top_terms",
    "exemplar_sources",
    "segment_ids",
)
LANGUAGE_GROUPS: tuple[str, ...] = ("id", "en")
BOTH = "id+en"  # the language of a candidate with segments of both groups (encoder clusters only)
_ORDER = (*LANGUAGE_GROUPS, BOTH)
EXEMPLARS = 3
# Indonesian clitics split off by the tokenizer (*programnya* → *program* + *nya*).
_CLITICS = frozenset({"nya", "ku", "mu", "kah", "lah", "pun", "tah"})
# Back-channel words, greetings and forms of address of spoken Indonesian (Javanese-tinged)
# and English interviews: never a candidate's label, and not content words.
_TALK = frozenset({"iya", "ya", "yah", "nggih", "inggih", "enggih", "monggo", "mangga", "mas", "mbak", "silakan",
                   "silahkan", "oh", "ohh", "hmm", "hm", "eh", "ehm", "nah", "wah", "lho", "kok", "sih", "dong", "deh",
                   "toh", "matur", "nuwun", "sugeng", "yeah", "yep", "uh", "um",
                   "ma", "sila"})  # the lemmas the tokenizer gives "mas" and "silakan" / "monggo"
_STOP = frozenset(STOP_WORDS) | _CLITICS
_SILHOUETTE_SAMPLE = 3000
_OWN_CENTRE = 10  # rows a language group needs for its vectors to be centred on its own mean


def discover(
    segments: pd.DataFrame,
    stages: Stages,
    seed: int = 0,
    max_candidates: int = 10,
    min_size: int = 5,
    min_terms: int = 3,
) -> pd.DataFrame:
    """Propose candidate new codes from uncoded segments.

    Parameters
    ----------
    segments : DataFrame
        One row per uncoded segment: ``text``; optional ``lang`` (``id``, ``en``, ``mixed``,
        ``und``; detected when absent or empty), ``segment_id`` and ``document``.
    stages : Stages
        Built from the project configuration (language ID and tokenizer).
    seed : int
        Seed of the SVD and k-means; the same seed and input give the same table.
    max_candidates : int
        At most this many candidates in all (the largest are kept).
    min_size : int
        Smallest cluster reported (at least 3, the number of exemplars).
    min_terms : int
        Segments with fewer content words than this are left out.

    Returns
    -------
    DataFrame
        ``CANDIDATE_COLUMNS``, one row per candidate, largest first within a language.
        ``frame.attrs["counts"]`` holds ``uncovered`` (segments given), ``too_short``,
        ``clustered`` (in a reported candidate), ``unclustered`` (in dropped clusters or cut by
        ``max_candidates``) and ``per_language``; ``frame.attrs["seconds"]`` the time taken.

    Notes
    -----
    ``mixed`` and ``und`` segments join the group of their *matrix language*: the language
    that supplies more of their function words (stop words only one of the two languages
    has). In Indonesian-English code-switching the grammar is nearly always Indonesian and
    the English words are content jargon (*"Secara policy framework, RPJMD kita sudah
    mengakomodasi"*), so such a segment clusters with Indonesian segments and its English
    terms may appear in an Indonesian label; a tie goes to Indonesian.

    Examples
    --------
    >>> table = pd.DataFrame({"text": texts})          # doctest: +SKIP
    >>> discover(table, stages, seed=0)[["label", "size"]]  # doctest: +SKIP
    """
    if min_size < EXEMPLARS:
        raise ValueError(f"min_size must be at least {EXEMPLARS} (the number of exemplars), got {min_size}")
    if max_candidates < 1:
        raise ValueError(f"max_candidates must be at least 1, got {max_candidates}")
    started = time.perf_counter()
    table = segments.reset_index(drop=True)
    units = _content_units(table, stages)
    vectors = _segment_vectors(table, units, stages, min_terms)
    counts = {"uncovered": len(table), "too_short": 0, "clustered": 0, "unclustered": 0}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, unit in enumerate(units):
        if (unit["said"] if vectors is not None else len(unit["terms"])) < min_terms:
            counts["too_short"] += 1
        else:
            groups[unit["group"]].append(i)
    rows = []
    with threadpool_limits(limits=1):
        if vectors is not None:  # by meaning, both languages together
            members = sorted(i for language in LANGUAGE_GROUPS for i in groups.get(language, []))
            rows += _candidates_of_group("", members, units, table, seed, max_candidates, min_size, vectors)
        else:
            for language in LANGUAGE_GROUPS:
                members = groups.get(language, [])
                rows += _candidates_of_group(language, members, units, table, seed, max_candidates, min_size)
    rows.sort(key=lambda r: (-r["size"], -r["cohesion"], _ORDER.index(r["language"]), r["_first"]))
    kept = sorted(rows[:max_candidates], key=lambda r: (_ORDER.index(r["language"]), -r["size"], r["_first"]))
    numbers: Counter = Counter()
    for row in kept:
        numbers[row["language"]] += 1
        row["candidate"] = f"new-{row['language']}-{numbers[row['language']]:02d}"
        row["share"] = round(row["size"] / max(len(table), 1), 3)
    frame = pd.DataFrame(kept).reindex(columns=list(CANDIDATE_COLUMNS))
    counts["clustered"] = int(frame["size"].sum()) if len(frame) else 0
    counts["unclustered"] = len(table) - counts["too_short"] - counts["clustered"]
    counts["per_language"] = {language: len(groups.get(language, [])) for language in LANGUAGE_GROUPS}
    frame.attrs["counts"] = counts
    frame.attrs["seconds"] = round(time.perf_counter() - started, 3)
    return frame


def uncovered_segments(store: Store) -> pd.DataFrame:
    """The stored segments no code covers, in reading order (``Store.uncovered_segments``),
    without the researcher's own turns (``Segment.role``). Columns: ``segment_id``,
    ``document``, ``speaker``, ``lang``, ``text``."""
    frame = store.uncovered_segments()
    return frame[frame["segment_role"] != RESEARCHER].drop(columns="segment_role").reset_index(drop=True)


def discover_candidates(project: Project, out: Path, table: pd.DataFrame | None = None, source: Path | None = None,
                        seed: int = 0, max_candidates: int = 10, min_size: int = 5,
                        pseudonymize: bool | None = None) -> tuple[pd.DataFrame, list[Path]]:
    """The ``pilah discover`` workflow: candidate codes from the project's uncoded segments
    (or from ``table``'s uncoded rows, read from ``source``), written to ``out``
    (candidates.csv/.xlsx, and a sheet of suggestions.xlsx there). Returns the candidates
    and the files written. Raises ``InputError`` when nothing is uncoded."""
    if table is not None:
        segments, source = uncovered_rows(table, source), source
    else:
        segments, source = uncovered_segments(project.store), project.store.path
    if segments.empty:
        raise InputError(source, "no uncoded segments: every segment has a code or a suggestion, so there is "
                                 "nothing to discover")
    candidates = discover(segments, project.stages(), seed=seed, max_candidates=max_candidates, min_size=min_size)
    if table is None and project.pseudonymize(pseudonymize):
        from pipeline.privacy import pseudonymize_candidates

        candidates = pseudonymize_candidates(candidates, project.store, project.config, project.codebook,
                                             project.names)
    return candidates, export_candidates(candidates, out)


def uncovered_rows(table: pd.DataFrame, source: str | Path) -> pd.DataFrame:
    """The rows of a table with no code: both ``codes`` and ``suggested_codes`` empty.

    A table with neither column counts every row as uncoded. Raises ``InputError`` naming
    ``source`` when there is no ``text`` column.
    """
    if "text" not in table.columns:
        raise InputError(source, f"no 'text' column; found {', '.join(map(str, table.columns)) or 'no columns'}")
    empty = pd.Series(True, index=table.index)
    for column in ("codes", "suggested_codes"):
        if column in table.columns:
            empty &= table[column].fillna("").astype(str).str.strip() == ""
    rows = table[empty & (table["text"].fillna("").astype(str).str.strip() != "")].copy()
    rows["row"] = [i + 2 for i in rows.index]  # the spreadsheet's row number, shown in exemplars
    if "segment_id" not in rows.columns:
        documents = rows["document"].astype(str).tolist() if "document" in rows.columns else [str(source)] * len(rows)
        rows["segment_id"] = segment_ids(documents, rows["text"].astype(str).tolist())
    return rows.reset_index(drop=True)


# -- words ----------------------------------------------------------------------------
def _content_units(table: pd.DataFrame, stages: Stages) -> list[dict]:
    """Per row: its content lemmas, lemma → written forms, and its language group."""
    segments = stages.table_segments(table, Counter())
    items = stages.tokenize(segments, Counter())
    units = []
    for (segment, doc), features in zip(items, featurize_many(items, stages.suggester.rules)):
        lemmas = features.text.lower().split()
        forms = _written_forms(doc)
        terms = [t for t in lemmas if _is_content(t)]
        said = sum(term not in _TALK for term in terms)  # content words beyond back-channel and address
        units.append({"terms": terms, "said": said, "forms": forms, "group": _group(segment.language, doc)})
    return units


def _segment_vectors(table: pd.DataFrame, units: list[dict], stages: Stages, min_terms: int) -> np.ndarray | None:
    """The sentence vectors of the rows long enough to cluster (zeros elsewhere), through the
    stages' vector cache; ``None`` without an encoder."""
    if stages.encoder is None:
        return None
    wanted = [i for i, unit in enumerate(units) if unit["said"] >= min_terms]
    vectors = np.zeros((len(table), stages.encoder.dim), dtype=np.float32)
    if wanted:
        vectors[wanted] = stages.vectors([str(table.at[i, "text"]) for i in wanted])
    return vectors


def _centred(vectors: np.ndarray, groups: list[str]) -> np.ndarray:
    """Sentence vectors minus the mean of their language group's, at unit length. An
    encoder's vectors share a common direction (e5's cosines mostly lie between 0.7 and
    0.9), and each language adds its own: left in, the first split of a bilingual set is by
    language, whatever the segments say."""
    centred = np.array(vectors, dtype=np.float64)
    means = {group: centred[[i for i, g in enumerate(groups) if g == group]].mean(axis=0) for group in set(groups)}
    sizes, overall = Counter(groups), centred.mean(axis=0)
    for i, group in enumerate(groups):  # a group of a few rows is centred on all rows' mean
        centred[i] -= means[group] if sizes[group] >= _OWN_CENTRE else overall
    return normalize(centred)


def _is_content(term: str) -> bool:
    return len(term) > 1 and term not in _STOP and any(c.isalpha() for c in term)


def _written_forms(doc: Doc) -> dict[str, Counter]:
    """lemma → counts of the (lower-cased) words it came from."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for token in doc:
        if not (token.is_punct or token.is_space or token.like_num or token._.is_filler):
            forms[token.lemma_.lower()][token.lower_] += 1
    return forms


def _group(language: str, doc: Doc) -> str:
    """``id`` or ``en``; ``mixed`` and ``und`` go to the language of their function words."""
    if language in LANGUAGE_GROUPS:
        return language
    words = [t.lower_ for t in doc]
    english = sum(w in EN_ONLY_FUNCTION_WORDS for w in words)
    indonesian = sum(w in ID_ONLY_FUNCTION_WORDS for w in words)
    return "en" if english > indonesian else "id"


# -- clusters -------------------------------------------------------------------------
def _candidates_of_group(language, members, units, table, seed, max_candidates, min_size, sentence_vectors=None):
    """The candidates of one group of rows (``members``): clustered by their ``sentence_vectors``
    when given (``language`` then follows each cluster's rows), else by LSA vectors."""
    if len(members) < min_size:
        return []
    docs = [units[i]["terms"] for i in members]
    counter = CountVectorizer(analyzer=_identity, min_df=2)
    try:
        counts = counter.fit_transform(docs)
    except ValueError:  # no word shared by two segments
        return []
    shared = np.asarray(counts.sum(axis=1)).ravel() > 0
    members = [m for m, keep in zip(members, shared) if keep]
    counts = counts[shared]
    if len(members) < min_size:
        return []
    if sentence_vectors is None:
        vectors = _vectors(counts, seed)
    else:
        vectors = _centred(sentence_vectors[members], [units[i]["group"] for i in members])
    labels = _clusters(vectors, min(max_candidates, len(members) // min_size), seed)
    vocabulary = counter.get_feature_names_out()
    weights = _class_tfidf(counts, labels)
    rows = []
    for cluster in np.unique(labels):
        inside = np.flatnonzero(labels == cluster)
        if len(inside) < min_size:
            continue
        centre = vectors[inside].mean(axis=0)
        similarity = vectors[inside] @ (centre / (np.linalg.norm(centre) or 1.0))
        groups = [units[members[i]]["group"] for i in inside]
        nearest = inside[_exemplars(similarity, groups)]
        in_segments = np.asarray((counts[inside] > 0).sum(axis=0)).ravel()
        ranked = [j for j in np.argsort(-weights[cluster], kind="stable")
                  if weights[cluster][j] > 0 and vocabulary[j] not in _TALK]
        order = sorted(ranked, key=lambda j: in_segments[j] < 2)[:8]  # words of one segment only last
        forms = _cluster_forms([units[members[i]]["forms"] for i in inside])
        terms = [_shown(vocabulary[j], forms) for j in order]
        rows.append({
            "language": language or (groups[0] if len(set(groups)) == 1 else BOTH),
            "label": " / ".join(terms[:3]),
            "top_terms": ", ".join(terms),
            "size": len(inside),
            "cohesion": round(float(similarity.mean()), 3),
            **{f"exemplar_{n + 1}": table.at[members[i], "text"] for n, i in enumerate(nearest)},
            "exemplar_sources": "; ".join(_source(table, members[i]) for i in nearest),
            "segment_ids": "; ".join(_source(table, members[i]) for i in inside),
            "_first": members[inside[0]],
        })
    return rows


def _exemplars(similarity: np.ndarray, groups: list[str]) -> list[int]:
    """Positions of the ``EXEMPLARS`` rows nearest the centre (highest ``similarity``); where
    the rows are of both language groups, the nearest of the group missing among them
    takes the last place."""
    order = [int(k) for k in np.argsort(-similarity, kind="stable")]
    chosen = order[:EXEMPLARS]
    for language in LANGUAGE_GROUPS:
        if language in groups and all(groups[k] != language for k in chosen):
            chosen[-1] = next(k for k in order if groups[k] == language)
    return chosen


def _identity(terms: list[str]) -> list[str]:
    return terms


def _vectors(counts, seed: int) -> np.ndarray:
    """Unit-length LSA vectors of sublinear TF-IDF rows."""
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    dims = min(100, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    if dims >= 2:
        reduced = TruncatedSVD(n_components=dims, random_state=seed).fit_transform(tfidf)
    else:
        reduced = tfidf.toarray()
    return normalize(reduced)


def _clusters(vectors: np.ndarray, k_max: int, seed: int) -> np.ndarray:
    """k-means labels for the k in 2..k_max with the best mean silhouette (1 cluster if k_max < 2)."""
    if k_max < 2:
        return np.zeros(len(vectors), dtype=int)
    best, best_score = None, -2.0
    for k in range(2, k_max + 1):
        labels = KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(vectors)
        if len(np.unique(labels)) < 2:
            continue
        sample = min(len(vectors), _SILHOUETTE_SAMPLE)
        score = silhouette_score(vectors, labels, metric="cosine", sample_size=sample, random_state=seed)
        if score > best_score:
            best, best_score = labels, score
    if best is not None:
        log.info("k-means: %d clusters (silhouette %.3f) over %d segments", len(np.unique(best)), best_score, len(vectors))
    return best if best is not None else np.zeros(len(vectors), dtype=int)


def _class_tfidf(counts, labels: np.ndarray) -> dict[int, np.ndarray]:
    """Class-based TF-IDF per cluster: term share × log(1 + mean words per cluster / term count)."""
    clusters = np.unique(labels)
    per_cluster = np.vstack([np.asarray(counts[labels == c].sum(axis=0)).ravel() for c in clusters]).astype(float)
    totals = per_cluster.sum(axis=0)
    mean_words = per_cluster.sum() / len(clusters)
    idf = np.log1p(mean_words / np.maximum(totals, 1.0))
    share = per_cluster / np.maximum(per_cluster.sum(axis=1, keepdims=True), 1.0)
    return {c: share[n] * idf for n, c in enumerate(clusters)}


def _cluster_forms(forms: list[dict[str, Counter]]) -> dict[str, Counter]:
    merged: dict[str, Counter] = defaultdict(Counter)
    for item in forms:
        for lemma, counter in item.items():
            merged[lemma].update(counter)
    return merged


def _shown(lemma: str, forms: dict[str, Counter]) -> str:
    """The lemma's most frequent written form in the cluster (ties: alphabetical)."""
    counter = forms.get(lemma)
    if not counter:
        return lemma
    return min(counter.items(), key=lambda item: (-item[1], item[0]))[0]


def _source(table: pd.DataFrame, i: int) -> str:
    if "row" in table.columns:
        segment = f"row {table.at[i, 'row']}"
    else:
        segment = str(table.at[i, "segment_id"]) if "segment_id" in table.columns else f"row {i + 2}"
    document = str(table.at[i, "document"]) if "document" in table.columns else ""
    return f"{document} ({segment})" if document else segment
