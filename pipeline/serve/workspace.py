"""What the review workspace shows and does, without the web: the queue, decisions and their
undo, span codings, documents, memos, two coders, progress and the retrain job.

Every decision goes through ``Store.add_decisions`` (the door a sheet import uses too), at
once, append-only, with the reviewer's name and source ``workspace``. Undo never deletes:
it appends the decision that was in force before (or an ``undo`` decision when there was
none, which makes the suggestion pending again). The queue is read from the store when it is
opened or filtered and then kept in memory: a decision updates its item in place, so it
costs one write and no re-read of the project.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from pipeline.codebook import Codebook
from pipeline.errors import PilahError
from pipeline.records import DIRECTIONS
from pipeline.store import UNDO, Decision, Store

log = logging.getLogger(__name__)

SOURCE = "workspace"
STATUSES = ("pending", "accepted", "rejected", "stale", "all")
CONTEXT_TURNS = 2  # turns shown before and after the segment in the queue
MAX_MEMO = 100_000  # characters: a memo is a note, not a document (a pasted chapter is refused)


class WorkspaceError(PilahError):
    """A request the workspace cannot carry out (an unknown item, code or span)."""


@dataclass
class Filters:
    """The queue's filters; empty strings match everything."""

    code: str = ""
    direction: str = ""
    case: str = ""
    speaker: str = ""
    document: str = ""
    status: str = "pending"
    confidence: str = ""
    next_only: bool = False
    order: str = "document"  # or "next": review next's ranking

    @classmethod
    def from_query(cls, query) -> "Filters":
        values = {f.name: query.get(f.name, "") for f in fields(cls)}
        values["next_only"] = str(values["next_only"]).lower() in ("1", "true", "on", "yes")
        values["status"] = values["status"] if values["status"] in STATUSES else "pending"
        values["order"] = values["order"] if values["order"] in ("document", "next") else "document"
        return cls(**values)

    def query(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) not in ("", False)}


@dataclass
class Item:
    """One row of the queue: a suggestion in force (or a stale decision), and where it stands."""

    key: str  # the suggestion's id, or "d<decision id>" for a decision without one in force
    suggestion_id: str | None
    segment_id: str
    document_id: str
    document: str
    start: int
    speaker: str
    case: str
    code: str
    direction: str
    score: float | None
    confidence: str
    evidence: str
    source: str
    status: str  # pending, accepted, rejected, stale
    decision: tuple | None = None  # the decision in force shown: (kind, code, direction, reviewer)
    mine: tuple | None = None  # this reviewer's decision in force: (kind, code, direction, comment)


@dataclass
class Retrain:
    """The background retrain: its state and the report ``pipeline.retrain.retrain`` returned."""

    state: str = "idle"  # idle, running, done, failed
    report: dict | None = None
    error: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)


def status_of(kind: str | None, stale: bool = False) -> str:
    if stale:
        return "stale"
    return {None: "pending", "reject": "rejected"}.get(kind, "accepted")


def evidence_terms(evidence: str) -> list[str]:
    """The words and phrases of a suggestion's evidence (``a; b`` or ``model: a, b``)."""
    evidence = evidence or ""
    if evidence.startswith("model:"):
        parts = evidence[len("model:"):].split(",")
    else:
        parts = evidence.split(";")
    return [p.strip() for p in parts if len(p.strip()) > 1]


