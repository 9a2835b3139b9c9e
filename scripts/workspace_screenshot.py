"""Take docs/workspace.png: the review workspace's queue in headless Chromium (the system's).

A small project is built as tests/serve_helpers.py builds it, `pilah serve` is started, one
suggestion is accepted with the key `a`, and the queue is photographed on the next one.

    python scripts/workspace_screenshot.py [OUT.png]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from serve_helpers import make_project  # noqa: E402


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    pilah = Path(sys.executable).with_name("pilah")
    with tempfile.TemporaryDirectory() as folder:
        root = make_project(Path(folder) / "umkm", lang="en", reviewer="ani", hostile=False)
        server = subprocess.Popen([str(pilah) if pilah.exists() else "pilah", "serve", "--project", str(root),
                                   "--no-browser"], stdout=subprocess.PIPE, text=True)
        try:
            url = server.stdout.readline().strip()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                     args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1200, "height": 820}, device_scale_factor=1)
                page.goto(url)
                page.wait_for_selector("#item")
                page.keyboard.press("a")
                page.wait_for_selector("#queue .count.accepted b:text-is('1')")
                page.keyboard.press("a")
                page.wait_for_selector("#queue .count.accepted b:text-is('2')")
                page.wait_for_timeout(300)
                page.screenshot(path=str(out), full_page=False)
                browser.close()
        finally:
            server.terminate()
            server.wait(10)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "workspace.png")
