"""GPU scoring benchmark, prepared to run as is on a CUDA machine: naive loop vs engine vs vLLM.

On a CUDA machine (default): a random-weight PRM of the Qwen2.5-Math-7B-PRM shape (hidden 3584,
intermediate 18944, 28 layers, 28 query / 4 key-value heads, vocabulary 152064) in the
Qwen2.5-Math-PRM layout (``Qwen2ForProcessRewardModel``: ``model.*`` + ``score.0/score.2``),
built from its config on the GPU and saved to disk in bfloat16 (no download; the tokenizer is a
byte-level BPE trained here on the traces, with ``<extra_0>``). Traces: all 3,400 of ProcessBench
(gsm8k, math, olympiadbench, omnimath) from ../shared/data when present, else synthetic traces
of a similar length distribution. Sides, each in its own subprocess (its peak memory its own):

  naive    the model card's loop: per trace, chat text, encode, ``model(input_ids)``, softmax
  engine   the scoring engine, transformers backend, bfloat16 (``score_traces`` in chunks)
  vllm     the scoring engine, vllm backend (pooling runner), bfloat16, when vllm is importable

Each side scores for at most ``--budget-s`` seconds (the run stays under 8 minutes on an H100 /
H200: ~1 min to build, then load + budget per side) and reports tokens/s, peak GPU memory and
the fraction of the GPU's dense bf16 peak (``PEAK_TFLOPS`` by device name) its useful FLOPs
reach, and the scores' max abs difference vs the naive loop on the traces both scored.

``--tiny`` (forced when no GPU is visible): a 2-layer, hidden-64 model in float32 on the CPU and
eight traces, every side in this one process: runs in seconds, so the test suite runs it
(tests/scoring/test_bench_gpu.py).

    python bench/bench_gpu.py [--tiny] [--limit N] [--budget-s 60] [--sides naive,engine,vllm] [--json FILE]
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
DATA = ROOT.parent / "shared" / "data"
SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
FULL = dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
            num_key_value_heads=4, max_position_embeddings=4096, vocab_size=152064)
"""Qwen2.5-Math-PRM-7B's config (the published one), random weights."""
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=4096)
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "H800": 989.0, "GH200": 989.0, "B200": 2250.0, "A100": 312.0,
               "A800": 312.0, "L40S": 362.0, "L40": 181.0, "A10G": 70.0, "A10": 125.0, "L4": 121.0,
               "RTX 4090": 165.0, "A6000": 155.0}
"""Dense bf16 tensor-core peak (TFLOP/s, no sparsity) by a substring of the device name."""
SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")


def peak_tflops(device_name: str) -> float | None:
    """The bf16 peak for a CUDA device name (longest matching key), ``None`` when unknown."""
    hits = [k for k in PEAK_TFLOPS if k.lower() in device_name.lower()]
    return PEAK_TFLOPS[max(hits, key=len)] if hits else None


def load_traces(limit: int) -> tuple[list[dict[str, Any]], str]:
    """ProcessBench traces (every subset, in order) or synthetic ones of a similar shape."""
    folder = DATA / "ProcessBench"
    if all((folder / f"{s}.json").is_file() for s in SUBSETS):
        out: list[dict[str, Any]] = []
        for s in SUBSETS:
            for r in json.loads((folder / f"{s}.json").read_text()):
                out.append({"trace_id": f"{s}-{r['id']}", "problem": r["problem"], "steps": list(r["steps"])})
        out = out[:limit] if limit else out
        return out, f"ProcessBench, {len(out)} traces ({', '.join(SUBSETS)})"
    rng = random.Random(0)
    n = limit or 3400
    words = "we compute the sum of and then multiply by so that value is which gives".split()
    syn = []
    for i in range(n):  # ProcessBench-like: problems ~60 words, 3-20 steps of ~10-60 words
        problem = " ".join(rng.choice(words) for _ in range(rng.randint(20, 120))) + f" {i}?"
        steps = [" ".join(rng.choice(words) for _ in range(rng.randint(10, 60))) + f" = {rng.randint(1, 999)}."
                 for _ in range(rng.randint(3, 20))]
        syn.append({"trace_id": f"syn-{i}", "problem": problem, "steps": steps})
    return syn, f"synthetic, {n} traces (ProcessBench-like lengths; ../shared/data absent)"


