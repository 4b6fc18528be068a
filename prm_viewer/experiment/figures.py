"""Training curves as PNG figures (plotly + kaleido; kaleido drives a local Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _smooth(y: list[float], k: int = 5) -> list[float]:
    a = np.asarray(y, dtype=float)
    if a.size < k:
        return a.tolist()
    out = np.convolve(np.nan_to_num(a), np.ones(k) / k, mode="valid")
    return np.concatenate([a[: k - 1] * np.nan, out]).tolist()


def write_figures(curves: dict[str, Any], folder: Path) -> tuple[list[str], str | None]:
    """``(written PNG names, why none were written)``: the SFT/PRM loss curves and, per RL run,
    reward, step validity and loss per step."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    folder.mkdir(parents=True, exist_ok=True)
    figs: dict[str, Any] = {}
    f = make_subplots(rows=1, cols=2, subplot_titles=("SFT loss (policy, token CE)", "PRM loss (step-marker CE)"))
    for col, key in ((1, "sft"), (2, "prm")):
        c = curves.get(key) or []
        f.add_trace(go.Scatter(x=[r["step"] for r in c], y=[r["loss"] for r in c], mode="lines+markers", name=key), 1, col)
        f.update_xaxes(title_text="optimizer step", row=1, col=col)
    f.update_layout(width=1000, height=380, showlegend=False, template="plotly_white")
    figs["supervised_loss.png"] = f
    titles = ("outcome reward (share right)", "steps valid (exact verifier)", "policy-gradient loss")
    f = make_subplots(rows=1, cols=3, subplot_titles=titles)
    colours = {"without": "#1f77b4", "with": "#d62728"}
    for col, key in enumerate(("reward", "step_valid", "loss"), start=1):
        for run in ("without", "with"):
            c = curves.get(f"rl_{run}") or []
            x = [r["step"] for r in c]
            y = [r[key] for r in c]
            f.add_trace(go.Scatter(x=x, y=y, mode="lines", opacity=0.35, line={"color": colours[run]},
                                   name=f"{run} (raw)", showlegend=False), 1, col)
            f.add_trace(go.Scatter(x=x, y=_smooth(y), mode="lines", line={"color": colours[run], "width": 3},
                                   name=f"{run} process reward", showlegend=col == 1), 1, col)
        f.update_xaxes(title_text="RL step", row=1, col=col)
    f.update_layout(width=1300, height=400, template="plotly_white")
    figs["rl_curves.png"] = f
    written: list[str] = []
    try:
        for name, fig in figs.items():
            fig.write_image(str(folder / name))
            written.append(name)
    except Exception as exc:  # kaleido missing or no browser: the run still completes
        return written, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return written, None
