"""Sampling settings and per-sample seeds (identical meaning on every backend)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from prm_viewer.errors import PrmViewerError


@dataclass(frozen=True)
class SamplingSettings:
    """How a policy samples."""

    n: int = 4
    """Samples per problem."""
    temperature: float = 0.7
    """0 = greedy."""
    top_p: float = 1.0
    """Nucleus mass in (0, 1]."""
    max_new_tokens: int = 1024
    """The most tokens of one sample."""
    seed: int = 0
    """The job seed (see :func:`sample_seed`)."""
    stop: tuple[str, ...] = ()
    """Strings that end a sample (not included in its text)."""

    def __post_init__(self) -> None:
        if self.n < 1:
            raise PrmViewerError(f"n (samples per problem) must be at least 1, not {self.n}")
        if self.temperature < 0:
            raise PrmViewerError(f"temperature must be >= 0, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise PrmViewerError(f"top-p must be in (0, 1], not {self.top_p}")
        if self.max_new_tokens < 1:
            raise PrmViewerError(f"max new tokens must be at least 1, not {self.max_new_tokens}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplingSettings:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "stop" in known:
            known["stop"] = tuple(known["stop"] or ())
        return cls(**known)


def sample_seed(job_seed: int, problem_id: str, sample_idx: int) -> int:
    """The seed of one sample: the job seed plus a hash of its key, in [0, 2**31). A resumed
    job, or the same sample in another batch, draws with the same seed."""
    h = int(hashlib.sha256(f"{problem_id}\0{int(sample_idx)}".encode()).hexdigest()[:8], 16)
    return (int(job_seed) + h) % (2 ** 31)


__all__ = ["SamplingSettings", "sample_seed"]
