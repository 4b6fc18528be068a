"""Generation jobs on real tiny checkpoints: the worker, the runner, the dataset it writes,
resume after SIGKILL, seeded reproducibility, the CLI, and the vLLM backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from prm_viewer import jobfolder as jf
from prm_viewer.cli.entry import main as cli_main
from prm_viewer.generation import SamplingSettings, submit_generation
from prm_viewer.generation.dataset import job_rows
from prm_viewer.jobs import JobRunner
from prm_viewer.store import Store
from tests.generation.policy_models import TRAIN_PROBLEMS, problem_text

ROOT = Path(__file__).resolve().parents[2]


def _problems(path: Path, rows: list[tuple[int, int]]) -> Path:
    path.write_text("".join(json.dumps({"problem": problem_text(a, b), "answer": str(a + b)}) + "\n" for a, b in rows))
    return path


def test_trained_policy_job_writes_a_checked_tagged_dataset(tmp_path: Path, store: Store, trained_policy: Path) -> None:
    probs = _problems(tmp_path / "p.jsonl", TRAIN_PROBLEMS)
    jid = submit_generation(store, probs, str(trained_policy), SamplingSettings(n=2, temperature=0.0, max_new_tokens=40),
                            dataset_name="trained", tags={"process_reward": "with"}, jobs_root=tmp_path / "jobs")
    job = JobRunner(store, jobs_root=tmp_path / "jobs").wait(jid)
    assert job["status"] == "done", job["error"]
    ds = store.resolve_dataset("trained")
    tags = json.loads(ds["tags"])
    assert tags["checkpoint"] == str(trained_policy) and tags["checkpoint_hash"].startswith("sha256:")
    assert tags["temperature"] == "0.0" and tags["n"] == "2" and tags["process_reward"] == "with"
    prov = json.loads(ds["options"])["generation"]
    assert prov["device"] == "cpu" and "transformers" in prov["versions"]
    rows = store.cursor().execute(
        """SELECT p.problem, t.final_answer, t.final_answer_correct, t.n_steps, t.metadata
           FROM traces t JOIN problems p USING (problem_id) WHERE dataset_id = ? ORDER BY ordinal""",
        [ds["dataset_id"]]).fetchall()
    assert len(rows) == 2 * len(TRAIN_PROBLEMS)
    want = {problem_text(a, b): a + b for a, b in TRAIN_PROBLEMS}
    n_right = 0
    for problem, answer, correct, n_steps, meta in rows:
        completion = json.loads(meta)["completion"]
        # the independent judgement: the integer in \boxed{} against a + b, by hand
        boxed = completion.split("\\boxed{")[-1].split("}")[0] if "\\boxed{" in completion else None
        assert correct is (boxed is not None and boxed.strip() == str(want[problem]))
        assert n_steps == len([p for p in completion.split("\n\n") if p.strip()])
        n_right += bool(correct)
    assert n_right >= len(rows) // 2  # the trained format is really produced and read


def test_seeded_sampling_is_reproducible_and_batch_independent(raw_policy: Path) -> None:
    from prm_viewer.generation.policies import Request, load_policy
    from prm_viewer.generation.prompts import prompt_ids

    policy, _ = load_policy(str(raw_policy), batch_size=4)
    s = SamplingSettings(n=1, temperature=1.0, top_p=0.9, max_new_tokens=12, seed=3)
    reqs = [Request(prompt_ids(policy.tokenizer, problem_text(a, b)), 100 + i) for i, (a, b) in enumerate(TRAIN_PROBLEMS)]
    first = policy.sample(reqs, s)
    again = policy.sample(reqs, s)
    alone = policy.sample(reqs[2:3], s)
    other_seed = policy.sample([Request(reqs[2].prompt_ids, 999)], s)
    policy.close()
    assert [x.text for x in first] == [x.text for x in again]
    assert alone[0].text == first[2].text  # the sample depends on its seed, not on its batch-mates
    assert other_seed[0].text != first[2].text
    assert all(x.n_tokens <= 12 for x in first)


def test_sigkill_and_resume_give_every_sample_exactly_once(tmp_path: Path, store: Store, raw_policy: Path) -> None:
    probs = _problems(tmp_path / "p.jsonl", TRAIN_PROBLEMS)
    settings = SamplingSettings(n=3, temperature=1.0, max_new_tokens=24, seed=7)
    jid = submit_generation(store, probs, str(raw_policy), settings, shard_samples=2, batch_size=2,
                            jobs_root=tmp_path / "jobs")
    job_dir = tmp_path / "jobs" / jid
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "prm_viewer.generation.worker", "--job", str(job_dir)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(jf.shard_paths(job_dir)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_with = len(jf.shard_paths(job_dir))
    assert 0 < killed_with < 9, "the kill should land mid-job"
    job = JobRunner(store, jobs_root=tmp_path / "jobs").wait(jid)  # the runner relaunches and finishes it
    assert job["status"] == "done", job["error"]
    keys = [(r["problem_id"], r["sample_idx"]) for p in jf.shard_paths(job_dir) for r in pq.read_table(p).to_pylist()]
    assert len(keys) == len(set(keys)) == 3 * len(TRAIN_PROBLEMS)
    # the same samples as an uninterrupted run of the same request (per-sample seeds)
    ref = submit_generation(store, probs, str(raw_policy), settings, shard_samples=100, batch_size=2,
                            jobs_root=tmp_path / "jobs2", dataset_name="reference")
    assert ref == jid  # same request, same job: returned as it is
    fresh = tmp_path / "fresh"
    spec = jf.read_spec(job_dir)
    jf.create(fresh, spec, jf.read_inputs(job_dir))
    from prm_viewer.generation.worker import run_job

    assert run_job(fresh) == 0
    got = {(r["problem_id"], r["metadata"]["sample_idx"]): r["completion"] for r in job_rows(job_dir, jid)}
    want = {(r["problem_id"], r["metadata"]["sample_idx"]): r["completion"] for r in job_rows(fresh, jid)}
    assert got == want
    n = store.cursor().execute("SELECT count(*) FROM traces WHERE dataset_id = ?", [job["dataset_id"]]).fetchone()
    assert n is not None and n[0] == 3 * len(TRAIN_PROBLEMS)


def test_cli_generate_check_answers_and_errors(tmp_path: Path, trained_policy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.duckdb")
    probs = _problems(tmp_path / "p.jsonl", TRAIN_PROBLEMS[:2])
    os.environ["PRM_VIEWER_JOBS_DIR"] = str(tmp_path / "jobs")
    try:
        assert cli_main(["--db", db, "generate", "--problems", str(probs), "--checkpoint", str(trained_policy),
                         "--n", "1", "--temperature", "0", "--max-new-tokens", "30", "--dataset", "cli-run"]) == 0
        assert "dataset 'cli-run': 2 traces" in capsys.readouterr().out
        assert cli_main(["--db", db, "generate", "--problems", str(probs), "--checkpoint", str(tmp_path / "nope")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "no such directory" in err and "Traceback" not in err
        assert cli_main(["--db", db, "generate", "--problems", str(probs), "--checkpoint", str(trained_policy),
                         "--top-p", "2"]) == 2
        assert "top-p must be in (0, 1]" in capsys.readouterr().err
    finally:
        os.environ.pop("PRM_VIEWER_JOBS_DIR", None)
    # check-answers over an imported file with reference answers and no labels
    f = tmp_path / "traces.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in [
        {"problem": "1/2 + 1/4?", "steps": ["1/2 + 1/4 = 3/4", "The answer is $\\frac{3}{4}$."], "ref": "0.75"},
        {"problem": "2 + 2?", "steps": ["2 + 2 = 5", "\\boxed{5}"], "ref": "4"},
        {"problem": "no reference?", "steps": ["\\boxed{1}"], "ref": None},
    ]))
    assert cli_main(["--db", db, "import", str(f), "--format", "generic", "--map", "problem=problem",
                     "--map", "steps=steps", "--map", "reference_answer=ref", "--dataset", "imp",
                     "--no-check-answers"]) == 0  # import would check them itself; here the command does
    capsys.readouterr()
    assert cli_main(["--db", db, "check-answers", "--dataset", "imp"]) == 0
    assert "checked 2 traces" in capsys.readouterr().out
    s = Store(db)
    try:
        got = s.cursor().execute(
            """SELECT p.problem, t.final_answer_correct FROM traces t JOIN problems p USING (problem_id)
               JOIN datasets d USING (dataset_id) WHERE d.name = 'imp' ORDER BY ordinal""").fetchall()
    finally:
        s.close()
    assert got == [("1/2 + 1/4?", True), ("2 + 2?", False), ("no reference?", None)]


def test_vllm_backend_matches_transformers_greedy(tmp_path: Path, raw_policy: Path) -> None:
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install -r requirements-vllm.txt)")
    from prm_viewer.generation.policies import Request, load_policy
    from prm_viewer.generation.prompts import prompt_ids

    s = SamplingSettings(n=1, temperature=0.0, max_new_tokens=10)
    tf, _ = load_policy(str(raw_policy), "transformers")
    reqs = [Request(prompt_ids(tf.tokenizer, problem_text(a, b)), i) for i, (a, b) in enumerate(TRAIN_PROBLEMS[:3])]
    want = [x.text for x in tf.sample(reqs, s)]
    tf.close()
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    vl, _ = load_policy(str(raw_policy), "vllm", options={"kv_cache_gib": 1})
    got = vl.sample(reqs, s)
    prefix_caching = bool(vl.lm.llm.llm_engine.vllm_config.cache_config.enable_prefix_caching)
    vl.close()
    assert [x.text for x in got] == want
    assert prefix_caching
