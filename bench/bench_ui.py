"""Dashboard benchmark: 100,000 traces / 1,000,000 steps / one scorer in the store.

Usage (repository root, venv active; needs /usr/bin/chromium and the playwright package)::

    python bench/bench_ui.py                  # 100k traces x 10 steps
    python bench/bench_ui.py --traces 20000   # smaller
    python bench/bench_ui.py --huge 200000    # one 200,000-step trace: Trace + Explorer vs hello-world
    python bench/bench_ui.py --pages-only --repeat 5   # only the browser page loads, 5 rounds
    python bench/bench_ui.py --traces 1000000 --db /tmp/scale/bench.duckdb --skip-naive   # 10x; keeps (reuses) the store

What it measures:

1. the reads behind the pages, in-process, against a naive baseline in the same run (load the
   traces with their score aggregates into pandas, then filter / sort / page in Python; for the
   Trace page, load every step and score of the dataset and select in pandas);
2. the real app (``streamlit run app.py``) in headless Chromium: cold start to first paint of the
   Library page (process launch to a settled page); full page loads of the Explorer + heatmap
   (first visit, then in turn with the other views), the Trace page and every other page; the
   Explorer re-filter and the Trace page's Next button (in session, no reload); each also as a
   ratio to two floors served and loaded the same way in the same run: a one-page Streamlit
   hello-world, and the same with a one-point Plotly chart (the cost of Plotly's bundle, which
   any page with a chart pays); the Plotly draws (``Plotly.react`` calls) each view made, and the
   server's RSS afterwards;
3. the server-side script runs (Streamlit's AppTest) against a one-line script in the same harness.

A page counts as rendered when Streamlit reports its script run over and its DOM stops changing
(no skeleton, every chart drawn); the one second of quiet used to detect that is not included in
the figures. The store is built under /tmp
through the real import path and ``Store.insert_step_scores``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_traces_jsonl(src: Path, n_traces: int, n_steps: int, seed: int = 0, chunk: int = 50_000) -> None:
    """ProcessBench-shaped JSONL, ``n_traces`` x ``n_steps``, drawn with numpy in chunks and written
    with one %-template per line (a per-step Python loop took ~7 min for 1M traces / 10M steps).
    Per trace: label -1 with probability 2 / (n_steps + 2), else a uniform step (as
    ``random.choice([-1, -1, *range(n_steps)])``); correct iff label = -1; generator
    ``policy-{i % 3}``; problem ``Problem {i % 5000}: find x.``; step k: ``Step k: we compute a + b
    and $x_k = r$.`` (no character that JSON escapes, so the template is valid JSON)."""
    import numpy as np

    steps = ",".join(f'"Step {k}: we compute %d + %d and $x_{k} = %.3f$."' for k in range(n_steps))
    line = ('{"id": "b-%d", "generator": "policy-%d", "problem": "Problem %d: find x.", "steps": [' + steps
            + '], "final_answer_correct": %s, "label": %d}\n')
    gen = np.random.default_rng(seed)
    with open(src, "w", encoding="utf-8") as fh:
        for lo in range(0, n_traces, chunk):
            i = np.arange(lo, min(lo + chunk, n_traces))
            pick = gen.integers(0, n_steps + 2, i.size)
            label = np.where(pick < 2, -1, pick - 2)
            cells = np.empty((i.size, 3 * n_steps), dtype=object)
            cells[:, 0::3] = gen.integers(1, 100, (i.size, n_steps))
            cells[:, 1::3] = gen.integers(1, 100, (i.size, n_steps))
            cells[:, 2::3] = gen.random((i.size, n_steps))
            head = zip(i.tolist(), (i % 3).tolist(), (i % 5000).tolist())
            tail = zip(np.where(label == -1, "true", "false").tolist(), label.tolist())
            fh.writelines(line % (*h, *c, *t) for h, c, t in zip(head, cells.tolist(), tail))


def build_store(db: Path, n_traces: int, n_steps: int, seed: int = 0) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store

    src = db.parent / "bench_traces.jsonl"
    write_traces_jsonl(src, n_traces, n_steps, seed)
    store = Store(db)
    t = time.perf_counter()
    report = import_file(store, src, name="bench")
    import_s = time.perf_counter() - t
    did = report.dataset_id
    store.upsert_scorer({"scorer_id": "bench-prm", "name": "bench-prm", "recipe": "imported", "threshold": 0.5})
    n = n_traces * n_steps
    gen = np.random.default_rng(seed)
    ordinals = np.repeat(np.arange(n_traces), n_steps)
    table = pa.table({
        "scorer_id": pa.array(["bench-prm"] * n),
        # built in Arrow, not as a Python list of n strings (10M steps: seconds and GBs less)
        "trace_id": pc.binary_join_element_wise(f"{did}-", pc.cast(pa.array(ordinals), pa.string()), ""),
        "step_idx": pa.array(np.tile(np.arange(n_steps), n_traces).astype("int32")),
        "score": pa.array(gen.beta(4, 1.5, n)),
        "raw": pa.nulls(n, pa.float64()),
        "note": pa.nulls(n, pa.string()),
    })
    store.insert_step_scores(table)
    store.close()
    return {"dataset_id": did, "import_s": import_s, "traces": report.traces, "steps": report.steps}


def timeit(fn: Any, repeat: int = 5) -> float:
    fn()  # warm DuckDB's and the OS's caches: both paths get the same treatment
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return median(times)


def query_bench(db: Path, did: str, naive: bool = True) -> dict[str, float]:
    from prm_viewer import queries
    from prm_viewer.queries import TraceFilter
    from prm_viewer.store import Store

    store = Store(db)
    cur = store.cursor()
    f = TraceFilter(datasets=(did,), scorer="bench-prm", gold_error="present")

    def ours_explorer() -> None:
        queries.explorer_count(store, f)
        page = queries.explorer_page(store, f, sort="min_score", limit=200, offset=400)
        queries.heatmap_scores(store, "bench-prm", tuple(page["trace_id"]))

    def naive_explorer() -> None:
        traces = cur.execute("SELECT * FROM traces").df()
        agg = cur.execute("SELECT * FROM trace_aggregates WHERE scorer_id = 'bench-prm'").df()
        df = traces.merge(agg, on="trace_id", how="left")
        df = df[(df["dataset_id"] == did) & (df["gold_first_error"] >= 0)]
        page = df.sort_values("score_min").iloc[400:600]
        scores = cur.execute("SELECT * FROM step_scores WHERE scorer_id = 'bench-prm'").df()
        scores[scores["trace_id"].isin(set(page["trace_id"]))]

    tid = f"{did}-{4321}"

    def ours_trace() -> None:  # what pages/trace.py reads, nothing cached
        queries.trace_header(store, tid)
        queries.trace_steps(store, tid)
        queries.trace_scores_and_predictions(store, tid)
        queries.neighbours_in(queries.explorer_order(store, TraceFilter(datasets=(did,))), tid)

    def naive_trace() -> None:
        steps = cur.execute("SELECT * FROM steps").df()
        scores = cur.execute("SELECT * FROM step_scores").df()
        steps[steps["trace_id"] == tid].merge(scores[scores["trace_id"] == tid], on=["trace_id", "step_idx"], how="left")

    out = {"explorer_ours_s": timeit(ours_explorer), "trace_ours_s": timeit(ours_trace)}
    if naive:
        out |= {"explorer_naive_s": timeit(naive_explorer, repeat=2), "trace_naive_s": timeit(naive_trace, repeat=2)}
    store.close()
    return out


FLOOR_SCRIPTS = {
    "hello": "import streamlit as st\nst.title('Hello')\nst.write('world')\n",
    # The same with a one-point Plotly chart: what any page with a chart pays for Plotly's bundle
    # (Streamlit loads it only for a page that shows a Plotly chart).
    "hello_plotly": "import plotly.graph_objects as go\nimport streamlit as st\nst.title('Hello')\nst.write('world')\n"
                    "st.plotly_chart(go.Figure(go.Scatter(x=[0], y=[0])))\n",
}
"""The floors every page load is compared with, served by their own ``streamlit run`` with the
app's ``.streamlit/config.toml`` and loaded the same way in the same browser."""

