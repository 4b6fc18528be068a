"""prm_viewer: the Streamlit entry point. Navigation over ``pages/``, one error boundary, nothing else.

Run with ``streamlit run app.py`` (or ``scripts/start.sh``). Each page has its own lower-case URL
path (``/library``, ``/jobs``, ``/explorer``, ...), and filters live in the query string, so any
view can be linked. Heavy packages (torch, vLLM) are never imported here: scoring runs in worker
processes.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from prm_viewer.ui.auth import refuse_unguarded, require_login
from prm_viewer.ui.boundary import run_page

HERE = Path(__file__).resolve().parent

# (file, title, icon, help); the first is the default page. A page whose file is absent is left out.
PAGES = (
    ("pages/library.py", "Library", ":material/folder_open:", "Datasets and checkpoints: upload, tag, delete; register scorers and queue scoring."),
    ("pages/generate.py", "Generate", ":material/auto_awesome:", "Sample a policy checkpoint on a problem set into a new dataset; watch it, open it."),
    ("pages/jobs.py", "Jobs", ":material/pending_actions:", "Scoring jobs with live progress; cancel, retry, read errors."),
    ("pages/explorer.py", "Explorer", ":material/grid_view:", "Filter traces and find bad steps in the per-step reward heatmap."),
    ("pages/trace.py", "Trace", ":material/article:", "One trace: steps with scores, gold and predicted first error, reward curves."),
    ("pages/localisation.py", "Localisation", ":material/my_location:", "First-error localisation metrics and threshold sweep."),
    ("pages/compare.py", "Compare", ":material/compare_arrows:", "Run A vs run B on the same problems, with statistics."),
    ("pages/export.py", "Export", ":material/download:", "Download annotated CSV / Parquet / JSONL for the current filter."),
    ("pages/bestofn.py", "Best-of-N", ":material/leaderboard:", "Best-of-N reranking curves of a PRM, with majority vote and pass@N."),
    ("pages/agreement.py", "Agreement", ":material/handshake:", "Two scorers (or a scorer and gold) on the same steps; the consensus subset."),
    ("pages/benchmarks.py", "Benchmarks", ":material/table_chart:", "ProcessBench and PRMBench tables as the papers print them, CSV and LaTeX."),
    ("pages/labelling.py", "Labelling", ":material/edit_note:", "Label steps in queues built from an Explorer filter; agreement between annotators."),
)


def navigation_pages() -> list[st.Page]:
    """Every page at ``/<file stem>``, and the default page also at ``/``.

    Streamlit serves the default page only at the root URL (its ``url_path`` is ignored), so a
    documented ``/library`` would open the "Page not found" dialog. The default page is therefore
    registered twice, as Streamlit allows for one file: at ``/`` (in the menu) and at its own path
    (hidden from the menu, so it is listed once).
    """
    pages: list[st.Page] = []
    for i, (file, title, icon, help_) in enumerate(PAGES):
        if not (HERE / file).is_file():
            continue
        if i == 0:
            pages.append(st.Page(file, title=title, icon=icon, url_path="", help=help_, default=True))
            pages.append(st.Page(file, title=title, icon=icon, url_path=Path(file).stem, help=help_,
                                 visibility="hidden"))
        else:
            pages.append(st.Page(file, title=title, icon=icon, url_path=Path(file).stem, help=help_))
    return pages


# A local icon file: a ":material/...:" page icon makes every browser fetch it from fonts.gstatic.com.
st.set_page_config(page_title="prm_viewer", page_icon=str(HERE / "static" / "favicon.png"), layout="wide")
refuse_unguarded()  # a non-loopback address without a login serves nothing (README: serving)
require_login()
run_page(st.navigation(navigation_pages()))
