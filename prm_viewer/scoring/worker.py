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

import os
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType

from prm_viewer import jobfolder as jf
from prm_viewer.errors import PrmViewerError
from prm_viewer.jobfolder import Progress, ScorePayload, Status

# Names that lived here before the contract moved to jobfolder.py (tests and tools import them).
SHARD_SCHEMA = jf.STEP_RESULT_SCHEMA
read_json = jf.read_json
write_json_atomic = jf.write_json_atomic
shard_paths = jf.shard_paths
done_trace_ids = jf.done_trace_ids

EXIT_DONE, EXIT_FAILED, EXIT_CANCELLED, EXIT_BUSY = 0, 3, 4, 5


class Cancelled(Exception):
    """The job was asked to stop (``CANCEL`` file or SIGTERM)."""


def run_job(job_dir: Path) -> int:
    """Run (or resume) the job in ``job_dir``; returns the process exit code (0 done, 3 failed,
    4 cancelled, 5 another worker holds the job)."""
    job_dir = Path(job_dir)
    lock = jf.try_lock(job_dir)
    if lock is None:
        print(f"another worker is running the job in {job_dir}", file=sys.stderr)
        return EXIT_BUSY
    # SIGTERM (cancel from the runner) becomes an exception so the status gets written.
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        return _run_locked(job_dir)
    finally:
        signal.signal(signal.SIGTERM, previous)
        lock.close()


def _run_locked(job_dir: Path) -> int:
    jf.clear_status(job_dir)
    progress = Progress(state="starting", pid=os.getpid())
    try:
        spec = jf.read_spec(job_dir)
        if not isinstance(spec.payload, ScorePayload):  # pragma: no cover - one kind today
            raise PrmViewerError(f"job folder {job_dir}: the scoring worker cannot run a '{spec.kind}' job")
        _run(job_dir, spec.payload, progress)
    except Cancelled:
        _finish(job_dir, progress, "cancelled", None)
        return EXIT_CANCELLED
    except BaseException as exc:  # the job fails with the reason; shards written so far stay
        traceback.print_exc()
        _finish(job_dir, progress, "failed", _reason(exc))
        return EXIT_FAILED
    _finish(job_dir, progress, "done", None)
    return EXIT_DONE


def _finish(job_dir: Path, progress: Progress, state: str, error: str | None) -> None:
    progress.state = state
    if state == "done":
        progress.eta_s = 0.0
    jf.write_progress(job_dir, progress)
    jf.write_status(job_dir, Status(state=state, error=error, device=progress.device, dtype=progress.dtype))


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Cancelled()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, PrmViewerError):
        return str(exc)
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or "OutOfMemory" in name or "out of memory" in str(exc).lower():
        return f"out of memory ({name}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); lower --batch-tokens or use a smaller dtype"
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"worker crashed: {name}: {first} (traceback in {jf.LOG_FILE})"


def _check_cancel(job_dir: Path) -> None:
    if jf.cancel_requested(job_dir):
        raise Cancelled()


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
    _check_cancel(job_dir)
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
        _check_cancel(job_dir)
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
    # a child process: no progress bars of libraries in the log
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    return run_job(Path(job_dir))


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m prm_viewer.scoring.worker", description="run one scoring job folder")
    parser.add_argument("--job", required=True, help=f"job folder with {jf.SPEC_FILE} and {jf.TRACES_FILE}")
    return main(parser.parse_args(argv).job)


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
