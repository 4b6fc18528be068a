"""A small labelled store for the annotation tests: four ProcessBench traces imported through the
real import path, one scorer's step scores, and two annotators' labels written through the API."""

from __future__ import annotations

from pathlib import Path

from prm_viewer import annotation as an
from prm_viewer.store import Store
from tests.analysis.helpers import add_scorer, add_scores, import_records, pb

RECORDS = [
    pb("r0", "What is 1+1?", ["one", "plus one", "is two"], -1, correct=True),
    pb("r1", "Halve 10.", ["ten", "over two", "is four"], 1, correct=False),
    pb("r2", "What is 1+1?", ["1", "+1", "=3", "so 3"], 2, correct=False),
    pb("r3", "=SUM(A1:A9) is a formula", ["-start", "b", "c"], 0, correct=False),
]
SCORES = {"r0": [0.9, 0.8, 0.7], "r1": [0.9, 0.3, 0.2], "r2": [0.9, 0.4, 0.6, 0.1], "r3": [0.2, 0.9, 0.9]}


def build(store: Store, tmp_path: Path, labels: bool = True) -> dict[str, str]:
    """Import the dataset 'd' (and scores of scorer 's'); with ``labels``, alice and bob label it:

    alice: r0 no error; r1 first error 2; r2 first error 1; r3 step 0 correct (partial), note on r3 step 1.
    bob:   r1 first error 1; r2 first error 2.
    Returns source id -> trace id.
    """
    did = import_records(store, tmp_path, "d", RECORDS)
    add_scores(store, add_scorer(store, "s"), did, SCORES)
    ids = dict(store.cursor().execute("SELECT source_id, trace_id FROM traces WHERE dataset_id = ?", [did]).fetchall())
    if labels:
        an.set_first_error(store, ids["r0"], None, "alice")
        an.set_first_error(store, ids["r1"], 2, "alice")
        an.set_first_error(store, ids["r2"], 1, "alice")
        an.label_step(store, ids["r3"], 0, "correct", "alice")
        an.set_note(store, ids["r3"], 1, "=HYPERLINK(x) looks odd", "alice")
        an.set_first_error(store, ids["r1"], 1, "bob")
        an.set_first_error(store, ids["r2"], 2, "bob")
    return ids


def gold_state(store: Store) -> list[tuple]:
    """The imported gold: every step's gold_label and every trace's gold_first_error."""
    cur = store.cursor()
    return (cur.execute("SELECT trace_id, step_idx, gold_label FROM steps ORDER BY 1, 2").fetchall()
            + cur.execute("SELECT trace_id, gold_first_error, has_step_labels FROM traces ORDER BY 1").fetchall())


def current(store: Store, annotator: str) -> dict[tuple[str, int], int | None]:
    """(trace_id, step_idx) -> label of one annotator's current labels."""
    rows = store.cursor().execute(
        "SELECT trace_id, step_idx, label FROM current_step_labels WHERE annotator = ? AND label IS NOT NULL",
        [annotator]).fetchall()
    return {(r[0], r[1]): r[2] for r in rows}
