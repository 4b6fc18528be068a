"""Compare: did process rewards help? Run A vs run B on the problems they share -- a headline
card with effect sizes and intervals, then one section at a time (kept in the URL as
``section=``): accuracy (bootstrap CIs, exact McNemar),
process quality (flawed-process rates, step scores, first errors), diversity and error types,
generalisation (per split / category), and problems (where A and B differ most, with both
traces side by side, steps aligned)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis import compare as cmp
from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.analysis.reports import compare_report, diversity_report, error_type_report
from prm_viewer.analysis.stats import Interval, format_p
from prm_viewer.errors import PrmViewerError
from prm_viewer.ui import analysis_widgets as aw
from prm_viewer.ui import compare_view as cv
from prm_viewer.ui.gold import gold_selector
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.sections import section_control
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain, plotly_text

store = page("Compare runs")
datasets = require_datasets(store)
# Default to the demo's with/without pair when tags say so.
tags = datasets["tags"].map(lambda t: (t or {}).get("process_reward"))
ia = int(tags.eq("with").idxmax()) if tags.eq("with").any() else 0
ib = int(tags.eq("without").idxmax()) if tags.eq("without").any() else min(1, len(datasets) - 1)
with st.expander("Runs, scorer and pairing", expanded=False):
    a = aw.run_picker(store, datasets, "Run A", "cmp-a", ia)
    b = aw.run_picker(store, datasets, "Run B", "cmp-b", ib)
    if a is None or b is None:
        st.stop()
    ids = tuple({a.dataset_id, b.dataset_id})
    scorers = cached(queries.analysis_scorers_for, store, ids)
    step = scorers[scorers["kind"] == "step"]
    step_scorers = step["name"].tolist()
    c1, c2 = st.columns(2)
    # Prefer a learned PRM over an exact verifier for score comparisons.
    default = next((i + 1 for i, r in enumerate(step["recipe"]) if r != "verifier"), 1 if step_scorers else 0)
    scorer = c1.selectbox("Scorer for step scores", ["(none)"] + step_scorers, index=default, key="cmp-scorer")
    pairing = c2.radio("Pair problems by", list(cmp.PAIR_KEYS), horizontal=True, key="cmp-pair")
scorer_name = None if scorer == "(none)" else scorer
scorer_id = None if scorer_name is None else str(step.loc[step["name"] == scorer_name, "scorer_id"].iloc[0])
gold = gold_selector(store, a.dataset_id if a.dataset_id == b.dataset_id else None, "cmp-gold")
rep = cached(compare_report, store, a, b, scorer=scorer_name, pairing=pairing, gold=gold)
st.text(f"A = {aw.snippet(rep.a, 80)} ({rep.n_traces_a} traces), B = {aw.snippet(rep.b, 80)} ({rep.n_traces_b} traces); "
        f"{rep.n_shared_problems} shared problems, paired by {rep.pairing}"
        + (f"; step scores from {aw.snippet(rep.scorer, 60)}." if rep.scorer else "; no scorer."))
if rep.headline is not None:
    cv.headline_card(rep.headline, rep.a, rep.b, rep.breakdown, "cmp-head")

t, c = (rep.headline.treated, rep.headline.control) if rep.headline else ("B", "A")  # treated, control

section = section_control({"accuracy": "Accuracy", "process": "Process quality", "diversity": "Diversity & error types",
                           "generalisation": "Generalisation", "problems": "Problems"}, "cmp-section")

# ---- accuracy
if section == "accuracy":
    acc = jsonable(rep.accuracy)
    mc = acc["mcnemar"]

    def ci(x: dict[str, float | None]) -> str:
        return "n/a" if x["estimate"] is None else f"{x['estimate']:.1%} [{x['low']:.1%}, {x['high']:.1%}]"

    fig = go.Figure([go.Bar(
        x=[run], y=[acc[k]["estimate"]], name=run, text=[ci(acc[k])], textposition="inside", insidetextanchor="middle",
        textfont={"color": "white", "size": 15},
        error_y=dict(type="data", symmetric=False, array=[(acc[k]["high"] or 0) - (acc[k]["estimate"] or 0)],
                     arrayminus=[(acc[k]["estimate"] or 0) - (acc[k]["low"] or 0)])) for run, k in (("A", "a"), ("B", "b"))])
    fig.update_layout(yaxis_title="final-answer accuracy", yaxis_tickformat=".0%", yaxis_range=[0, 1.1], height=380)
    d = jsonable(cmp.orient(rep.accuracy.diff, t))
    cv.chart(fig, "accuracy", "cmp-acc",
             f"final-answer accuracy A {ci(acc['a'])}, B {ci(acc['b'])}; {t} − {c} {ci(d)} (95% paired bootstrap over "
             f"{acc['n_problems']} problems). {mc['b_only']} problems only B solves, {mc['a_only']} only A "
             f"(first sample each): exact McNemar p = {format_p(mc['p_value'])}.")
    st.caption("McNemar table (each problem's first sample)")
    st.dataframe(pd.DataFrame({"": ["A right", "A wrong"], "B right": [mc["both_right"], mc["b_only"]],
                               "B wrong": [mc["a_only"], mc["both_wrong"]]}), hide_index=True, key="cmp-mc-table")
    side = st.radio("Traces behind McNemar: problems solved by", ["A only", "B only"], horizontal=True, key="cmp-mc")
    firsts = rep.pairs
    m = (firsts["first_correct_a"] > 0.5) & (firsts["first_correct_b"] < 0.5) if side == "A only" else \
        (firsts["first_correct_a"] < 0.5) & (firsts["first_correct_b"] > 0.5)
    aw.traces_table(store, firsts.loc[m, "first_trace_a" if side == "A only" else "first_trace_b"].tolist(),
                    f"of the problems solved by {side} (that run's first sample)", "cmp-mc-traces")

# ---- process quality
if section == "process":
    rates = pd.DataFrame([dict(run=r, **jsonable(x)) for src in rep.rates.values() for r, x in zip(("A", "B"), src)])
    cv.table(rates, "answer_vs_process", "cmp-rates",
             caption="Right answer with a flawed process, wrong answer with a clean process (gold labels / predicted errors)")
    if not rates.empty:
        c1, c2, c3 = st.columns(3)
        src = c1.selectbox("Traces behind a rate: errors from", list(rep.rates), key="cmp-rsrc")
        run = c2.selectbox("run", ["A", "B"], key="cmp-rrun")
        which = c3.selectbox("rate", ["right_flawed", "wrong_clean"], key="cmp-rwhich",
                             format_func=lambda w: {"right_flawed": "right answer, flawed process",
                                                    "wrong_clean": "wrong answer, clean process"}[w])
        aw.traces_table(store, cmp.rate_traces(rep.frame_a if run == "A" else rep.frame_b, src, which),
                        f"in {run} ({which.replace('_', ' ')}, {src} errors)", "cmp-rate-traces")
    if not rep.score_by_position.empty:
        d = rep.score_by_position
        long = pd.concat([d.assign(run="A", mean=d["mean_a"]), d.assign(run="B", mean=d["mean_b"])])
        long["position"] = (long["rel_bin"] + 0.5) / 10
        fig = px.line(long, x="position", y="mean", color="run", markers=True,
                      labels={"position": "relative position in the trace", "mean": "mean step score"})
        sig = int((d["mann_whitney_p"] < 0.05).sum())
        cv.chart(fig, "score_by_position", "cmp-pos",
                 f"mean step score along the trace; A and B differ (Mann-Whitney p < 0.05) "
                 f"at {sig} of {len(d)} positions.")
        cv.table(d, "score_by_position", "cmp-pos-table")
        mins = pd.concat([rep.frame_a.assign(run="A"), rep.frame_b.assign(run="B")])
        fig = px.histogram(mins, x="min_all", color="run", barmode="overlay", nbins=40, opacity=0.6,
                           labels={"min_all": "trace minimum step score"})
        tm = jsonable(rep.trace_min)
        cv.chart(fig, "trace_min", "cmp-min",
                 f"lowest step score per trace: median A {tm['median_a']:.3f}, B {tm['median_b']:.3f} "
                 f"(Mann-Whitney p = {format_p(tm['mann_whitney_p'])}, KS p = {format_p(tm['ks_p'])}).")
    cv.table(rep.first_error, "first_error", "cmp-fe",
             caption="First-error position (gold and predicted), absolute and relative")
    lengths = pd.DataFrame([dict(measure="trace length (steps)", **jsonable(rep.trace_length))])
    cv.table(lengths, "trace_length", "cmp-len", caption="Trace length")

# ---- diversity and error types (on request: they read step text)
if section == "diversity":
    semantic = st.checkbox("Semantic similarity (sentence embeddings, slower)", key="cmp-sem")
    if st.button("Compute diversity", key="cmp-div"):
        try:
            div = diversity_report(store, [a, b], semantic=semantic)
        except PrmViewerError as exc:
            st.error(plain(str(exc)))
        else:
            if div.per_problem.empty:
                st.info("No problem has two or more samples in either run.")
            else:
                cv.table(div.summary, "diversity_summary", "cmp-div-sum")
                per = div.per_problem.assign(run=div.per_problem["run"].map({a.label: "A", b.label: "B"}).fillna("?"))
                fig = px.box(per, x="run", y="distinct_2", color="run", points="all")
                cv.chart(fig, "diversity", "cmp-div-fig", "distinct bigram share per problem: higher means more varied wording.")
    st.subheader("Error types")
    et = cached(error_type_report, store, (a, b))
    if et.counts.empty:
        st.caption("No error types in these runs.")
    else:
        counts = et.counts.assign(run=et.counts["run"].map({a.label: "A", b.label: "B"}).fillna(et.counts["run"]))
        counts["error type"] = [plotly_text(x, 40) for x in counts["error_type"]]
        fig = px.bar(counts, x="error type", y="n", color="run", barmode="group")
        top = et.counts.iloc[0]
        cv.chart(fig, "error_types", "cmp-et", f"the most common error type is '{aw.snippet(top['error_type'], 60)}' "
                 f"({int(top['n'])} traces of {aw.snippet(top['run'], 60)}).", data=True)
        cv.table(et.by_position, "error_types_by_position", "cmp-et-pos")

# ---- generalisation
if section == "generalisation":
    shown = 0
    for by, df in rep.breakdown.items():
        if df.empty or (len(df) == 1 and df["group"].iloc[0] == "(none)"):
            continue
        shown += 1
        long = pd.concat([df.assign(run="A", acc=df["acc_a"]), df.assign(run="B", acc=df["acc_b"])])
        long["group"] = [plotly_text(g, 40) for g in long["group"]]
        fig = px.bar(long, x="group", y="acc", color="run", barmode="group", labels={"acc": "accuracy", "group": by})
        fig.update_layout(yaxis_tickformat=".0%")
        gap = df.loc[df["diff"].abs().idxmax()]
        g = cmp.orient(Interval(gap["diff"], gap["diff_low"], gap["diff_high"]), t)
        cv.chart(fig, f"accuracy_by_{by}", f"cmp-by-{by}",
                 f"the largest gap by {by} is {t} − {c} {g.estimate:+.1%} (95% CI {g.low:+.1%} to {g.high:+.1%}) on "
                 f"'{aw.snippet(gap['group'], 60)}' ({int(gap['n_problems'])} problems); the table's diff is B − A.",
                 data=True)
        cv.table(df, f"accuracy_by_{by}", f"cmp-by-{by}-table")
    if not shown:
        st.caption("These runs have no split or category to break the comparison down by.")

# ---- where they differ most, side by side
if section == "problems":
    top = rep.differ_most
    if top is None or top.empty:
        st.caption("No shared problem to show.")
    else:
        listing = pd.DataFrame({
            "problem": [aw.snippet(p, 90) for p in top.get("problem", pd.Series([""] * len(top)))],
            "A source id": top.get("first_source_a"), "B source id": top.get("first_source_b"),
            "A accuracy": top["acc_a"], "B accuracy": top["acc_b"], "score gap": top["score_gap"].round(3),
        })
        if listing["score gap"].isna().all():  # no scorer: nothing to rank by beyond accuracy
            listing = listing.drop(columns=["score gap"])
        st.caption("Problems where A and B differ most (accuracy gap, then gap in mean lowest step score). "
                   "Select a row to see both traces side by side.")
        sel = st.dataframe(listing, hide_index=True, width="stretch", key="cmp-top", on_select="rerun",
                           selection_mode="single-row",
                           column_config={"problem": st.column_config.TextColumn(width="large")})
        st.download_button("CSV", aw.csv_bytes(top), file_name="differ_most.csv", mime="text/csv", key="cmp-top-csv",
                           icon=":material/download:")
        rows = sel.selection.rows if sel is not None else []
        r = top.iloc[rows[0] if rows else 0]
        st.subheader("Side by side, steps aligned")
        key_col = cmp.PAIR_KEYS[rep.pairing]
        cv.side_by_side(store, rep.frame_a, rep.frame_b, key_col, r["problem_key"], scorer_id, rep.scorer, "cmp-sbs")
