"""Gold sources wired into the analyses: per-step / per-trace relations of majority and
prefer:NAME by hand, and the localisation, compare and Best-of-N numbers under an annotator's
labels against hand computations."""

from __future__ import annotations

from pathlib import Path

import pytest

from prm_viewer import annotation as an
from prm_viewer import queries
from prm_viewer.analysis.bestofn import bestofn_report
from prm_viewer.analysis.reports import compare_report, localisation_report
from prm_viewer.analysis.runs import resolve_run
from prm_viewer.store import BadInput, Store
from tests.analysis.helpers import import_records, pb
from tests.annotation.helpers import build


def _steps(store: Store, gold: str, ids: dict[str, str]) -> dict[tuple[str, int], int]:
    sql, params = queries.gold_steps_sql(gold)
    back = {v: k for k, v in ids.items()}
    return {(back[t], k): v for t, k, v in store.cursor().execute(sql, params).fetchall() if t in back}


def _firsts(store: Store, gold: str, ids: dict[str, str]) -> dict[str, int]:
    sql, params = queries.gold_traces_sql(gold)
    back = {v: k for k, v in ids.items()}
    return {back[t]: fe for t, fe in store.cursor().execute(sql, params).fetchall() if t in back}


def test_gold_source_relations_by_hand(store: Store, tmp_path: Path) -> None:
    ids = build(store, tmp_path)
    assert _firsts(store, "gold", ids) == {"r0": -1, "r1": 1, "r2": 2, "r3": 0}
    # alice: r0 all correct, r1 error at 2, r2 error at 1, r3 only step 0 labelled (correct): unknown.
    assert _firsts(store, "annotator:alice", ids) == {"r0": -1, "r1": 2, "r2": 1}
    # majority per step (gold, alice, bob): r1 step 1 = gold -1, alice +1, bob -1 -> -1; r2 step 1 =
    # +1, -1, +1 -> +1; r3 step 0 = gold -1 vs alice +1: a tie, no label.
    maj = _steps(store, "majority", ids)
    assert maj[("r1", 1)] == -1 and maj[("r2", 1)] == 1 and maj[("r2", 2)] == -1
    assert ("r3", 0) not in maj and maj[("r1", 2)] == -1  # r1 step 2: alice's -1 alone
    assert _firsts(store, "majority", ids) == {"r0": -1, "r1": 1, "r2": 2}
    # prefer:bob: bob's labels where he gave them, else the gold's: same first errors as gold here,
    # and on r0 / r3 (bob silent) the gold's.
    assert _firsts(store, "prefer:bob", ids) == {"r0": -1, "r1": 1, "r2": 2, "r3": 0}
    assert _steps(store, "prefer:alice", ids)[("r3", 0)] == 1
    values = [v for v, _ in queries.gold_sources(store)]
    assert values == ["gold", "majority", "annotator:alice", "annotator:bob", "prefer:alice", "prefer:bob"]
    assert queries.gold_sources(store)[0][1] == "gold (d.jsonl)"
    with pytest.raises(BadInput, match="no annotator 'carol' has labels; annotators: alice, bob"):
        queries.check_gold(store, "annotator:carol")
    with pytest.raises(BadInput, match="unknown gold source 'best'"):
        queries.check_gold(store, "best")


def test_localisation_under_an_annotator_by_hand(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path)
    run = [resolve_run(store, "d")]
    # Scorer s at 0.5 predicts r0 -1, r1 1, r2 1, r3 0.
    g = localisation_report(store, run, "s").overall.set_index("localiser").loc["threshold"]
    # gold: errors r1 (hit), r2 (miss), r3 (hit) -> 66.7; clean r0 (hit) -> 100; F1 = 80.
    assert (g["acc_error"], g["acc_correct"], g["f1"]) == pytest.approx((200 / 3, 100.0, 80.0))
    rep = localisation_report(store, run, "s", gold="annotator:alice")
    a = rep.overall.set_index("localiser").loc["threshold"]
    # alice: errors r1 at 2 (miss), r2 at 1 (hit) -> 50; clean r0 (hit) -> 100; F1 = 2*50*100/150.
    assert (a["n_traces"], a["acc_error"], a["acc_correct"], a["f1"]) == pytest.approx((3, 50.0, 100.0, 200 / 3))
    assert rep.n_unlabelled == 1 and rep.gold == "annotator:alice"  # r3: alice labelled one step of three
    with pytest.raises(BadInput):
        localisation_report(store, run, "s", gold="annotator:nobody")


def test_compare_and_bestofn_flawed_shares_follow_the_gold_source(store: Store, tmp_path: Path) -> None:
    ids = build(store, tmp_path)
    import_records(store, tmp_path, "e", [pb(f"x{i}", p, ["s"], -1, correct=True) for i, p in
                                          enumerate(["What is 1+1?", "Halve 10.", "=SUM(A1:A9) is a formula"])])
    an.set_first_error(store, ids["r0"], 0, "carol")  # carol: the one right answer (r0) is flawed at step 0
    a, b = resolve_run(store, "d"), resolve_run(store, "e")
    base = compare_report(store, a, b, n_resamples=50).rates["gold"][0]
    # gold: right answers r0 (no error) -> 0 of 1 flawed; wrong answers r1, r2, r3 all have an error.
    assert (base.n_right, base.n_right_flawed, base.n_wrong, base.n_wrong_clean) == (1, 0, 3, 0)
    carol = compare_report(store, a, b, n_resamples=50, gold="annotator:carol").rates["gold"][0]
    assert (carol.n_right, carol.n_right_flawed, carol.right_flawed, carol.n_wrong) == (1, 1, 1.0, 0)
    # Best-of-N on d: problem "What is 1+1?" has r0 and r2; every aggregate picks r0 (the right one).
    flawed = bestofn_report(store, a, "s", repeats=2).flawed
    assert flawed["n_right_labelled"].tolist() == [1] * 4 and flawed["share"].tolist() == [0.0] * 4
    flawed = bestofn_report(store, a, "s", repeats=2, gold="annotator:carol").flawed
    assert flawed["n_right_flawed"].tolist() == [1] * 4 and flawed["share"].tolist() == [1.0] * 4
