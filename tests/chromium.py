"""Headless Chromium for the report tests: the DOM after rendering, the requests a page
made, and screenshots. Chromium is the Debian package ``chromium`` (``.ci/run`` installs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Chromium's own background traffic (updates, sign-in) is switched off where a flag allows
# and sent to a closed local port where not; the page's requests are told apart by their
# initiator (the page's origin) in the net log.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--proxy-server=127.0.0.1:9", "--mute-audio")


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    raise AssertionError("headless Chromium is needed: `apt-get install chromium` (.ci/run installs it)")


def _run(args: list[str], workdir: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    profile = workdir / "chromium-profile"
    return subprocess.run([browser(), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          timeout=timeout, check=False, text=True)


def render(page: Path, workdir: Path) -> tuple[str, list[str]]:
    """The page's DOM after loading, and the URLs of every request the page itself made
    (Chromium's own background requests left out)."""
    netlog = workdir / "netlog.json"
    done = _run([f"--log-net-log={netlog}", "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()], workdir)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads(netlog.read_text(encoding="utf-8"))
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    requests = [event["params"]["url"] for event in log["events"]
                if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in event.get("params", {})
                and event["params"].get("initiator") != "not an origin"]
    return done.stdout, requests


def screenshot(page: Path, png: Path, workdir: Path, width: int = 1400, height: int = 1800, anchor: str = "") -> Path:
    url = page.resolve().as_uri() + (f"#{anchor}" if anchor else "")
    done = _run([f"--window-size={width},{height}", f"--screenshot={png}", url], workdir)
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]
    return png
