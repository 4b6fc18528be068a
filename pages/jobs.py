"""Jobs: scoring jobs with live progress (traces done/total, tokens/s, ETA); cancel, retry, errors."""

from __future__ import annotations

import streamlit as st

from prm_viewer.ui import jobs_view
from prm_viewer.ui.state import get_runner, get_store

store = get_store()
st.title("Jobs")
runner = get_runner()
if runner is None:
    st.info("The scoring engine is not available in this installation; no jobs can run.")
    st.stop()
jobs_view.live_jobs(store, runner)
