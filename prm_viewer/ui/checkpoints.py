"""The Library's Checkpoints tab: registered scorers, register a checkpoint, queue scoring jobs.

Registration and jobs go through ``prm_viewer.jobs`` (the scoring engine); scoring itself runs
in worker processes owned by the app's job runner, never in the page script.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import streamlit as st

from prm_viewer import queries
from prm_viewer.store import Store
from prm_viewer.ui.state import cached, get_runner


def _jobs_module() -> Any:
    try:
        return import_module("prm_viewer.jobs")
    except ModuleNotFoundError as exc:
        if exc.name != "prm_viewer.jobs":
            raise
        return None


def scorers_table(store: Store) -> None:
    scorers = cached(queries.scorers, store)
    if scorers.empty:
        st.info("No scorers yet.")
        return
    table = scorers.assign(name=[n + ("  (synthetic)" if s else "") for n, s in zip(scorers["name"], scorers["synthetic"])])
    st.dataframe(table[["name", "recipe", "backend", "checkpoint", "threshold", "created_at"]], hide_index=True)


def checkpoints_section(store: Store) -> None:
    st.markdown("**Scorers**")
    scorers_table(store)
    jobs = _jobs_module()
    if jobs is None or get_runner() is None:
        st.info("The scoring engine is not available in this installation, so checkpoints cannot be registered here yet.")
        return
