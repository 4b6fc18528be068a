"""The Compare page's pieces: the headline card, charts in the runs' colours with PNG/SVG
downloads, tables with readable p-values, tables of the traces behind a number (labelled by
problem and source id, linked to the Trace page), and the step-aligned side-by-side view.

Text from data files (run, split and category names, problems, steps) is shown only through
``st.text`` / ``st.dataframe`` / selectbox options, or escaped with :mod:`prm_viewer.ui.text`
where it joins a Markdown line; in Plotly labels it is HTML-escaped (Plotly reads a subset of
HTML, links included) it goes through :func:`prm_viewer.ui.text.plotly_text`. Nothing here uses
``unsafe_allow_html``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis.align import side_by_side_frame
from prm_viewer.analysis.compare import Effect, Headline, describe, forest_rows
from prm_viewer.analysis.stats import Interval, format_p
from prm_viewer.store import Store
from prm_viewer.ui.analysis_widgets import csv_bytes, snippet, trace_url
from prm_viewer.ui.figures import download_buttons
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plotly_text

COLOURS = {"A": "#0072B2", "B": "#E69F00"}
"""Okabe-Ito blue and orange: distinct under the common colour-vision deficiencies and in grey."""
SYMBOLS = {"A": "circle", "B": "diamond"}
DASHES = {"A": "solid", "B": "dash"}
P_COLUMNS = ("mann_whitney_p", "ks_p", "p_value")


def style(fig: go.Figure, y_title: str | None = None) -> go.Figure:
    """The runs' colours, symbols and dashes on traces named A / B; readable legend."""
    for tr in fig.data:
        run = str(getattr(tr, "name", "") or "")
        if run in COLOURS:
            if isinstance(tr, go.Scatter):
                tr.update(line={"color": COLOURS[run], "dash": DASHES[run]}, marker={"color": COLOURS[run], "symbol": SYMBOLS[run]})
            elif isinstance(tr, (go.Bar, go.Histogram, go.Box)):
                tr.update(marker={"color": COLOURS[run]})
    fig.update_layout(legend_title_text="run", margin={"t": 30}, font={"size": 14})
    if y_title:
        fig.update_yaxes(title_text=y_title)
    return fig


def reading(text: str, data: bool = False) -> None:
    """The one-line plain reading of a chart or table. ``data=True`` when ``text`` quotes data
    (run, split, category, scorer names): it is then shown with ``st.text``, which parses
    nothing, rather than as Markdown."""
    if data:
        st.text(f"Reading: {text}")
    else:
        st.markdown(f"**Reading:** {text}")


def chart(fig: go.Figure, name: str, key: str, text: str, data: bool = False) -> None:
    """The reading (see :func:`reading`), the chart in the runs' colours, its PNG/SVG downloads."""
    reading(text, data)
    st.plotly_chart(style(fig), width="stretch", key=key, config={"displaylogo": False})
    download_buttons(fig, name, key)


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy for display: p-value columns as text (``9.8 × 10⁻¹⁶``), other floats rounded."""
    out = df.copy()
    for col in out.columns:
        if col in P_COLUMNS or str(col).endswith("_p"):
            out[col] = [format_p(None if pd.isna(v) else float(v)) for v in out[col]]
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(3)
    return out


def table(df: pd.DataFrame | None, name: str, key: str, caption: str | None = None, **kwargs: Any) -> Any:
    """A readable dataframe (p-values formatted) with a CSV download of the full-precision one."""
    if df is None or df.empty:
        st.caption(f"{caption or name}: nothing to show.")
        return None
    if caption:
        st.caption(caption)
    shown = st.dataframe(readable(df), hide_index=True, width="stretch", key=key, **kwargs)
    st.download_button("CSV", csv_bytes(df), file_name=f"{name}.csv", mime="text/csv", key=f"{key}-csv",
                       icon=":material/download:")
    return shown


# --------------------------------------------------------------------------- headline


def _pts(iv: Interval) -> str:
    if iv.estimate is None:
        return "n/a"
    return f"{100 * iv.estimate:+.1f} pts"


def _ci(iv: Interval, pts: bool = True, digits: int = 2) -> str:
    if iv.low is None or iv.high is None:
        return "95% CI n/a"
    if pts:
        return f"95% CI {100 * iv.low:+.1f} to {100 * iv.high:+.1f}"
    return f"95% CI {iv.low:.{digits}f} to {iv.high:.{digits}f}"


def _magnitude(h: float | None) -> str:
    """Cohen's (1988) labels for |h|."""
    if h is None:
        return "n/a"
    return next(w for lim, w in ((0.2, "negligible"), (0.5, "small"), (0.8, "medium"), (float("inf"), "large")) if abs(h) < lim)


