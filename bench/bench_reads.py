"""Benchmark: the store reads behind each page, in-process, on a ``bench_ui.py`` store.

Each read runs once (its first call in this process: the first read listed also pays the store's
first open) and then 3 times warm (median).
These are the reads whose result does not grow with the data (one page of rows, one trace, the
list of datasets), so their time is how the store's layout scales.

    python bench/bench_reads.py --db /tmp/reads/bench.duckdb [--traces 100000] [--steps 10] [READ ...]

Builds the store first when ``--db`` does not exist (``bench_ui.build_store``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def reads(store: Any, did: str) -> dict[str, Callable[[], Any]]:
    from prm_viewer import annotation, queries
    from prm_viewer.queries import TraceFilter

    tid = f"{did}-4321"
    f = TraceFilter(datasets=(did,), scorer="bench-prm", gold_error="present")
    fd = TraceFilter(datasets=(did,))

    def heatmap() -> Any:
        page = queries.explorer_page(store, f, sort="min_score", limit=200, offset=400)
        return queries.heatmap_scores(store, "bench-prm", tuple(page["trace_id"]), 150)

    return {
        "datasets": lambda: queries.datasets(store),
        "explorer_options": lambda: queries.explorer_options(store),
        "explorer_count": lambda: queries.explorer_count(store, f),
        "explorer_page": lambda: queries.explorer_page(store, f, sort="min_score", limit=200, offset=400),
        "explorer_page+heatmap": heatmap,
        "trace_header": lambda: queries.trace_header(store, tid),
        "trace_steps": lambda: queries.trace_steps(store, tid),
        "trace_scores_and_predictions": lambda: queries.trace_scores_and_predictions(store, tid),
        "explorer_order": lambda: queries.explorer_order(store, fd),
        "trace_labels": lambda: annotation.trace_labels(store, tid),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("only", nargs="*", help="reads to run (default: all)")
    args = ap.parse_args()
    if not args.db.exists():
        from bench.bench_ui import build_store

        args.db.parent.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        info = build_store(args.db, args.traces, args.steps)
        print(f"built {args.db} in {time.perf_counter() - t:.1f} s ({info['traces']} traces)", flush=True)
    from prm_viewer.store import Store

    store = Store(args.db, read_only=True)
    did = store.cursor().execute("SELECT dataset_id FROM datasets").fetchone()[0]
    table = reads(store, did)
    out: dict[str, tuple[float, float]] = {}
    for name in args.only or list(table):
        fn = table[name]
        t = time.perf_counter()
        fn()
        cold = time.perf_counter() - t
        warm = []
        for _ in range(3):
            t = time.perf_counter()
            fn()
            warm.append(time.perf_counter() - t)
        out[name] = (round(cold * 1000, 1), round(statistics.median(warm) * 1000, 1))
        print(f"{name}: cold {cold * 1000:.1f} ms, warm median {statistics.median(warm) * 1000:.1f} ms", flush=True)
    store.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
