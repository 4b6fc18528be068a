"""The ``language-model`` kind on the transformers backend (``lm.py`` holds the contract).

Log-probabilities: length-bucketed, right-padded batches, one forward pass each, log-softmax in
float32 and one gather of the actual next tokens. Generation: ``model.generate`` one prompt at a
time (``n`` samples in one call); this is the reference path, vLLM is the fast one.
"""

from __future__ import annotations

from collections.abc import Sequence
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
        torch = self.torch
        eos = self.tokenizer.eos_token_id
        results: list[list[str]] = []
        for k, prompt in enumerate(prompts):
            torch.manual_seed(int(sampling.seed or 0) + k)
            greedy = sampling.temperature <= 0
            with torch.inference_mode():
                x = torch.tensor([list(prompt)], device=self.device)
                gen = self.model.generate(
                    x, attention_mask=torch.ones_like(x), max_new_tokens=int(sampling.max_tokens),
                    do_sample=not greedy, temperature=None if greedy else float(sampling.temperature),
                    top_p=None, top_k=None, num_return_sequences=1 if greedy else int(sampling.n),
                    pad_token_id=self.pad_id, eos_token_id=eos,
                )
            texts = [cut_at_stop(self.tokenizer.decode(g[len(prompt):], skip_special_tokens=True), sampling.stop)
                     for g in gen.tolist()]
            results.append(texts * int(sampling.n) if greedy else texts)  # greedy samples are all the same
        return results

    def close(self) -> None:
        del self.model
        free_memory(self.device)


def load(spec: RunSpec) -> TransformersLM:
    return TransformersLM(spec)
