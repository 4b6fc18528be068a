"""Step labels per annotator: label, clear, first error, note, undo; reading them back.

Every action is one event in the store's label log (``Store.add_label_event``); each row of an
event carries the step's whole state (label and note), so the latest event per step is the
current state and undo removes exactly one action. The imported gold labels are never written:
they are the pseudo-annotator ``gold`` (``queries.gold``). A bad input raises
:class:`~prm_viewer.store.BadInput` (one line; ``field`` names what was wrong) before anything is
written.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from prm_viewer import queries
from prm_viewer.store import BadInput, Store
from prm_viewer.store.labels import LabelRow

__all__ = ["LABELS", "LABEL_NAMES", "RESERVED", "annotators", "check_annotator", "check_label", "label_step",
           "set_first_error", "set_note", "trace_labels", "undo_last"]

LABELS: dict[str, int] = {"correct": 1, "wrong": -1, "unsure": 0}
"""Label names and their stored values."""

LABEL_NAMES: dict[int, str] = {v: k for k, v in LABELS.items()}
"""Stored value -> label name."""

RESERVED = ("gold", "majority")
"""Annotator names a user may not take (nor a name starting ``prefer:`` or ``annotator:``)."""

MAX_NAME = 80
MAX_NOTE = 4000


def _bad(field: str, message: str) -> BadInput:
    return BadInput(message, field)


def check_annotator(name: str) -> str:
    """The stripped name, or BadInput when it is empty, too long, has control characters or is
    reserved (``gold``, ``majority``, ``prefer:...``, ``annotator:...``)."""
    n = (name or "").strip()
    if not n:
        raise _bad("annotator", "the annotator name is empty; give a name")
    if len(n) > MAX_NAME:
        raise _bad("annotator", f"the annotator name is {len(n)} characters long; at most {MAX_NAME}")
    if any(ord(c) < 32 for c in n):
        raise _bad("annotator", "the annotator name contains a control character (line break, tab...)")
    if n.lower() in RESERVED or n.lower().startswith(("prefer:", "annotator:")):
        raise _bad("annotator", f"the annotator name '{n}' is reserved (gold, majority, prefer:NAME); choose another")
    return n


def check_label(label: str | None) -> int | None:
    """The stored value of a label name (None stays None = clear), or BadInput."""
    if label is None:
        return None
    key = str(label).strip().lower()
    if key not in LABELS:
        raise _bad("label", f"unknown label '{label}'; choose one of {', '.join(LABELS)}")
    return LABELS[key]


def _trace(store: Store, trace_id: str) -> dict[str, Any]:
    info = queries.label_trace_info(store, str(trace_id))
    if info is None:
        raise _bad("trace", f"no trace '{trace_id}'")
    return info


def _check_step(info: dict[str, Any], step_idx: Any) -> int:
    n = int(info["n_steps"])
    try:
        k = int(step_idx)
    except (TypeError, ValueError):
        raise _bad("step", f"step '{step_idx}' is not a whole number") from None
    if isinstance(step_idx, float) and step_idx != k:
        raise _bad("step", f"step '{step_idx}' is not a whole number")
    if not 0 <= k < n:
        raise _bad("step", f"trace '{info['trace_id']}' has {n} steps (0-{n - 1}); there is no step {k}")
    return k


def _state(store: Store, trace_id: str, annotator: str) -> dict[int, tuple[int | None, str | None]]:
    cur = queries.label_current(store, trace_id, annotator)
    return {int(r.step_idx): (None if pd.isna(r.label) else int(r.label), None if pd.isna(r.note) else str(r.note))
            for r in cur.itertuples()}


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    text = str(note).strip()
    if len(text) > MAX_NOTE:
        raise _bad("note", f"the note is {len(text)} characters long; at most {MAX_NOTE}")
    return text or None


def label_step(store: Store, trace_id: str, step_idx: int, label: str | None, annotator: str,
               note: str | None = None) -> int:
    """Set (or, with ``label`` None, clear) one step's label; ``note`` given replaces the step's
    note, otherwise it is kept. Returns the event id."""
    who = check_annotator(annotator)
    value = check_label(label)
    info = _trace(store, trace_id)
    k = _check_step(info, step_idx)
    new_note = _note(note)
    with store.transaction():
        kept = _state(store, info["trace_id"], who).get(k, (None, None))[1]
        return store.add_label_event([(info["trace_id"], k, who, value, new_note if note is not None else kept)])


def set_first_error(store: Store, trace_id: str, step_idx: int | None, annotator: str) -> int:
    """``step_idx`` None = "no error": every step correct; k: steps before k correct, k wrong,
    later steps untouched. Notes are kept. Returns the event id."""
    who = check_annotator(annotator)
    info = _trace(store, trace_id)
    n = int(info["n_steps"])
    if step_idx is None:
        values = {i: 1 for i in range(n)}
    else:
        k = _check_step(info, step_idx)
        values = {**{i: 1 for i in range(k)}, k: -1}
    with store.transaction():
        state = _state(store, info["trace_id"], who)
        rows: list[LabelRow] = [(info["trace_id"], i, who, v, state.get(i, (None, None))[1]) for i, v in values.items()]
        return store.add_label_event(rows)


def set_note(store: Store, trace_id: str, step_idx: int, note: str, annotator: str) -> int:
    """Set (an empty note clears) one step's note, keeping its label. Returns the event id."""
    who = check_annotator(annotator)
    info = _trace(store, trace_id)
    k = _check_step(info, step_idx)
    text = _note(note if note is not None else "")
    with store.transaction():
        kept = _state(store, info["trace_id"], who).get(k, (None, None))[0]
        return store.add_label_event([(info["trace_id"], k, who, kept, text)])


def undo_last(store: Store, annotator: str, trace_id: str | None = None) -> bool:
    """Remove ``annotator``'s latest action (the latest on ``trace_id`` when given); False when
    there is none."""
    who = check_annotator(annotator)
    return store.delete_last_label_event(who, trace_id) is not None


def trace_labels(store: Store, trace_id: str) -> pd.DataFrame:
    """Current labels of every annotator on one trace: step_idx, annotator, label, note,
    created_at; the imported gold as annotator ``gold`` (its step labels, or those implied by its
    first error), first."""
    info = _trace(store, trace_id)
    gold = _gold_rows(store, info)
    human = queries.label_current(store, info["trace_id"])
    out = pd.concat([gold, human], ignore_index=True) if len(gold) else human
    out["label"] = out["label"].astype("Int64")
    return out[["step_idx", "annotator", "label", "note", "created_at"]].reset_index(drop=True)


def _gold_rows(store: Store, info: dict[str, Any]) -> pd.DataFrame:
    g = queries.label_gold_steps(store, info["trace_id"], info["dataset_id"])
    return pd.DataFrame({"step_idx": g["step_idx"].astype(int).to_numpy(), "annotator": queries.GOLD,
                         "label": g["label"].to_numpy(), "note": None, "created_at": pd.NaT})


def annotators(store: Store, dataset_id: str | None = None) -> list[str]:
    """Annotators with labels (on the dataset), ``gold`` first when it has gold labels."""
    names = queries.label_annotators(store, dataset_id)
    return ([queries.GOLD] if queries.label_dataset_has_gold(store, dataset_id) else []) + names
