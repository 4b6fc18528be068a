"""prm_viewer: the Streamlit entry point. Navigation over ``pages/`` and nothing else.

Run with ``streamlit run app.py`` (or ``scripts/start.sh``). Each page has its own lower-case URL
path (``/library``, ``/jobs``, ``/explorer``, ...), and filters live in the query string, so any
view can be linked. Heavy packages (torch, vLLM) are never imported here: scoring runs in worker
processes.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from prm_viewer.ui.auth import require_login

HERE = Path(__file__).resolve().parent

# (file, title, icon, help); a page whose file is absent (still being written) is left out.
PAGES = (
    ("pages/library.py", "Library", ":material/folder_open:", "Datasets and checkpoints: upload, tag, delete; register scorers and queue scoring."),
    ("pages/jobs.py", "Jobs", ":material/pending_actions:", "Scoring jobs with live progress; cancel, retry, read errors."),
    ("pages/explorer.py", "Explorer", ":material/grid_view:", "Filter traces and find bad steps in the per-step reward heatmap."),
    ("pages/trace.py", "Trace", ":material/article:", "One trace: steps with scores, gold and predicted first error, reward curves."),
    ("pages/localisation.py", "Localisation", ":material/my_location:", "First-error localisation metrics and threshold sweep."),
    ("pages/compare.py", "Compare", ":material/compare_arrows:", "Run A vs run B on the same problems, with statistics."),
    ("pages/export.py", "Export", ":material/download:", "Download annotated CSV / Parquet / JSONL for the current filter."),
)

st.set_page_config(page_title="prm_viewer", page_icon=":material/stacked_line_chart:", layout="wide")
require_login()
pages = [
    st.Page(file, title=title, icon=icon, url_path=Path(file).stem, help=help_, default=(file == PAGES[0][0]))
    for file, title, icon, help_ in PAGES
    if (HERE / file).is_file()
]
st.navigation(pages).run()
