"""Localisation: how well a scorer finds the first wrong step (ProcessBench metrics) and the
localisers side by side, then one section at a time (kept in the URL as ``section=``): the
threshold sweep and its tuning protocol with breakdowns, calibration, predicted vs gold positions
with one trace under every scorer, and the progress view (change in step value by position)."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.errors import PrmViewerError
from prm_viewer.analysis import localisation as loc
from prm_viewer.analysis.reports import localisation_report
from prm_viewer.analysis.runs import Run
from prm_viewer.analysis.calibration import calibration_report
from prm_viewer.ui import analysis_widgets as aw
from prm_viewer.ui.gold import gold_selector
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.sections import section_control
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain, plotly_text

store = page("Localisation")
datasets = require_datasets(store)

chosen = st.multiselect("Datasets (each without a split counts as its own split)", datasets["name"].tolist(),
                        default=datasets["name"].tolist()[:1], key="loc-ds")
if not chosen:
    st.stop()
ids = datasets.set_index("name").loc[chosen, "dataset_id"].tolist()
scorers = cached(queries.analysis_scorers_for, store, tuple(ids))
step_scorers = scorers[scorers["kind"] == "step"]["name"].tolist()
critics = scorers[scorers["kind"] == "trace"]["name"].tolist()
if not step_scorers:
    st.info("No scorer has scored these datasets yet: queue a scoring job on the Library page.")
    st.stop()
c1, c2 = st.columns(2)
scorer = c1.selectbox("Scorer", step_scorers, key="loc-scorer")
critic = c2.selectbox("Critic to compare (optional)", ["(none)"] + critics, key="loc-critic")
gold = gold_selector(store, ids[0] if len(ids) == 1 else None, "loc-gold")
mode = st.radio("Threshold", ["scorer's own", "fixed", "tune on a split"], horizontal=True, key="loc-mode")
threshold = tune_on = None
in_sample = False
if mode == "fixed":
    threshold = st.slider("tau", 0.0, 1.0, 0.5, 0.01, key="loc-tau")
elif mode == "tune on a split":
    splits = cached(queries.analysis_splits, store, tuple(ids))
    tune_on = st.selectbox("Tune tau for F1 on", splits, key="loc-tune")
    in_sample = st.checkbox("Also report the tuning split (in-sample, optimistic)", key="loc-insample")

runs = tuple(Run(dataset_id=d, dataset=n) for d, n in zip(ids, chosen))
rep = cached(localisation_report, store, runs, scorer, threshold=threshold, tune_on=tune_on,
             in_sample=in_sample, critic=None if critic == "(none)" else critic, gold=gold)

st.caption(f"tau = {rep.threshold:.4f} ({plain(rep.threshold_source)}); reported splits: "
           f"{', '.join(plain(s) for s in rep.reported_splits)}; "
           f"{rep.n_traces} traces, {rep.n_unlabelled} without a gold label and {rep.n_unscored} unscored left out.")

# ---- headline and localisers side by side
if rep.overall.empty:
    st.warning("No trace has both a gold first error and scores from this scorer.")
    st.stop()
thr = rep.overall.set_index("localiser").loc["threshold"]
st.markdown(
    f"**Reading:** at tau = {rep.threshold:.3f}, the first step scored below tau is exactly the first wrong step in "
    f"{aw.pct(thr['acc_error'])} of erroneous traces, and {aw.pct(thr['acc_correct'])} of correct traces get no "
    f"alarm (ProcessBench F1 {aw.pct(thr['f1'])}).")
aw.table(rep.overall, "localisers", "loc-overall", caption="Localisers side by side (percent; counts per position class)")
section = section_control({"threshold": "Threshold sweep", "calibration": "Calibration",
                           "positions": "Predicted vs gold positions", "progress": "Progress"}, "loc-section")

# ---- threshold sweep
sweep = rep.sweep
if section == "threshold" and not sweep.empty:
    fig = px.line(sweep.assign(split=sweep["split"].map(plotly_text)), x="tau", y="f1", color="split",
                  labels={"f1": "F1 (%)", "tau": "threshold tau"})
    fig.add_vline(x=rep.threshold, line_dash="dash", annotation_text=f"tau = {rep.threshold:.3f}")
    best = rep.best_by_split.dropna(subset=["f1"])
    reading = "F1 against the threshold for each split."
    if not best.empty:
        top = best.loc[best["f1"].idxmax()]
        reading = (f"each split's F1 peaks at a different tau (e.g. {plain(top['split'])}: {top['f1']:.1f} at "
                   f"{top['tau']:.3f}, in-sample); the dashed line is the tau used for the tables.")
    aw.chart(fig, "threshold_sweep", "loc-sweep", reading)
    aw.table(rep.best_by_split, "best_threshold_by_split", "loc-best",
             caption="Each split's own F1-optimal tau: an in-sample oracle, not a fair result.")

# ---- breakdowns
if section == "threshold":
    for by, df in rep.breakdowns.items():
        aw.table(df, f"by_{by}", f"loc-by-{by}", caption=f"Threshold localiser by {by}")
    if rep.step_f1 is not None:
        aw.table(rep.step_f1, "step_f1", "loc-stepf1",
                 caption="PRMBench step-level F1 (correct steps positive, error steps positive, PRMScore = their mean)")

# ---- calibration: reliability diagram beside its own threshold sweep
cal = None
if section == "calibration":
    st.subheader("Calibration of step scores")
    n_bins = st.slider("Bins", 5, 20, 10, key="loc-cal-bins")
    try:
        cal = cached(calibration_report, store, runs, scorer, n_bins=n_bins)
    except PrmViewerError as exc:  # no labelled steps: say so, keep the rest of the page
        st.info(plain(str(exc)))
if cal is not None:
    c1, c2 = st.columns(2)
    with c1:
        b = cal.bins
        fig = go.Figure([
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#999999"}, name="perfect"),
            go.Scatter(x=b["mean_score"], y=b["accuracy"], mode="lines+markers", name=plotly_text(cal.scorer),
                       marker={"size": 6 + 18 * (b["n"] / b["n"].max()) ** 0.5, "color": "#0072B2"},
                       text=b["n"], hovertemplate="score %{x:.2f}, correct %{y:.2f}: %{text} steps<extra></extra>")])
        fig.update_layout(xaxis_title="mean step score in the bin", yaxis_title="share of steps not wrong (gold)",
                          xaxis_range=[0, 1], yaxis_range=[0, 1], legend_title_text="")
        aw.chart(fig, "reliability_diagram", "loc-cal",
                   f"expected calibration error {cal.ece:.3f} over {cal.n_steps} labelled steps ({cal.n_bins} bins); "
                   "points under the diagonal are over-confident.")
        aw.table(cal.bins, "reliability_bins", "loc-cal-table")
    with c2:
        sw = cal.sweep.melt(id_vars="tau", value_vars=["acc_error", "acc_correct", "f1"], var_name="metric")
        fig = px.line(sw, x="tau", y="value", color="metric", labels={"value": "percent", "tau": "threshold tau"},
                      color_discrete_sequence=["#D55E00", "#009E73", "#0072B2"])
        reading = "ProcessBench error accuracy, correct accuracy and F1 against the threshold, all traces."
        if cal.best_tau is not None:
            reading += f" F1 peaks at {cal.best_f1:.1f} at tau = {cal.best_tau:.3f} (in-sample)."
        aw.chart(fig, "calibration_sweep", "loc-cal-sweep", reading)

# ---- predicted vs gold positions
names = list(rep.positions)
behind: list[str] = []
pos = [df.assign(localiser=plotly_text(n)) for n, df in rep.positions.items()]
if section == "positions" and pos:
    import pandas as pd

    allpos = pd.concat(pos)
    fig = px.bar(allpos, x="class", y="n", color="localiser", barmode="group",
                 category_orders={"class": list(loc.POSITION_CLASSES)})
    p = rep.positions["threshold"].set_index("class")["n"]
    aw.chart(fig, "positions", "loc-pos",
             f"with the threshold, {p['exact']} erroneous traces are located exactly, {p['too_early']} too early, "
             f"{p['too_late']} too late and {p['missed']} missed; {p['false_alarm']} correct traces raise a false alarm.")
    c1, c2 = st.columns(2)
    which = c1.selectbox("Traces behind a count: localiser", names, key="loc-which")
    cls = c2.selectbox("class", list(loc.POSITION_CLASSES), key="loc-cls")
    behind = loc.traces_in_class(rep.frame, which, cls)
    aw.trace_links(behind, f"classed '{cls}' by {which}")

    off = rep.offsets.get("threshold")
    if off is not None and not off.empty:
        fig = go.Figure(go.Bar(x=off["offset"], y=off["n"]))
        fig.update_layout(xaxis_title="predicted - gold (steps)", yaxis_title="traces")
        early = int(off.loc[off["offset"] < 0, "n"].sum())
        late = int(off.loc[off["offset"] > 0, "n"].sum())
        aw.chart(fig, "offsets", "loc-off",
                 f"of the erroneous traces where an error is predicted, {early} are flagged before the gold step and {late} after it.")

# ---- one trace (from the class chosen above)
if section == "positions":
    st.subheader("One trace, every scorer")
    if len(behind):
        tid = st.selectbox("Trace (from the class chosen above)", behind[:200], key="loc-trace")
        table = aw._trace_table(store, tid)
        aw.table(table, f"trace_{tid}", "loc-trace-table",
                 caption="Step values and progress (change from the previous step; 1.0 before step 0) for every scorer")

# ---- progress view
if section == "progress":
    st.subheader("Progress: change in step value by relative position")
    all_ids = scorers[scorers["kind"] == "step"]["scorer_id"].tolist()
    prog = cached(queries.analysis_progress_by_position, store, tuple(r.ref() for r in runs), tuple(all_ids), 10, None)
    if not prog.empty:
        prog = prog.assign(position=(prog["rel_bin"] + 0.5) / 10, scorer=prog["scorer"].map(plotly_text),
                           run=prog["run"].map(plotly_text))
        fig = px.line(prog, x="position", y="mean_progress", color="scorer", line_dash="run", markers=True,
                      labels={"position": "relative position in the trace", "mean_progress": "mean Q(k) - Q(k-1)"})
        worst = prog.loc[prog["mean_progress"].idxmin()] if prog["mean_progress"].notna().any() else None
        reading = ("every scorer's mean change in step value along the trace (Monte-Carlo values appear as their own scorer)"
                   + (f"; the steepest average fall is {worst['mean_progress']:.3f} for {plain(worst['scorer'])} around "
                      f"{worst['position']:.0%} of the way through." if worst is not None else "."))
        aw.chart(fig, "progress_by_position", "loc-prog", reading)
