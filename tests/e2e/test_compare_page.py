"""The Compare page in a real browser: the headline card answers "did process rewards help?" with
the numbers an independent computation over the store gives, the tabs open, p-values read in
scientific notation, and the side-by-side view marks the first divergent step. A second store
whose names, splits, categories, problems and steps carry Markdown/HTML image and link payloads
pointing at a local logging server: the page makes no request there and has no link or image
from data. Screenshots go to artifacts/screenshots/compare_*.png."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.server import CHROMIUM, app_server, free_port, launch_browser, snap, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TABS = ["Accuracy", "Process quality", "Diversity & error types", "Generalisation", "Problems"]


def _require_browser() -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")


def _main_text(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator("[data-testid='stMain']").inner_text())


def _open_compare(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/compare")
    page.get_by_text("Did process rewards help?").wait_for(timeout=120_000)
    page.locator("[data-testid='stPlotlyChart'] .main-svg").first.wait_for(timeout=120_000)
    wait_idle(page, 120, quiet=1.5)


_FOUND_JS = """(host) => {
    const out = [];
    for (const a of document.querySelectorAll('a')) {
        const h = a.getAttribute('href') || a.getAttribute('xlink:href') || '';
        if (h.includes(host) || h.startsWith('data:')) out.push('a ' + h);
    }
    for (const i of document.querySelectorAll('img, image')) {
        const s = i.getAttribute('src') || i.getAttribute('href') || '';
        if (s.includes(host)) out.push('img ' + s);
    }
    return out;
}"""


def _tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Show one section (the segmented control under the headline; one section is drawn at a time)."""
    page.get_by_role("radio", name=name, exact=True).click()
    wait_idle(page, 120, quiet=1.5)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prm_viewer.demo import load_demo
    from prm_viewer.store import Store

    path = tmp_path_factory.mktemp("compare") / "demo.duckdb"
    with Store(path) as s:
        load_demo(s)
    return path


def _expected_accuracy_gap(db: Path) -> tuple[float, int]:
    """with - without accuracy over shared problems (mean over each problem's samples), computed
    directly from the store's tables, and the number of shared problems."""
    from prm_viewer.store import Store

    with Store(db) as s:
        df = s.cursor().execute(
            """SELECT json_extract_string(d.tags, '$.process_reward') AS arm, t.problem_id,
                      avg(CAST(t.final_answer_correct AS DOUBLE)) AS acc
               FROM traces t JOIN datasets d USING (dataset_id)
               WHERE t.final_answer_correct IS NOT NULL GROUP BY ALL""").df()
    wide = df.pivot(index="problem_id", columns="arm", values="acc").dropna()
    return float((wide["with"] - wide["without"]).mean()), len(wide)


def test_compare_page_reads_as_an_answer(demo_db: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    gap, n = _expected_accuracy_gap(demo_db)
    with app_server(demo_db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}, timeout=120) as (base, _):
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            _open_compare(page, base)
            card = page.locator(".st-key-cmp-head-card")
            text = card.inner_text()
            assert "Did process rewards help?" in text
            assert f"on {n} shared problems" in text and "Effects are A minus B" in text
            assert f"{100 * gap:+.1f} pts" in text  # the accuracy gap, with - without
            assert "Cohen's h" in text and "Paired odds ratio" in text and "McNemar p =" in text
            assert "95% CI" in text
            assert card.locator("[data-testid='stPlotlyChart']").count() == 1  # the forest plot
            snap(page, "compare_headline")

            for name in TABS:
                _tab(page, name)
            _tab(page, "Accuracy")
            acc = _main_text(page)
            assert "final-answer accuracy A" in acc and "exact McNemar p =" in acc

            _tab(page, "Process quality")
            proc = _main_text(page)
            # the demo's gold first-error positions differ strongly: printed as a power of ten
            assert "× 10⁻" in page.locator("[data-testid='stMain']").inner_html() or "× 10⁻" in proc
            assert "0.0000000" not in proc
            snap(page, "compare_process")

            _tab(page, "Generalisation")
            assert "largest gap by split is A − B" in _main_text(page)
            assert page.url.endswith("section=generalisation")  # the section is in the URL...
            page.goto(page.url)  # ...so a link opens it
            page.get_by_text("largest gap by split is A − B").wait_for(timeout=120_000)

            _tab(page, "Problems")
            page.get_by_text("Side by side, steps aligned").wait_for(timeout=60_000)
            sbs = _main_text(page)
            assert "where they first diverge" in sbs or "write the same steps throughout" in sbs
            assert "first error: gold" in sbs
            assert page.get_by_role("link", name="Open A's trace").count() == 1
            href = page.get_by_role("link", name="Open B's trace").get_attribute("href")
            assert href is not None and href.startswith("/trace?trace=")
            snap(page, "compare_side_by_side", max_height=7000)
            browser.close()


# --------------------------------------------------------------------------- hostile data


class _Log(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _Log.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def logging_server() -> Iterator[str]:
    port = free_port()
    srv = ThreadingHTTPServer(("127.0.0.1", port), _Log)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    _Log.hits = []
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.shutdown()


def _payloads(host: str, where: str) -> str:
    return (f"![i]({host}/img-{where}) [go]({host}/link-{where}) <img src=\"{host}/html-{where}\"> "
            f"<a href=\"{host}/a-{where}\">x</a> [d](data:text/html,hi)")


def test_compare_page_shows_data_as_inert_text(tmp_path: Path, logging_server: str) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store

    host = logging_server
    db = tmp_path / "hostile.duckdb"
    with Store(db) as s:
        for arm in ("with", "without"):
            recs = [{"q": f"Problem {i} " + _payloads(host, "problem"), "s": [f"step 1 {_payloads(host, 'step')}",
                     f"{i} + {i} = {2 * i + (arm == 'without' and i % 2)}"],
                     "ok": arm == "with" or i % 2 == 0, "fe": -1 if arm == "with" else 1,
                     "sp": _payloads(host, "split") + (" in" if i < 3 else " out"), "cat": _payloads(host, "category"),
                     "gen": _payloads(host, "generator"), "id": f"{arm}-{i}"} for i in range(6)]
            path = tmp_path / f"{arm}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
            import_file(s, path, fmt="generic", name=f"{arm} " + _payloads(host, "name"), tags={"process_reward": arm},
                        options={"map": {"problem": "q", "steps": "s", "correct": "ok", "first_error": "fe",
                                         "split": "sp", "category": "cat", "generator": "gen", "id": "id"}})
    with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}, timeout=120) as (base, _):
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            _open_compare(page, base)
            shown, found = {}, []
            for name in TABS:  # each section's DOM in turn: only the shown one is drawn
                _tab(page, name)
                shown[name] = _main_text(page)
                found += page.evaluate(_FOUND_JS, host)
            page.get_by_text("Side by side, steps aligned").wait_for(timeout=60_000)
            main = _main_text(page)
            snap(page, "compare_hostile", max_height=7000)
            browser.close()
    assert found == [], found
    assert _Log.hits == []
    # the names show as written, as text: the runs' at the top, the splits in the generalisation reading
    assert f"A = with ![i]({host}/img-name) [go]({host}/link-" in main
    assert f"![i]({host}/img-split)" in shown["Generalisation"]
