"""The task suite of the experiment: the demo's exactly-checkable arithmetic chains, split into
train / in-domain test / out-of-domain test, and the trace format the policies write.

A policy answers ``Task.text`` with one step per line, ``"a op b = c"`` (the demo verifier's
format), and nothing else; the final answer is the last step's result. The exact step verifier
is :func:`prm_viewer.demo.verifier.verify_steps`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Any

from prm_viewer.demo.tasks import Task, make_tasks
from prm_viewer.demo.traces import Policy, generate_records
from prm_viewer.demo.verifier import verify_steps

SPLITS = ("train", "test_in", "test_ood")
_RESULT = re.compile(r"=\s*(-?\d+)\s*$")


@dataclass(frozen=True)
class Splits:
    """Problems per split; no test text occurs in train."""

    train: list[Task]
    test_in: list[Task]
    test_ood: list[Task]

    def test(self) -> list[Task]:
        return self.test_in + self.test_ood


def make_splits(seed: int, n_train: int, n_test_in: int, n_test_long: int, n_test_unseen: int) -> Splits:
    """Deterministic splits: train and in-domain test are 3-5 operations among ``+ - *``;
    out-of-domain test has longer chains (7-9) and unseen operators (``/``, ``mod``)."""
    train = [replace(t, problem_id=f"train-{i:05d}")
             for i, t in enumerate(make_tasks(seed * 1000 + 11, n_in_domain=n_train, n_long=0, n_unseen=0))]
    seen = {t.text for t in train}
    pool = make_tasks(seed * 1000 + 12, n_in_domain=4 * n_test_in + 10, n_long=0, n_unseen=0)
    test_in = [replace(t, problem_id=f"test-in-{i:04d}")
               for i, t in enumerate([t for t in pool if t.text not in seen][:n_test_in])]
    ood = make_tasks(seed * 1000 + 13, n_in_domain=0, n_long=n_test_long, n_unseen=n_test_unseen)
    test_ood = [replace(t, problem_id=f"test-ood-{t.problem_id}") for t in ood]
    return Splits(train, test_in, test_ood)


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


def imperfect_traces(tasks: list[Task], error_rate: float, seed: int, name: str) -> list[dict[str, Any]]:
    """Demo-format records on ``tasks`` where about ``error_rate`` of the traces carry one
    injected error of the demo's five kinds at a uniform position (``demo/traces.py``)."""
    pol = Policy(key=name, dataset=name, generator=f"injected ({name})",
                 error_rate={"in_domain": error_rate, "out_of_domain": error_rate},
                 type_weights={"arithmetic_slip": 0.35, "copied_wrong_value": 0.2, "skipped_step": 0.1,
                               "wrong_operator": 0.25, "right_answer_wrong_step": 0.1},
                 position=(1.0, 1.0), seed=seed)
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
