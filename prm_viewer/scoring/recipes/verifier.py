"""``verifier``: exact checking of the synthetic demo tasks (no model): 1.0 valid, 0.0 invalid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prm_viewer.scoring.recipes.base import EncodedTrace, Prepared, Recipe, TraceInput


def prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    return Prepared(recipe=RECIPE, tokenizer=None, options=options)


def build_inputs(prep: Prepared, traces: Sequence[TraceInput]) -> list[EncodedTrace]:
    from prm_viewer.demo.verifier import verify_steps

    out: list[EncodedTrace] = []
    for t in traces:
        valid = verify_steps(t.problem, list(t.steps))
        n = len(valid)
        out.append(EncodedTrace(t.trace_id, [], list(range(n)), [None] * n,
                                rows=np.asarray(valid, dtype=np.float64).reshape(n, 1)))
    return out


def read_scores(prep: Prepared, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(rows, dtype=np.float64).reshape(-1)
    return values, values


RECIPE = Recipe(
    name="verifier",
    help="exact checker of the synthetic demo tasks: 1.0 if a step is valid, else 0.0 (no model)",
    model_kind="exact",
    prepare=prepare,
    build_inputs=build_inputs,
    read_scores=read_scores,
    aggregate="min",
)