def build_model(folder: Path, traces: list[dict[str, Any]], tiny: bool) -> None:
    """The checkpoint folder: config.json, model.safetensors, tokenizer files."""
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

    from tests.scoring.tiny_models import QWEN_TEMPLATE

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512 if tiny else 8192,
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator([SYSTEM] + [t["problem"] for t in traces] + [s for t in traces for s in t["steps"]], trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.add_tokens(["<extra_0>"], special_tokens=True)
    tok.chat_template = QWEN_TEMPLATE
    shape = dict(TINY, vocab_size=len(tok)) if tiny else dict(FULL)
    cfg = Qwen2Config(pad_token_id=tok.pad_token_id, initializer_range=0.02, **shape)
    device, dtype = ("cpu", torch.float32) if tiny else ("cuda", torch.bfloat16)
    torch.manual_seed(0)
    with torch.device(device):
        body = Qwen2Model(cfg).to(dtype)
        h = cfg.hidden_size
        w = {f"model.{k}": v.contiguous() for k, v in body.state_dict().items()}
        w.update({"score.0.weight": (torch.randn(h, h) * 0.05).to(dtype), "score.0.bias": torch.zeros(h, dtype=dtype),
                  "score.2.weight": (torch.randn(2, h) * 0.05).to(dtype), "score.2.bias": torch.zeros(2, dtype=dtype)})
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.cpu() for k, v in w.items()}, str(folder / "model.safetensors"), metadata={"format": "pt"})
    del w, body
    conf = cfg.to_dict()
    conf["architectures"] = ["Qwen2ForProcessRewardModel"]
    conf["torch_dtype"] = "float32" if tiny else "bfloat16"
    (folder / "config.json").write_text(json.dumps(conf))
    tok.save_pretrained(folder)


def flops(cfg: Any, lengths: list[int]) -> float:
    """Forward FLOPs: 2 per body linear weight per token + causal attention (QK^T and AV)."""
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    kv = cfg.num_key_value_heads * head_dim
    linear = cfg.num_hidden_layers * (cfg.hidden_size * (cfg.hidden_size + 2 * kv) + cfg.hidden_size * cfg.hidden_size
                                      + 3 * cfg.hidden_size * cfg.intermediate_size)
    attn = sum(2 * n * (n + 1) * cfg.num_attention_heads * head_dim for n in lengths) * cfg.num_hidden_layers
    return float(2 * linear * sum(lengths) + attn)


def _naive(folder: str, traces: list[dict[str, Any]], device: str, dtype: str, budget: float) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer

    from prm_viewer.scoring.qwen2_prm import Qwen2ForProcessRewardModel

    tok = AutoTokenizer.from_pretrained(folder)
    model = Qwen2ForProcessRewardModel.from_pretrained(folder, dtype=getattr(torch, dtype)).to(device).eval()
    tag = tok.convert_tokens_to_ids("<extra_0>")
    scores: dict[str, list[float]] = {}
    lengths: list[int] = []
    _sync(device)
    t0 = time.perf_counter()
    for t in traces:
        if time.perf_counter() - t0 > budget:
            break
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": t["problem"]},
                {"role": "assistant", "content": "<extra_0>".join(t["steps"]) + "<extra_0>"}]
        ids = tok.encode(tok.apply_chat_template(msgs, tokenize=False), add_special_tokens=False)
        x = torch.tensor([ids], device=device)
        with torch.no_grad():
            logits = model(input_ids=x).logits[0]
        scores[t["trace_id"]] = torch.softmax(logits[x[0] == tag].float(), dim=-1)[:, 1].tolist()
        lengths.append(len(ids))
    return {"seconds": time.perf_counter() - t0, "lengths": lengths, "scores": scores}


