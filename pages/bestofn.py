"""Best-of-N: accuracy against the number of samples when a PRM reranks them (argmax of an
aggregate, PRM-weighted vote), with majority vote and pass@N as references; the picks with a
right answer but a flawed process; where the trace minimum falls."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis import bestofn as bon
from prm_viewer.analysis.runs import Run
from prm_viewer.ui import analysis_widgets as aw
from prm_viewer.ui.gold import gold_selector
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.state import cached

store = page("Best-of-N")
datasets = require_datasets(store)
st.caption("Needs several traces (samples) per problem with a known final-answer correctness, scored by a step scorer.")
run = aw.run_picker(store, datasets, "Run", "bon")
if run is None:
    st.stop()
scorers = cached(queries.analysis_scorers_for, store, (run.dataset_id,))
step_scorers = scorers[scorers["kind"] == "step"]["name"].tolist()
if not step_scorers:
    st.info("No step scorer has scored this dataset yet: queue a scoring job on the Library page.")
    st.stop()
c1, c2, c3 = st.columns([2, 1, 1])
scorer = c1.selectbox("Scorer", step_scorers, key="bon-scorer")
repeats = int(c2.number_input("Random subsets per N", 1, 200, 20, key="bon-rep"))
seed = int(c3.number_input("Seed", 0, 10**6, 0, key="bon-seed"))
gold = gold_selector(store, run.dataset_id, "bon-gold")
rep = cached(bon.bestofn_report, store, Run(run.dataset_id, run.dataset, run.generator), scorer,
             repeats=repeats, seed=seed, gold=gold)

aggs = st.multiselect("Aggregations of step scores", list(queries.AGGREGATIONS), default=["min", "last"], key="bon-aggs")
rules = st.multiselect("Selection rules", list(bon.RULES), default=list(bon.RULES), key="bon-rules",
                       format_func=lambda r: bon.RULES[r])
cur = rep.curves
fig = go.Figure()
palette = {"min": "#0072B2", "product": "#E69F00", "last": "#009E73", "mean": "#CC79A7"}
for agg in aggs:
    for rule in rules:
        d = cur[(cur["aggregation"] == agg) & (cur["rule"] == rule)]
        fig.add_trace(go.Scatter(
            x=d["n"], y=d["accuracy"], mode="lines+markers", name=f"{agg} / {rule}",
            line={"color": palette[agg], "dash": "solid" if rule == "max" else "dot"},
            error_y={"type": "data", "symmetric": False, "array": d["ci_high"] - d["accuracy"],
                     "arrayminus": d["accuracy"] - d["ci_low"], "thickness": 1}))
for ref, style in (("majority", "dash"), ("pass", "dashdot")):
    d = cur[cur["method"] == ref]
    fig.add_trace(go.Scatter(x=d["n"], y=d["accuracy"], mode="lines", name=bon.REFERENCES[ref],
                             line={"color": "#555555", "dash": style}))
fig.update_layout(xaxis_title="N (samples per problem)", yaxis_title="accuracy", yaxis_tickformat=".0%",
                  legend_title_text="aggregation / rule")
fig.update_xaxes(type="log", tickvals=rep.ns, ticktext=[str(n) for n in rep.ns])
top_n = max(rep.ns)
best = cur[(cur["n"] == top_n) & cur["aggregation"].notna()].sort_values("accuracy", ascending=False).iloc[0]
maj = rep.accuracy("majority", top_n)
aw.chart(fig, "best_of_n", "bon-curve",
           f"at N = {top_n}, the best PRM rule is {best['aggregation']} / {best['rule']} at {best['accuracy']:.1%} "
           f"(95% CI {best['ci_low']:.1%} to {best['ci_high']:.1%}) against {maj:.1%} for majority vote; "
           f"at each N every subset of the samples is averaged where there are at most {rep.repeats}, else "
           f"{rep.repeats} random ones (seed {rep.seed}).")
aw.table(cur, "best_of_n_curves", "bon-table", caption="Accuracy per N and method, with 95% CI over problems")
aw.table(rep.sample_counts, "samples_per_problem", "bon-k", caption="Problems by number of usable samples")

st.subheader("Right answer, flawed process")
aw.table(rep.flawed, "right_answer_flawed_process", "bon-flawed",
         caption="Argmax picks over all samples whose final answer is right although the gold first error is not -1 "
                 "(share among the right picks with a gold label).")
agg = st.selectbox("Show the flawed right picks of", list(queries.AGGREGATIONS), key="bon-flawed-agg")
aw.trace_links(bon.flawed_traces(rep.picks, agg), f"picked by {agg} with a right answer and a flawed process")

st.subheader("Where the trace minimum falls")
m = rep.minimum
if not m.empty:
    fig = go.Figure()
    for outcome, color in (("right answer", "#009E73"), ("wrong answer", "#D55E00"), ("unknown", "#999999")):
        d = m[m["outcome"] == outcome]
        if not d.empty:
            fig.add_trace(go.Bar(x=(d["lo"] + d["hi"]) / 2, y=d["share"], name=outcome, marker_color=color))
    fig.update_layout(barmode="group", xaxis_title="relative position of the lowest step score (0 = first, 1 = last)",
                      yaxis_title="share of traces", yaxis_tickformat=".0%")
    share = rep.last_step_share
    aw.chart(fig, "minimum_position", "bon-min",
               f"the lowest step score is on the final step in {share:.1%} of scored traces." if share is not None
               else "no scored trace.")
