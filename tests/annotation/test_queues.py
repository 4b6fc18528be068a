"""Labelling queues: built from a filter (sample with a seed, one per problem, unlabelled),
no trace given twice to one annotator, independent progress for two, CLI and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prm_viewer import annotation as an
from prm_viewer import queries
from prm_viewer.cli import main
from prm_viewer.store import Store
from tests.annotation.helpers import build
from tests.conftest import snapshot


def test_queue_without_repeats_and_independent_progress(store: Store, tmp_path: Path) -> None:
    ids = build(store, tmp_path, labels=False)
    order = [ids[k] for k in ("r0", "r1", "r2", "r3")]
    qid = an.create_queue(store, "all", "d", created_by="lead")
    assert an.queue_items(store, qid) == order
    seen = []
    while (t := an.next_item(store, qid, "alice")) is not None:
        assert t not in seen  # never the same trace twice
        seen.append(t)
        an.mark_done(store, qid, t, "alice")
        an.mark_done(store, qid, t, "alice")  # again: no change
    assert seen == order
    assert an.next_item(store, qid, "bob") == order[0]  # bob starts from the top
    an.mark_done(store, qid, order[0], "bob")
    prog = an.queue_progress(store, "all").set_index("annotator")
    assert prog.loc["alice", "done"] == 4 and prog.loc["bob", "done"] == 1 and set(prog["total"]) == {4}
    assert an.next_item(store, qid, "bob") == order[1]
    q = an.queues(store)
    assert q[["queue_id", "name", "n_items", "created_by"]].values.tolist() == [[qid, "all", 4, "lead"]]


def test_queue_selections(store: Store, tmp_path: Path) -> None:
    ids = build(store, tmp_path, labels=False)
    order = [ids[k] for k in ("r0", "r1", "r2", "r3")]
    # A sample of 3 with seed 7: the first 3 of numpy's permutation of the matching traces.
    qid = an.create_queue(store, "s", "d", sample=3, seed=7)
    assert an.queue_items(store, qid) == [order[i] for i in np.random.default_rng(7).permutation(4)[:3]]
    # One per problem: r0 and r2 share a problem, the first in order (r0) stays.
    assert an.queue_items(store, an.create_queue(store, "p", "d", one_per_problem=True)) == [order[0], order[1], order[3]]
    an.label_step(store, ids["r1"], 0, "wrong", "zoe")
    assert an.queue_items(store, an.create_queue(store, "u", "d", only="unlabelled")) == [order[0], order[2], order[3]]
    # PRM and gold disagree: scorer s predicts r2's first error at 1, gold says 2; the others agree.
    assert an.queue_items(store, an.create_queue(store, "x", "d", only="disagree:s")) == [order[2]]
    filt = queries.TraceFilter(gold_error="absent")
    assert an.queue_items(store, an.create_queue(store, "f", "d", filt)) == [order[0]]


def test_queue_cli_and_errors(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ids = build(s, tmp_path, labels=False)
    assert main(["--db", str(db), "queue", "create", "q1", "--dataset", "d", "--sample", "2", "--seed", "1"]) == 0
    assert "with 2 traces" in capsys.readouterr().out
    assert main(["--db", str(db), "queue", "next", "q1", "--annotator", "ann"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["--db", str(db), "queue", "done", "q1", "--trace", first, "--annotator", "ann"]) == 0
    assert main(["--db", str(db), "queue", "progress", "q1", "--json"]) == 0
    assert '"done":1' in capsys.readouterr().out.replace(" ", "")
    with Store(db) as s:
        before = snapshot(s)
    cases = [
        (["queue", "create", "q1", "--dataset", "d"], "error: NAME: a queue named 'q1' already exists; choose another name"),
        (["queue", "create", "q2", "--dataset", "nope"], "error: --dataset: no dataset 'nope'; datasets: d"),
        (["queue", "create", "q2", "--dataset", "d", "--sample", "0"], "error: --sample: the sample size must be at least 1, not 0"),
        (["queue", "create", "q2", "--dataset", "d", "--only", "odd"],
         "error: --only: unknown selection 'odd'; choose one of unlabelled, disagree:<scorer>"),
        (["queue", "create", "q2", "--dataset", "d", "--filter", "colour=red"],
         "error: --filter: unknown key 'colour'; known: generator, category, split, correct, gold_error, text"),
        (["queue", "progress", "zz"], "error: QUEUE: no queue 'zz'; queues: q1"),
        (["queue", "done", "q1", "--trace", "nope", "--annotator", "ann"], "error: --trace: trace 'nope' is not in queue 'q1'"),
    ]
    for argv, message in cases:
        assert main(["--db", str(db), *argv]) == 2, argv
        assert capsys.readouterr().err.strip().splitlines() == [message], argv
    with Store(db) as s:
        assert snapshot(s) == before
    del ids
