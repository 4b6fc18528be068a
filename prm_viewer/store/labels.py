"""Writes of step annotation: the label event log and labelling queues (a mixin of ``Store``).

``step_labels`` is append-only: every action writes rows under one new ``event_id`` (one row per
step it touches, each carrying that step's whole state: label and note), so the latest event of a
(trace, step, annotator) is its current state (the ``current_step_labels`` view) and undo is the
deletion of one event. The imported gold (``steps.gold_label``, ``traces.gold_first_error``) is
never written here. Validation of what a user typed happens in ``prm_viewer.annotation`` before
these methods run; these check only what the store itself guarantees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from prm_viewer.errors import PrmViewerError
from prm_viewer.store.base import StoreBase, now

__all__ = ["BadInput", "LabelRow", "LabelsMixin"]

LabelRow = tuple[str, int, str, "int | None", "str | None"]
"""One step's new state in an event: (trace_id, step_idx, annotator, label or None, note or None)."""


class BadInput(PrmViewerError):
    """A label, annotator, queue or file a user gave cannot be used (one line naming it).
    ``field`` names the input (trace, step, label, annotator, note, queue, gold...), so a face
    can say it in its own words (the CLI as its flag)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LabelsMixin(StoreBase):
    """Label and queue writes; a base of :class:`prm_viewer.store.Store`."""

    # ------------------------------------------------------------------ label events

    def add_label_event(self, rows: Sequence[LabelRow]) -> int:
        """Append one event (all ``rows`` under one new event id, one time); returns the id."""
        if not rows:
            raise BadInput("nothing to label")
        with self.transaction() as cur:
            row = cur.execute("SELECT coalesce(max(event_id), 0) + 1 FROM step_labels").fetchone()
            event_id = int(row[0]) if row is not None else 1
            at = now()
            cur.executemany(
                "INSERT INTO step_labels VALUES (?, ?, ?, ?, ?, ?, ?)",
                [[event_id, str(t), int(k), str(a), None if lab is None else int(lab), note, at]
                 for t, k, a, lab, note in rows])
        return event_id

    def add_label_events(self, events: Sequence[Sequence[LabelRow]]) -> list[int]:
        """Append several events in one transaction (an import); returns their ids in order."""
        with self.transaction():
            return [self.add_label_event(rows) for rows in events if rows]

    def delete_last_label_event(self, annotator: str, trace_id: str | None = None) -> int | None:
        """Remove ``annotator``'s latest event (the latest touching ``trace_id`` when given: the
        whole event, also its rows on other traces); returns its id, or None when there is none."""
        with self.transaction() as cur:
            row = cur.execute(
                "SELECT max(event_id) FROM step_labels WHERE annotator = ? AND (? IS NULL OR trace_id = ?)",
                [annotator, trace_id, trace_id]).fetchone()
            if row is None or row[0] is None:
                return None
            cur.execute("DELETE FROM step_labels WHERE event_id = ?", [int(row[0])])
            return int(row[0])

    # ------------------------------------------------------------------ queues

    def insert_queue(self, queue_id: str, name: str, spec: Mapping[str, Any], trace_ids: Sequence[str],
                     created_by: str | None = None) -> None:
        """Add a queue with its items in order (position 0, 1, ...)."""
        with self.transaction() as cur:
            if cur.execute("SELECT 1 FROM label_queues WHERE name = ?", [name]).fetchone():
                raise BadInput(f"a queue named '{name}' already exists; choose another name", "name")
            cur.execute("INSERT INTO label_queues VALUES (?, ?, ?, ?, ?)",
                        [queue_id, name, json.dumps(dict(spec), sort_keys=True, default=str), created_by, now()])
            if trace_ids:
                cur.execute(
                    """INSERT INTO label_queue_items
                       SELECT ?, CAST(k - 1 AS INTEGER), t
                       FROM (SELECT unnest(?::VARCHAR[]) AS t, generate_subscripts(?::VARCHAR[], 1) AS k)""",
                    [queue_id, list(trace_ids), list(trace_ids)])

    def mark_queue_done(self, queue_id: str, trace_id: str, annotator: str) -> None:
        """Record that ``annotator`` finished ``trace_id`` of the queue (again = no change)."""
        with self.transaction() as cur:
            cur.execute("INSERT INTO label_queue_done VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        [queue_id, trace_id, annotator, now()])

    def delete_queue(self, queue_id: str) -> None:
        """Remove a queue, its items and its progress (the labels stay)."""
        with self.transaction() as cur:
            for table in ("label_queue_done", "label_queue_items", "label_queues"):
                cur.execute(f"DELETE FROM {table} WHERE queue_id = ?", [queue_id])
