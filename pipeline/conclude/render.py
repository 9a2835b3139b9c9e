"""The conclusion displays as tables of text, drawn three ways from one definition: an HTML
section of the report, sheets of ``displays.xlsx`` and Word tables (``pipeline.conclude.docx``).

Every table says what it shows (accepted codings only, unless asked otherwise) in its
caption; factor types, directions and codes are labelled by the codebook in the project's
language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

from pipeline.conclude.cases import NO_CASE
from pipeline.conclude.displays import Conclusions
from pipeline.conclude.words import SOURCE_TYPES, WORDS

MARKS = {"supporting": "▲", "constraining": "▼", "neutral": "•"}


@dataclass
class Table:
    """One display: an id, a caption, a guide line, a header and rows of text cells
    (a cell may hold several lines)."""

    key: str
    caption: str
    guide: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)


def shown(conclusions: Conclusions, lang: str) -> str:
    words = WORDS[lang]
    return words["shown_accepted"] if conclusions.statuses == ("accepted",) else words["shown_all"]


def tables(conclusions: Conclusions, labels, memos: bool = True) -> list[Table]:
    """The displays in reading order: conclusions, factor matrix, factor × attribute,
    triangulation, negative evidence, memos. ``labels``: ``pipeline.report.labels.Labels``."""
    w = WORDS[labels.lang]
    note = shown(conclusions, labels.lang)

    def factor(factor_type: str, direction: str) -> str:
        return f"{MARKS.get(direction, '')} {labels.factor_type(factor_type)} ({labels.direction(direction).lower()})"

    out = []
    table = Table("conclusions", f"{w['table_conclusions']} — {note}", w["table_conclusions_guide"],
                  [w["factor"], w["codes"], w["cases"], w["informants"], w["sources"], w["quotes"], w["memo"]])
    for row in conclusions.conclusions.itertuples(index=False):
        table.rows.append([
            factor(row.factor_type, row.direction),
            ", ".join(labels.code(c) for c in row.codes),
            f"{row.cases}: {_named(row.case_names, labels.lang)}",
            f"{row.informants}: {row.informant_names}",
            f"{w['segments']} {row.segments} · {w['documents']} {row.documents}\n{_named(row.sources, labels.lang)}",
            "\n".join(f"“{quote}” ({where})" for quote, where in row.quotes),
            row.memo or w["none"],
        ])
    out.append(table)
    matrix = conclusions.factor_matrix
    table = Table("factor-matrix", f"{w['table_factor_matrix']} — {note}", "",
                  [w["factor"], f"▲ {labels.direction('supporting')}", f"▼ {labels.direction('constraining')}",
                   labels.direction("neutral")])
    for factor_type in conclusions.factor_types:
        cells = []
        for direction in ("supporting", "constraining"):
            cell = matrix[(matrix["factor_type"] == factor_type) & (matrix["direction"] == direction)]
            cells.append(_cell(cell.iloc[0], w) if len(cell) else "")
        neutral = matrix[matrix["factor_type"] == factor_type]["neutral"]
        out_neutral = str(int(neutral.iloc[0])) if len(neutral) and int(neutral.iloc[0]) else "–"
        table.rows.append([labels.factor_type(factor_type), *cells, out_neutral])
    out.append(table)
    attribute = conclusions.attribute
    name = labels["case"] if attribute == "case" else attribute
    values = conclusions.values
    table = Table("factor-attribute", f"{w['table_by_attribute'].format(attribute=name)} — {note}",
                  w["table_by_attribute_guide"].format(attribute=name),
                  [w["factor"], *(_named(v, labels.lang) for v in values)])
    cells = conclusions.factor_by_attribute.set_index(["factor_type", "value", "direction"])
    for factor_type in conclusions.factor_types:
        row = [labels.factor_type(factor_type)]
        for value in values:
            parts = []
            for direction in ("supporting", "constraining"):
                cell = cells.loc[(factor_type, value, direction)]
                if cell["segments"]:
                    parts.append(f"{MARKS[direction]} {cell['segments']} ({cell['informants']} {w['informants'].lower()}, "
                                 f"{cell['cases']} {w['cases'].lower()}): “{cell['quote']}” ({cell['where']})")
            row.append("\n".join(parts))
        table.rows.append(row)
    out.append(table)
    table = Table("triangulation", f"{w['table_triangulation']} — {note}", w["table_triangulation_guide"],
                  [w["factor"], w["segments"], w["informants"], w["source_types"], w["roles"], w["cases"], w["flags"]])
    for row in conclusions.triangulation.itertuples(index=False):
        table.rows.append([factor(row.factor_type, row.direction), str(row.segments), f"{row.informants}",
                           f"{row.source_types}: {_named(row.by_source_type, labels.lang)}", row.by_role,
                           f"{row.cases}: {_named(row.by_case, labels.lang)}",
                           " ".join(f"⚠ {w[f]}" for f in row.flags)])
    out.append(table)
    table = Table("negative", f"{w['table_negative']} — {note}", w["table_negative_guide"],
                  [w["factor"], w["segments"], w["opposite"], w["opposite_quote"], w["absent_in"], w["not_reviewed"]])
    for row in conclusions.negative.itertuples(index=False):
        opposite = f"{row.opposite} ({row.opposite_informants} {w['informants'].lower()}: {_named(row.opposite_cases, labels.lang)})" \
            if row.opposite else "0"
        quote = f"“{row.opposite_quote}” ({row.opposite_where})" if row.opposite_quote else w["none"]
        table.rows.append([factor(row.factor_type, row.direction), str(row.segments), opposite, quote,
                           _named(row.absent_in, labels.lang) or w["none"], _named(row.not_reviewed, labels.lang) or w["none"]])
    out.append(table)
    if memos:
        table = Table("memos", w["table_memos"], "", [w["target"], w["memo"], w["author"]])
        for row in conclusions.memos.itertuples(index=False):
            target = labels.code(row.code) if row.target == "code" else labels["project"]
            table.rows.append([target, row.text, f"{row.author}, {str(row.created_at)[:10]}"])
        out.append(table)
    return out


def _named(listed: str, lang: str) -> str:
    """A ``"; "``-joined list of cases or source types (each maybe with ``(n)``) in ``lang``:
    segments of no case as "no case", Pilah's source types translated.

    Examples
    --------
    >>> _named("— (3); Surabaya (1)", "id"), _named("document (2); interview (1)", "id")
    ('tanpa kasus (3); Surabaya (1)', 'dokumen (2); wawancara (1)')
    """
    names = {NO_CASE: WORDS[lang]["no_case"], **SOURCE_TYPES.get(lang, {})}
    parts = []
    for part in listed.split("; ") if listed else []:
        value, bracket, count = part.rpartition(" (") if part.endswith(")") else (part, "", "")
        parts.append(f"{names.get(value, value)}{bracket}{count}")
    return "; ".join(parts)


def _cell(cell, w) -> str:
    if not cell["segments"]:
        return ""
    return (w["count_format"].format(segments=cell["segments"], informants=cell["informants"], cases=cell["cases"])
            + f"\n“{cell['quote']}” ({cell['where']})")


# -- HTML ---------------------------------------------------------------------------------
_STYLE = Markup("""<style>
#conclusions table.concl { width: 100%; table-layout: auto; }
#conclusions table.concl td { font-size: 12.5px; white-space: pre-line; }
#conclusions table.concl td.f { font-weight: 600; white-space: normal; }
#conclusions caption { caption-side: top; text-align: left; font-weight: 600; font-size: 15px; padding: 10px 0 2px; }
</style>""")


def html_section(conclusions: Conclusions, labels) -> Markup:
    """The report's "drawing conclusions" section (every value escaped)."""
    w = WORDS[labels.lang]
    parts = [_STYLE, Markup('<section id="conclusions">'), Markup("<h2>") + escape(w["conclusions"]) + Markup("</h2>"),
             Markup('<p class="guide">') + escape(w["conclusions_guide"]) + Markup("</p>"),
             Markup('<span class="shown accepted">') + escape(shown(conclusions, labels.lang)) + Markup("</span>")]
    if conclusions.conclusions.empty:
        parts.append(Markup('<p class="empty">') + escape(w["empty"]) + Markup("</p>"))
    for table in tables(conclusions, labels):
        parts.append(Markup(f'<div class="scroll" id="concl-{table.key}"><table class="concl">'))
        parts.append(Markup("<caption>") + escape(table.caption) + Markup("</caption>"))
        if table.guide:
            parts.append(Markup('<tr><td class="guide" colspan="') + escape(str(len(table.header)))
                         + Markup('">') + escape(table.guide) + Markup("</td></tr>"))
        parts.append(Markup("<tr>") + Markup("").join(Markup("<th>") + escape(h) + Markup("</th>")
                                                     for h in table.header) + Markup("</tr>"))
        for row in table.rows:
            parts.append(Markup("<tr>") + Markup("").join(
                Markup('<td class="f">' if i == 0 else "<td>") + escape(cell) + Markup("</td>")
                for i, cell in enumerate(row)) + Markup("</tr>"))
        parts.append(Markup("</table></div>"))
    parts.append(Markup("</section>"))
    return Markup("\n").join(parts)


