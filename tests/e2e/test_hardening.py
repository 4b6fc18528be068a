"""Hardening (issue 12) in a real browser: the real app in Debian's Chromium.

- item 1: Markdown, HTML and LaTeX links in every field that comes from a data file (dataset
  name, problem, generator, split, category, tags, scorer name, step text) load nothing, link
  nowhere: a logging HTTP server on 127.0.0.1 that every payload points at receives no request,
  and no ``<a href>`` / ``<img src>`` in the page points at it (or at a ``data:`` / ``mailto:`` URL).
- item 9: every request of every page goes to the app itself (no fonts.gstatic.com icon, no CDN).
- item 5: a 200,000-step trace: the Trace page shows one page of steps (``?step=k`` opens the page
  holding step k, a button jumps to the first error) and the Explorer heatmap is cut at its
  column cap with a marker.
- item 3: a page opened while a CLI command holds the store names it, then opens by itself once
  the store is free (no reload).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.server import CHROMIUM, ROOT, app_server, launch_browser, snap, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PAGES = ["/", "/library", "/jobs", "/explorer", "/trace", "/localisation", "/compare", "/export"]


def _require_browser() -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")


@pytest.fixture(scope="module")
def logger() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request it gets: ``(base_url, paths)``."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def payload(url: str, where: str) -> str:
    """Every link / image form, each pointing at the logger with ``where`` in its path."""
    return (f"![i]({url}/{where}-img) [l]({url}/{where}-link) <{url}/{where}-auto> {url}/{where}-bare "
            f"www.example.org/{where} mail-{where}@example.org [d](data:text/html;base64,PGI+) "
            f"<img src={url}/{where}-html> [r][x]\n\n[x]: {url}/{where}-ref\n\n"
            f"$\\href{{{url}/{where}-tex}}{{t}}$ $\\url{{{url}/{where}-url}}$ :red[c] text[^n]\n\n[^n]: note")


def _hostile_store(db: Path, url: str) -> dict[str, str]:
    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store

    one_line = lambda s: " ".join(payload(url, s).split("\n\n")[0].split())  # noqa: E731 - names are one line
    out: dict[str, str] = {}
    with Store(db) as store:
        for run in ("with", "without"):
            src = db.parent / f"{run}.jsonl"
            rows = [{"q": payload(url, f"problem{k}"), "s": [payload(url, f"step{k}-{j}") for j in range(3)],
                     "g": one_line("generator"), "sp": one_line("split"), "c": one_line("category"),
                     "fe": 1, "ok": k % 2 == 0} for k in range(3)]
            src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
            report = import_file(store, src, fmt="generic", name=one_line(f"dataset-{run}"),
                                 tags={"process_reward": run, "note": one_line("tag")},
                                 options={"map": {"problem": "q", "steps": "s", "generator": "g", "split": "sp",
                                                  "category": "c", "first_error": "fe", "correct": "ok"}})
            out[run] = report.dataset_id
        store.upsert_scorer({"scorer_id": "s-hostile", "name": one_line("scorer"), "recipe": "imported",
                             "threshold": 0.5})
        steps = store.cursor().execute("SELECT trace_id, step_idx FROM steps").df()
        store.insert_step_scores(steps.assign(scorer_id="s-hostile", score=0.3, raw=None, note=None))
        out["trace"] = str(steps["trace_id"].iloc[0])
    return out


_LINKS_JS = """(needles) => {
    const bad = [];
    for (const el of document.querySelectorAll('a, img, image, source, iframe, link, use')) {
        for (const attr of ['href', 'xlink:href', 'src', 'srcset']) {
            const v = el.getAttribute(attr);
            if (v && needles.some(n => v.includes(n))) bad.push(el.tagName + ' ' + attr + '=' + v);
        }
    }
    return bad;
}"""


def test_data_loads_and_links_nothing_and_no_page_calls_out(tmp_path: Path, logger: tuple[str, list[str]]) -> None:
    """Items 1 and 9."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    url, hits = logger
    ids = _hostile_store(tmp_path / "hostile.duckdb", url)
    needles = [url, "data:text", "mailto:", "example.org", "user-content-fn"]
    views = {
        "trace": f"/trace?trace={ids['trace']}",
        "library": "/library",
        "explorer": f"/explorer?scorer=s-hostile&ds={ids['with']}&ds={ids['without']}",
    }
    with app_server(tmp_path / "hostile.duckdb", env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc):
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            found: dict[str, list[str]] = {}
            for name, path in views.items():
                page.goto(base + path)
                wait_idle(page, timeout=90)
                if name == "explorer":
                    # the view switch (a segmented control: only the chosen view is drawn)
                    page.get_by_role("radio", name="Table", exact=True).click()
                    wait_idle(page)
                    assert page.locator("[data-testid='stDataFrame']").count() == 1
                    found["explorer table"] = page.evaluate(_LINKS_JS, needles)
                    page.get_by_role("radio", name="Heatmap", exact=True).click()
                    wait_idle(page)
                    # hover a cell: the hover label is drawn from the (escaped) row label
                    page.locator(".js-plotly-plot .point").first.hover(force=True)
                if name == "library":
                    page.get_by_text("Edit tags or delete a dataset").click()
                    wait_idle(page)
                snap(page, f"hardening-{name}")
                found[name] = page.evaluate(_LINKS_JS, needles)
                if name == "trace":  # the payloads show as text
                    assert page.get_by_text("step0-0-img", exact=False).count() > 0
            fetched = list(hits)
            # every page, for item 9 (other hosts; the logger's own hits there are another page's matter)
            for path in PAGES:
                page.goto(base + path)
                wait_idle(page, timeout=90)
            browser.close()
    assert fetched == [], f"the data made the browser fetch {fetched}"
    assert {k: v for k, v in found.items() if v} == {}, "links or images from data"
    # (requests to the logger are data loading things: item 1, per page, above and in the next test)
    outside = sorted({r for r in requests if not r.startswith((base, url, "data:"))})
    assert outside == [], f"requests to other hosts: {outside}"


