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


SCORER_COLOURS = ("#0068c9", "#ff2b2b", "#29b09d", "#ff8700", "#6d3fc0", "#83c9ff", "#ffabab", "#7defa1",
                  "#ffd16a", "#d5dae5")
"""One colour per scorer, the same in both panels of :func:`trace_figure` (Streamlit's palette)."""


def trace_figure(scores: pd.DataFrame, gold_first_error: int | None, where: str = "") -> go.Figure:
    """The reward curve (left) and the progress bars (right) as ONE figure with two panels.

    One chart rather than two: the browser draws one Plotly figure per Trace page run instead of
    two (each chart is a draw of its own, the largest part of the page's browser time; see
    BENCHMARKS.md, "Browser-side page speed"). A scorer has one colour and one legend entry for
    both panels (clicking it hides both). ``where`` (e.g. `` of steps 0–99``) ends each panel title.
    """
    reward = reward_figure(scores, gold_first_error).to_plotly_json()
    progress = progress_figure(scores).to_plotly_json()
    colour = {name: SCORER_COLOURS[i % len(SCORER_COLOURS)] for i, name in enumerate(dict.fromkeys(
        plotly_text(s, 40) for s in scores["scorer"]))}
    data = []
    for trace in reward["data"]:
        c = colour.get(trace["name"], "grey")
        data.append(trace | dict(legendgroup=trace["name"], line=dict(color=c), marker=dict(color=c)))
    for trace in progress["data"]:
        data.append(trace | dict(legendgroup=trace["name"], showlegend=False, marker=dict(color=colour.get(trace["name"], "grey")),
                                 xaxis="x2", yaxis="y2"))
    gap = 0.08
    layout = reward["layout"]
    layout.pop("template", None)
    layout.update(
        height=320, margin=dict(l=10, r=10, t=64, b=30), barmode="group", legend=dict(orientation="h", yanchor="bottom", y=1.11, x=0),  # above the panel titles
        xaxis=layout["xaxis"] | dict(domain=[0.0, 0.5 - gap / 2]), yaxis=layout["yaxis"] | dict(fixedrange=True),
        xaxis2=progress["layout"]["xaxis"] | dict(domain=[0.5 + gap / 2, 1.0], anchor="y2"),
        yaxis2=progress["layout"]["yaxis"] | dict(anchor="x2", fixedrange=True),
        annotations=list(layout.get("annotations", [])) + [
            dict(text=f"<b>{title}{plotly_text(where)}</b> ({what})", xref=f"{axis} domain", x=0, yref="paper", y=1.0,
                 xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=13))
            for axis, title, what in (("x", "Reward curve", "step score per scorer"),
                                      ("x2", "Progress", "score(k) − score(k−1)"))],
    )
    layout["yaxis2"]["title"] = dict(text="change of step score")
    return go.Figure(dict(data=data, layout=layout))


def first_error_table(table: pd.DataFrame) -> pd.DataFrame:
    """The Trace page's first-error rows as text for ``st.table`` (which reads Markdown): names and
    verdicts escaped, step indices as whole numbers (``–`` where there is none), thresholds as written."""
    def step(v: Any) -> str:
        return "–" if v is None or pd.isna(v) else str(int(v))

    out = pd.DataFrame({"scorer": [plain(s, 60) for s in table["scorer"]],
                        "threshold": ["–" if pd.isna(t) else f"{float(t):g}" for t in table["threshold"]],
                        "predicted first error": [step(v) for v in table["predicted_first_error"]],
                        "gold first error": [step(v) for v in table["gold_first_error"]]})
    if "verdict" in table:
        out["verdict"] = ["" if v is None or pd.isna(v) else plain(str(v), 80) for v in table["verdict"]]
    return out
