"""The scoring worker: ``python -m prm_viewer worker --job DIR``. Never opens the DuckDB file.

Contract (a job folder, see ``jobs.py``):

in   ``spec.json``       ``{"job_id", "scorer_id", "dataset_id", "scorer": ScorerSpec, "shard_traces"}``
     ``traces.parquet``  ``trace_id, problem, steps (list<string>)``
     ``CANCEL``          (optional) present = stop before the next shard
out  ``shards/NNNNN.parquet``  ``scorer_id, trace_id, step_idx, score, raw, note``: every step of
                         each trace it holds; written to a temporary name then renamed, so a
                         shard is complete or absent
     ``progress.json``   ``state, traces_total, traces_done, steps_done, tokens_per_s, eta_s, pid,
                         device, dtype, updated_at`` (replaced atomically)
     ``status.json``     at exit: ``{"state": "done"|"failed"|"cancelled", "error": ...}``
     ``worker.log``      what the runner redirects stdout/stderr to (tracebacks of crashes)

Resume: on start it reads the trace ids of the shards already there and scores only the rest,
so a worker killed at any point (SIGKILL included) and started again loses nothing and scores
nothing twice. ``worker.lock`` (an exclusive ``flock``) stops two workers sharing a folder.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prm_viewer.errors import PrmViewerError

SHARD_SCHEMA = pa.schema([
    ("scorer_id", pa.string()),
    ("trace_id", pa.string()),
    ("step_idx", pa.int32()),
    ("score", pa.float64()),
    ("raw", pa.float64()),
    ("note", pa.string()),
])


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def shard_paths(job_dir: Path) -> list[Path]:
    """Complete shards, in order (temporary files are ignored)."""
    d = job_dir / "shards"
    return sorted(p for p in d.glob("*.parquet") if p.stem.isdigit()) if d.is_dir() else []


def done_trace_ids(job_dir: Path) -> set[str]:
    ids: set[str] = set()
    for p in shard_paths(job_dir):
        ids.update(pq.read_table(p, columns=["trace_id"]).column("trace_id").to_pylist())
    return ids


class _Cancelled(Exception):
    pass


def run_job(job_dir: Path) -> int:
    """Run (or resume) the job in ``job_dir``; returns the process exit code (0 done, 3 failed,
    4 cancelled, 5 another worker holds the job)."""
    job_dir = Path(job_dir)
    lock = _try_lock(job_dir)
    if lock is None:
        print(f"another worker is running the job in {job_dir}", file=sys.stderr)
        return 5
    (job_dir / "status.json").unlink(missing_ok=True)
    state: dict[str, Any] = {"state": "starting", "pid": os.getpid(), "traces_total": None, "traces_done": 0,
                             "steps_done": 0, "tokens_per_s": None, "eta_s": None}
    progress = job_dir / "progress.json"
    try:
        # SIGTERM (cancel from the runner) becomes an exception so the status gets written.
        signal.signal(signal.SIGTERM, _on_term)
        spec = json.loads((job_dir / "spec.json").read_text())
        code = _run(job_dir, spec, state, progress)
    except _Cancelled:
        state["state"] = "cancelled"
        write_json_atomic(progress, state)
        write_json_atomic(job_dir / "status.json", {"state": "cancelled", "error": None})
        return 4
    except BaseException as exc:  # the job fails with the reason; shards written so far stay
        reason = _reason(exc)
        traceback.print_exc()
        state["state"] = "failed"
        write_json_atomic(progress, state)
        write_json_atomic(job_dir / "status.json", {"state": "failed", "error": reason})
        return 3
    return code


def _on_term(signum: int, frame: Any) -> None:
    raise _Cancelled()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, PrmViewerError):
        return str(exc)
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or "OutOfMemory" in name or "out of memory" in str(exc).lower():
        return f"out of memory ({name}: {str(exc).splitlines()[0][:200] if str(exc) else ''}); lower --batch-tokens or use a smaller dtype"
    first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"worker crashed: {name}: {first} (traceback in worker.log)"


def _try_lock(job_dir: Path) -> Any:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock; the runner launches one worker per job anyway
        return object()
    fh = open(job_dir / "worker.lock", "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh  # kept open (and locked) for the life of the process


def _run(job_dir: Path, spec: dict[str, Any], state: dict[str, Any], progress: Path) -> int:
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput

    shards = job_dir / "shards"
    shards.mkdir(exist_ok=True)
    for tmp in shards.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    table = pq.read_table(job_dir / "traces.parquet")
    done = done_trace_ids(job_dir)
    ids = table.column("trace_id").to_pylist()
    todo = [i for i, t in enumerate(ids) if t not in done]
    state.update(traces_total=len(ids), traces_done=len(ids) - len(todo), state="loading")
    write_json_atomic(progress, state)
    if (job_dir / "CANCEL").exists():
        raise _Cancelled()
    engine = load_engine(ScorerSpec.from_dict(spec["scorer"]))
    state.update(device=engine.runner.device, dtype=engine.runner.dtype, state="running",
                 prefix_sharing=getattr(engine.runner, "prefix_sharing", None))
    write_json_atomic(progress, state)
    problems = table.column("problem").to_pylist()
    steps = table.column("steps").to_pylist()
    # Job folders written before reference answers travelled with the traces have no such column.
    refs = (table.column("reference_answer").to_pylist() if "reference_answer" in table.column_names
            else [None] * len(problems))
    scorer_id = spec["scorer_id"]
    per_shard = max(1, int(spec.get("shard_traces", 256)))
    existing = shard_paths(job_dir)
    next_no = int(existing[-1].stem) + 1 if existing else 0
    started = time.perf_counter()
    done_here = 0
    for start in range(0, len(todo), per_shard):
        if (job_dir / "CANCEL").exists():
            raise _Cancelled()
        chunk = todo[start:start + per_shard]
        traces = [TraceInput(ids[i], problems[i], steps[i], refs[i]) for i in chunk]
        result = score_traces(engine, traces)
        result = result.add_column(0, "scorer_id", pa.array([scorer_id] * len(result), pa.string())).cast(SHARD_SCHEMA)
        tmp = shards / f".{next_no:05d}.parquet.tmp"
        pq.write_table(result, tmp)
        os.replace(tmp, shards / f"{next_no:05d}.parquet")
        next_no += 1
        done_here += len(chunk)
        elapsed = time.perf_counter() - started
        remaining = len(todo) - done_here
        state.update(traces_done=state["traces_total"] - remaining, steps_done=state["steps_done"] + len(result),
                     tokens_per_s=engine.tokens / elapsed if elapsed > 0 else None,
                     eta_s=remaining * elapsed / done_here if done_here else None, updated_at=time.time())
        write_json_atomic(progress, state)
    engine.close()
    state.update(state="done", eta_s=0.0)
    write_json_atomic(progress, state)
    write_json_atomic(job_dir / "status.json", {"state": "done", "error": None})
    return 0


def main(job_dir: str) -> int:
    # a child process: no progress bars of libraries in the log
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    return run_job(Path(job_dir))