PLOTLY_DRAWS_JS = """
window.__plotlyDraws = 0;
Object.defineProperty(HTMLElement.prototype, 'emit', {configurable: true, set(f) {
  Object.defineProperty(this, 'emit', {configurable: true, writable: true, value: function(e, d) {
    if (e === 'plotly_react') window.__plotlyDraws += 1;
    return f.call(this, e, d); }}); }});
"""
"""Counts ``Plotly.react`` calls (each one a draw of a chart) on the page: Plotly gives each chart's
element its ``emit`` by assignment, which this setter wraps. Installed before every document."""

OTHER_PAGES = ("library", "generate", "jobs", "localisation", "compare", "export", "bestofn", "agreement",
               "benchmarks", "labelling")
"""Pages measured by a plain full load (``/<page>``, no query string) when their file exists."""


def _serve_floor(tmp: Path, name: str) -> tuple[Any, str]:
    import os
    import shutil
    import subprocess

    from tests.e2e.server import free_port

    folder = tmp / name
    (folder / ".streamlit").mkdir(parents=True)
    shutil.copy(ROOT / ".streamlit" / "config.toml", folder / ".streamlit" / "config.toml")
    (folder / "app.py").write_text(FLOOR_SCRIPTS[name])
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    return proc, f"http://127.0.0.1:{port}/"


