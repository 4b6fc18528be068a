"""Parsing generative judges' answers (pure functions; the ``critic`` recipe uses them).

Nothing is guessed: an answer that does not say exactly one thing the format allows is
``Unparsed`` and is stored as such, with the judge's text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from prm_viewer.answers import last_boxed

_VERDICT = re.compile(r"\b(INCORRECT|CORRECT)\b")
_STEP_AFTER = re.compile(r"^[^\n]*?\b(?:step|paragraph)\s*#?\s*(-?\d+)", re.I)


@dataclass(frozen=True)
class Verdict:
    """A parsed judgement of one trace."""

    first_error: int | None
    """0-based earliest wrong step; -1 = no error; ``None`` = the trace is judged wrong but the
    judge named no (valid) step."""


@dataclass(frozen=True)
class Unparsed:
    """A judge answer that could not be read."""

    reason: str
    text: str


def parse_processbench(text: str, n_steps: int) -> Verdict | Unparsed:
    """ProcessBench critique: ``\\boxed{i}`` = earliest wrong paragraph (0-based), ``-1`` = none."""
    boxed = last_boxed(text)
    if boxed is None:
        return Unparsed("no \\boxed{} answer", text)
    value = boxed.strip().strip("$").strip()
    if not re.fullmatch(r"-?\d+", value):
        return Unparsed(f"\\boxed{{{value[:40]}}} is not a paragraph index", text)
    idx = int(value)
    if idx < -1 or idx >= n_steps:
        return Unparsed(f"\\boxed{{{idx}}} is outside -1..{n_steps - 1}", text)
    return Verdict(idx)


def parse_autorace(text: str, n_steps: int) -> Verdict | Unparsed:
    """AutoRace-style verdict: the LAST ``CORRECT``/``INCORRECT`` in the answer decides; after
    ``INCORRECT``, ``step N`` (1-based, on the same line) names the failing step."""
    found = list(_VERDICT.finditer(text))
    if not found:
        return Unparsed("no CORRECT/INCORRECT verdict", text)
    last = found[-1]
    if last.group(1) == "CORRECT":
        return Verdict(-1)
    m = _STEP_AFTER.match(text[last.end():])
    if m is None:
        return Verdict(None)
    step = int(m.group(1))
    if not 1 <= step <= n_steps:
        return Unparsed(f"INCORRECT names step {step}, the trace has steps 1..{n_steps}", text)
    return Verdict(step - 1)


def majority(parsed: Sequence[Verdict | Unparsed]) -> tuple[Verdict | None, int]:
    """Self-consistency: the most common verdict among those parsed and its vote count; ties go
    to the earliest error named (``-1`` and "no step named" last). ``(None, 0)`` when none parsed."""
    votes = Counter(p.first_error for p in parsed if isinstance(p, Verdict))
    if not votes:
        return None, 0
    top = max(votes.values())
    tied = [v for v, c in votes.items() if c == top]

    def rank(v: int | None) -> tuple[int, int]:
        return (1, 0) if v is None else ((1, -1) if v == -1 else (0, v))

    best = min(tied, key=rank)
    return Verdict(best), top
