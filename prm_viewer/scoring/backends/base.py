"""The Backend interface: run batches of encoded traces fast. One job, nothing else.

A backend is registered by name in ``BACKENDS`` and has:

``name``: registry key (``transformers``; ``vllm`` / ``vllm-server`` come later).
``model_kinds``: the recipe ``model_kind`` values it can run (see ``recipes/base.py``).
``load(spec) -> Runner``: load the model once (``spec`` is a :class:`RunSpec`).

A :class:`Runner` (what ``load`` returns) has:

``run(batch) -> list[np.ndarray]``: for each :class:`~prm_viewer.scoring.recipes.EncodedTrace`
    of ``batch`` (any order, any lengths, already truncated to ``max_length`` by the engine, and
    only positions ``>= 0`` kept), a ``float[len(positions), k]`` array of the rows the recipe
    reads: for ``token-classification`` the head's logits (``k = num_labels``); for
    ``causal-lm`` the next-token logits restricted to ``prepared.returned_token_ids``
    (``k = len(returned_token_ids)``, no softmax); for ``exact`` the trace's own ``rows``.
    The runner chooses batching (bucketing, token budget); results do not depend on order.
``max_length``: the model's context in tokens (``None`` = unlimited); the engine never gives
    longer inputs, it marks the steps beyond as not scored.
``device``, ``dtype``: what it actually runs on (recorded with the scores).
``close()``: free the model.

Backends never read the store, never know about jobs, and never interpret rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from prm_viewer.scoring.recipes.base import EncodedTrace, Prepared


@dataclass
class RunSpec:
    """Everything a backend needs to load a model for a recipe."""

    checkpoint: Any
    """A :class:`~prm_viewer.scoring.checkpoints.Checkpoint` (``None`` for exact recipes)."""
    prepared: Prepared
    device: str = "auto"
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``."""
    dtype: str = "auto"
    """``auto`` (bfloat16 on GPU, float32 on CPU) | ``float32`` | ``bfloat16`` | ``float16``."""
    batch_tokens: int = 0  # 0 = auto (see backends.transformers_backend.resolve_batch_tokens)
    """Token budget of one batch (padded tokens: batch size x longest input)."""
    trust_remote_code: bool = False
    max_length: int | None = None
    """Override of the model's context length."""
    options: dict[str, Any] = field(default_factory=dict)
    """Backend-specific options."""


class Runner(Protocol):
    max_length: int | None
    device: str
    dtype: str

    def run(self, batch: Sequence[EncodedTrace]) -> list[np.ndarray]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backend:
    """A registry entry."""

    name: str
    help: str
    model_kinds: frozenset[str]
    load: Any
    """``Callable[[RunSpec], Runner]``; imports its heavy dependencies inside."""


def buckets(lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    """Group indices into batches, sorted by length, each within ``budget`` padded tokens
    (batch size x longest member); an input longer than the budget forms its own batch."""
    order = np.argsort(lengths, kind="stable")
    groups: list[np.ndarray] = []
    start = 0
    n = len(order)
    while start < n:
        end = start + 1
        # sorted ascending, so the last member is the longest: size * length <= budget
        while end < n and (end - start + 1) * int(lengths[order[end]]) <= budget:
            end += 1
        groups.append(order[start:end])
        start = end
    return groups
