"""The task suite of the experiment: short exactly-checkable arithmetic chains, split into train /
in-domain test / out-of-domain test, and the trace format the policies write.

A problem reads ``"Start with 47. Then add 5, subtract 3. What is the result?"`` (the demo
verifier's problem grammar, without the demo's ``[synthetic demo]`` prefix). A policy answers
with one step per line, ``"a op b = c"``, the left operand copied from the previous result; the
final answer is the last step's result. The exact step verifier is
:func:`prm_viewer.demo.verifier.verify_steps`.

Sized to be learnable by a sub-1M-parameter model in minutes on a CPU:

- train and in-domain test (``arithmetic``): 2-4 operations among ``+ -`` with a one-digit
  operand (2-9), every value in 0-99 (at most two digits);
- out of domain: ``long-chain`` (6-8 operations of the same kind), ``unseen-operator``
  (2-4 operations, at least one ``* 2`` or ``* 3``, never trained on), ``larger-numbers``
  (2-4 operations of the same kind on values in 100-999: three digits, never trained on).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Any

from prm_viewer.demo.tasks import Task
from prm_viewer.demo.traces import Policy, generate_records
from prm_viewer.demo.verifier import APPLY, WORD_OF, verify_steps

SPLITS = ("train", "test_in", "test_ood")
CATEGORIES = ("arithmetic", "long-chain", "unseen-operator", "larger-numbers")
_RESULT = re.compile(r"=\s*(-?\d+)\s*$")


@dataclass(frozen=True)
class ChainTask(Task):
    """A demo task whose text has no ``[synthetic demo]`` prefix (shorter prompts)."""

    @property
    def text(self) -> str:
        ops = ", ".join(f"{WORD_OF[sym]} {b}" for sym, b in self.ops)
        return f"Start with {self.start}. Then {ops}. What is the result?"


@dataclass(frozen=True)
class Splits:
    """Problems per split; no test text occurs in train."""

    train: list[Task]
    test_in: list[Task]
    test_ood: list[Task]

    def test(self) -> list[Task]:
        return self.test_in + self.test_ood


def _chain(rng: random.Random, pid: str, split: str, category: str, n_ops: int, lo: int, hi: int,
           times: bool = False) -> Task:
    """``n_ops`` operations keeping every value in ``[lo, hi]`` (``times``: at least one ``*``)."""
    while True:
        start = rng.randint(lo, hi)
        value, ops = start, []
        want_times = rng.randrange(n_ops) if times else -1
        for k in range(n_ops):
            if k == want_times:
                choices = [("*", b) for b in (2, 3) if lo <= value * b <= hi and value > 1]
            else:
                choices = [(s, b) for s in ("+", "-") for b in range(2, 10)
                           if lo <= APPLY[s](value, b) <= hi]  # type: ignore[operator]
            if not choices:
                break
            sym, b = rng.choice(choices)
            ops.append((sym, b))
            value = APPLY[sym](value, b)  # type: ignore[assignment]
        if len(ops) == n_ops:
            return ChainTask(pid, start, tuple(ops), split, category)


def make_splits(seed: int, n_train: int, n_test_in: int, n_test_ood: int) -> Splits:
    """Deterministic splits (see the module docstring); ``n_test_ood`` problems per
    out-of-domain category. In-domain test problems are drawn until none repeats a train text."""
    rng = random.Random(seed * 1000 + 11)
    train: list[Task] = []
    seen: set[str] = set()
    while len(train) < n_train:
        t = _chain(rng, f"train-{len(train):05d}", "in_domain", "arithmetic", rng.randint(2, 4), 0, 99)
        if t.text not in seen:
            seen.add(t.text)
            train.append(t)
    rng = random.Random(seed * 1000 + 12)
    test_in: list[Task] = []
    while len(test_in) < n_test_in:
        t = _chain(rng, f"test-in-{len(test_in):04d}", "in_domain", "arithmetic", rng.randint(2, 4), 0, 99)
        if t.text not in seen:
            seen.add(t.text)
            test_in.append(t)
    rng = random.Random(seed * 1000 + 13)
    ood = [_chain(rng, f"long-{i:04d}", "out_of_domain", "long-chain", rng.randint(6, 8), 0, 99)
           for i in range(n_test_ood)]
    ood += [_chain(rng, f"unseen-{i:04d}", "out_of_domain", "unseen-operator", rng.randint(2, 4), 0, 99, times=True)
            for i in range(n_test_ood)]
    ood += [_chain(rng, f"large-{i:04d}", "out_of_domain", "larger-numbers", rng.randint(2, 4), 100, 999)
            for i in range(n_test_ood)]
    return Splits(train, test_in, [replace(t, problem_id=f"test-ood-{t.problem_id}") for t in ood])


def target_text(steps: list[str]) -> str:
    """What a policy should write for these steps (before its end-of-turn token)."""
    return "\n".join(steps)


def parse_completion(text: str) -> list[str]:
    """Steps of a generated answer: its non-blank lines, stripped."""
    return [line.strip() for line in text.split("\n") if line.strip()]


def final_answer(steps: list[str]) -> str | None:
    """The number after the last ``=`` of the last step, else ``None``."""
    if not steps:
        return None
    m = _RESULT.search(steps[-1])
    return m.group(1) if m else None


def outcome(task: Task, steps: list[str]) -> bool:
    """Whether the trace ends with the exact answer."""
    ans = final_answer(steps)
    return ans is not None and int(ans) == task.answer


ERROR_WEIGHTS = {"arithmetic_slip": 0.4, "copied_wrong_value": 0.2, "skipped_step": 0.1,
                 "wrong_operator": 0.2, "right_answer_wrong_step": 0.1}
"""Relative frequency of the demo's five injected error kinds (``demo/traces.py``)."""


def imperfect_traces(tasks: list[Task], error_rate: float, seed: int, name: str) -> list[dict[str, Any]]:
    """Demo-format records on ``tasks`` where about ``error_rate`` of the traces carry one
    injected error of the demo's five kinds at a uniform position (``demo/traces.py``).
    One-step chains cannot carry the kinds that need a later step; the injector redraws."""
    pol = Policy(key=name, dataset=name, generator=f"injected ({name})",
                 error_rate={"in_domain": error_rate, "out_of_domain": error_rate},
                 type_weights=ERROR_WEIGHTS, position=(1.0, 1.0), seed=seed)
    return generate_records(pol, tasks)


def trace_record(task: Task, steps: list[str], generator: str, sample: int, policy_key: str) -> dict[str, Any]:
    """One sampled trace as an import record, with gold step labels from the exact verifier
    (an answer without any line becomes the one step ``(no answer)``, which is invalid)."""
    steps = steps or ["(no answer)"]
    valid = verify_steps(task.text, steps)
    labels = [1 if ok else -1 for ok in valid]
    ans = final_answer(steps)
    return {
        "id": f"{policy_key}-{task.problem_id}-s{sample}",
        "problem_id": task.problem_id,
        "problem": task.text,
        "steps": steps,
        "step_labels": labels,
        "generator": generator,
        "final_answer": ans,
        "reference_answer": str(task.answer),
        "correct": outcome(task, steps),
        "category": task.category,
        "split": task.split,
        "sample": sample,
    }


def shuffled(items: list[Any], seed: int) -> list[Any]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out
