"""Helpers of the ``language-model`` recipes (critic, implicit-prm, mc-value): chat prompts in,
per-trace results out as step results (``jobfolder.STEP_RESULT_SCHEMA``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from prm_viewer.jobfolder import STEP_RESULT_SCHEMA


@dataclass
class TraceResult:
    """One trace's step results, as a recipe of the language-model kind produces them."""

    trace_id: str
    score: list[float | None]
    """Per step: P(correct)-like value in [0, 1], ``None`` = not scored (see ``note``)."""
    raw: list[float | None]
    """Per step: the recipe's raw value."""
    note: list[str | None]
    """Per step: why it is not scored, or a remark; ``None`` otherwise."""


def _finite(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def results_table(results: Sequence[TraceResult]) -> pa.Table:
    """Step results (exactly ``STEP_RESULT_SCHEMA``; ``scorer_id`` NULL, the engine sets it)."""
    ids: list[str] = []
    idx: list[int] = []
    score: list[float | None] = []
    raw: list[float | None] = []
    note: list[str | None] = []
    for r in results:
        n = len(r.score)
        ids.extend([r.trace_id] * n)
        idx.extend(range(n))
        score.extend(_finite(v) for v in r.score)
        raw.extend(_finite(v) for v in r.raw)
        note.extend(r.note)
    return pa.table({"scorer_id": pa.nulls(len(ids), pa.string()), "trace_id": pa.array(ids, pa.string()),
                     "step_idx": pa.array(idx, pa.int32()), "score": pa.array(score, pa.float64()),
                     "raw": pa.array(raw, pa.float64()), "note": pa.array(note, pa.string())},
                    schema=STEP_RESULT_SCHEMA)


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of a chat prompt ending where the assistant starts (plain text when the
    tokenizer has no chat template: the messages' contents, one per line)."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(tokenizer.encode(text, add_special_tokens=False))
    text = "\n\n".join(m["content"] for m in messages) + "\n\n"
    return list(tokenizer.encode(text, add_special_tokens=True))


__all__ = ["TraceResult", "chat_prompt_ids", "results_table"]
