"""The Explorer's heatmap on a page large enough to be drawn as one image (more cells than
``heatmap.SVG_CELLS``): the cells are not SVG markers, and a click on a cell still opens that
trace at that step, whose shown score is the stored one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from tests.e2e.server import CHROMIUM, app_server, launch_browser, snap, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_TRACES, N_STEPS = 60, 10


def _score(ordinal: int, step: int) -> float:
    return round(((ordinal * 37 + step * 11) % 100) / 100, 3)


def test_image_heatmap_click_opens_the_cell(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store
    from prm_viewer.ui import heatmap

    assert N_TRACES * N_STEPS > heatmap.SVG_CELLS
    src = tmp_path / "grid.jsonl"
    src.write_text("".join(json.dumps({"id": f"g-{i}", "problem": f"Problem {i}", "label": i % N_STEPS,
                                       "steps": [f"step {k} of {i}" for k in range(N_STEPS)]}) + "\n"
                           for i in range(N_TRACES)))
    db = tmp_path / "grid.duckdb"
    with Store(db) as store:
        did = import_file(store, src, fmt="processbench", name="grid").dataset_id
        store.upsert_scorer({"scorer_id": "prm", "name": "prm", "recipe": "imported", "threshold": 0.5})
        rows = [(i, k) for i in range(N_TRACES) for k in range(N_STEPS)]
        store.insert_step_scores(pd.DataFrame({
            "scorer_id": "prm", "trace_id": [f"{did}-{i}" for i, _ in rows], "step_idx": [k for _, k in rows],
            "score": [_score(i, k) for i, k in rows], "raw": None, "note": None}))
    with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc), sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(f"{base}/explorer?ds={did}&scorer=prm&rows=100")
        wait_idle(page, timeout=60)
        chart = page.locator("[data-testid='stPlotlyChart']")
        assert chart.locator(".heatmaplayer image").count() == 1  # the colours: one image
        # no SVG marker per cell: only the first errors are markers, gold (every trace has one)
        # and predicted (the traces with a step below the threshold)
        predicted = sum(any(_score(i, k) < 0.5 for k in range(N_STEPS)) for i in range(N_TRACES))
        assert chart.locator("path.point").count() == N_TRACES + predicted
        snap(page, "explorer_heatmap_image")
        row, step = 17, 6
        box = page.evaluate("""([row, step]) => {
            const gd = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
            const fl = gd._fullLayout, r = gd.getBoundingClientRect();
            return [r.left + fl.xaxis._offset + fl.xaxis.l2p(step), r.top + fl.yaxis._offset + fl.yaxis.l2p(row)];
        }""", [row, step])
        page.mouse.move(box[0], box[1])
        page.wait_for_timeout(300)
        page.mouse.click(box[0], box[1])
        page.wait_for_url(re.compile(r".*/trace\?.*"), timeout=30_000)
        wait_idle(page, timeout=60)
        query = parse_qs(urlparse(page.url).query)
        assert query["trace"] == [f"{did}-{row}"] and query["step"] == [str(step)]
        text = page.locator(f".st-key-step_{step}").inner_text()
        assert "selected" in text
        assert float(re.search(r"prm: (\d\.\d{3})", text).group(1)) == pytest.approx(_score(row, step))
        browser.close()
