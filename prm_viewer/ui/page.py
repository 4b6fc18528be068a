"""The preamble every page shares, so a page file starts with what is particular to it::

    store = page("Explorer")
    datasets = require_datasets(store)

Errors need no handling here: the page runs inside the app's error boundary
(:mod:`prm_viewer.ui.boundary`, wrapped around the page run in ``app.py``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from prm_viewer import queries
from prm_viewer.store import Store
from prm_viewer.ui.state import cached, get_store

NO_DATASETS = "No datasets yet: import one on the Library page (Upload tab) or with `python -m prm_viewer import FILE`."


def page(title: str | None = None) -> Store:
    """The app's store (the run is sent through ``app.py`` first), then the page title if given
    (pages whose title depends on what they show pass ``None`` and write their own)."""
    store = get_store()
    if title:
        st.title(title)
    return store


def require_datasets(store: Store) -> pd.DataFrame:
    """The datasets (``queries.datasets``); with none, say so, link the Library and stop the page."""
    datasets = cached(queries.datasets, store)
    if datasets.empty:
        st.info(NO_DATASETS)
        st.page_link("pages/library.py", label="Go to the Library", icon=":material/folder_open:")
        st.stop()
    return datasets
