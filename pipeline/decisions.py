"""Analysts' decisions in and out of the project: reading a reviewed sheet back, and
where the review stands.

A reviewed sheet is the review table ``pilah run`` (or ``pilah review export`` / ``next``)
wrote, as xlsx or csv, with the analyst's columns filled in:

- ``accept``: the suggestion is right as it is;
- ``reject``: it is wrong;
- ``edit``: the code and/or the direction is wrong: write the right ones in
  ``corrected_code`` / ``corrected_direction`` (an ``accept`` with a correction is an edit);
- ``add``: put the code written in ``corrected_code`` (or ``code`` on a blank row) on the
  row's segment, with ``corrected_direction`` (or ``direction``) if given.

Each row names its segment (``segment_id``) and, unless it is a blank row, the suggestion
(``suggestion_id``) the analyst saw. The row's other columns (``segment_text``, ``speaker``…)
are never read back, so a pseudonymised sheet (``pipeline.privacy``) imports as any other;
its comments get their real names back from the project's pseudonyms. A bad row is reported with its row number and reason
and skipped; the good rows are kept. Importing the same sheet twice adds nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.codebook import Codebook
from pipeline.errors import InputError
from pipeline.records import DECISIONS, DECISIONS_ID, DIRECTIONS
from pipeline.store import CARRIED, Decision, Store

# Directions as analysts may write them (the Indonesian terms of the field included).
_DIRECTION_WORDS = {
    **{d: d for d in DIRECTIONS},
    "pendukung": "supporting", "faktor pendukung": "supporting", "support": "supporting", "+": "supporting",
    "penghambat": "constraining", "faktor penghambat": "constraining", "constraint": "constraining",
    "hambatan": "constraining", "-": "constraining", "netral": "neutral",
}
# Decisions as analysts may write them: the workspace's Indonesian words too.
_DECISION_WORDS = {**{d: d for d in DECISIONS}, **dict(zip(DECISIONS_ID, DECISIONS))}
DEFAULT_REVIEWER = "analyst"


@dataclass
class ImportReport:
    """What an import did: decisions added, rows already in the store, rows skipped and why."""

    path: str
    rows: int = 0
    added: int = 0
    unchanged: int = 0
    pending: int = 0
    stale: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    overridden: list[tuple[int, int]] = field(default_factory=list)  # (row, the later row that wins)

    def as_dict(self) -> dict:
        return {"path": self.path, "rows": self.rows, "added": self.added, "unchanged": self.unchanged,
                "pending": self.pending, "stale": self.stale,
                "problems": [{"row": row, "reason": reason} for row, reason in self.problems],
                "overridden": [{"row": row, "by_row": later} for row, later in self.overridden]}


def read_sheet(path: Path) -> pd.DataFrame:
    """The review table of an xlsx (sheet *Suggestions*, else the first) or csv, as strings.

    The ``'`` that the CSV export puts before formula-like text is taken off again, and the
    characters xlsx escapes (a CR is stored as ``_x000D_``, by Excel and Pilah alike) are
    read back as themselves.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".xlsx":
            from openpyxl import load_workbook
            from openpyxl.utils.escape import unescape

            from pipeline.config import load_config
            from pipeline.ingest.files import Limits, check_workbook

            # a zip bomb or a file that is no zip is refused before openpyxl opens it
            check_workbook(path, Limits.from_settings(load_config().section("ingest")))

            names = load_workbook(path, read_only=True).sheetnames
            sheet = "Suggestions" if "Suggestions" in names else names[0]
            frame = pd.read_excel(path, sheet_name=sheet, dtype=str).fillna("")
            frame = frame.map(lambda v: unescape(v) if "_x" in v else v)
        elif path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            frame = frame.map(lambda v: v[1:] if isinstance(v, str) and v[:2] in _QUOTED else v)
        else:
            raise InputError(path, f"expected a review sheet (.xlsx or .csv), found {path.suffix or 'no extension'}")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, ValueError, KeyError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(path, f"cannot read the review sheet: {exc}") from None
    missing = [c for c in ("decision", "segment_id") if c not in frame.columns]
    if missing == ["segment_id"] and "suggestion_id" in frame.columns:  # a sheet of Pilah before the review loop
        frame["segment_id"] = ""
        missing = []
    if missing:
        raise InputError(path, f"not a Pilah review sheet: no {', '.join(missing)} column (found: "
                               f"{', '.join(map(str, frame.columns))}); export one with `pilah run` or `pilah review export`")
    return frame.fillna("").astype(str)