@pytest.mark.parametrize("analysis_page", ["compare", "localisation"])
def test_analysis_pages_load_and_link_nothing_from_data(tmp_path: Path, logger: tuple[str, list[str]],
                                                        analysis_page: str) -> None:
    """Item 1 on the Compare page (its 'Reading:' lines name splits and categories; every tab) and
    the Localisation page (split and scorer names in captions and readings)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    url, hits = logger
    hits.clear()
    _hostile_store(tmp_path / "cmp.duckdb", url)
    with app_server(tmp_path / "cmp.duckdb", env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc):
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.goto(f"{base}/{analysis_page}")
            wait_idle(page, timeout=90)
            # every tab, or every section of a one-section-at-a-time control (Compare)
            sections = page.get_by_role("tab").all() or \
                page.locator("[data-testid='stButtonGroup']").first.get_by_role("radio").all()
            for tab in [None, *sections]:
                if tab is not None:
                    tab.click()
                    wait_idle(page)
                bad = page.evaluate(_LINKS_JS, [url, "data:text", "mailto:", "example.org"])
                assert bad == [], (analysis_page, tab.inner_text() if tab else "", bad)
            browser.close()
    assert hits == [], (analysis_page, hits)


def _huge_store(db: Path, n: int = 200_000) -> str:
    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store

    src = db.parent / "huge.jsonl"
    rows = [{"id": "huge", "generator": "g", "problem": "A very long trace.",
             "steps": [f"Step text {k} with $x_{{{k}}}$." for k in range(n)], "label": 170_000}]
    rows += [{"id": f"short-{i}", "generator": "g", "problem": f"Short {i}", "steps": ["a", "b", "c"], "label": 1}
             for i in range(5)]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with Store(db) as store:
        report = import_file(store, src, fmt="processbench", name="huge")
        steps = store.cursor().execute("SELECT trace_id, step_idx FROM steps").df()
        store.upsert_scorer({"scorer_id": "s-huge", "name": "prm", "recipe": "imported", "threshold": 0.5})
        store.insert_step_scores(steps.assign(scorer_id="s-huge", score=[0.2 if k == 120_000 else 0.9 for k in steps["step_idx"]],
                                              raw=None, note=None))
        return str(store.cursor().execute("SELECT trace_id FROM traces WHERE dataset_id = ? AND n_steps = ?",
                                          [report.dataset_id, n]).fetchone()[0])


def test_a_200k_step_trace_is_paged_and_capped(tmp_path: Path) -> None:
    """Item 5 (timings: bench/bench_ui.py --huge, BENCHMARKS.md)."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    tid = _huge_store(tmp_path / "huge.duckdb")
    with app_server(tmp_path / "huge.duckdb", env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc):
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.goto(f"{base}/trace?trace={tid}&step=150000")
            wait_idle(page, timeout=120)
            snap(page, "hardening-huge-trace")
            blocks = page.locator("[class*='st-key-step_']")
            assert blocks.count() == 25  # one page (trace_page_steps) of 200,000
            assert page.locator(".st-key-step_150000").count() == 1
            assert page.locator(".st-key-step_150000").get_by_text("selected").count() == 1
            page.get_by_role("button", name="Gold first error: step 170,000").click()
            wait_idle(page, timeout=60)
            assert page.locator(".st-key-step_170000").get_by_text("gold first error").count() == 1
            assert "step=170000" in page.url
            page.get_by_role("button", name="Predicted (prm): step 120,000").click()
            wait_idle(page, timeout=60)
            assert page.locator(".st-key-step_120000").count() == 1

            page.goto(f"{base}/explorer?scorer=s-huge")
            wait_idle(page, timeout=120)
            snap(page, "hardening-huge-explorer")
            assert page.get_by_text("Traces longer than 150 steps show their first 150").count() == 1
            axis_max, names = page.evaluate("""() => {
                const gd = document.querySelector('.js-plotly-plot');
                return [gd.layout.xaxis.range[1], gd.data.map(t => t.name)];
            }""")
            assert axis_max < 152 and "more steps (not drawn past 150)" in names
            browser.close()


HOLDER = textwrap.dedent("""
    import sys
    sys.argv = [{main!r}, "import", "runs/big.jsonl"]
    from prm_viewer.store import Store
    s = Store({db!r})
    print("ready", flush=True)
    sys.stdin.read()
""")


def test_a_page_waits_for_a_held_store_and_opens_by_itself(tmp_path: Path) -> None:
    """Item 3."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    db = tmp_path / "held.duckdb"
    code = HOLDER.format(main=str(ROOT / "prm_viewer" / "__main__.py"), db=str(db))
    holder = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    try:
        with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc):
            with sync_playwright() as p:
                browser = launch_browser(p)
                page = browser.new_page(viewport={"width": 1400, "height": 1600})
                page.goto(base + "/library")
                page.get_by_text(f"(pid {holder.pid})").wait_for(timeout=60_000)
                text = page.locator("[data-testid='stAlert']").first.inner_text()
                assert "the CLI command `python -m prm_viewer import runs/big.jsonl`" in text
                assert page.locator("[data-testid='stException']").count() == 0
                snap(page, "hardening-store-held")
                holder.communicate("", timeout=30)  # the CLI command ends: the store is free
                page.get_by_role("tab", name="Datasets").wait_for(timeout=30_000)  # no reload
                assert page.get_by_text("held by").count() == 0
                browser.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
