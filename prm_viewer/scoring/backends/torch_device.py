"""Torch device and dtype helpers shared by the transformers runners (scoring and LM).

Everything here imports torch only when called, so a registry lookup stays light.
"""

from __future__ import annotations

from typing import Any

from prm_viewer.errors import RecipeError

DTYPES = ("float32", "bfloat16", "float16")
"""Explicit dtypes a scorer may ask for (besides ``auto``)."""


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RecipeError(f"device '{device}' asked for, but no CUDA GPU is visible to torch")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` -> bfloat16 on GPU, float32 on CPU."""
    if dtype == "auto":
        return "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in DTYPES:
        raise RecipeError(f"unknown dtype '{dtype}'; choose auto, {', '.join(DTYPES)}")
    return dtype


def resolve(device: str, dtype: str) -> tuple[str, str]:
    """The device and dtype a request becomes on this machine (``Backend.resolve``)."""
    dev = resolve_device(device)
    return dev, resolve_dtype(dtype, dev)


def resolve_batch_tokens(batch_tokens: int, device: str) -> int:
    """The token budget of one batch; 0 = auto: 4096 on CPU (bigger padded batches were slower
    there, see BENCHMARKS.md), 16384 on a GPU."""
    if batch_tokens and batch_tokens > 0:
        return int(batch_tokens)
    return 4096 if device == "cpu" else 16384


def context_length(config: Any, tokenizer: Any) -> int | None:
    """The model's context in tokens: the smaller of the config's ``max_position_embeddings``
    and the tokenizer's ``model_max_length`` (when set); ``None`` when neither says."""
    limits = [v for v in (getattr(config, "max_position_embeddings", None),) if isinstance(v, int) and v > 0]
    tmax = getattr(tokenizer, "model_max_length", None)
    if isinstance(tmax, int) and 0 < tmax < 10_000_000:  # transformers uses ~1e30 for "unset"
        limits.append(tmax)
    return min(limits) if limits else None


def torch_dtype(name: str) -> Any:
    """The ``torch.dtype`` of a resolved dtype name."""
    import torch

    return getattr(torch, name)


def free_memory(device: str) -> None:
    """Give cached GPU memory back after a model is dropped (no-op on CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


__all__ = ["DTYPES", "context_length", "free_memory", "resolve", "resolve_batch_tokens", "resolve_device",
           "resolve_dtype", "torch_dtype"]
