"""The upload form with real-shaped files: a nested JSON object of lists (records path) and a
step-row Parquet table (grouping preset), each previewed as parsed traces, then imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_DATA
from tests.e2e.server import CHROMIUM, app_server, launch_browser, snap, wait_idle


def _require_browser() -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")


def _choose(page, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    combo = page.get_by_role("combobox", name=label, exact=True)
    combo.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    wait_idle(page)


def _upload(page, base: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/library")
    wait_idle(page)
    page.get_by_role("tab", name="Upload").click()
    wait_idle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    wait_idle(page)


def test_upload_nested_json_and_step_rows(tmp_path: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with app_server(tmp_path / "ui.duckdb", env={"PRM_VIEWER_DEMO_ON_EMPTY": "false"}) as (base, _), \
            sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        # --- a top-level object whose values are lists of records
        _upload(page, base, TEST_DATA / "nested" / "by_question.json")
        main = page.locator("[data-testid='stMain']")
        text = main.inner_text()
        assert "enter * as the Records path" in text, text[:2000]
        assert "/uploads/" not in text and "--option" not in text and "--format" not in text
        box = page.get_by_label("Records path (nested JSON)", exact=True)
        box.fill("*")
        box.press("Enter")
        wait_idle(page)
        text = main.inner_text()
        assert "Preview of parsed traces" in text
        assert "gold first error: step 1" in text and "2+3 = 5.  ✗ first error" in text, text[-3000:]
        snap(page, "upload_nested_preview")
        page.get_by_role("button", name="Import").click()
        wait_idle(page)
        summary = page.locator(".st-key-import_summary").inner_text()
        assert "5 traces, 13 steps, 5 labelled traces" in summary and "by_question.json" in summary, summary
        snap(page, "upload_nested_summary")
        # --- a step-row Parquet table, grouped by the PRM800K preset
        _upload(page, base, TEST_DATA / "step-rows" / "prm800k_steps.parquet")
        _choose(page, "Rows are", "prm800k-steps")
        text = main.inner_text()
        assert "(6-2)*180 = 540.  ✗ first error" in text, text[-3000:]
        snap(page, "upload_step_rows_preview")
        page.get_by_role("button", name="Import").click()
        wait_idle(page)
        summary = page.locator(".st-key-import_summary").inner_text()
        assert "3 traces, 9 steps, 3 labelled traces" in summary, summary
        snap(page, "upload_step_rows_summary")
        browser.close()
