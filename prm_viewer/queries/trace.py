"""Trace reads: one trace's header, steps, every scorer's step scores and predictions."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from prm_viewer.errors import NotFound
from prm_viewer.queries._sql import one_trace, row_dict
from prm_viewer.store import Store


def trace_header(store: Store, trace_id: str) -> dict[str, Any]:
    """One trace's row with its dataset name (``dataset``, ``synthetic``), problem text and
    reference answer; ``metadata`` parsed (``{}`` when none). NotFound when the trace is absent."""
    cur = store.cursor()
    where, params = one_trace("t", trace_id)
    out = row_dict(cur, cur.execute(
        f"""SELECT t.* EXCLUDE (trace_key), d.name AS dataset, d.synthetic, p.problem, p.reference_answer
            FROM traces t JOIN datasets d ON d.dataset_id = t.dataset_id
                 JOIN problems p ON p.problem_id = t.problem_id
            WHERE {where}""",
        params,
    ).fetchone())
    if out is None:
        raise NotFound(f"no trace '{trace_id}' (it may have been deleted with its dataset)")
    out["metadata"] = json.loads(out["metadata"]) if out.get("metadata") else {}
    return out


def _window(first: int, count: int | None) -> list[Any]:
    """``[lo, hi)`` step bounds for ``first`` + ``count`` steps (``count=None``: to the end)."""
    return [int(first), None if count is None else int(first) + int(count)]


def trace_steps(store: Store, trace_id: str, first: int = 0, count: int | None = None) -> pd.DataFrame:
    """``step_idx, text, gold_label`` of one trace, in order; with ``count``, only the steps
    ``first .. first + count - 1`` (the Trace page's page of a long trace)."""
    lo, hi = _window(first, count)
    return store.cursor().execute(
        """SELECT step_idx, text, gold_label FROM steps
           WHERE trace_id = ? AND step_idx >= ? AND (? IS NULL OR step_idx < ?) ORDER BY step_idx""",
        [trace_id, lo, hi, hi],
    ).df()


def trace_step_scores(store: Store, trace_id: str, first: int = 0, count: int | None = None) -> pd.DataFrame:
    """Every scorer's step scores on one trace (with ``count``: on steps ``first ..
    first + count - 1``): ``scorer_id, scorer, threshold, synthetic, step_idx, score, raw, note``."""
    lo, hi = _window(first, count)
    return store.cursor().execute(
        """SELECT s.scorer_id, sc.name AS scorer, sc.threshold, sc.synthetic, s.step_idx, s.score, s.raw, s.note
           FROM step_scores s JOIN scorers sc ON sc.scorer_id = s.scorer_id
           WHERE s.trace_id = ? AND s.step_idx >= ? AND (? IS NULL OR s.step_idx < ?)
           ORDER BY sc.created_at, sc.name, s.step_idx""",
        [trace_id, lo, hi, hi],
    ).df()


_TRACE_PREDICTIONS = """WITH step_pred AS (
               SELECT s.scorer_id, trace_pred_first_error(s.step_idx, s.score, sc.threshold) AS pfe
               FROM {steps} s JOIN scorers sc ON sc.scorer_id = s.scorer_id
               WHERE s.trace_id = ? AND s.score IS NOT NULL GROUP BY s.scorer_id),
           k AS (SELECT scorer_id FROM step_pred UNION SELECT scorer_id FROM trace_scores WHERE trace_id = ?)
           SELECT sc.scorer_id, sc.name AS scorer, sc.threshold, sc.synthetic,
                  coalesce(ts.predicted_first_error, sp.pfe) AS predicted_first_error, ts.verdict, ts.raw_output
           FROM k JOIN scorers sc ON sc.scorer_id = k.scorer_id
                LEFT JOIN step_pred sp ON sp.scorer_id = k.scorer_id
                LEFT JOIN trace_scores ts ON ts.scorer_id = k.scorer_id AND ts.trace_id = ?
           ORDER BY sc.created_at, sc.name"""


def trace_predictions(store: Store, trace_id: str) -> pd.DataFrame:
    """Each scorer's predicted first error on one trace (-1 none): from step scores (first step
    below the scorer's threshold) or from a judge's trace-level verdict. Columns ``scorer_id,
    scorer, threshold, synthetic, predicted_first_error, verdict, raw_output``."""
    return store.cursor().execute(_TRACE_PREDICTIONS.format(steps="step_scores"), [trace_id, trace_id, trace_id]).df()


def trace_scores_and_predictions(store: Store, trace_id: str, first: int = 0,
                                 count: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trace_step_scores, trace_predictions)`` of one trace with ONE scan of step_scores.

    Finding one trace's rows costs a scan of every step score (DuckDB does not use the
    composite primary key's index for it), so the predictions are computed from the already fetched rows.
    With ``count`` (a page of a long trace), the scores are those of steps ``first ..
    first + count - 1`` and the predictions, which need every step, come from the store."""
    if count is not None:
        return trace_step_scores(store, trace_id, first, count), trace_predictions(store, trace_id)
    scores = trace_step_scores(store, trace_id)
    cur = store.cursor()
    # A per-call name: the cursor is shared by the thread's reruns.
    name = f"_trace_rows_{id(scores)}"
    cur.register(name, scores.assign(trace_id=trace_id))
    try:
        preds = cur.execute(_TRACE_PREDICTIONS.format(steps=name), [trace_id, trace_id, trace_id]).df()
    finally:
        cur.unregister(name)
    return scores, preds