def _engine(folder: str, traces: list[dict[str, Any]], backend: str, device: str, dtype: str,
            budget: float, options: dict[str, Any]) -> dict[str, Any]:
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput

    engine = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=folder, backend=backend, device=device, dtype=dtype,
                                    backend_options=options))
    scores: dict[str, list[float]] = {}
    items = [TraceInput(t["trace_id"], t["problem"], t["steps"]) for t in traces]
    chunk = 8 if len(traces) < 100 else 400  # several calls: the clock is checked between them
    done = 0
    _sync(device)
    t0 = time.perf_counter()
    while done < len(items) and time.perf_counter() - t0 <= budget:
        for r in score_traces(engine, items[done:done + chunk]).to_pylist():
            scores.setdefault(r["trace_id"], []).append(r["score"])
        done += chunk
    _sync(device)
    seconds = time.perf_counter() - t0
    prep = engine.prepared  # per-trace token counts (outside the clock), as the naive side counts them
    assert prep.recipe.build_inputs is not None
    lengths = [len(e.input_ids) for e in prep.recipe.build_inputs(prep, items[:done])]
    return {"seconds": seconds, "lengths": lengths, "scores": scores,
            "chosen": {**getattr(engine.runner, "plain_planner", _Empty()).chosen,
                       **getattr(engine.runner, "group_planner", _Empty()).chosen}}


class _Empty:
    chosen: dict[str, int] = {}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def child(side: str, folder: str, traces_file: str, device: str, dtype: str, budget: float) -> None:
    traces = json.loads(Path(traces_file).read_text())
    print("RESULT " + json.dumps(measure(side, folder, traces, device, dtype, budget)), flush=True)
    os._exit(0)  # skip teardown (vLLM's is slow): not part of the measurement


def measure(side: str, folder: str, traces: list[dict[str, Any]], device: str, dtype: str,
            budget: float) -> dict[str, Any]:
    """One side: load, score for at most ``budget`` seconds, memory figures."""
    if side == "vllm":
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    if side == "naive":
        out = _naive(folder, traces, device, dtype, budget)
    else:
        opts: dict[str, Any] = {}
        if side == "vllm" and device.startswith("cuda"):
            opts = {"gpu_memory_utilization": 0.85, "enforce_eager": True}
        out = _engine(folder, traces, "vllm" if side == "vllm" else "transformers", device, dtype, budget, opts)
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device.startswith("cuda"):
        free, total = torch.cuda.mem_get_info()
        out["peak_gpu_gib"] = torch.cuda.max_memory_allocated() / 2**30  # torch's allocator (naive, engine)
        out["gpu_used_gib"] = (total - free) / 2**30  # what the process holds (vLLM reserves its share)
    return out