def _effect_metric(col: Any, e: Effect | None, label: str) -> None:
    if e is None:
        col.metric(label, "n/a")
        return
    col.metric(label, _pts(e.diff) if e.measure != "lowest step score per trace" else
               ("n/a" if e.diff.estimate is None else f"{e.diff.estimate:+.3f}"),
               help=f"{e.method}; treated vs control: "
                    + describe(e, points=e.measure != "lowest step score per trace"))
    pts = e.measure != "lowest step score per trace"
    col.caption(f"{_ci(e.diff, pts, 3)} · {e.verdict}")


def headline_card(h: Headline, run_a: str, run_b: str, breakdowns: dict[str, pd.DataFrame], key: str) -> None:
    """The answer first, then the effect sizes with their intervals, then a forest plot."""
    t, c = h.treated, h.control
    with st.container(border=True, key=f"{key}-card"):
        st.subheader(h.question)
        st.markdown(f"**{h.answer}**")
        st.text(f"Effects are {t} minus {c} ({h.basis}), on {h.n_problems} shared problems. "
                f"A = {snippet(run_a, 80)}; B = {snippet(run_b, 80)}.")
        r1 = st.columns(4)
        _effect_metric(r1[0], h.accuracy, f"Accuracy, {t} − {c}")
        r1[1].metric("Cohen's h (accuracy)", "n/a" if h.cohens_h.estimate is None else f"{h.cohens_h.estimate:+.2f}",
                     help="2·asin(√p_treated) − 2·asin(√p_control); |h| 0.2 small, 0.5 medium, 0.8 large.")
        r1[1].caption(_ci(h.cohens_h, pts=False) + f" · {_magnitude(h.cohens_h.estimate)}")
        orv = h.odds_ratio
        infinite = orv.estimate is None and orv.low is not None  # only the treated run is ever the one that is right
        r1[2].metric("Paired odds ratio", "∞" if infinite else "n/a" if orv.estimate is None else f"{orv.estimate:.2f}",
                     help=f"McNemar's conditional odds ratio: problems only {t} solves over problems only {c} "
                          "solves (each problem's first sample), exact interval.")
        r1[2].caption(("95% CI n/a" if orv.low is None else f"95% CI {orv.low:.2f} to "
                       + ("∞" if orv.high is None else f"{orv.high:.2f}")) + f" · McNemar p = {format_p(h.mcnemar_p)}")
        _effect_metric(r1[3], h.process, f"Flawed-process rate, {t} − {c}")
        lines = [f"Final-answer accuracy {describe(h.accuracy)}."]
        if h.process is not None:
            lines.append(f"Right answers reached through a wrong step ({h.process.measure.split('(')[-1].rstrip(')')}): "
                         f"{describe(h.process)}; lower is better.")
        if h.trace_min is not None:
            e = h.trace_min
            lines.append(f"Mean lowest step score per problem: {describe(e, points=False)} ({e.verdict}).")
        st.caption(f"{t} vs {c}: " + " ".join(lines))
        rows = forest_rows(h, breakdowns)
        if not rows.empty:
            forest(rows, t, c, f"{key}-forest")


