"""Import benchmark: our import vs DuckDB's bare ``read_json`` vs a naive row-by-row path.

On the generated file the paths run interleaved (ours with the SQL fast path, ours with the Python
reader (``import_file(fast=False)``), bare ``read_json``), ``--repeat`` rounds, so that a loaded
machine's drift falls on all of them; the best run of each and the per-round ratios are printed,
with each child's CPU seconds (user + system, all threads, interpreter start included), its wall
time from inside (after its imports) and from the parent (``process wall``: interpreter start,
imports and exit included), and the load average.

Usage (from the repository root, with the venv active)::

    python bench/bench_import.py                 # ProcessBench files + a generated 1M-step file
    python bench/bench_import.py --steps 200000  # a smaller generated file
    python bench/bench_import.py --skip-big      # ProcessBench only
    python bench/bench_import.py --inprocess     # also both calls in one warm process (labelled apart)

Every measured path runs in its own child process (``--child``) so each peak RSS figure belongs
to that path alone. The generated file is ProcessBench-shaped JSONL written under /tmp (never
the repository). The naive path (``json.loads`` per line + one INSERT per trace and per step)
runs on a prefix of the file and is extrapolated linearly to the whole file: it says so.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PB_DIR = ROOT.parent / "shared" / "data" / "ProcessBench"
PB_FILES = ("gsm8k.json", "math.json", "olympiadbench.json", "omnimath.json")

_WORDS = ("the", "value", "of", "we", "so", "then", "sum", "product", "equation", "term", "therefore", "hence",
          "substitute", "gives", "total", "each", "side", "divide", "multiply", "add", "answer", "is", "step",
          "number", "apples", "cost", "x", "y", "area", "length")


def generate(path: Path, n_steps: int, seed: int = 0) -> tuple[int, int]:
    """Write ProcessBench-shaped JSONL with about ``n_steps`` steps; returns (traces, steps)."""
    rng = random.Random(seed)
    traces = steps = 0
    with open(path, "w", encoding="utf-8") as fh:
        while steps < n_steps:
            n = min(rng.randint(4, 16), n_steps - steps)
            body = []
            for k in range(n):
                words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 12)))
                a, b = rng.randint(1, 999), rng.randint(1, 99)
                body.append(f"Step {k + 1}: {words}: {a} + {b} = {a + b}.")
            problem = f"Problem {traces // 3}: " + " ".join(rng.choice(_WORDS) for _ in range(30)) + "?"
            rec = {"id": f"gen-{traces}", "generator": f"model-{traces % 7}", "problem": problem, "steps": body,
                   "final_answer_correct": rng.random() < 0.5, "label": rng.randint(-1, n - 1)}
            fh.write(json.dumps(rec) + "\n")
            traces += 1
            steps += n
    return traces, steps


# ------------------------------------------------------------------ measured paths (children)


def child_ours(files: list[str], db: str, fast: bool = True) -> dict[str, Any]:
    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store

    per_file = []
    t0 = time.perf_counter()
    with Store(db) as store:
        for f in files:
            t = time.perf_counter()
            rep = import_file(store, f, fast=fast)
            per_file.append({"file": Path(f).name, "traces": rep.traces, "steps": rep.steps,
                             "seconds": time.perf_counter() - t})
    return {"seconds": time.perf_counter() - t0, "traces": sum(p["traces"] for p in per_file),
            "steps": sum(p["steps"] for p in per_file), "per_file": per_file}


def child_read_json(files: list[str], db: str) -> dict[str, Any]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(db)
    steps = traces = 0
    for i, f in enumerate(files):
        con.execute(f"CREATE TABLE raw{i} AS SELECT * FROM read_json(?)", [f])
        t, s = con.execute(f"SELECT count(*), sum(len(steps)) FROM raw{i}").fetchone()
        traces += t
        steps += int(s)
    con.close()
    return {"seconds": time.perf_counter() - t0, "traces": traces, "steps": steps}


def child_naive(files: list[str], db: str, limit_steps: int) -> dict[str, Any]:
    """Python loop: json per record, one INSERT per trace and per step (what a first version does)."""
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect(db)
    con.execute("CREATE TABLE traces (trace_id VARCHAR, generator VARCHAR, problem VARCHAR, fac BOOLEAN, label INT)")
    con.execute("CREATE TABLE steps (trace_id VARCHAR, step_idx INT, text VARCHAR)")
    con.execute("BEGIN")
    traces = steps = 0
    for f in files:
        text = Path(f).read_text(encoding="utf-8")
        items = json.loads(text) if text.lstrip().startswith("[") else (json.loads(x) for x in text.splitlines() if x.strip())
        for rec in items:
            if steps >= limit_steps:
                break
            tid = f"{Path(f).stem}-{traces}"
            con.execute("INSERT INTO traces VALUES (?, ?, ?, ?, ?)",
                        [tid, rec.get("generator"), rec["problem"], rec.get("final_answer_correct"), rec["label"]])
            for k, s in enumerate(rec["steps"]):
                con.execute("INSERT INTO steps VALUES (?, ?, ?)", [tid, k, s])
            traces += 1
            steps += len(rec["steps"])
    con.execute("COMMIT")
    con.close()
    return {"seconds": time.perf_counter() - t0, "traces": traces, "steps": steps}


def child_inprocess(files: list[str], db: str, rounds: int = 3) -> dict[str, Any]:
    """Both calls in one warm process (imports done, DuckDB's first parameter binding done), in
    turn, ``rounds`` times: ``import_file`` into a fresh store and closing it, against the bare
    ``CREATE TABLE raw AS SELECT * FROM read_json(?)`` into a fresh DuckDB file and closing it.
    CPU is this process's (all threads) over each call."""
    import duckdb

    from prm_viewer.ingest import import_file
    from prm_viewer.store import Store

    duckdb.connect().execute("SELECT ?", [1]).fetchall()  # the first binding imports pandas (~0.5-1 CPU s)
    out: dict[str, list[tuple[float, float]]] = {"ours": [], "read_json": []}
    for r in range(rounds):
        for kind in ("ours", "read_json"):
            path = Path(f"{db}.{kind}{r}")
            t, c = time.perf_counter(), time.process_time()
            if kind == "ours":
                with Store(path) as store:
                    for f in files:
                        import_file(store, f)
            else:
                con = duckdb.connect(str(path))
                for i, f in enumerate(files):
                    con.execute(f"CREATE TABLE raw{i} AS SELECT * FROM read_json(?)", [f])
                con.close()
            out[kind].append((time.perf_counter() - t, time.process_time() - c))
    return {"seconds": 0.0, "traces": 0, "steps": 0, "rounds": out}


def child_python(files: list[str], db: str) -> dict[str, Any]:
    """Our import with the SQL fast path off: the Python reader (what every other format uses)."""
    return child_ours(files, db, fast=False)


CHILDREN = {"ours": child_ours, "python": child_python, "read_json": child_read_json, "naive": child_naive,
            "inprocess": child_inprocess}


def run_child(kind: str, files: list[str], extra: list[str] | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="prm_bench_") as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        cmd = [sys.executable, __file__, "--child", kind, "--db", db, *(extra or []), "--", *files]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        process_s = time.perf_counter() - t0  # interpreter start, imports and exit included
        return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_s": process_s}


def _child_main(args: argparse.Namespace) -> None:
    fn = CHILDREN[args.child]
    if args.child == "naive":
        result = fn(args.files, args.db, args.limit_steps)
    elif args.child == "inprocess":
        result = child_inprocess(args.files, args.db, args.repeat)
    else:
        result = fn(args.files, args.db)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    result["cpu_s"] = usage.ru_utime + usage.ru_stime  # all threads, interpreter start included
    print(json.dumps(result))


# ------------------------------------------------------------------ report


def _row(label: str, r: dict[str, Any], note: str = "") -> str:
    rate = r["steps"] / r["seconds"] if r["seconds"] else float("nan")
    cpu = f"{r['cpu_s']:.2f}" if "cpu_s" in r else ""
    proc = f"{r['process_s']:.2f}" if "process_s" in r else ""
    return (f"| {label} | {r['traces']:,} | {r['steps']:,} | {r['seconds']:.2f} | {proc} | {cpu} | {rate:,.0f} | "
            f"{r['peak_rss_mb']:.0f} | {note} |")


HEADER = ("| path | traces | steps | wall s | process wall s | CPU s | steps/s | peak RSS MB | note |\n"
          "|---|---|---|---|---|---|---|---|---|")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", choices=sorted(CHILDREN))
    p.add_argument("--db")
    p.add_argument("--limit-steps", type=int, default=10**12)
    p.add_argument("--steps", type=int, default=1_000_000, help="steps in the generated file")
    p.add_argument("--naive-steps", type=int, default=50_000, help="prefix the naive path runs on")
    p.add_argument("--repeat", type=int, default=3, help="runs per path (the best is reported)")
    p.add_argument("--skip-big", action="store_true")
    p.add_argument("--inprocess", action="store_true",
                   help="also time import_file against bare read_json in one warm process (labelled apart)")
    p.add_argument("files", nargs="*")
    args = p.parse_args()
    if args.child:
        _child_main(args)
        return

    def best(kind: str, files: list[str], extra: list[str] | None = None) -> dict[str, Any]:
        runs = [run_child(kind, files, extra) for _ in range(args.repeat)]
        return min(runs, key=lambda r: r["seconds"])

    def interleaved(kinds: list[str], files: list[str]) -> dict[str, dict[str, Any]]:
        """Best of ``--repeat`` runs per path, the paths run in turn (a loaded machine's drift
        falls on all of them alike); the per-round ratios ours / read_json are kept too."""
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
        for _ in range(args.repeat):
            for k in kinds:
                runs[k].append({**run_child(k, files), "load": os.getloadavg()[0]})
        out = {k: min(v, key=lambda r: r["seconds"]) for k, v in runs.items()}
        pairs = list(zip(runs["ours"], runs["read_json"]))
        out["_rounds"] = {"ratios": [o["seconds"] / r["seconds"] for o, r in pairs],
                          "process_ratios": [o["process_s"] / r["process_s"] for o, r in pairs],
                          "cpu_ratios": [o["cpu_s"] / r["cpu_s"] for o, r in pairs],
                          "loads": [o["load"] for o, _ in pairs]}
        return out

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; best of {args.repeat} runs per path; "
          f"{_load()} at the start\n")
    pb = [str(PB_DIR / f) for f in PB_FILES if (PB_DIR / f).exists()]
    if pb:
        ours = best("ours", pb)
        rj = best("read_json", pb)
        naive = run_child("naive", pb)  # once: it is slow and not the figure under test
        print("### ProcessBench (4 files, JSON arrays)\n")
        print(HEADER)
        print(_row("prm_viewer import", ours))
        print(_row("DuckDB read_json -> table", rj, "no validation, no ids, nested rows"))
        print(_row("naive loop + INSERT per row", naive))
        print()
        for f in ours["per_file"]:
            print(f"- {f['file']}: {f['traces']} traces, {f['steps']} steps, {f['seconds']:.2f} s")
        print(f"\nours / read_json = {ours['seconds'] / rj['seconds']:.2f}x; naive / ours = "
              f"{naive['seconds'] / ours['seconds']:.1f}x\n")
    else:
        print(f"(ProcessBench files not found under {PB_DIR}; skipped)\n")
    if args.skip_big:
        return
    big = Path(tempfile.gettempdir()) / f"prm_bench_{args.steps}.jsonl"
    if not big.exists():
        n_traces, n_steps = generate(big, args.steps)
    size_mb = big.stat().st_size / 1e6
    res = interleaved(["ours", "read_json", "python"], [str(big)])
    ours, rj, py = res["ours"], res["read_json"], res["python"]
    naive = run_child("naive", [str(big)], ["--limit-steps", str(args.naive_steps)])
    scale = ours["steps"] / naive["steps"]
    naive_full = {**naive, "seconds": naive["seconds"] * scale, "traces": ours["traces"], "steps": ours["steps"]}
    naive_full.pop("cpu_s", None)
    naive_full.pop("process_s", None)
    print(f"### Generated ProcessBench-shaped JSONL: {ours['steps']:,} steps, {ours['traces']:,} traces, {size_mb:.0f} MB\n")
    print(HEADER)
    print(_row("prm_viewer import (SQL fast path)", ours))
    print(_row("prm_viewer import, Python reader (fast=False)", py))
    print(_row("DuckDB read_json -> table", rj, "the practical limit"))
    print(_row("naive loop + INSERT per row", naive_full,
               f"extrapolated x{scale:.0f} from {naive['steps']:,} steps ({naive['seconds']:.1f} s)"))
    rounds = res["_rounds"]

    def fmt(xs: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in xs)

    print(f"\nours / read_json = {ours['seconds'] / rj['seconds']:.2f}x best-to-best (target <= 1.5x); per round: "
          f"wall {fmt(rounds['ratios'])}; process wall (interpreter start included) {fmt(rounds['process_ratios'])}; "
          f"CPU s {fmt(rounds['cpu_ratios'])}; 1-min load after each round's import {fmt(rounds['loads'])}; "
          f"Python reader / read_json = "
          f"{py['seconds'] / rj['seconds']:.2f}x; naive / ours = {naive_full['seconds'] / ours['seconds']:.0f}x; "
          f"peak RSS ours {ours['peak_rss_mb']:.0f} MB (target < 1024 MB); {_load()} at the end")
    if args.inprocess:
        inp = run_child("inprocess", [str(big)], ["--repeat", str(args.repeat)])["rounds"]
        print("\n### In one warm process (labelled: not the child-process figure above)\n")
        print("| round | import_file wall s | CPU s | bare read_json wall s | CPU s | wall ratio | CPU ratio |")
        print("|---|---|---|---|---|---|---|")
        for i, ((ow, oc), (rw, rc)) in enumerate(zip(inp["ours"], inp["read_json"]), 1):
            print(f"| {i} | {ow:.2f} | {oc:.2f} | {rw:.2f} | {rc:.2f} | {ow / rw:.2f} | {oc / rc:.2f} |")
        print(f"\n{_load()} at the end")


if __name__ == "__main__":
    main()
