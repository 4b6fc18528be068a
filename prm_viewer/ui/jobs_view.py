"""The Jobs page's live table: a fragment that re-reads the jobs table every second while jobs
are queued or running (the app's JobRunner thread does the work and writes the progress).

The fragment's own reruns do not pass through the page run, so its body carries the error
boundary itself (:func:`~prm_viewer.ui.boundary.guarded`)."""

from __future__ import annotations

import math
from datetime import timedelta
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

from prm_viewer import queries
from prm_viewer.store import Store
from prm_viewer.ui.boundary import guarded
from prm_viewer.ui.text import plain

if TYPE_CHECKING:
    from prm_viewer.jobs import JobRunner

ACTIVE = ("queued", "running")
STATUS_BADGE = {"queued": ":gray-badge[queued]", "running": ":blue-badge[running]", "done": ":green-badge[done]",
                "failed": ":red-badge[failed]", "cancelled": ":orange-badge[cancelled]",
                "interrupted": ":violet-badge[interrupted]"}


def _eta(seconds: Any) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    return str(timedelta(seconds=int(seconds)))


def _job_row(job: dict[str, Any], runner: JobRunner) -> None:
    with st.container(border=True, key=f"job_{job['job_id']}"):
        done, total = int(job["traces_done"] or 0), int(job["traces_total"] or 0)
        st.markdown(f"{STATUS_BADGE.get(job['status'], job['status'])} **{plain(str(job['scorer']))}** on "
                    f"**{plain(str(job['dataset']))}** · `{job['job_id']}`")
        st.progress(done / total if total else 0.0, text=f"{done:,} / {total:,} traces")
        tps = job["tokens_per_s"]
        speed = "–" if tps is None or (isinstance(tps, float) and math.isnan(tps)) else f"{tps:,.0f}"
        st.caption(f"tokens/s: {speed} · ETA: {_eta(job['eta_s']) if job['status'] == 'running' else '–'} · "
                   f"elapsed: {_eta(job['seconds'])}")
        if job["status"] == "failed" and job["error"]:
            st.error(f"Failed: {plain(str(job['error']))}")
        if job["status"] == "interrupted":
            st.warning("Interrupted: its worker stopped with the app or CLI that ran it. It resumes when the app "
                       "starts again, with `python -m prm_viewer resume`, or with Retry; scores so far are kept.")
        c1, c2, _ = st.columns([1, 1, 4])
        if job["status"] in ACTIVE and c1.button("Cancel", key=f"cancel_{job['job_id']}", icon=":material/stop:"):
            _act(runner.cancel, job["job_id"])
        if job["status"] in ("failed", "cancelled", "interrupted") and c2.button("Retry", key=f"retry_{job['job_id']}",
                                                                    icon=":material/replay:"):
            _act(runner.retry, job["job_id"])


def _act(fn: Callable[[str], None], job_id: str) -> None:
    fn(job_id)  # a PrmViewerError (say, the job finished meanwhile) is shown by the boundary
    st.rerun()


def live_jobs(store: Store, runner: JobRunner) -> None:
    """Draw the jobs; while any is active the fragment reruns itself every second."""
    jobs = queries.jobs(store)
    active = bool(jobs["status"].isin(ACTIVE).any()) if not jobs.empty else False

    @st.fragment(run_every=1.0 if active else None)
    @guarded
    def table() -> None:
        current = queries.jobs(store)
        if current.empty:
            st.info("No scoring jobs yet. Queue one on the Library page (Checkpoints tab).")
            st.page_link("pages/library.py", label="Go to the Library", icon=":material/folder_open:")
            return
        counts = current["status"].value_counts().to_dict()
        st.caption(" · ".join(f"{counts.get(s, 0)} {s}" for s in ("running", "queued", "interrupted", "done", "failed", "cancelled")))
        for job in current.to_dict("records"):
            _job_row(job, runner)
        still_active = bool(current["status"].isin(ACTIVE).any())
        if still_active != active:
            st.rerun()  # start or stop polling (run_every is fixed per fragment definition)

    table()