def highlight(text: str, terms: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into ``(piece, is_evidence)`` pieces, the evidence terms marked
    (regardless of case); the pieces join to ``text`` exactly."""
    if not terms:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    pieces, at = [], 0
    for match in pattern.finditer(text):
        if match.start() > at:
            pieces.append((text[at:match.start()], False))
        pieces.append((match.group(0), True))
        at = match.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces or [(text, False)]


def _text(value) -> str:
    return value if isinstance(value, str) else ""


class Workspace:
    """The review workspace of one project for one reviewer.

    Parameters
    ----------
    store
        The project's store, for the thread that made the workspace (the server's event
        loop); another thread gets a connection of its own (``store``).
    codebook, config, root
        The project's codebook, configuration and folder (``Project.codebook`` …).
    reviewer
        Whose decisions the workspace writes (``Project.reviewer()`` or ``--reviewer``).
    lang
        The interface's language, ``"id"`` or ``"en"`` (``Project.lang()``).
    """

    def __init__(self, store: Store, codebook: Codebook, config, root: Path, reviewer: str, lang: str):
        self._stores = {threading.get_ident(): store}  # a SQLite connection serves one thread
        self.codebook, self.config, self.root = codebook, config, Path(root)
        self.reviewer, self.lang = reviewer, lang if lang in ("id", "en") else "id"
        self.blind = False
        self.filters = Filters()
        self.items: list[Item] = []
        # (the queue item's key or None, the code decided on, the decision, the one in force before)
        self._undo: list[tuple[str | None, str, Decision, tuple | None]] = []
        self._next_ranking: list[str] | None = None
        self.retrain_job = Retrain()
        self.load()

    @property
    def store(self) -> Store:
        """The project's store, through this thread's connection."""
        found = self._stores.get(threading.get_ident())
        if found is None:
            found = self._stores[threading.get_ident()] = Store(self.root)
        return found

    def close(self) -> None:
        """Close the connections the workspace opened itself (not the project's)."""
        for store in list(self._stores.values())[1:]:
            store.close()

    # -- the queue --------------------------------------------------------------------
    def load(self, filters: Filters | None = None) -> None:
        """Read the queue from the store under ``filters`` (kept for the next reads)."""
        self.filters = filters or self.filters
        f = self.filters
        mine_only = self.reviewer if self.blind else None
        # the pending suggestions (the store's one definition of pending), and one item per
        # decision in force: every suggestion not pending has one, so the suggestions in force
        # are not read twice (the load was 0.7 s at 18,000 suggestions)
        pending = self.store.suggestions_frame(pending=True, reviewer=mine_only, places=False)
        decisions = self.store.decisions_frame(in_force=True, reviewer=mine_only)
        shown = {(r.segment_id, r.key): r for r in decisions.itertuples(index=False)}  # the latest, whoever
        mine = {(r.segment_id, r.key): (r.decision, r.code, _text(r.direction) or None, r.comment)
                for r in decisions.itertuples(index=False) if r.reviewer == self.reviewer}
        places = self.places = self._places()
        items = []
        # columns as lists: iterating pandas' string arrays one value at a time was most of the load
        columns = {c: pending[c].tolist() for c in ("suggestion_id", "segment_id", "code", "direction", "score",
                                                     "confidence", "evidence", "source")}
        for key, segment, code, direction, score, confidence, evidence, source in zip(*columns.values()):
            place = places.get(segment)
            if place is not None:
                items.append(Item(key, key, segment, *place, code, _text(direction), float(score), _text(confidence),
                                  _text(evidence), _text(source), "pending", None, mine.get((segment, code))))
        for (segment, code), d in shown.items():
            place = places.get(segment)
            if place is None:  # a stale decision: its segment's text changed since
                place = (d.document_id, d.document, int(d.segment_start), _text(d.speaker), _case(d.metadata))
            suggestion = d.suggestion_id if isinstance(d.suggestion_id, str) else None
            items.append(Item(suggestion or f"d{d.decision_id}", suggestion, segment, *place, code,
                              _text(d.seen_direction) or _text(d.direction),
                              float(d.seen_score) if pd.notna(d.seen_score) else None, _text(d.seen_confidence),
                              _text(d.seen_evidence), _text(d.seen_source), status_of(d.decision, bool(d.stale)),
                              (d.decision, d.code, _text(d.direction), d.reviewer), mine.get((segment, code))))
        items = [i for i in items if self._matches(i, f)]
        if f.next_only or f.order == "next":
            rank = {s: n for n, s in enumerate(self.next_ranking())}
            if f.next_only:
                items = [i for i in items if i.segment_id in rank]
            if f.order == "next":
                items.sort(key=lambda i: (rank.get(i.segment_id, len(rank)), i.document, i.start))
                self.items = items
                return
        items.sort(key=lambda i: (i.document, i.start, -(i.score or 0), i.code))
        self.items = items

    def _places(self) -> dict[str, tuple]:
        """``{segment_id: (document_id, document, start, speaker, case)}`` of the current segments."""
        frame = self.store.segments_frame()
        cases = {m: _case(m) for m in frame["metadata"].unique()}
        return {s: (d, p, int(st), _text(sp), cases[m]) for s, d, p, st, sp, m in zip(*(
            frame[c].tolist() for c in ("segment_id", "document_id", "document", "segment_start", "speaker", "metadata")))}

    def _matches(self, item: Item, f: Filters) -> bool:
        return ((f.status == "all" or item.status == f.status)
                and (not f.code or item.code == f.code) and (not f.direction or item.direction == f.direction)
                and (not f.case or item.case == f.case) and (not f.speaker or item.speaker == f.speaker)
                and (not f.document or item.document_id == f.document)
                and (not f.confidence or item.confidence == f.confidence or (f.confidence == "normal" and not item.confidence)))

    def next_ranking(self) -> list[str]:
        """``pilah review next``'s ranking of the unreviewed segments (computed once per start)."""
        if self._next_ranking is None:
            from pipeline.retrain import next_for_review

            with self.project() as project:
                self._next_ranking = next_for_review(project, n=1_000_000)
        return self._next_ranking

    def project(self):
        """The workspace's project (its folder, settings and codebook) with a store
        connection of its own, for the caller's thread; close it when done."""
        from pipeline.project import Project

        return Project(self.root, self.config, self.codebook, [], self.root / "out")

    def first_pending(self) -> int:
        return next((n for n, item in enumerate(self.items) if item.status == "pending"), 0)

    def next_index(self, index: int) -> int:
        """The next pending item after ``index`` (wrapping round), else the next one."""
        n = len(self.items)
        for step in range(1, n + 1):
            k = (index + step) % n
            if self.items[k].status == "pending" and (k > index or self.filters.status == "pending"):
                return k
        return min(index + 1, max(n - 1, 0))

    def locate(self, index: int, key: str | None) -> int:
        """The index of the item ``key`` (``index`` when it is there, or no key is given)."""
        if key is None or (0 <= index < len(self.items) and self.items[index].key == key):
            return index
        found = next((n for n, item in enumerate(self.items) if item.key == key), None)
        if found is None:
            raise WorkspaceError("that suggestion is no longer in this queue (it was filtered in another tab): "
                                 "nothing was saved; decide it again here")
        return found

    def item(self, index: int) -> Item:
        if not 0 <= index < len(self.items):
            raise WorkspaceError(f"no item {index} in the queue (it holds {len(self.items)})")
        return self.items[index]

    def options(self) -> dict[str, list[str]]:
        """The values the filters offer (from the items of the project, not only those shown)."""
        places = self.places
        codes = [c.id for c in self.codebook.codable()]
        return {"code": codes, "direction": list(DIRECTIONS),
                "case": sorted({p[4] for p in places.values() if p[4]}),
                "speaker": sorted({p[3] for p in places.values() if p[3]}),
                "document": sorted({(p[0], p[1]) for p in places.values()}, key=lambda d: d[1]),
                "status": list(STATUSES), "confidence": ["low", "normal"]}

    # -- deciding ---------------------------------------------------------------------
    def decide(self, index: int, action: str, code: str | None = None, direction: str | None = None,
               comment: str = "", key: str | None = None) -> int:
        """Decide on item ``index``: ``accept``, ``reject``, ``edit`` (``code`` and/or
        ``direction``) or ``direction`` (the suggestion with another direction). Written at
        once; returns the index of the item to show next.

        ``key``: the item the page showed (its suggestion id). When the queue changed since
        (filtered in another tab), the decision goes to that item wherever it is now, never
        to whatever holds ``index``; an item no longer in the queue is an error."""
        index = self.locate(index, key)
        item = self.item(index)
        if item.suggestion_id is None:
            raise WorkspaceError("this decision has no suggestion in force to decide on; code its segment in the document view")
        decision = self._decision(item, action, code, direction, comment)
        self._write(index, decision, item.mine)
        return self.next_index(index)

    def _decision(self, item: Item, action: str, code: str | None, direction: str | None, comment: str) -> Decision:
        if action in ("edit", "direction"):
            code = code or (item.mine[1] if item.mine and item.mine[0] != "reject" else item.code)
            direction = direction or item.direction
            self._check(code, direction)
            action = "accept" if (code, direction) == (item.code, item.direction) else "edit"
        if action in ("accept", "reject"):
            return Decision(item.segment_id, item.suggestion_id, action, item.code, item.direction or None,
                            self.reviewer, comment, SOURCE)
        if action == "edit":
            return Decision(item.segment_id, item.suggestion_id, "edit", code, direction, self.reviewer, comment, SOURCE)
        raise WorkspaceError(f"unknown decision {action!r}: expected accept, reject, edit or direction")

    def _check(self, code: str, direction: str | None) -> None:
        if code not in self.codebook.codes or not self.codebook.codes[code].codable:
            raise WorkspaceError(f"{code!r} is not a codable code of the codebook")
        if direction is not None and direction not in DIRECTIONS:
            raise WorkspaceError(f"direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")

    def _write(self, index: int | None, decision: Decision, previous: tuple | None) -> None:
        self.store.add_decisions([decision])
        item = self.items[index] if index is not None else None
        decided_on = item.code if item is not None else decision.code
        self._undo.append((item.key if item is not None else None, decided_on, decision, previous))
        if index is not None:
            self._applied(index, decision)

    def _applied(self, index: int, d: Decision) -> None:
        item = self.items[index]
        if d.decision == UNDO:
            item.mine, item.decision, item.status = None, None, "pending"
            return
        item.mine = (d.decision, d.code, d.direction, d.comment)
        item.decision = (d.decision, d.code, d.direction or "", d.reviewer)
        item.status = status_of(d.decision, item.status == "stale")

    def undo(self) -> int | None:
        """Take the last decision of this session back by appending the decision in force
        before it (an ``undo`` decision when there was none). Returns the item's index."""
        if not self._undo:
            return None
        key, decided_on, done, previous = self._undo.pop()
        # the item where it is now: the queue may have been filtered since
        index = next((n for n, item in enumerate(self.items) if item.key == key), None) if key else None
        if previous is None:
            back = Decision(done.segment_id, done.suggestion_id, UNDO, decided_on, done.direction, self.reviewer, "",
                            SOURCE)
        else:
            kind, code, direction, comment = previous
            back = Decision(done.segment_id, done.suggestion_id, kind, code, direction, self.reviewer, comment, SOURCE)
        self.store.add_decisions([back])
        if index is not None:
            self._applied(index, back)
        return index

    # -- documents and span codings ------------------------------------------------------
    def document(self, document_id: str) -> dict:
        """A document with its segments, each with its suggestions in force and codings in
        force (only this reviewer's in blind mode), pieces cut at every coding boundary."""
        doc = self.document_text(document_id)
        segments = self.store.segments_frame([document_id])
        suggestions = self.store.suggestions_frame([document_id], places=False)
        pending = set(self.store.suggestions_frame([document_id], pending=True,
                                                   reviewer=self.reviewer if self.blind else None,
                                                   places=False)["suggestion_id"])
        codings = self.store.codings_frame()
        codings = codings[(codings["document_id"] == document_id) & ~codings["stale"]]
        if self.blind:
            codings = codings[codings["coder"] == self.reviewer]
        by_segment = {}
        for s in segments.itertuples(index=False):
            mine = codings[codings["segment_id"] == s.segment_id]
            spans = [(int(c.start), int(c.end), c.code, _text(c.direction), c.coder)
                     for c in mine.itertuples(index=False)]
            proposed = suggestions[suggestions["segment_id"] == s.segment_id]
            by_segment[s.segment_id] = {
                "segment_id": s.segment_id, "start": int(s.segment_start), "end": int(s.segment_end),
                "speaker": _text(s.speaker), "timestamp": _text(s.timestamp),
                "pieces": _pieces(s.segment_text, int(s.segment_start), spans),
                "codings": spans,
                "suggestions": [{"suggestion_id": p.suggestion_id, "code": p.code, "direction": _text(p.direction),
                                 "score": float(p.score), "pending": p.suggestion_id in pending}
                                for p in proposed.itertuples(index=False)],
            }
        used = {c[2] for s in by_segment.values() for c in s["codings"]} | {
            p["code"] for s in by_segment.values() for p in s["suggestions"] if p["pending"]}
        return {**doc, "case": _case(doc["metadata"]), "segments": list(by_segment.values()),
                "codes": [c.id for c in self.codebook.codable() if c.id in used]}  # the legend: codes shown here

    def document_text(self, document_id: str) -> dict:
        """The stored document ``document_id`` (``Store.document_text``); ``WorkspaceError``
        when the project has none."""
        doc = self.store.document_text(document_id)
        if doc is None:
            raise WorkspaceError(f"no document {document_id!r} in this project")
        return doc

    def code_span(self, segment_id: str, start: int, end: int, code: str, direction: str | None,
                  suggestion_id: str | None = None) -> Decision:
        """Code ``[start, end)`` (code points of the document text, within one segment):
        an ``add`` of ``code``, or with ``suggestion_id`` that suggestion accepted (or edited)
        on the span only."""
        direction = direction or None
        self._check(code, direction)
        text, active = self.store.segment_texts([segment_id]).get(segment_id, (None, False))
        if text is None or not active:
            raise WorkspaceError(f"no current segment {segment_id!r} in this project")
        if segment_id not in self.places:
            self.places = self._places()
        first = self.places[segment_id][2]
        place = (first, first + len(text))  # a segment's text is the document's text[start:end]
        if not place[0] <= start < end <= place[1]:
            raise WorkspaceError(f"the span {start}–{end} is not inside segment {segment_id!r} ({place[0]}–{place[1]})")
        previous = None
        if suggestion_id:
            seen = self.store.suggestion_rows([suggestion_id]).get(suggestion_id)
            if seen is None or seen["segment_id"] != segment_id:
                raise WorkspaceError(f"suggestion {suggestion_id!r} is not on segment {segment_id!r}")
            kind = "accept" if (code, direction) in ((seen["code"], seen["direction"]), (seen["code"], None)) else "edit"
            decision = Decision(segment_id, suggestion_id, kind, code, direction or seen["direction"], self.reviewer,
                                "", SOURCE, (start, end))
            key = seen["code"]
        else:
            decision = Decision(segment_id, None, "add", code, direction, self.reviewer, "", SOURCE, (start, end))
            key = code
        index = next((n for n, i in enumerate(self.items) if i.segment_id == segment_id and i.code == key
                      and i.suggestion_id == (suggestion_id or i.suggestion_id)), None)
        if index is not None:
            previous = self.items[index].mine
        self._write(index, decision, previous)  # the queue item of the same code on this segment follows
        return decision

    def context(self, item: Item) -> list[dict]:
        """The item's segment with ``CONTEXT_TURNS`` turns before and after it."""
        frame = self.store.segments_frame([item.document_id])
        at = frame.index[frame["segment_id"] == item.segment_id]
        if not len(at):  # a stale decision: its segment is no longer in the document
            text = self.store.segment_texts([item.segment_id]).get(item.segment_id, ("", False))[0]
            return [{"segment_id": item.segment_id, "speaker": item.speaker, "focus": True,
                     "pieces": highlight(text, evidence_terms(item.evidence))}]
        k = int(at[0])
        rows = frame.iloc[max(k - CONTEXT_TURNS, 0):k + CONTEXT_TURNS + 1]
        terms = evidence_terms(item.evidence)
        return [{"segment_id": r.segment_id, "speaker": _text(r.speaker), "focus": r.segment_id == item.segment_id,
                 "pieces": highlight(r.segment_text, terms) if r.segment_id == item.segment_id else [(r.segment_text, False)]}
                for r in rows.itertuples(index=False)]

    # -- memos --------------------------------------------------------------------------
    def add_memo(self, target: str, target_id: str, text: str, replaces: int | None = None) -> int:
        """Append a memo on the project, a code, a document or a segment of this project;
        ``replaces``: the memo in force on the same target it is a new version of. Refused
        (nothing stored): no text, text over ``MAX_MEMO`` characters, a target that is not
        in the project, a ``replaces`` that is not a memo in force on that target."""
        text = text.strip()
        if not text:
            raise WorkspaceError("a memo needs some text")
        if len(text) > MAX_MEMO:
            raise WorkspaceError(f"a memo holds at most {MAX_MEMO:,} characters; this one has {len(text):,}: "
                                 "shorten it or split it into several memos")
        if target == "project":
            target_id = ""
        elif target == "code" and target_id not in self.codebook.codes:
            raise WorkspaceError(f"{target_id!r} is not a code of the codebook")
        elif target == "document":
            self.document_text(target_id)
        elif target == "segment" and target_id not in self.store.segment_texts([target_id]):
            raise WorkspaceError(f"no segment {target_id!r} in this project")
        if replaces is not None and replaces not in set(self.store.memos_frame(target, target_id)["memo_id"]):
            raise WorkspaceError(f"memo {replaces} is not a memo in force on this {target}: nothing was saved")
        return self.store.add_memo(target, target_id, text, self.reviewer, replaces)

    def memos(self, search: str = "", target: str | None = None, target_id: str | None = None) -> pd.DataFrame:
        frame = self.store.memos_frame(target, target_id, search or None)
        if self.blind:
            frame = frame[frame["author"] == self.reviewer]
        return frame

    # -- two coders, progress, retrain ------------------------------------------------------
    def coders(self) -> list[str]:
        return sorted(set(self.store.decisions_frame(in_force=True)["reviewer"]))

    def disagreements(self, a: str, b: str) -> dict:
        """The segments both coders reviewed where their codes (or a code's direction)
        differ, side by side, with Cohen's κ per code (``pipeline.agreement``)."""
        from pipeline.agreement import coder_agreement

        figures = coder_agreement(self.store, [a, b])
        pair = f"{a}|{b}"
        kappas = {code: e["pairs"][pair] for code, e in figures["per_code"].items()}
        decisions = self.store.decisions_frame(in_force=True)
        decisions = decisions[~decisions["stale"]]
        reviewed = {c: set(decisions.loc[decisions["reviewer"] == c, "segment_id"]) for c in (a, b)}
        codings = self.store.codings_frame()
        codings = codings[~codings["stale"] & codings["segment_id"].notna()]
        coded = {c: {} for c in (a, b)}
        for row in codings[codings["coder"].isin([a, b])].itertuples(index=False):
            coded[row.coder].setdefault(row.segment_id, {})[row.code] = _text(row.direction)
        both = reviewed[a] & reviewed[b]
        differ = sorted(s for s in both if coded[a].get(s, {}) != coded[b].get(s, {}))
        texts = self.store.segment_texts(differ)
        places = self.places
        rows = [{"segment_id": s, "text": texts.get(s, ("", False))[0],
                 "document": places.get(s, ("", "", 0, "", ""))[1], "speaker": places.get(s, ("", "", 0, "", ""))[3],
                 "a": sorted(coded[a].get(s, {}).items()), "b": sorted(coded[b].get(s, {}).items())} for s in differ]
        return {"a": a, "b": b, "both": len(both), "kappa": kappas, "rows": rows}

    def progress(self) -> dict:
        """Per code and overall: suggested, decided, pending; the model's κ against the
        reviewers and its distance to the readiness threshold."""
        from pipeline.agreement import READY_KAPPA, coder_agreement
        from pipeline.decisions import review_status

        status = review_status(self.store)
        figures = coder_agreement(self.store)
        rows = []
        for code, c in status["per_code"].items():
            decided = c["accepted"] + c["rejected"] + c["edited"] + c["added"]
            kappa = figures["per_code"].get(code, {}).get("model_kappa")
            rows.append({"code": code, "label": self.label(code), **c, "decided": decided,
                         "done": decided / (decided + c["pending"]) if decided + c["pending"] else None,
                         "model_kappa": kappa, "to_ready": None if kappa is None else round(READY_KAPPA - kappa, 3)})
        total = status["pending"] + sum(r["decided"] for r in rows)
        return {"rows": rows, "pending": status["pending"], "decisions": status["decisions"],
                "done": (total - status["pending"]) / total if total else None, "ready_kappa": READY_KAPPA,
                "reviewers": status["per_reviewer"]}

    def start_retrain(self) -> bool:
        """Run ``pilah retrain`` (``pipeline.retrain.retrain``) in a background thread, with
        its own connection to the store; False when one is running already."""
        if self.retrain_job.state == "running":
            return False
        job = self.retrain_job = Retrain(state="running")

        def work():
            from pipeline.retrain import retrain

            try:
                with self.project() as project:  # a connection of this thread's own
                    job.report = retrain(project)
                self._next_ranking = None  # ranked by the model in use, which may have changed
                job.state = "done"
            except PilahError as exc:
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # noqa: BLE001 - shown in the page; the workspace goes on
                log.exception("retrain failed")
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"

        job.thread = threading.Thread(target=work, name="pilah-retrain", daemon=True)
        job.thread.start()
        return True

    # -- words ----------------------------------------------------------------------------
    def label(self, code: str) -> str:
        found = self.codebook.codes.get(code)
        return found.label_in("en" if self.lang == "en" else "id") if found else code

    def code_choices(self) -> list[dict]:
        return [{"id": c.id, "label": c.label_in("en" if self.lang == "en" else "id"), "definition": c.definition,
                 "search": " ".join([*c.label.values(), c.definition])}  # found by either language's label
                for c in self.codebook.codable()]


def _case(metadata) -> str:
    import json

    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata or "{}")
        except ValueError:
            return ""
    return str((metadata or {}).get("case", "")) if isinstance(metadata, dict) else ""


def _pieces(text: str, offset: int, spans: list[tuple]) -> list[dict]:
    """The segment's text cut at every coding boundary: ``{"text", "start", "codes"}`` with
    ``start`` in document code points and the codings covering the piece."""
    cuts = {0, len(text)}
    for start, end, *_ in spans:
        cuts.update((min(max(start - offset, 0), len(text)), min(max(end - offset, 0), len(text))))
    cuts = sorted(cuts)
    pieces = []
    for a, b in zip(cuts, cuts[1:]):
        covering = [s for s in spans if s[0] - offset <= a and b <= s[1] - offset and (s[0], s[1]) != (offset, offset + len(text))]
        pieces.append({"text": text[a:b], "start": offset + a, "codes": covering})
    return pieces or [{"text": text, "start": offset, "codes": []}]


def counts(items: list[Item]) -> Counter:
    return Counter(item.status for item in items)
