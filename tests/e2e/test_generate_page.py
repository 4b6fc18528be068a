"""The Generate page in a real browser: upload a problem file, point it at a tiny causal LM
checkpoint trained here for a few seconds (``tests/generation/policy_models.py``), set the
sampling settings, preview the split rule, launch, watch the job finish, and open the dataset in
the Explorer. The store is then checked against independent computations: the traces the widgets
asked for (problems x n), the tags they set, the step counts by splitting each raw completion at
blank lines by hand, and correctness by reading the boxed integer against a + b.
Screenshots go to artifacts/screenshots/generate_*.png."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.server import CHROMIUM, app_server, launch_browser, snap, wait_idle
from tests.generation.policy_models import TRAIN_PROBLEMS, problem_text, train_policy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _require_browser() -> None:
    pytest.importorskip("playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (CI installs Debian's chromium)")


def _fill(page, label: str, value: str) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def _select(page, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def _main(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator("[data-testid='stMain']").inner_text())


def test_generate_page_launches_a_job_and_opens_its_dataset(tmp_path: Path) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    policy = train_policy(tmp_path / "tiny-policy-trained")
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"problem": problem_text(a, b), "answer": str(a + b)}) + "\n"
                                for a, b in TRAIN_PROBLEMS))
    db = tmp_path / "gen.duckdb"
    with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}, timeout=120) as (base, _), sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        page.goto(base + "/generate")
        page.get_by_text("1. Problems").wait_for(timeout=120_000)
        wait_idle(page)
        assert "No generation jobs yet" in _main(page)

        page.get_by_text("Upload a problem file").click()
        wait_idle(page)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(problems))
        wait_idle(page, 60)
        assert f"{len(TRAIN_PROBLEMS)} problems from problems.jsonl · {len(TRAIN_PROBLEMS)} with a reference answer" in _main(page)

        _fill(page, "Policy checkpoint (local folder or hub id)", str(policy))
        _fill(page, "Samples per problem (n)", "2")
        _fill(page, "Temperature", "0")
        _fill(page, "Max new tokens", "40")
        _fill(page, "Dataset name", "gen_e2e")
        _fill(page, "Tags (KEY=VALUE, comma-separated)", "process_reward=with")
        assert f"{len(TRAIN_PROBLEMS)} problems × 2 samples = {2 * len(TRAIN_PROBLEMS)} samples" in _main(page)

        # the live preview: the page's sample text, counted by hand under two rules
        sample = page.get_by_label("Preview on this text (edit it, or paste a model's output)").input_value()
        by_blank = len([p for p in sample.split("\n\n") if p.strip()])
        by_line = len([p for p in sample.split("\n") if p.strip()])
        assert by_blank != by_line
        assert f"{by_blank} step(s)" in _main(page)
        _select(page, "Step split rule", "Every line")
        assert f"{by_line} step(s)" in _main(page)
        _select(page, "Step split rule", "Blank lines (\"\\n\\n\", as Qwen models write)")
        assert f"{by_blank} step(s)" in _main(page)
        snap(page, "generate_form")

        page.get_by_role("button", name="Generate").click()
        wait_idle(page)
        assert "Queued job" in _main(page)
        link = page.get_by_role("link", name="Open gen_e2e in the Explorer")
        link.wait_for(timeout=300_000)
        wait_idle(page)
        text = _main(page)
        assert f"{2 * len(TRAIN_PROBLEMS)} / {2 * len(TRAIN_PROBLEMS)} samples" in text
        assert "tokens/s: –" not in text  # a real rate was reported
        snap(page, "generate_done")

        href = link.get_attribute("href")
        dataset_id = parse_qs(urlparse(href).query)["ds"][0]
        link.click()
        page.get_by_text(f"{2 * len(TRAIN_PROBLEMS)} traces match").wait_for(timeout=120_000)
        wait_idle(page)
        assert "/explorer" in page.url and f"ds={dataset_id}" in page.url
        snap(page, "generate_explorer")
        browser.close()

    from prm_viewer.store import Store

    with Store(db) as store:
        ds = store.resolve_dataset(dataset_id)
        tags = json.loads(ds["tags"])
        rows = store.cursor().execute(
            """SELECT p.problem, t.final_answer_correct, t.n_steps, t.metadata
               FROM traces t JOIN problems p USING (problem_id) WHERE t.dataset_id = ?""", [dataset_id]).fetchall()
    assert ds["name"] == "gen_e2e"
    assert {k: tags[k] for k in ("checkpoint", "n", "temperature", "max_new_tokens", "split_rule", "process_reward")} == {
        "checkpoint": str(policy), "n": "2", "temperature": "0.0", "max_new_tokens": "40", "split_rule": "blankline",
        "process_reward": "with"}
    assert len(rows) == 2 * len(TRAIN_PROBLEMS)
    want = {problem_text(a, b): a + b for a, b in TRAIN_PROBLEMS}
    for problem, correct, n_steps, meta in rows:
        completion = json.loads(meta)["completion"]
        assert n_steps == max(1, len([p for p in completion.split("\n\n") if p.strip()]))
        boxed = completion.split("\\boxed{")[-1].split("}")[0].strip() if "\\boxed{" in completion else None
        assert correct is (boxed == str(want[problem]))
