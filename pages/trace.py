"""Trace: one reasoning trace, step by step, with every scorer's scores and the first errors.

Deep link: ``/trace?trace=<trace_id>`` (optionally ``&step=k`` and the Explorer's filter, which
decides previous/next; ``&queue=<queue id>`` labels it as an item of that labelling queue, and
``/trace?queue=<queue id>`` alone opens the visitor's next item).

Labelling (sidebar, once an annotator name is known): every step has its label control, and the
panel acts on the selected step with the keyboard (:mod:`prm_viewer.ui.annotate`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from prm_viewer import annotation, queries, settings
from prm_viewer.queries import TraceFilter
from prm_viewer.ui import annotate, filters, trace_view
from prm_viewer.ui.page import page
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain, safe_markdown

store = page()  # the title names the trace, once it is found
params = filters.current_params()
who = annotate.annotator_picker()
queue_id = st.query_params.get("queue")
if queue_id and not st.query_params.get("trace"):
    if who is None:
        st.title("Trace")
        st.info("Give your annotator name (sidebar) to open your next item of this labelling queue.")
        st.stop()
    nxt = annotation.next_item(store, queue_id, who)
    if nxt is None:
        st.title("Trace")
        st.success("You have labelled every item of this queue.")
        st.page_link("pages/labelling.py", label="Back to the queues", icon=":material/edit_note:",
                     query_params={"queue": queue_id})
        st.stop()
    st.query_params["trace"] = nxt
trace_id = st.query_params.get("trace") or st.session_state.get("_last_trace")
if not trace_id:
    st.title("Trace")
    st.info("Open a trace from the Explorer (click a heatmap cell or a table row), or paste a trace id.")
    typed = st.text_input("Trace id", placeholder="<dataset_id>-<ordinal>")
    if typed.strip():
        st.query_params["trace"] = typed.strip()
        st.rerun()
    st.stop()

head = cached(queries.trace_header, store, trace_id)  # a wrong id: NotFound, shown by the error boundary
st.session_state["_last_trace"] = trace_id
step_param = st.query_params.get("step")
selected_step = int(step_param) if step_param is not None and step_param.lstrip("-").isdigit() else None

st.title(f"Trace #{head['ordinal']}")
st.caption(f"dataset **{plain(head['dataset'], 80)}** · trace id `{trace_id}`")
if head["synthetic"]:
    st.info("Synthetic demo data: generated traces and scores, not a real policy or PRM.", icon=":material/science:")

# ---- previous / next in the current filter (else in the trace's dataset)
flt = filters.filter_from_params(params)
sort = params.get("sort", ["order"])[0]
sort = sort if sort in filters.SORT_LABELS else "order"
descending = params.get("desc", ["0"])[0] == "1"
usable = flt != TraceFilter() and (flt.scorer or sort in {"order", "gold_first_error"})
# The ordered ids of the whole filter are cached (per data version), so Previous/Next through
# a filter costs a lookup in that array, not a query per trace.
nav = queries.neighbours_in(cached(queries.explorer_order, store, flt, sort, descending), trace_id) if usable else None
in_filter = nav is not None and nav["position"] is not None
if not in_filter:
    flt, sort, descending = TraceFilter(datasets=(head["dataset_id"],)), "order", False
    nav = queries.neighbours_in(cached(queries.explorer_order, store, flt, sort, descending), trace_id)
view = {"sort": sort if sort != "order" else "", "desc": "1" if descending else ""}
# the Explorer's page, rows and view travel along, so "Back to the Explorer" returns to them
view |= {k: params[k][0] for k in ("page", "rows", "view") if params.get(k) and in_filter}
c1, c2, c3, c4 = st.columns([1, 1, 2, 2], vertical_alignment="center")
# Buttons + switch_page rather than page links: a link to the same page keeps the old query
# string in the address bar, and the address must stay a shareable link to what is shown.
for col, key, label, icon in ((c1, "previous", "Previous", ":material/arrow_back:"),
                              (c2, "next", "Next", ":material/arrow_forward:")):
    if nav[key] and col.button(label, icon=icon, key=f"nav_{key}"):
        st.switch_page("pages/trace.py", query_params=filters.link_params(flt, view, trace=nav[key], queue=queue_id))
c3.caption(f"{nav['position']:,} of {nav['total']:,} "
           f"{'in the current filter' if flt != TraceFilter(datasets=(head['dataset_id'],)) else 'in this dataset'}")
c4.page_link("pages/explorer.py", label="Back to the Explorer", icon=":material/grid_view:",
             query_params=filters.link_params(flt, view))

# ---- the problem and the trace's facts
st.subheader("Problem")
st.markdown(safe_markdown(head["problem"]))
facts = {
    "generator": head["generator"], "final answer": head["final_answer"], "reference answer": head["reference_answer"],
    "final answer correct": head["final_answer_correct"],
    "gold first error": ("none" if head["gold_first_error"] == -1 else head["gold_first_error"]),
    "category": head["category"], "split": head["split"], "error type": head["error_type"], "source id": head["source_id"],
}
st.markdown(" · ".join(f"**{k}**: {plain(str(v), 80)}" for k, v in facts.items() if v is not None and v != ""))

# ---- long traces are paged (?step=k opens the page holding step k)
n_steps = int(head["n_steps"] or 0)
per_page = max(1, int(settings.get("trace_page_steps")))
paged = n_steps > per_page
n_pages = max(1, -(-n_steps // per_page))
page_key = f"tr_page_{trace_id}"
if selected_step is not None and 0 <= selected_step < n_steps and st.session_state.get("_tr_step_seen") != (trace_id, selected_step):
    st.session_state[page_key] = selected_step // per_page + 1
    st.session_state["_tr_step_seen"] = (trace_id, selected_step)
st.session_state[page_key] = min(max(1, int(st.session_state.get(page_key, 1))), n_pages)
first = (st.session_state[page_key] - 1) * per_page if paged else 0
window = per_page if paged else None
steps = cached(queries.trace_steps, store, trace_id, first, window)
scores, preds = cached(queries.trace_scores_and_predictions, store, trace_id, first, window)
predicted = {str(r.scorer): None if pd.isna(r.predicted_first_error) else int(r.predicted_first_error)
             for r in preds.itertuples(index=False)}


def jump(step: int) -> None:
    """Open the page holding ``step`` and mark it (a button callback: runs before the widgets)."""
    st.query_params["step"] = str(step)
    st.session_state[page_key] = step // per_page + 1
    st.session_state["_tr_step_seen"] = (trace_id, step)


# ---- labels: every annotator's (gold included) in one read; the panel acts on the selected step
labels = cached(annotation.trace_labels, store, trace_id)
gold_display = annotate.gold_name(store, head["dataset_id"])
shown_labels = annotate.labels_by_step(labels, gold_display)
mine = annotate.own_labels(labels, who)
in_page = selected_step is not None and first <= selected_step < first + len(steps)
current = selected_step if in_page else (first if len(steps) else None)
if who is not None and current is not None:
    if queue_id:
        annotate.queue_panel(store, queue_id, str(trace_id), who)
    annotate.label_panel(store, str(trace_id), n_steps, int(current), str(steps["text"].iloc[int(current) - first]), mine, who, jump)

if not preds.empty:
    st.subheader("First error")
    table = preds.assign(gold_first_error=head["gold_first_error"])[
        ["scorer", "threshold", "predicted_first_error", "gold_first_error", "verdict"]]
    if table["verdict"].isna().all():
        table = table.drop(columns="verdict")
    # A static table, not st.dataframe: a few rows do not need the data grid, whose code and
    # canvas are a large part of a page's browser time. Its cells read Markdown: data is escaped.
    st.table(trace_view.first_error_table(table), hide_index=True)
    st.caption("First errors are 0-based step indices; −1 = none.")
    if preds["synthetic"].any():
        st.caption("Scorers marked synthetic are built-in demo scorers, not trained PRMs.")

gold = head["gold_first_error"]
in_view = (lambda k: k is not None and first <= k < first + len(steps))
if not scores.empty:
    where = f" of steps {first}–{first + len(steps) - 1}" if paged else ""
    # Reward curve and progress in one figure (two panels): one Plotly draw per run, not two.
    st.plotly_chart(trace_view.trace_figure(scores, gold if in_view(gold) else None, where),
                    config={"displayModeBar": False})
elif preds.empty:
    st.caption("No scorer has scored this trace yet (queue a job on the Library page).")

st.subheader(f"Steps ({n_steps:,})")
if paged:
    bar = st.columns([1.2, 1.6, 1.6, 1.6], vertical_alignment="bottom")
    bar[0].number_input(f"Page (of {n_pages:,})", min_value=1, max_value=n_pages, step=1, key=page_key,
                        help=f"{per_page} steps a page (setting trace_page_steps)")
    targets = ([("Gold first error", gold)] if gold is not None and gold >= 0 else []) + \
        [(f"Predicted ({plain(name, 20)})", k) for name, k in predicted.items() if k is not None and k >= 0]
    for col, (what, k) in zip(bar[1:], targets[:3]):
        col.button(f"{what}: step {k:,}", key=f"jump_{k}_{what}", on_click=jump, args=(int(k),),
                   icon=":material/my_location:", help="Open the page holding this step", width="stretch")
    st.caption(f"Showing steps {first:,}–{first + len(steps) - 1:,} of {n_steps:,}. Link a step with `?step=k`.")
by_step = {k: grp for k, grp in scores.groupby("step_idx")} if not scores.empty else {}
empty = scores.iloc[0:0]
for row in steps.itertuples(index=False):
    k = int(row.step_idx)
    gold_label = None if pd.isna(row.gold_label) else int(row.gold_label)
    control = None if who is None else (
        lambda k=k: annotate.step_control(store, str(trace_id), k, mine.get(k, (None, None))[0], str(who), jump))
    trace_view.step_block(k, row.text, gold_label, by_step.get(row.step_idx, empty), gold, predicted,
                          selected=(current == k) if who is not None else (selected_step == k),
                          labels=annotate.label_markdown(shown_labels.get(k, []), gold_display), control=control)
