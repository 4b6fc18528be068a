"""Compare: run A vs run B on the problems they share -- accuracy with confidence intervals and
an exact McNemar test, step-score distributions, first errors, answer/process disagreement,
per-split breakdown, the problems where they differ most (side by side), diversity, error types."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis import compare as cmp
from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.analysis.reports import compare_report, diversity_report, error_type_report
from prm_viewer.errors import PrmViewerError
from prm_viewer.ui import analysis_widgets as aw
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.state import cached

store = page("Compare runs")
datasets = require_datasets(store)
# Default to the demo's with/without pair when tags say so.
tags = datasets["tags"].map(lambda t: (t or {}).get("process_reward"))
ia = int(tags.eq("with").idxmax()) if tags.eq("with").any() else 0
ib = int(tags.eq("without").idxmax()) if tags.eq("without").any() else min(1, len(datasets) - 1)
a = aw.run_picker(store, datasets, "Run A", "cmp-a", ia)
b = aw.run_picker(store, datasets, "Run B", "cmp-b", ib)
ids = tuple({a.dataset_id, b.dataset_id})
scorers = cached(queries.analysis_scorers_for, store, ids)
step_scorers = scorers[scorers["kind"] == "step"]["name"].tolist()
c1, c2 = st.columns(2)
scorer = c1.selectbox("Scorer for step scores", ["(none)"] + step_scorers, index=1 if step_scorers else 0, key="cmp-scorer")
pairing = c2.radio("Pair problems by", list(cmp.PAIR_KEYS), horizontal=True, key="cmp-pair")
rep = cached(compare_report, store, a, b, scorer=None if scorer == "(none)" else scorer, pairing=pairing)

acc = jsonable(rep.accuracy)
mc = acc["mcnemar"]
st.caption(f"A = {rep.a} ({rep.n_traces_a} traces), B = {rep.b} ({rep.n_traces_b} traces); "
           f"{rep.n_shared_problems} shared problems.")


def ci(x: dict[str, Any]) -> str:
    return "n/a" if x["estimate"] is None else f"{x['estimate']:.1%} [{x['low']:.1%}, {x['high']:.1%}]"


p = mc["p_value"]
st.markdown(
    f"**Reading:** final-answer accuracy A {ci(acc['a'])}, B {ci(acc['b'])}; B - A {ci(acc['diff'])} (95% paired "
    f"bootstrap). {mc['b_only']} problems only B solves, {mc['a_only']} only A: exact McNemar p = "
    + ("n/a" if p is None else f"{p:.3g}") + ".")
cols = st.columns(4)
cols[0].metric("Accuracy A", ci(acc["a"]).split(" ")[0])
cols[1].metric("Accuracy B", ci(acc["b"]).split(" ")[0])
cols[2].metric("B - A", ci(acc["diff"]).split(" ")[0])
cols[3].metric("McNemar p", "n/a" if p is None else f"{p:.3g}")
fig = go.Figure(go.Bar(
    x=["A", "B"], y=[acc["a"]["estimate"], acc["b"]["estimate"]],
    error_y=dict(type="data", symmetric=False,
                 array=[(acc[k]["high"] or 0) - (acc[k]["estimate"] or 0) for k in "ab"],
                 arrayminus=[(acc[k]["estimate"] or 0) - (acc[k]["low"] or 0) for k in "ab"])))
fig.update_layout(yaxis_title="final-answer accuracy", yaxis_tickformat=".0%")
aw.chart(fig, "accuracy", "cmp-acc", f"B is {'above' if (acc['diff']['estimate'] or 0) > 0 else 'not above'} A; "
         "the bars are 95% bootstrap intervals over shared problems.")
c1, c2 = st.columns(2)
side = c1.selectbox("Traces behind McNemar: problems solved by", ["A only", "B only"], key="cmp-mc")
firsts = rep.pairs
m = (firsts["first_correct_a"] > 0.5) & (firsts["first_correct_b"] < 0.5) if side == "A only" else \
    (firsts["first_correct_a"] < 0.5) & (firsts["first_correct_b"] > 0.5)
aw.trace_links(firsts.loc[m, "first_trace_a" if side == "A only" else "first_trace_b"].tolist(), f"solved by {side}")

# ---- step scores
if not rep.score_by_position.empty:
    d = rep.score_by_position
    long = pd.concat([d.assign(run="A", mean=d["mean_a"]), d.assign(run="B", mean=d["mean_b"])])
    long["position"] = (long["rel_bin"] + 0.5) / 10
    fig = px.line(long, x="position", y="mean", color="run", markers=True,
                  labels={"position": "relative position in the trace", "mean": f"mean step score ({rep.scorer})"})
    sig = int((d["mann_whitney_p"] < 0.05).sum())
    aw.chart(fig, "score_by_position", "cmp-pos",
             f"mean step score along the trace; A and B differ (Mann-Whitney p < 0.05) at {sig} of {len(d)} positions.")
    aw.table(d, "score_by_position", "cmp-pos-table")
    mins = pd.concat([rep.frame_a.assign(run="A"), rep.frame_b.assign(run="B")])
    fig = px.histogram(mins, x="min_all", color="run", barmode="overlay", nbins=40, labels={"min_all": "trace minimum step score"})
    tm = jsonable(rep.trace_min)
    aw.chart(fig, "trace_min", "cmp-min",
             f"lowest step score per trace: median A {tm['median_a']}, B {tm['median_b']} "
             f"(Mann-Whitney p = {tm['mann_whitney_p']}, KS p = {tm['ks_p']}).")

lengths = pd.DataFrame([dict(measure="trace length (steps)", **jsonable(rep.trace_length))])
aw.table(lengths, "trace_length", "cmp-len", caption="Trace length")
aw.table(rep.first_error, "first_error", "cmp-fe", caption="First-error position (gold and predicted), absolute and relative")

# ---- answer vs process
rates = pd.DataFrame([dict(run=r, **jsonable(x)) for src in rep.rates.values() for r, x in zip(("A", "B"), src)])
aw.table(rates, "answer_vs_process", "cmp-rates",
         caption="Right answer with a flawed process, wrong answer with a clean process (gold labels / predicted errors)")
if not rates.empty:
    c1, c2, c3 = st.columns(3)
    src = c1.selectbox("Traces behind a rate: source", list(rep.rates), key="cmp-rsrc")
    run = c2.selectbox("run", ["A", "B"], key="cmp-rrun")
    which = c3.selectbox("rate", ["right_flawed", "wrong_clean"], key="cmp-rwhich")
    aw.trace_links(cmp.rate_traces(rep.frame_a if run == "A" else rep.frame_b, src, which), f"{which} in {run}")

# ---- generalisation
for by, df in rep.breakdown.items():
    if df.empty or (len(df) == 1 and df["group"].iloc[0] == "(none)"):
        continue
    long = pd.concat([df.assign(run="A", acc=df["acc_a"]), df.assign(run="B", acc=df["acc_b"])])
    fig = px.bar(long, x="group", y="acc", color="run", barmode="group", labels={"acc": "accuracy", "group": by})
    gap = df.loc[df["diff"].abs().idxmax()]
    aw.chart(fig, f"accuracy_by_{by}", f"cmp-by-{by}",
             f"the largest B - A gap by {by} is {gap['diff']:+.1%} on '{gap['group']}' ({int(gap['n_problems'])} problems).")
    aw.table(df, f"accuracy_by_{by}", f"cmp-by-{by}-table")

# ---- where they differ most, side by side
st.subheader("Problems where A and B differ most")
sel = aw.table(rep.differ_most, "differ_most", "cmp-top", on_select="rerun", selection_mode="single-row",
               caption="Select a row to open both traces side by side.")
rows = sel.selection.rows if sel is not None else []
if rep.differ_most is not None and not rep.differ_most.empty:
    r = rep.differ_most.iloc[rows[0] if rows else 0]
    aw.show_side_by_side(store, r["first_trace_a"], r["first_trace_b"], "cmp-sbs")

# ---- diversity and error types (on request: they read step text)
with st.expander("Diversity of samples (problems with several samples per run)"):
    semantic = st.checkbox("Semantic similarity (sentence embeddings, slower)", key="cmp-sem")
    if st.button("Compute diversity", key="cmp-div"):
        try:
            div = diversity_report(store, [a, b], semantic=semantic)
        except PrmViewerError as exc:
            st.error(str(exc))
        else:
            if div.per_problem.empty:
                st.info("No problem has two or more samples in either run.")
            else:
                aw.table(div.summary, "diversity_summary", "cmp-div-sum")
                fig = px.box(div.per_problem, x="run", y="distinct_2", points="all")
                aw.chart(fig, "diversity", "cmp-div-fig", "distinct bigram share per problem: higher means more varied wording.")
with st.expander("Error types"):
    et = cached(error_type_report, store, (a, b))
    if et.counts.empty:
        st.caption("No error types in these runs.")
    else:
        fig = px.bar(et.counts, x="error_type", y="n", color="run", barmode="group")
        top = et.counts.iloc[0]
        aw.chart(fig, "error_types", "cmp-et", f"the most common error type in {top['run']} is '{top['error_type']}' ({int(top['n'])} traces).")
        aw.table(et.by_position, "error_types_by_position", "cmp-et-pos")
