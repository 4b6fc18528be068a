"""The ``language-model`` kind on the transformers backend (``lm.py`` holds the contract).

Log-probabilities: length-bucketed, right-padded batches, one forward pass each, log-softmax in
float32 and one gather of the actual next tokens. Generation: :func:`sample_batch`, the batched
sampler shared with the generation jobs (``generation/policies.py``): left-padded batches with one
KV cache each, a ``torch.Generator`` per sequence (a sample depends on its seed, not on its
batch-mates), temperature, top-p, EOS and stop strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from prm_viewer.errors import MissingDependency, RecipeError
from prm_viewer.scoring.backends.base import RunSpec, buckets
from prm_viewer.scoring.backends.lm import Sampling, cut_at_stop
from prm_viewer.scoring.backends.torch_device import (
    context_length,
    free_memory,
    resolve_batch_tokens,
    resolve_device,
    resolve_dtype,
)


class TransformersLM:
    """A causal LM loaded with transformers, answering the language-model calls."""

    def __init__(self, spec: RunSpec) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM
        except ImportError:
            raise MissingDependency("torch", "pip install -r requirements.txt", "the transformers backend") from None

        self.torch = torch
        self.device: str = resolve_device(spec.device)
        self.dtype: str = resolve_dtype(spec.dtype, self.device)
        self.batch_tokens = resolve_batch_tokens(spec.batch_tokens, self.device)
        ckpt = spec.model_checkpoint()
        try:
            model: Any = AutoModelForCausalLM.from_pretrained(str(ckpt.path), dtype=getattr(torch, self.dtype),
                                                         trust_remote_code=spec.trust_remote_code)
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RecipeError(f"checkpoint '{ckpt.ref}': cannot load it as a causal LM ({msg[:300]})") from None
        self.model: Any = model.to(self.device).eval()  # a transformers PreTrainedModel
        tok = spec.prepared.tokenizer
        self.tokenizer = tok
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0))
        self.max_length: int | None = spec.max_length or context_length(self.model.config, tok)

    def prompt_logprobs(self, seqs: Sequence[Sequence[int]]) -> list[np.ndarray]:
        torch = self.torch
        out: list[np.ndarray] = [np.zeros(0)] * len(seqs)
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        for group in buckets(lengths, self.batch_tokens):
            glen = lengths[group]
            width = int(glen.max())
            ids = np.full((len(group), width), self.pad_id, dtype=np.int64)
            mask = np.arange(width)[None, :] < glen[:, None]
            ids[mask] = np.concatenate([np.asarray(seqs[i], dtype=np.int64) for i in group])
            with torch.inference_mode():
                t_ids = torch.from_numpy(ids).to(self.device)
                logits = self.model(input_ids=t_ids, attention_mask=torch.from_numpy(mask.astype(np.int64)).to(self.device)).logits
                logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
                picked = logp.gather(-1, t_ids[:, 1:].unsqueeze(-1)).squeeze(-1).cpu().numpy().astype(np.float64)
            for row, i in enumerate(group):
                n = int(glen[row])
                out[int(i)] = np.concatenate([[np.nan], picked[row, : n - 1]])
        return out

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[str]]:
        n = 1 if sampling.temperature <= 0 else int(sampling.n)  # greedy samples are all the same
        base = int(sampling.seed or 0)
        flat = [(k, j) for k in range(len(prompts)) for j in range(n)]
        order = sorted(range(len(flat)), key=lambda i: len(prompts[flat[i][0]]))  # less padding
        texts: list[str] = [""] * len(flat)
        for start in range(0, len(order), GENERATE_BATCH):
            idx = order[start:start + GENERATE_BATCH]
            got = sample_batch(self.model, self.tokenizer, [prompts[flat[i][0]] for i in idx],
                               [base + flat[i][0] * n + flat[i][1] for i in idx], temperature=sampling.temperature,
                               top_p=1.0, max_new_tokens=sampling.max_tokens, stop=sampling.stop, device=self.device)
            for i, smp in zip(idx, got):
                texts[i] = smp.text
        return [texts[k * n:(k + 1) * n] * (int(sampling.n) if n == 1 else 1) for k in range(len(prompts))]

    def close(self) -> None:
        del self.model
        free_memory(self.device)


def load(spec: RunSpec) -> TransformersLM:
    return TransformersLM(spec)


GENERATE_BATCH = 16
"""Sequences :meth:`TransformersLM.generate` decodes together."""
_STOP_WINDOW = 24  # decoded tail (tokens) searched for a stop string after each new token


@dataclass(frozen=True)
class Sample:
    """One generated continuation."""

    text: str
    """Decoded text (special tokens dropped), cut before the first stop string."""
    n_tokens: int
    """Tokens generated (up to and including EOS or the token completing a stop string)."""
    finish_reason: str
    """``stop`` (EOS or a stop string) or ``length`` (``max_new_tokens`` reached)."""


def _pick(torch: Any, logits: Any, temperature: float, top_p: float, gens: Sequence[Any],
          active: Sequence[int]) -> dict[int, int]:
    """Next token of each active row: argmax when greedy, else temperature + top-p sampling
    with the row's own generator."""
    rows = logits[list(active)].float()
    if temperature <= 0:
        return dict(zip(active, rows.argmax(-1).tolist()))
    probs = torch.softmax(rows / float(temperature), dim=-1)
    if top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < float(top_p)  # the smallest set reaching top_p
        keep[:, 0] = True
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
    probs = probs.cpu()
    return {r: int(torch.multinomial(probs[j], 1, generator=gens[r]).item()) for j, r in enumerate(active)}


