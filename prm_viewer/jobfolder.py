"""The job-folder contract: what a worker reads and writes. THE seam between the database owner
(``jobs.py``) and a worker process, which may run on another machine with the same folder.

A job folder ``<jobs_dir>/<job_id>/`` holds::

    spec.json            JobSpec: {version, kind, job_id, <kind>: payload}   (owner writes, once)
    traces.parquet       the input rows (score: trace_id, problem, steps, reference_answer)
    CANCEL               present = the worker stops before its next shard     (owner touches)
    shards/NNNNN.parquet numbered output shards, each complete or absent      (worker writes)
    progress.json        Progress, replaced atomically while the worker runs  (worker writes)
    status.json          Status, written once when the worker exits           (worker writes)
    worker.log           the worker's stdout/stderr (tracebacks of crashes)   (owner redirects)
    worker.lock          an exclusive flock: one worker per folder            (worker holds)

Every file is written to a temporary name and renamed, so a reader never sees half a file and a
worker killed at any point (SIGKILL included) leaves only complete files behind. A restarted
worker reads :func:`done_trace_ids` and skips what the shards already hold, and the owner ingests
shards idempotently, so nothing is lost and nothing is produced twice.

Versioning: ``spec.json``, ``progress.json`` and ``status.json`` carry ``version``
(:data:`CONTRACT_VERSION`). A file without one was written before the contract was versioned and
reads as version 1; a file of a newer version fails with a clear :class:`PrmViewerError` instead
of being half-understood.

Job kinds: the spec's ``kind`` names its payload (``"score"`` today: :class:`ScorePayload`).
A new kind (``"generate"``, ``"train"``) adds a payload dataclass to :data:`PAYLOADS` and its
output schema here; the header, the files and the progress/status records stay the same.

This module imports only the standard library, pyarrow and ``prm_viewer.errors``: a worker of any
kind, or a tool on another machine, can use it without the scoring stack.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from prm_viewer.errors import PrmViewerError

CONTRACT_VERSION = 1
"""The newest job-folder contract this code reads and the one it writes."""

LEGACY_VERSION = 1
"""What a file without ``version`` (written before versioning) reads as."""

# ---------------------------------------------------------------------------- file names

SPEC_FILE = "spec.json"
TRACES_FILE = "traces.parquet"
SHARDS_DIR = "shards"
PROGRESS_FILE = "progress.json"
STATUS_FILE = "status.json"
LOG_FILE = "worker.log"
LOCK_FILE = "worker.lock"
CANCEL_FILE = "CANCEL"
SHARD_SUFFIX = ".parquet"

# ---------------------------------------------------------------------------- states

STATES = ("starting", "loading", "running", "done", "failed", "cancelled")
"""Worker states in ``progress.json``; the last three are final and also appear in ``status.json``."""
FINAL_STATES = frozenset({"done", "failed", "cancelled"})

# ---------------------------------------------------------------------------- the step-result schema

STEP_RESULT_SCHEMA = pa.schema([
    pa.field("scorer_id", pa.string()),  # the scorer (NULL from a bare engine, outside a job)
    pa.field("trace_id", pa.string()),
    pa.field("step_idx", pa.int32()),  # 0-based
    pa.field("score", pa.float64()),  # in [0, 1]; NULL = not scored (``note`` says why)
    pa.field("raw", pa.float64()),  # the recipe's raw value (logit, log-ratio, probability...)
    pa.field("note", pa.string()),  # why a step has no score, or a recipe's remark; usually NULL
])
"""THE per-step result: one row per (scorer, trace, step). The engine's output, every recipe's
``score()`` result, a score job's shards, imported scores and the store's ``step_scores`` rows
all have exactly these columns, in this order."""


def empty_step_results() -> pa.Table:
    """A table of :data:`STEP_RESULT_SCHEMA` with no rows."""
    return STEP_RESULT_SCHEMA.empty_table()


def as_step_results(table: pa.Table, scorer_id: str | None = None) -> pa.Table:
    """``table`` as exactly :data:`STEP_RESULT_SCHEMA` (columns selected by name, in order, cast).
    A missing ``scorer_id`` column is added; ``scorer_id`` given sets it on every row."""
    n = table.num_rows
    cols: list[pa.Array | pa.ChunkedArray] = []
    for f in STEP_RESULT_SCHEMA:
        if f.name == "scorer_id" and (scorer_id is not None or f.name not in table.column_names):
            cols.append(pa.array([scorer_id] * n, pa.string()))
        elif f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            raise PrmViewerError(f"a step-result table lacks the column '{f.name}' (has {table.column_names})")
    return pa.Table.from_arrays(cols, schema=STEP_RESULT_SCHEMA)


# ---------------------------------------------------------------------------- records

def check_version(version: object, where: str | Path) -> int:
    """The contract version of a record read from ``where`` (``None`` = legacy = v1); raises a
    clear PrmViewerError for a newer (or unreadable) version."""
    if version is None:
        return LEGACY_VERSION
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PrmViewerError(f"job folder {where} has an unreadable contract version {version!r}")
    if version > CONTRACT_VERSION:
        raise PrmViewerError(
            f"job folder {where} was written by a newer prm_viewer (contract v{version}; "
            f"this one reads up to v{CONTRACT_VERSION}): upgrade prm_viewer")
    return version


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


@dataclass(frozen=True)
class ScorePayload:
    """The ``score`` kind: run one scorer over one dataset's traces; output = step results."""

    scorer_id: str
    """The store's id of the scorer; every output row carries it."""
    dataset_id: str
    """The dataset whose traces ``traces.parquet`` holds (for people and the owner)."""
    scorer: dict[str, Any]
    """``ScorerSpec.to_dict()``: everything that rebuilds the scorer in the worker (recipe,
    checkpoint, backend, the *requested* device/dtype, options)."""
    shard_traces: int = 256
    """Traces per output shard (a shard is the unit of progress and of resume)."""

    kind: ClassVar[str] = "score"
    output_schema: ClassVar[pa.Schema] = STEP_RESULT_SCHEMA
    worker_module: ClassVar[str] = "prm_viewer.scoring.worker"
    """The module a runner launches as the worker: ``python -m <worker_module> --job DIR``."""


