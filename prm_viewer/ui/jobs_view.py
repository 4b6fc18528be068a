"""The Jobs page's live table (a fragment that polls while jobs run)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from prm_viewer.store import Store


def live_jobs(store: Store, runner: Any) -> None:
    st.info("Job listing arrives with the scoring engine.")
