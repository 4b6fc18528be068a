"""The scoring worker: ``python -m prm_viewer.scoring.worker --job DIR`` (also reachable as
``python -m prm_viewer worker --job DIR``). Never opens the DuckDB file.

It runs a ``score`` job folder as ``prm_viewer/jobfolder.py`` defines it (the contract: file
names, ``JobSpec`` / ``Progress`` / ``Status``, ``STEP_RESULT_SCHEMA`` shards, atomic writes):
reads the spec and ``traces.parquet``, resolves the device and dtype on this machine through
the backend (``Backend.resolve``), loads the engine, writes one shard per ``shard_traces``
traces, and records in ``progress.json`` and ``status.json`` the device and dtype it actually
ran on. ``CANCEL`` (or SIGTERM) stops it before the next shard.

Resume: on start it reads the trace ids of the shards already there and scores only the rest,
so a worker killed at any point (SIGKILL included) and started again loses nothing and scores
nothing twice. ``worker.lock`` (an exclusive ``flock``) stops two workers sharing a folder.
Exit codes: 0 done, 3 failed, 4 cancelled, 5 another worker holds the job.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from prm_viewer import jobfolder as jf
from prm_viewer.jobfolder import Progress, ScorePayload

# Names that lived here before the contract moved to jobfolder.py (tests and tools import them).
SHARD_SCHEMA = jf.STEP_RESULT_SCHEMA
read_json = jf.read_json
write_json_atomic = jf.write_json_atomic
shard_paths = jf.shard_paths
done_trace_ids = jf.done_trace_ids

EXIT_DONE, EXIT_FAILED, EXIT_CANCELLED, EXIT_BUSY = jf.EXIT_DONE, jf.EXIT_FAILED, jf.EXIT_CANCELLED, jf.EXIT_BUSY
Cancelled = jf.Cancelled


def run_job(job_dir: Path) -> int:
    """Run (or resume) the scoring job in ``job_dir``; returns the process exit code (0 done,
    3 failed, 4 cancelled, 5 another worker holds the job)."""
    return jf.run_job_folder(Path(job_dir), ScorePayload, _run, "scoring")


def _run(job_dir: Path, job: ScorePayload, progress: Progress) -> None:
    from prm_viewer.scoring.backends import get_backend
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput

    jf.clean_temp(job_dir)
    table = jf.read_inputs(job_dir)
    done = jf.done_trace_ids(job_dir)
    ids = [str(t) for t in table.column("trace_id").to_pylist()]
    todo = [i for i, t in enumerate(ids) if t not in done]
    scorer = ScorerSpec.from_dict(job.scorer)
    progress.backend = scorer.backend
    progress.traces_total, progress.traces_done, progress.state = len(ids), len(ids) - len(todo), "loading"
    jf.write_progress(job_dir, progress)
    jf.check_cancel(job_dir)
    # what this machine makes of the request (auto -> cuda/bf16 or cpu/float32), before loading
    progress.device, progress.dtype = get_backend(scorer.backend).resolve(scorer.device, scorer.dtype)
    engine = load_engine(scorer, scorer_id=job.scorer_id)
    runner = engine.runner
    # the truth: what the loaded runner reports
    progress.device, progress.dtype, progress.state = runner.device, runner.dtype, "running"
    sharing = getattr(runner, "prefix_sharing", None)
    progress.prefix_sharing = bool(sharing) if sharing is not None else None
    jf.write_progress(job_dir, progress)
    problems = table.column("problem").to_pylist()
    steps = table.column("steps").to_pylist()
    # Job folders written before reference answers travelled with the traces have no such column.
    refs = (table.column("reference_answer").to_pylist() if "reference_answer" in table.column_names
            else [None] * len(problems))
    per_shard = max(1, int(job.shard_traces))
    started = time.perf_counter()
    done_here = 0
    for start in range(0, len(todo), per_shard):
        jf.check_cancel(job_dir)
        chunk = todo[start:start + per_shard]
        traces = [TraceInput(ids[i], problems[i], steps[i], refs[i]) for i in chunk]
        result = jf.as_step_results(score_traces(engine, traces), job.scorer_id)
        jf.write_shard(job_dir, result)
        done_here += len(chunk)
        elapsed = time.perf_counter() - started
        remaining = len(todo) - done_here
        progress.traces_done = len(ids) - remaining
        progress.steps_done += len(result)
        progress.tokens_per_s = engine.tokens / elapsed if elapsed > 0 else None
        progress.eta_s = remaining * elapsed / done_here if done_here else None
        jf.write_progress(job_dir, progress)
    engine.close()


def main(job_dir: str) -> int:
    """Entry point of the worker process (the CLI's ``worker`` command calls it too)."""
    jf.prepare_worker_process()
    return run_job(Path(job_dir))


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m prm_viewer.scoring.worker", description="run one scoring job folder")
    parser.add_argument("--job", required=True, help=f"job folder with {jf.SPEC_FILE} and {jf.TRACES_FILE}")
    return main(parser.parse_args(argv).job)


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
