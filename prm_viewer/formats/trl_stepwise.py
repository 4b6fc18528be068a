"""TRL stepwise supervision (the ``PRMTrainer`` dataset type): ``{prompt, completions, labels}``.

``completions`` is the list of steps, ``labels`` one boolean per step (true = the step is
correct). JSONL, a JSON array, or Parquet (as exported by ``datasets``).

Mapping: problem = ``prompt``; steps = ``completions``; step labels true -> ``+1``, false ->
``-1``; gold first error = the first false label (``-1`` when all are true);
final_answer_correct is unknown (``None``): TRL sets label the steps, not the answer.
source id = ``id`` or ``index`` when present, else ``line N`` / ``row N``. Other keys go into
metadata. Options: ``split``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.base import Format, Sample, check_options, register
from prm_viewer.formats.containers import records
from prm_viewer.formats.fields import need, need_str_list
from prm_viewer.model import Skip, TraceRecord

_KEYS = {"prompt", "completions", "labels"}


@register
class TrlStepwise(Format):
    name = "trl-stepwise"
    label = "TRL stepwise supervision (prompt, completions, labels)"
    containers = ("jsonl", "json", "parquet")

    def detect(self, sample: Sample) -> bool:
        return (bool(sample.records) and _KEYS <= sample.keys
                and isinstance(sample.records[0].get("completions"), list)
                and isinstance(sample.records[0].get("labels"), list))

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        return {"problem": "prompt", "steps": "completions", "step_labels": "labels"}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        check_options(path, options, {"split"})
        split = options.get("split")
        c = self.open(path, options)
        unit = c.unit
        for line, obj in records(c):
            steps = need_str_list(path, line, obj, "completions", unit=unit)
            raw = need(path, line, obj, "labels", list, unit=unit)
            prompt = need(path, line, obj, "prompt", str, unit=unit)
            labels: list[int | None] = []
            for i, v in enumerate(raw):
                if not isinstance(v, bool):
                    raise ImportFailed(str(path), line, f"labels[{i}]", f"expected true/false, found {v!r}", unit=unit)
                labels.append(1 if v else -1)
            sid = obj.get("id", obj.get("index"))
            yield TraceRecord(
                line=line,
                source_id=str(sid) if sid is not None else f"{unit} {line}",
                problem=prompt,
                steps=steps,
                gold_first_error=next((i for i, lab in enumerate(labels) if lab == -1), -1),
                step_labels=labels,
                split=split,
                metadata={k: v for k, v in obj.items() if k not in _KEYS | {"id", "index"}} or None,
            )