def run_side(side: str, folder: Path, tf: Path, device: str, dtype: str, budget: float,
             timeout: float) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if device == "cpu":
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    try:
        r = subprocess.run([sys.executable, __file__, "--child", side, str(folder), "--traces-file", str(tf),
                            "--device", device, "--dtype", dtype, "--budget-s", str(budget)],
                           capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {r.returncode}: {tail[:300]}"}
    return dict(json.loads(lines[-1][len("RESULT "):]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny float32 model on the CPU (forced without a GPU)")
    ap.add_argument("--limit", type=int, default=0, help="traces (0 = all 3,400; --tiny: 8)")
    ap.add_argument("--budget-s", type=float, default=60.0, help="scoring seconds per side at most")
    ap.add_argument("--sides", default="naive,engine,vllm")
    ap.add_argument("--json", help="also write the results here (with --tiny, every side's scores too)")
    ap.add_argument("--keep", help="build the checkpoint in this folder and keep it (default: a temporary one)")
    ap.add_argument("--child", nargs=2, metavar=("SIDE", "DIR"))
    ap.add_argument("--traces-file")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.traces_file, args.device, args.dtype, args.budget_s)
        return
    import torch
    from transformers import Qwen2Config

    t_start = time.perf_counter()
    tiny = args.tiny or not torch.cuda.is_available()
    device, dtype = ("cpu", "float32") if tiny else ("cuda", "bfloat16")
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    peak = peak_tflops(name) if device == "cuda" else None
    traces, source = load_traces(args.limit or (8 if tiny else 0))
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    try:
        import vllm  # noqa: F401
    except ImportError:
        sides = [s for s in sides if s != "vllm"]
        print("vllm: not importable here, side skipped (pip install vllm)")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / ("prm-tiny" if tiny else "prm-7b-shape")
        build_model(folder, traces, tiny)
        build_s = time.perf_counter() - t_start
        cfg = Qwen2Config.from_pretrained(folder)
        tf = Path(tmp) / "traces.json"
        tf.write_text(json.dumps(traces))
        for side in sides:
            if tiny:  # one process: the tiny run is dominated by imports (the test suite runs it)
                for k, v in {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                             "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}.items():
                    os.environ.setdefault(k, v)
                results[side] = measure(side, str(folder), traces, device, dtype, args.budget_s)
            else:  # a process per side: each one's GPU memory is its own
                results[side] = run_side(side, folder, tf, device, dtype, args.budget_s, timeout=args.budget_s + 240)
    report = {"device": name, "tiny": tiny, "dtype": dtype, "source": source, "build_s": build_s,
              "peak_tflops": peak, "sides": {}}
    base = results.get("naive", {}).get("scores") or {}
    print(f"\n{name}, {dtype}, {'tiny model' if tiny else 'Qwen2.5-Math-PRM-7B shape, random weights'}; {source}; "
          f"model built in {build_s:.0f} s; budget {args.budget_s:.0f} s per side; load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    print("| side | traces | tokens | seconds | tokens/s | peak GPU memory (GiB) | % of bf16 peak | "
          "max abs diff vs naive | error |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for side, r in results.items():
        if "error" in r:
            report["sides"][side] = {"error": r["error"]}
            print(f"| {side} | | | | | | | | {r['error']} |")
            continue
        tokens = int(sum(r["lengths"]))
        tps = tokens / r["seconds"] if r["seconds"] > 0 else 0.0
        f = flops(cfg, r["lengths"])  # useful FLOPs (per-trace lengths, no padding, nothing shared)
        frac = (f / r["seconds"] / (peak * 1e12)) if peak and r["seconds"] > 0 else None
        common = [k for k in r["scores"] if k in base]
        diff = max((abs(a - b) for k in common for a, b in zip(base[k], r["scores"][k])), default=None)
        gpu = r.get("gpu_used_gib") if side == "vllm" else r.get("peak_gpu_gib")
        row = {"traces": len(r["scores"]), "tokens": tokens, "seconds": r["seconds"], "tokens_per_s": tps,
               "peak_gpu_gib": gpu, "peak_fraction": frac, "max_abs_diff_vs_naive": diff,
               "compared_traces": len(common), "peak_rss_mb": r["peak_rss_mb"], "wall_s": r["wall_s"],
               "chosen": r.get("chosen", {})}
        if tiny:
            row["scores"] = r["scores"]
        report["sides"][side] = row
        print(f"| {side} | {row['traces']} | {tokens} | {r['seconds']:.1f} | {tps:.0f} | "
              f"{'-' if gpu is None else f'{gpu:.1f}'} | {'-' if frac is None else f'{100 * frac:.1f}%'} | "
              f"{'-' if diff is None else f'{diff:.1e}'} | |")
    report["total_s"] = time.perf_counter() - t_start
    print(f"\ntotal {report['total_s']:.0f} s")
    print("REPORT " + json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
