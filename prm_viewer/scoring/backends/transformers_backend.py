"""``transformers`` backend: CPU or GPU, length-bucketed batches under a token budget.

Hot path per batch: one padded forward pass of the model BODY under ``torch.inference_mode``,
one gather of the hidden states at every scored position of every trace (a single indexing op),
then the head on those rows only. Applying the head only where a score is read matters for
causal LMs: the vocabulary projection of every token would cost more than the body on a small
model and is discarded anyway. Right padding keeps positions unchanged (causal attention).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prm_viewer.errors import MissingDependency, RecipeError
from prm_viewer.scoring.backends.base import Backend, RunSpec, buckets
from prm_viewer.scoring.recipes.base import EncodedTrace

_DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RecipeError(f"device '{device}' asked for, but no CUDA GPU is visible to torch")
    return device


def resolve_batch_tokens(batch_tokens: int, device: str) -> int:
    """The token budget of one batch; 0 = auto: 4096 on CPU (bigger padded batches were slower
    there, see BENCHMARKS.md), 16384 on a GPU."""
    if batch_tokens and batch_tokens > 0:
        return int(batch_tokens)
    return 4096 if device == "cpu" else 16384


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> bfloat16 on GPU, float32 on CPU."""
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in _DTYPES:
        raise RecipeError(f"unknown dtype '{dtype}'; choose auto, {', '.join(_DTYPES)}")
    return dtype


def _model_class(spec: RunSpec) -> Any:
    from transformers import AutoModelForCausalLM, AutoModelForTokenClassification

    archs = spec.checkpoint.architectures
    if "Qwen2ForProcessRewardModel" in archs and not spec.trust_remote_code:
        from prm_viewer.scoring.qwen2_prm import Qwen2ForProcessRewardModel

        return Qwen2ForProcessRewardModel
    kind = spec.prepared.recipe.model_kind
    return {"token-classification": AutoModelForTokenClassification, "causal-lm": AutoModelForCausalLM}[kind]


def _head(model: Any, kind: str) -> Any:
    if kind == "causal-lm":
        return model.get_output_embeddings()
    for name in ("score", "classifier"):
        head = getattr(model, name, None)
        if head is not None:
            return head
    raise RecipeError(f"{type(model).__name__} has no classification head (score/classifier) to read")


class TransformersRunner:
    """A loaded model; see ``backends/base.py`` for the contract."""

    def __init__(self, spec: RunSpec) -> None:
        try:
            import torch
        except ImportError:
            raise MissingDependency("torch", "pip install torch==2.13.0", "the transformers backend") from None
        self.torch = torch
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        self.kind = spec.prepared.recipe.model_kind
        self.batch_tokens = resolve_batch_tokens(spec.batch_tokens, self.device)
        ckpt = spec.checkpoint
        cls = _model_class(spec)
        try:
            model, info = cls.from_pretrained(
                str(ckpt.path), dtype=getattr(torch, self.dtype), trust_remote_code=spec.trust_remote_code,
                output_loading_info=True,
            )
        except Exception as exc:  # torn/corrupt files raise many types (SafetensorError, OSError...)
            if isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__:
                raise
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise RecipeError(
                f"checkpoint '{ckpt.ref}': cannot load the model weights ({type(exc).__name__}: {msg[:300]})"
            ) from None
        missing = [k for k in info.get("missing_keys", []) if not k.startswith("lm_head.")]
        if missing:
            # Random weights where trained ones were expected would give plausible-looking, wrong
            # scores: refuse instead.
            raise RecipeError(
                f"checkpoint '{ckpt.ref}': weights missing for {len(missing)} parameters "
                f"(e.g. {', '.join(sorted(missing)[:3])}); is it the right architecture/recipe?"
            )
        self.model = model.to(self.device).eval()
        self.body = self.model.base_model
        self.head = _head(self.model, self.kind)
        returned = spec.prepared.returned_token_ids
        self.returned = torch.tensor(returned, device=self.device) if (returned and self.kind == "causal-lm") else None
        tok = spec.prepared.tokenizer
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0))
        self.max_length = spec.max_length or _context_length(self.model.config, tok)

    def run(self, batch: Sequence[EncodedTrace]) -> list[np.ndarray]:
        torch = self.torch
        out: list[np.ndarray] = [np.zeros((0, 0))] * len(batch)
        lengths = np.fromiter((len(e.input_ids) for e in batch), dtype=np.int64, count=len(batch))
        for group in buckets(lengths, self.batch_tokens):
            members = [batch[i] for i in group]
            glen = lengths[group]
            width = int(glen.max())
            # padded id matrix and mask built with numpy: no per-token Python work
            ids = np.full((len(members), width), self.pad_id, dtype=np.int64)
            mask = np.arange(width)[None, :] < glen[:, None]
            ids[mask] = np.concatenate([np.asarray(m.input_ids, dtype=np.int64) for m in members])
            n_pos = np.fromiter((len(m.positions) for m in members), dtype=np.int64, count=len(members))
            rows_b = np.repeat(np.arange(len(members)), n_pos)
            rows_p = np.concatenate([np.asarray(m.positions, dtype=np.int64) for m in members]) if n_pos.sum() else np.zeros(0, np.int64)
            with torch.inference_mode():
                t_ids = torch.from_numpy(ids).to(self.device)
                t_mask = torch.from_numpy(mask.astype(np.int64)).to(self.device)
                hidden = self.body(input_ids=t_ids, attention_mask=t_mask).last_hidden_state
                sel = hidden[torch.from_numpy(rows_b).to(self.device), torch.from_numpy(rows_p).to(self.device)]
                logits = self.head(sel)
                if self.returned is not None:
                    logits = logits.index_select(-1, self.returned)
                flat = logits.float().cpu().numpy()
            for i, part in zip(group, np.split(flat, np.cumsum(n_pos)[:-1])):
                out[int(i)] = part
        return out

    def close(self) -> None:
        del self.model, self.body, self.head
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()


def _context_length(config: Any, tokenizer: Any) -> int | None:
    limits = [v for v in (getattr(config, "max_position_embeddings", None),) if isinstance(v, int) and v > 0]
    tmax = getattr(tokenizer, "model_max_length", None)
    if isinstance(tmax, int) and 0 < tmax < 10_000_000:  # transformers uses ~1e30 for "unset"
        limits.append(tmax)
    return min(limits) if limits else None


def _load(spec: RunSpec) -> Any:
    if spec.prepared.recipe.model_kind == "language-model":  # log-probabilities / generation: lm_transformers.py
        from prm_viewer.scoring.lm_transformers import TransformersLM

        return TransformersLM(spec)
    return TransformersRunner(spec)


BACKEND = Backend(
    name="transformers",
    help="transformers on CPU or GPU (bf16 on GPU, float32 on CPU), length-bucketed batches",
    model_kinds=frozenset({"token-classification", "causal-lm", "language-model"}),
    load=_load,
)
