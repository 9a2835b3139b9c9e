"""``pilah query``: find the quotes behind a conclusion with a small expression.

An expression is terms separated by spaces; every term must hold (AND)::

    code=financing direction=constraining case="Kabupaten Lembah Hijau" sektor=food

A term is ``FIELD=VALUE`` (equal, without regard to case), ``FIELD!=VALUE`` (not equal)
or ``FIELD~VALUE`` (contains). ``VALUE`` may list alternatives with commas (``code=a,b``:
either) and is quoted when it holds spaces (``"…"`` or ``'…'``). A term without a field
is ``text~TERM``. Fields:

==============  ===================================================================
``code``        a code's id or label (Indonesian or English), or a folder: its codes
``direction``   supporting / constraining / neutral (or pendukung / penghambat / netral)
``factor``      a factor type's id or label (``factor_type`` too)
``case``        the case (manifest, or the case table)
``speaker``     the speaker of the turn; ``informant``: the speaker, or a document's author
``role``        the informant's role (case table or manifest)
``source``      the source type: interview, document, observation … (``source_type``)
``document``    the document's path or title
``reviewer``    who accepted, edited, added or imported the coding
``status``      accepted (the default) or pending (suggestions nobody has decided on)
``text``        the segment's text
any attribute   a column of the case table or the manifest (``sektor=food``)
==============  ===================================================================

Without a ``status`` term only accepted codings are searched: a conclusion rests on what
an analyst accepted.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.codebook import Codebook
from pipeline.conclude.cases import count_cases
from pipeline.conclude.evidence import STATUSES, cut_quote
from pipeline.errors import InputError, PilahError

ALIASES = {"factor": "factor_type", "factor_type": "factor_type", "source": "source_type",
           "source_type": "source_type", "arah": "direction", "kode": "code", "kasus": "case", "penutur": "speaker",
           "peran": "role", "teks": "text"}
FIELDS = ("code", "direction", "factor_type", "case", "speaker", "informant", "role", "source_type", "document",
          "reviewer", "status", "text")
DIRECTION_WORDS = {"supporting": "supporting", "pendukung": "supporting", "support": "supporting", "+": "supporting",
                   "constraining": "constraining", "penghambat": "constraining", "constraint": "constraining",
                   "-": "constraining", "neutral": "neutral", "netral": "neutral"}
MAX_EXPRESSION = 10_000  # characters: shlex reads a longer one slowly (14 s at a million), and no question needs it
_TERM = re.compile(r"^(?P<field>[\w.\-]+)(?P<op>!=|=|~)(?P<value>.*)$", re.S)


class QueryError(PilahError):
    """An expression that cannot be read: names the term and what is expected."""


@dataclass(frozen=True)
class Term:
    field: str
    op: str  # "=", "!=", "~"
    values: tuple[str, ...]


@dataclass
class QueryResult:
    """The rows an expression finds (one per segment × code, with ``quote``) and their counts."""

    expression: str
    rows: pd.DataFrame
    counts: dict = field(default_factory=dict)
    by_code: pd.DataFrame | None = None


def parse(expression: str) -> list[Term]:
    """The terms of ``expression``.

    Examples
    --------
    >>> parse('code=training,financing case="Kota Pesisir Kencana" magang')
    ... # doctest: +NORMALIZE_WHITESPACE
    [Term(field='code', op='=', values=('training', 'financing')),
     Term(field='case', op='=', values=('Kota Pesisir Kencana',)),
     Term(field='text', op='~', values=('magang',))]
    """
    if len(expression) > MAX_EXPRESSION:
        raise QueryError(f"query {expression[:60]!r}… holds {len(expression):,} characters; a query holds at most "
                         f"{MAX_EXPRESSION:,} (search a few words of the passage, not all of it)")
    try:
        words = shlex.split(expression, posix=True)
    except ValueError as exc:
        raise QueryError(f"query {expression!r}: {exc} (close every quote)") from None
    terms = []
    for word in words:
        match = _TERM.match(word)
        if not match:
            terms.append(Term("text", "~", (word,)))
            continue
        name = match["field"].casefold()
        values = tuple(v.strip() for v in match["value"].split(",") if v.strip())
        if not values:
            raise QueryError(f"query term {word!r}: no value after {match['op']!r}")
        terms.append(Term(ALIASES.get(name, name), match["op"], values))
    return terms


def run_query(evidence: pd.DataFrame, expression: str, codebook: Codebook, quote_limit: int = 320) -> QueryResult:
    """Apply ``expression`` to an evidence frame (``pipeline.conclude.evidence``); the rows
    found carry ``quote``, their text cut at sentence boundaries.

    Raises
    ------
    QueryError
        An unknown field, code, direction, factor type or status, naming the known ones.
    """
    terms = parse(expression)
    known = set(FIELDS) | set(evidence.attrs.get("attributes", [])) | set(evidence.columns)
    mask = pd.Series(True, index=evidence.index)
    if not any(t.field == "status" for t in terms):
        mask &= evidence["status"] == "accepted"
    for term in terms:
        if term.field not in known:
            raise QueryError(f"query term {term.field}{term.op}…: unknown field {term.field!r}; known: "
                             f"{', '.join(sorted(known - {'segment_id', 'document_id', 'title', 'place', 'origin', 'score', 'evidence', 'language', 'quote'}))}")
        mask &= _match(evidence, term, codebook, evidence.attrs.get("code_map", {}))
    rows = evidence[mask].copy()
    searched = "; ".join(v for t in terms if t.field == "text" and t.op != "!=" for v in t.values)
    rows["quote"] = [cut_quote(t, "; ".join(p for p in (searched, e) if p), quote_limit)  # around the words asked for
                     for t, e in zip(rows["text"], rows["evidence"])]
    counts = {"codings": int(len(rows)), "segments": int(rows["segment_id"].nunique()),
              "informants": int(rows["informant"].nunique()), "cases": count_cases(rows["case"]),
              "documents": int(rows["document"].nunique())}
    by_code = (rows.groupby(["code", "direction"]).agg(codings=("segment_id", "size"),
                                                       informants=("informant", "nunique"),
                                                       cases=("case", count_cases)).reset_index()
               if len(rows) else pd.DataFrame(columns=["code", "direction", "codings", "informants", "cases"]))
    return QueryResult(expression, rows.reset_index(drop=True), counts, by_code)


def _match(frame: pd.DataFrame, term: Term, codebook: Codebook, code_map: dict[str, str]) -> pd.Series:
    column = frame[term.field].fillna("").astype(str) if term.field in frame.columns else pd.Series("", index=frame.index)
    if term.field == "document" and term.op != "!=":
        column = column + "\x1f" + frame["title"].fillna("").astype(str)
    if term.op == "~" or term.field == "text" or (term.field == "document" and term.op == "="):
        found = pd.Series(False, index=frame.index)
        for value in term.values:
            found |= column.str.casefold().str.contains(value.casefold(), regex=False)
        return found
    wanted = _values(term, codebook, code_map)
    found = column.str.casefold().isin({v.casefold() for v in wanted})
    return ~found if term.op == "!=" else found


def _values(term: Term, codebook: Codebook, code_map: dict[str, str]) -> set[str]:
    """The stored values a term's values stand for (a code's label → its id, a code since
    renamed or merged → the code it became…)."""
    if term.field == "code":
        found = set()
        for value in term.values:
            codes = _codes(code_map.get(value, value), codebook)
            if not codes:
                raise QueryError(f"query term code={value}: no code, label or folder {value!r} in the codebook; codes: "
                                 f"{', '.join(c.id for c in codebook.codable())}")
            found |= codes
        return found
    if term.field == "direction":
        unknown = [v for v in term.values if v.casefold() not in DIRECTION_WORDS]
        if unknown:
            raise QueryError(f"query term direction={unknown[0]}: expected supporting, constraining or neutral "
                             "(pendukung, penghambat, netral)")
        return {DIRECTION_WORDS[v.casefold()] for v in term.values}
    if term.field == "factor_type":
        found = set()
        for value in term.values:
            match = [key for key, label in codebook.factor_types.items()
                     if value.casefold() in {key.casefold(), *(v.casefold() for v in label.values())}]
            if not match:
                raise QueryError(f"query term factor={value}: no factor type {value!r}; factor types: "
                                 f"{', '.join(codebook.factor_types)}")
            found |= set(match)
        return found
    if term.field == "status":
        unknown = [v for v in term.values if v.casefold() not in STATUSES]
        if unknown:
            raise QueryError(f"query term status={unknown[0]}: expected accepted or pending")
    return set(term.values)


def _codes(value: str, codebook: Codebook) -> set[str]:
    folded = value.casefold()
    direct = {c.id for c in codebook.codes.values()
              if folded in {c.id.casefold(), *(v.casefold() for v in c.label.values())}}
    found = set()
    for code in direct:  # a folder stands for the codes under it
        found |= {c.id for c in codebook.codes.values() if code in codebook.path_of(c.id)}
    return found


# -- output -----------------------------------------------------------------------------
OUTPUT_COLUMNS = ("case", "informant", "role", "source_type", "document", "title", "place", "code", "direction",
                  "factor_type", "status", "reviewer", "quote", "segment_id")


def result_table(result: QueryResult, attributes: list[str] = ()) -> pd.DataFrame:
    """The rows as a table for CSV/XLSX: place, code, direction, the quote, the attributes."""
    columns = list(OUTPUT_COLUMNS) + [a for a in attributes if a not in OUTPUT_COLUMNS and a in result.rows.columns]
    return result.rows.reindex(columns=columns)


def write_result(result: QueryResult, out: Path, codebook: Codebook, lang: str = "en") -> Path:
    """Write the result to ``out``: ``.csv``, ``.xlsx`` (``pipeline.outputs``) or ``.html``
    (one standalone page, every value escaped, nothing fetched)."""
    from pipeline.outputs import write_table, write_text

    out = Path(out)
    attributes = [a for a in result.rows.attrs.get("attributes", []) if a != "case"]
    suffix = out.suffix.lower()
    if suffix == ".html":
        write_text(out, result_html(result, codebook, lang))
    elif suffix in (".csv", ".xlsx"):
        write_table(result_table(result, attributes), out)
    else:
        raise InputError(out, f"expected a .csv, .xlsx or .html output file, found {suffix or 'no extension'}")
    return out


_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def result_html(result: QueryResult, codebook: Codebook, lang: str = "en") -> str:
    """A standalone HTML page of the result: counts, then each quote with its place."""
    e = html.escape
    words = QUERY_WORDS[lang if lang in QUERY_WORDS else "en"]
    counts = " · ".join(f"{words[k]}: {v}" for k, v in result.counts.items())
    items = []
    for row in result.rows.itertuples(index=False):
        code = codebook.codes[row.code].label.get(lang, row.code) if row.code in codebook.codes else row.code
        where = " · ".join(str(v) for v in (row.case, row.informant, row.role, row.title, row.place) if v)
        items.append(f'<li><span class="tag {e(row.direction)}">{e(code)} · {e(row.direction)}</span> '
                     f'<span class="st">{e(row.status)}</span><blockquote>“{e(row.quote)}”</blockquote>'
                     f'<div class="where">{e(where)}</div></li>')
    return f"""<!DOCTYPE html>
