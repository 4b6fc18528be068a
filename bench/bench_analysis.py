"""Benchmark: localisation and compare over N traces per side (default 100,000).

Builds (once) a store with two runs on the same N problems, ~9 steps per trace and one scorer,
then times each analysis in a fresh subprocess (so peak RSS is that analysis's alone) against a
naive baseline doing the same work with per-trace Python loops over the fetched rows.

    python bench/bench_analysis.py [--traces 100000] [--db /tmp/bench_analysis.duckdb]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(db: Path, n: int) -> None:
    from prm_viewer.ingest import STEP_SCHEMA, TRACE_SCHEMA
    from prm_viewer.store import Store, problem_key

    rng = np.random.default_rng(0)
    store = Store(db)
    sid = store.upsert_scorer({"scorer_id": "bench-prm", "name": "bench-prm", "recipe": "imported", "threshold": 0.5})
    problems = [f"Benchmark problem number {i}: compute {i} + {i}." for i in range(n)]
    pids = [problem_key(p) for p in problems]
    for name, quality in (("with", 0.75), ("without", 0.6)):
        n_steps = rng.integers(3, 16, n)
        gold = np.where(rng.random(n) < 0.5, -1, (rng.random(n) * n_steps).astype(int))
        correct = np.where(gold == -1, rng.random(n) < quality + 0.2, rng.random(n) < 0.2)
        traces = pa.table({
            "ordinal": np.arange(n, dtype=np.int32), "source_line": np.arange(1, n + 1, dtype=np.int32),
            "source_id": [str(i) for i in range(n)], "problem_id": pids, "problem": problems,
            "reference_answer": [None] * n, "source_problem_id": [None] * n, "generator": [name] * n,
            "final_answer": [None] * n, "final_answer_correct": correct, "gold_first_error": gold.astype(np.int32),
            "error_type": [None] * n, "category": [None] * n,
            "split": np.where(np.arange(n) % 2 == 0, "in_domain", "out_of_domain"),
            "n_steps": n_steps.astype(np.int32), "has_step_labels": np.zeros(n, bool), "metadata": [None] * n,
        }, schema=TRACE_SCHEMA)
        ords = np.repeat(np.arange(n, dtype=np.int32), n_steps)
        idx = (np.arange(ords.size) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps)).astype(np.int32)
        steps = pa.table({"ordinal": ords, "step_idx": idx, "text": np.full(ords.size, "step text"),
                          "gold_label": pa.nulls(ords.size, pa.int8())}, schema=STEP_SCHEMA)
        did = f"bench{name}"
        with store.transaction() as cur:
            store.insert_dataset({"dataset_id": did, "name": name, "format": "bench", "file_hash": did})
            store.append_batch(did, traces, steps)
            store.finish_dataset(did)
        g = np.repeat(gold, n_steps)
        score = np.clip(np.where((g >= 0) & (idx >= g), rng.beta(2, 5, ords.size), rng.beta(quality * 10, 2, ords.size)), 0, 1)
        store.insert_step_scores(pa.table({
            # built in Arrow, not as a Python list of one string per step (1M traces: ~9M strings)
            "scorer_id": pa.array([sid]).take(np.zeros(ords.size, np.int32)),
            "trace_id": pc.binary_join_element_wise(f"{did}-", pc.cast(pa.array(ords), pa.string()), ""), "step_idx": idx,
            "score": score, "raw": score, "note": pa.nulls(ords.size, pa.string())}))
    store.close()


def _fetch_steps(store, dataset: str):
    return store.cursor().execute(
        """SELECT t.trace_id, t.problem_id, t.gold_first_error, t.final_answer_correct, t.split, ss.step_idx, ss.score
           FROM traces t JOIN datasets d USING (dataset_id) JOIN step_scores ss USING (trace_id)
           WHERE d.name = ? ORDER BY t.trace_id, ss.step_idx""", [dataset]).fetchall()


def _group(rows):
    traces: dict[str, list] = {}
    for tid, pid, gold, ok, split, i, s in rows:
        t = traces.setdefault(tid, [pid, gold, ok, split, []])
        t[4].append(s)
    return traces


def naive_localisation(store) -> dict:
    traces = _group(_fetch_steps(store, "with"))
    out = {}
    for tau in np.linspace(0, 1, 101):
        e = c = he = hc = 0
        for pid, gold, ok, split, scores in traces.values():
            pred = next((i for i, s in enumerate(scores) if s < tau), -1)
            if gold == -1:
                c += 1
                hc += pred == -1
            else:
                e += 1
                he += pred == gold
        ae, ac = he / e * 100, hc / c * 100
        out[float(tau)] = 0 if ae + ac == 0 else 2 * ae * ac / (ae + ac)
    return {"best_f1": max(out.values())}


def naive_compare(store) -> dict:
    ta, tb = _group(_fetch_steps(store, "with")), _group(_fetch_steps(store, "without"))
    pa_ = {v[0]: v for v in ta.values()}
    pb_ = {v[0]: v for v in tb.values()}
    shared = [p for p in pa_ if p in pb_]
    a = np.array([bool(pa_[p][2]) for p in shared], float)
    b = np.array([bool(pb_[p][2]) for p in shared], float)
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(2000):
        i = rng.integers(0, len(shared), len(shared))
        diffs.append(b[i].mean() - a[i].mean())
    mins_a = [min(pa_[p][4]) for p in shared]
    mins_b = [min(pb_[p][4]) for p in shared]
    from scipy.stats import binomtest, mannwhitneyu
    n10 = int(sum(1 for x, y in zip(a, b) if x and not y))
    n01 = int(sum(1 for x, y in zip(a, b) if y and not x))
    return {"acc_a": a.mean(), "acc_b": b.mean(), "ci": list(np.quantile(diffs, [0.025, 0.975])),
            "p": binomtest(n10, n10 + n01).pvalue, "mw": mannwhitneyu(mins_a, mins_b).pvalue}


def fast_localisation(store) -> dict:
    from prm_viewer.analysis.reports import localisation_report
    from prm_viewer.analysis.runs import resolve_run

    rep = localisation_report(store, [resolve_run(store, "with")], "bench-prm", threshold=0.5)
    return {"best_f1": float(rep.best_by_split["f1"].max()),
            "f1_at_0.5": float(rep.overall.set_index("localiser").loc["threshold", "f1"])}


def fast_compare(store) -> dict:
    from prm_viewer.analysis.reports import compare_report
    from prm_viewer.analysis.runs import resolve_run

    rep = compare_report(store, resolve_run(store, "with"), resolve_run(store, "without"), scorer="bench-prm")
    return {"acc_a": rep.accuracy.a.estimate, "acc_b": rep.accuracy.b.estimate, "shared": rep.n_shared_problems,
            "p": rep.accuracy.mcnemar.p_value}


JOBS = {"localisation": fast_localisation, "compare": fast_compare,
        "naive-localisation": naive_localisation, "naive-compare": naive_compare}


def measure(db: Path, job: str) -> None:
    import scipy.stats  # noqa: F401  (imports are not part of the timing; the app has them loaded)

    import prm_viewer.analysis.reports  # noqa: F401
    from prm_viewer.store import Store

    store = Store(db, read_only=True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    result = JOBS[job](store)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"job": job, "seconds": dt, "peak_rss_mb": peak / 1024, "rss_before_mb": base / 1024,
                      "result": result}, default=float))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--db", default="/tmp/bench_analysis.duckdb")
    ap.add_argument("--measure")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    db = Path(args.db)
    if args.measure:
        measure(db, args.measure)
        return
    if args.build_only:
        build(db, args.traces)
        return
    if not db.exists():
        # In its own process: Linux keeps a process's peak RSS across exec, so a build in this
        # process would become every measured child's "peak RSS" (3.4 GB at 1M traces per side).
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--db", str(db), "--traces", str(args.traces), "--build-only"], check=True)
        print(f"built {db} with {args.traces} traces per side in {time.perf_counter() - t0:.1f} s", flush=True)
    jobs = ["localisation", "compare"] + ([] if args.skip_naive else ["naive-localisation", "naive-compare"])
    results = {}
    for job in jobs:
        out = subprocess.run([sys.executable, __file__, "--db", str(db), "--measure", job],
                             capture_output=True, text=True, check=True).stdout
        results[job] = json.loads(out.strip().splitlines()[-1])
        print(json.dumps(results[job]), flush=True)
    if not args.skip_naive:
        for job in ("localisation", "compare"):
            ratio = results[f"naive-{job}"]["seconds"] / results[job]["seconds"]
            print(f"{job}: {results[job]['seconds']:.2f} s vs naive {results[f'naive-{job}']['seconds']:.2f} s -> {ratio:.1f}x")


if __name__ == "__main__":
    main()
