"""Synthetic policies solving the demo tasks, with errors of known type at known positions.

Two policies answer the SAME problems: one "trained with process rewards" (fewer errors, later,
rarely a right answer through a wrong step) and one "without". Each error type is an injector:
given a task and a position it returns the corrupted steps, the gold step labels it knows it
caused, and the final value, or ``None`` when that corruption does not apply there (then the
policy draws again). Gold labels are built here from the construction, independently of
``verifier.py``; the tests check that the two agree.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prm_viewer.demo.tasks import Task
from prm_viewer.demo.verifier import APPLY

Steps = list[tuple[int, str, int, int]]
"""``(a, op, b, c)`` per step, written ``"a op b = c"``."""
Injected = tuple[Steps, list[int]]


def step_text(a: int, sym: str, b: int, c: int) -> str:
    return f"{a} {sym} {b} = {c}"


def _run(start: int, ops: list[tuple[str, int]]) -> Steps | None:
    """Correct steps applying ``ops`` from ``start``; None when an operation is undefined."""
    out: Steps = []
    v = start
    for sym, b in ops:
        c = APPLY[sym](v, b)
        if c is None:
            return None
        out.append((v, sym, b, c))
        v = c
    return out


def _correct(task: Task) -> Steps:
    steps = _run(task.start, list(task.ops))
    assert steps is not None
    return steps


def _prefix_value(task: Task, k: int) -> int:
    return task.start if k == 0 else task.values()[k - 1]


def _delta(rng: random.Random) -> int:
    return rng.choice([-3, -2, -1, 1, 2, 3])


def arithmetic_slip(rng: random.Random, task: Task, k: int) -> Injected | None:
    """Step ``k`` states a wrong result; later steps continue correctly from it."""
    ok = _correct(task)[:k]
    a = _prefix_value(task, k)
    sym, b = task.ops[k]
    c = APPLY[sym](a, b)
    assert c is not None
    slipped = c + _delta(rng)
    rest = _run(slipped, list(task.ops[k + 1 :]))
    if rest is None:
        return None
    steps = ok + [(a, sym, b, slipped)] + rest
    return steps, [1] * k + [-1] + [1] * len(rest)


def copied_wrong_value(rng: random.Random, task: Task, k: int) -> Injected | None:
    """Step ``k`` starts from a miscopied value (its arithmetic is right)."""
    ok = _correct(task)[:k]
    a = _prefix_value(task, k) + _delta(rng)
    sym, b = task.ops[k]
    c = APPLY[sym](a, b)
    if c is None:
        return None
    rest = _run(c, list(task.ops[k + 1 :]))
    if rest is None:
        return None
    return ok + [(a, sym, b, c)] + rest, [1] * k + [-1] + [1] * len(rest)


def skipped_step(rng: random.Random, task: Task, k: int) -> Injected | None:
    """Operation ``k`` is left out: step ``i >= k`` performs operation ``i + 1``.

    A step is checked against the operation at its own position, so a step after the skip is
    valid only where consecutive operations happen to be the same.
    """
    n = len(task.ops)
    if k > n - 2 or task.ops[k] == task.ops[k + 1]:
        return None
    ok = _correct(task)[:k]
    rest = _run(_prefix_value(task, k), list(task.ops[k + 1 :]))
    if rest is None:
        return None
    labels = [1] * k + [1 if task.ops[i + 1] == task.ops[i] else -1 for i in range(k, n - 1)]
    return ok + rest, labels


def wrong_operator(rng: random.Random, task: Task, k: int) -> Injected | None:
    """Step ``k`` applies another operator to the right operand (its arithmetic is right)."""
    ok = _correct(task)[:k]
    a = _prefix_value(task, k)
    sym, b = task.ops[k]
    other = rng.choice([s for s in ("+", "-", "*") if s != sym])
    c = APPLY[other](a, b)
    if c is None or c == APPLY[sym](a, b):
        return None
    rest = _run(c, list(task.ops[k + 1 :]))
    if rest is None:
        return None
    return ok + [(a, other, b, c)] + rest, [1] * k + [-1] + [1] * len(rest)


def right_answer_wrong_step(rng: random.Random, task: Task, k: int) -> Injected | None:
    """A slip at step ``k`` (before the last) and a last step that jumps to the right answer."""
    n = len(task.ops)
    if k > n - 2:
        return None
    slipped = arithmetic_slip(rng, task, k)
    if slipped is None:
        return None
    steps, labels = slipped
    a, sym, b, _ = steps[-1]
    if APPLY[sym](a, b) == task.answer:
        return None  # the slip cancelled out on its own: the last step would be valid
    steps[-1] = (a, sym, b, task.answer)
    labels[-1] = -1
    return steps, labels


ErrorInjector = Callable[[random.Random, Task, int], "Injected | None"]

ERROR_TYPES: dict[str, ErrorInjector] = {
    "arithmetic_slip": arithmetic_slip,
    "copied_wrong_value": copied_wrong_value,
    "skipped_step": skipped_step,
    "wrong_operator": wrong_operator,
    "right_answer_wrong_step": right_answer_wrong_step,
}
"""Error types (the trace's ``error_type``) -> injector."""

RIGHT_ANSWER_TYPES = frozenset({"right_answer_wrong_step"})
"""Error types whose trace still ends with the right answer."""


@dataclass(frozen=True)
class Policy:
    """A synthetic policy: how often, where and how it errs."""

    key: str
    """``with`` or ``without`` (process rewards in its training, by construction of the demo)."""
    dataset: str
    """Dataset name in the store."""
    generator: str
    """The trace's generator name."""
    error_rate: dict[str, float]
    """P(trace has an error) by split."""
    type_weights: dict[str, float]
    """Relative frequency of each error type."""
    position: tuple[float, float]
    """Beta(a, b) parameters of the error position as a fraction of the chain length."""
    seed: int


POLICIES: tuple[Policy, ...] = (
    Policy(
        key="with",
        dataset="synthetic-demo-with-process-reward",
        generator="synthetic-policy-with-prm (demo)",
        error_rate={"in_domain": 0.25, "out_of_domain": 0.5},
        type_weights={"arithmetic_slip": 0.3, "copied_wrong_value": 0.25, "skipped_step": 0.15,
                      "wrong_operator": 0.25, "right_answer_wrong_step": 0.05},
        position=(2.5, 1.2),
        seed=101,
    ),
    Policy(
        key="without",
        dataset="synthetic-demo-without-process-reward",
        generator="synthetic-policy-without-prm (demo)",
        error_rate={"in_domain": 0.45, "out_of_domain": 0.7},
        type_weights={"arithmetic_slip": 0.25, "copied_wrong_value": 0.2, "skipped_step": 0.15,
                      "wrong_operator": 0.2, "right_answer_wrong_step": 0.2},
        position=(1.2, 2.5),
        seed=202,
    ),
)


def samples_for(index: int) -> int:
    """Every third problem gets several samples per policy (for diversity views)."""
    return 4 if index % 3 == 0 else 1


def _inject(rng: random.Random, policy: Policy, task: Task) -> tuple[str, int, Injected]:
    names = list(policy.type_weights)
    weights = [policy.type_weights[n] for n in names]
    n = len(task.ops)
    while True:
        kind = rng.choices(names, weights)[0]
        for _ in range(20):
            k = min(n - 1, int(rng.betavariate(*policy.position) * n))
            got = ERROR_TYPES[kind](rng, task, k)
            if got is None:
                continue
            final = got[0][-1][3]
            # An error that lands on the right answer by chance would be mislabelled by type.
            if (final == task.answer) == (kind in RIGHT_ANSWER_TYPES):
                return kind, k, got


def generate_records(policy: Policy, tasks: list[Task]) -> list[dict[str, Any]]:
    """The policy's traces as demo-format records (see ``demo/format.py``), deterministic."""
    rng = random.Random(policy.seed)
    records: list[dict[str, Any]] = []
    for index, task in enumerate(tasks):
        for sample in range(samples_for(index)):
            if rng.random() < policy.error_rate[task.split]:
                kind, k, (steps, labels) = _inject(rng, policy, task)
                error_type: str | None = kind
                first_error = k
            else:
                steps, labels = _correct(task), [1] * len(task.ops)
                error_type, first_error = None, -1
            final = steps[-1][3]
            records.append({
                "id": f"{policy.key}-{task.problem_id}-s{sample}",
                "problem_id": task.problem_id,
                "problem": task.text,
                "steps": [step_text(*s) for s in steps],
                "step_labels": labels,
                "generator": policy.generator,
                "final_answer": str(final),
                "reference_answer": str(task.answer),
                "final_answer_correct": final == task.answer,
                "gold_first_error": first_error,
                "error_type": error_type,
                "category": task.category,
                "split": task.split,
                "metadata": {"synthetic": True, "policy": policy.key, "sample": sample},
            })
    return records
