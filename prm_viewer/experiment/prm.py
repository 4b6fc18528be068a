"""The tiny PRM: training rows in exactly the ``qwen-prm`` recipe's input (the recipe's own
``build_inputs`` renders them), one label on each step's ``<extra_0>`` marker (1 = the exact
verifier says the step is valid, 0 = invalid) and -100 elsewhere, trained with ``Trainer``;
scored back through the real recipe (``scoring.engine.load_engine`` / ``score_traces``).

Optionally (``dense=True``) every answer token also gets a target, ``DENSE + v``: ``v = 1`` while
the step's text so far is a prefix of the one right step (``a op b = c`` with ``a`` the previous
stated result and ``op b`` the problem's operation), ``v = 0`` from its first wrong token on (a
valid step's tokens are all 1). Each such target is decidable from the tokens already seen, so
the head gets a local signal where the error is, not only at the marker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prm_viewer.demo.verifier import right_steps, verify_steps
from prm_viewer.scoring.recipes import TraceInput, get_recipe


DENSE = 1000
"""A label ``DENSE + v`` is a per-token target (module docstring); 0 / 1 are the step labels."""


def _dense_labels(tok: Any, ids: Sequence[int], labels: list[int], problem: str, steps: Sequence[str],
                  positions: Sequence[int], valid: Sequence[bool]) -> None:
    """Writes ``DENSE + v`` on every token of each step (between the previous marker, or the
    answer's start, and the step's marker); leaves a row unchanged when its first step's tokens
    cannot be found."""
    right = right_steps(problem, steps)
    start = next((s for s in range(positions[0] - 1, -1, -1) if tok.decode(ids[s:positions[0]]) == steps[0]), None) \
        if positions and positions[0] >= 0 else None
    if start is None:
        return
    for k, pos in enumerate(positions):
        if pos < 0:
            break
        want = right[k]
        for j in range(start, pos):
            good = valid[k] or (want is not None and want.startswith(tok.decode(ids[start:j + 1])))
            labels[j] = DENSE + int(good)
        start = pos + 1


def prm_rows(tok: Any, traces: Sequence[tuple[str, list[str]]], dense: bool = False) -> list[dict[str, list[int]]]:
    """``(problem, steps)`` pairs -> token ids and labels at the markers the recipe places (and,
    with ``dense``, the per-token targets of the module docstring)."""
    recipe = get_recipe("qwen-prm")
    prep = recipe.prepare(tok, {})
    assert recipe.build_inputs is not None
    enc = recipe.build_inputs(prep, [TraceInput(str(i), p, s) for i, (p, s) in enumerate(traces)])
    rows = []
    for (problem, steps), e in zip(traces, enc):
        labels = [-100] * len(e.input_ids)
        valid = verify_steps(problem, steps)
        if dense:
            _dense_labels(tok, e.input_ids, labels, problem, steps, e.positions, valid)
        for pos, ok in zip(e.positions, valid):
            if pos >= 0:
                labels[pos] = int(ok)
        rows.append({"input_ids": list(e.input_ids), "labels": labels})
    return rows


def class_weights(rows: Sequence[dict[str, list[int]]], offset: int = 0) -> tuple[float, float]:
    """``(w_invalid, w_valid)`` with ``w_c = n / (2 n_c)`` over the labels ``offset + 0`` and
    ``offset + 1`` (the step labels, or with ``offset=DENSE`` the per-token targets): both classes
    weigh the same in the loss."""
    labels = [lab - offset for r in rows for lab in r["labels"] if lab in (offset, offset + 1)]
    n1 = sum(1 for lab in labels if lab == 1)
    n0 = len(labels) - n1
    if not n0 or not n1:
        return 1.0, 1.0
    return len(labels) / (2 * n0), len(labels) / (2 * n1)


def token_classification_loss(weights: tuple[float, float] = (1.0, 1.0), dense_weight: float = 0.0,
                              dense_weights: tuple[float, float] = (1.0, 1.0)) -> Any:
    """Class-weighted cross-entropy of the 2-label head at the markers (labels 0 / 1), plus
    ``dense_weight`` x the class-weighted cross-entropy at the per-token targets (``DENSE + v``)
    when there are any (the native PRM class returns logits only, as the real checkpoints' code
    does)."""

    def loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        import torch
        from torch.nn.functional import cross_entropy

        logits = outputs.logits if hasattr(outputs, "logits") else outputs["logits"]
        flat, lab = logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1)
        step = (lab == 0) | (lab == 1)
        total = cross_entropy(flat[step], lab[step], weight=torch.tensor(weights, dtype=torch.float32))
        tokens = lab >= DENSE
        if dense_weight and bool(tokens.any()):
            total = total + dense_weight * cross_entropy(flat[tokens], lab[tokens] - DENSE,
                                                         weight=torch.tensor(dense_weights, dtype=torch.float32))
        return total

    return loss


class PrmScorer:
    """The saved PRM loaded through the real recipe and backend, in this process."""

    def __init__(self, checkpoint: Path, batch_tokens: int = 8192) -> None:
        from prm_viewer.scoring.engine import ScorerSpec, load_engine

        self.engine = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=str(checkpoint), backend="transformers",
                                             device="cpu", dtype="float32", batch_tokens=batch_tokens))

    def score(self, traces: Sequence[tuple[str, list[str]]]) -> list[np.ndarray]:
        """P(correct) per step of each ``(problem, steps)``; 0 for a step the recipe could not score (past the context)."""
        from prm_viewer.scoring.engine import score_traces

        table = score_traces(self.engine, [TraceInput(str(i), p, s) for i, (p, s) in enumerate(traces)])
        values = table.column("score").to_numpy(zero_copy_only=False).astype(float)
        out, lo = [], 0
        for _, steps in traces:
            out.append(np.nan_to_num(values[lo:lo + len(steps)], nan=0.0))
            lo += len(steps)
        return out

    def close(self) -> None:
        self.engine.close()
