"""Labelling: queues of traces to label, built from the Explorer's filter, with each annotator's
progress and a "label next" link into the Trace page; and how far the annotators (the imported
gold labels included) agree.

Deep link: ``/labelling?queue=<queue id>`` selects a queue; ``/trace?queue=<queue id>`` opens the
visitor's next item of it.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from prm_viewer import annotation, export, queries
from prm_viewer.ui import analysis_widgets as aw
from prm_viewer.ui import annotate, filters
from prm_viewer.ui.gold import gold_selector
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain, plotly_text

store = page("Labelling")
datasets = require_datasets(store)
who = annotate.annotator_picker()
names = dict(zip(datasets["dataset_id"], datasets["name"]))

# ---- queues: progress and "label next"
st.subheader("Queues")
qs = cached(annotation.queues, store)
if qs.empty:
    st.info("No labelling queue yet: make one below from the Explorer's current filter.")
else:
    url_q = st.query_params.get("queue")
    ids = qs["queue_id"].tolist()
    if "lq-queue" not in st.session_state or (url_q in ids and st.session_state.get("_lq_url") != url_q):
        st.session_state["lq-queue"] = url_q if url_q in ids else ids[0]
        st.session_state["_lq_url"] = url_q
    qnames = dict(zip(qs["queue_id"], qs["name"]))
    overview = qs.assign(progress=[annotate.progress_summary(cached(annotation.queue_progress, store, q)) for q in ids])
    st.dataframe(overview[["name", "n_items", "progress", "created_by", "created_at"]], hide_index=True, width="stretch",
                 key="lq-overview", column_config={"n_items": st.column_config.NumberColumn("items"),
                                                   "progress": st.column_config.TextColumn("done per annotator", width="large"),
                                                   "created_by": "created by", "created_at": "created"})
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    qid = c1.selectbox("Queue", ids, format_func=lambda q: qnames.get(q, q), key="lq-queue")
    if st.query_params.get("queue") != qid:
        st.query_params["queue"] = qid
        st.session_state["_lq_url"] = qid
    nxt = cached(annotation.next_item, store, qid, who) if who else None
    if nxt is not None:
        c2.page_link("pages/trace.py", label="Label next", icon=":material/edit_note:", query_params={"trace": nxt, "queue": qid},
                     help="Open your next item of this queue on the Trace page")
    else:
        c2.caption("Pick your annotator name (sidebar) to label." if who is None else "You have done every item.")
    prog = cached(annotation.queue_progress, store, qid)
    if who and nxt is None:
        st.success(f"You have labelled every item of {plain(qnames.get(qid, qid), 60)}.")
    if not prog.empty:
        st.dataframe(prog.assign(share=prog["done"] / prog["total"].clip(lower=1)), hide_index=True, key="lq-progress",
                     column_config={"share": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0,
                                                                              format="percent")})
    st.caption(f"Share this queue: `/labelling?queue={qid}`; `/trace?queue={qid}` opens each visitor's next item.")

# ---- a new queue from the Explorer's filter
with st.expander("New queue from the Explorer's current filter", expanded=qs.empty):
    params = filters.current_params()
    flt = filters.filter_from_params(params)
    options = cached(queries.explorer_options, store)
    st.markdown(f"**Filter:** {filters.describe(flt, options)}")
    st.page_link("pages/explorer.py", label="Change the filter in the Explorer", icon=":material/grid_view:",
                 query_params=filters.link_params(flt))
    scorer_names = dict(zip(options["scorers"]["scorer_id"], options["scorers"]["name"]))
    annotate.queue_form(store, flt, names, scorer_names, who)

# ---- the labels as training data
with st.expander("Export labels for training"):
    c1, c2, c3 = st.columns(3)
    exp_ds = c1.selectbox("Dataset", list(names), format_func=lambda d: names.get(d, d), key="lq-exp-ds")
    with c2:
        exp_gold = gold_selector(store, exp_ds, "lq-exp-gold")
    exp_fmt = c3.selectbox("Format", list(export.LABEL_FORMATS), key="lq-exp-fmt",
                           format_func=lambda f: export.LABEL_FORMATS[f][1])
    exp_name = f"{names.get(exp_ds, 'labels')}_{exp_fmt}{export.LABEL_FORMATS[exp_fmt][0]}"
    st.download_button(f"Download {plain(exp_name, 80)}", key="lq-exp-go", file_name=exp_name,
                       data=lambda: export.export_labels_bytes(store, exp_ds, exp_fmt, gold=exp_gold),
                       icon=":material/download:",
                       help="The chosen gold labels (an adjudicated set: majority, or an annotator who wins) "
                            "in a PRM training format; the CSV has one label and note column per annotator.")

# ---- agreement between annotators
st.subheader("Annotator agreement")
c1, c2 = st.columns(2)
ds_ids = list(names)
agree_ds = c1.selectbox("Dataset", ds_ids, format_func=lambda d: names.get(d, d), key="lq-agree-ds")
queue_choices = [None, *qs["queue_id"].tolist()] if not qs.empty else [None]
qnames_all = dict(zip(qs["queue_id"], qs["name"])) if not qs.empty else {}
agree_q = c2.selectbox("Only the traces of a queue", queue_choices, key="lq-agree-q",
                       format_func=lambda q: "(every trace of the dataset)" if q is None else qnames_all.get(q, q))
rep = cached(annotation.annotator_agreement, store, dataset=agree_ds, queue_id=agree_q)
if rep.pairs.empty:
    st.info("Agreement needs two annotators (the imported gold labels count as one) who labelled the same steps.")
    st.stop()
alpha = "n/a" if rep.alpha is None else f"{rep.alpha:.3f}"
m1, m2, m3 = st.columns(3)
m1.metric("Krippendorff's alpha (nominal, all annotators)", alpha)
m2.metric("Steps labelled by two or more", f"{rep.n_units:,}")
m3.metric("Annotator pairs", f"{len(rep.pairs):,}")
aw.table(rep.pairs, "annotator_agreement", "lq-pairs",
         caption="Per pair on their common steps: Cohen's kappa; first error on their common traces (exact, within one step)",
         column_config={"a": "annotator A", "b": "annotator B", "n_steps": "common steps", "n_traces": "common traces",
                        "kappa": st.column_config.NumberColumn("Cohen's kappa", format="%.3f"),
                        "first_error_exact": st.column_config.NumberColumn("first error exact", format="percent"),
                        "first_error_within_1": st.column_config.NumberColumn("within one step", format="percent")})
pairs = list(zip(rep.pairs["a"], rep.pairs["b"]))
pair = st.selectbox("Confusion of the pair", pairs, format_func=lambda p: f"{p[0]} vs {p[1]}", key="lq-pair")
conf = rep.confusion(*pair)
if not conf.empty:
    fig = px.imshow(conf.values, x=[plotly_text(c) for c in conf.columns], y=[plotly_text(i) for i in conf.index],
                    text_auto=True, color_continuous_scale="Blues", aspect="auto",
                    labels={"x": plotly_text(pair[1]), "y": plotly_text(pair[0]), "color": "steps"})
    agree = sum(conf.loc[k, k] for k in conf.index if k in conf.columns)
    total = int(conf.values.sum())
    aw.chart(fig, "annotator_confusion", "lq-conf",
             f"{plain(pair[0], 40)} (rows) and {plain(pair[1], 40)} (columns) give the same label on {agree} of "
             f"{total} common steps.")
st.caption("Traces where annotators disagree (most disagreeing steps first)")
dis = rep.disagreements
if dis.empty:
    st.caption("None: every common step has the same label.")
else:
    st.dataframe(pd.DataFrame({
        "open": [aw.trace_url(t) for t in dis["trace_id"]], "problem": [aw.snippet(p) for p in dis["problem_snippet"]],
        "source id": dis["source_id"].astype("string"), "steps in disagreement": dis["n_disagree"],
    }), hide_index=True, width="stretch", key="lq-dis", column_config={
        "open": st.column_config.LinkColumn("open", display_text="open trace ↗", width=100),
        "problem": st.column_config.TextColumn("problem", width="large")})