def forest(rows: pd.DataFrame, t: str, c: str, key: str) -> None:
    labels = [f"{plotly_text(m, 44)}<br>{plotly_text(g, 44)}" for m, g in zip(rows["measure"], rows["group"])]
    colour = {"better": "#009E73", "worse": "#D55E00"}
    fig = go.Figure(go.Scatter(
        x=100 * rows["estimate"], y=list(range(len(rows))), mode="markers",
        marker={"size": 11, "symbol": "square", "color": [colour.get(v, "#555555") for v in rows["verdict"]]},
        error_x={"type": "data", "symmetric": False, "array": 100 * (rows["high"] - rows["estimate"]),
                 "arrayminus": 100 * (rows["estimate"] - rows["low"]), "thickness": 2},
        hovertemplate="%{x:+.1f} points<extra></extra>", showlegend=False))
    fig.add_vline(x=0, line_dash="dot", line_color="#333333")
    fig.update_layout(height=90 + 55 * len(rows), xaxis_title=f"{t} − {c}, percentage points (95% interval)",
                      yaxis={"autorange": "reversed", "tickvals": list(range(len(rows))), "ticktext": labels},
                      margin={"l": 10, "r": 10, "t": 10, "b": 50})
    n_good = int((rows["verdict"] == "better").sum())
    st.markdown(f"**Reading:** squares are {t} − {c}; bars are 95% intervals; green: the interval favours {t}, "
                f"vermillion: it favours {c}, grey: it includes 0 ({n_good} of {len(rows)} favour {t})"
                + (f"; for the flawed-process rate lower is better, so a negative difference favours {t}."
                   if rows["measure"].str.startswith("right answer").any() else "."))
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})
    download_buttons(fig, "effects_forest", key)


# --------------------------------------------------------------------------- side by side


def _pick_sample(col: Any, frame: pd.DataFrame, run: str, key: str) -> str | None:
    if frame.empty:
        col.caption(f"{run} has no trace of this problem.")
        return None
    if len(frame) == 1:
        return str(frame["trace_id"].iloc[0])
    ids = frame["trace_id"].tolist()
    names = dict(zip(ids, frame["source_id"].astype(str)))
    return str(col.selectbox(f"{run}: sample ({len(ids)})", ids, format_func=lambda t: names[t], key=key))


def side_by_side(
    store: Store, frame_a: pd.DataFrame, frame_b: pd.DataFrame, key_col: str, problem_key: str,
    scorer_id: str | None, scorer: str | None, key: str,
) -> None:
    """Both runs' traces of one problem, steps aligned by text similarity, with each step's
    score, the first divergent row and both first errors (gold and predicted) marked."""
    c1, c2 = st.columns(2)
    ta = _pick_sample(c1, frame_a[frame_a[key_col] == problem_key], "A", f"{key}-sa")
    tb = _pick_sample(c2, frame_b[frame_b[key_col] == problem_key], "B", f"{key}-sb")
    if ta is None or tb is None:
        return
    lab = cached(queries.analysis_trace_labels, store, (ta, tb), scorer_id).set_index("trace_id")
    lab = lab[~lab.index.duplicated()]  # run A = run B: the same trace may be picked on both sides
    steps = cached(queries.analysis_traces_steps, store, (ta, tb), scorer_id)
    st.text(snippet(lab.loc[ta, "problem"], 2000))
    info = {}
    for col, run, tid in ((c1, "A", ta), (c2, "B", tb)):
        r = lab.loc[tid]
        gold, pred = _opt_int(r["gold_first_error"]), _opt_int(r["pred_first_error"])
        info[run] = (gold, pred)
        col.text(f"{run}: {r['dataset']}" + (f" / {r['generator']}" if pd.notna(r["generator"]) else "")
                 + f"\nsource id {r['source_id']}; final answer {snippet(r['final_answer'], 40)} "
                 + f"({_right(r['final_answer_correct'])})"
                 + f"\nfirst error: gold {_step(gold)}, predicted {_step(pred)}")
        col.link_button(f"Open {run}'s trace", trace_url(tid), icon=":material/open_in_new:")
    sa, sb = steps[steps["trace_id"] == ta], steps[steps["trace_id"] == tb]
    frame = side_by_side_frame(sa["text"].tolist(), sb["text"].tolist(), sa["score"].tolist(), sb["score"].tolist(),
                               info["A"][0], info["B"][0], info["A"][1], info["B"][1])
    div = frame.index[frame["divergence"]].tolist()
    if div:
        d = frame.loc[div[0]]
        where = f"row {div[0]} (A step {_step(_opt_int(d['a_step']))}, B step {_step(_opt_int(d['b_step']))})"
        reading(f"the two traces agree step for step up to {where}, where they first diverge. "
                f"First errors: A gold {_step(info['A'][0])}, predicted {_step(info['A'][1])}; "
                f"B gold {_step(info['B'][0])}, predicted {_step(info['B'][1])}"
                + (" (predicted = the first step the scorer scores below its threshold)." if scorer else "."))
    else:
        reading("the two traces write the same steps throughout.")
    _aligned_table(frame, scorer, f"{key}-table")
    if scorer and frame[["a_score", "b_score"]].notna().any().any():
        _aligned_chart(frame, div[0] if div else None, scorer, f"{key}-chart")


