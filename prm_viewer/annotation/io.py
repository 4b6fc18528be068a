"""Importing step labels back from the per-annotator CSV export (``export.export_labels`` with
format ``csv``): each ``label[NAME]`` / ``note[NAME]`` column pair restores NAME's labels.

Rules: rows are matched by ``trace_id`` and ``step_idx``; an empty label cell leaves the step as
it is (it does not clear); a label is ``1`` / ``-1`` / ``0`` or ``correct`` / ``wrong`` /
``unsure``; columns of reserved names (``label[gold]``, ``label[majority]``, ``label[prefer:X]``)
are derived and skipped; ``gold_label`` (the imported gold) is never written. A text cell the CSV
export neutralised (a leading ``'`` before ``= + - @``, a tab or a carriage return) is read back
without the quote. Steps whose state already equals the file's are not written again, so
importing the same file twice changes nothing. Every row is checked before anything is written:
a bad cell raises ``ImportFailed`` naming the file, row (data rows from 1) and column, and the
store is left as it was. Each annotator's changes are one event (one undo).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pandas as pd

from prm_viewer import queries
from prm_viewer.annotation.labels import LABELS, check_annotator
from prm_viewer.errors import ImportFailed, PrmViewerError
from prm_viewer.store import Store
from prm_viewer.store.labels import LabelRow

__all__ = ["import_label_csv"]

_COLUMN = re.compile(r"^(label|note)\[(.+)\]$")
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1] in _TRIGGERS else text


def _label(path: Path, row: int, column: str, raw: str) -> int | None:
    text = raw.strip().lower()
    if not text:
        return None
    if text in LABELS:
        return LABELS[text]
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value in (1.0, -1.0, 0.0):
        return int(value)
    raise ImportFailed(str(path), row, column, f"unknown label '{raw}'; expected 1, -1, 0, correct, wrong or unsure",
                       unit="row")


def import_label_csv(store: Store, path: str | Path) -> dict[str, Any]:
    """Restore annotators' labels from a per-annotator CSV; returns ``{rows, annotators: {NAME:
    steps written}}``."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PrmViewerError(f"cannot read {p}: {exc}") from None
    for need in ("trace_id", "step_idx"):
        if need not in header:
            raise ImportFailed(str(p), None, need, "missing column (is this a `labels export --format csv` file?)", unit="row")
    names: dict[str, dict[str, str]] = {}
    for col in header:
        m = _COLUMN.match(col)
        if m is None:
            continue
        try:
            who = check_annotator(m.group(2))
        except PrmViewerError:
            continue  # derived columns (gold, majority, prefer:X) are not an annotator's labels
        names.setdefault(who, {})[m.group(1)] = col
    if not names:
        raise ImportFailed(str(p), None, "label[NAME]", "no annotator column in the header", unit="row")
    sizes = queries.label_trace_sizes(store, sorted({_cell(r.get("trace_id") or "") for r in rows}))
    wanted: dict[str, list[LabelRow]] = {n: [] for n in names}
    for i, r in enumerate(rows, start=1):
        tid = _cell(r.get("trace_id") or "")
        if tid not in sizes:
            raise ImportFailed(str(p), i, "trace_id", f"no trace '{tid}' in the store", unit="row")
        try:
            k = int(str(r.get("step_idx") or "").strip())
        except ValueError:
            raise ImportFailed(str(p), i, "step_idx", f"'{r.get('step_idx')}' is not a whole number", unit="row") from None
        if not 0 <= k < sizes[tid]:
            raise ImportFailed(str(p), i, "step_idx", f"trace '{tid}' has {sizes[tid]} steps; there is no step {k}",
                               unit="row")
        for who, cols in names.items():
            label = _label(p, i, cols["label"], r.get(cols["label"]) or "") if "label" in cols else None
            note = _cell(r.get(cols["note"]) or "") if "note" in cols else ""
            if label is not None or note:
                wanted[who].append((tid, k, who, label, note or None))
    current = queries.label_current_many(store, sorted(sizes))
    state = {(str(c.trace_id), int(c.step_idx), str(c.annotator)):
             (None if pd.isna(c.label) else int(c.label), None if pd.isna(c.note) else str(c.note))
             for c in current.itertuples()}
    events: list[list[LabelRow]] = []
    written: dict[str, int] = {}
    for who, items in wanted.items():
        changed: list[LabelRow] = []
        for tid, k, _, new_label, new_note in items:
            old_label, old_note = state.get((tid, k, who), (None, None))
            new = (new_label if new_label is not None else old_label, new_note if new_note is not None else old_note)
            if new != (old_label, old_note):
                changed.append((tid, k, who, new[0], new[1]))
        written[who] = len(changed)
        if changed:
            events.append(changed)
    store.add_label_events(events)
    return {"rows": len(rows), "annotators": written}
