"""Helpers for the vLLM / language-model tests (no tests here): tiny causal LMs built from configs,
a real ``vllm serve`` process on loopback, and the CPU environment vLLM needs.

- ``build_qwen_lm(folder, seed)``: ``Qwen2ForCausalLM`` with the Qwen-style tokenizer of
  ``tiny_models`` (chat template, ``<extra_0>``); two seeds give an implicit PRM and its reference
  sharing one tokenizer.
- ``build_eos_prover(folder)``: ``GPTJForCausalLM`` (its LM head has a bias) whose head always
  says end-of-text: every rollout is empty, so Monte-Carlo values are known exactly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.scoring import tiny_models

CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
           "TOKENIZERS_PARALLELISM": "false"}


def cpu_env() -> None:
    for k, v in CPU_ENV.items():
        os.environ.setdefault(k, v)


def qwen_tokenizer():
    return tiny_models.make_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], ["<extra_0>"],
                                      tiny_models.QWEN_TEMPLATE, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def build_qwen_lm(folder: Path, seed: int, context: int = 2048) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = qwen_tokenizer()
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                      tie_word_embeddings=False, **{**tiny_models.SMALL, "max_position_embeddings": context})
    Qwen2ForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_combo(folder: Path) -> Path:
    """One LM-head PRM that fits BOTH math-shepherd (``ки`` tag, BOS added) and rlhflow (a
    Llama-3-style chat template): one server serves both recipes."""
    import torch
    from tokenizers import processors
    from transformers import MistralConfig, MistralForCausalLM

    tok = tiny_models.make_tokenizer(["<unk>", "<s>", "</s>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                                     ["ки"], tiny_models.LLAMA3_TEMPLATE, bos_token="<s>", eos_token="<|eot_id|>",
                                     unk_token="<unk>")
    tok._tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                                 special_tokens=[("<s>", tok.bos_token_id)])
    torch.manual_seed(6)
    cfg = MistralConfig(vocab_size=len(tok), head_dim=32, tie_word_embeddings=False, **tiny_models.SMALL)
    MistralForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def build_eos_prover(folder: Path) -> Path:
    import torch
    from transformers import GPTJConfig, GPTJForCausalLM

    tok = qwen_tokenizer()
    torch.manual_seed(5)
    # GPT-J: native in vLLM and its LM head has a bias (vLLM runs some other architectures through
    # transformers' own classes, which it patches in place for the rest of the process)
    cfg = GPTJConfig(vocab_size=len(tok), n_positions=512, n_embd=64, n_layer=2, n_head=2, rotary_dim=16,
                     pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
                     tie_word_embeddings=False)
    model = GPTJForCausalLM(cfg)
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.lm_head.bias.zero_()
        model.lm_head.bias[tok.eos_token_id] = 50.0
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real ``vllm serve`` (CPU build) on 127.0.0.1."""

    def __init__(self, model: Path, log: Path, *extra: str, max_len: int = 256) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model = str(model)
        env = dict(os.environ)
        env.update({"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", self.model, "--host", "127.0.0.1",
             "--port", str(self.port), "--enforce-eager", "--dtype", "float32", "--max-model-len", str(max_len),
             "--uvicorn-log-level", "warning", "--disable-uvicorn-access-log", *extra],
            stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )

    def wait(self, timeout: float = 400) -> Server:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vllm serve exited ({self.proc.returncode}): {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/v1/models", timeout=2) as r:
                    if json.loads(r.read()).get("data"):
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"vllm serve did not come up in {timeout}s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