def _opt_int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _right(v: Any) -> str:
    return "unknown" if v is None or pd.isna(v) else ("right" if bool(v) else "wrong")


def _step(i: int | None) -> str:
    return "unknown" if i is None else ("none" if i < 0 else f"{i}")


def _aligned_table(frame: pd.DataFrame, scorer: str | None, key: str) -> None:
    notes = []
    for d, ma, mb in zip(frame["divergence"], frame["a_mark"], frame["b_mark"]):
        short = {m: m.replace("first error (", "first error: ").replace(" + ", "+").rstrip(")") for m in (ma, mb)}
        parts = (["◆ diverges"] if d else []) + ([f"A {short[ma]}"] if ma else []) + ([f"B {short[mb]}"] if mb else [])
        notes.append("; ".join(parts))
    shown = pd.DataFrame({
        "row": frame["row"], "marks": notes,
        "A step": frame["a_step"], "A text": frame["a_text"], "A score": frame["a_score"],
        "B score": frame["b_score"], "B text": frame["b_text"], "B step": frame["b_step"],
    })
    if not scorer:
        shown = shown.drop(columns=["A score", "B score"])
    marked = {"A text": frame["a_mark"].ne("").tolist(), "B text": frame["b_mark"].ne("").tolist()}
    diverges = frame["divergence"].tolist()

    def colour(row: pd.Series) -> list[str]:
        k = int(row.name)
        base = "background-color: #FFF3C4" if diverges[k] else ""
        return [("background-color: #F9D0C4" if c in marked and marked[c][k] else base) for c in row.index]

    score_col = st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0, width=85)
    st.caption("Steps aligned by text similarity (a step with no counterpart leaves the other side empty); the "
               "yellow row is the first divergence, red cells the steps with a first error"
               + ("; scores are the chosen scorer's P(correct)." if scorer else "."))
    st.dataframe(shown.style.apply(colour, axis=1), hide_index=True, width="stretch", key=key, column_config={
        "row": st.column_config.NumberColumn(width=45), "marks": st.column_config.TextColumn(width=260),
        "A step": st.column_config.NumberColumn(width=55), "B step": st.column_config.NumberColumn(width=55),
        "A score": score_col, "B score": score_col,
        "A text": st.column_config.TextColumn(width=175), "B text": st.column_config.TextColumn(width=175),
    })
    st.download_button("CSV", csv_bytes(frame), file_name="side_by_side.csv", mime="text/csv", key=f"{key}-csv",
                       icon=":material/download:")


def _aligned_chart(frame: pd.DataFrame, div: int | None, scorer: str, key: str) -> None:
    fig = go.Figure()
    for run, col, mark in (("A", "a_score", "a_mark"), ("B", "b_score", "b_mark")):
        fig.add_trace(go.Scatter(x=frame["row"], y=frame[col], name=run, mode="lines+markers", connectgaps=True))
        err = frame[frame[mark] != ""]
        if not err.empty:
            fig.add_trace(go.Scatter(x=err["row"], y=err[col].fillna(0), mode="markers", name=f"{run} first error",
                                     marker={"symbol": "x", "size": 14, "color": COLOURS[run], "line": {"width": 2}}))
    if div is not None:
        fig.add_vline(x=div, line_dash="dot", line_color="#333333", annotation_text="first divergence")
    fig.update_layout(xaxis_title="aligned row", yaxis_title=f"step score ({plotly_text(scorer, 40)})", yaxis_range=[0, 1.05],
                      height=380, xaxis={"dtick": 1})
    chart(fig, "side_by_side_scores", key, "each run's step scores along the aligned rows; crosses mark first errors "
          "(gold or predicted), the dotted line the first divergent row.")
