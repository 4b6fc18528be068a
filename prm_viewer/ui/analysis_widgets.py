"""Widgets shared by the Localisation and Compare pages: run pickers, charts with PNG/HTML
download, tables with CSV download, links to the traces behind a number, and the side-by-side
trace view with aligned steps. Trace text is only ever shown as data (dataframes), never as HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
import re
from typing import Any
from urllib.parse import quote

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from prm_viewer import queries
from prm_viewer.analysis.compare import align_steps
from prm_viewer.analysis.runs import Run
from prm_viewer.store import Store
from prm_viewer.ui.state import cached

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
    """A Plotly chart with its one-line plain reading; PNG from the chart's camera button,
    HTML (self-contained) from a download button built only when clicked."""
    st.markdown(f"**Reading:** {reading}")
    st.plotly_chart(fig, width="stretch", key=key,
                    config={"toImageButtonOptions": {"format": "png", "filename": name, "scale": 2},
                            "displaylogo": False})
    st.download_button("HTML", lambda: fig.to_html(include_plotlyjs=True, full_html=True), file_name=f"{name}.html",
                       mime="text/html", key=f"{key}-html", icon=":material/download:",
                       help="Interactive chart as one HTML file. PNG: the camera icon on the chart.")


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


def trace_links(trace_ids: Sequence[str], what: str, limit: int = 20) -> None:
    """Links to the Trace page for the traces behind a number."""
    ids = list(trace_ids)
    st.caption(f"{len(ids)} traces {what}" + (f"; the first {limit}:" if len(ids) > limit else ":"))
    if ids:
        st.markdown(" · ".join(trace_link(t) for t in ids[:limit]))


def trace_link(trace_id: str, label: str | None = None) -> str:
    """Markdown link to the Trace page (``/trace?trace=<id>``). Ids are ours (hex and digits);
    anything else is dropped from the label and URL-quoted, so no trace text is rendered."""
    tid = str(trace_id)
    shown = re.sub(r"[^0-9A-Za-z_.:-]", "", label if label is not None else tid)
    return f"[{shown}](/trace?trace={quote(tid, safe='')})"


def _trace_table(store: Store, trace_id: str) -> pd.DataFrame:
    from prm_viewer.analysis.progress import trace_progress

    return trace_progress(cached(queries.analysis_trace_steps, store, trace_id), start_value=1.0)


def side_by_side(store: Store, trace_a: str, trace_b: str, label_a: str = "A", label_b: str = "B") -> pd.DataFrame:
    """Two traces' steps, identical steps on the same row, with every scorer's score."""
    ta, tb = _trace_table(store, trace_a), _trace_table(store, trace_b)
    rows = align_steps(ta["text"].tolist(), tb["text"].tolist())
    score_a = [c for c in ta.columns if c.startswith("score:")]
    score_b = [c for c in tb.columns if c.startswith("score:")]
    out = []
    for i, j in rows:
        r: dict[str, Any] = {f"{label_a} step": i, f"{label_a} text": ta["text"].iloc[i] if i is not None else ""}
        r.update({f"{label_a} {c}": (ta[c].iloc[i] if i is not None else None) for c in score_a})
        r[f"{label_b} step"] = j
        r[f"{label_b} text"] = tb["text"].iloc[j] if j is not None else ""
        r.update({f"{label_b} {c}": (tb[c].iloc[j] if j is not None else None) for c in score_b})
        out.append(r)
    return pd.DataFrame(out)


def show_side_by_side(store: Store, trace_a: str, trace_b: str, key: str, labels: tuple[str, str] = ("A", "B")) -> None:
    ha, hb = cached(queries.trace_header, store, trace_a), cached(queries.trace_header, store, trace_b)
    c1, c2 = st.columns(2)
    for col, head, tid, lab in ((c1, ha, trace_a, labels[0]), (c2, hb, trace_b, labels[1])):
        col.markdown(f"{re.sub(r'[^0-9A-Za-z_. :-]', '', lab)}: open trace " + trace_link(tid))
        col.text(f"final answer correct: {head.get('final_answer_correct')}; gold first error: {head.get('gold_first_error')}")
    if ha:
        st.text(ha.get("problem", "")[:2000])
    table(side_by_side(store, trace_a, trace_b, *labels), f"side_by_side_{trace_a}_{trace_b}", key,
          caption="Steps aligned: identical steps share a row; score columns are each scorer's P(correct).")


def pct(x: Any) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{float(x):.1f}%"
