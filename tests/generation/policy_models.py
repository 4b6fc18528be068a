"""Tiny real policy checkpoints for generation tests, built from configs and saved to disk.

``build_policy(folder)``: an untrained ``Qwen2ForCausalLM`` (head_dim 32, for vLLM too) with the
Qwen chat template and ``<|im_end|>`` as EOS. ``train_policy(folder)``: the same model trained for
a few seconds on chat-formatted solutions of :data:`TRAIN_PROBLEMS` that end in ``\\boxed{N}``,
so greedy generation writes real steps and a boxed answer that extraction and checking read.
"""

from __future__ import annotations

from pathlib import Path

from tests.scoring.tiny_models import QWEN_TEMPLATE, SMALL, make_tokenizer

TRAIN_PROBLEMS = [(a, b) for a, b in ((3, 4), (5, 2), (6, 7), (8, 1), (2, 9), (4, 4))]


def problem_text(a: int, b: int) -> str:
    return f"What is {a} + {b}?"


def solution_text(a: int, b: int) -> str:
    return f"Step 1: {a} + {b} = {a + b}.\n\nThe answer is \\boxed{{{a + b}}}."


def _tokenizer():  # noqa: ANN202 - a transformers tokenizer
    return make_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], [], QWEN_TEMPLATE,
                          eos_token="<|im_end|>", pad_token="<|endoftext|>")


def build_policy(folder: Path, seed: int = 5) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = _tokenizer()
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(tok), head_dim=32, tie_word_embeddings=False,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **SMALL)
    Qwen2ForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def train_policy(folder: Path, steps: int = 150) -> Path:
    """A few seconds of full fine-tuning (AdamW) on the fixed answer format."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prm_viewer.generation.prompts import prompt_ids

    build_policy(folder)
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    seqs = []
    for a, b in TRAIN_PROBLEMS:
        p = prompt_ids(tok, problem_text(a, b))
        c = tok.encode(solution_text(a, b) + "<|im_end|>", add_special_tokens=False)
        seqs.append((p, c))
    width = max(len(p) + len(c) for p, c in seqs)
    ids = torch.full((len(seqs), width), tok.pad_token_id)
    labels = torch.full((len(seqs), width), -100)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, (p, c) in enumerate(seqs):
        n = len(p) + len(c)
        ids[i, :n] = torch.tensor(p + c)
        labels[i, len(p):n] = torch.tensor(c)
        mask[i, :n] = 1
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(folder)
    return folder
