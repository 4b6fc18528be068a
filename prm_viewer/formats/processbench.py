"""ProcessBench: ``{id, generator, problem, steps, final_answer_correct, label}``.

``label`` is the earliest wrong step, 0-based, ``-1`` when there is none. JSON array or JSONL
(or Parquet, as the hub exports it: any container the container layer reads).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prm_viewer.formats.base import Format, Sample, check_options, register
from prm_viewer.formats.containers import records
from prm_viewer.formats.fields import need, need_str_list, opt
from prm_viewer.model import Skip, TraceRecord

_KEYS = {"problem", "steps", "label"}


@register
class ProcessBench(Format):
    name = "processbench"
    label = "ProcessBench (JSON / JSONL / Parquet)"
    containers = ("jsonl", "json", "parquet")

    def detect(self, sample: Sample) -> bool:
        # Keys alone: a record of this layout with a wrongly typed value should fail on that field.
        return bool(sample.records) and _KEYS <= sample.keys

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        return {"first_error": "label"}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        check_options(path, options, {"split"})
        split = options.get("split") or split_from_name(path)
        c = self.open(path, options)
        u = c.unit
        for line, obj in records(c):
            label = need(path, line, obj, "label", int, unit=u)
            yield TraceRecord(
                line=line,
                source_id=str(obj.get("id", f"{u} {line}")),
                problem=need(path, line, obj, "problem", str, unit=u),
                steps=need_str_list(path, line, obj, "steps", unit=u),
                generator=opt(path, line, obj, "generator", str, unit=u),
                final_answer_correct=opt(path, line, obj, "final_answer_correct", bool, unit=u),
                gold_first_error=label,
                split=split,
                metadata={k: v for k, v in obj.items() if k not in _KNOWN} or None,
            )


_KNOWN = {"id", "generator", "problem", "steps", "final_answer_correct", "label"}


def split_from_name(path: Path) -> str | None:
    # ProcessBench ships one file per source benchmark (gsm8k.json, math.json, ...).
    stem = Path(path).stem.lower()
    return stem if stem in {"gsm8k", "math", "olympiadbench", "omnimath"} else None
