"""Jobs and the worker process: real worker subprocesses, real DuckDB, real Parquet shards.

Fault tests: SIGKILL mid-job then resume (by retry, and by an owner restart) scores every step
exactly once; a corrupt checkpoint fails the job with a clear message; cancel stops the worker.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prm_viewer.ingest import import_file
from prm_viewer.jobs import JobRunner
from prm_viewer.scoring.scorers import register_scorer
from prm_viewer.scoring.worker import shard_paths


def write_pb(path: Path, n: int) -> Path:
    """A ProcessBench-format file of ``n`` traces (3-4 steps each)."""
    with open(path, "w") as fh:
        for i in range(n):
            steps = [f"{i} + 3 = {i + 3}.", f"{i + 3} * 2 = {2 * (i + 3)}.", f"The answer is \\boxed{{{2 * (i + 3)}}}."]
            if i % 3 == 0:
                steps.insert(2, "We check the product again.")
            fh.write(json.dumps({"id": f"p{i}", "generator": "m", "problem": f"What is ({i} + 3) * 2?",
                                 "steps": steps, "final_answer_correct": True, "label": -1}) + "\n")
    return path


def n_steps(store, dataset_id: str) -> int:
    return store.cursor().execute(
        "SELECT count(*) FROM steps JOIN traces USING (trace_id) WHERE dataset_id = ?", [dataset_id]).fetchone()[0]


def scores_of(store, scorer_id: str) -> dict[tuple[str, int], float | None]:
    rows = store.cursor().execute("SELECT trace_id, step_idx, score FROM step_scores WHERE scorer_id = ?", [scorer_id]).fetchall()
    return {(t, s): v for t, s, v in rows}


def wait_for(cond, timeout: float = 120.0, what: str = "condition") -> None:
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def shard_rows(job_dir: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in shard_paths(job_dir)])


def test_verifier_job_end_to_end(store, tmp_path):
    """The model-free recipe through a real worker: stored scores equal the demo's gold labels."""
    from prm_viewer.demo import load_demo

    load_demo(store)
    ds = store.cursor().execute("SELECT dataset_id FROM datasets ORDER BY name LIMIT 1").fetchone()[0]
    scorer = register_scorer(store, None, recipe="verifier")
    runner = JobRunner(store, jobs_root=tmp_path / "jobs")
    job_id = runner.submit(scorer["name"], ds)
    job = runner.wait(job_id, interval=0.1)
    assert job["status"] == "done" and job["error"] is None and job["finished_at"] >= job["started_at"]
    gold = store.cursor().execute(
        """SELECT s.trace_id, s.step_idx, s.gold_label FROM steps s JOIN traces t USING (trace_id)
           WHERE t.dataset_id = ?""", [ds]).fetchall()
    got = scores_of(store, scorer["scorer_id"])
    assert len(got) == len(gold) > 100
    assert all(got[(t, i)] == (1.0 if g == 1 else 0.0) for t, i, g in gold)
    assert job["traces_done"] == job["traces_total"]
    # the same pair again is the same job, already done: nothing is scored twice
    assert runner.submit(scorer["name"], ds) == job_id
    assert runner.poll() == []


