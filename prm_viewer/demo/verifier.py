"""Exact step checker for the synthetic demo tasks (pure, no I/O, no store).

A demo problem reads ``"[synthetic demo] Start with 7. Then add 5, multiply by 3, subtract 4.
What is the result?"``; a trace's step ``i`` must perform the problem's ``i``-th operation on the
result stated by step ``i-1`` (the start value for step 0), written ``"7 + 5 = 12"``.

A step is valid when, and only when, all of these hold:

- it parses as ``a OP b = c`` (OP one of ``+ - * / mod``);
- ``a`` equals the previous step's stated result (copying a wrong value is an error);
- ``OP`` and ``b`` are the problem's ``i``-th operation (a skipped or wrong operator is an error);
- ``c`` is exactly ``a OP b`` (an arithmetic slip is an error; ``/`` must divide exactly).

Validity is local: after an arithmetic slip, a later step that correctly continues from the
slipped value is valid. That is what a step-level judge of these tasks should say, and it is
what the demo's gold step labels say.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# Words used in problem texts and the symbol a step writes for each operation.
OP_WORDS: dict[str, str] = {
    "add": "+",
    "subtract": "-",
    "multiply by": "*",
    "divide by": "/",
    "take the remainder modulo": "mod",
}
WORD_OF: dict[str, str] = {sym: word for word, sym in OP_WORDS.items()}


def _div(a: int, b: int) -> int | None:
    return a // b if b != 0 and a % b == 0 else None


def _mod(a: int, b: int) -> int | None:
    return a % b if b > 0 else None


# None = the operation is undefined for these operands (so no stated result can be right).
APPLY: dict[str, Callable[[int, int], int | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "mod": _mod,
}

_START = re.compile(r"Start with (-?\d+)\.")
_OPS = re.compile(r"Then (.*?)\. What is the result\?")
_OP_ITEM = re.compile(r"^(" + "|".join(re.escape(w) for w in OP_WORDS) + r") (-?\d+)$")
_STEP = re.compile(r"^\s*(-?\d+) (\+|-|\*|/|mod) (-?\d+) = (-?\d+)\s*$")


def parse_problem(problem: str) -> tuple[int, list[tuple[str, int]]]:
    """The start value and the ordered operations ``(symbol, operand)`` of a demo problem.

    Raises ``ValueError`` for a text that is not a demo problem.
    """
    start = _START.search(problem)
    ops = _OPS.search(problem)
    if start is None or ops is None:
        raise ValueError("not a synthetic demo problem")
    parsed: list[tuple[str, int]] = []
    for item in ops.group(1).split(", "):
        m = _OP_ITEM.match(item.strip())
        if m is None:
            raise ValueError(f"unknown operation '{item}'")
        parsed.append((OP_WORDS[m.group(1)], int(m.group(2))))
    return int(start.group(1)), parsed


def solve(problem: str) -> int:
    """The exact answer of a demo problem."""
    value, ops = parse_problem(problem)
    for sym, b in ops:
        result = APPLY[sym](value, b)
        if result is None:
            raise ValueError(f"operation {sym} {b} is undefined for {value}")
        value = result
    return value


def verify_steps(problem: str, steps: list[str]) -> list[bool]:
    """Check each step of a demo trace exactly; ``True`` = the step is valid (see module doc).

    Steps of a text that is not a demo problem are all invalid (nothing can be checked).
    """
    try:
        previous, ops = parse_problem(problem)
    except ValueError:
        return [False] * len(steps)
    verdicts: list[bool] = []
    prev: int | None = previous
    for i, text in enumerate(steps):
        m = _STEP.match(text)
        if m is None:
            verdicts.append(False)
            prev = None  # nothing stated: the next step cannot be continuing correctly from it
            continue
        a, sym, b, c = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        expected_op = ops[i] if i < len(ops) else None
        verdicts.append(a == prev and (sym, b) == expected_op and APPLY[sym](a, b) == c)
        prev = c
    return verdicts


def right_steps(problem: str, steps: Sequence[str]) -> list[str | None]:
    """The one valid text of each step given the steps before it (as :func:`verify_steps` walks
    them: ``a`` = the previous step's stated result); ``None`` where no step can be valid there
    (the previous step states no result, the problem has no such operation, or it is undefined)."""
    try:
        start, ops = parse_problem(problem)
    except ValueError:
        return [None] * len(steps)
    out: list[str | None] = []
    prev: int | None = start
    for i, text in enumerate(steps):
        c = APPLY[ops[i][0]](prev, ops[i][1]) if prev is not None and i < len(ops) else None
        out.append(None if c is None else f"{prev} {ops[i][0]} {ops[i][1]} = {c}")
        m = _STEP.match(text)
        prev = int(m.group(4)) if m else None
    return out