def browser_bench(db: Path, did: str, repeat: int = 3, n_traces: int = 100_000) -> dict[str, Any]:
    """Full page loads and in-session reruns in headless Chromium, each to a settled page
    (``tests.e2e.server.wait_idle``: no skeleton or stale element, every chart drawn, DOM
    unchanged for a second, that second not counted). One browser context throughout, so the
    browser's HTTP and code caches warm up as a user's would; the first Explorer visit is the
    first page with a Plotly chart in that context. Views are loaded in turn, ``repeat`` rounds,
    and each figure is the median over the rounds (``*_runs`` keep every value)."""
    import psutil
    from playwright.sync_api import sync_playwright

    from tests.e2e.server import app_server, launch_browser

    out: dict[str, Any] = {}
    explorer = f"/explorer?ds={did}&scorer=bench-prm&gold=present&sort=min_score&page=3"
    ordinal = min(4321, n_traces // 2)  # the Trace page's trace; Next opens ordinal + 1
    with tempfile.TemporaryDirectory(prefix="prm_bench_floor_") as tmp_name, sync_playwright() as pw:
        floors = {name: _serve_floor(Path(tmp_name), name) for name in FLOOR_SCRIPTS}
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(PLOTLY_DRAWS_JS)
        draws: dict[str, list[int]] = {}

        def count_draws(name: str, before: int = 0) -> None:
            draws.setdefault(name, []).append(int(page.evaluate("window.__plotlyDraws || 0")) - before)

        try:
            t0 = time.monotonic()
            with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}, timeout=300) as (base, proc):
                out["server_healthy_s"] = time.monotonic() - t0
                page.goto(base + "/library")
                out["cold_start_to_first_paint_s"] = _settle(page) - t0
                for name, (_p, url) in floors.items():  # up by now; a first load warms each
                    _load_when_up(page, url)

                def load(url: str) -> float:
                    t = time.monotonic()
                    page.goto(url)
                    return _settle(page) - t

                out["explorer_first_visit_s"] = load(base + explorer)
                assert page.locator("[data-testid='stPlotlyChart']").count() == 1
                views = {"hello": floors["hello"][1], "hello_plotly": floors["hello_plotly"][1],
                         "explorer": base + explorer, "trace": f"{base}/trace?trace={did}-{ordinal}"}
                views |= {name: f"{base}/{name}" for name in OTHER_PAGES if (ROOT / "pages" / f"{name}.py").is_file()}
                runs: dict[str, list[float]] = {k: [] for k in (*views, "explorer_refilter", "trace_next")}
                for r in range(repeat):
                    for name, url in views.items():
                        runs[name].append(load(url))
                        count_draws(name)
                        if name in ("explorer", "trace"):
                            drawn = int(page.evaluate("window.__plotlyDraws || 0"))
                            rerun = "explorer_refilter" if name == "explorer" else "trace_next"
                            runs[rerun].append(_refilter(page) if name == "explorer"
                                               else _next(page, did, ordinal + 1))
                            count_draws(rerun, drawn)
                for name, values in runs.items():
                    out[f"{name}_s"] = median(values)
                    out[f"{name}_runs"] = [round(v, 3) for v in values]
                out["plotly_draws"] = {k: max(v) for k, v in draws.items()}
                out["server_rss_mb"] = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            browser.close()
            for proc_, _url in floors.values():
                proc_.terminate()
                proc_.wait(10)
    return out