_QUOTED = {"'" + c for c in ("=", "+", "-", "@", "\t", "\r")}


def pending_decisions(path: Path) -> int:
    """How many rows of a sheet carry a decision (0 when the file is absent)."""
    if not Path(path).exists():
        return 0
    return int((read_sheet(path)["decision"].str.strip() != "").sum())


def import_sheet(store: Store, path: Path, codebook: Codebook, reviewer: str | None = None,
                 default: str = DEFAULT_REVIEWER) -> ImportReport:
    """Append the decisions of a reviewed sheet to the project; see the module docstring.

    Whose decisions: a row's ``reviewer`` cell; else ``reviewer`` (``--reviewer NAME``), else
    the reviewer the sheet was exported for (``sheet_reviewer``), else ``default`` (the
    project's ``[review] reviewer``). With ``reviewer`` or a sheet's own reviewer, every
    decision of the sheet is that reviewer's, also where it says what another reviewer
    decided (a blind second coder agreeing with the first). Otherwise a row without a
    reviewer that says what someone already decided is that decision, already in the
    project (a sheet imported once with ``--reviewer`` and read again by ``pilah run``).
    """
    frame = read_sheet(path)
    owner = reviewer or sheet_reviewer(frame)
    if "comment" in frame.columns and len(store.pseudonyms_frame()):
        from pipeline.privacy import Pseudonymizer

        # a pseudonymised sheet: comments go back to the real names the store holds, so an
        # untouched pre-filled row says what was decided and a new comment reads as written
        frame["comment"] = frame["comment"].map(Pseudonymizer(store).restore)
    report = ImportReport(str(path), rows=len(frame))
    rows = {}
    suggestions = store.suggestion_rows([s.strip() for s in frame.get("suggestion_id", []) if s.strip()])
    segments = store.segment_texts([s.strip() for s in frame["segment_id"] if s.strip()]
                                   + [seen["segment_id"] for seen in suggestions.values()])
    decided = store.decisions_frame(in_force=True)  # read once for both
    in_force = _in_force(decided)
    later = _decided_in_workspace_since(decided, path)
    for index, row in frame.iterrows():
        line = int(index) + 2
        try:
            decision = _decision(row, suggestions, segments, codebook, owner or default)
        except ValueError as exc:
            report.problems.append((line, str(exc)))
            continue
        if decision is None:
            report.pending += 1
            continue
        key_code = suggestions[decision.suggestion_id]["code"] if decision.decision != "add" else decision.code
        content = (decision.decision, decision.code, decision.direction, decision.comment)
        if (not owner and not str(row.get("reviewer", "")).strip()
                and content in in_force.get((decision.segment_id, key_code), ())):
            report.unchanged += 1  # a row without a reviewer that says what someone already decided
            continue
        key = (decision.reviewer, decision.segment_id, key_code)
        if key in later and later[key] != content:  # the sheet was saved before; the browser's decision stands
            report.problems.append((line, f"not imported: {decision.reviewer} decided this suggestion in the "
                                          f"workspace after the sheet was saved ({later[key][0]}, kept)"))
            continue
        if key in rows:  # two rows decide on one suggestion (or added code): the later row wins
            report.overridden.append((rows[key][0], line))
        rows[key] = (line, decision)
        report.stale += int(not segments[decision.segment_id][1])
    counts = store.add_decisions([decision for _, decision in sorted(rows.values(), key=lambda r: r[0])])
    report.added, report.unchanged = counts["added"], report.unchanged + counts["unchanged"]
    return report


