"""The preamble every page shares, so a page file starts with what is particular to it::

    store = page("Explorer")
    datasets = require_datasets(store)

Errors need no handling here: the page runs inside the app's error boundary
(:mod:`prm_viewer.ui.boundary`, wrapped around the page run in ``app.py``).
"""

from __future__ import annotations

import time
from typing import NoReturn

import pandas as pd
import streamlit as st

from prm_viewer import queries
from prm_viewer.errors import StoreBusy
from prm_viewer.store import Store
from prm_viewer.ui.boundary import guarded
from prm_viewer.ui.state import cached, get_store
from prm_viewer.ui.text import plain

NO_DATASETS = "No datasets yet: import one on the Library page (Upload tab) or with `python -m prm_viewer import FILE`."


RETRY_S = 2.0
"""How often a page waiting for a held store tries to open it again."""


def page(title: str | None = None) -> Store:
    """The app's store (the run is sent through ``app.py`` first), then the page title if given
    (pages whose title depends on what they show pass ``None`` and write their own).

    When another process holds the store (a CLI import, say), the page says which one and
    tries again every :data:`RETRY_S` seconds by itself, opening as soon as the store is free."""
    try:
        store = get_store()
    except StoreBusy as exc:
        wait_for_store(exc, title)
    if title:
        st.title(title)
    return store


def wait_for_store(exc: StoreBusy, title: str | None) -> NoReturn:
    """Show who holds the store, retry opening it in a fragment, and stop the page run."""
    st.title(title or "prm_viewer")
    st.warning(plain(str(exc)) + "\n\nThis page opens by itself as soon as the store is free.",
               icon=":material/hourglass_top:")

    @st.fragment(run_every=RETRY_S)
    @guarded
    def retry() -> None:
        try:
            get_store()
        except StoreBusy:
            st.caption(f"Still held; last tried at {time.strftime('%H:%M:%S')}.")
            return
        st.rerun(scope="app")

    retry()
    st.stop()
    raise AssertionError("unreachable: st.stop() ends the script run")  # streamlit is not followed by mypy


def require_datasets(store: Store) -> pd.DataFrame:
    """The datasets (``queries.datasets``); with none, say so, link the Library and stop the page."""
    datasets = cached(queries.datasets, store)
    if datasets.empty:
        st.info(NO_DATASETS)
        st.page_link("pages/library.py", label="Go to the Library", icon=":material/folder_open:")
        st.stop()
    return datasets
