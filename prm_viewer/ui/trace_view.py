"""Pieces of the Trace page: score badges, the per-step block, reward and progress curves.

Colours follow the heatmap: a score below the scorer's threshold is red, within 0.15 above it
orange, otherwise green. Every badge also shows the number, so colour is never the only cue.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from prm_viewer.ui.text import plain, plotly_text, safe_markdown

LABEL_TEXT = {1: ":green-badge[gold: correct]", 0: ":gray-badge[gold: neutral]", -1: ":red-badge[gold: wrong]"}


def score_colour(score: float | None, threshold: float) -> str:
    """Streamlit colour name for a step score relative to the threshold."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "gray"
    if score < threshold:
        return "red"
    if score < threshold + 0.15:
        return "orange"
    return "green"


def score_badge(scorer: str, score: float | None, threshold: float) -> str:
    """Markdown badge ``scorer: 0.873`` coloured by the score (scorer names are escaped)."""
    shown = "not scored" if score is None or (isinstance(score, float) and math.isnan(score)) else f"{score:.3f}"
    name = plain(scorer, 28).replace("[", "(").replace("]", ")")
    return f":{score_colour(score, threshold)}-badge[{name}: {shown}]"


def step_block(step_idx: int, text: str, gold_label: int | None, scores: pd.DataFrame,
               gold_first_error: int | None, predicted: dict[str, int | None], selected: bool,
               labels: tuple[str, str] | None = None, control: Callable[[], None] | None = None) -> None:
    """One step: index, markers, labels and every scorer's score, then the text (Markdown + LaTeX).

    ``scores``: this step's rows of ``trace_step_scores``; ``predicted``: scorer name -> predicted
    first error (-1 none). ``labels``: ``(badges, notes)`` Markdown of every annotator's label and
    note on the step (gold included; :func:`prm_viewer.ui.annotate.label_markdown`), shown instead
    of the bare gold label; ``control``: draws the step's label control under the text.
    """
    with st.container(border=True, key=f"step_{step_idx}"):
        head = [f"**Step {step_idx}**"]
        if selected:
            head.append(":violet-badge[:material/my_location: selected]")
        if gold_first_error is not None and gold_first_error == step_idx:
            head.append(":red-badge[:material/close: gold first error]")
        for scorer, pfe in predicted.items():
            if pfe is not None and pfe == step_idx:
                head.append(f":blue-badge[:material/radio_button_unchecked: predicted first error "
                            f"({plain(scorer, 28).replace('[', '(').replace(']', ')')})]")
        if labels is not None:
            if labels[0]:
                head.append(labels[0])
        elif gold_label is not None and not pd.isna(gold_label):
            head.append(LABEL_TEXT.get(int(gold_label), f"gold: {int(gold_label)}"))
        # Columns zipped rather than itertuples: that builds a namedtuple class per call, per step.
        for scorer, value, threshold in zip(scores["scorer"], scores["score"], scores["threshold"]):
            score = None if pd.isna(value) else float(value)
            head.append(score_badge(scorer, score, float(threshold)))
        # One Markdown element per step (header line, then the text): the browser's cost of a page
        # of steps is mostly per element, which matters for long traces.
        notes = f"\n\n{labels[1]}" if labels is not None and labels[1] else ""
        st.markdown(" ".join(head) + "\n\n" + safe_markdown(text) + notes)
        if control is not None:
            control()


def reward_figure(scores: pd.DataFrame, gold_first_error: int | None) -> go.Figure:
    """Step score per scorer (lines), each scorer's threshold dotted, gold first error marked."""
    # Built as one dict rather than add_hline/add_vline/update_layout calls: each of those
    # re-validates the whole figure, which made the two figures most of the Trace page's run.
    data = [dict(type="scatter", x=grp["step_idx"].tolist(), y=grp["score"].tolist(), mode="lines+markers", name=plotly_text(scorer, 40))
            for scorer, grp in scores.groupby("scorer", sort=False)]
    shapes: list[dict] = []
    notes: list[dict] = []
    for thr in sorted(set(scores["threshold"].round(4))):
        shapes.append(dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=float(thr), y1=float(thr),
                           line=dict(dash="dot", color="grey")))
        notes.append(dict(text=f"threshold {thr:g}", xref="x domain", x=1, yref="y", y=float(thr),
                          xanchor="right", yanchor="top", showarrow=False))
    if gold_first_error is not None and gold_first_error >= 0:
        shapes.append(dict(type="line", xref="x", x0=gold_first_error, x1=gold_first_error, yref="y domain", y0=0, y1=1,
                           line=dict(color="red", width=2)))
        notes.append(dict(text="gold first error", xref="x", x=gold_first_error, yref="y domain", y=1,
                          xanchor="right", yanchor="top", showarrow=False))
    layout = dict(height=300, margin=dict(l=10, r=10, t=30, b=30), yaxis=dict(range=[-0.02, 1.02], title=dict(text="P(step correct)")),
                  xaxis=_step_axis(scores), legend=dict(orientation="h", y=1.12),
                  shapes=shapes, annotations=notes)
    return go.Figure(dict(data=data, layout=layout))


def _step_axis(scores: pd.DataFrame) -> dict[str, Any]:
    """The step-index x axis: every step labelled up to 40 steps, whole numbers always."""
    few = scores["step_idx"].nunique() <= 40
    return dict(title=dict(text="step index (0-based)"), tickformat="d", **({"dtick": 1} if few else {}))


def progress_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """Progress of a step = its score minus the previous step's score (same scorer); step 0 has none."""
    ordered = scores.sort_values(["scorer", "step_idx"])
    out = ordered[["scorer", "step_idx"]].copy()
    out["progress"] = ordered.groupby("scorer", sort=False)["score"].diff()
    # A gap in scored steps is not progress between neighbours.
    gap = ordered.groupby("scorer", sort=False)["step_idx"].diff() != 1
    out.loc[gap, "progress"] = float("nan")
    return out.dropna(subset=["progress"])


def progress_figure(scores: pd.DataFrame) -> go.Figure:
    """Bars of step-to-step score change per scorer."""
    prog = progress_frame(scores)
    data = [dict(type="bar", x=grp["step_idx"].tolist(), y=grp["progress"].tolist(), name=plotly_text(scorer, 40))
            for scorer, grp in prog.groupby("scorer", sort=False)]
    layout = dict(height=240, margin=dict(l=10, r=10, t=30, b=30), barmode="group",
                  yaxis=dict(title=dict(text="score(k) − score(k−1)")), xaxis=_step_axis(scores),
                  legend=dict(orientation="h", y=1.15))
    return go.Figure(dict(data=data, layout=layout))
