"""Pieces of the Trace page: score badges, the per-step block, reward and progress curves.

Colours follow the heatmap: a score below the scorer's threshold is red, within 0.15 above it
orange, otherwise green. Every badge also shows the number, so colour is never the only cue.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from prm_viewer.ui.text import plain, safe_markdown

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
               gold_first_error: int | None, predicted: dict[str, int | None], selected: bool) -> None:
    """One step: index, markers, gold label and every scorer's score, then the text (Markdown + LaTeX).

    ``scores``: this step's rows of ``trace_step_scores``; ``predicted``: scorer name -> predicted
    first error (-1 none).
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
        if gold_label is not None and not pd.isna(gold_label):
            head.append(LABEL_TEXT.get(int(gold_label), f"gold: {int(gold_label)}"))
        for row in scores.itertuples(index=False):
            score = None if pd.isna(row.score) else float(row.score)
            head.append(score_badge(row.scorer, score, float(row.threshold)))
        st.markdown(" ".join(head))
        st.markdown(safe_markdown(text))


def reward_figure(scores: pd.DataFrame, gold_first_error: int | None) -> go.Figure:
    """Step score per scorer (lines), each scorer's threshold dotted, gold first error marked."""
    fig = go.Figure()
    for scorer, grp in scores.groupby("scorer", sort=False):
        fig.add_trace(go.Scatter(x=grp["step_idx"], y=grp["score"], mode="lines+markers", name=str(scorer)))
    for thr in sorted(set(scores["threshold"].round(4))):
        fig.add_hline(y=float(thr), line_dash="dot", line_color="grey", annotation_text=f"threshold {thr:g}",
                      annotation_position="bottom right")
    if gold_first_error is not None and gold_first_error >= 0:
        fig.add_vline(x=gold_first_error, line_color="red", line_width=2,
                      annotation_text="gold first error", annotation_position="top left")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=30), yaxis=dict(range=[-0.02, 1.02], title="P(step correct)"),
                      xaxis=dict(title="step index (0-based)", dtick=1), legend=dict(orientation="h", y=1.12))
    return fig


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
    fig = go.Figure()
    for scorer, grp in prog.groupby("scorer", sort=False):
        fig.add_trace(go.Bar(x=grp["step_idx"], y=grp["progress"], name=str(scorer)))
    fig.update_layout(height=240, margin=dict(l=10, r=10, t=30, b=30), barmode="group",
                      yaxis=dict(title="score(k) − score(k−1)"), xaxis=dict(title="step index (0-based)", dtick=1),
                      legend=dict(orientation="h", y=1.15))
    return fig