@pytest.mark.slow
def test_sigkill_then_retry_and_restart_scores_each_step_once(store, tiny, tmp_path):
    report = import_file(store, write_pb(tmp_path / "pb.jsonl", 600), name="many")
    scorer = register_scorer(store, str(tiny["shepherd"]), device="cpu")
    runner = JobRunner(store, jobs_root=tmp_path / "jobs")
    job_id = runner.submit(scorer["scorer_id"], report.dataset_id, shard_traces=2)
    job_dir = tmp_path / "jobs" / job_id
    runner.poll()  # launches the worker
    pid = store.get_job(job_id)["pid"]
    wait_for(lambda: len(shard_paths(job_dir)) >= 3, what="three shards")
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: runner._procs[job_id].poll() is not None, what="the worker to die")
    assert len(shard_paths(job_dir)) < 300  # killed mid-job
    runner.poll()
    job = store.get_job(job_id)
    assert job["status"] == "failed" and "SIGKILL" in job["error"]
    kept = len(scores_of(store, scorer["scorer_id"]))
    assert kept > 0  # scores written before the kill were ingested and kept

    # retry resumes; kill it again, then a NEW runner (an owner restart) resumes the job
    runner.retry(job_id)
    runner.poll()
    pid2 = store.get_job(job_id)["pid"]
    before = len(shard_paths(job_dir))
    wait_for(lambda: len(shard_paths(job_dir)) >= before + 2, what="progress after retry")
    os.kill(pid2, signal.SIGKILL)
    runner._procs[job_id].wait()
    restarted = JobRunner(store, jobs_root=tmp_path / "jobs")  # the old runner is gone with its owner
    assert job_id in restarted.resume()
    job = restarted.wait(job_id, interval=0.1)
    assert job["status"] == "done", job["error"]
    assert json.loads((job_dir / "progress.json").read_text())["prefix_sharing"] is True  # the worker shares prefixes

    rows = shard_rows(job_dir)
    keys = list(zip(rows["trace_id"].to_pylist(), rows["step_idx"].to_pylist()))
    assert len(keys) == len(set(keys)) == n_steps(store, report.dataset_id)  # each step exactly once
    got = scores_of(store, scorer["scorer_id"])
    assert set(got) == set(keys) and all(v is not None for v in got.values())
    # and the scores are the model's: equal to a fresh in-process computation
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput

    tr = pq.read_table(job_dir / "traces.parquet").slice(100, 5).to_pylist()
    fresh = score_traces(load_engine(ScorerSpec(recipe="math-shepherd", checkpoint=str(tiny["shepherd"]), device="cpu")),
                         [TraceInput(t["trace_id"], t["problem"], t["steps"]) for t in tr]).to_pylist()
    for r in fresh:
        assert got[(r["trace_id"], r["step_idx"])] == pytest.approx(r["score"], abs=2e-5)


@pytest.mark.slow
def test_corrupt_checkpoint_fails_with_reason(store, tiny, tmp_path):
    folder = tmp_path / "corrupt"
    shutil.copytree(tiny["qwen-prm"], folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])  # a truncated download
    report = import_file(store, write_pb(tmp_path / "pb.jsonl", 5), name="few")
    scorer = register_scorer(store, str(folder), device="cpu")  # config and tokenizer are fine
    runner = JobRunner(store, jobs_root=tmp_path / "jobs")
    job = runner.wait(runner.submit(scorer["name"], "few"), interval=0.1)
    assert job["status"] == "failed"
    assert job["error"].startswith(f"checkpoint '{folder.resolve()}': cannot load the model weights")
    assert "\n" not in job["error"]
    assert scores_of(store, scorer["scorer_id"]) == {}
    assert report.traces == 5


@pytest.mark.slow
def test_cancel_stops_the_worker(store, tiny, tmp_path):
    report = import_file(store, write_pb(tmp_path / "pb.jsonl", 400), name="many")
    scorer = register_scorer(store, str(tiny["qwen-tokcls"]), device="cpu")
    runner = JobRunner(store, jobs_root=tmp_path / "jobs")
    job_id = runner.submit(scorer["scorer_id"], report.dataset_id, shard_traces=1)
    job_dir = tmp_path / "jobs" / job_id
    runner.poll()
    pid = store.get_job(job_id)["pid"]
    wait_for(lambda: len(shard_paths(job_dir)) >= 2, what="two shards")
    runner.cancel(job_id)
    job = store.get_job(job_id)
    assert job["status"] == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the worker is gone (and reaped)
    n = len(shard_paths(job_dir))
    time.sleep(1.0)
    assert len(shard_paths(job_dir)) == n < 400  # nothing more is written
    assert len(scores_of(store, scorer["scorer_id"])) > 0  # scores so far are kept
    assert json.loads((job_dir / "status.json").read_text())["state"] == "cancelled"


def test_worker_input_keeps_each_problems_traces_together(store, tmp_path):
    """traces.parquet lists a problem's traces next to each other (from the problem's first trace
    on, then in dataset order), so that a shard holds whole groups that share a prefix."""
    from prm_viewer import queries

    problems = ["What is 2 + 2?", "What is 3 * 3?", "What is 10 - 4?"]
    order = [0, 1, 0, 2, 1, 0]  # ordinals 0..5; problem of each
    path = tmp_path / "mixed.jsonl"
    with open(path, "w") as fh:
        for i, k in enumerate(order):
            fh.write(json.dumps({"id": f"t{i}", "generator": "m", "problem": problems[k], "steps": [f"step of {i}"],
                                 "final_answer_correct": True, "label": -1}) + "\n")
    ds = import_file(store, path, fmt="processbench").dataset_id
    rows = queries.scoring_traces(store, ds).to_pylist()
    assert [int(r["trace_id"].rsplit("-", 1)[1]) for r in rows] == [0, 2, 5, 1, 4, 3]
    assert [r["steps"] for r in rows][:3] == [["step of 0"], ["step of 2"], ["step of 5"]]
