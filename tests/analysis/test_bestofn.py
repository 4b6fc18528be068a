"""Best-of-N: the DuckDB computation against direct pandas computations on a hand-made store
(N = all samples: argmax per problem with ties to the lowest sample; N = 1: mean correctness),
plus the flawed-pick share, the minimum positions and the CLI twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from prm_viewer.analysis import bestofn as bon
from prm_viewer.analysis.runs import Run
from prm_viewer.cli.entry import main
from prm_viewer.store import Store, problem_key


def make_store(store: Store, traces: list[dict[str, Any]], scores: dict[str, dict[int, list[float]]] | None = None,
               name: str = "bon", labels: dict[int, list[int]] | None = None) -> str:
    """A dataset from ``traces`` (dicts: problem, answer, correct, gold, n_steps; ordinal = index)
    and step scores ``scores[scorer][ordinal]``; ``labels[ordinal]`` = gold step labels."""
    from prm_viewer.ingest import STEP_SCHEMA, TRACE_SCHEMA

    n = len(traces)
    did = f"ds{name}"
    tt = pa.table({
        "ordinal": np.arange(n, dtype=np.int32), "source_line": np.arange(1, n + 1, dtype=np.int32),
        "source_id": [f"s{i}" for i in range(n)], "problem_id": [problem_key(t["problem"]) for t in traces],
        "problem": [t["problem"] for t in traces], "reference_answer": [None] * n, "source_problem_id": [None] * n,
        "generator": [t.get("generator", "g") for t in traces], "final_answer": [t.get("answer") for t in traces],
        "final_answer_correct": [t.get("correct") for t in traces],
        "gold_first_error": pa.array([t.get("gold") for t in traces], pa.int32()),
        "error_type": [t.get("category") for t in traces], "category": [t.get("category") for t in traces],
        "split": [t.get("split") for t in traces], "n_steps": np.array([t["n_steps"] for t in traces], np.int32),
        "has_step_labels": [bool(labels and i in labels) for i in range(n)], "metadata": [None] * n,
    }, schema=TRACE_SCHEMA)
    ords = np.repeat(np.arange(n, dtype=np.int32), [t["n_steps"] for t in traces])
    idx = np.concatenate([np.arange(t["n_steps"], dtype=np.int32) for t in traces])
    gl = [labels[o][i] if labels and o in labels else None for o, i in zip(ords.tolist(), idx.tolist())]
    st = pa.table({"ordinal": ords, "step_idx": idx, "text": [f"step {i}" for i in idx],
                   "gold_label": pa.array(gl, pa.int8())}, schema=STEP_SCHEMA)
    with store.transaction():
        store.insert_dataset({"dataset_id": did, "name": name, "format": "test", "file_hash": did})
        store.append_batch(did, tt, st)
        store.finish_dataset(did)
    for scorer, per in (scores or {}).items():
        sid = store.upsert_scorer({"scorer_id": f"sc-{scorer}", "name": scorer, "recipe": "imported", "threshold": 0.5})
        rows = [(sid, f"{did}-{o}", i, float(v), float(v), None) for o, vals in per.items() for i, v in enumerate(vals)]
        df = pd.DataFrame(rows, columns=["scorer_id", "trace_id", "step_idx", "score", "raw", "note"])
        df["note"] = df["note"].astype(object)
        store.insert_step_scores(df)
    return did


def _random_case(seed: int, n_problems: int = 30, k: int = 4) -> tuple[list[dict[str, Any]], dict[int, list[float]]]:
    rng = np.random.default_rng(seed)
    traces, scores = [], {}
    for p in range(n_problems):
        for j in range(k):
            o = len(traces)
            ans = str(rng.integers(0, 3))
            n_steps = int(rng.integers(1, 5))
            # Scores on a coarse grid so ties (between samples and within a trace) really occur.
            scores[o] = (rng.integers(0, 5, n_steps) / 4).tolist()
            traces.append({"problem": f"problem {p}", "answer": ans, "correct": ans == "0", "n_steps": n_steps,
                           "gold": int(rng.integers(-1, n_steps)) if rng.random() < 0.8 else None})
    return traces, scores


def _direct(traces: list[dict[str, Any]], scores: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for o, t in enumerate(traces):
        s = np.array(scores[o])
        rows.append({"problem": t["problem"], "o": o, "answer": t["answer"], "correct": t["correct"],
                     "min": s.min(), "product": np.prod(s), "last": s[-1], "mean": s.mean()})
    return pd.DataFrame(rows)


def test_n_all_and_n_1_equal_direct_computation(store: Store) -> None:
    traces, scores = _random_case(1)
    did = make_store(store, traces, {"prm": scores})
    rep = bon.bestofn_report(store, Run(did, "bon"), "prm", ns=[1, 2, 4], repeats=7, seed=3)
    d = _direct(traces, scores)
    for agg in ("min", "product", "last", "mean"):
        # Argmax with ties to the lowest sample: sort by score desc, then ordinal asc; first per problem.
        pick = d.sort_values([agg, "o"], ascending=[False, True]).groupby("problem").head(1)
        assert rep.accuracy(f"{agg}_max", 4) == pytest.approx(pick["correct"].mean())
        # Weighted vote: heaviest answer; ties to the answer of the lowest sample.
        w = d.groupby(["problem", "answer"]).agg(w=(agg, "sum"), first=("o", "min"), ok=("correct", "first")).reset_index()
        win = w.sort_values(["w", "first"], ascending=[False, True]).groupby("problem").head(1)
        assert rep.accuracy(f"{agg}_vote", 4) == pytest.approx(win["ok"].mean())
    c = d.groupby(["problem", "answer"]).agg(c=("o", "size"), first=("o", "min"), ok=("correct", "first")).reset_index()
    maj = c.sort_values(["c", "first"], ascending=[False, True]).groupby("problem").head(1)
    assert rep.accuracy("majority", 4) == pytest.approx(maj["ok"].mean())
    assert rep.accuracy("pass", 4) == pytest.approx(d.groupby("problem")["correct"].any().mean())
    # N = 1: every sample alone, so every rule gives the mean correctness per problem.
    n1 = d.groupby("problem")["correct"].mean().mean()
    for method in ("min_max", "mean_vote", "majority", "pass"):
        assert rep.accuracy(method, 1) == pytest.approx(n1)
    # The CI brackets the estimate and uses the spread over problems.
    row = rep.curves[(rep.curves["method"] == "min_max") & (rep.curves["n"] == 4)].iloc[0]
    sd = pick_sd = d.sort_values(["min", "o"], ascending=[False, True]).groupby("problem").head(1)["correct"].astype(float).std()
    assert row["ci_high"] - row["accuracy"] == pytest.approx(min(1.959964 * sd / np.sqrt(30), 1 - row["accuracy"]), abs=1e-5)
    assert pick_sd > 0


def test_intermediate_n_exact_and_random(store: Store) -> None:
    from itertools import combinations

    traces, scores = _random_case(2)
    did = make_store(store, traces, {"prm": scores})
    d = _direct(traces, scores)
    # C(4, 2) = 6 subsets <= repeats: all of them, so N = 2 is the exact expectation.
    ex = bon.bestofn_report(store, Run(did, "bon"), "prm", ns=[2], repeats=6)
    per_min, per_pass = [], []
    for _, g in d.groupby("problem"):
        rows = g.sort_values("o").to_dict("records")
        picks = [max(pair, key=lambda r: (r["min"], -r["o"]))["correct"] for pair in combinations(rows, 2)]
        per_min.append(np.mean(picks))
        c = sum(r["correct"] for r in rows)
        per_pass.append(1 - (4 - c) * (3 - c) / 12)  # 1 - C(k-c, 2) / C(k, 2)
    assert ex.accuracy("min_max", 2) == pytest.approx(np.mean(per_min))
    assert ex.accuracy("pass", 2) == pytest.approx(np.mean(per_pass))
    # Fewer repeats than subsets: random subsets, the same for a seed, different across seeds.
    a = bon.bestofn_report(store, Run(did, "bon"), "prm", ns=[2], repeats=3, seed=5)
    b = bon.bestofn_report(store, Run(did, "bon"), "prm", ns=[2], repeats=3, seed=5)
    c = bon.bestofn_report(store, Run(did, "bon"), "prm", ns=[2], repeats=3, seed=6)
    pd.testing.assert_frame_equal(a.curves, b.curves, check_exact=False, rtol=1e-12)
    assert not np.allclose(a.curves["accuracy"], c.curves["accuracy"])
    assert a.accuracy("pass", 2) == pytest.approx(np.mean(per_pass), abs=0.1)


def test_flawed_share_and_minimum_positions(store: Store) -> None:
    traces = [
        {"problem": "p", "answer": "1", "correct": True, "gold": 1, "n_steps": 3},   # right, flawed
        {"problem": "p", "answer": "2", "correct": False, "gold": 0, "n_steps": 2},
        {"problem": "q", "answer": "1", "correct": True, "gold": -1, "n_steps": 2},  # right, clean
        {"problem": "q", "answer": "1", "correct": True, "gold": -1, "n_steps": 1},
    ]
    scores = {0: [0.9, 0.8, 0.95], 1: [0.2, 0.9], 2: [0.7, 0.6], 3: [0.1]}
    did = make_store(store, traces, {"prm": scores})
    rep = bon.bestofn_report(store, Run(did, "bon"), "prm")
    f = rep.flawed.set_index("aggregation").loc["min"]
    # min picks: p -> trace 0 (0.8 > 0.2), q -> trace 2 (0.6 > 0.1); one of two right picks is flawed.
    assert (f["n_right"], f["n_right_labelled"], f["n_right_flawed"], f["share"]) == (2, 2, 1, 0.5)
    assert bon.flawed_traces(rep.picks, "min") == [f"{did}-0"]
    # Minimum positions: trace 0 at step 1 of 3 (0.5), 1 at 0 (0.0), 2 at 1 of 2 (1.0, last), 3 one step (1.0, last).
    m = rep.minimum.groupby("bin")["n"].sum().to_dict()
    assert m == {0: 1, 5: 1, 9: 2}
    assert rep.last_step_share == 0.5


def test_bad_input(store: Store) -> None:
    from prm_viewer.errors import PrmViewerError

    traces = [{"problem": f"p{i}", "answer": "1", "correct": True, "gold": -1, "n_steps": 1} for i in range(3)]
    did = make_store(store, traces, {"prm": {0: [0.5], 1: [0.5], 2: [0.5]}})
    with pytest.raises(PrmViewerError, match="one sample per problem"):
        bon.bestofn_report(store, Run(did, "bon"), "prm")
    traces2, scores2 = _random_case(3, n_problems=2, k=2)
    did2 = make_store(store, traces2, {"prm2": scores2}, name="bon2")
    with pytest.raises(PrmViewerError, match="out of range"):
        bon.bestofn_report(store, Run(did2, "bon2"), "prm2", ns=[1, 8])


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.duckdb"
    traces, scores = _random_case(4, n_problems=6, k=4)
    with Store(db) as s:
        make_store(s, traces, {"prm": scores})
    assert main(["--db", str(db), "bestofn", "--dataset", "bon", "--scorer", "prm", "--n", "1,4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    d = _direct(traces, scores)
    pick = d.sort_values(["last", "o"], ascending=[False, True]).groupby("problem").head(1)
    got = [r for r in out["curves"] if r["method"] == "last_max" and r["n"] == 4][0]
    assert got["accuracy"] == pytest.approx(pick["correct"].mean())
    assert main(["--db", str(db), "bestofn", "--dataset", "bon", "--scorer", "prm", "--n", "1,x"]) == 2
    assert "--n" in capsys.readouterr().err
