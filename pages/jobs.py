"""Jobs: scoring jobs with live progress (traces done/total, tokens/s, ETA); cancel, retry, errors."""

from __future__ import annotations

from prm_viewer.ui import jobs_view
from prm_viewer.ui.page import page
from prm_viewer.ui.state import get_runner

store = page("Jobs")
jobs_view.live_jobs(store, get_runner())
