"""The per-step reward heatmap: traces x step index, coloured by step score.

Plotly heatmaps return no click selections in Streamlit (``on_select`` listens to Plotly's
selection, which heatmap traces do not take part in), so every cell is also a point of a scatter
trace carrying ``customdata = [trace_id, step_idx]``: a click selects that point and opens the
trace at that step. How the cells are drawn depends on how many there are:

- up to :data:`SVG_CELLS` cells, each is a square ``go.Scatter`` marker (one SVG element each);
- above it the colours are ONE ``go.Heatmap`` z-matrix (one image) and the click targets a
  ``go.Scatter`` in text mode with empty texts, which Plotly hovers and selects from the data
  without drawing an element per point. In the browser, styling one SVG marker per cell was
  most of the Explorer's load (a 200-row page has 2,000 cells; see BENCHMARKS.md, Dashboard).

The colour scale diverges at the scorer's threshold (red below, green above); the gold first
error is an ``x`` and the predicted first error a ring. Margins are fixed from the labels'
lengths (no ``automargin``, which makes Plotly draw the figure twice) and the axes do not zoom.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from prm_viewer.ui.text import plotly_text

COLORSCALE = "RdYlGn"
UNSCORED = "#d0d0d0"
ROW_PX = 16
"""Height of one trace row in pixels (the marker is a little smaller, leaving a gap)."""
MAX_COLUMNS = 150
"""Steps drawn per trace; a longer trace ends in a marker (its steps are on the Trace page)."""
SVG_CELLS = 400
"""Most cells drawn as one SVG marker each; a page with more draws its colours as one image."""


def short_names(names: list[str]) -> dict[str, str]:
    """Distinguishing part of each dataset name: the words (split at - _ . space) not shared by
    all names as a common prefix or suffix, e.g. ``run-with-prm-v1`` / ``run-without-prm-v1`` ->
    ``with`` / ``without``. One name maps to ``""`` (the page says which dataset it is)."""
    unique = sorted(set(names))
    if len(unique) <= 1:
        return {n: "" for n in unique}
    words = {n: re.split(r"([-_. ]+)", n) for n in unique}
    pre = 0
    while all(len(w) > pre + 1 for w in words.values()) and len({w[pre] for w in words.values()}) == 1:
        pre += 1
    suf = 0
    while all(len(w) - pre > suf + 1 for w in words.values()) and len({w[-1 - suf] for w in words.values()}) == 1:
        suf += 1
    out = {}
    for n, w in words.items():
        part = "".join(w[pre: len(w) - suf]).strip("-_. ") or n
        out[n] = _middle(part, 24)
    return out


def row_labels(page: pd.DataFrame) -> list[str]:
    """Short y labels: the distinguishing part of the dataset name and the trace's position in it."""
    short = short_names([str(d) for d in page["dataset"]])
    return [f"{short[str(d)]} #{o}".strip() for d, o in zip(page["dataset"], page["ordinal"])]


def _middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = (limit - 1) // 2
    return text[:keep] + "…" + text[-(limit - 1 - keep):]


