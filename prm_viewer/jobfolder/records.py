"""The versioned records of a job folder: ``spec.json`` (JobSpec with one payload per job kind),
``progress.json`` (Progress), ``status.json`` (Status)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from prm_viewer.errors import PrmViewerError
from prm_viewer.jobfolder.results import GENERATION_RESULT_SCHEMA, STEP_RESULT_SCHEMA

CONTRACT_VERSION = 1
"""The newest job-folder contract this code reads and the one it writes."""

LEGACY_VERSION = 1
"""What a file without ``version`` (written before versioning) reads as."""

SPEC_FILE = "spec.json"
STATUS_FILE = "status.json"

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


@dataclass(frozen=True)
class GeneratePayload:
    """The ``generate`` kind: sample a policy checkpoint on a problem set; output = one row per
    (problem, sample index) (:data:`GENERATION_RESULT_SCHEMA`). The input table holds the problems
    (``problem_id, problem, reference_answer, category, split``)."""

    checkpoint: str
    """The policy checkpoint: local folder or hub id."""
    dataset_name: str
    """The name the resulting dataset gets (made unique when it is written)."""
    n: int = 4
    """Samples per problem."""
    temperature: float = 0.7
    """Sampling temperature (0 = greedy)."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    max_new_tokens: int = 1024
    """The most tokens of one sample."""
    seed: int = 0
    """The job's seed; each sample's seed is ``seed`` + a hash of (problem_id, sample_idx), so a
    resumed job draws the same sample for the same key."""
    stop: tuple[str, ...] = ()
    """Strings that end a sample (not included)."""
    prompt_template: str | None = None
    """A user prompt with ``{problem}``; ``None`` = the default (step-by-step, final ``\\boxed{}``)."""
    system_prompt: str | None = None
    """A system message for chat templates (``None``: the default one)."""
    use_chat_template: bool = True
    """Wrap the prompt in the tokenizer's chat template when it has one."""
    backend: str = "transformers"
    """``transformers`` | ``vllm`` | ``vllm-server``."""
    device: str = "auto"
    """Requested device (the worker resolves it)."""
    dtype: str = "auto"
    """Requested dtype (the worker resolves it)."""
    batch_size: int = 16
    """Sequences decoded together (transformers backend)."""
    backend_options: dict[str, Any] = field(default_factory=dict)
    """Backend options (vllm-server's ``endpoints``, vllm's ``kv_cache_gib``...)."""
    trust_remote_code: bool = False
    """Let transformers run code shipped with the checkpoint."""
    split_rule: str = "blankline"
    """How the owner splits each sample into steps (``generation.steps``); the owner may change it
    until the dataset is written."""
    shard_samples: int = 64
    """Samples per output shard (the unit of progress and resume)."""

    kind: ClassVar[str] = "generate"
    output_schema: ClassVar[pa.Schema] = GENERATION_RESULT_SCHEMA
    worker_module: ClassVar[str] = "prm_viewer.generation.worker"

    def sampling(self) -> dict[str, Any]:
        """The sampling settings (what tags and provenance record)."""
        return {"n": self.n, "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens, "seed": self.seed, "stop": list(self.stop)}


Payload = ScorePayload | GeneratePayload
"""The union of the payload types (one per job kind)."""

PAYLOADS: dict[str, type[ScorePayload] | type[GeneratePayload]] = {"score": ScorePayload, "generate": GeneratePayload}
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
        known = _known(ptype, body)
        if isinstance(known.get("stop"), list):  # JSON has no tuples
            known["stop"] = tuple(known["stop"])
        try:
            payload = ptype(**known)
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




__all__ = ['CONTRACT_VERSION', 'GeneratePayload', 'JOB_KINDS', 'JobSpec', 'LEGACY_VERSION', 'PAYLOADS', 'Payload', 'Progress', 'SPEC_FILE', 'STATUS_FILE', 'ScorePayload', 'Status', 'check_version']
