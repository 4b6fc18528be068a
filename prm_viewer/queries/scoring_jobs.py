"""Scoring-job reads: the traces a scoring worker reads, and the jobs list."""

from __future__ import annotations

from typing import Any

import pandas as pd

from prm_viewer.store import Store


def scoring_traces(store: Store, dataset_id: str) -> Any:
    """A dataset's traces as the scoring worker reads them: an Arrow table ``trace_id, problem,
    steps, reference_answer`` (steps: list of step texts in step order), in the dataset's order
    with the traces of one problem together (from its first trace on), so that the worker's
    shards hold whole groups of traces that share a prefix."""
    return store.cursor().execute(
        """SELECT t.trace_id, p.problem, list(s.text ORDER BY s.step_idx) AS steps, p.reference_answer
           FROM traces t JOIN problems p USING (problem_id) JOIN steps s USING (trace_id)
           WHERE t.dataset_id = ?
           GROUP BY t.trace_id, t.ordinal, t.problem_id, p.problem, p.reference_answer
           ORDER BY min(t.ordinal) OVER (PARTITION BY t.problem_id), t.ordinal""",
        [dataset_id],
    ).fetch_arrow_table()


def jobs(store: Store) -> pd.DataFrame:
    """Scoring jobs, newest first, with scorer and dataset names, progress and timings."""
    return store.cursor().execute(
        """SELECT j.job_id, sc.name AS scorer, d.name AS dataset, j.status, j.traces_done, j.traces_total,
                  CASE WHEN j.traces_total > 0 THEN j.traces_done / j.traces_total END AS fraction,
                  j.tokens_per_s, j.eta_s, j.error, j.created_at, j.started_at, j.finished_at,
                  date_diff('millisecond', j.started_at, coalesce(j.finished_at, CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP))) / 1000.0
                      AS seconds,
                  j.scorer_id, j.dataset_id, j.pid, j.job_dir
           FROM jobs j LEFT JOIN scorers sc USING (scorer_id) LEFT JOIN datasets d USING (dataset_id)
           ORDER BY j.created_at DESC, j.job_id"""
    ).df()
