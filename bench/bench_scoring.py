"""Scoring engine vs a naive per-trace transformers loop, on CPU, in one run, with a roofline.

Model: a ~21M-parameter checkpoint in the Qwen2.5-Math-PRM layout (``Qwen2ForProcessRewardModel``,
random weights, a BPE tokenizer trained here on the traces, with ``<extra_0>``), saved to disk and
loaded through the real code path. Each side runs in its own subprocess so that its peak RSS is
its own. The naive side does what the model card does: per trace, build the chat text, encode,
``model(input_ids)`` under ``torch.no_grad``, softmax at the ``<extra_0>`` positions.

Workloads (from ../shared/data when present, else synthetic):
  processbench   the first ``--limit`` traces of ProcessBench gsm8k.json (almost one trace per problem)
  gsm8k-samples  the first ``--limit // 4`` problems of grade-school-math's model solutions, four
                 solutions per problem (the best-of-N / several-policies case)
Sides: naive loop (float32); engine float32 (the CPU default: per bucket, per-trace or batched,
and per chunk of prefix groups, shared or not, by the cost model calibrated on the first units,
``backends/planner.py``); engine float32 forced to padded batches without sharing (the old fixed
rule); engine float32 forced per-trace; engine bfloat16 (opt-in on CPU; scores differ by bf16
rounding; float32 arithmetic on bf16-rounded weights where the CPU has no bf16 matmul kernels).
Roofline: the matmul throughput of this CPU measured in the same run (float32 and bfloat16, the
model's own matrix shapes) against the FLOPs the model needs for the workload.

    python bench/bench_scoring.py [--limit 100] [--repeat 3] [--batch-tokens 0] [--threads N]
                                  [--workloads processbench,gsm8k-samples]

Prints Markdown tables; each engine side's scores are compared with the naive loop's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
SIDES = {  # name -> (mode, dtype, backend options as JSON)
    "naive per-trace loop (float32)": ("naive", "float32", "{}"),
    "engine, float32 (default: measured choice)": ("engine", "float32", "{}"),
    "engine, float32, forced batched, no sharing (old rule)": (
        "engine", "float32", '{"execution": "batched", "prefix_sharing": "off"}'),
    "engine, float32, forced per-trace": ("engine", "float32", '{"execution": "per-trace"}'),
    "engine, bfloat16 (opt-in)": ("engine", "bfloat16", "{}"),
}


def _synthetic(n: int, per_problem: int) -> list[dict]:
    import random

    rng = random.Random(0)
    out = []
    for i in range(n):
        steps = [f"We compute {rng.randint(1, 99)} + {rng.randint(1, 99)} and then multiply by {rng.randint(2, 9)}." * 3
                 for _ in range(rng.randint(3, 12))]
        out.append({"trace_id": f"syn-{i}", "problem": f"Problem {i // per_problem}: what is the value? " * 5, "steps": steps})
    return out


def load_traces(workload: str, limit: int) -> tuple[list[dict], str]:
    if workload == "processbench":
        f = DATA / "ProcessBench" / "gsm8k.json"
        if f.is_file():
            data = json.loads(f.read_text())[:limit]
            return [{"trace_id": f"pb-{i}", "problem": r["problem"], "steps": r["steps"]} for i, r in enumerate(data)], \
                f"ProcessBench gsm8k.json (first {len(data)} traces)"
        return _synthetic(limit, 1), f"synthetic ({limit} traces, one per problem; ../shared/data absent)"
    f = DATA / "grade-school-math" / "example_model_solutions.jsonl"
    if f.is_file():
        out = []
        with f.open() as fh:
            for i, line in zip(range(max(1, limit // 4)), fh):
                r = json.loads(line)
                for variant in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
                    steps = [s for s in r[variant]["solution"].split("\n") if s.strip()]
                    out.append({"trace_id": f"gsm-{i}-{variant}", "problem": r["question"], "steps": steps})
        return out, f"grade-school-math model solutions (first {limit // 4} problems x 4 solutions = {len(out)} traces)"
    return _synthetic(limit, 4), f"synthetic ({limit} traces, 4 per problem; ../shared/data absent)"


def build_model(folder: Path, traces: list[dict]) -> None:
    import torch
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2Model

    from tests.scoring.tiny_models import QWEN_TEMPLATE

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8192, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator([t["problem"] for t in traces] + [s for t in traces for s in t["steps"]], trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.add_tokens(["<extra_0>"], special_tokens=True)
    tok.chat_template = QWEN_TEMPLATE
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=512, intermediate_size=1408, num_hidden_layers=6,
                      num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=4096,
                      pad_token_id=tok.pad_token_id)
    body = Qwen2Model(cfg)
    h = cfg.hidden_size
    w = {f"model.{k}": v.contiguous() for k, v in body.state_dict().items()}
    w.update({"score.0.weight": torch.randn(h, h) * 0.05, "score.0.bias": torch.zeros(h),
              "score.2.weight": torch.randn(2, h) * 0.05, "score.2.bias": torch.zeros(2)})
    folder.mkdir(parents=True, exist_ok=True)
    save_file(w, str(folder / "model.safetensors"), metadata={"format": "pt"})
    conf = cfg.to_dict()
    conf["architectures"] = ["Qwen2ForProcessRewardModel"]
    (folder / "config.json").write_text(json.dumps(conf))
    tok.save_pretrained(folder)


def run_engine(folder: str, traces: list[dict], batch_tokens: int, dtype: str, options: str) -> dict:
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput

    engine = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=folder, device="cpu", dtype=dtype,
                                    batch_tokens=batch_tokens, backend_options=json.loads(options)))
    items = [TraceInput(t["trace_id"], t["problem"], t["steps"]) for t in traces]
    t0 = time.perf_counter()
    table = score_traces(engine, items)
    seconds = time.perf_counter() - t0
    runner = engine.runner
    return {"seconds": seconds, "tokens": engine.tokens, "scores": table.column("score").to_pylist(),
            "sharing": runner.prefix_sharing, "compute_dtype": getattr(runner, "compute_dtype", dtype),
            "chosen": {**runner.plain_planner.chosen, **runner.group_planner.chosen}}


def run_naive(folder: str, traces: list[dict]) -> dict:
    import torch
    from transformers import AutoTokenizer

    from prm_viewer.scoring.qwen2_prm import Qwen2ForProcessRewardModel

    tok = AutoTokenizer.from_pretrained(folder)
    model = Qwen2ForProcessRewardModel.from_pretrained(folder, dtype=torch.float32).eval()
    tag = tok.convert_tokens_to_ids("<extra_0>")
    system = "Please reason step by step, and put your final answer within \\boxed{}."
    scores: list[float] = []
    lengths: list[int] = []
    t0 = time.perf_counter()
    for t in traces:
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": t["problem"]},
                {"role": "assistant", "content": "<extra_0>".join(t["steps"]) + "<extra_0>"}]
        ids = tok.encode(tok.apply_chat_template(msgs, tokenize=False), add_special_tokens=False)
        lengths.append(len(ids))
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = model(input_ids=x).logits[0]
        probs = torch.softmax(logits[x[0] == tag].float(), dim=-1)[:, 1]
        scores.extend(probs.tolist())
    seconds = time.perf_counter() - t0
    cfg = model.config
    linear = sum(m.weight.numel() for name, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and name.startswith("model."))
    # FLOPs the forward passes need: 2 per weight per token in the body's linear layers, plus causal
    # attention (QK^T and AV: 2 * L(L+1)/2 * heads*head_dim * 2 per layer); the tiny head is left out.
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    attn = sum(2 * n * (n + 1) * cfg.num_attention_heads * head_dim for n in lengths) * cfg.num_hidden_layers
    flops = 2 * linear * sum(lengths) + attn
    return {"seconds": seconds, "tokens": sum(lengths), "scores": scores, "flops": flops,
            "matmul_gflops": {dt: _matmul_gflops(cfg, dt) for dt in ("float32", "bfloat16")}}


def _matmul_gflops(cfg, dtype: str) -> float:
    """Best throughput of this CPU on the model's own matmul shapes (a 512-token block); each
    trial runs ~0.2 s whatever the speed (bf16 without native kernels is ~30x slower)."""
    import torch

    dt = getattr(torch, dtype)
    best = 0.0
    for k, n in ((cfg.hidden_size, cfg.intermediate_size), (cfg.intermediate_size, cfg.hidden_size)):
        a, b = torch.randn(512, k, dtype=dt), torch.randn(k, n, dtype=dt)
        t0 = time.perf_counter()
        a @ b
        reps = max(1, min(20, int(0.2 / max(time.perf_counter() - t0, 1e-6))))
        for _trial in range(5):
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            best = max(best, 2 * 512 * k * n * reps / (time.perf_counter() - t0) / 1e9)
    return best


def child(mode: str, folder: str, traces_file: str, batch_tokens: int, threads: int, dtype: str, options: str) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    traces = json.loads(Path(traces_file).read_text())
    out = run_engine(folder, traces, batch_tokens, dtype, options) if mode == "engine" else run_naive(folder, traces)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(out))


def bench_workload(workload: str, args: argparse.Namespace, tmp: Path) -> None:
    traces, source = load_traces(workload, args.limit)
    folder = tmp / f"model-{workload}"
    build_model(folder, traces)
    tf = tmp / f"traces-{workload}.json"
    tf.write_text(json.dumps(traces))
    results: dict[str, dict] = {}
    peak: dict[str, float] = {}  # best matmul GFLOP/s seen in any round
    for _round in range(args.repeat):  # sides interleaved, best time of each kept: load on this shared
        for name, (mode, dtype, options) in SIDES.items():  # machine hits the rounds, not one side
            r = subprocess.run([sys.executable, __file__, "--child", mode, str(folder), "--traces-file", str(tf),
                                "--batch-tokens", str(args.batch_tokens), "--threads", str(args.threads),
                                "--dtype", dtype, "--options", options],
                               capture_output=True, text=True, check=True)
            line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")][-1]
            res = json.loads(line[len("RESULT "):])
            for k, v in res.get("matmul_gflops", {}).items():
                peak[k] = max(peak.get(k, 0.0), v)
            if name not in results or res["seconds"] < results[name]["seconds"]:
                results[name] = res
    naive = results["naive per-trace loop (float32)"]
    n = len(traces)
    g32, g16 = peak["float32"], peak["bfloat16"]
    print(f"\n### {workload}: {source} (best of {args.repeat} round(s); load average {_load()})\n")
    print(f"model: Qwen2ForProcessRewardModel layout, ~21M parameters, CPU, {naive['threads']} torch threads; "
          f"batch_tokens={args.batch_tokens or 'auto'}; {naive['tokens']} tokens, {len(naive['scores'])} steps; "
          f"{naive['flops'] / 1e12:.2f} TFLOP of forward passes; matmul peak of this CPU measured in the same run: "
          f"{g32:.0f} GFLOP/s float32, {g16:.0f} GFLOP/s bfloat16\n")
    print("| side | seconds | tokens/s | traces/s | peak RSS (MB) | speed-up | useful GFLOP/s | % of its roofline "
          "| units per arm | max abs score diff vs naive |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for name, r in results.items():
        diff = max(abs(a - b) for a, b in zip(naive["scores"], r["scores"]))
        useful = naive["flops"] / r["seconds"] / 1e9  # the naive loop's FLOPs: what the work needs
        compute = r.get("compute_dtype", "float32")
        roof = g16 if compute == "bfloat16" else g32
        arms = ", ".join(f"{k} {v}" for k, v in sorted(r.get("chosen", {}).items())) or "-"
        print(f"| {name} | {r['seconds']:.1f} | {naive['tokens'] / r['seconds']:.0f} | {n / r['seconds']:.2f} | "
              f"{r['peak_rss_mb']:.0f} | {naive['seconds'] / r['seconds']:.2f}x | {useful:.0f} | "
              f"{100 * useful / roof:.0f}% ({compute}) | {arms} | {diff:.1e} |")
    achieved = naive["flops"] / naive["seconds"] / 1e9
    print(f"\nroofline: the naive loop does {achieved:.0f} GFLOP/s = {100 * achieved / g32:.0f}% of the float32 peak, "
          f"so an engine computing every token in float32 is at most {g32 / achieved:.2f}x faster; one computing in "
          f"bfloat16 at most {g16 / achieved:.2f}x (bf16 peak / float32 peak = {g16 / g32:.2f}; native bf16 matmul "
          f"kernels on this CPU: {_native_bf16()}).")


def _load() -> str:
    import os

    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _native_bf16() -> bool:
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--batch-tokens", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--workloads", default="processbench,gsm8k-samples")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of all sides; the best time of each is kept")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "DIR"))
    ap.add_argument("--traces-file")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--options", default="{}", help="backend options (JSON) of an engine child")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.traces_file, args.batch_tokens, args.threads, args.dtype, args.options)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads.split(","):
            bench_workload(workload.strip(), args, Path(tmp))


if __name__ == "__main__":
    main()
