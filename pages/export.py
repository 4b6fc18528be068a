"""Export: download annotated steps or traces (CSV / Parquet / ProcessBench JSONL) for the current filter."""

from __future__ import annotations

import streamlit as st

from prm_viewer import export, queries
from prm_viewer.queries import TraceFilter
from prm_viewer.ui import filters
from prm_viewer.ui.page import page, require_datasets
from prm_viewer.ui.state import cached

store = page("Export")
require_datasets(store)
options = cached(queries.explorer_options, store)

params = filters.current_params()
flt = filters.filter_widgets(options, filters.filter_from_params(params), params=params)
url_params = filters.filter_to_params(flt) | {k: v for k, v in params.items() if k in filters.VIEW_KEYS}
filters.set_url(url_params)
filters.remember(url_params)

FORMAT_HELP = {
    "csv": "CSV (spreadsheet-safe: text cells starting with = + - @ are quoted)",
    "parquet": "Parquet (text verbatim, typed columns)",
    "jsonl": "JSONL in ProcessBench shape (one record per trace)",
}
c1, c2 = st.columns(2)
fmt = c1.radio("Format", list(export.OUTPUT_FORMATS), format_func=lambda f: FORMAT_HELP.get(f, f), key="exp_fmt")
fixed_layout = export.OUTPUT_FORMATS[fmt].layout
per = c2.radio("One row per", ["step", "trace"], key="exp_per", disabled=fixed_layout is not None,
               help="Step rows carry every scorer's score per step; trace rows carry aggregates and predicted first errors.")

total = cached(queries.explorer_count, store, flt)
# Filters the export module understands directly go as they are; anything finer (scores, text,
# predicted errors) becomes the explicit list of matching trace ids.
only_datasets = flt == TraceFilter(datasets=flt.datasets, scorer=flt.scorer)
datasets = list(flt.datasets) or None
extra = None if only_datasets else {"trace_ids": cached(queries.explorer_trace_ids, store, flt)}
st.caption(f"The current filter selects {total:,} traces"
           f"{' in ' + str(len(flt.datasets)) + ' dataset(s)' if flt.datasets else ' in all datasets'}. "
           "Change it in the sidebar or on the Explorer page.")
if total == 0:
    st.warning("Nothing to export: no trace matches the filter.")
    st.stop()

preview = cached(export.export_frame, store, datasets, per=per, filters=extra, limit=20)  # reruns reuse it
st.markdown("**Preview** (first 20 rows)")
st.dataframe(preview, hide_index=True)
if any(options["datasets"].set_index("dataset_id").loc[list(flt.datasets) or options["datasets"]["dataset_id"], "synthetic"]):
    st.caption("The selection includes synthetic demo data (generated traces and scores, not a real policy or PRM).")

name = export.file_name(store.resolve_dataset(datasets[0])["name"] if datasets and len(datasets) == 1 else None, fmt, per)


def build() -> bytes:
    return export.export_bytes(store, datasets, fmt, per=per, filters=extra)


st.download_button(f"Download {name}", data=build, file_name=name, mime=export.OUTPUT_FORMATS[fmt].mime,
                   type="primary", icon=":material/download:", on_click="ignore")
