"""PRMBench (ssmisya/PRMBench, ``hitsmy/PRMBench_Preview``): one perturbed solution per record.

Record: ``{idx, question, original_question, modified_question, original_process,
modified_process, modified_steps, error_steps, reason, classification}``.

Mapping:
- the trace is the *modified* solution, the one PRMBench evaluates: problem =
  ``modified_question`` (else ``question``, else ``original_question``), steps =
  ``modified_process`` kept verbatim (the source numbers them "1. ...");
- ``error_steps`` is **1-based**: converted to 0-based; step labels ``-1`` at error steps, ``+1``
  elsewhere (PRMBench counts every other step as correct); gold first error = the smallest
  error step (``-1`` when the list is empty, e.g. some ``multi_solutions`` records);
- error_type and category = ``classification`` (circular, counterfactual, redundency, ...);
- source id = ``idx``; metadata keeps ``reason`` and ``modified_steps`` (1-based, as given).
An error step outside 1..len(modified_process) fails on ``error_steps``. Options: ``split``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.base import Format, Sample, check_options, register
from prm_viewer.formats.containers import records
from prm_viewer.formats.fields import need, need_str_list, opt
from prm_viewer.model import Skip, TraceRecord

_QUESTION_KEYS = ("modified_question", "question", "original_question")
_KNOWN = {"idx", "modified_process", "error_steps", "classification", "reason", "modified_steps",
          "original_process", *_QUESTION_KEYS}


@register
class PRMBench(Format):
    name = "prmbench"
    label = "PRMBench (modified_process, 1-based error_steps)"

    def detect(self, sample: Sample) -> bool:
        return bool(sample.records) and {"modified_process", "error_steps"} <= sample.keys

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        return {"steps": "modified_process", "id": "idx", "problem": "modified_question"}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        check_options(path, options, {"split"})
        split = options.get("split")
        for line, obj in records(self.open(path)):
            steps = need_str_list(path, line, obj, "modified_process")
            errors = need(path, line, obj, "error_steps", list)
            n = len(steps)
            zero_based: list[int] = []
            for e in errors:
                if not isinstance(e, int) or isinstance(e, bool):
                    raise ImportFailed(str(path), line, "error_steps", f"expected 1-based step numbers, found {e!r}")
                if not 1 <= e <= n:
                    raise ImportFailed(str(path), line, "error_steps",
                                       f"step {e} is out of range for {n} steps (1-based)")
                zero_based.append(e - 1)
            wrong = set(zero_based)
            problem = next((obj[k] for k in _QUESTION_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
            if problem is None:
                raise ImportFailed(str(path), line, "modified_question", "missing field (also no 'question')")
            cls = opt(path, line, obj, "classification", str)
            meta = {k: obj[k] for k in ("reason", "modified_steps") if obj.get(k) is not None}
            meta.update({k: v for k, v in obj.items() if k not in _KNOWN})
            yield TraceRecord(
                line=line,
                source_id=str(obj["idx"]) if obj.get("idx") is not None else f"line {line}",
                problem=problem,
                steps=steps,
                gold_first_error=min(wrong) if wrong else -1,
                step_labels=[-1 if i in wrong else 1 for i in range(n)],
                error_type=cls,
                category=cls,
                split=split,
                metadata=meta or None,
            )