def _settle(page: Any, timeout: float = 300) -> float:
    """``wait_idle`` once the app's script run is over (``stApp``'s ``data-test-script-state`` is
    ``notRunning``): at 1M traces a cold query can keep the page unchanged for over wait_idle's
    quiet second while the script still runs (the Explorer then shows only its title), which
    wait_idle alone takes for a settled page. Returns when the page was complete."""
    from tests.e2e.server import wait_idle

    page.wait_for_function("() => document.querySelector('[data-testid=stApp]')"
                           "?.getAttribute('data-test-script-state') === 'notRunning'", timeout=timeout * 1000)
    return wait_idle(page, timeout=timeout)


def _load_when_up(page: Any, url: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            page.goto(url)
            _settle(page, timeout=120)
            return
        except Exception:  # not up yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _refilter(page: Any) -> float:
    """A widget change without a reload: the Explorer's Descending toggle (a new sort of the
    whole filter, a new page of rows, a new heatmap), to a settled page. The toggle flips from
    whatever the loaded page shows (the URL, not the round, decides its state)."""
    descending = not page.evaluate("() => document.querySelector('[data-testid=stMain]').innerText"
                                   ".includes('(descending)')")
    t = time.monotonic()
    page.get_by_text("Descending", exact=True).click()
    page.wait_for_function(f"() => document.querySelector('[data-testid=stMain]').innerText"
                           f"{'.includes' if descending else '.indexOf'}('(descending)'){'' if descending else ' < 0'}")
    return _settle(page) - t


def _next(page: Any, did: str, k: int) -> float:
    """The Trace page's Next button (in session, no reload), to a settled page."""
    t = time.monotonic()
    page.get_by_role("button", name="Next").click()
    page.wait_for_function(f"() => location.search.includes('trace={did}-{k}')")
    return _settle(page) - t


def script_bench(db: Path, did: str) -> dict[str, float]:
    """Server-side run time of the page scripts (Streamlit's AppTest, same process, warm caches
    after the first run): what the server spends before the browser draws.

    Each measure is a median wall time (``<name>_s``) and the median process CPU time over the
    same runs (``<name>_cpu_s``, every thread of the process): on a shared machine the CPU time
    moves much less with other people's load than the wall time does."""
    import os

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["PRM_VIEWER_DB"] = str(db)
    os.environ["PRM_VIEWER_DEMO_ON_EMPTY"] = "0"

    def run(page: str, params: dict[str, str], script: Path = ROOT / "app.py") -> tuple[float, float]:
        at = AppTest.from_file(str(script), default_timeout=300)
        for k, v in params.items():
            at.query_params[k] = v
        if page:
            at.switch_page(f"pages/{page}.py")
        t, c = time.perf_counter(), time.process_time()
        at.run()
        t, c = time.perf_counter() - t, time.process_time() - c
        assert not at.exception, [e.value for e in at.exception]
        return t, c

    out: dict[str, float] = {}

    def measure(name: str, runs: list[tuple[float, float]]) -> None:
        out[f"script_{name}_s"] = median(r[0] for r in runs)
        out[f"script_{name}_cpu_s"] = median(r[1] for r in runs)

    def after_write(page: str, params: dict[str, str]) -> tuple[float, float]:
        st.cache_data.clear()  # what a committed write does to every cached read (new data version)
        return run(page, params)

    explorer = {"ds": did, "scorer": "bench-prm", "gold": "present", "sort": "min_score", "page": "3"}
    # The process's first run also pays one-time costs (imports, Streamlit start-up); a write in
    # a running app only invalidates the cached reads, which clearing the data cache reproduces.
    measure("explorer_process_first", [run("explorer", explorer)])
    measure("explorer_warm", [run("explorer", explorer) for _ in range(3)])
    measure("explorer_other_page", [run("explorer", {**explorer, "page": "7"})])
    measure("explorer_cold", [after_write("explorer", explorer) for _ in range(3)])
    # A trace opened with nothing cached builds its dataset's ordered id list (previous/next);
    # the traces reached with Next find that list cached, their own reads are cold.
    measure("trace_first", [after_write("trace", {"trace": f"{did}-{k}"}) for k in (1000, 1100, 1200)])
    measure("trace", [run("trace", {"trace": f"{did}-{k}"}) for k in (1201, 1202, 1203)])
    # The harness's own cost: AppTest running a one-line script (no app, no store).
    with tempfile.TemporaryDirectory() as tmp:
        trivial = Path(tmp) / "trivial.py"
        trivial.write_text("import streamlit as st\nst.title('x')\n")
        run("", {}, trivial)
        measure("floor", [run("", {}, trivial) for _ in range(3)])
    return out


def build_huge(db: Path, n_steps: int) -> str:
    """A store with one ``n_steps``-step trace (gold first error at 85%, one low score at 60%),
    five 3-step traces and one scorer over every step; returns the long trace's id."""
    import pandas as pd

    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store

    src = db.parent / "huge.jsonl"
    rows = [{"id": "huge", "generator": "g", "problem": "A very long trace.", "label": int(n_steps * 0.85),
             "steps": [f"Step {k}: we compute {k % 97} + 1 and $x_{{{k}}} = {k % 7}$." for k in range(n_steps)]}]
    rows += [{"id": f"s{i}", "generator": "g", "problem": f"Short {i}", "steps": ["a", "b", "c"], "label": 1} for i in range(5)]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with Store(db) as store:
        did = import_file(store, src, fmt="processbench", name="huge").dataset_id
        steps = store.cursor().execute("SELECT trace_id, step_idx FROM steps").df()
        low = int(n_steps * 0.6)
        store.upsert_scorer({"scorer_id": "bench-prm", "name": "bench-prm", "recipe": "imported", "threshold": 0.5})
        store.insert_step_scores(pd.DataFrame({"scorer_id": "bench-prm", "trace_id": steps["trace_id"],
                                               "step_idx": steps["step_idx"], "raw": None, "note": None,
                                               "score": [0.2 if k == low else 0.9 for k in steps["step_idx"]]}))
    return f"{did}-0"


def huge_bench(n_steps: int, repeat: int = 3) -> dict[str, float]:
    """Full page loads in Chromium (median of ``repeat`` fresh tabs, plus the first, cache-cold
    one) of the Trace page (at ``?step=k`` in the middle) and the unfiltered Explorer with the
    heatmap, for a store holding one ``n_steps``-step trace; the baseline is a one-page Streamlit
    hello-world served and loaded the same way in the same run."""
    import os
    import subprocess

    from playwright.sync_api import sync_playwright

    from tests.e2e.server import app_server, free_port, launch_browser

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="prm_bench_huge_") as tmp:
        db = Path(tmp) / "huge.duckdb"
        t = time.perf_counter()
        tid = build_huge(db, n_steps)
        out["build_s"] = time.perf_counter() - t
        hello = Path(tmp) / "hello.py"
        hello.write_text("import streamlit as st\nst.title('Hello')\nst.write('world')\n")
        port = free_port()
        hello_proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(hello), "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        try:
            with app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}) as (base, _proc), sync_playwright() as p:
                browser = launch_browser(p)

                def load(url: str) -> float:
                    page = browser.new_page(viewport={"width": 1400, "height": 1600})
                    t0 = time.monotonic()
                    page.goto(url)
                    done = _settle(page) - t0
                    page.close()
                    return done

                hello_url = f"http://127.0.0.1:{port}/"
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        load(hello_url)
                        break
                    except Exception:  # not up yet
                        time.sleep(0.5)
                short = tid.rsplit("-", 1)[0] + "-1"  # a 3-step trace of the same store
                views = {"hello": hello_url, "trace": f"{base}/trace?trace={tid}&step={n_steps // 2}",
                         "trace_short": f"{base}/trace?trace={short}", "explorer": f"{base}/explorer?scorer=bench-prm"}
                for name, url in views.items():
                    out[f"{name}_first_s"] = load(url)
                    out[f"{name}_s"] = median(load(url) for _ in range(repeat))
                browser.close()
        finally:
            hello_proc.terminate()
            hello_proc.wait(10)
    return out


