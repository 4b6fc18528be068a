"""Step splitting of generated text: one rule, a pure function, previewed before a dataset is written.

Rules (the same names as the generic importer's ``split_rule``):

- ``blankline`` (default): split at blank lines, as Qwen-style models write steps ("\\n\\n");
- ``newline``: every non-empty line is a step;
- ``step_markers``: split before each "Step k:" / "Step k." at the start of a line (the marker stays);
- ``regex:<pattern>``: split where the pattern matches (captured groups are dropped).

Pieces are stripped and empty pieces dropped; a text with no split point is one step; an empty
text gives no steps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from prm_viewer.errors import PrmViewerError

SPLIT_RULES = ("blankline", "newline", "step_markers", "regex:<pattern>")
"""The rules people choose from (``regex:`` takes a pattern)."""
DEFAULT_RULE = "blankline"
_BLANK = re.compile(r"\n[ \t\r]*\n")
_STEP_MARKER = re.compile(r"(?m)^(?=[ \t]*Step\s+\d+\s*[:.])")


class BadSplitRule(PrmViewerError):
    """A split rule that is unknown or whose regular expression does not compile."""


def splitter(rule: str) -> Callable[[str], list[str]]:
    """The function that splits a text by ``rule``; a one-line :class:`BadSplitRule` otherwise."""
    rule = (rule or DEFAULT_RULE).strip()
    if rule == "blankline":
        return lambda text: _clean(_BLANK.split(text))
    if rule == "newline":
        return lambda text: _clean(text.split("\n"))
    if rule == "step_markers":
        return lambda text: _clean(_STEP_MARKER.split(text))
    if rule.startswith("regex:"):
        try:
            pat = re.compile(rule[len("regex:"):])
        except re.error as exc:
            raise BadSplitRule(f"split rule '{rule}': invalid regular expression ({exc})") from None
        if not pat.pattern:
            raise BadSplitRule("split rule 'regex:' needs a pattern after the colon")
        stride = pat.groups + 1  # re.split also returns captured groups: keep only the pieces
        return lambda text: _clean(pat.split(text)[::stride])
    raise BadSplitRule(f"unknown split rule '{rule}'; use one of: {', '.join(SPLIT_RULES)}")


def _clean(pieces: Sequence[str | None]) -> list[str]:
    return [p.strip() for p in pieces if p and p.strip()]


def split_steps(text: str | None, rule: str = DEFAULT_RULE) -> list[str]:
    """``text`` split into steps by ``rule`` (see the module docstring)."""
    return splitter(rule)(text or "")


__all__ = ["DEFAULT_RULE", "SPLIT_RULES", "BadSplitRule", "split_steps", "splitter"]
