"""How the transformers runner executes a unit of work: a cost model calibrated by measurement.

A unit is a bucket of traces of similar length (or a chunk of shared-prefix groups). It can run
in several ways ("arms"), all giving the same scores up to float rounding:

``per-trace``  each trace alone: no padding, no attention mask (the causal fast path).
``batched``    one right-padded forward pass for the bucket (fills a GPU; on a CPU it adds padding).
``shared``     each group's shared prefix once, then the continuations against its keys and values.

Which is fastest depends on the device, the dtype, the thread count and the workload (padding
waste, how much is shared), so no fixed rule picks it. For every unit the runner asks
:meth:`Planner.pick` with each arm's cost in FLOPs (:func:`forward_flops` of the tokens that arm
computes, padding included). Arms costing more than ``SKIP_RATIO`` x the cheapest are never
tried. The others are probed, cheapest first: each is run on ``PROBES`` units (real work, never repeated),
and its measured rate (FLOPs computed per second) is kept; from then on a unit runs on the arm
whose cost / rate, the predicted time, is smallest. Rates keep being updated (and every
``REPROBE`` units a runner-up runs one unit), so an arm that slows down (machine load) loses its
place. Probing costs at most ``PROBES`` units on the slower arm: nothing on a large job, but on a
job of a few buckets it is a visible share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ARMS = ("per-trace", "batched", "shared")
"""Every way of running a unit (the ``execution`` backend option names one to force it)."""

PROBES = 2
"""Units each candidate arm runs before the measured rates decide."""

REPROBE = 24
"""After the probes, every this many units the arm not chosen runs one unit (its rate stays current)."""

SKIP_RATIO = 1.6
"""An arm whose cost is above this multiple of the cheapest arm's is not tried for that unit."""


@dataclass(frozen=True)
class Shape:
    """What :func:`forward_flops` needs of the model."""

    linear_params: int
    """Weights of the body's linear layers (2 FLOPs each per token)."""
    layers: int
    """Transformer blocks."""
    attn_width: int
    """Query heads x head dimension."""


def forward_flops(shape: Shape, rows: Sequence[tuple[int, int]]) -> float:
    """FLOPs of forward passes over ``rows`` = ``(new tokens, tokens already in the cache)``:
    the linear layers per new token, and causal attention (QK^T and AV) of each new token
    against the cache and the new tokens before it."""
    total = 0.0
    for new, past in rows:
        total += 2.0 * shape.linear_params * new
        total += 2.0 * 2.0 * shape.attn_width * shape.layers * (new * past + new * (new + 1) / 2)
    return total


@dataclass
class _Rate:
    flops: float = 0.0
    seconds: float = 0.0
    units: int = 0

    def rate(self) -> float:
        return self.flops / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Planner:
    """Chooses an arm per unit; ``forced`` (an arm name) bypasses the choice."""

    forced: str | None = None
    rates: dict[str, _Rate] = field(default_factory=dict)
    chosen: dict[str, int] = field(default_factory=dict)
    """How many units each arm ran (for benchmarks and tests)."""
    since_probe: int = 0

    def pick(self, costs: Mapping[str, float]) -> str:
        """The arm to run a unit on, given each possible arm's cost in FLOPs (in preference order
        on ties: the first listed)."""
        if not costs:
            raise ValueError("no arm to pick from")
        if self.forced is not None and self.forced in costs:
            return self._count(self.forced)
        cheapest = min(costs.values())
        cands = [a for a, c in costs.items() if c <= SKIP_RATIO * cheapest]
        if len(cands) == 1:
            return self._count(cands[0])
        unprobed = [a for a in cands if self.rates.get(a, _Rate()).units < PROBES]
        if unprobed:
            # the least-probed first; among those the cheapest (a one-unit job runs the cheapest)
            return self._count(min(unprobed, key=lambda a: (self.rates.get(a, _Rate()).units, costs[a])))
        ranked = sorted(cands, key=lambda a: costs[a] / max(self.rates[a].rate(), 1e-9))
        self.since_probe += 1
        if self.since_probe >= REPROBE:
            self.since_probe = 0
            return self._count(ranked[1])
        return self._count(ranked[0])

    def record(self, arm: str, flops: float, seconds: float) -> None:
        """A unit of ``flops`` (the arm's cost) ran on ``arm`` in ``seconds``. After the probes
        the rate is an exponential average (recent units count more) so it follows load."""
        r = self.rates.setdefault(arm, _Rate())
        if r.units >= PROBES:
            r.flops *= 0.7
            r.seconds *= 0.7
        r.flops += flops
        r.seconds += max(seconds, 1e-9)
        r.units += 1

    def _count(self, arm: str) -> str:
        self.chosen[arm] = self.chosen.get(arm, 0) + 1
        return arm


__all__ = ["ARMS", "PROBES", "REPROBE", "SKIP_RATIO", "Planner", "Shape", "forward_flops"]
