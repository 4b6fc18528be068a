"""Reads of step annotation: current labels per annotator, queues and their progress.

Labels live in ``step_labels`` (an event log, written by ``store/labels.py``); the view
``current_step_labels`` (``store/schema.py``) is each annotator's current state per step. The
imported gold is the pseudo-annotator ``gold``: its per-step labels come from
:func:`prm_viewer.queries.gold.gold_steps_sql` (``steps.gold_label``, or derived from the gold
first error when the source has no step labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from prm_viewer.queries._sql import frame, one_trace, row_dict
from prm_viewer.store import Store

__all__ = ["label_annotators", "label_current", "label_dataset_has_gold", "label_queue", "label_queue_done",
           "label_queue_items", "label_queue_progress", "label_queues", "label_step_units", "label_trace_info",
           "label_labelled_traces", "label_trace_problems", "label_unit_traces",
           "label_trace_sizes", "label_current_many"]

GOLD = "gold"
"""The reserved annotator name of the imported labels."""


def label_trace_info(store: Store, trace_id: str) -> dict[str, Any] | None:
    """``{trace_id, dataset_id, n_steps, gold_first_error}`` of a trace, or None."""
    cur = store.cursor()
    where, params = one_trace("", trace_id)
    return row_dict(cur, cur.execute(
        f"SELECT trace_id, dataset_id, n_steps, gold_first_error FROM traces WHERE {where}", params).fetchone())


def label_trace_sizes(store: Store, trace_ids: Sequence[str]) -> dict[str, int]:
    """trace_id -> n_steps for those of ``trace_ids`` that exist."""
    rows = store.cursor().execute(
        "SELECT trace_id, n_steps FROM traces WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))",
        [[str(t) for t in trace_ids]]).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def label_current_many(store: Store, trace_ids: Sequence[str]) -> pd.DataFrame:
    """Current labels on several traces: trace_id, step_idx, annotator, label, note."""
    return store.cursor().execute(
        """SELECT trace_id, step_idx, annotator, label, note FROM current_step_labels
           WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))""", [[str(t) for t in trace_ids]]).df()


def label_current(store: Store, trace_id: str, annotator: str | None = None) -> pd.DataFrame:
    """Current labels on one trace: step_idx, annotator, label, note, created_at (every human
    annotator, or only ``annotator``)."""
    return store.cursor().execute(
        """SELECT step_idx, annotator, label, note, created_at FROM current_step_labels
           WHERE trace_id = ? AND (? IS NULL OR annotator = ?) ORDER BY annotator, step_idx""",
        [trace_id, annotator, annotator]).df()


def label_dataset_has_gold(store: Store, dataset_id: str | None = None) -> bool:
    """Whether any trace (of the dataset) has a gold first error or gold step labels."""
    row = store.cursor().execute(
        """SELECT count(*) FROM traces WHERE (? IS NULL OR dataset_id = ?)
           AND (gold_first_error IS NOT NULL OR has_step_labels)""", [dataset_id, dataset_id]).fetchone()
    return bool(row and row[0])


def label_annotators(store: Store, dataset_id: str | None = None) -> list[str]:
    """Human annotators with a current label or note (on the dataset's traces), by name."""
    rows = store.cursor().execute(
        """SELECT DISTINCT c.annotator FROM current_step_labels c JOIN traces t ON t.trace_id = c.trace_id
           WHERE ? IS NULL OR t.dataset_id = ? ORDER BY 1""", [dataset_id, dataset_id]).fetchall()
    return [r[0] for r in rows]


def _scope(dataset_id: str | None, queue_id: str | None) -> tuple[str, list[Any]]:
    if queue_id is not None:
        return "SELECT trace_id FROM label_queue_items WHERE queue_id = ?", [queue_id]
    return "SELECT trace_id FROM traces WHERE ? IS NULL OR dataset_id = ?", [dataset_id, dataset_id]


def label_step_units(store: Store, gold_steps: tuple[str, list[Any]], dataset_id: str | None = None,
                     queue_id: str | None = None) -> pd.DataFrame:
    """Every label on the steps of the dataset's (or the queue's; or every) traces: trace_id,
    step_idx, annotator, label (human annotators' current labels, and ``gold`` from the
    ``gold_steps`` relation of :mod:`prm_viewer.queries.gold`)."""
    ids_sql, params = _scope(dataset_id, queue_id)
    gsql, gparams = gold_steps
    sql = f"""
    WITH ids AS ({ids_sql})
    SELECT c.trace_id, c.step_idx, c.annotator, CAST(c.label AS INTEGER) AS label
    FROM current_step_labels c SEMI JOIN ids ON ids.trace_id = c.trace_id
    WHERE c.label IS NOT NULL
    UNION ALL
    SELECT g.trace_id, g.step_idx, '{GOLD}' AS annotator, CAST(g.gold_label AS INTEGER) AS label
    FROM ({gsql}) g SEMI JOIN ids ON ids.trace_id = g.trace_id
    ORDER BY trace_id, step_idx, annotator"""
    return frame(store.cursor().execute(sql, [*params, *gparams]))


def label_unit_traces(store: Store, dataset_id: str | None = None, queue_id: str | None = None,
                      snippet: int = 120) -> pd.DataFrame:
    """The scope's traces (as in :func:`label_step_units`): trace_id, source_id, n_steps,
    gold_first_error, problem_snippet (the problem's first ``snippet`` characters)."""
    ids_sql, params = _scope(dataset_id, queue_id)
    return store.cursor().execute(
        f"""WITH ids AS ({ids_sql})
            SELECT t.trace_id, t.source_id, t.n_steps, t.gold_first_error, left(p.problem, ?) AS problem_snippet
            FROM traces t SEMI JOIN ids ON ids.trace_id = t.trace_id JOIN problems p ON p.problem_id = t.problem_id
            ORDER BY t.dataset_id, t.ordinal""", [*params, int(snippet)]).df()


def label_labelled_traces(store: Store, trace_ids: Sequence[str]) -> set[str]:
    """Those of ``trace_ids`` that some human annotator has a current label on."""
    rows = store.cursor().execute(
        """SELECT DISTINCT trace_id FROM current_step_labels
           WHERE label IS NOT NULL AND trace_id IN (SELECT unnest(?::VARCHAR[]))""", [[str(t) for t in trace_ids]]).fetchall()
    return {r[0] for r in rows}


def label_trace_problems(store: Store, trace_ids: Sequence[str]) -> dict[str, str]:
    """trace_id -> problem_id for ``trace_ids``."""
    rows = store.cursor().execute(
        "SELECT trace_id, problem_id FROM traces WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))",
        [[str(t) for t in trace_ids]]).fetchall()
    return {r[0]: r[1] for r in rows}


# ---------------------------------------------------------------------------- queues


def label_queues(store: Store) -> pd.DataFrame:
    """queue_id, name, n_items, created_by, created_at, spec (JSON), newest first."""
    return store.cursor().execute(
        """SELECT q.queue_id, q.name, count(i.trace_id) AS n_items, q.created_by, q.created_at, q.spec
           FROM label_queues q LEFT JOIN label_queue_items i USING (queue_id)
           GROUP BY ALL ORDER BY q.created_at DESC, q.name""").df()


def label_queue(store: Store, ref: str) -> dict[str, Any] | None:
    """A queue row by id or name, or None."""
    cur = store.cursor()
    return row_dict(cur, cur.execute(
        "SELECT * FROM label_queues WHERE queue_id = ? OR name = ? ORDER BY queue_id = ? DESC LIMIT 1",
        [ref, ref, ref]).fetchone())


def label_queue_items(store: Store, queue_id: str) -> list[str]:
    """The queue's trace ids in order."""
    rows = store.cursor().execute(
        "SELECT trace_id FROM label_queue_items WHERE queue_id = ? ORDER BY position", [queue_id]).fetchall()
    return [r[0] for r in rows]


def label_queue_done(store: Store, queue_id: str, annotator: str) -> set[str]:
    """Trace ids of the queue that ``annotator`` marked done."""
    rows = store.cursor().execute(
        "SELECT trace_id FROM label_queue_done WHERE queue_id = ? AND annotator = ?", [queue_id, annotator]).fetchall()
    return {r[0] for r in rows}


def label_queue_progress(store: Store, queue_id: str) -> pd.DataFrame:
    """annotator, done, total: per annotator who marked any item of the queue done."""
    return store.cursor().execute(
        """SELECT d.annotator, count(*) AS done,
                  (SELECT count(*) FROM label_queue_items WHERE queue_id = ?) AS total
           FROM label_queue_done d SEMI JOIN label_queue_items i ON i.queue_id = d.queue_id AND i.trace_id = d.trace_id
           WHERE d.queue_id = ? GROUP BY d.annotator ORDER BY d.annotator""", [queue_id, queue_id]).df()
