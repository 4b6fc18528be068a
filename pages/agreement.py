"""Agreement of two step scorers (or a scorer and the gold labels) on the same steps, the traces
where they disagree most, and the consensus subset (where both localisers agree) as a download."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis import agreement as ag
from prm_viewer.analysis.runs import Run
from prm_viewer.export import export_bytes
from prm_viewer.ui import analysis_widgets as aw
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.state import cached

store = page("Agreement")
datasets = require_datasets(store)
run = aw.run_picker(store, datasets, "Run", "agr")
if run is None:
    st.stop()
scorers = cached(queries.analysis_scorers_for, store, (run.dataset_id,))
names = scorers[scorers["kind"] == "step"]["name"].tolist()
if not names:
    st.info("No step scorer has scored this dataset yet: queue a scoring job on the Library page.")
    st.stop()
c1, c2 = st.columns(2)
a = c1.selectbox("Scorer A", names, key="agr-a")
others = [n for n in names if n != a] + [ag.GOLD]
b = c2.selectbox("Scorer B (or the gold step labels)", others, key="agr-b")
rep = cached(ag.agreement_report, store, Run(run.dataset_id, run.dataset, run.generator), a, b)


def num(x: float | None, fmt: str = ".3f") -> str:
    return "n/a" if x is None else format(x, fmt)


m1, m2, m3, m4 = st.columns(4)
m1.metric("Cohen's kappa (steps)", num(rep.kappa))
m2.metric("Step calls agree", num(rep.step_agreement, ".1%"))
m3.metric("Spearman (scores)", num(rep.spearman))
m4.metric("Same first error", num(rep.first_error_agreement, ".1%"))
st.markdown(f"**Reading:** on {rep.n_steps} steps of {rep.n_traces} traces, {rep.a} and {rep.b} make the same "
            f"wrong / not-wrong call on {num(rep.step_agreement, '.1%')} of steps (kappa {num(rep.kappa)}; "
            f"thresholds {rep.threshold_a:g} and {'gold labels' if rep.threshold_b is None else f'{rep.threshold_b:g}'}); "
            f"Pearson {num(rep.pearson)} between their step scores.")
aw.table(rep.confusion, "step_confusion", "agr-conf", caption="Step-level confusion at each scorer's threshold")

sc = rep.scatter
if not sc.empty:
    fig = go.Figure(go.Scatter(x=sc["pred_a"], y=sc["pred_b"], mode="markers",
                               marker={"size": 6 + 24 * (sc["n"] / sc["n"].max()) ** 0.5, "color": "#0072B2",
                                       "opacity": 0.7},
                               text=sc["n"], hovertemplate="A %{x}, B %{y}: %{text} traces<extra></extra>"))
    hi = int(max(sc["pred_a"].max(), sc["pred_b"].max(), 0))
    fig.add_trace(go.Scatter(x=[-1, hi], y=[-1, hi], mode="lines", line={"dash": "dash", "color": "#999999"},
                             name="same step", hoverinfo="skip"))
    fig.update_layout(xaxis_title=f"predicted first error: {rep.a} (-1 = none)",
                      yaxis_title=f"predicted first error: {rep.b} (-1 = none)", showlegend=False)
    aw.chart(fig, "first_error_scatter", "agr-scatter",
               f"points on the dashed line are the {rep.n_consensus} traces where both put the first error on the "
               f"same step (or both find none); marker size = number of traces.")

st.subheader("Where they disagree most")
dis = rep.disagreements
if not dis.empty:
    st.caption("Largest distance between the two predicted first errors, then the largest mean score difference; "
               "each link opens the trace at the step where the scores differ most.")
    shown = dis.assign(open=[aw.trace_url(t) + f"&step={int(k)}" for t, k in zip(dis["trace_id"], dis["max_step"])])
    aw.table(shown, "disagreements", "agr-dis", column_config={
        "open": st.column_config.LinkColumn("open", display_text="open at step ↗", width="small")})

st.subheader("Consensus subset")
ids = rep.consensus_ids()
st.markdown(f"**Reading:** {len(ids)} of {rep.n_traces} traces have the same predicted first error from both: "
            "the cleaner training subset of the consensus filter.")
if ids:
    c1, c2 = st.columns(2)
    for col, fmt in ((c1, "csv"), (c2, "jsonl")):
        col.download_button(f"Consensus traces ({fmt.upper()})",
                            lambda fmt=fmt: export_bytes(store, [run.dataset_id], fmt, per="step", filters={"trace_ids": ids}),
                            file_name=f"consensus_{rep.a}_{rep.b}.{fmt}", key=f"agr-cons-{fmt}",
                            icon=":material/download:")
