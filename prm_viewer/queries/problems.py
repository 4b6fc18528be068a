"""Read-side SQL for generation: a dataset's problems, generated traces (for re-splitting and
answer checking), and generation jobs."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from prm_viewer.store import Store


def dataset_problem_table(store: Store, dataset_id: str) -> pa.Table:
    """The distinct problems of a dataset (first trace's category/split), in first-seen order:
    ``problem_id, problem, reference_answer, category, split``."""
    return store.cursor().execute(
        """SELECT p.problem_id, p.problem, p.reference_answer, any_value(t.category) AS category,
                  any_value(t.split) AS split
           FROM traces t JOIN problems p USING (problem_id)
           WHERE t.dataset_id = ?
           GROUP BY p.problem_id, p.problem, p.reference_answer
           ORDER BY min(t.ordinal)""", [dataset_id]).arrow().read_all()


def answer_check_rows(store: Store, dataset_id: str) -> pd.DataFrame:
    """Traces of a dataset that have a reference answer but no correctness label, with the text to
    check: ``trace_id, reference_answer, final_answer, solution`` (steps joined by blank lines)."""
    return store.cursor().execute(
        """SELECT t.trace_id, p.reference_answer, t.final_answer,
                  string_agg(s.text, '\n\n' ORDER BY s.step_idx) AS solution
           FROM traces t JOIN problems p USING (problem_id) LEFT JOIN steps s USING (trace_id)
           WHERE t.dataset_id = ? AND t.final_answer_correct IS NULL
             AND p.reference_answer IS NOT NULL AND trim(p.reference_answer) <> ''
           GROUP BY t.trace_id, p.reference_answer, t.final_answer, t.ordinal
           ORDER BY t.ordinal""", [dataset_id]).df()


def generated_traces(store: Store, dataset_id: str) -> pd.DataFrame:
    """A dataset's traces with everything a re-split needs (the raw completion is in ``metadata``)."""
    return store.cursor().execute(
        """SELECT t.ordinal, t.source_id, t.problem_id, p.problem, p.reference_answer, t.source_problem_id,
                  t.generator, t.final_answer, t.final_answer_correct, t.category, t.split, t.metadata
           FROM traces t JOIN problems p USING (problem_id)
           WHERE t.dataset_id = ? ORDER BY t.ordinal""", [dataset_id]).df()


def generation_jobs(store: Store) -> pd.DataFrame:
    """Generation jobs, newest first, with their settings (JSON) and the dataset they wrote."""
    return store.cursor().execute(
        """SELECT j.job_id, j.status, j.traces_done AS samples_done, j.traces_total AS samples_total,
                  CASE WHEN j.traces_total > 0 THEN j.traces_done / j.traces_total END AS fraction,
                  j.tokens_per_s, j.eta_s, j.error, j.settings, j.dataset_id, d.name AS dataset,
                  j.created_at, j.finished_at, j.job_dir, j.device, j.dtype
           FROM jobs j LEFT JOIN datasets d USING (dataset_id)
           WHERE j.kind = 'generate'
           ORDER BY j.created_at DESC, j.job_id""").df()


__all__ = ["answer_check_rows", "dataset_problem_table", "generated_traces", "generation_jobs"]