def heatmap_figure(page: pd.DataFrame, scores: pd.DataFrame, threshold: float, scorer_name: str = "",
                   max_columns: int = MAX_COLUMNS, svg_cells: int | None = None) -> go.Figure:
    """The grid for one Explorer page.

    ``page``: rows in display order with ``trace_id, dataset, ordinal, n_steps, gold_first_error,
    pred_first_error``; ``scores``: ``trace_id, step_idx, score`` (missing steps are drawn grey).
    A trace longer than ``max_columns`` steps shows its first ``max_columns`` steps and then a
    marker (a grey arrow at column ``max_columns``) saying how many steps are not drawn; clicking
    it opens the trace at the first step not drawn. Labels are data: escaped for Plotly.
    ``svg_cells`` (default :data:`SVG_CELLS`): the most cells drawn as one SVG marker each; a
    larger page draws its colours as one heatmap image (same cells, same clicks and hover).
    """
    n_rows = len(page)
    row_of = {tid: i for i, tid in enumerate(page["trace_id"])}
    n_steps = page["n_steps"].fillna(0).astype(int)
    shown = n_steps.clip(upper=int(max_columns))
    # Every drawn step of every row, then the scores joined on: unscored steps stay visible.
    grid = pd.DataFrame({
        "trace_id": page["trace_id"].repeat(shown).to_numpy(),
        "step_idx": np.concatenate([np.arange(n) for n in shown]) if n_rows else np.array([], dtype=int),
    })
    sc = scores[scores["step_idx"] < int(max_columns)][["trace_id", "step_idx", "score"]]
    grid = grid.merge(sc, on=["trace_id", "step_idx"], how="left")
    grid["row"] = grid["trace_id"].map(row_of)
    labels = [plotly_text(t) for t in row_labels(page)]
    grid["label"] = [labels[r] for r in grid["row"]]
    marker_px = max(ROW_PX - 3, 4)
    max_steps = int(shown.max()) if n_rows else 1
    longer = page[n_steps > int(max_columns)]
    last_col = max_steps + (1 if not longer.empty else 0)
    width, height = figure_width(last_col), _height(n_rows)
    title = plotly_text(scorer_name, 40) or "score"
    margin = _margins(labels, title)
    colorbar = dict(title=dict(text=title), thickness=12, len=min(1.0, 300 / max(height, 1)), y=1.0, yanchor="top")
    scored = grid[grid["score"].notna()]
    unscored = grid[grid["score"].isna()]
    hover = "%{customdata[2]}<br>step %{x}<br>score %{customdata[3]}<extra></extra>"
    image = len(grid) > (SVG_CELLS if svg_cells is None else int(svg_cells))
    fig = go.Figure()
    if image:
        _image_cells(fig, grid, n_rows, last_col, float(threshold), colorbar, hover,
                     xgap=max(1, round((width - margin["l"] - margin["r"]) / (last_col + 0.4)) - marker_px))
    else:
        fig.add_trace(go.Scatter(
            x=scored["step_idx"], y=scored["row"], mode="markers", name="step score",
            marker=dict(symbol="square", size=marker_px, color=scored["score"], colorscale=COLORSCALE,
                        cmin=0.0, cmax=1.0, cmid=float(threshold), line=dict(width=0), colorbar=colorbar),
            customdata=_customdata(scored["trace_id"], scored["step_idx"], scored["label"], scored["score"].round(3)),
            hovertemplate=hover, showlegend=False,
        ))
        if len(unscored):
            fig.add_trace(go.Scatter(
                x=unscored["step_idx"], y=unscored["row"], mode="markers", name="not scored",
                marker=dict(symbol="square", size=marker_px, color=UNSCORED),
                customdata=_customdata(unscored["trace_id"], unscored["step_idx"], unscored["label"],
                                       ["not scored"] * len(unscored)),
                hovertemplate=hover,
            ))
    for column, name, marker in (
        ("gold_first_error", "gold first error", dict(symbol="x-thin", size=marker_px - 3, line=dict(width=2.5, color="black"))),
        ("pred_first_error", "predicted first error",
         dict(symbol="circle-open", size=marker_px + 2, line=dict(width=2.5, color="#1d3fbb"), color="#1d3fbb")),
    ):
        if column not in page:
            continue
        sub = page[page[column].notna() & (page[column] >= 0) & (page[column] < int(max_columns))]
        if sub.empty:
            continue
        rows = np.array([row_of[t] for t in sub["trace_id"]], dtype=np.int64)
        fig.add_trace(go.Scatter(
            x=sub[column].astype(int), y=rows, mode="markers", name=name, marker=marker,
            customdata=_customdata(sub["trace_id"], [int(s) for s in sub[column]], [labels[r] for r in rows],
                                   [name] * len(rows)),
            hovertemplate="%{customdata[2]}<br>step %{x}: %{customdata[3]}<extra></extra>",
        ))
    if not longer.empty:
        rows = np.array([row_of[t] for t in longer["trace_id"]], dtype=np.int64)
        notes = [overflow_note(int(n), int(max_columns), g, p)
                 for n, g, p in zip(longer["n_steps"], longer.get("gold_first_error", [None] * len(longer)),
                                    longer.get("pred_first_error", [None] * len(longer)))]
        fig.add_trace(go.Scatter(
            x=[int(max_columns)] * len(longer), y=rows, mode="markers", name=f"more steps (not drawn past {max_columns})",
            marker=dict(symbol="triangle-right", size=marker_px, color="#555555"),
            customdata=_customdata(longer["trace_id"], [int(max_columns)] * len(longer), [labels[r] for r in rows], notes),
            hovertemplate="%{customdata[2]}<br>%{customdata[3]}<extra></extra>",
        ))
    legend_rows = _legend_rows([t.name for t in fig.data if t.showlegend is not False and t.type == "scatter"
                                and t.name != "step score"], width - margin["l"] - margin["r"])
    margin["t"] += 20 * (legend_rows - 1)
    fig.update_layout(
        height=height + 20 * (legend_rows - 1), width=width, margin=margin, plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
        clickmode="event+select", dragmode=False, hovermode="closest",
    )
    # Fixed axes: no zoom handlers to set up (dragmode is off anyway); tick labels never hidden,
    # which spares Plotly measuring each of them against the figure's edges.
    fig.update_xaxes(title_text="step index (0-based)", range=[-0.7, last_col - 0.3], dtick=1 if last_col <= 40 else None,
                     showgrid=False, zeroline=False, side="bottom", fixedrange=True, automargin=False,
                     ticklabeloverflow="allow")
    fig.update_yaxes(tickmode="array", tickvals=list(range(n_rows)), ticktext=np.array(labels, dtype=object), range=[n_rows - 0.5, -0.5],
                     showgrid=False, zeroline=False, tickfont=dict(size=10), fixedrange=True, automargin=False,
                     ticklabeloverflow="allow")
    return fig