<html lang="{e(lang)}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{e(words['title'])}: {e(result.expression)}</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:20px auto;padding:0 16px;color:#1f2328}}
code{{background:#f5f6f8;padding:2px 5px}} li{{margin:0 0 12px}} blockquote{{margin:4px 0}}
.where,.st{{color:#5f6670;font-size:12.5px}} .tag{{font-size:12px;font-weight:600;border:1px solid;border-radius:8px;padding:0 6px}}
.supporting{{color:#1b7f4b}} .constraining{{color:#b83227}} .neutral{{color:#5f6670}}</style></head>
<body><h1>{e(words['title'])}</h1><p><code>{e(result.expression)}</code></p>
<p>{e(words['note'])}</p><p><b>{e(counts)}</b></p>
<ol>{''.join(items)}</ol>{'' if items else f'<p>{e(words["none"])}</p>'}</body></html>
"""


QUERY_WORDS = {
    "en": {"title": "Pilah query", "codings": "codings", "segments": "segments", "informants": "informants",
           "cases": "cases", "documents": "documents", "none": "Nothing found.",
           "note": "Accepted codings only, unless the query names a status; quotes are whole sentences."},
    "id": {"title": "Kueri Pilah", "codings": "koding", "segments": "segmen", "informants": "informan",
           "cases": "kasus", "documents": "dokumen", "none": "Tidak ada yang ditemukan.",
           "note": "Hanya koding yang diterima, kecuali kueri menyebut status; kutipan berupa kalimat utuh."},
}


# -- saved queries ------------------------------------------------------------------------
NAME = re.compile(r"^[\w][\w .\-]{0,79}$")


def save_query(store, name: str, expression: str, codebook: Codebook, evidence: pd.DataFrame, author: str,
               description: str = "") -> None:
    """Keep ``expression`` in the project under ``name`` (checked first by running it); a
    later save of the same name is the one in force, the earlier stays in the history."""
    if not NAME.match(name):
        raise QueryError(f"query name {name!r}: letters, digits, spaces, '.', '-' and '_', at most 80")
    run_query(evidence, expression, codebook)
    store.save_query(name, expression, description, author)


def saved_query(store, name: str) -> str:
    """The expression saved under ``name``."""
    saved = store.saved_queries_frame()
    found = saved[saved["name"] == name]
    if found.empty:
        names = ", ".join(saved["name"]) or "none yet (save one with --save NAME)"
        raise QueryError(f"no saved query {name!r}; saved: {names}")
    return str(found["expression"].iloc[0])
