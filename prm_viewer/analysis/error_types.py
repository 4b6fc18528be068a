"""Error types: counts per run and per first-error position, from the dataset's own labels
(PRMBench ``classification``, the demo's error types) or a critic's verdicts."""

from __future__ import annotations

import pandas as pd


def error_type_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """run, error_type, n, share (of the run's traces that carry an error type)."""
    f = frame[frame["error_type"].notna()]
    if f.empty:
        return pd.DataFrame(columns=["run", "error_type", "n", "share"])
    out = f.groupby(["run", "error_type"]).size().rename("n").reset_index()
    out["share"] = out["n"] / out.groupby("run")["n"].transform("sum")
    return out.sort_values(["run", "n", "error_type"], ascending=[True, False, True]).reset_index(drop=True)


def error_type_by_position(frame: pd.DataFrame, relative: bool = False, bins: int = 10) -> pd.DataFrame:
    """run, error_type, position, n: position is the gold first-error step (0-based) or, with
    ``relative``, its bin floor(index * bins / n_steps)."""
    f = frame[frame["error_type"].notna() & (frame["gold_first_error"] >= 0)]
    if f.empty:
        return pd.DataFrame(columns=["run", "error_type", "position", "n"])
    pos = f["gold_first_error"].astype(int)
    if relative:
        pos = ((pos * bins) // f["n_steps"]).clip(upper=bins - 1)
    out = f.assign(position=pos).groupby(["run", "error_type", "position"]).size().rename("n").reset_index()
    return out


def critic_verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """A critic's verdict labels per run and predicted position: run, verdict, position, n."""
    if "critic_verdict" not in frame:
        return pd.DataFrame(columns=["run", "verdict", "position", "n"])
    f = frame[frame["critic_verdict"].notna()]
    out = f.assign(verdict=f["critic_verdict"], position=f["pred_critic"]).groupby(
        ["run", "verdict", "position"], dropna=False).size().rename("n").reset_index()
    return out
