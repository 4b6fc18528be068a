"""The tiny PRM: training rows in exactly the ``qwen-prm`` recipe's input (the recipe's own
``build_inputs`` renders them), one label on each step's ``<extra_0>`` marker (1 = the exact
verifier says the step is valid, 0 = invalid) and -100 elsewhere, trained with ``Trainer``;
scored back through the real recipe (``scoring.engine.load_engine`` / ``score_traces``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prm_viewer.demo.verifier import verify_steps
from prm_viewer.scoring.recipes import TraceInput, get_recipe


def prm_rows(tok: Any, traces: Sequence[tuple[str, list[str]]]) -> list[dict[str, list[int]]]:
    """``(problem, steps)`` pairs -> token ids and labels at the markers the recipe places."""
    recipe = get_recipe("qwen-prm")
    prep = recipe.prepare(tok, {})
    assert recipe.build_inputs is not None
    enc = recipe.build_inputs(prep, [TraceInput(str(i), p, s) for i, (p, s) in enumerate(traces)])
    rows = []
    for (problem, steps), e in zip(traces, enc):
        labels = [-100] * len(e.input_ids)
        for pos, ok in zip(e.positions, verify_steps(problem, steps)):
            if pos >= 0:
                labels[pos] = int(ok)
        rows.append({"input_ids": list(e.input_ids), "labels": labels})
    return rows


def class_weights(rows: Sequence[dict[str, list[int]]]) -> tuple[float, float]:
    """``(w_invalid, w_valid)`` with ``w_c = n / (2 n_c)``: both labels weigh the same in the loss."""
    labels = [lab for r in rows for lab in r["labels"] if lab != -100]
    n1 = sum(1 for lab in labels if lab == 1)
    n0 = len(labels) - n1
    if not n0 or not n1:
        return 1.0, 1.0
    return len(labels) / (2 * n0), len(labels) / (2 * n1)


def token_classification_loss(weights: tuple[float, float] = (1.0, 1.0)) -> Any:
    """Class-weighted cross-entropy of the 2-label head at labelled positions (the native PRM
    class returns logits only, as the real checkpoints' code does)."""

    def loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        import torch

        logits = outputs.logits if hasattr(outputs, "logits") else outputs["logits"]
        w = torch.tensor(weights, dtype=torch.float32)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                                 weight=w, ignore_index=-100)

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