# -- xlsx ---------------------------------------------------------------------------------
def add_sheets(book, conclusions: Conclusions, labels) -> None:
    """The displays as sheets of an open XlsxWriter workbook (``displays.xlsx``): a line
    saying what is shown, the guide, then the table; every value through ``write_value``."""
    from pipeline.outputs import write_value

    w = WORDS[labels.lang]
    bold = book.add_format({"bold": True})
    plain = book.add_format({"text_wrap": True, "valign": "top"})
    quoted = book.add_format({"text_wrap": True, "valign": "top", "quote_prefix": True})
    names = {"conclusions": "sheet_conclusions", "factor-attribute": "sheet_by_attribute",
             "triangulation": "sheet_triangulation", "negative": "sheet_negative", "memos": "sheet_memos"}
    for table in tables(conclusions, labels):
        if table.key not in names:
            continue  # the factor matrix has its own sheet already
        sheet = book.add_worksheet(w[names[table.key]][:31])
        sheet.set_column(0, 0, 30)
        sheet.set_column(1, len(table.header), 42)
        write_value(sheet, 0, 0, table.caption, bold, bold)
        write_value(sheet, 1, 0, table.guide, plain, quoted)
        for column, name in enumerate(table.header):
            write_value(sheet, 3, column, name, bold, bold)
        for number, row in enumerate(table.rows, start=4):
            for column, value in enumerate(row):
                write_value(sheet, number, column, value, plain, quoted)