def sheet_reviewer(frame: pd.DataFrame) -> str | None:
    """The reviewer a sheet was exported for (``pilah review export --reviewer NAME`` writes
    NAME in every row's ``reviewer`` cell), or ``None``: every filled cell names one
    reviewer, and so do the undecided rows (an analyst types a name only where they decide).

    >>> sheet = pd.DataFrame({"decision": ["accept", "", ""], "reviewer": ["dewi", "dewi", "dewi"]})
    >>> sheet_reviewer(sheet), sheet_reviewer(sheet.assign(reviewer=["dewi", "", ""]))
    ('dewi', None)
    """
    if "reviewer" not in frame.columns or frame.empty:
        return None
    cells = frame["reviewer"].astype(str).str.strip()
    names = set(cells[cells != ""])
    undecided = cells[frame["decision"].astype(str).str.strip() == ""]
    if len(names) != 1 or not ((undecided != "").any() or (cells != "").all()):
        return None
    return names.pop()


def _in_force(frame: pd.DataFrame) -> dict[tuple[str, str], set[tuple]]:
    """``{(segment_id, code decided on): {(decision, code, direction, comment), …}}`` over all
    reviewers, of the decisions in force (``Store.decisions_frame``)."""
    found: dict[tuple[str, str], set[tuple]] = {}
    for row in frame.itertuples(index=False):
        key = (row.segment_id, row.key)
        direction = row.direction if isinstance(row.direction, str) else None  # pandas reads NULL as NaN
        found.setdefault(key, set()).add((row.decision, row.code, direction, row.comment))
    return found


def _decided_in_workspace_since(frame: pd.DataFrame, path: Path) -> dict[tuple[str, str, str], tuple]:
    """``{(reviewer, segment_id, code decided on): (decision, code, direction, comment)}`` of
    the decisions in force (``Store.decisions_frame``) made in the workspace (``pilah serve``)
    after ``path`` was last saved: a row of that sheet cannot overrule them (it was written
    before them)."""
    from datetime import datetime

    saved = Path(path).stat().st_mtime
    frame = frame[frame["source"] == "workspace"]
    return {(r.reviewer, r.segment_id, r.key): (r.decision, r.code, r.direction if isinstance(r.direction, str) else None,
                                                r.comment)
            for r in frame.itertuples(index=False) if datetime.fromisoformat(r.decided_at).timestamp() > saved}  # to the second


