"""Step labelling end to end in a real browser: open a trace, give an annotator name, label three
steps with the keyboard only (keys pressed in the page: 1, J, 1, J, 2), then choose that annotator
as gold on the Localisation page and see its numbers change to what a hand computation gives.
After the server stops, the store holds exactly those labels and the imported gold is unchanged.
Screenshots of both pages go to artifacts/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prm_viewer.store import Store
from tests.annotation.test_ui import build_store
from tests.e2e.server import CHROMIUM, app_server, launch_browser, snap, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _reading(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.get_by_text(re.compile(r"^Reading: at tau")).first.inner_text())


def test_keyboard_labels_become_gold_on_the_localisation_page(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    db = tmp_path / "store" / "labels.duckdb"
    db.parent.mkdir()
    ids = build_store(db)
    with Store(db) as store:
        gold_before = store.cursor().execute("SELECT trace_id, step_idx, gold_label FROM steps ORDER BY ALL").fetchall()
    tid = ids["p-0"]
    with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc), sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(f"{base}/trace?trace={tid}")
        wait_idle(page)
        box = page.get_by_label("Your annotator name", exact=True)
        box.fill("alice")
        box.press("Enter")
        wait_idle(page)
        page.get_by_text("Labelling as alice").wait_for()
        assert page.evaluate("document.activeElement === document.body || document.activeElement === null")
        sidebar = page.locator("[data-testid='stSidebar']")
        for key, shown in (("1", "Saved: step 0 correct."), ("j", "Step 1 of 3 selected"),
                           ("1", "Saved: step 1 correct."), ("j", "Step 2 of 3 selected"), ("2", "Saved: step 2 wrong.")):
            page.keyboard.press(key)  # the shortcut's button; the next key waits for its rerun to show
            sidebar.get_by_text(shown).first.wait_for(timeout=30_000)
            wait_idle(page, quiet=0.3)  # and the rest of that run drawn
        steps = [page.locator(f".st-key-step_{k}").inner_text() for k in range(3)]
        assert "alice: correct" in steps[0] and "alice: correct" in steps[1] and "alice: wrong" in steps[2], steps
        assert not page.locator("[data-testid='stException']").count()
        snap(page, "trace_labels", max_height=2400)

        # By hand: tiny-prm (threshold 0.5) predicts the first error of p-0 at step 1 (0.4 < 0.5).
        # Imported gold: p-1 and p-2 erroneous, both located exactly (100%); p-0 and p-3 correct, p-0
        # alarmed (50%). With alice as gold only p-0 has labels: first error 2, predicted 1: 0 of 1.
        # The sidebar's link keeps the browser session (and so the annotator name).
        page.locator("[data-testid='stSidebarNav'] a", has_text="Localisation").click()
        wait_idle(page)
        assert "in 100.0% of erroneous traces, and 50.0% of correct traces" in _reading(page)
        page.get_by_role("combobox", name="Gold labels", exact=True).click()
        page.get_by_role("option", name="alice", exact=True).click()
        wait_idle(page)
        assert "in 0.0% of erroneous traces" in _reading(page)
        assert "4 traces, 3 without a gold label" in page.locator("[data-testid='stMain']").inner_text()
        assert "labels=annotator%3Aalice" in page.url or "labels=annotator:alice" in page.url
        snap(page, "localisation_annotator_gold", max_height=2400)
        browser.close()
    with Store(db) as store:
        cur = store.cursor()
        rows = cur.execute("""SELECT step_idx, label FROM current_step_labels
                              WHERE trace_id = ? AND annotator = 'alice' ORDER BY step_idx""", [tid]).fetchall()
        assert rows == [(0, 1), (1, 1), (2, -1)]
        assert cur.execute("SELECT trace_id, step_idx, gold_label FROM steps ORDER BY ALL").fetchall() == gold_before
