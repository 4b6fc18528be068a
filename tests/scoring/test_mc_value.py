"""``mc-value``: Monte-Carlo step values on the synthetic demo tasks, whose answers are known.

A prover whose LM head always says end-of-text makes every rollout empty, so the value of step k
is exactly "the number step k states is the true answer" (computed here from the task itself);
a random prover checks soft/hard and the progress differences."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from prm_viewer.demo import demo_records
from prm_viewer.demo.tasks import make_tasks
from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from prm_viewer.scoring.recipes import TraceInput
from prm_viewer.scoring.recipes.mc_value import final_answer
from tests.scoring.test_vllm_helpers import build_eos_prover, build_qwen_lm, cpu_env


def demo_traces(n: int = 6) -> tuple[list[TraceInput], dict[str, int]]:
    """Demo traces with and without errors, and each problem's true answer (from the task)."""
    tasks = {t.text: t.answer for t in make_tasks(7)}
    _, records = demo_records()[1]
    picked = [r for r in records if r["gold_first_error"] != -1][: n // 2] \
        + [r for r in records if r["gold_first_error"] == -1][: n - n // 2]
    # The reference answer travels with the trace, as the store passes it (the demo records carry it).
    return [TraceInput(f"m-{i}", r["problem"], r["steps"], reference_answer=r["reference_answer"])
            for i, r in enumerate(picked)], tasks


@pytest.fixture(scope="module")
def provers(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("provers")
    return {"eos": build_eos_prover(root / "eos"), "random": build_qwen_lm(root / "random", seed=31)}


def _check_empty_rollout_values(rows, traces, answers):
    assert any(t.steps for t in traces)
    n_true = 0
    for t in traces:
        mine = [r for r in rows if r["trace_id"] == t.trace_id]
        truth = answers[t.problem]
        want = [1.0 if re.findall(r"-?\d+", s)[-1] == str(truth) else 0.0 for s in t.steps]
        n_true += sum(want)
        assert [r["score"] for r in mine] == want
        assert [r["raw"] for r in mine] == list(np.diff([0.0] + want))  # progress, Q(problem only) = 0
        assert "Q(problem only) = 0.000" in mine[0]["note"]
    assert n_true >= 1, "the correct traces end in the true answer"


def test_empty_rollouts_give_exact_values_transformers(provers):
    traces, answers = demo_traces()
    eng = load_engine(ScorerSpec(recipe="mc-value", checkpoint=str(provers["eos"]), device="cpu",
                                 recipe_options={"rollouts": 2, "max_tokens": 4}))
    _check_empty_rollout_values(score_traces(eng, traces).to_pylist(), traces, answers)
    eng.close()


@pytest.mark.vllm
def test_empty_rollouts_give_exact_values_vllm(provers):
    pytest.importorskip("vllm", reason="vllm is not installed (pip install -r requirements-vllm.txt)")
    cpu_env()
    traces, answers = demo_traces()
    eng = load_engine(ScorerSpec(recipe="mc-value", checkpoint=str(provers["eos"]), backend="vllm", device="cpu",
                                 recipe_options={"rollouts": 3, "max_tokens": 4}))
    try:
        _check_empty_rollout_values(score_traces(eng, traces).to_pylist(), traces, answers)
    finally:
        eng.close()


def test_soft_and_hard_values_from_the_same_rollouts(provers):
    traces, _ = demo_traces(4)
    out = {}
    for mode in ("soft", "hard"):
        eng = load_engine(ScorerSpec(recipe="mc-value", checkpoint=str(provers["random"]), device="cpu",
                                     recipe_options={"rollouts": 4, "max_tokens": 6, "temperature": 1.0, "mode": mode}))
        out[mode] = {(r["trace_id"], r["step_idx"]): r for r in score_traces(eng, traces).to_pylist()}
        eng.close()
    for key, soft in out["soft"].items():
        hard = out["hard"][key]
        assert soft["score"] * 4 == round(soft["score"] * 4), "soft = a fraction of 4 rollouts"
        assert hard["score"] == (1.0 if soft["score"] > 0 else 0.0), "same seed, same rollouts: hard = any"
    for t in traces:  # raw = Q_k - Q_{k-1}: the scores are the running sum of the progress from Q(problem only)
        rows = [out["soft"][(t.trace_id, k)] for k in range(len(t.steps))]
        q0 = float(re.search(r"Q\(problem only\) = ([\d.]+)", rows[0]["note"]).group(1))
        np.testing.assert_allclose(q0 + np.cumsum([r["raw"] for r in rows]), [r["score"] for r in rows], atol=1e-3)


def test_no_reference_answer_is_noted_not_scored(provers):
    eng = load_engine(ScorerSpec(recipe="mc-value", checkpoint=str(provers["eos"]), device="cpu",
                                 recipe_options={"rollouts": 1, "max_tokens": 2}))
    rows = score_traces(eng, [TraceInput("x", "Prove that the sky is blue.", ["It scatters light."])]).to_pylist()
    eng.close()
    assert rows[0]["score"] is None and "no reference answer" in rows[0]["note"]


def test_final_answer_extraction():
    assert final_answer("so 3 + 4 = 7 and \\boxed{12}") == "12"
    assert final_answer("7 * 2 = 14\n14 - 3 = 11") == "11"
    assert final_answer("no digits") is None


def test_prefixes_beyond_the_context_are_noted_not_truncated(provers):
    t = TraceInput("x", "[synthetic demo] Start with 7. Then add 5, multiply by 3. What is the result?",
                   ["7 + 5 = 12", "12 * 3 = 36"], reference_answer="36")
    from transformers import AutoTokenizer

    from prm_viewer.scoring.recipes.mc_value import prefix_text

    tok = AutoTokenizer.from_pretrained(provers["eos"])
    fits = len(prefix_text(tok, t.problem, t.steps[:1])[0]) + 4  # step 0's prompt + its 4 rollout tokens
    eng = load_engine(ScorerSpec(recipe="mc-value", checkpoint=str(provers["eos"]), device="cpu", max_length=fits,
                                 recipe_options={"rollouts": 1, "max_tokens": 4}))
    rows = score_traces(eng, [t]).to_pylist()
    eng.close()
    assert rows[0]["score"] == 0.0  # "12" is not the answer 36
    assert rows[1]["score"] is None and "exceed the prover's context" in rows[1]["note"]


def test_reference_answer_travels_from_the_store_to_the_worker(provers, store, tmp_path):
    """A non-demo problem: its gold answer is only in the store (imported with the file); the job
    path (queries -> traces.parquet -> worker) must bring it to the recipe. With the
    stop-at-once prover, step k's value is exactly "the last number of step k equals the gold
    answer", computed here by hand."""
    import json

    from prm_viewer.ingest import import_file
    from prm_viewer.jobs import JobRunner
    from prm_viewer.scoring.scorers import register_scorer

    src = tmp_path / "gold.jsonl"
    rows = [
        {"question": "Ann has 3 bags of 4 apples and eats 2. How many apples are left?", "gold": "10",
         "solution": "3 bags of 4 is 3*4 = 12\nShe eats 2, so 12 - 2 = 10\nThe answer is 10"},
        {"question": "Bo reads 5 pages a day for 6 days. How many pages?", "gold": "30",
         "solution": "5 pages for 6 days is 5+6 = 11\nSo he reads 11"},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = import_file(store, src, fmt="generic", options={
        "map": {"problem": "question", "steps": "solution", "reference_answer": "gold"}, "split_rule": "newline"})
    sc = register_scorer(store, str(provers["eos"]), recipe="mc-value", device="cpu", name="mc-eos",
                         options={"rollouts": 2, "max_tokens": 4})
    runner = JobRunner(store, jobs_root=tmp_path / "jobs")
    job = runner.wait(runner.submit(sc["name"], rep.name))
    assert job["status"] == "done", job.get("error")
    got = store.cursor().execute(
        """SELECT t.ordinal, s.step_idx, s.score FROM step_scores s JOIN traces t USING (trace_id)
           WHERE s.scorer_id = ? ORDER BY 1, 2""", [sc["scorer_id"]]).fetchall()
    want = []
    for i, r in enumerate(rows):
        for k, step in enumerate(r["solution"].split("\n")):
            want.append((i, k, 1.0 if re.findall(r"-?\d+", step)[-1] == r["gold"] else 0.0))
    assert got == want
    assert sum(w[2] for w in want) == 2  # the right trace's last two steps state 10; the wrong trace none
