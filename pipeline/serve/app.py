"""The workspace as a Starlette application: pages and fragments rendered by Jinja2 (every
text escaped), swapped in by the vendored htmx, and a small script for the keys.

Access: every request must carry the start's random token, as ``?token=`` (the URL
``pilah serve`` prints; the answer sets it as a same-site, HTTP-only cookie for the page's
own later requests), as that cookie, or in the ``X-Pilah-Token`` header; anything else is
answered 403 with no project data. A request that changes something (POST) must carry the
token in the header (which a page of another site cannot set without a CORS permission that
is never given), name this server in ``Host`` (no DNS rebinding) and, when the browser sends
them, come from this origin (``Origin``, ``Sec-Fetch-Site``). Static files are Pilah's own,
from the package; no route reads a file by a name the request gives.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import sqlite3
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from pipeline.errors import PilahError
from pipeline.records import DIRECTIONS
from pipeline.serve.words import LANGS, words
from pipeline.serve.workspace import Filters, Workspace, WorkspaceError, counts, evidence_terms

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TOKEN_HEADER = "x-pilah-token"
SAFE_METHODS = ("GET", "HEAD")
MAX_BODY = 2 * 1024 * 1024  # bytes of a request body: a memo's 100,000 characters, percent-encoded, fit
TOO_LARGE = f"a change must say its length (Content-Length) and hold at most {MAX_BODY:,} bytes"
# Where the settings form may send the page back: a path of this workspace, nothing that a
# browser reads as another site (``//host``, ``/\host``) and nothing a header cannot hold.
BACK_PATH = re.compile(r"^/(?![/\\])[A-Za-z0-9_\-./?=&%+:;,~]*$")
# Every answer: scripts only from the workspace itself (no inline script runs, even if some
# text escaped the templates' escaping), nothing from elsewhere, never inside another site's
# frame (no clickjacking of the keys). htmx adds one <style> element, hence 'unsafe-inline'
# for styles only.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                 b"img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class Guard:
    """The token and cross-site checks of every request (see the module docstring)."""

    def __init__(self, app: ASGIApp, token: str, hosts: tuple[str, ...], cookie: str):
        self.app, self.token, self.hosts, self.cookie = app, token, hosts, cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        problem = self.problem(request)

        async def secured(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        if problem:
            status = 413 if problem == TOO_LARGE else 403
            await PlainTextResponse(f"{status} {'too large' if status == 413 else 'forbidden'}: {problem}",
                                    status_code=status)(scope, receive, secured)
            return
        await self.app(scope, receive, secured)

    def _same(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def problem(self, request: Request) -> str | None:
        host = request.headers.get("host", "")
        if host not in self.hosts:
            return "unknown host"
        if request.method in SAFE_METHODS:
            if not (self._same(request.query_params.get("token")) or self._same(request.cookies.get(self.cookie))
                    or self._same(request.headers.get(TOKEN_HEADER))):
                return "no valid token (open the URL `pilah serve` printed)"
            return None
        if not self._same(request.headers.get(TOKEN_HEADER)):
            return "a change needs the token in the X-Pilah-Token header"
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_BODY:
            return TOO_LARGE
        origin = request.headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.hosts}:
            return "cross-site request"
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "cross-site request"
        return None


def create_app(workspace: Workspace, token: str, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
               on_close: Callable[[], None] | None = None) -> Starlette:
    """The workspace's application. ``hosts``: the ``Host`` values it answers (with the port,
    e.g. ``127.0.0.1:8765``); ``on_close`` runs when the server stops."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(("html", "j2")),
                      trim_blocks=True, lstrip_blocks=True)
    cookie = "pilah_token_" + hmac.new(token.encode(), b"cookie", "sha256").hexdigest()[:8]
    ws = workspace

    def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        w = words(ws.lang)
        page = env.get_template(name).render(
            w=w, ui=w["ui"], token=token, ws=ws, directions=DIRECTIONS, langs=LANGS,
            htmx=request.headers.get("hx-request") == "true", **context)
        response = HTMLResponse(page, status_code=status_code)
        if request.query_params.get("token"):
            response.set_cookie(cookie, token, httponly=True, samesite="strict")
        return response

    def queue_context(index: int | None = None, error: str = "") -> dict:
        if not ws.items:
            return {"item": None, "index": 0, "total": 0, "counts": counts(ws.items), "filters": ws.filters,
                    "error": error}
        index = ws.first_pending() if index is None else max(0, min(index, len(ws.items) - 1))
        item = ws.items[index]
        code = ws.codebook.codes.get(item.code)
        return {"item": item, "index": index, "total": len(ws.items), "counts": counts(ws.items),
                "filters": ws.filters, "context": ws.context(item), "label": ws.label(item.code),
                "definition": code.definition if code else "", "terms": evidence_terms(item.evidence),
                "memos": ws.memos(target="segment", target_id=item.segment_id), "error": error}

    def document_page(request: Request, doc: dict, name: str = "_document.html.j2", focus: str = "",
                      error: str = "") -> HTMLResponse:
        return render(request, name, doc=doc, codes=ws.code_choices(), focus=focus, palette=palette(ws), error=error,
                      memos=ws.memos(target="document", target_id=doc["document_id"]))

    async def home(request: Request) -> Response:
        return render(request, "queue.html.j2", options=ws.options(), codes=ws.code_choices(), **queue_context())

    async def queue(request: Request) -> Response:
        q = request.query_params
        if "status" in q or "code" in q or q.get("reload"):
            ws.load(Filters.from_query(q))
            index = None
        else:
            index = whole(q.get("i"))
        name = "_queue.html.j2" if request.headers.get("hx-request") == "true" else "queue.html.j2"
        return render(request, name, options=ws.options(), codes=ws.code_choices(), **queue_context(index))

    async def decide(request: Request) -> Response:
        form = await read_form(request)
        index = whole(form.get("i"))
        try:
            if index is None:  # never a decision on whatever item 0 holds
                raise WorkspaceError(f"i={form.get('i', '')!r}: expected the number of a queue item; nothing was saved")
            index = ws.decide(index, form.get("action", ""), form.get("code") or None, form.get("direction") or None,
                              form.get("comment", ""), form.get("key") or None)
            error = ""
        except PilahError as exc:
            error = str(exc)
        return render(request, "_queue.html.j2", codes=ws.code_choices(), **queue_context(index, error))

    async def undo(request: Request) -> Response:
        form = await read_form(request)
        index = ws.undo()
        back = index if index is not None else whole(form.get("i"))
        if request.headers.get("hx-target") == "document":
            return await document(request)
        return render(request, "_queue.html.j2", codes=ws.code_choices(), **queue_context(back))

    async def document(request: Request) -> Response:
        document_id = request.query_params.get("id", "")
        try:
            doc = ws.document(document_id)
        except PilahError as exc:
            return render(request, "error.html.j2", status_code=404, error=str(exc))
        name = "_document.html.j2" if request.headers.get("hx-request") == "true" else "document.html.j2"
        return document_page(request, doc, name, focus=request.query_params.get("focus", ""))

    async def span(request: Request) -> Response:
        form = await read_form(request)
        error = ""
        try:  # the page to answer with first: an unknown document stores nothing
            ws.document_text(form.get("document_id", ""))
        except PilahError as exc:
            return render(request, "error.html.j2", status_code=404, error=str(exc))
        try:
            start, end = whole(form.get("start")), whole(form.get("end"))
            if start is None or end is None:
                raise WorkspaceError(f"the span {form.get('start', '')!r}–{form.get('end', '')!r}: expected two "
                                     "whole numbers (code points of the document)")
            ws.code_span(form.get("segment_id", ""), start, end,
                         form.get("code", ""), form.get("direction") or None, form.get("suggestion_id") or None)
        except PilahError as exc:
            error = str(exc)
        return document_page(request, ws.document(form.get("document_id", "")), error=error)

    async def documents(request: Request) -> Response:
        return render(request, "documents.html.j2", options=ws.options())

    async def memos(request: Request) -> Response:
        q = request.query_params
        frame = ws.memos(q.get("q", ""), q.get("target") or None, q.get("target_id") if q.get("target") else None)
        name = "_memos.html.j2" if request.headers.get("hx-request") == "true" else "memos.html.j2"
        return render(request, name, memos=frame, q=q.get("q", ""), codes=ws.code_choices(),
                      documents=ws.options()["document"])

    async def add_memo(request: Request) -> Response:
        form = await read_form(request)
        error = ""
        try:
            replaces = whole(form["replaces"]) if form.get("replaces") else None
            if form.get("replaces") and replaces is None:
                raise WorkspaceError(f"replaces={form['replaces']!r}: expected a memo's number; nothing was saved")
            target, target_id = form.get("target", "project"), form.get("target_id", "")
            if form.get("on"):  # the queue's memo panel: "segment:ID", "code:ID", "document:ID", "project:"
                target, _, target_id = form["on"].partition(":")
            ws.add_memo(target, target_id, form.get("text", ""), replaces)
        except PilahError as exc:
            error = str(exc)
        if form.get("back") == "queue":
            return render(request, "_queue.html.j2", codes=ws.code_choices(),
                          **queue_context(whole(form.get("i")), error))
        if form.get("back") == "document":
            try:
                doc = ws.document(form.get("target_id", ""))
            except PilahError as exc:
                return render(request, "error.html.j2", status_code=404, error=f"{error} {exc}".strip())
            return document_page(request, doc, error=error)
        return render(request, "_memos.html.j2", memos=ws.memos(), q="", error=error, codes=ws.code_choices())

    async def coders(request: Request) -> Response:
        names = ws.coders()
        a = request.query_params.get("a") or (names[0] if names else "")
        b = request.query_params.get("b") or (names[1] if len(names) > 1 else "")
        view = ws.disagreements(a, b) if a and b and a != b else None
        return render(request, "coders.html.j2", names=names, view=view, a=a, b=b)

    async def progress(request: Request) -> Response:
        name = "_retrain.html.j2" if request.query_params.get("part") == "retrain" else "progress.html.j2"
        return render(request, name, progress=ws.progress() if name == "progress.html.j2" else None,
                      job=ws.retrain_job)

    async def retrain(request: Request) -> Response:
        ws.start_retrain()
        return render(request, "_retrain.html.j2", job=ws.retrain_job)

    async def settings(request: Request) -> Response:
        form = await read_form(request)
        if form.get("lang") in LANGS:
            ws.lang = form["lang"]
        if "blind" in form:
            ws.blind = form["blind"] in ("1", "true", "on")
            ws.load()
        back = form.get("back", "")
        response = Response(status_code=200)
        if BACK_PATH.match(back):
            response.headers["HX-Redirect"] = back
        else:
            response.headers["HX-Refresh"] = "true"
        return response

    async def query(request: Request) -> Response:
        """``pilah query`` in the workspace (``pipeline.conclude.query``): the same expressions."""
        from pipeline.conclude import project_evidence
        from pipeline.conclude.query import QUERY_WORDS, run_query

        expression, result, rows, error = request.query_params.get("q", "").strip(), None, [], ""
        if expression:
            try:
                with ws.project() as project:
                    result = run_query(project_evidence(project, False, ("accepted", "pending")), expression,
                                       project.codebook)
            except PilahError as exc:
                error = str(exc)
        if result is not None:
            rows = [{**row, "where": " · ".join(str(row[k]) for k in ("case", "informant", "title", "place") if row[k])}
                    for row in result.rows.head(200).to_dict("records")]
        more = max(0, len(result.rows) - len(rows)) if result is not None else 0
        words_ = QUERY_WORDS[ws.lang] | {"run": "Cari" if ws.lang == "id" else "Search"}
        return render(request, "query.html.j2", q=expression, result=result, rows=rows, more=more, error=error,
                      qw=words_)

    async def state(request: Request) -> Response:
        """The workspace's figures as JSON (for scripts and tests)."""
        return JSONResponse({"reviewer": ws.reviewer, "lang": ws.lang, "blind": ws.blind, "items": len(ws.items),
                             "counts": dict(counts(ws.items)), "filters": ws.filters.query()})

    async def cannot_store(request: Request, exc: Exception) -> Response:
        """The store or a file could not be read or written (a full disk, a locked or damaged
        database): one line in the log and on the page, never a traceback; SQLite rolled the
        change back, so nothing was stored half-way."""
        what = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        message = f"{what}{getattr(exc, 'strerror', None) or exc}"
        log.error("workspace: %s %s: %s", request.method, request.url.path, message)
        return render(request, "error.html.j2", status_code=503,
                      error=f"the project could not be read or written ({message}); nothing was saved")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if on_close is not None:
            on_close()

    routes = [
        Route("/", home), Route("/queue", queue), Route("/decide", decide, methods=["POST"]),
        Route("/undo", undo, methods=["POST"]), Route("/document", document), Route("/documents", documents),
        Route("/span", span, methods=["POST"]), Route("/memos", memos), Route("/memos", add_memo, methods=["POST"]),
        Route("/coders", coders), Route("/progress", progress), Route("/retrain", retrain, methods=["POST"]),
        Route("/settings", settings, methods=["POST"]), Route("/state", state), Route("/query", query),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(Guard, token=token, hosts=hosts, cookie=cookie)],
                     exception_handlers={sqlite3.Error: cannot_store, OSError: cannot_store}, lifespan=lifespan)


PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4",
           "#b2df8a", "#fb9a99", "#cab2d6", "#ff7f00")


async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form (what htmx sends) as ``{name: last value}``; another body is refused."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    body = await request.body()
    if body and kind != "application/x-www-form-urlencoded":
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def whole(value: str | None) -> int | None:
    """A form's or URL's whole number (``i``, ``start`` …), ``None`` when it holds none
    (missing, not a number, or too long to be one)."""
    value = (value or "").strip()
    if not value or len(value) > 18 or not value.lstrip("-").isdigit():
        return None
    return int(value)


def palette(ws: Workspace) -> dict[str, str]:
    """A colour per code, in codebook order."""
    return {c.id: PALETTE[n % len(PALETTE)] for n, c in enumerate(ws.codebook.codable())}