def _image_cells(fig: go.Figure, grid: pd.DataFrame, n_rows: int, n_cols: int, threshold: float,
                 colorbar: dict[str, Any], hover: str, xgap: int) -> None:
    """The cells of a large page: the scores as one heatmap image, the unscored steps as a grey
    one, and one text-mode scatter without texts (so no element drawn per point) that hovers and
    takes the clicks."""
    rows, cols = grid["row"].to_numpy(dtype=np.int64), grid["step_idx"].to_numpy(dtype=np.int64)
    score = grid["score"].to_numpy(dtype=float)
    z = np.full((n_rows, max(n_cols, 1)), np.nan)
    z[rows, cols] = score
    missing = np.full_like(z, np.nan)
    missing[rows[np.isnan(score)], cols[np.isnan(score)]] = 1.0
    gaps = dict(xgap=xgap, ygap=3, hoverinfo="skip", showlegend=False)
    fig.add_trace(go.Heatmap(z=z, colorscale=COLORSCALE, zmin=0.0, zmax=1.0, zmid=threshold, colorbar=colorbar,
                             name="step score colours", **gaps))
    if np.isnan(score).any():
        fig.add_trace(go.Heatmap(z=missing, colorscale=[[0, UNSCORED], [1, UNSCORED]], showscale=False,
                                 name="not scored cells", **gaps))
        # Its legend entry: a marker with no point (the cells themselves are in the image).
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="not scored", hoverinfo="skip",
                                 marker=dict(symbol="square", size=max(ROW_PX - 3, 4), color=UNSCORED)))
    values = ["not scored" if np.isnan(v) else round(float(v), 3) for v in score]
    fig.add_trace(go.Scatter(
        x=cols, y=rows, mode="text", name="step score",
        customdata=_customdata(grid["trace_id"], cols, grid["label"], values),
        hovertemplate=hover, showlegend=False,
    ))


def _margins(labels: list[str], colorbar_title: str) -> dict[str, int]:
    """Margins that fit the row labels (10 px font) and the colour bar with its title."""
    longest = max((len(html.unescape(t)) for t in labels), default=4)
    return dict(l=int(16 + 6 * longest), r=int(max(70, 24 + 7 * len(html.unescape(colorbar_title)))), t=30, b=40)


def _legend_rows(names: list[str], width: int) -> int:
    """How many rows the horizontal legend wraps to (about 7 px a character at 12 px, plus the symbol)."""
    rows, used = 1, 0
    for name in names:
        item = 46 + 7 * len(html.unescape(str(name)))
        if used and used + item > width:
            rows, used = rows + 1, 0
        used += item
    return rows


def overflow_note(n_steps: int, max_columns: int, gold: float | None = None, pred: float | None = None) -> str:
    """Hover text of a long trace's cut marker: how many steps are not drawn, and first errors there."""
    text = f"{n_steps - max_columns:,} more steps ({max_columns:,}–{n_steps - 1:,}) not drawn; click to open the trace there"
    for what, value in (("gold", gold), ("predicted", pred)):
        if value is not None and not pd.isna(value) and int(value) >= max_columns:
            text += f"<br>{what} first error at step {int(value):,}"
    return text


def _customdata(*columns: Any) -> np.ndarray:
    """Per-marker data as one object array: Plotly validates a numpy array in one step, whereas a
    list of tuples is walked element by element (most of the figure's build time at 2,000 cells)."""
    out = np.empty((len(columns[0]), len(columns)), dtype=object)
    for j, col in enumerate(columns):
        out[:, j] = [v.item() if isinstance(v, np.generic) else v for v in col]
    return out


def figure_width(max_steps: int) -> int:
    """Wide enough for square-ish cells; the labels and colour bar take about 330 px."""
    return int(min(max(560, 330 + max_steps * (ROW_PX + 4)), 4000))


def _height(n_rows: int) -> int:
    return max(220, n_rows * ROW_PX + 110)


def cell_from_selection(event: Any) -> tuple[str, int] | None:
    """``(trace_id, step_idx)`` of the clicked cell in a ``st.plotly_chart`` selection event."""
    if event is None:
        return None
    selection = event.get("selection") if isinstance(event, Mapping) else getattr(event, "selection", None)
    points = (selection or {}).get("points") or []
    for point in points:
        data = point.get("customdata")
        if data and len(data) >= 2:
            return str(data[0]), int(data[1])
    return None
