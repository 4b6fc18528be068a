"""Scoring engine vs a naive per-trace transformers loop, on CPU, in one run.

Model: a ~21M-parameter checkpoint in the Qwen2.5-Math-PRM layout (``Qwen2ForProcessRewardModel``,
random weights, a BPE tokenizer trained here on the traces, with ``<extra_0>``), saved to disk and
loaded through the real code path. Traces: ProcessBench (``../shared/data/ProcessBench/gsm8k.json``)
when present, else synthetic ones. Each side runs in its own subprocess so that its peak RSS is
its own. The naive side does what the model card does: per trace, build the chat text, encode,
``model(input_ids)`` under ``torch.no_grad``, softmax at the ``<extra_0>`` positions.

    python bench/bench_scoring.py [--limit 200] [--batch-tokens 16384] [--threads N]

Prints a Markdown table; the two sides' scores are also compared (max abs difference).
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
SHARED = ROOT.parent / "shared" / "data" / "ProcessBench" / "gsm8k.json"


def load_traces(limit: int) -> tuple[list[dict], str]:
    if SHARED.is_file():
        data = json.loads(SHARED.read_text())[:limit]
        return [{"trace_id": f"pb-{i}", "problem": r["problem"], "steps": r["steps"]} for i, r in enumerate(data)], \
            f"ProcessBench gsm8k.json (first {len(data)})"
    import random

    rng = random.Random(0)
    out = []
    for i in range(limit):
        steps = [f"We compute {rng.randint(1, 99)} + {rng.randint(1, 99)} and then multiply by {rng.randint(2, 9)}." * 3
                 for _ in range(rng.randint(3, 12))]
        out.append({"trace_id": f"syn-{i}", "problem": f"Problem {i}: what is the value? " * 5, "steps": steps})
    return out, f"synthetic ({limit} traces; ../shared/data absent)"


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


def run_engine(folder: str, traces: list[dict], batch_tokens: int) -> dict:
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput

    engine = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=folder, device="cpu", batch_tokens=batch_tokens))
    items = [TraceInput(t["trace_id"], t["problem"], t["steps"]) for t in traces]
    t0 = time.perf_counter()
    table = score_traces(engine, items)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "tokens": engine.tokens, "scores": table.column("score").to_pylist()}


def run_naive(folder: str, traces: list[dict]) -> dict:
    import numpy as np
    import torch
    from transformers import AutoTokenizer

    from prm_viewer.scoring.qwen2_prm import Qwen2ForProcessRewardModel

    tok = AutoTokenizer.from_pretrained(folder)
    model = Qwen2ForProcessRewardModel.from_pretrained(folder, dtype=torch.float32).eval()
    tag = tok.convert_tokens_to_ids("<extra_0>")
    system = "Please reason step by step, and put your final answer within \\boxed{}."
    scores: list[float] = []
    tokens = 0
    t0 = time.perf_counter()
    for t in traces:
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": t["problem"]},
                {"role": "assistant", "content": "<extra_0>".join(t["steps"]) + "<extra_0>"}]
        ids = tok.encode(tok.apply_chat_template(msgs, tokenize=False), add_special_tokens=False)
        tokens += len(ids)
        x = torch.tensor([ids])
        with torch.no_grad():
            logits = model(input_ids=x).logits[0]
        probs = torch.softmax(logits[x[0] == tag].float(), dim=-1)[:, 1]
        scores.extend(probs.tolist())
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "tokens": tokens, "scores": [float(s) for s in np.asarray(scores)]}


def child(mode: str, folder: str, traces_file: str, batch_tokens: int, threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    traces = json.loads(Path(traces_file).read_text())
    out = run_engine(folder, traces, batch_tokens) if mode == "engine" else run_naive(folder, traces)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--batch-tokens", type=int, default=16384)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--child", nargs=2, metavar=("MODE", "DIR"))
    ap.add_argument("--traces-file")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.traces_file, args.batch_tokens, args.threads)
        return
    traces, source = load_traces(args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench-qwen-prm"
        build_model(folder, traces)
        tf = Path(tmp) / "traces.json"
        tf.write_text(json.dumps(traces))
        results = {}
        for mode in ("naive", "engine"):
            r = subprocess.run([sys.executable, __file__, "--child", mode, str(folder), "--traces-file", str(tf),
                                "--batch-tokens", str(args.batch_tokens), "--threads", str(args.threads)],
                               capture_output=True, text=True, check=True)
            line = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")][-1]
            results[mode] = json.loads(line[len("RESULT "):])
    n_params = "~21M"
    naive, eng = results["naive"], results["engine"]
    diff = max(abs(a - b) for a, b in zip(naive["scores"], eng["scores"]))
    n = len(traces)
    print(f"traces: {source}; model: Qwen2ForProcessRewardModel layout, {n_params} parameters, float32, CPU, "
          f"{eng['threads']} torch threads; batch_tokens={args.batch_tokens}")
    print("| side | seconds | tokens/s | traces/s | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("naive per-trace loop", naive), ("engine (transformers backend)", eng)):
        print(f"| {name} | {r['seconds']:.1f} | {r['tokens'] / r['seconds']:.0f} | {n / r['seconds']:.2f} | {r['peak_rss_mb']:.0f} |")
    print(f"speed-up: {naive['seconds'] / eng['seconds']:.2f}x; tokens {eng['tokens']} (engine) vs {naive['tokens']} (naive); "
          f"max |score difference| = {diff:.2e} over {len(eng['scores'])} steps")


if __name__ == "__main__":
    main()
