"""Evaluation through the product: sampled test traces become datasets (the generic importer),
the tiny PRM and the exact verifier score them in scoring jobs (``jobs.JobRunner`` launching the
real worker), and the analysis reports compare the two runs.

Sampling goes through the product's generation jobs (``generation.submit_generation``, run by
the ``JobRunner`` in worker subprocesses, prompts built by the same function the policies trained
with); each sample's completion is read back from the job folder, labelled by the exact verifier
and written as a trace file with the run's tags (``process_reward``, ``split`` per trace).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prm_viewer.experiment import policy
from prm_viewer.experiment.config import ExperimentConfig
from prm_viewer.experiment.tasks import Splits, parse_completion, trace_record
from prm_viewer.store import Store

IMPORT_OPTIONS: dict[str, Any] = {"map": {
    "id": "id", "problem": "problem", "steps": "steps", "final_answer": "final_answer",
    "reference_answer": "reference_answer", "correct": "correct", "step_labels": "step_labels",
    "generator": "generator", "category": "category", "split": "split", "problem_id": "problem_id",
}}
"""The generic importer's mapping of the experiment's trace files (``--format generic --map ...``)."""

PRM_SCORER = "tiny-prm (experiment)"
VERIFIER_SCORER = "verifier (experiment)"
DATASET = "experiment-{run}-process-reward"
HELDOUT = "experiment-prm-heldout"


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)
    return path


def sample_run(cfg: ExperimentConfig, tok: Any, checkpoint: Path, splits: Splits, run: str) -> list[dict[str, Any]]:
    """``eval_samples`` answers per test problem from one policy, as import records."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(checkpoint)).eval()
    tasks = splits.test()
    samples = policy.sample(model, tok, [t.text for t in tasks], cfg.eval_samples, cfg.eval_temperature,
                            cfg.eval_max_new_tokens, seed=cfg.seed + 99)
    owners = [(t, k) for t in tasks for k in range(cfg.eval_samples)]
    gen = f"tiny-policy-{run}-process-reward"
    return [trace_record(t, s.steps, gen, k, run) for (t, k), s in zip(owners, samples)]


def problem_table(splits: Splits) -> Any:
    """The test problems as a generation job's input table (``generation.PROBLEM_SCHEMA``)."""
    import pyarrow as pa

    from prm_viewer.generation import PROBLEM_SCHEMA

    tasks = splits.test()
    return pa.table({"problem_id": [t.problem_id for t in tasks], "problem": [t.text for t in tasks],
                     "reference_answer": [str(t.answer) for t in tasks], "category": [t.category for t in tasks],
                     "split": [t.split for t in tasks]}, schema=PROBLEM_SCHEMA)


def sample_runs(store: Store, cfg: ExperimentConfig, splits: Splits, checkpoints: dict[str, Path], jobs_root: Path,
                on_progress: Callable[[int, int], None] | None = None) -> dict[str, list[dict[str, Any]]]:
    """One generation job per policy (``eval_samples`` per test problem, seeded), run together;
    returns each run's samples as import records (verifier labels, problem split and category)."""
    import time

    from prm_viewer.errors import PrmViewerError
    from prm_viewer.generation import SamplingSettings, submit_generation
    from prm_viewer.generation.dataset import job_rows
    from prm_viewer.jobs import FINISHED, JobRunner

    table = problem_table(splits)
    sampling = SamplingSettings(n=cfg.eval_samples, temperature=cfg.eval_temperature,
                                max_new_tokens=cfg.eval_max_new_tokens, seed=cfg.seed + 99)
    ids = {run: submit_generation(store, table, str(ck), sampling, dataset_name=f"generated-{run}-process-reward",
                                  prompt_template=policy.TEMPLATE, system_prompt=policy.SYSTEM, split_rule="newline",
                                  tags={"process_reward": run}, device="cpu", dtype="float32", batch_size=128,
                                  jobs_root=jobs_root)
           for run, ck in checkpoints.items()}
    runner = JobRunner(store, jobs_root=jobs_root, max_workers=2)
    while True:
        runner.poll()
        rows = {run: store.get_job(j) or {} for run, j in ids.items()}
        if on_progress:
            on_progress(sum(int(r.get("traces_done") or 0) for r in rows.values()),
                        sum(int(r.get("traces_total") or 0) for r in rows.values()))
        if all(r.get("status") in FINISHED for r in rows.values()):
            break
        time.sleep(0.5)
    by_id = {t.problem_id: t for t in splits.test()}
    out: dict[str, list[dict[str, Any]]] = {}
    for run, job in rows.items():
        if job.get("status") != "done":
            raise PrmViewerError(f"generation job {job.get('job_id')} ended {job.get('status')}: {job.get('error')}")
        out[run] = [trace_record(by_id[r["problem_id"]], parse_completion(r["completion"]),
                                 f"tiny-policy-{run}-process-reward", int(r["metadata"]["sample_idx"]), run)
                    for r in job_rows(Path(job["job_dir"]), str(job["job_id"]))]
    return out


def heldout_records(splits: Splits, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Constructed traces (injected errors) on the test problems, for the PRM's held-out F1."""
    by_id = {t.problem_id: t for t in splits.test()}
    return [trace_record(by_id[r["problem_id"]], r["steps"], "injected (held-out)", i, "heldout")
            for i, r in enumerate(records)]


def import_traces(store: Store, path: Path, name: str, tags: dict[str, str]) -> str:
    """Import one trace file (generic format); returns the dataset id. Not flagged synthetic:
    the traces are sampled from trained policies (on synthetic tasks), not generated records."""
    from prm_viewer.ingest import import_file

    return import_file(store, path, fmt="generic", options=IMPORT_OPTIONS, name=name, tags=tags).dataset_id


def register_scorers(store: Store, prm_dir: Path, threshold: float) -> tuple[str, str]:
    """The tiny PRM (qwen-prm recipe, transformers backend, CPU) and the exact verifier."""
    from prm_viewer.scoring.scorers import register_scorer

    prm = register_scorer(store, str(prm_dir), recipe="qwen-prm", backend="transformers", device="cpu",
                          threshold=threshold, name=None if store.scorer_by_name(PRM_SCORER) else PRM_SCORER)
    ver = register_scorer(store, None, recipe="verifier", threshold=0.5,
                          name=None if store.scorer_by_name(VERIFIER_SCORER) else VERIFIER_SCORER)
    return str(prm["scorer_id"]), str(ver["scorer_id"])


def score_all(store: Store, pairs: list[tuple[str, str]], jobs_root: Path,
              on_progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Submit one scoring job per (scorer, dataset) and wait for all; returns the final rows.
    A job that does not finish ``done`` raises with its error."""
    import time

    from prm_viewer.errors import PrmViewerError
    from prm_viewer.jobs import FINISHED, JobRunner

    # two workers overlap one's start-up (imports, model load) with the other's scoring
    runner = JobRunner(store, jobs_root=jobs_root, max_workers=2)
    ids = [runner.submit(scorer, dataset) for scorer, dataset in pairs]
    while True:
        runner.poll()
        rows = [store.get_job(j) or {} for j in ids]
        if on_progress:
            on_progress(sum(1 for r in rows if r.get("status") in FINISHED), len(ids))
        if all(r.get("status") in FINISHED for r in rows):
            break
        time.sleep(0.5)
    bad = [r for r in rows if r.get("status") != "done"]
    if bad:
        raise PrmViewerError(f"scoring job {bad[0]['job_id']} ended {bad[0]['status']}: {bad[0].get('error')}")
    return rows
