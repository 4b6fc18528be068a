"""Which labels count as gold on an analysis page: the imported ones, one annotator's, the
majority, or an annotator who wins over the imported labels. Kept in the URL as ``labels=`` (left
out for the default ``gold``), so a link shows the same numbers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from prm_viewer.queries.gold import gold_sources
from prm_viewer.store import Store
from prm_viewer.ui.state import cached

PARAM = "labels"  # not "gold": the Explorer filter uses gold=present|absent|unknown
DEFAULT = "gold"


def gold_selector(store: Store, dataset_id: str | None, key: str, where: Any = None) -> str:
    """A selectbox of the gold sources of ``dataset_id`` (every dataset: None); returns the
    chosen source (``gold``, ``annotator:NAME``, ``majority`` or ``prefer:NAME``)."""
    box = where if where is not None else st
    options = dict(cached(gold_sources, store, dataset_id))
    url = st.query_params.get(PARAM)
    seen = f"{key}__url"
    # A new address (a pasted link) wins over what this session chose before.
    if key not in st.session_state or st.session_state.get(seen) != url:
        st.session_state[key] = url if url in options else DEFAULT
        st.session_state[seen] = url
    if st.session_state[key] not in options:
        st.session_state[key] = DEFAULT
    value = str(box.selectbox(
        "Gold labels", list(options), key=key, format_func=lambda v: options.get(v, v),
        help="Whose step labels count as gold: the imported ones, an annotator's, the majority of all annotators "
             "(a tie gives no label), or an annotator's where they labelled a step and the imported ones elsewhere."))
    wanted = None if value == DEFAULT else value
    if st.query_params.get(PARAM) != wanted:
        if wanted is None:
            st.query_params.pop(PARAM, None)
        else:
            st.query_params[PARAM] = wanted
    st.session_state[seen] = wanted
    return value
