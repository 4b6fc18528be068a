"""Run-vs-run comparison on hand-made runs and on the real GSM8K model solutions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from prm_viewer.analysis import compare as cmp
from prm_viewer.analysis.reports import compare_report
from prm_viewer.analysis.runs import resolve_run
from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.ingest import import_file
from tests.analysis.helpers import add_scorer, add_scores, import_records, pb

# Shared problems P1-P3 (A also has P4, B has P5).
#          A: correct? gold   steps          B: correct? gold   steps
#   P1     yes         -1     3 (min .7)        no          0      4 (min .2)
#   P2     no          -1     2 (min .6)        yes        -1      2 (min .95)
#   P3     yes          0     2 (min .3)        yes        -1      2 (min .35)
# Accuracy A = B = 2/3; McNemar: A-only 1 (P1), B-only 1 (P2), both right 1 (P3) -> p = 1.
# Gold rates: A right-but-flawed 1/2 (P3), wrong-but-clean 1/1 (P2); B 0/2 and 0/1.
A_SCORES = {"P1": [0.9, 0.8, 0.7], "P2": [0.9, 0.6], "P3": [0.3, 0.8], "P4": [0.5]}
B_SCORES = {"P1": [0.2, 0.9, 0.9, 0.9], "P2": [0.95, 0.97], "P3": [0.35, 0.9], "P5": [0.1]}
A_STEPS = {"P1": ["x = 1", "y = 2", "z = 3"], "P2": ["a", "b"], "P3": ["c", "d"], "P4": ["e"]}
B_STEPS = {"P1": ["x = 1", "w = 5", "Y  = 2", "z = 4"], "P2": ["a", "b"], "P3": ["c", "d"], "P5": ["f"]}


@pytest.fixture
def runs(store, tmp_path):
    a = [pb("a1", "Problem one", A_STEPS["P1"], -1, True), pb("a2", "Problem two", A_STEPS["P2"], -1, False),
         pb("a3", "Problem three", A_STEPS["P3"], 0, True), pb("a4", "Problem four", A_STEPS["P4"], -1, True)]
    b = [pb("b1", "Problem  one ", B_STEPS["P1"], 0, False), pb("b2", "Problem two", B_STEPS["P2"], -1, True),
         pb("b3", "Problem three", B_STEPS["P3"], -1, True), pb("b5", "Problem five", B_STEPS["P5"], -1, True)]
    da = import_records(store, tmp_path, "with", a)
    db = import_records(store, tmp_path, "without", b)
    sid = add_scorer(store, "prm")
    add_scores(store, sid, da, {f"a{k[1]}": v for k, v in A_SCORES.items()})
    add_scores(store, sid, db, {f"b{k[1]}": v for k, v in B_SCORES.items()})
    return store


def test_compare_by_hand(runs):
    store = runs
    rep = compare_report(store, resolve_run(store, "with"), resolve_run(store, "without"), scorer="prm", n_resamples=500)
    assert rep.n_shared_problems == 3  # "Problem  one " pairs with "Problem one" (normalised text)
    acc = rep.accuracy
    assert acc.a.estimate == pytest.approx(2 / 3) and acc.b.estimate == pytest.approx(2 / 3)
    assert acc.diff.estimate == pytest.approx(0)
    m = acc.mcnemar
    assert (m.both_right, m.a_only, m.b_only, m.both_wrong, m.p_value) == (1, 1, 1, 0, pytest.approx(1.0))
    gold_a, gold_b = rep.rates["gold"]
    assert (gold_a.n_right, gold_a.n_right_flawed, gold_a.n_wrong, gold_a.n_wrong_clean) == (2, 1, 1, 1)
    assert (gold_b.right_flawed, gold_b.wrong_clean) == (0.0, 0.0)
    # predicted at .5: A P3 -> 0 (right but flawed), P1/P2 clean; B P1 -> 0, P2/P3 clean... P3 .35 -> 0
    pred_a, pred_b = rep.rates["predicted"]
    assert (pred_a.n_right_flawed, pred_a.n_wrong_clean) == (1, 1)
    assert (pred_b.n_right, pred_b.n_right_flawed, pred_b.n_wrong, pred_b.n_wrong_clean) == (2, 1, 1, 0)
    assert rep.trace_length.mean_a == pytest.approx(7 / 3) and rep.trace_length.mean_b == pytest.approx(8 / 3)
    assert rep.trace_min.mean_a == pytest.approx((0.7 + 0.6 + 0.3) / 3)
    assert rep.trace_min.mean_b == pytest.approx((0.2 + 0.95 + 0.35) / 3)
    pos = rep.score_by_position
    assert pos["n_a"].sum() == 7 and pos["n_b"].sum() == 8
    # bin 0 (first steps of every trace, 10 bins): A .9 .9 .3, B .2 .95 .35
    b0 = pos.set_index("rel_bin").loc[0]
    assert b0.mean_a == pytest.approx(0.7) and b0.mean_b == pytest.approx(0.5)
    fe = rep.first_error.set_index(["source", "position"])
    assert fe.loc[("gold", "absolute"), "n_a"] == 1 and fe.loc[("gold", "relative"), "mean_b"] == pytest.approx(0.0)
    # P1 and P2 differ in accuracy; the score gap breaks the tie: P2 |.95-.6| = .35 < P1 |.2-.7| = .5
    top = rep.differ_most
    firsts = rep.frame_a.set_index("trace_id")["source_id"]
    assert [firsts[t] for t in top["first_trace_a"]] == ["a1", "a2", "a3"]
    assert top["acc_gap"].tolist() == [1.0, 1.0, 0.0]


def test_compare_generators_within_one_dataset(store, tmp_path):
    recs = [pb(f"{g}{i}", f"Problem {i}", ["s"], -1, ok, generator=g)
            for i, (x, y) in enumerate([(True, False), (True, True), (False, True), (False, True)])
            for g, ok in (("m1", x), ("m2", y))]
    import_records(store, tmp_path, "both", recs)
    rep = compare_report(store, resolve_run(store, "both", "m1"), resolve_run(store, "both", "m2"), n_resamples=200)
    assert rep.n_shared_problems == 4
    assert (rep.accuracy.a.estimate, rep.accuracy.b.estimate) == (0.5, 0.75)
    assert (rep.accuracy.mcnemar.a_only, rep.accuracy.mcnemar.b_only) == (1, 2)
    assert rep.rates == {"gold": rep.rates["gold"]}  # no scorer: no predicted rates
    with pytest.raises(NotFound, match="no generator 'm3'"):
        resolve_run(store, "both", "m3")
    assert resolve_run(store, "both:m2").generator == "m2"


def test_no_shared_problem_is_a_clear_error(store, tmp_path):
    import_records(store, tmp_path, "x", [pb("1", "Alpha", ["s"], -1)])
    import_records(store, tmp_path, "y", [pb("1", "Beta", ["s"], -1)])
    with pytest.raises(PrmViewerError, match="share no problem"):
        compare_report(store, resolve_run(store, "x"), resolve_run(store, "y"))


def test_align_steps_by_hand():
    rows = cmp.align_steps(A_STEPS["P1"], B_STEPS["P1"])
    # x=1 equal; "w = 5" inserted; "Y  = 2" equals "y = 2" after normalising; z differs
    assert rows == [(0, 0), (None, 1), (1, 2), (2, 3)]
    assert cmp.align_steps(["a"], []) == [(0, None)]


def test_breakdown_by_split_by_hand():
    pairs = pd.DataFrame({
        "acc_a": [1.0, 0.0, 1.0, 0.5], "acc_b": [1.0, 1.0, 0.0, 1.0],
        "split_a": ["in", "in", "out", None], "split_b": ["in", "in", "out", "out"],
    })
    out = cmp.breakdown(pairs, "split").set_index("group")
    assert out.loc["in", ["n_problems", "acc_a", "acc_b"]].tolist() == [2, 0.5, 1.0]
    assert out.loc["out", "acc_a"] == pytest.approx(0.75) and out.loc["out", "diff"] == pytest.approx(0.5 - 0.75)


def test_gsm8k_model_solutions_accuracy(store, shared_data):
    path = shared_data / "grade-school-math" / "example_model_solutions.jsonl"
    if not path.exists():
        pytest.skip("grade-school-math/example_model_solutions.jsonl absent from ../shared/data")
    import_file(store, path)
    ds = store.cursor().execute("SELECT name FROM datasets").fetchone()[0]
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    a_ok = np.array([r["6b_finetuning"]["is_correct"] for r in recs])
    b_ok = np.array([r["175b_verification"]["is_correct"] for r in recs])
    rep = compare_report(store, resolve_run(store, ds, "6b_finetuning"), resolve_run(store, ds, "175b_verification"),
                         n_resamples=1000)
    n_unique = len({" ".join(r["question"].split()) for r in recs})
    assert rep.n_shared_problems == n_unique
    if n_unique == len(recs):  # one trace per problem: the paired accuracies are the file's rates
        assert rep.accuracy.a.estimate == pytest.approx(a_ok.mean())
        assert rep.accuracy.b.estimate == pytest.approx(b_ok.mean())
        m = rep.accuracy.mcnemar
        assert (m.a_only, m.b_only) == (int(np.sum(a_ok & ~b_ok)), int(np.sum(~a_ok & b_ok)))
    assert rep.accuracy.a.low < a_ok.mean() < rep.accuracy.a.high
    assert rep.accuracy.diff.low > 0  # 175b verification beats 6b fine-tuning by a wide margin
