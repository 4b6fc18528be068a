"""End to end in a real browser: the real app (``streamlit run app.py``) on a free 127.0.0.1 port
over a temporary store, driven by Debian's Chromium through Playwright.

A new user's path: upload a ProcessBench file and see the import summary, register a tiny real
checkpoint (built from a config, saved, loaded by the real code path) and queue a job, watch it
finish, open the heatmap, click a cell into the trace, read the step scores shown, download the
CSV. After the server stops, the store is opened and what the browser showed and downloaded is
compared with the stored scores and with the uploaded file. Trace text that is HTML shows as
text and runs nothing. Every page is screenshotted into artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.server import CHROMIUM, app_server, launch_browser, snap, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert('script ran')</script>"
TRACES = [
    {"id": "e2e-0", "generator": "tiny-policy", "problem": "What is 2+3*4?",
     "steps": ["3*4 = 12.", "2 + 12 = 14.", "The answer is $\\boxed{14}$."], "final_answer_correct": True, "label": -1},
    {"id": "e2e-1", "generator": "tiny-policy", "problem": "What is 2+3*4?",
     "steps": ["2+3 = 5.", "5*4 = 20.", "The answer is 20."], "final_answer_correct": False, "label": 0},
    {"id": "e2e-2", "generator": "tiny-policy", "problem": "Compute \\(\\frac{10}{2} - 1\\).",
     "steps": ["\\(\\frac{10}{2} = 5\\).", "5 - 1 = 3.", "=SUM(A1:A2) so the answer is 3."], "final_answer_correct": False,
     "label": 1},
    {"id": "e2e-3", "generator": "tiny-policy", "problem": "Is 7 prime?",
     "steps": [XSS_IMG, XSS_SCRIPT, "Yes, 7 is prime."], "final_answer_correct": True, "label": -1},
]
XSS_ORDINAL = 3


@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.scoring.tiny_models import build_qwen_prm

    return build_qwen_prm(tmp_path_factory.mktemp("ckpt") / "tiny-Qwen2.5-Math-PRM")


def _require_browser() -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")


def _click_tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name=name).click()
    wait_idle(page)


def _fill(page, label: str, value: str) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def _pick(page, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    """Choose ``option`` in the multiselect labelled ``label`` (opened from the keyboard)."""
    combo = page.get_by_role("combobox", name=label, exact=True)
    combo.click()
    if combo.get_attribute("aria-expanded") != "true":
        combo.press("ArrowDown")
    page.locator("[data-testid='stMultiSelectDropdown'] [role='option']").filter(has_text=option).first.click()
    page.keyboard.press("Escape")
    wait_idle(page)


def _drive(page, base: str, data: Path, tiny_prm: Path, seen: dict) -> None:  # type: ignore[no-untyped-def]
    """The browser part of the flow; what it reads goes into ``seen``."""
    # ---- Library: empty, then upload with preview and the detected format
    page.goto(base + "/library")
    wait_idle(page)
    assert page.get_by_text("No datasets yet").is_visible()
    _click_tab(page, "Upload")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(data))
    wait_idle(page)
    assert page.get_by_text("detected format: processbench").is_visible()
    _fill(page, "Tags", "policy=tiny-policy, process_reward=without")
    snap(page, "library_upload_preview")
    page.get_by_role("button", name="Import").click()
    wait_idle(page)
    summary = page.locator(".st-key-import_summary").inner_text()
    assert "4 traces, 12 steps, 4 labelled traces" in summary, summary
    explore = page.locator(".st-key-import_summary a").first.get_attribute("href")
    dataset_id = parse_qs(urlparse(explore).query)["ds"][0]
    seen["dataset_id"] = dataset_id
    snap(page, "library_import_summary")

    _click_tab(page, "Datasets")
    snap(page, "library_datasets")

    # ---- Checkpoints: register the tiny checkpoint (recipe detected and shown), queue a job
    _click_tab(page, "Checkpoints")
    _fill(page, "Checkpoint (local folder or hub id)", str(tiny_prm))
    assert page.get_by_text("Detected recipe: qwen-prm").is_visible()
    _fill(page, "Scorer name (optional)", "tiny-prm")
    page.get_by_role("button", name="Register scorer").click()
    wait_idle(page)
    assert page.get_by_text("Registered scorer tiny-prm").is_visible()
    _pick(page, "Datasets", "pb_e2e")
    page.get_by_role("button", name="Queue scoring").click()
    wait_idle(page)
    assert page.get_by_text("Queued 1 job(s)").is_visible()
    snap(page, "library_checkpoints")

    # ---- Jobs: live progress until done
    page.get_by_role("link", name="Follow them on the Jobs page").click()
    page.get_by_text("1 done").wait_for(timeout=240_000)
    wait_idle(page)
    assert "4 / 4 traces" in page.locator("[data-testid='stMain']").inner_text()
    snap(page, "jobs")

    # ---- Explorer: the heatmap; click trace #0, step 1
    page.goto(f"{base}/explorer?ds={dataset_id}")
    wait_idle(page)
    assert page.get_by_text("4 traces match").is_visible()
    snap(page, "explorer_heatmap")
    scored = page.locator("[data-testid='stPlotlyChart'] .scatterlayer .trace").first.locator("path.point")
    assert scored.count() == 12  # every step of the 4 traces is scored
    box = scored.nth(1).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r".*/trace\?.*"), timeout=30_000)
    wait_idle(page)
    query = parse_qs(urlparse(page.url).query)
    assert query["trace"] == [f"{dataset_id}-0"] and query["step"] == ["1"]
    assert "selected" in page.locator(".st-key-step_1").inner_text()
    shown = {}
    for k in range(3):
        text = page.locator(f".st-key-step_{k}").inner_text()
        shown[k] = float(re.search(r"tiny-prm: (\d\.\d{3})", text).group(1))
    seen["shown"] = shown
    snap(page, "trace")

    # ---- Trace text that is HTML shows as text and runs nothing
    page.goto(f"{base}/trace?trace={dataset_id}-{XSS_ORDINAL}")
    wait_idle(page)
    main = page.locator("[data-testid='stMain']")
    assert XSS_IMG in main.inner_text() and XSS_SCRIPT in main.inner_text()
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("[data-testid='stMain'] script").count() == 0
    snap(page, "trace_html_as_text")

    # ---- Export: the CSV of the current filter
    page.goto(f"{base}/export?ds={dataset_id}")
    wait_idle(page)
    snap(page, "export")
    with page.expect_download(timeout=60_000) as info:
        page.locator("[data-testid='stDownloadButton'] button").click()
    download = info.value
    assert download.suggested_filename == "pb_e2e_steps.csv"
    seen["csv"] = Path(download.path()).read_text(encoding="utf-8")

    for name in ("localisation", "compare"):
        if (Path(__file__).resolve().parents[2] / "pages" / f"{name}.py").exists():
            page.goto(f"{base}/{name}")
            wait_idle(page, timeout=60)
            assert not page.locator("[data-testid='stException']").count()
            snap(page, name)


def test_new_user_flow(tmp_path: Path, tiny_prm: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    data = tmp_path / "pb_e2e.jsonl"
    data.write_text("".join(json.dumps(t) + "\n" for t in TRACES), encoding="utf-8")
    db = tmp_path / "store" / "prm.duckdb"
    db.parent.mkdir()
    seen: dict[str, object] = {}
    dialogs: list[str] = []
    with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc), sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            _drive(page, base, data, tiny_prm, seen)
        except Exception:
            snap(page, "FAILED_at_this_point")
            raise
        assert not dialogs, f"a dialog fired: {dialogs}"
        browser.close()
        dataset_id = str(seen["dataset_id"])


    # ---- compare what the browser showed and downloaded with the store and the uploaded file
    from prm_viewer.store import Store

    with Store(db) as store:
        cur = store.cursor()
        scorer_id, threshold = cur.execute("SELECT scorer_id, threshold FROM scorers WHERE name = 'tiny-prm'").fetchone()
        stored = dict(cur.execute(
            "SELECT step_idx, score FROM step_scores WHERE scorer_id = ? AND trace_id = ? ORDER BY step_idx",
            [scorer_id, f"{dataset_id}-0"]).fetchall())
        tags = cur.execute("SELECT tags FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchone()[0]
        all_scores = {(t, k): s for t, k, s in cur.execute(
            "SELECT trace_id, step_idx, score FROM step_scores WHERE scorer_id = ?", [scorer_id]).fetchall()}
    assert json.loads(tags) == {"policy": "tiny-policy", "process_reward": "without"}
    assert len(all_scores) == 12
    assert seen["shown"] == {k: round(v, 3) for k, v in stored.items()}

    rows = list(csv.DictReader(io.StringIO(seen["csv"])))
    assert len(rows) == 12
    for row in rows:
        ordinal, k = int(row["trace_id"].rsplit("-", 1)[1]), int(row["step_idx"])
        source = TRACES[ordinal]
        text = source["steps"][k]
        # the CSV neutralises a leading formula character; everything else is verbatim
        assert row["step_text"] == ("'" + text if text.startswith("=") else text)
        assert int(row["gold_first_error"]) == source["label"]
        assert float(row["score[tiny-prm]"]) == pytest.approx(all_scores[(row["trace_id"], k)], abs=1e-9)
    # predicted first error = first step scored below the threshold, computed here by hand
    for ordinal in range(len(TRACES)):
        tid = f"{dataset_id}-{ordinal}"
        expected = next((k for k in range(3) if all_scores[(tid, k)] < threshold), -1)
        got = {int(r["predicted_first_error[tiny-prm]"]) for r in rows if r["trace_id"] == tid}
        assert got == {expected}
