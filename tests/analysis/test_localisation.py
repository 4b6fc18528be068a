"""Localisation: ProcessBench metrics, localisers, position classes, the threshold sweep and its
tuning protocol, PRMBench step F1 -- against values worked out by hand (see each fixture)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prm_viewer import queries
from prm_viewer.analysis import localisation as loc
from prm_viewer.analysis.reports import localisation_report
from prm_viewer.analysis.runs import resolve_run
from prm_viewer.errors import PrmViewerError
from prm_viewer.ingest import import_file
from tests.analysis.helpers import add_critic, add_scorer, add_scores, import_records, pb, write_jsonl

# Hand-worked fixture (threshold 0.5; largest drop measured from 1.0 before step 0):
#   T1 gold 2  [.9 .8 .3 .2]  threshold -> 2 exact      drop -> 2 exact
#   T2 gold 1  [.4 .9 .1]     threshold -> 0 too early  drop -> 2 too late (drops .6 -.5 .8)
#   T3 gold 0  [.7 .6]        threshold -> -1 missed    drop -> -1 missed
#   T4 gold -1 [.9 .95 .6]    clean                     clean
#   T5 gold -1 [.8 .45]       threshold -> 1 false alarm; drop -> 1 false alarm
#   T6 gold 1  [.9 .2 .1]     threshold -> 1 exact      drop -> 1 exact
SCORES = {
    "T1": [0.9, 0.8, 0.3, 0.2], "T2": [0.4, 0.9, 0.1], "T3": [0.7, 0.6],
    "T4": [0.9, 0.95, 0.6], "T5": [0.8, 0.45], "T6": [0.9, 0.2, 0.1],
}
GOLD = {"T1": 2, "T2": 1, "T3": 0, "T4": -1, "T5": -1, "T6": 1}


def _records(prefix: str, gold: dict[str, int], scores: dict[str, list[float]], gen: str = "g") -> list[dict]:
    return [pb(k, f"{prefix} problem {k}", [f"step {i} of {k}" for i in range(len(scores[k]))], g, generator=gen)
            for k, g in gold.items()]


@pytest.fixture
def s1(store, tmp_path):
    did = import_records(store, tmp_path, "s1", _records("s1", GOLD, SCORES), split="s1")
    sid = add_scorer(store, "prm")
    add_scores(store, sid, did, SCORES)
    return store, did, sid


def test_processbench_formula_by_hand():
    # errors: 2==2 yes, 1 vs 0 no, -1 vs 1 no -> 33.3; correct: -1 yes, 0 no -> 50; F1 = 40
    m = loc.processbench_metrics(np.array([2, -1, 0, 1, -1]), np.array([2, -1, 1, -1, 0]))
    assert (m.n_error, m.n_correct) == (3, 2)
    assert m.acc_error == pytest.approx(100 / 3)
    assert m.acc_correct == pytest.approx(50)
    assert m.f1 == pytest.approx(40)
    assert loc.processbench_metrics(np.array([-1]), np.array([-1])).f1 is None  # no erroneous trace


def test_trace_frame_predictions(s1):
    store, did, sid = s1
    f = queries.analysis_trace_frame(store, [("r", did, None)], sid, 0.5).set_index("source_id")
    assert f.loc[list(GOLD), "pred_threshold"].tolist() == [2, 0, -1, -1, 1, 1]
    assert f.loc[list(GOLD), "pred_drop"].tolist() == [2, 2, -1, -1, 1, 1]
    assert f.loc["T1", "s_gold"] == pytest.approx(0.3) and f.loc["T1", "m_before"] == pytest.approx(0.8)
    assert pd.isna(f.loc["T3", "m_before"])  # no step before the gold one
    assert f.loc["T4", "min_all"] == pytest.approx(0.6)


def test_metrics_positions_offsets(s1):
    store, did, sid = s1
    f = queries.analysis_trace_frame(store, [("r", did, None)], sid, 0.5)
    m = loc.metrics_by(f).iloc[0]
    assert (m.n_error, m.n_correct, m.acc_error, m.acc_correct, m.f1) == (4, 2, 50.0, 50.0, 50.0)
    pos = loc.position_table(f).set_index("class")["n"].to_dict()
    assert pos == {"exact": 2, "too_early": 1, "too_late": 0, "missed": 1, "false_alarm": 1, "clean": 1}
    drop = loc.position_table(f, "largest_drop").set_index("class")["n"].to_dict()
    assert drop == {"exact": 2, "too_early": 0, "too_late": 1, "missed": 1, "false_alarm": 1, "clean": 1}
    off = loc.offset_histogram(f)
    assert dict(zip(off["offset"], off["n"])) == {-1: 1, 0: 2}
    early = loc.traces_in_class(f, "threshold", "too_early")
    assert early == f.loc[f["source_id"] == "T2", "trace_id"].tolist()


def test_best_threshold_by_hand_and_brute_force(s1):
    store, did, sid = s1
    f = queries.analysis_trace_frame(store, [("r", did, None)], sid, 0.5)
    # Intervals: T1 (.3,.8], T3 (.7,inf), T6 (.2,.9], T2 none; correct: T4 tau<=.6, T5 tau<=.45.
    # On (.3,.45]: acc_e 50, acc_c 100 -> F1 66.67, the maximum; attained at tau = .45.
    tau, f1 = loc.best_threshold(f)
    assert tau == pytest.approx(0.45) and f1 == pytest.approx(200 / 3)

    def brute(t: float) -> float:  # independent: per-trace loops over the raw scores
        e = [next((i for i, v in enumerate(SCORES[k]) if v < t), -1) == g for k, g in GOLD.items() if g != -1]
        c = [next((i for i, v in enumerate(SCORES[k]) if v < t), -1) == -1 for k, g in GOLD.items() if g == -1]
        ae, ac = 100 * np.mean(e), 100 * np.mean(c)
        return 0.0 if ae + ac == 0 else 2 * ae * ac / (ae + ac)

    grid = np.linspace(0, 1.0001, 20001)
    assert max(brute(t) for t in grid) == pytest.approx(f1)
    sweep = loc.threshold_sweep(f, np.array([0.25, 0.4, 0.5, 0.65, 0.75]))
    assert sweep["f1"].tolist() == pytest.approx([brute(t) for t in [0.25, 0.4, 0.5, 0.65, 0.75]])


def test_tune_on_one_split_report_the_other(s1, tmp_path):
    store, did, sid = s1
    # Split s2 at the tuned tau .45: U1 [.9 .4] gold 1 -> 1 exact; U2 [.5 .6] gold -1 -> clean;
    # U3 [.46 .3] gold 0 -> 1 too late. acc_e 50, acc_c 100, F1 66.67. (At .5, U3 would be exact.)
    s2 = {"U1": [0.9, 0.4], "U2": [0.5, 0.6], "U3": [0.46, 0.3]}
    d2 = import_records(store, tmp_path, "s2", _records("s2", {"U1": 1, "U2": -1, "U3": 0}, s2), split="s2")
    add_scores(store, sid, d2, s2)
    runs = [resolve_run(store, "s1"), resolve_run(store, "s2")]
    rep = localisation_report(store, runs, "prm", tune_on="s1")
    assert rep.threshold == pytest.approx(0.45) and rep.reported_splits == ["s2"]
    row = rep.overall.set_index("localiser").loc["threshold"]
    assert (row.acc_error, row.acc_correct, row.f1) == pytest.approx((50, 100, 200 / 3))
    assert set(rep.frame["split"]) == {"s2"}  # the tuning split is not reported
    at_default = localisation_report(store, runs, "prm").breakdowns["split"].set_index("group")
    assert at_default.loc["s2", "f1"] == pytest.approx(100)
    with pytest.raises(PrmViewerError, match="no other split"):
        localisation_report(store, runs[:1], "prm", tune_on="s1")
    with pytest.raises(PrmViewerError, match="no split 'nope'"):
        localisation_report(store, runs, "prm", tune_on="nope")
    inside = localisation_report(store, runs[:1], "prm", tune_on="s1", in_sample=True)
    assert inside.overall.set_index("localiser").loc["threshold", "f1"] == pytest.approx(200 / 3)


def test_critic_side_by_side_and_unscored(s1, tmp_path):
    store, did, sid = s1
    add_critic(store, "judge", did, {"T1": 2, "T2": 1, "T3": 0, "T4": -1, "T5": -1})  # T6: no answer
    rep = localisation_report(store, [resolve_run(store, "s1")], "prm", threshold=0.5, critic="judge")
    side = rep.overall.set_index("localiser")
    assert side.loc["critic", "n_traces"] == 5 and side.loc["critic", "f1"] == pytest.approx(100)
    assert side.loc["threshold", "f1"] == pytest.approx(50) and side.loc["largest_drop", "too_late"] == 1
    d3 = import_records(store, tmp_path, "s3", [pb("V1", "unscored problem", ["a", "b"], 1)])
    rep = localisation_report(store, [resolve_run(store, "s1"), resolve_run(store, "s3")], "prm", threshold=0.5)
    assert rep.n_unscored == 1 and rep.overall.set_index("localiser").loc["threshold", "n_traces"] == 6
    assert d3


def test_step_f1_by_hand():
    # pred correct (>= .5): T F F T T; gold correct (label != -1): T T F T F
    # correct positive: tp 2, fp 1, fn 1 -> 66.67; error positive: tp 1, fp 1, fn 1 -> 50
    labels = pd.DataFrame({"gold_label": [1, 1, -1, 0, -1], "score": [0.9, 0.4, 0.3, 0.6, 0.7]})
    r = loc.step_f1(labels, 0.5).iloc[0]
    assert (r.f1_correct, r.f1_error, r.prm_score) == pytest.approx((200 / 3, 50, (200 / 3 + 50) / 2))


def test_step_f1_from_prmbench_labels(store, tmp_path):
    recs = [
        {"idx": "a", "question": "Q a", "modified_process": ["1. x", "2. y", "3. z"], "error_steps": [2], "classification": "circular"},
        {"idx": "b", "question": "Q b", "modified_process": ["1. u", "2. v"], "error_steps": [], "classification": "multi_solutions"},
    ]
    path = write_jsonl(tmp_path / "prmbench.jsonl", recs)
    did = import_file(store, path, fmt="prmbench", name="pb").dataset_id
    sid = add_scorer(store, "prm")
    # PRMBench sample ids are "<classification>_<idx>", as its official loader keys them
    add_scores(store, sid, did, {"circular_a": [0.9, 0.2, 0.8], "multi_solutions_b": [0.6, 0.3]})
    # labels (0-based): a = [+1, -1, +1], b = [+1, +1]; pred correct: a T F T, b T F
    # correct positive: tp 3, fp 0, fn 1 -> 6/7; error positive: tp 1, fp 1, fn 0 -> 2/3
    rep = localisation_report(store, [resolve_run(store, "pb")], "prm", threshold=0.5)
    row = rep.step_f1.set_index("group").loc["all"]
    assert row.f1_correct == pytest.approx(600 / 7) and row.f1_error == pytest.approx(200 / 3)


# ----------------------------------------------------------------------- real ProcessBench files


def _fixed_score(source_id: str, i: int) -> float:
    return int(hashlib.sha256(f"{source_id}/{i}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _official(records: list[dict], tau: float) -> tuple[float, float, float]:
    """Re-implementation of ProcessBench's formula over the raw JSON records."""
    err, cor = [], []
    for r in records:
        scores = [_fixed_score(r["id"], i) for i in range(len(r["steps"]))]
        pred = next((i for i, s in enumerate(scores) if s < tau), -1)
        (err if r["label"] != -1 else cor).append(pred == r["label"])
    ae, ac = np.mean(err) * 100, np.mean(cor) * 100
    return ae, ac, 2 * ae * ac / (ae + ac)