Payload = ScorePayload
"""The union of the payload types (one per job kind)."""

PAYLOADS: dict[str, type[ScorePayload]] = {"score": ScorePayload}
"""Job kind -> payload dataclass."""

JOB_KINDS = tuple(PAYLOADS)


@dataclass(frozen=True)
class JobSpec:
    """``spec.json``: what the worker must do. Written once by the owner, read by the worker."""

    job_id: str
    """Deterministic id of the job (``jobs.job_key``); the folder's name."""
    payload: Payload
    """The kind-specific part (``spec.json`` stores it under the key named by ``kind``)."""
    version: int = CONTRACT_VERSION
    """The contract version the folder was written with."""
    created_at: float | None = None
    """Unix time the owner wrote the spec (``None`` in legacy folders)."""

    @property
    def kind(self) -> str:
        """The job kind (``"score"``, later ``"generate"``, ``"train"``): selects the payload
        type, the worker and the output schema."""
        return self.payload.kind

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "kind": self.kind, "job_id": self.job_id,
                "created_at": self.created_at, self.kind: asdict(self.payload)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str | Path = "?") -> JobSpec:
        version = check_version(d.get("version"), where)
        kind = d.get("kind", "score")  # legacy folders are score jobs
        if kind not in PAYLOADS:
            raise PrmViewerError(f"job folder {where} holds a '{kind}' job, which this prm_viewer cannot run "
                                 f"(it knows {', '.join(JOB_KINDS)}): upgrade prm_viewer")
        body = d.get(kind)
        if not isinstance(body, dict):  # legacy layout: the payload's fields at the top level
            body = d
        ptype = PAYLOADS[kind]
        try:
            payload = ptype(**_known(ptype, body))
        except TypeError as exc:
            raise PrmViewerError(f"job folder {where}: {SPEC_FILE} is incomplete ({exc})") from None
        return cls(job_id=str(d.get("job_id", Path(str(where)).name)), payload=payload, version=version,
                   created_at=d.get("created_at"))


@dataclass
class Progress:
    """``progress.json``: the worker's latest state, replaced atomically after each shard."""

    state: str = "starting"
    """One of :data:`STATES`."""
    pid: int | None = None
    """The worker's process id (on the worker's machine)."""
    traces_total: int | None = None
    """Input rows of the job (``None`` until the input is read)."""
    traces_done: int = 0
    """Input rows whose output is in complete shards (from earlier runs included)."""
    steps_done: int = 0
    """Output rows written by this run."""
    tokens_per_s: float | None = None
    """Throughput of this run (model tokens per second)."""
    eta_s: float | None = None
    """Estimated seconds left."""
    backend: str | None = None
    """The backend that runs the model."""
    device: str | None = None
    """The device the worker actually runs on (resolved from the request, e.g. ``auto`` ->
    ``cuda``); the truth about where the job ran."""
    dtype: str | None = None
    """The dtype the worker actually runs in (resolved, e.g. ``auto`` -> ``bfloat16``)."""
    prefix_sharing: bool | None = None
    """Whether the runner shares prompt prefixes between steps (``None``: not applicable)."""
    updated_at: float | None = None
    """Unix time of this record."""
    version: int = CONTRACT_VERSION
    """The contract version of this record."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str | Path = "?") -> Progress:
        version = check_version(d.get("version"), where)
        return cls(**{**_known(cls, d), "version": version})


@dataclass
class Status:
    """``status.json``: how the worker ended, written once at exit (absent while it runs, and
    when it was killed before it could write one)."""

    state: str
    """``done``, ``failed`` or ``cancelled``."""
    error: str | None = None
    """The one-line reason of a failure (``None`` otherwise)."""
    device: str | None = None
    """The device the worker ran on (``None`` if it failed before loading the model)."""
    dtype: str | None = None
    """The dtype the worker ran in."""
    finished_at: float | None = None
    """Unix time the worker ended."""
    version: int = CONTRACT_VERSION
    """The contract version of this record."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str | Path = "?") -> Status:
        version = check_version(d.get("version"), where)
        if "state" not in d:
            raise PrmViewerError(f"job folder {where}: {STATUS_FILE} has no state")
        return cls(**{**_known(cls, d), "version": version})


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

