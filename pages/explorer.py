"""Explorer: filter traces, find the bad steps in the per-step reward heatmap, open a trace."""

from __future__ import annotations

import streamlit as st

from prm_viewer import queries, settings
from prm_viewer.ui import filters, heatmap
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain

store = page("Explorer")
require_datasets(store)
options = cached(queries.explorer_options, store)

params = filters.current_params()
flt = filters.filter_widgets(options, filters.filter_from_params(params), params=params)

# ---- view controls (sort, rows per page, page), also kept in the URL
default_rows = int(settings.get("page_size"))
row_choices = sorted({25, 50, 100, default_rows})
first = params.get("sort", ["order"])[0]
view_seed = {
    "ex_sort": first if first in filters.SORT_LABELS else "order",
    "ex_desc": params.get("desc", ["0"])[0] == "1",
    "ex_rows": int(params["rows"][0]) if params.get("rows", [""])[0].isdigit() and int(params["rows"][0]) in row_choices else default_rows,
    # Heatmap or Table: only the chosen one is drawn (st.tabs would draw both on every run).
    "ex_view": "Table" if (st.query_params.get("view") or params.get("view", [""])[0]) == "table" else "Heatmap",
}
for k, v in view_seed.items():
    st.session_state.setdefault(k, v)
c1, c2, c3, c4 = st.columns([3, 1.3, 1.3, 1.4], vertical_alignment="bottom")
sort = c1.selectbox("Sort rows by", list(filters.SORT_LABELS), format_func=filters.SORT_LABELS.get, key="ex_sort")
descending = c2.toggle("Descending", key="ex_desc")
rows = c3.selectbox("Rows per page", row_choices, key="ex_rows")
needs_scorer = sort in {"pred_first_error", "min_score", "disagreement"} and not flt.scorer
if needs_scorer:
    st.warning("This sort needs a scorer (sidebar); showing dataset order.")
    sort = "order"

total = cached(queries.explorer_count, store, flt)
n_pages = max(1, -(-total // rows))
# A new filter or sort starts again at page 1.
signature = (flt, sort, descending, rows)
if st.session_state.get("_ex_signature") not in (None, signature):
    st.session_state["ex_page"] = 1
st.session_state["_ex_signature"] = signature
if "ex_page" not in st.session_state:
    wanted = params.get("page", ["1"])[0]
    st.session_state["ex_page"] = min(int(wanted), n_pages) if wanted.isdigit() and int(wanted) >= 1 else 1
st.session_state["ex_page"] = min(st.session_state["ex_page"], n_pages)
page_no = c4.number_input(f"Page (of {n_pages})", min_value=1, max_value=n_pages, step=1, key="ex_page")

view = {"sort": sort if sort != "order" else "", "desc": "1" if descending else "", "rows": str(rows) if rows != default_rows else "",
        "page": str(page_no) if page_no > 1 else ""}
summary = st.container()  # the match count, above the view switch; written once the page is read
shown_as = st.segmented_control("Show the page as", ["Heatmap", "Table"], key="ex_view", required=True,
                                label_visibility="collapsed")
view["view"] = "table" if shown_as == "Table" else ""
url_params = filters.filter_to_params(flt) | {k: [v] for k, v in view.items() if v}
filters.set_url(url_params)
filters.remember(url_params)

page = cached(queries.explorer_page, store, flt, sort, descending, rows, (page_no - 1) * rows)
summary.caption(f"{total:,} traces match · page {page_no} of {n_pages} · sorted by {filters.SORT_LABELS[sort]}"
                f"{' (descending)' if descending else ''}")
if page["synthetic"].any():
    summary.info("Rows from datasets marked *synthetic* come from the built-in synthetic demo (generated traces and "
                 "scores), not from a real policy or PRM.", icon=":material/science:")
if page.empty:
    summary.warning("No trace matches these filters.")
    st.stop()


def open_trace(trace_id: str, step: int | None = None) -> None:
    st.switch_page("pages/trace.py", query_params=filters.link_params(flt, view, trace=trace_id, step=step))


if shown_as == "Heatmap":
    if not flt.scorer:
        st.info("Choose a scorer in the sidebar to colour the heatmap.")
    else:
        scorer = options["scorers"].set_index("scorer_id").loc[flt.scorer]
        threshold = float(scorer["threshold"])
        only = page["dataset"].unique()
        st.caption(f"Rows: traces of this page{' (dataset ' + plain(only[0]) + ')' if len(only) == 1 else ''}; columns: step index. Colour: {plain(scorer['name'])} step score, "
                   f"diverging at its threshold {threshold:g} (red = below). ✕ gold first error, ◯ predicted first "
                   "error. Click a cell to open that trace at that step.")
        scores = cached(queries.heatmap_scores, store, flt.scorer, tuple(page["trace_id"]), heatmap.MAX_COLUMNS)
        if int(page["n_steps"].max()) > heatmap.MAX_COLUMNS:
            st.caption(f":material/arrow_right: Traces longer than {heatmap.MAX_COLUMNS} steps show their first "
                       f"{heatmap.MAX_COLUMNS}; the grey arrow after them says how many more there are (click it to "
                       "open the trace there).")
        fig = heatmap.heatmap_figure(page, scores, threshold, str(scorer["name"]))
        event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key=f"heatmap_{hash(signature)}_{page_no}",
                                config={"displayModeBar": False}, width="content")
        cell = heatmap.cell_from_selection(event)
        if cell is not None:
            open_trace(*cell)

else:
    table = page.assign(trace=heatmap.row_labels(page))[
        ["trace", "generator", "category", "split", "n_steps", "final_answer_correct", "gold_first_error",
         "pred_first_error", "score_min", "score_last", "disagreement", "problem"]]
    st.caption("Select a row to open the trace. Column headers sort this page; the sort above orders all matches.")
    event = st.dataframe(
        table, hide_index=True, on_select="rerun", selection_mode="single-row", key=f"table_{hash(signature)}_{page_no}",
        column_config={
            "trace": st.column_config.TextColumn("trace"),
            "n_steps": st.column_config.NumberColumn("steps"),
            "final_answer_correct": st.column_config.CheckboxColumn("final correct"),
            "gold_first_error": st.column_config.NumberColumn("gold 1st err", help="0-based; -1 = no error"),
            "pred_first_error": st.column_config.NumberColumn("pred 1st err", help="first step below the threshold; -1 = none"),
            "score_min": st.column_config.NumberColumn("min score", format="%.3f"),
            "score_last": st.column_config.NumberColumn("last score", format="%.3f"),
            "disagreement": st.column_config.NumberColumn("|pred−gold|"),
            "problem": st.column_config.TextColumn("problem", width="large"),
        },
    )
    selected = event.selection.rows if event is not None else []
    if selected:
        open_trace(str(page.iloc[selected[0]]["trace_id"]))
