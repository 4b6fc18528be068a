"""Start the real app (``streamlit run app.py``) on a free 127.0.0.1 port against a given store,
and launch Debian's Chromium through Playwright. Used by the end-to-end tests and bench_ui.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def app_server(db: Path, env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run the app until the block exits; yields ``(base_url, process)``."""
    port = free_port()
    full_env = {**os.environ, "PRM_VIEWER_DB": str(db), **(env or {})}
    log = open(db.parent / f"streamlit-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}: {(db.parent / log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("streamlit did not become healthy in time")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def launch_browser(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


_SETTLED_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (app && app.getAttribute('data-test-script-state') === 'running') return -1;
    if (document.querySelector('[data-testid="stSkeleton"]')) return -1;
    if (document.querySelector('[data-stale="true"]')) return -1;
    for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
        if (!c.querySelector('.main-svg')) return -1;
    }
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main || !main.querySelector('[data-testid="stElementContainer"]')) return -1;
    return main.querySelectorAll('*').length;
}"""


def wait_idle(page, timeout: float = 30.0, quiet: float = 1.0) -> float:  # type: ignore[no-untyped-def]
    """Wait until the page has settled: no skeleton or stale element, every Plotly chart drawn,
    the script run over (``stApp``'s ``data-test-script-state`` is not ``running``: a slow query
    can leave the DOM unchanged for longer than ``quiet`` while the script still runs), and the
    main area unchanged for ``quiet`` seconds (Streamlit streams elements as the script runs,
    so an unchanged DOM is the sign that the browser has drawn them all). Returns the
    ``time.monotonic()`` of the last change, i.e. when the page was complete."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        size = page.evaluate(_SETTLED_JS)
        now = time.monotonic()
        if size <= 0 or size != last:
            last, since = size, now
        elif now - since >= quiet:
            return since
        page.wait_for_timeout(100)
    raise TimeoutError("the page did not settle in time")


def snap(page, name: str, max_height: int = 6000) -> Path:  # type: ignore[no-untyped-def]
    """Screenshot the whole page into artifacts/screenshots/<name>.png. Streamlit scrolls inside
    its main area, so the viewport is stretched to the content's height for the shot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stSidebarContent\"]')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)"
    )
    page.set_viewport_size({"width": size["width"], "height": int(min(max(height, size["height"]), max_height))})
    page.wait_for_timeout(300)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path
