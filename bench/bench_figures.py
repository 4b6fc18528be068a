"""Benchmark: Best-of-N and scorer agreement over 100,000 traces (25,000 problems x 4 samples).

Builds (once) a store with one dataset of P problems x 4 samples (3-15 steps each, ~9 on
average), two scorers and gold step labels; then times, in the same run and on the same store:

- the DuckDB implementations (``bestofn_report``, ``agreement_report``), wall and process CPU
  seconds (all threads), median of ``--repeat`` runs after one warm-up;
- a bare DuckDB baseline run right before each timed run: one scan of one scorer's step scores
  grouped per trace (``SELECT trace_id, min(score) ... GROUP BY trace_id``), the least any
  per-trace analysis of the step scores must do; each figure is also given as a ratio to it;
- once (``--baseline-repeat``, 0 to skip), the same work in per-trace / per-problem Python loops
  over the fetched rows (the notebook way).

    nice -n 10 python bench/bench_figures.py [--problems 25000] [--samples 4] [--db /tmp/bench_figures.duckdb]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(db: Path, problems: int, samples: int) -> None:
    from prm_viewer.ingest import STEP_SCHEMA, TRACE_SCHEMA
    from prm_viewer.store import Store, problem_key

    rng = np.random.default_rng(0)
    n = problems * samples
    store = Store(db)
    texts = [f"Benchmark problem {i}: compute {i} + {i}." for i in range(problems)]
    pids = np.repeat(np.array([problem_key(p) for p in texts], dtype=object), samples)
    n_steps = rng.integers(3, 16, n)
    gold = np.where(rng.random(n) < 0.5, -1, (rng.random(n) * n_steps).astype(int))
    correct = np.where(gold == -1, rng.random(n) < 0.8, rng.random(n) < 0.25)
    answers = np.where(correct, "42", rng.integers(0, 5, n).astype(str))
    traces = pa.table({
        "ordinal": np.arange(n, dtype=np.int32), "source_line": np.arange(1, n + 1, dtype=np.int32),
        "source_id": [str(i) for i in range(n)], "problem_id": pids.tolist(),
        "problem": np.repeat(np.array(texts, dtype=object), samples).tolist(),
        "reference_answer": [None] * n, "source_problem_id": [None] * n, "generator": ["bench"] * n,
        "final_answer": answers.tolist(), "final_answer_correct": correct, "gold_first_error": gold.astype(np.int32),
        "error_type": [None] * n, "category": [None] * n, "split": [None] * n,
        "n_steps": n_steps.astype(np.int32), "has_step_labels": np.ones(n, bool), "metadata": [None] * n,
    }, schema=TRACE_SCHEMA)
    ords = np.repeat(np.arange(n, dtype=np.int32), n_steps)
    idx = (np.arange(ords.size) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps)).astype(np.int32)
    g = np.repeat(gold, n_steps)
    bad = (g >= 0) & (idx >= g)
    steps = pa.table({"ordinal": ords, "step_idx": idx, "text": np.full(ords.size, "step text"),
                      "gold_label": np.where(bad, -1, 1).astype(np.int8)}, schema=STEP_SCHEMA)
    with store.transaction():
        store.insert_dataset({"dataset_id": "benchfig", "name": "bench", "format": "bench", "file_hash": "benchfig"})
        store.append_batch("benchfig", traces, steps)
        store.finish_dataset("benchfig")
    tids = np.char.add("benchfig-", ords.astype(str))
    for name, noise in (("prm-a", 0.15), ("prm-b", 0.25)):
        sid = store.upsert_scorer({"scorer_id": name, "name": name, "recipe": "imported", "threshold": 0.5})
        score = np.clip(np.where(bad, 0.3, 0.75) + rng.normal(0, noise, ords.size), 0, 1)
        store.insert_step_scores(pa.table({"scorer_id": [sid] * ords.size, "trace_id": tids, "step_idx": idx,
                                           "score": score, "raw": score, "note": pa.nulls(ords.size, pa.string())}))
    store.close()


def _rows(store: Any) -> list[tuple[Any, ...]]:
    return store.cursor().execute(
        """SELECT t.trace_id, t.problem_id, t.ordinal, t.final_answer, t.final_answer_correct, ss.step_idx, ss.score
           FROM traces t JOIN step_scores ss USING (trace_id) WHERE ss.scorer_id = 'prm-a'
           ORDER BY t.ordinal, ss.step_idx""").fetchall()


def naive_bestofn(store: Any) -> dict[str, float]:
    """Fetch the scored steps, group per trace and problem in Python, loop over N, repeats, rules."""
    traces: dict[str, list[Any]] = {}
    for tid, pid, o, ans, ok, _i, s in _rows(store):
        traces.setdefault(tid, [pid, o, ans, ok, []])[4].append(s)
    problems: dict[str, list[list[Any]]] = {}
    for pid, o, ans, ok, sc in traces.values():
        problems.setdefault(pid, []).append([o, ans, ok, min(sc), float(np.prod(sc)), sc[-1], sum(sc) / len(sc)])
    rng = np.random.default_rng(0)
    out = {}
    for n in (1, 2, 4):
        accs = []
        for samples in problems.values():
            reps = [[s] for s in samples] if n == 1 else [samples] if n == len(samples) else \
                [[samples[i] for i in sorted(rng.choice(len(samples), n, replace=False))] for _ in range(20)]
            vals = []
            for sub in reps:
                r = {}
                for a in range(4):
                    r[f"{a}_max"] = max(sub, key=lambda x: (x[3 + a], -x[0]))[2]
                    w: dict[str, list[Any]] = {}
                    for x in sub:
                        e = w.setdefault(x[1], [0.0, x[0], x[2], 0])
                        e[0] += x[3 + a]
                        e[3] += 1
                    r[f"{a}_vote"] = max(w.values(), key=lambda e: (e[0], -e[1]))[2]
                    if a == 0:
                        r["maj"] = max(w.values(), key=lambda e: (e[3], -e[1]))[2]
                r["pass"] = any(x[2] for x in sub)
                vals.append(r)
            accs.append({k: float(np.mean([v[k] for v in vals])) for k in vals[0]})
        out[f"min_max@{n}"] = float(np.mean([a["0_max"] for a in accs]))
    return out


def naive_agreement(store: Any) -> dict[str, float]:
    """Fetch both scorers' steps, pair them in a dict, kappa / correlations / first errors in Python."""
    from scipy import stats as sps

    rows = store.cursor().execute(
        """SELECT a.trace_id, a.step_idx, a.score, b.score FROM step_scores a JOIN step_scores b
           USING (trace_id, step_idx) WHERE a.scorer_id = 'prm-a' AND b.scorer_id = 'prm-b'""").fetchall()
    per: dict[str, list[tuple[int, float, float]]] = {}
    for tid, i, sa, sb in rows:
        per.setdefault(tid, []).append((i, sa, sb))
    m = np.zeros((2, 2))
    xs, ys, same = [], [], 0
    for steps in per.values():
        steps.sort()
        fa = next((i for i, sa, _ in steps if sa < 0.5), -1)
        fb = next((i for i, _, sb in steps if sb < 0.5), -1)
        same += fa == fb
        for _i, sa, sb in steps:
            m[int(sa >= 0.5), int(sb >= 0.5)] += 1
            xs.append(sa)
            ys.append(sb)
    po = np.trace(m) / m.sum()
    pe = (m.sum(1) @ m.sum(0)) / m.sum() ** 2
    return {"kappa": float((po - pe) / (1 - pe)), "spearman": float(sps.spearmanr(xs, ys)[0]),
            "consensus": same}


