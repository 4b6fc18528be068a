"""Steps of every shape, for the column-mapping importer.

- a list of strings: one step each;
- a list of lists of lines: one step per inner list, its lines joined with "\\n";
- one text cut by a split rule (``newline``, ``blankline``, ``regex:<pattern>``, ``step_markers``);
- a list cut by ``step_markers``: items are grouped under "Step k:" headers (a header item starts a
  step, later items are continuation lines joined to the step above with "\\n", empty items are
  dropped, items before the first header form a first step).

:class:`Steps` keeps, for a list split, which step each source item went to and each step's own
"Step N" label, so a first error can be read by position (``first_error_ref=position``, the item
index in the source list) or by label (``first_error_ref=step_label``: "N" names the step labelled
"Step N"), and a misaligned annotation can be reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prm_viewer.errors import ImportFailed

SPLIT_RULES = ("newline", "blankline", "regex:<pattern>", "step_markers")
FIRST_ERROR_REFS = ("position", "step_label")
STEP_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:#+[ \t]*)?Step[ \t]*\d+[ \t]*[:.]", re.I)
_HEADER = re.compile(r"^[ \t]*(?:#+[ \t]*|\*\*)?Step[ \t]*(\d+)[ \t]*(?:\*\*)?[ \t]*[:.]", re.I)

TextSplit = Callable[[str], list[str]]


class StepShapeError(Exception):
    """``args = (column, message)``: a steps cell of a shape that cannot be read."""


@dataclass
class Steps:
    """The steps of one record, with how they map back to a split source list."""

    texts: list[str]
    item_step: list[int | None] | None = None
    """For a split list: the step each source item went to (``None`` for a dropped empty item)."""
    labels: list[int | None] = field(default_factory=list)
    """For a step_markers split: each step's own "Step N" number (``None`` for a preamble)."""


def text_splitter(path: str, rule: Any) -> TextSplit | None:
    """The function that cuts one text into steps, or ``None`` (no rule)."""
    if rule is None or rule == "":
        return None
    rule = str(rule)
    if rule == "newline":
        return lambda text: [s.strip() for s in text.split("\n") if s.strip()]
    if rule == "blankline":
        blank = re.compile(r"\n[ \t\r]*\n")
        return lambda text: [s.strip() for s in blank.split(text) if s.strip()]
    if rule == "step_markers":
        return lambda text: [s.strip() for s in STEP_MARKER.split(text) if s.strip()]
    if rule.startswith("regex:"):
        try:
            pat = re.compile(rule[len("regex:"):])
        except re.error as exc:
            raise ImportFailed(path, None, "split_rule", f"invalid regular expression ({exc})") from None
        stride = pat.groups + 1  # re.split also returns captured groups: keep only the pieces

        def split(text: str) -> list[str]:
            return [s.strip() for s in pat.split(text)[::stride] if s and s.strip()]

        return split
    raise ImportFailed(path, None, "split_rule", f"unknown rule '{rule}'; use one of: {', '.join(SPLIT_RULES)}")


def group_by_markers(items: list[str]) -> Steps:
    """A list whose items mix "Step k:" headers, continuation lines and empty strings, grouped."""
    texts: list[list[str]] = []
    labels: list[int | None] = []
    item_step: list[int | None] = []
    for item in items:
        if not item.strip():
            item_step.append(None)
            continue
        m = _HEADER.match(item)
        if m is not None or not texts:
            texts.append([item[m.end():].strip() if m else item.strip()])
            labels.append(int(m.group(1)) if m else None)
        else:
            texts[-1].append(item.strip())
        item_step.append(len(texts) - 1)
    joined = ["\n".join(t for t in parts if t) for parts in texts]
    return Steps(texts=joined, item_step=item_step, labels=labels)


def read_steps(col: str, v: Any, split: TextSplit | None, rule: str | None) -> Steps:
    """The steps of one cell: a list (of strings or of lists of lines), a JSON-list text, or a
    text cut by ``split``; ``rule == 'step_markers'`` groups a list under its headers."""
    from prm_viewer.formats.cells import as_list, kind

    if isinstance(v, str) and split is not None:
        return Steps(texts=split(v))
    if isinstance(v, str) and not v.strip().startswith("["):
        raise StepShapeError(col, "holds text, not a list: choose --option split_rule=newline|blankline|regex:<re>|"
                                  "step_markers")
    try:
        raw = as_list(col, v, "step texts")
    except Exception as exc:  # BadCell: same (column, message) pair
        raise StepShapeError(*exc.args) from None
    if raw is None or not raw:
        raise StepShapeError(col, "empty step list")
    items: list[str] = []
    for i, s in enumerate(raw):
        if isinstance(s, (list, tuple)):
            lines = list(s)
            for j, line in enumerate(lines):
                if not isinstance(line, str):
                    raise StepShapeError(f"{col}[{i}][{j}]", f"expected a line of text, found {kind(line)}")
            items.append("\n".join(lines))
        elif isinstance(s, str):
            items.append(s)
        else:
            raise StepShapeError(f"{col}[{i}]", f"expected text or a list of lines, found {kind(s)}")
    if rule == "step_markers":
        return group_by_markers(items)
    if split is not None:
        # Any other rule applied to a list: each item is cut, the pieces kept in order.
        out: list[str] = []
        item_step: list[int | None] = []
        for item in items:
            pieces = split(item)
            item_step.append(len(out) if pieces else None)
            out.extend(pieces)
        return Steps(texts=out, item_step=item_step)
    return Steps(texts=items)


def locate_first_error(steps: Steps, index: int, ref: str) -> tuple[int | None, str | None]:
    """The 0-based step of a first error given as 0-based ``index`` (after the base), read as a
    list position or a "Step N" label; returns ``(step, warning)``. ``step`` is ``None`` when the
    reference names no step (the caller reports it); ``warning`` says when it no longer lines up."""
    if index < 0:
        return index, None
    if ref == "step_label":
        wanted = index + 1  # the base is applied already: label N was given as N (base 1)
        matches = [k for k, lab in enumerate(steps.labels) if lab == wanted]
        if not matches:
            return None, None
        return matches[0], None
    if steps.item_step is None:
        return index, None
    if index >= len(steps.item_step):
        return None, None
    step = steps.item_step[index]
    if step is None:
        nxt = next((s for s in steps.item_step[index:] if s is not None), None)
        return nxt, (f"first error names item {index} of the list, an empty item; moved to the next step")
    lab = steps.labels[step] if steps.labels else None
    if lab is not None and lab != step + 1:
        return step, (f"first error at list item {index} lies in the step labelled 'Step {lab}', which is step "
                      f"{step + 1} after grouping (set first_error_ref=step_label if the index names a label)")
    return step, None
