"""A tiny app for the error-boundary tests: ``st.navigation`` over callable pages, each run through
``prm_viewer.ui.boundary.run_page`` exactly as ``app.py`` runs the real pages. The query
parameter ``case`` picks the page."""

from __future__ import annotations

import streamlit as st

from prm_viewer.errors import NotFound, StoreBusy
from prm_viewer.ui.boundary import guarded, run_page


def user_error() -> None:
    st.write("drawn before the error")
    raise StoreBusy("the store /tmp/x.duckdb is open in another process")


def bug() -> None:
    st.write("drawn before the bug")
    raise RuntimeError("boom: an internal detail")


def stops() -> None:
    st.write("stopped here")
    st.stop()
    st.write("never drawn")


def reruns() -> None:
    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    if st.session_state["runs"] == 1:
        st.rerun()
    st.write(f"run {st.session_state['runs']}")


def switches() -> None:
    st.switch_page(TARGET)


def target() -> None:
    st.write("the page switched to")


def fragment_error() -> None:
    @st.fragment
    @guarded
    def part() -> None:
        raise NotFound("no trace 'x'")

    part()
    st.write("after the fragment")


CASES = {f.__name__: f for f in (user_error, bug, stops, reruns, switches, fragment_error)}
TARGET = st.Page(target, title="target", url_path="target")
case = st.query_params.get("case", "user_error")
run_page(st.navigation([st.Page(CASES[case], title=case, url_path=case, default=True), TARGET]))
