"""The policy side: chat prompts, SFT rows, batched sampling, and which step each generated
token belongs to (for per-step credit). Torch/transformers are imported inside functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from prm_viewer.experiment.tasks import parse_completion, target_text


@dataclass
class Sample:
    """One sampled answer."""

    prompt_ids: list[int]
    completion_ids: list[int]
    """Generated tokens up to and including the end-of-turn token (when it came)."""
    text: str
    """The completion decoded without special tokens."""

    @property
    def steps(self) -> list[str]:
        return parse_completion(self.text)


SYSTEM = "Solve step by step."
"""The policies' system message (short: every prompt character costs compute here)."""
TEMPLATE = "{problem}"
"""The user turn is the problem text itself."""


def prompt_ids(tok: Any, problem: str) -> list[int]:
    """The chat prompt of a problem (system + user turn + assistant header), built by the
    generation package's own prompt function, so a generation job with ``prompt_template =
    TEMPLATE`` and ``system_prompt = SYSTEM`` prompts the policy exactly as training did."""
    from prm_viewer.generation.prompts import prompt_ids as product_prompt_ids

    return product_prompt_ids(tok, problem, TEMPLATE, SYSTEM)


def sft_row(tok: Any, problem: str, steps: list[str]) -> dict[str, list[int]]:
    """Prompt + answer + end-of-turn; the loss is on the answer and end-of-turn tokens only."""
    p = prompt_ids(tok, problem)
    a = list(tok(target_text(steps), add_special_tokens=False)["input_ids"]) + [int(tok.eos_token_id)]
    return {"input_ids": p + a, "labels": [-100] * len(p) + a}


def sample(model: Any, tok: Any, problems: list[str], n: int, temperature: float, max_new_tokens: int,
           seed: int, batch_size: int = 128) -> list[Sample]:
    """``n`` samples per problem (problem-major order), with ``model.generate`` on left-padded
    batches; ``temperature <= 0`` is greedy. Seeded: the same call gives the same samples."""
    import torch

    eos, pad = int(tok.eos_token_id), int(tok.pad_token_id)
    prompts = [prompt_ids(tok, p) for p in problems for _ in range(n)]
    out: list[Sample] = []
    model.eval()
    for lo in range(0, len(prompts), batch_size):
        chunk = prompts[lo:lo + batch_size]
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, p in enumerate(chunk):
            ids[r, width - len(p):] = torch.tensor(p)
            mask[r, width - len(p):] = 1
        torch.manual_seed(seed + lo)
        kw: dict[str, Any] = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0} \
            if temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            seqs = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                  eos_token_id=eos, pad_token_id=pad, **kw)
        for r, p in enumerate(chunk):
            gen = seqs[r, width:].tolist()
            if eos in gen:
                gen = gen[: gen.index(eos) + 1]
            else:
                while gen and gen[-1] == pad:
                    gen.pop()
            out.append(Sample(p, gen, tok.decode(gen, skip_special_tokens=True)))
    return out


def token_steps(tok: Any, completion_ids: list[int]) -> np.ndarray:
    """For each generated token, the index of the step (non-blank line, as ``parse_completion``
    counts them) it belongs to: a line's newline belongs to that line, blank lines to the next
    step, anything after the last step (end-of-turn) to the last step; ``-1`` for every token
    when there is no step."""
    special = set(tok.all_special_ids)
    out = np.zeros(len(completion_ids), dtype=np.int64)
    step, has_text = 0, False
    for i, tid in enumerate(completion_ids):
        out[i] = step
        if tid in special:
            continue
        for ch in tok.decode([tid]):
            if ch == "\n":
                if has_text:
                    step, has_text = step + 1, False
            elif not ch.isspace():
                has_text = True
    n_steps = step + (1 if has_text else 0)
    if n_steps == 0:
        return np.full(len(completion_ids), -1, dtype=np.int64)
    return np.minimum(out, n_steps - 1)


def completion_logprobs(model: Any, samples: list[Sample], pad_id: int, temperature: float = 1.0) -> tuple[Any, Any]:
    """Log-probabilities of each sample's completion tokens under ``model`` sampled at
    ``temperature`` (logits / temperature, so the gradient is on-policy for the distribution the
    samples came from), with gradients: ``(logp [B, T], mask [B, T])``, right-padded."""
    import torch

    seqs = [s.prompt_ids + s.completion_ids for s in samples]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.tensor(s)
        attn[r, : len(s)] = 1
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float() / max(temperature, 1e-6)
    logp_all = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    t_max = max(1, max(len(s.completion_ids) for s in samples))
    logp = torch.zeros((len(samples), t_max))
    mask = torch.zeros((len(samples), t_max))
    for r, smp in enumerate(samples):
        n, start = len(smp.completion_ids), len(smp.prompt_ids) - 1  # logits at t predict token t+1
        if n:
            logp[r, :n] = logp_all[r, start:start + n]
            mask[r, :n] = 1.0
    return logp, mask
