"""Progress: the process reward of a step as the change in step value, Q(k) - Q(k-1)
(Rewarding Progress / PAV). Works for any scorer: PRM step scores, or Monte-Carlo step values
stored as a scorer (recipe e.g. "mc-value"), shown side by side.

The per-position averages over many traces are computed in SQL
(``queries.analysis_progress_by_position``); these functions shape one trace's values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def progress(values: np.ndarray, start_value: float | None = None) -> np.ndarray:
    """Differences of consecutive step values; the first is ``values[0] - start_value``, or NaN
    when the value before any step is unknown (for MC values it is the problem's pass rate)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return v
    first = np.nan if start_value is None else v[0] - start_value
    return np.concatenate([[first], np.diff(v)])


def trace_progress(steps_long: pd.DataFrame, start_value: float | None = None) -> pd.DataFrame:
    """One trace's steps (``queries.analysis_trace_steps``) as a wide table: step_idx, text,
    gold_label, then ``score:<scorer>`` and ``progress:<scorer>`` for every scorer that scored it.
    Unscored steps break the chain: progress is taken between consecutive scored steps."""
    base = steps_long[["step_idx", "text", "gold_label"]].drop_duplicates("step_idx").sort_values("step_idx")
    base = base.reset_index(drop=True)
    scored = steps_long.dropna(subset=["scorer", "score"])
    for name, g in scored.groupby("scorer", sort=True):
        g = g.sort_values("step_idx")
        col = pd.DataFrame({"step_idx": g["step_idx"].to_numpy(), f"score:{name}": g["score"].to_numpy(),
                            f"progress:{name}": progress(g["score"].to_numpy(), start_value)})
        base = base.merge(col, on="step_idx", how="left")
    return base


def position_bins(step_idx: np.ndarray, n_steps: np.ndarray, bins: int = 10) -> np.ndarray:
    """Relative-position bin of each step: floor(step_idx * bins / n_steps) (same rule as SQL)."""
    s = np.asarray(step_idx, dtype=np.int64)
    n = np.asarray(n_steps, dtype=np.int64)
    return np.minimum((s * bins) // n, bins - 1)
