"""The Backend interface: run batches of encoded traces fast. One job, nothing else.

A backend is registered by name in ``BACKENDS`` (``backends/__init__.py``) as a :class:`Backend`:

``name``: registry key (``transformers``, ``exact``, ``vllm``, ``vllm-server``).
``model_kinds``: the recipe ``model_kind`` values it can run (see ``recipes/base.py``).
``dtypes``: the explicit dtypes a scorer may ask for (``auto`` is always accepted).
``resolve(device, dtype) -> (device, dtype)``: what a request (``auto`` included) becomes on
    this machine; runs in the worker (it may import torch or vllm), never in the app.
``load(spec) -> Runner | LanguageModel``: load the model once (``spec`` is a :class:`RunSpec`).

A :class:`Runner` (what ``load`` returns for per-position recipes) has:

``run(batch) -> list[np.ndarray]``: for each :class:`~prm_viewer.scoring.recipes.EncodedTrace`
    of ``batch`` (any order, any lengths, already truncated to ``max_length`` by the engine, and
    only positions ``>= 0`` kept), a ``float[len(positions), k]`` array of the rows the recipe
    reads: for ``token-classification`` the head's logits (``k = num_labels``); for
    ``causal-lm`` the next-token logits restricted to ``prepared.returned_token_ids``
    (``k = len(returned_token_ids)``, no softmax); for ``exact`` the trace's own ``rows``.
    The runner chooses batching (bucketing, token budget); results do not depend on order.
``max_length``: the model's context in tokens (``None`` = unlimited); the engine never gives
    longer inputs, it marks the steps beyond as not scored.
``device``, ``dtype``: what it actually runs on (recorded in the job's progress and status).
``close()``: free the model.

``language-model`` recipes get a :class:`~prm_viewer.scoring.backends.lm.LanguageModel` instead
(``lm.py``). Backends never read the store, never know about jobs, and never interpret rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.lm import LanguageModel
from prm_viewer.scoring.recipes.base import EncodedTrace, Prepared

if TYPE_CHECKING:
    from prm_viewer.scoring.checkpoints import Checkpoint


@dataclass
class RunSpec:
    """Everything a backend needs to load a model for a recipe."""

    checkpoint: Checkpoint | None
    """The resolved checkpoint (``None`` for exact recipes)."""
    prepared: Prepared
    """The recipe bound to the checkpoint's tokenizer."""
    device: str = "auto"
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` (``load_engine`` passes it resolved)."""
    dtype: str = "auto"
    """``auto`` (bfloat16 on GPU, float32 on CPU) | ``float32`` | ``bfloat16`` | ``float16``."""
    batch_tokens: int = 0
    """Token budget of one batch (padded tokens: batch size x longest input); 0 = the backend's
    default (``torch_device.resolve_batch_tokens``)."""
    trust_remote_code: bool = False
    """Let transformers run code shipped with the checkpoint."""
    max_length: int | None = None
    """Override of the model's context length."""
    options: dict[str, Any] = field(default_factory=dict)
    """Backend-specific options (a dict under a role's name, e.g. ``reference``, is for that model)."""

    def model_checkpoint(self) -> Checkpoint:
        """The checkpoint, which a model backend needs (a one-line error when there is none)."""
        if self.checkpoint is None:
            raise RecipeError(f"recipe '{self.prepared.recipe.name}' gave no checkpoint to load")
        return self.checkpoint


@runtime_checkable
class Runner(Protocol):
    """A loaded model for per-position recipes (see the module docstring)."""

    max_length: int | None
    device: str
    dtype: str

    def run(self, batch: Sequence[EncodedTrace]) -> list[np.ndarray]: ...

    def close(self) -> None: ...


Loaded = Runner | LanguageModel
"""What ``Backend.load`` returns."""


def as_given(device: str, dtype: str) -> tuple[str, str]:
    """A ``resolve`` for backends that take the request as it is."""
    return device, dtype


@dataclass(frozen=True)
class Backend:
    """A registry entry."""

    name: str
    """Registry key."""
    help: str
    """One line for people."""
    model_kinds: frozenset[str]
    """Recipe model kinds it runs."""
    load: Callable[[RunSpec], Loaded]
    """Load a model; imports its heavy dependencies inside."""
    dtypes: tuple[str, ...] = ()
    """Explicit dtypes a scorer may ask for besides ``auto`` (empty: ``auto`` only)."""
    resolve: Callable[[str, str], tuple[str, str]] = as_given
    """``(device, dtype)`` requested -> actually used on this machine; in the worker only (may
    import torch/vllm); raises RecipeError for a request this machine cannot meet."""

    def check_dtype(self, dtype: str) -> str:
        """``dtype`` when this backend accepts it, else a one-line RecipeError (for callers that
        validate a request early; ``resolve`` checks it again where it runs)."""
        if dtype != "auto" and dtype not in self.dtypes:
            raise RecipeError(f"backend '{self.name}' has no dtype '{dtype}'; choose {', '.join(('auto', *self.dtypes))}")
        return dtype


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


__all__ = ["Backend", "Loaded", "RunSpec", "Runner", "as_given", "buckets"]