def sample_batch(model: Any, tokenizer: Any, prompts: Sequence[Sequence[int]], seeds: Sequence[int], *,
                 temperature: float, top_p: float = 1.0, max_new_tokens: int, stop: Sequence[str] = (),
                 device: str = "cpu") -> list[Sample]:
    """One continuation per prompt (``seeds[i]`` for prompt ``i``), decoded together: left padding
    (every prompt ends at the last column, position ids count real tokens only), one KV cache."""
    import torch

    if not prompts:
        return []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    eos = tokenizer.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    b, width = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((b, width), int(pad), dtype=torch.long)
    mask = torch.zeros((b, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
        mask[i, width - len(p):] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    out: list[list[int]] = [[] for _ in range(b)]
    finish = ["length"] * b
    active = list(range(b))
    ids, mask, pos = ids.to(device), mask.to(device), pos.to(device)
    step_ids, past = ids, None
    with torch.inference_mode():
        for _ in range(int(max_new_tokens)):
            res = model(input_ids=step_ids, attention_mask=mask, position_ids=pos, past_key_values=past, use_cache=True)
            past = res.past_key_values
            picked = _pick(torch, res.logits[:, -1, :], temperature, top_p, gens, active)
            nxt = torch.full((b, 1), int(pad), dtype=torch.long)
            still: list[int] = []
            for r, tok in picked.items():
                out[r].append(tok)
                nxt[r, 0] = tok
                if tok in eos_ids or (stop and _stopped(tokenizer, out[r], stop)):
                    finish[r] = "stop"
                else:
                    still.append(r)
            active = still
            if not active:
                break
            step_ids = nxt.to(device)
            mask = torch.cat([mask, torch.ones((b, 1), dtype=torch.long, device=device)], dim=1)
            pos = pos[:, -1:] + 1
    return [Sample(cut_at_stop(tokenizer.decode(out[r], skip_special_tokens=True), stop), len(out[r]), finish[r])
            for r in range(b)]


def _stopped(tokenizer: Any, tokens: list[int], stop: Sequence[str]) -> bool:
    tail = tokenizer.decode(tokens[-_STOP_WINDOW:], skip_special_tokens=True)
    return any(s and s in tail for s in stop)
