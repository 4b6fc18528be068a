"""Widgets shared by the Localisation and Compare pages: run pickers, charts with PNG/SVG/HTML
download, tables with CSV download, and tables of the traces behind a number (labelled by problem
and source id, linked to the Trace page). Trace text is only ever shown as data (dataframes),
never as HTML. The Compare page's own pieces are in :mod:`prm_viewer.ui.compare_view`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis.runs import Run
from prm_viewer.store import Store
from prm_viewer.ui.figures import download_buttons
from prm_viewer.ui.state import cached, get_store
from prm_viewer.ui.text import plain

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV with text cells that a spreadsheet would run as formulas neutralised by a quote."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out.to_csv(index=False).encode("utf-8")


def table(df: pd.DataFrame | None, name: str, key: str, caption: str | None = None, **kwargs: Any) -> Any:
    """A dataframe with a CSV download; returns st.dataframe's value (selection when enabled)."""
    if df is None or df.empty:
        st.caption(f"{caption or name}: nothing to show.")
        return None
    if caption:
        st.caption(caption)
    shown = st.dataframe(df, hide_index=True, width="stretch", key=key, **kwargs)
    st.download_button("CSV", csv_bytes(df), file_name=f"{name}.csv", mime="text/csv", key=f"{key}-csv",
                       icon=":material/download:")
    return shown


def chart(fig: go.Figure, name: str, key: str, reading: str) -> None:
    """A Plotly chart with its one-line plain reading (the caller escapes data in it), PNG/SVG
    downloads styled for a paper (:mod:`prm_viewer.ui.figures`), and HTML (self-contained),
    each built only when clicked."""
    st.markdown(f"**Reading:** {reading}")
    st.plotly_chart(fig, width="stretch", key=key,
                    config={"toImageButtonOptions": {"format": "png", "filename": name, "scale": 2},
                            "displaylogo": False})
    download_buttons(fig, name, key)
    st.download_button("HTML", lambda: fig.to_html(include_plotlyjs=True, full_html=True), file_name=f"{name}.html",
                       mime="text/html", key=f"{key}-html", icon=":material/download:",
                       help="Interactive chart as one HTML file.")


def run_picker(store: Store, datasets: pd.DataFrame, label: str, key: str, default: int = 0) -> Run | None:
    """A dataset and, optionally, one of its generators."""
    if datasets.empty:
        return None
    names = datasets["name"].tolist()
    c1, c2 = st.columns(2)
    name = c1.selectbox(f"{label}: dataset", names, index=min(default, len(names) - 1), key=f"{key}-ds")
    did = datasets.loc[datasets["name"] == name, "dataset_id"].iloc[0]
    gens = cached(queries.analysis_generators, store, did)
    gen = c2.selectbox(f"{label}: generator", ["(all)"] + gens, key=f"{key}-gen")
    return Run(dataset_id=did, dataset=name, generator=None if gen == "(all)" else gen)


def trace_links(trace_ids: Sequence[str], what: str, limit: int = 20, key: str | None = None) -> None:
    """The traces behind a number, labelled by problem and source id, linked to the Trace page."""
    traces_table(get_store(), trace_ids, what, key, limit)


def trace_url(trace_id: str) -> str:
    """The Trace page's address for a trace (the id URL-quoted)."""
    return f"/trace?trace={quote(str(trace_id), safe='')}"


def snippet(text: Any, limit: int = 80) -> str:
    """Raw text folded to one line and shortened (for dataframe cells and options: inert there)."""
    flat = " ".join(str(text if text is not None and not (isinstance(text, float) and pd.isna(text)) else "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def traces_table(store: Store, trace_ids: Sequence[str], what: str, key: str | None = None, limit: int = 50) -> None:
    """One row per trace: problem (start), source id, dataset, generator, right answer, gold first
    error, and a link that opens it. Data text is shown only as dataframe cells (inert)."""
    ids = list(trace_ids)
    st.caption(f"{len(ids)} traces {plain(what)}" + (f"; the first {limit}:" if len(ids) > limit else "."))
    if not ids:
        return
    lab = cached(queries.analysis_trace_labels, store, tuple(ids[:limit]))
    shown = pd.DataFrame({
        "open": [trace_url(t) for t in lab["trace_id"]],
        "source id": lab["source_id"].astype("string"),
        "problem": [snippet(p) for p in lab["problem"]],
        "right answer": lab["final_answer_correct"], "gold first error": lab["gold_first_error"].astype("Int64"),
        "dataset": lab["dataset"], "generator": lab["generator"],
    })
    st.dataframe(shown, hide_index=True, width="stretch", key=key, column_config={
        "open": st.column_config.LinkColumn("open", display_text="open trace ↗", width=100),
        "problem": st.column_config.TextColumn("problem", width="large"),
    })


def _trace_table(store: Store, trace_id: str) -> pd.DataFrame:
    from prm_viewer.analysis.progress import trace_progress

    return trace_progress(cached(queries.analysis_trace_steps, store, trace_id), start_value=1.0)


def pct(x: Any) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{float(x):.1f}%"
