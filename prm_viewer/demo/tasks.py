"""Synthetic multi-step arithmetic problems whose every step can be checked exactly.

Three kinds, so generalisation views have something to show:

- ``in_domain`` / ``arithmetic``: 3-5 operations among ``+ - *``;
- ``out_of_domain`` / ``long-chain``: 7-9 operations among the same operators (longer chains);
- ``out_of_domain`` / ``unseen-operator``: 4-6 operations that include exact division and
  remainders, operators never seen in-domain.

Values stay small integers (no operand 0 or 1, so no step is an identity and an error always
changes the value), and the problem text says it is synthetic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from prm_viewer.demo.verifier import APPLY, WORD_OF

PREFIX = "[synthetic demo]"


@dataclass(frozen=True)
class Task:
    """One demo problem."""

    problem_id: str
    """Stable id within the demo, e.g. ``id-0007``."""
    start: int
    """The start value."""
    ops: tuple[tuple[str, int], ...]
    """Ordered operations ``(symbol, operand)``."""
    split: str
    """``in_domain`` or ``out_of_domain``."""
    category: str
    """``arithmetic``, ``long-chain`` or ``unseen-operator``."""

    @property
    def text(self) -> str:
        ops = ", ".join(f"{WORD_OF[sym]} {b}" for sym, b in self.ops)
        return f"{PREFIX} Start with {self.start}. Then {ops}. What is the result?"

    def values(self) -> list[int]:
        """The exact intermediate results, one per operation."""
        out, v = [], self.start
        for sym, b in self.ops:
            r = APPLY[sym](v, b)
            assert r is not None, "generated operations are always defined"
            v = r
            out.append(v)
        return out

    @property
    def answer(self) -> int:
        return self.values()[-1]


def _next_op(rng: random.Random, value: int, allowed: tuple[str, ...]) -> tuple[str, int]:
    """An operation among ``allowed`` that keeps values small and exact."""
    while True:
        sym = rng.choice(allowed)
        if sym == "+":
            return sym, rng.randint(2, 19)
        if sym == "-":
            return sym, rng.randint(2, 19)
        if sym == "*" and abs(value) <= 60:
            return sym, rng.randint(2, 5)
        if sym == "/":
            divisors = [d for d in range(2, 10) if value != 0 and value % d == 0 and abs(value) // d > 1]
            if divisors:
                return sym, rng.choice(divisors)
        if sym == "mod" and value > 12:
            return sym, rng.randint(5, 11)


def _task(rng: random.Random, pid: str, split: str, category: str, n_ops: int, allowed: tuple[str, ...],
          must_include: tuple[str, ...] = ()) -> Task:
    while True:
        start = rng.randint(2, 30)
        value, ops = start, []
        for _ in range(n_ops):
            sym, b = _next_op(rng, value, allowed)
            ops.append((sym, b))
            value = APPLY[sym](value, b)  # type: ignore[assignment]
        if not must_include or any(sym in must_include for sym, _ in ops):
            return Task(pid, start, tuple(ops), split, category)


def make_tasks(seed: int = 7, n_in_domain: int = 80, n_long: int = 30, n_unseen: int = 30) -> list[Task]:
    """The demo's problem set (deterministic for a seed)."""
    rng = random.Random(seed)
    basic = ("+", "-", "*")
    tasks = [_task(rng, f"id-{i:04d}", "in_domain", "arithmetic", rng.randint(3, 5), basic) for i in range(n_in_domain)]
    tasks += [_task(rng, f"long-{i:04d}", "out_of_domain", "long-chain", rng.randint(7, 9), basic) for i in range(n_long)]
    tasks += [
        _task(rng, f"unseen-{i:04d}", "out_of_domain", "unseen-operator", rng.randint(4, 6),
              ("+", "-", "*", "/", "mod", "/", "mod"), must_include=("/", "mod"))
        for i in range(n_unseen)
    ]
    return tasks
