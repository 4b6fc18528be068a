"""Small text helpers shared by importers: final-answer extraction and answer comparison.

Answer comparison here is deliberately plain (normalised string equality): importers use it only
where the source itself defines correctness as a match (BIG-Bench Mistake's exact-match tasks),
or where the module docstring says so.
"""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_BOXED = re.compile(r"^\\boxed\{(.*)\}$", re.S)
_STEP_PREFIX = re.compile(r"^\s*Step\s*\d+\s*[:.]\s*", re.I)


def normalise_answer(text: str | None) -> str | None:
    """Whitespace collapsed, ``$`` and a surrounding ``\\boxed{}`` and a final period removed."""
    if text is None:
        return None
    t = _SPACE.sub(" ", str(text)).strip().strip("$").strip()
    m = _BOXED.match(t)
    if m:
        t = m.group(1).strip()
    t = t.rstrip(".").strip()
    return t


def answers_match(a: str | None, b: str | None) -> bool | None:
    """True/False when both answers are known, ``None`` when either is missing."""
    na, nb = normalise_answer(a), normalise_answer(b)
    if na is None or nb is None:
        return None
    return na == nb


def after_marker(text: str, markers: tuple[str, ...]) -> str | None:
    """The text after the last line starting with one of ``markers`` (e.g. "A:", "####")."""
    for line in reversed(text.splitlines()):
        s = line.strip()
        for m in markers:
            if s.startswith(m):
                return s[len(m):].strip()
    return None


def strip_step_prefix(text: str) -> str:
    """``"Step 3: x = 2"`` -> ``"x = 2"`` (the store numbers steps itself)."""
    return _STEP_PREFIX.sub("", text, count=1)
