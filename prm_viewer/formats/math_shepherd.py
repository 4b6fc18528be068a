"""Math-Shepherd: ``{input, label, task}``, one JSON object per line.

``input`` is the problem followed by the solution, each step ending in the tag ``ки``;
``label`` is the same text with every ``ки`` replaced by ``+`` (the step can still reach the
right answer) or ``-``.

Mapping:
- problem = the text of ``input`` before the first ``Step 1:`` marker (the source's layout);
- steps = the text between tags, with the ``Step k:`` prefix removed (the store numbers steps);
- step labels: ``+`` -> ``+1``, ``-`` -> ``-1``; gold first error = the first ``-`` (``-1`` if none);
- final_answer = what follows "The answer is:" in the last step; final_answer_correct = the last
  step's label (Math-Shepherd labels the last step by whether its answer is right);
- category = ``task`` (GSM8K / MATH); source id = ``line N`` (the format has no ids).

A record whose ``label`` text does not line up with ``input`` tag for tag fails on ``label``.
Options: ``split``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.base import Format, Sample, check_options, register
from prm_viewer.formats.containers import records
from prm_viewer.formats.fields import need, opt
from prm_viewer.model import Skip, TraceRecord

TAG = "ки"
_STEP1 = re.compile(r"Step\s*1\s*[:.]")
_ANSWER = re.compile(r"The answer is:?\s*(.+?)\s*$", re.S)
_LABELS = {"+": 1, "-": -1}
_STEP_PREFIX = re.compile(r"^\s*Step\s*\d+\s*[:.]\s*", re.I)


def strip_step_prefix(text: str) -> str:
    """``"Step 3: x = 2"`` -> ``"x = 2"`` (the store numbers steps itself)."""
    return _STEP_PREFIX.sub("", text, count=1)


@register
class MathShepherd(Format):
    name = "math-shepherd"
    label = "Math-Shepherd (ки step tags, +/- labels)"
    containers = ("jsonl", "json", "parquet")

    def detect(self, sample: Sample) -> bool:
        if not sample.records or not {"input", "label"} <= sample.keys:
            return False
        first = sample.records[0]
        return isinstance(first["input"], str) and TAG in first["input"] and isinstance(first["label"], str)

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        return {"problem": "input", "steps": "input", "first_error": "label", "step_labels": "label"}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        check_options(path, options, {"split"})
        split = options.get("split")
        c = self.open(path, options)
        u = c.unit
        for line, obj in records(c):
            text = need(path, line, obj, "input", str, unit=u)
            labelled = need(path, line, obj, "label", str, unit=u)
            problem, steps, labels = parse(str(path), line, text, labelled, u)
            m = _ANSWER.search(steps[-1])
            first = next((i for i, lab in enumerate(labels) if lab == -1), -1)
            yield TraceRecord(
                line=line,
                source_id=f"{u} {line}",
                problem=problem,
                steps=steps,
                final_answer=m.group(1) if m else None,
                final_answer_correct=None if labels[-1] is None else labels[-1] == 1,
                gold_first_error=first,
                step_labels=labels,
                category=opt(path, line, obj, "task", str, unit=u),
                split=split,
                metadata={k: v for k, v in obj.items() if k not in {"input", "label", "task"}} or None,
            )


def parse(path: str, line: int, text: str, labelled: str, unit: str = "line") -> tuple[str, list[str], list[int | None]]:
    """Split one record into (problem, steps, labels), checking ``label`` against ``input``."""
    pieces = text.split(TAG)
    if len(pieces) < 2:
        raise ImportFailed(path, line, "input", f"no '{TAG}' step tag", unit=unit)
    if pieces[-1].strip():
        # Text after the last tag is an untagged step: keep it, unlabelled.
        tail: str | None = pieces[-1]
    else:
        tail = None
    pieces = pieces[:-1]
    labels: list[int | None] = []
    pos = 0
    for k, piece in enumerate(pieces):
        end = pos + len(piece)
        mark = labelled[end:end + 1]
        if labelled[pos:end] != piece or mark not in _LABELS:
            raise ImportFailed(path, line, "label", f"does not match 'input' at step {k + 1} (expected '+' or '-' where '{TAG}' is)", unit=unit)
        labels.append(_LABELS[mark])
        pos = end + 1
    m = _STEP1.search(pieces[0])
    if m is None:
        raise ImportFailed(path, line, "input", "no 'Step 1:' marker separating the problem from the steps", unit=unit)
    problem = pieces[0][: m.start()].strip()
    pieces[0] = pieces[0][m.start():]
    steps = [strip_step_prefix(p.strip()) for p in pieces]
    if tail is not None:
        steps.append(strip_step_prefix(tail.strip()))
        labels.append(None)
    return problem, steps, labels
