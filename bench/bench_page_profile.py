"""Benchmark: where a settled page load's time goes in headless Chromium.

For each page named on the command line: two warm-up loads (server caches, browser code cache),
then one load under Chromium's CPU profiler (CDP ``Profiler``, 200 us sampling): time to the
settled page (``bench_ui._settle``), time to the last WebSocket frame from the server (the script
run's last delta), renderer busy time, long tasks, and self time by script and by function.

    python bench/bench_page_profile.py STORE compare bestofn explorer
"""

from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

LONG_TASKS_JS = """window.__lt = []; new PerformanceObserver(l => { for (const e of l.getEntries())
    window.__lt.push([e.startTime, e.duration]); }).observe({type: 'longtask', buffered: true});"""


def summarise(profile: dict[str, Any]) -> tuple[float, float, collections.Counter[str], collections.Counter[str]]:
    """(profiled s, renderer busy s, self ms by script, self ms by function) of a CDP CPU profile."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    by_fn: collections.Counter[str] = collections.Counter()
    by_script: collections.Counter[str] = collections.Counter()
    idle = 0.0
    for sample, dt in zip(profile["samples"], profile["timeDeltas"]):
        frame = nodes[sample]
        fn, script = frame["functionName"] or "(anonymous)", frame["url"].rsplit("/", 1)[-1][:40]
        if fn == "(idle)":
            idle += dt
        else:  # "(program)" is the renderer's native work (layout, paint, parsing): busy
            by_script[script or fn] += dt / 1e3
        by_fn[f"{fn} ({script})" if script else fn] += dt / 1e3
    total = sum(profile["timeDeltas"]) / 1e6
    return total, total - idle / 1e6, by_script, by_fn


def main() -> None:
    from playwright.sync_api import sync_playwright

    from bench_ui import _settle
    from tests.e2e.server import app_server, launch_browser

    db, pages = Path(sys.argv[1]), sys.argv[2:]
    with sync_playwright() as pw, app_server(db, env={"PRM_VIEWER_DEMO_ON_EMPTY": "0"}, timeout=300) as (base, _proc):
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(LONG_TASKS_JS)
        frames: list[float] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda _f: frames.append(time.monotonic())))
        for name in pages:
            for _ in range(2):
                page.goto(f"{base}/{name}")
                _settle(page)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            cdp.send("Profiler.start")
            frames.clear()
            t0 = time.monotonic()
            page.goto(f"{base}/{name}")
            settled = _settle(page)
            total, busy, by_script, by_fn = summarise(cdp.send("Profiler.stop")["profile"])
            long_tasks = page.evaluate("window.__lt")
            print(json.dumps({
                "page": name, "settled_s": round(settled - t0, 3),
                "last_ws_frame_s": round(max(frames) - t0, 3) if frames else None,
                "profiled_s": round(total, 2), "renderer_busy_s": round(busy, 2),
                "long_tasks_ms": round(sum(d for _s, d in long_tasks)),
                "self_ms_by_script": [[k, round(v)] for k, v in by_script.most_common(8)],
                "self_ms_by_function": [[k, round(v)] for k, v in by_fn.most_common(12) if not k.startswith("(idle)")],
            }), flush=True)
        browser.close()


if __name__ == "__main__":
    main()
