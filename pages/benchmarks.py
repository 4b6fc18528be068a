"""Benchmark tables as the papers print them: ProcessBench (per subset, threshold tuned on one
subset and transferred, and each subset's own best) and PRMBench (per error class: both step F1s
and PRMScore at the official 0.5, the radar chart, where the error steps sit); CSV and LaTeX."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis import benchmarks as bm
from prm_viewer.analysis.runs import Run
from prm_viewer.ui import analysis_widgets as aw
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.state import cached

store = page("Benchmarks")
datasets = require_datasets(store)
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]


def latex_download(text: str, name: str, key: str) -> None:
    st.download_button("LaTeX", text.encode("utf-8"), file_name=f"{name}.tex", mime="text/x-tex", key=key,
                       icon=":material/download:")


tab_pb, tab_prm = st.tabs(["ProcessBench", "PRMBench"])
with tab_pb:
    chosen = st.multiselect("Datasets (each subset: a split, or a dataset without splits)", datasets["name"].tolist(),
                            default=datasets["name"].tolist()[:4], key="bm-pb-ds")
    ids = datasets.set_index("name").loc[chosen, "dataset_id"].tolist() if chosen else []
    scorers = cached(queries.analysis_scorers_for, store, tuple(ids)) if ids else None
    names = [] if scorers is None else scorers[scorers["kind"] == "step"]["name"].tolist()
    if not names:
        st.info("Pick datasets that a step scorer has scored.")
    else:
        picked = st.multiselect("Scorers", names, default=names[:3], key="bm-pb-sc")
        splits = cached(queries.analysis_splits, store, tuple(ids))
        default = next((i for i, s in enumerate(splits) if "gsm8k" in s.lower()), 0)
        tune = st.selectbox("Tune the threshold for F1 on", splits, index=default, key="bm-pb-tune")
        if picked:
            runs = tuple(Run(d, n) for d, n in zip(ids, chosen))
            table = cached(bm.processbench_table, store, runs, tuple(picked), tune_on=tune)
            wide = bm.processbench_wide(table)
            avg = table[table["subset"] == "average"].sort_values("f1", ascending=False)
            st.markdown(f"**Reading:** with tau tuned on {tune} and transferred, the best average F1 is "
                        f"{avg['f1'].iloc[0]:.1f} ({avg['scorer'].iloc[0]}); the best-per-subset columns are "
                        "in-sample oracles, not fair results.")
            aw.table(wide, "processbench_table", "bm-pb-wide", caption="As the paper prints it (percent)")
            latex_download(bm.latex_table(wide, f"ProcessBench: threshold tuned on {tune}"), "processbench", "bm-pb-tex")
            aw.table(table, "processbench_long", "bm-pb-long", caption="Per scorer and subset, with each subset's own best")
            sub = table[table["subset"] != "average"]
            fig = go.Figure()
            for i, (sc_name, d) in enumerate(sub.groupby("scorer", sort=False)):
                fig.add_trace(go.Bar(x=d["subset"], y=d["f1"], name=sc_name, marker_color=PALETTE[i % len(PALETTE)]))
            fig.update_layout(barmode="group", xaxis_title="subset", yaxis_title="F1 (%)", legend_title_text="scorer")
            aw.chart(fig, "processbench_f1", "bm-pb-fig", f"F1 per subset at the threshold tuned on {tune}.")

with tab_prm:
    chosen = st.multiselect("PRMBench datasets", datasets["name"].tolist(), default=datasets["name"].tolist()[:1],
                            key="bm-prm-ds")
    ids = datasets.set_index("name").loc[chosen, "dataset_id"].tolist() if chosen else []
    scorers = cached(queries.analysis_scorers_for, store, tuple(ids)) if ids else None
    names = [] if scorers is None else scorers[scorers["kind"] == "step"]["name"].tolist()
    if not names:
        st.info("Pick datasets with gold step labels that a step scorer has scored.")
    else:
        picked = st.multiselect("Scorers", names, default=names[:3], key="bm-prm-sc")
        thr = st.number_input("Validity threshold (official: 0.5; valid = score above it)", 0.0, 1.0,
                              bm.PRMBENCH_THRESHOLD, 0.05, key="bm-prm-thr")
        runs = tuple(Run(d, n) for d, n in zip(ids, chosen))
        if picked:
            table = cached(bm.prmbench_table, store, runs, tuple(picked), threshold=float(thr))
            overall = table[table["category"] == "overall"].sort_values("prm_score", ascending=False)
            if not overall.empty:
                st.markdown(f"**Reading:** the best overall PRMScore is {overall['prm_score'].iloc[0]:.1f} "
                            f"({overall['scorer'].iloc[0]}): the mean of the step F1 with correct steps positive and with "
                            "error steps positive (valid = score above the threshold).")
            aw.table(table, "prmbench_table", "bm-prm-table", caption="Per error class (percent)")
            latex_download(bm.latex_table(table, f"PRMBench at threshold {thr:g}"), "prmbench", "bm-prm-tex")
            classes = [c for c in dict.fromkeys(table["category"]) if c != "overall"]
            fig = go.Figure()
            for i, (sc_name, d) in enumerate(table[table["category"] != "overall"].groupby("scorer", sort=False)):
                d = d.set_index("category").reindex(classes)
                fig.add_trace(go.Scatterpolar(r=list(d["prm_score"]) + [d["prm_score"].iloc[0]],
                                              theta=classes + [classes[0]], name=sc_name, fill="toself", opacity=0.6,
                                              line={"color": PALETTE[i % len(PALETTE)]}))
            fig.update_layout(polar={"radialaxis": {"range": [0, 100]}},
                              legend_title_text="scorer")
            aw.chart(fig, "prmbench_radar", "bm-prm-radar", "PRMScore per error class: further out is better.")
        pos = cached(bm.error_positions, store, runs)
        if not pos.empty:
            fig = go.Figure()
            for i, (cls, d) in enumerate(pos.groupby("category", sort=True)):
                fig.add_trace(go.Bar(x=(d["lo"] + d["hi"]) / 2, y=d["share"], name=str(cls),
                                     marker_color=PALETTE[i % len(PALETTE)]))
            fig.update_layout(barmode="group", bargap=0.15, xaxis_title="relative position of the error step in the trace",
                              yaxis_title="share of the class's error steps", yaxis_tickformat=".0%",
                              legend_title_text="error class")
            aw.chart(fig, "prmbench_error_positions", "bm-prm-pos", "where the gold error steps sit, per error class.")