TARGETS_MS = {"explorer": 600, "explorer_refilter": 400, "trace": 500, "trace_next": 300}
"""Issue 17's budgets (ms); every other page: :data:`OTHER_PAGE_MS`."""
OTHER_PAGE_MS = 800
ISSUE_FLOOR_MS = 255
"""The hello-world floor the issue measured (0.21-0.30 s): a target in ms divided by it is the
same budget as a ratio, comparable on a loaded machine where every load is slower."""


def page_table(b: dict[str, Any], repeat: int) -> str:
    """The browser figures as a Markdown table: ms, ratio to the hello-world floor (and to the
    floor with a Plotly chart), the target and whether this run met it."""
    hello, plotly = b["hello_s"], b["hello_plotly_s"]
    rows = [f"\n| view (median of {repeat}, full page load unless noted) | ms | vs hello-world | vs hello + Plotly chart "
            "| target ms (as a ratio to the issue's 255 ms floor) | met in ms / as a ratio | Plotly draws |",
            "|---|---|---|---|---|---|---|"]
    drawn = b.get("plotly_draws", {})
    labels = {"hello": "floor: Streamlit hello-world", "hello_plotly": "floor: hello-world + a one-point Plotly chart",
              "explorer": "Explorer + heatmap (200 rows, page 3 by min score)",
              "explorer_refilter": "Explorer re-filter (Descending toggle, no reload)",
              "trace": "Trace", "trace_next": "Trace: Next button (no reload)"}
    for name in ("hello", "hello_plotly", "explorer", "explorer_refilter", "trace", "trace_next",
                 *(p for p in OTHER_PAGES if f"{p}_s" in b)):
        ms = b[f"{name}_s"] * 1000
        target = TARGETS_MS.get(name, OTHER_PAGE_MS if name in OTHER_PAGES else None)
        met = "" if target is None else (f"{'yes' if ms <= target else 'no'} / "
                                         f"{'yes' if ms / 1000 / hello <= target / ISSUE_FLOOR_MS else 'no'}")
        goal = "" if target is None else f"<= {target} ({target / ISSUE_FLOOR_MS:.2f}x)"
        rows.append(f"| {labels.get(name, name.capitalize())} | {ms:.0f} | {ms / 1000 / hello:.2f}x | {ms / 1000 / plotly:.2f}x "
                    f"| {goal} | {met} | {drawn.get(name, '')} |")
    rows.append(f"| Explorer + heatmap, first visit (Plotly's bundle not yet in the browser's caches) | "
                f"{b['explorer_first_visit_s'] * 1000:.0f} | {b['explorer_first_visit_s'] / hello:.2f}x | "
                f"{b['explorer_first_visit_s'] / plotly:.2f}x | | | |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--huge", type=int, metavar="STEPS",
                    help="instead: Trace and Explorer page loads for one trace of STEPS steps (e.g. 200000), "
                         "against a Streamlit hello-world page loaded in the same run")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of browser page loads (medians are reported)")
    ap.add_argument("--pages-only", action="store_true", help="only the browser page loads (no in-process reads, no AppTest)")
    ap.add_argument("--db", type=Path, help="keep the store at this path (reused when it exists: no rebuild, "
                    "the build figures are then absent); default: a temporary folder, deleted after the run")
    ap.add_argument("--skip-naive", action="store_true", help="no naive pandas baselines (they load whole tables)")
    args = ap.parse_args()
    if args.huge:
        h = huge_bench(args.huge)
        print(json.dumps(h), flush=True)
        print(f"\n| page, one trace of {args.huge:,} steps | first load | median of 3 | vs hello-world (median) |\n|---|---|---|---|")
        for name, label in (("hello", "Streamlit hello-world (baseline)"), ("trace", f"Trace at ?step={args.huge // 2}"),
                            ("trace_short", "Trace of a 3-step trace, same store"),
                            ("explorer", "Explorer, unfiltered, heatmap")):
            print(f"| {label} | {h[f'{name}_first_s']:.2f} s | {h[f'{name}_s']:.2f} s | {h[f'{name}_s'] / h['hello_s']:.1f}x |")
        return 0
    with tempfile.TemporaryDirectory(prefix="prm_bench_ui_") as tmp:
        db = args.db or Path(tmp) / "bench.duckdb"
        if db.exists():  # a kept store: its one dataset and its size
            from prm_viewer.store import Store

            with Store(db, read_only=True) as store:
                row = store.cursor().execute(
                    "SELECT dataset_id, (SELECT count(*) FROM traces), (SELECT count(*) FROM steps) FROM datasets").fetchone()
            assert row is not None, f"{db} holds no dataset: delete it to rebuild"
            did, traces, steps = row
            built = {"dataset_id": did, "traces": traces, "steps": steps, "reused": str(db)}
        else:
            db.parent.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            built = build_store(db, args.traces, args.steps) | {"build_s": time.perf_counter() - t}
        print(json.dumps(built), flush=True)
        if args.pages_only:
            q, sc = {}, {}
        else:
            q = query_bench(db, built["dataset_id"], naive=not args.skip_naive)
            print(json.dumps(q), flush=True)
        b = browser_bench(db, built["dataset_id"], repeat=args.repeat, n_traces=args.traces)  # before AppTest: it would hold the store's file
        print(json.dumps(b), flush=True)
        if not args.pages_only:
            sc = script_bench(db, built["dataset_id"])
            print(json.dumps(sc), flush=True)
    import os

    print(f"\nload average after the run (1/5/15 min): {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(page_table(b, args.repeat))
    if args.pages_only:
        return 0
    print(f"\n| measure ({built['traces']:,} traces, {built['steps']:,} steps, 1 scorer) | value |\n|---|---|")
    print(f"| Explorer reads (count + page 3 sorted by min score + heatmap cells) | {q['explorer_ours_s'] * 1000:.0f} ms |")
    if "explorer_naive_s" in q:
        print(f"| same, naive pandas baseline | {q['explorer_naive_s'] * 1000:.0f} ms ({q['explorer_naive_s'] / q['explorer_ours_s']:.0f}x slower) |")
    print(f"| Trace reads (header, steps, scores, predictions, prev/next) | {q['trace_ours_s'] * 1000:.0f} ms |")
    if "trace_naive_s" in q:
        print(f"| same, naive pandas baseline | {q['trace_naive_s'] * 1000:.0f} ms ({q['trace_naive_s'] / q['trace_ours_s']:.0f}x slower) |")
    print(f"| cold start to first paint (launch to settled Library page) | {b['cold_start_to_first_paint_s']:.2f} s (server healthy after {b['server_healthy_s']:.2f} s) |")
    def both(name: str) -> str:
        return f"{sc[f'script_{name}_s'] * 1000:.0f} ({sc[f'script_{name}_cpu_s'] * 1000:.0f})"

    print(f"| Explorer + heatmap script run, server side, wall (CPU) ms: after a write (median of 3) / warm / "
          f"another page / first run of a fresh process | {both('explorer_cold')} / {both('explorer_warm')} / "
          f"{both('explorer_other_page')} / {both('explorer_process_first')} |")
    print(f"| Trace script run, server side, wall (CPU) ms, medians of 3: after a write (nothing cached) / "
          f"next traces (own reads cold, the filter's ordered ids cached) | {both('trace_first')} / {both('trace')} |")
    print(f"| AppTest floor: a one-line script in the same harness (included in the script runs above), wall (CPU) ms | "
          f"{both('floor')} |")
    print(f"| server RSS after these pages | {b['server_rss_mb']:.0f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
