"""Every URL the README documents opens its page in a real browser, with no "Page not found"
dialog: the default page (the Library) is served both at ``/`` and at ``/library``.

The first URL is opened on a freshly started server (Streamlit's legacy ``pages/`` mode, before
any session ran ``st.navigation``), the rest after it, then ``/library`` again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.server import CHROMIUM, app_server, launch_browser, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# URL path -> the page's title (st.title); the README's list of pages.
DOCUMENTED = {
    "/library": "Library", "/jobs": "Jobs", "/explorer": "Explorer", "/trace": "Trace",
    "/localisation": "Localisation", "/compare": "Compare runs", "/export": "Export", "/": "Library",
}


def test_readme_lists_these_urls() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in DOCUMENTED:
        if path != "/":
            assert f"`{path}`" in readme, path


def test_every_documented_url_opens_its_page(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    db = tmp_path / "store" / "prm.duckdb"
    db.parent.mkdir()
    seen: dict[str, str] = {}
    with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc), sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for path in [*DOCUMENTED, "/library"]:
            page.goto(base + path)
            wait_idle(page)
            title = DOCUMENTED[path]
            page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=30_000)
            wait_idle(page)
            body = page.locator("body").inner_text()
            assert "Page not found" not in body, f"{path}: {body[:300]}"
            assert not page.locator("[role='dialog']").count(), path
            assert not page.locator("[data-testid='stException']").count(), path
            assert re.fullmatch(re.escape(base + path), page.url), (path, page.url)
            seen[path] = title
        browser.close()
    assert set(seen) == set(DOCUMENTED)
