"""`pilah serve`: the review workspace, local and offline, in the browser.

``serve`` binds 127.0.0.1 only, makes a random token for this start, and runs the
Starlette application of :mod:`pipeline.serve.app` over a :class:`~pipeline.serve.workspace.Workspace`
of the project until it is stopped (Ctrl+C).

**One writer.** One workspace per project at a time: it holds ``.pilah/workspace.lock``
(the operating system's lock, released if it is killed), and a second ``pilah serve`` on the
same project stops at once with a message. Each decision made in the browser is committed
to the store (and flushed to disk) before its answer is sent, so nothing typed is held in
the browser or the server. ``pilah run`` and ``pilah review import`` may run while the
workspace is open: SQLite makes each writer wait for the other's transaction (a run commits
every half second), a run never changes a decision, and a sheet import only appends. A
sheet saved *before* a decision made in the workspace cannot overrule it: its row for that
suggestion is left out and reported (``pipeline.decisions.import_sheet``), so the decision
made later in the browser stays in force. The workspace shows a run's new suggestions when
its queue is filtered or reloaded.
"""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from pipeline.errors import PilahError
from pipeline.store import STORE_DIR

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOCK_FILE = "workspace.lock"


class ServeError(PilahError):
    """The workspace cannot start (the port is taken, another workspace holds the project)."""


def workspace_lock(root: Path) -> FileLock:
    """Hold the project for this workspace; ``ServeError`` when another one holds it."""
    path = Path(root) / STORE_DIR / LOCK_FILE
    lock = FileLock(path, timeout=0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise ServeError(f"{root}: a workspace (`pilah serve`) is open on this project already (it holds {path}); "
                         "use that one, or stop it first") from None
    except OSError as exc:
        raise ServeError(f"{path}: cannot write in the project folder: {exc.strerror or exc}") from None
    return lock


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (``port`` 0: a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # answers go out at once: with Nagle's algorithm a small answer written as headers then
    # body waited for the browser's delayed acknowledgement, 40 ms a decision (bench/serve.py)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((HOST, port))
    except (OSError, OverflowError) as exc:  # OverflowError: a port past 65535
        sock.close()
        reason = getattr(exc, "strerror", None) or exc
        raise ServeError(f"{HOST}:{port}: cannot listen there ({reason}); choose another --port") from None
    sock.listen(64)
    return sock


def serve(project, port: int = 0, reviewer: str | None = None, on_ready: Callable[[str], None] | None = None) -> None:
    """Run the workspace of ``project`` (a :class:`pipeline.project.Project`) until stopped.

    ``on_ready`` gets the URL with this start's token once the server listens.
    """
    import uvicorn

    from pipeline.serve.app import create_app
    from pipeline.serve.workspace import Workspace

    if not project.store_exists():
        raise ServeError(f"{project.root}: no project database yet (.pilah/): run `pilah run` first, then review")
    lock = workspace_lock(project.root)
    try:
        sock = bind(port)
    except ServeError:
        lock.release()  # the project is free again for the next try
        raise
    try:
        port = sock.getsockname()[1]
        token = secrets.token_urlsafe(24)

        workspace = Workspace(project.store, project.codebook, project.config, project.root,
                              reviewer or project.reviewer(), project.lang())
        app = create_app(workspace, token, hosts=(f"{HOST}:{port}", f"localhost:{port}"), on_close=workspace.close)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        server = uvicorn.Server(config)
        url = f"http://{HOST}:{port}/?token={token}"
        original = server.startup

        async def startup(sockets=None):
            await original(sockets=sockets)
            if on_ready is not None:
                on_ready(url)

        server.startup = startup
        server.run(sockets=[sock])
    finally:
        sock.close()
        lock.release()