def test_real_processbench_against_official_formula(store, shared_data):
    files = {s: shared_data / "ProcessBench" / f"{s}.json" for s in ("gsm8k", "math")}
    if not all(p.exists() for p in files.values()):
        pytest.skip("ProcessBench gsm8k.json / math.json absent from ../shared/data")
    sid = add_scorer(store, "fixed")
    raw = {}
    for split, path in files.items():
        did = import_file(store, path).dataset_id
        raw[split] = json.loads(Path(path).read_text())
        add_scores(store, sid, did, {r["id"]: [_fixed_score(r["id"], i) for i in range(len(r["steps"]))] for r in raw[split]})
    runs = [resolve_run(store, "gsm8k"), resolve_run(store, "math")]
    rep = localisation_report(store, runs, "fixed", threshold=0.5)
    by_split = rep.breakdowns["split"].set_index("group")
    for split in files:
        assert tuple(by_split.loc[split, ["acc_error", "acc_correct", "f1"]]) == pytest.approx(_official(raw[split], 0.5))
    assert by_split.loc["gsm8k", "n_error"] + by_split.loc["gsm8k", "n_correct"] == len(raw["gsm8k"])
    tuned = localisation_report(store, runs, "fixed", tune_on="gsm8k")
    grid_best = max(_official(raw["gsm8k"], t)[2] for t in np.linspace(0, 1, 201))
    assert tuned.tuned_f1 >= grid_best - 1e-9  # exact optimum is at least as good as any grid point
    assert _official(raw["gsm8k"], tuned.threshold)[2] == pytest.approx(tuned.tuned_f1)
    row = tuned.overall.set_index("localiser").loc["threshold"]
    assert (row.acc_error, row.acc_correct, row.f1) == pytest.approx(_official(raw["math"], tuned.threshold))
