"""``exact`` backend: runs no model; returns the rows an exact recipe (``verifier``) computed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from prm_viewer.scoring.backends.base import Backend, RunSpec
from prm_viewer.scoring.recipes.base import EncodedTrace


class ExactRunner:
    """Hands back the rows the recipe computed (see ``base.Runner``)."""

    max_length: int | None = None
    device: str = "cpu"
    dtype: str = "float64"

    def run(self, batch: Sequence[EncodedTrace]) -> list[np.ndarray]:
        return [enc.rows if enc.rows is not None else np.zeros((0, 1)) for enc in batch]

    def close(self) -> None:
        pass


def load(spec: RunSpec) -> ExactRunner:
    return ExactRunner()


def resolve(device: str, dtype: str) -> tuple[str, str]:
    """No model: the scores are computed on the CPU, exactly (what ``ExactRunner`` reports)."""
    return ExactRunner.device, ExactRunner.dtype


BACKEND = Backend(name="exact", help="no model: exact recipes (verifier) compute their own scores",
                  model_kinds=frozenset({"exact"}), load=load, resolve=resolve)
