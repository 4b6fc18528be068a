"""The files of a job folder: atomic writes, the folder's life cycle, numbered shards, the lock."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from prm_viewer.errors import PrmViewerError
from prm_viewer.jobfolder.records import SPEC_FILE, STATUS_FILE, JobSpec, Progress, Status
from prm_viewer.jobfolder.results import as_generation_results, as_step_results

TRACES_FILE = "traces.parquet"
SHARDS_DIR = "shards"
PROGRESS_FILE = "progress.json"
LOG_FILE = "worker.log"
LOCK_FILE = "worker.lock"
CANCEL_FILE = "CANCEL"
PROVENANCE_FILE = "provenance.json"  # generate jobs: what the worker actually ran (revision, device, versions)
SHARD_SUFFIX = ".parquet"

STATES = ("starting", "loading", "running", "done", "failed", "cancelled")
"""Worker states in ``progress.json``; the last three are final and also appear in ``status.json``."""
FINAL_STATES = frozenset({"done", "failed", "cancelled"})


# ---------------------------------------------------------------------------- atomic files

def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def is_temp(path: Path) -> bool:
    """Whether ``path`` is a temporary file of an atomic write (ignored by every reader)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        tmp.write_text(json.dumps(obj, default=str))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` when it is absent or unreadable."""
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def clean_temp(job_dir: Path) -> None:
    """Remove temporary files left by a killed writer (the worker does it on start)."""
    job_dir = Path(job_dir)
    for d in (job_dir, job_dir / SHARDS_DIR):
        if d.is_dir():
            for p in d.iterdir():
                if is_temp(p):
                    p.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- the folder

def create(job_dir: Path, spec: JobSpec, inputs: pa.Table) -> None:
    """Write a new job folder: the input table, then the spec (a folder with a spec is complete)."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(job_dir / TRACES_FILE, inputs)
    write_spec(job_dir, spec)


def write_spec(job_dir: Path, spec: JobSpec) -> None:
    if spec.created_at is None:
        spec = JobSpec(job_id=spec.job_id, payload=spec.payload, version=spec.version, created_at=time.time())
    write_json_atomic(Path(job_dir) / SPEC_FILE, spec.to_dict())


def read_spec(job_dir: Path) -> JobSpec:
    """The folder's spec; a missing/unreadable one or one of a newer contract is a PrmViewerError."""
    d = read_json(Path(job_dir) / SPEC_FILE)
    if d is None:
        raise PrmViewerError(f"job folder {job_dir} has no readable {SPEC_FILE}")
    return JobSpec.from_dict(d, job_dir)


def read_inputs(job_dir: Path) -> pa.Table:
    return pq.read_table(Path(job_dir) / TRACES_FILE)


def write_progress(job_dir: Path, progress: Progress) -> None:
    progress.updated_at = time.time()
    write_json_atomic(Path(job_dir) / PROGRESS_FILE, progress.to_dict())


def read_progress(job_dir: Path) -> Progress | None:
    """The latest progress record (``None`` before the worker wrote one)."""
    d = read_json(Path(job_dir) / PROGRESS_FILE)
    return None if d is None else Progress.from_dict(d, job_dir)


def write_status(job_dir: Path, status: Status) -> None:
    if status.finished_at is None:
        status.finished_at = time.time()
    write_json_atomic(Path(job_dir) / STATUS_FILE, status.to_dict())


def read_status(job_dir: Path) -> Status | None:
    """How the worker ended (``None`` while it runs or when it died without saying)."""
    d = read_json(Path(job_dir) / STATUS_FILE)
    return None if d is None else Status.from_dict(d, job_dir)


def clear_status(job_dir: Path) -> None:
    (Path(job_dir) / STATUS_FILE).unlink(missing_ok=True)


def request_cancel(job_dir: Path) -> None:
    (Path(job_dir) / CANCEL_FILE).touch()


def clear_cancel(job_dir: Path) -> None:
    (Path(job_dir) / CANCEL_FILE).unlink(missing_ok=True)


def cancel_requested(job_dir: Path) -> bool:
    return (Path(job_dir) / CANCEL_FILE).exists()


def log_path(job_dir: Path) -> Path:
    return Path(job_dir) / LOG_FILE


def shard_paths(job_dir: Path) -> list[Path]:
    """Complete shards, in order (temporary files are ignored)."""
    d = Path(job_dir) / SHARDS_DIR
    return sorted(p for p in d.glob("*" + SHARD_SUFFIX) if p.stem.isdigit()) if d.is_dir() else []


def iter_shards(job_dir: Path, skip: set[str] | None = None) -> Iterator[tuple[str, pa.Table]]:
    """``(name, step results)`` of each complete shard whose name is not in ``skip``; legacy
    shards (any column order, extra columns) come out as exactly :data:`STEP_RESULT_SCHEMA`."""
    for p in shard_paths(job_dir):
        if skip is None or p.name not in skip:
            yield p.name, read_shard(p)


def read_shard(path: Path) -> pa.Table:
    return as_step_results(pq.read_table(path))


def next_shard_path(job_dir: Path) -> Path:
    existing = shard_paths(job_dir)
    no = int(existing[-1].stem) + 1 if existing else 0
    return Path(job_dir) / SHARDS_DIR / f"{no:05d}{SHARD_SUFFIX}"


def write_shard(job_dir: Path, table: pa.Table) -> Path:
    """Add ``table`` as the next numbered shard, atomically; returns its path."""
    (Path(job_dir) / SHARDS_DIR).mkdir(exist_ok=True)
    path = next_shard_path(job_dir)
    write_parquet_atomic(path, table)
    return path


def done_trace_ids(job_dir: Path) -> set[str]:
    """Trace ids that complete shards already hold (what a resumed worker skips)."""
    ids: set[str] = set()
    for p in shard_paths(job_dir):
        ids.update(pq.read_table(p, columns=["trace_id"]).column("trace_id").to_pylist())
    return ids


def try_lock(job_dir: Path) -> IO[str] | None:
    """Take the folder's exclusive worker lock; ``None`` when another worker holds it. Keep the
    returned handle open for the life of the worker (closing it releases the lock)."""
    fh = open(Path(job_dir) / LOCK_FILE, "a+")
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock; the runner launches one worker per job anyway
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh



def read_generation_shard(path: Path) -> pa.Table:
    """A ``generate`` job's shard as exactly :data:`GENERATION_RESULT_SCHEMA`."""
    return as_generation_results(pq.read_table(path))


def iter_generation_shards(job_dir: Path) -> Iterator[tuple[str, pa.Table]]:
    """``(name, generation results)`` of each complete shard of a ``generate`` job, in order."""
    for p in shard_paths(job_dir):
        yield p.name, read_generation_shard(p)


def done_sample_keys(job_dir: Path) -> set[tuple[str, int]]:
    """``(problem_id, sample_idx)`` keys that complete shards already hold (what a resumed
    generation worker skips)."""
    keys: set[tuple[str, int]] = set()
    for p in shard_paths(job_dir):
        t = pq.read_table(p, columns=["problem_id", "sample_idx"])
        keys.update(zip(t.column("problem_id").to_pylist(), (int(x) for x in t.column("sample_idx").to_pylist())))
    return keys


__all__ = ['CANCEL_FILE', 'FINAL_STATES', 'LOCK_FILE', 'LOG_FILE', 'PROVENANCE_FILE', 'PROGRESS_FILE', 'SHARDS_DIR', 'SHARD_SUFFIX', 'STATES', 'TRACES_FILE', 'cancel_requested', 'clean_temp', 'clear_cancel', 'clear_status', 'create', 'done_sample_keys', 'done_trace_ids', 'is_temp', 'iter_generation_shards', 'iter_shards', 'log_path', 'next_shard_path', 'read_generation_shard', 'read_inputs', 'read_json', 'read_progress', 'read_shard', 'read_spec', 'read_status', 'request_cancel', 'shard_paths', 'try_lock', 'write_json_atomic', 'write_parquet_atomic', 'write_progress', 'write_shard', 'write_spec', 'write_status']