def _decision(row: pd.Series, suggestions: dict, segments: dict, codebook: Codebook, reviewer: str) -> Decision | None:
    """One row as a Decision, ``None`` for a row left undecided; ``ValueError`` says why a
    row cannot be taken."""
    get = lambda name: str(row.get(name, "")).strip()  # noqa: E731
    decision = _DECISION_WORDS.get(get("decision").lower(), get("decision").lower())
    corrected_code, corrected_direction = get("corrected_code"), get("corrected_direction")
    if not decision:
        if corrected_code or corrected_direction:
            raise ValueError("corrected_code/corrected_direction filled but decision is empty: write edit or add")
        return None
    if decision not in DECISIONS:
        raise ValueError(f"decision {decision!r}: expected one of {', '.join(DECISIONS)}")
    segment_id, suggestion_id = get("segment_id"), get("suggestion_id")
    seen = suggestions.get(suggestion_id) if suggestion_id else None
    if suggestion_id and seen is None:
        raise ValueError(f"suggestion_id {suggestion_id!r} is not in this project (a sheet of another project?)")
    segment_id = segment_id or (seen["segment_id"] if seen else "")
    if not segment_id:
        raise ValueError("no segment_id: the row was not written by Pilah; copy a row of the segment instead")
    if segment_id not in segments:
        raise ValueError(f"segment_id {segment_id!r} is not in this project (a sheet of another project?)")
    if seen is not None and seen["segment_id"] != segment_id:
        raise ValueError(f"suggestion_id {suggestion_id!r} belongs to another segment than segment_id {segment_id!r}")
    direction = _direction(corrected_direction) if corrected_direction else None
    if corrected_code and (corrected_code not in codebook.codes or not codebook.codes[corrected_code].codable):
        raise ValueError(f"corrected_code {corrected_code!r} is not a codable code of the codebook")
    reviewer = get("reviewer") or reviewer
    comment = get("comment")
    if decision == "add" or seen is None:
        if decision != "add":
            raise ValueError(f"{decision} needs a suggestion, and this row has none: to put a code on the segment, "
                             "write add and the code in corrected_code")
        code = corrected_code or get("code")
        if not code or code not in codebook.codes or not codebook.codes[code].codable:
            raise ValueError(f"add needs a codable code of the codebook in corrected_code (found {code!r})")
        if direction is None and get("direction") and seen is None:
            direction = _direction(get("direction"))
        return Decision(segment_id, None, "add", code, direction, reviewer, comment, "sheet")
    if decision == "accept" and (corrected_code or direction):
        decision = "edit"
    if decision == "edit":
        code, direction = corrected_code or seen["code"], direction or seen["direction"]
        if (code, direction) == (seen["code"], seen["direction"]):
            raise ValueError("edit without a change: write the right code in corrected_code and/or the direction "
                             "in corrected_direction (or accept)")
        return Decision(segment_id, seen["id"], "edit", code, direction, reviewer, comment, "sheet")
    return Decision(segment_id, seen["id"], decision, seen["code"], seen["direction"], reviewer, comment, "sheet")


def _direction(value: str) -> str:
    direction = _DIRECTION_WORDS.get(value.strip().lower())
    if direction is None:
        raise ValueError(f"direction {value!r}: expected one of {', '.join(DIRECTIONS)}")
    return direction


def review_status(store: Store) -> dict:
    """Per code and per reviewer: suggested, accepted, rejected, edited, added, pending and
    stale; with whole-project totals ``decisions``, ``pending`` and ``stale``."""
    suggestions = store.suggestion_counts()
    decisions = store.decisions_frame(in_force=True)
    pending = store.suggestion_counts(pending=True)
    kinds = {"accept": "accepted", "reject": "rejected", "edit": "edited", "add": "added"}
    empty = {"suggested": 0, "accepted": 0, "rejected": 0, "edited": 0, "added": 0, "pending": 0, "stale": 0,
             "carried": 0}
    per_code: dict[str, Counter] = {}
    per_reviewer: dict[str, Counter] = {}
    for code, n in suggestions.items():
        per_code.setdefault(code, Counter())["suggested"] = n
    for code, n in pending.items():
        per_code.setdefault(code, Counter())["pending"] = n
    carried_from = set(store.carried_segments())  # stale segments whose decisions were carried to the new text
    decisions = decisions[~(decisions["stale"] & decisions["segment_id"].isin(carried_from))]
    for row in decisions.itertuples(index=False):
        what = "stale" if row.stale else kinds[row.decision]
        per_code.setdefault(row.key, Counter())[what] += 1
        per_reviewer.setdefault(row.reviewer, Counter())[what] += 1
        if row.source == CARRIED and not row.stale:
            per_code[row.key]["carried"] += 1
            per_reviewer[row.reviewer]["carried"] += 1
    return {
        "decisions": int(len(decisions)),
        "carried": int(((decisions["source"] == CARRIED) & ~decisions["stale"]).sum()),
        **store.record_counts(),
        "suggested": sum(suggestions.values()),
        "pending": sum(pending.values()),
        "stale": int(decisions["stale"].sum()),
        "per_code": {code: empty | dict(c) for code, c in sorted(per_code.items())},
        "per_reviewer": {name: {k: v for k, v in (empty | dict(c)).items() if k not in ("suggested", "pending")}
                         for name, c in sorted(per_reviewer.items())},
    }