def fast_bestofn(store: Any) -> dict[str, float]:
    from prm_viewer.analysis.bestofn import bestofn_report
    from prm_viewer.analysis.runs import resolve_run

    rep = bestofn_report(store, resolve_run(store, "bench"), "prm-a", ns=[1, 2, 4], repeats=20)
    return {f"min_max@{n}": rep.accuracy("min_max", n) or 0.0 for n in (1, 2, 4)}


def fast_agreement(store: Any) -> dict[str, float]:
    from prm_viewer.analysis.agreement import agreement_report
    from prm_viewer.analysis.runs import resolve_run

    rep = agreement_report(store, resolve_run(store, "bench"), "prm-a", "prm-b")
    return {"kappa": rep.kappa or 0.0, "spearman": rep.spearman or 0.0, "consensus": rep.n_consensus}


BARE_SCAN = ("SELECT count(*), sum(m) FROM (SELECT trace_id, min(score) AS m FROM step_scores "
             "WHERE scorer_id = 'prm-a' GROUP BY trace_id)")


def _clock(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def timed(fn: Callable[[Any], dict[str, float]], store: Any, repeat: int) -> dict[str, Any]:
    """Median wall / CPU of ``fn`` over ``repeat`` runs after a warm-up, each right after a run of
    the bare scan (its median too, and the per-run ratios)."""
    result = fn(store)  # warm-up (DuckDB caches, imports)
    base: list[tuple[float, float]] = []
    runs: list[tuple[float, float]] = []
    for _ in range(repeat):
        bw, bc, _ = _clock(lambda: store.cursor().execute(BARE_SCAN).fetchall())
        w, c, result = _clock(lambda: fn(store))
        base.append((bw, bc))
        runs.append((w, c))
    med = statistics.median
    return {"wall_s": round(med(w for w, _ in runs), 3), "cpu_s": round(med(c for _, c in runs), 3),
            "bare_scan_wall_s": round(med(w for w, _ in base), 3), "bare_scan_cpu_s": round(med(c for _, c in base), 3),
            "ratio_wall": round(med(w / b[0] for (w, _), b in zip(runs, base)), 1),
            "ratio_cpu": round(med(c / b[1] for (_, c), b in zip(runs, base)), 1),
            "runs_wall_s": [round(w, 3) for w, _ in runs], "result": result}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=25_000)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--db", type=Path, default=Path("/tmp/bench_figures.duckdb"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline-repeat", type=int, default=1, help="runs of the Python-loop baseline (0: skip)")
    args = ap.parse_args()
    if not args.db.exists():
        build(args.db, args.problems, args.samples)
    from prm_viewer.store import Store

    try:
        store = Store(args.db, read_only=True)
    except Exception:  # a store written by an older version: bring its derived objects up to date once
        Store(args.db).close()
        store = Store(args.db, read_only=True)
    n = store.cursor().execute("SELECT count(*) FROM traces").fetchone()[0]
    report: dict[str, Any] = {"traces": n, "load_average_start": list(os.getloadavg())}
    for name, fast, naive in (("bestofn", fast_bestofn, naive_bestofn), ("agreement", fast_agreement, naive_agreement)):
        entry = timed(fast, store, args.repeat)
        if args.baseline_repeat > 0:
            loops = [_clock(lambda: naive(store)) for _ in range(args.baseline_repeat)]
            tn = statistics.median(w for w, _, _ in loops)
            entry |= {"python_loop_s": round(tn, 3), "speedup_vs_loop": round(tn / entry["wall_s"], 1),
                      "python_loop": loops[-1][2]}
        report[name] = entry
    report["load_average_end"] = list(os.getloadavg())
    report["cpus"] = os.cpu_count()
    print(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
