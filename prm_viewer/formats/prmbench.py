"""PRMBench (ssmisya/PRMBench, ``hitsmy/PRMBench_Preview``), read as its official loader reads it.

Record: ``{idx, question, original_question, modified_question, original_process,
modified_process, modified_steps, error_steps, reason, classification}``.

The rules of ``mr_eval/tasks/prmtest_classified/task.py`` (``load_data_function`` and
``eval_on_hallucination_step``):

- a sample is keyed ``f"{classification}_{idx}"`` (the same ``idx`` recurs in every error class);
  a key seen before is passed over (the loader keeps the first), listed as skipped;
- the sample is the *modified* solution: problem = ``modified_question``, steps =
  ``modified_process`` kept verbatim; error type and category = ``classification``;
- for rows of class ``redundency``, the clean ``original_process`` (problem ``original_question``)
  is added once per ``idx`` as class ``correct``, with no error steps;
- ``error_steps`` is **1-based**; step labels are ``-1`` at error steps, ``+1`` elsewhere; an error
  step past the last step matches no step (the evaluation never reaches it): it is ignored and
  counted in the import report; the gold first error is the smallest error step, ``-1`` when there
  are none, unknown when the smallest lies past the end (the evaluation skips first-error
  accuracy for such a sample);
- metadata keeps ``reason``, ``modified_steps`` and ``idx``.

Options: ``split``. JSON Lines, a JSON array or Parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.base import Format, Sample, check_options, register
from prm_viewer.formats.containers import records
from prm_viewer.formats.fields import need, need_str_list, opt
from prm_viewer.model import Note, Skip, TraceRecord

CORRECT_FROM = "redundency"
"""The class whose rows also give the clean solution (the official loader's choice)."""
PAST_END = "error steps past the last step (ignored, as PRMBench's evaluation ignores them)"
_KNOWN = {"idx", "modified_process", "error_steps", "classification", "reason", "modified_steps",
          "original_process", "modified_question", "question", "original_question"}


@register
class PRMBench(Format):
    name = "prmbench"
    label = "PRMBench (modified_process, 1-based error_steps)"
    containers = ("jsonl", "json", "parquet")

    def detect(self, sample: Sample) -> bool:
        return bool(sample.records) and {"modified_process", "error_steps"} <= sample.keys

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        return {"steps": "modified_process", "id": "idx", "problem": "modified_question"}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        check_options(path, options, {"split"})
        split = options.get("split")
        c = self.open(path, options)
        u = c.unit
        seen: dict[str, int] = {}
        for line, obj in records(c):
            try:
                yield from self._samples(path, line, obj, u, split, seen)
            except ImportFailed as exc:
                yield Skip(line, exc.message, exc.field, invalid=True, unit=u)

    def _samples(self, path: Path, line: int, obj: dict[str, Any], u: str, split: Any,
                 seen: dict[str, int]) -> Iterator[TraceRecord | Skip]:
        if obj.get("idx") is None:
            raise ImportFailed(str(path), line, "idx", "missing field", unit=u)
        idx = str(obj["idx"])
        cls = need(path, line, obj, "classification", str, unit=u)
        out: list[TraceRecord | Skip] = []
        if cls == CORRECT_FROM:
            key = f"correct_{idx}"
            if key not in seen:
                seen[key] = line
                steps = need_str_list(path, line, obj, "original_process", unit=u)
                problem = need(path, line, obj, "original_question", str, unit=u)
                out.append(TraceRecord(line=line, source_id=key, problem=problem, steps=steps, gold_first_error=-1,
                                       step_labels=[1] * len(steps), error_type="correct", category="correct",
                                       split=split, metadata={"idx": obj["idx"]}))
        key = f"{cls}_{idx}"
        if key in seen:
            out.append(Skip(line, f"sample '{key}' repeats the one on {u} {seen[key]} (the official loader keeps "
                                  "the first)", "idx", unit=u))
            yield from out
            return
        seen[key] = line
        steps = need_str_list(path, line, obj, "modified_process", unit=u)
        errors = need(path, line, obj, "error_steps", list, unit=u)
        n = len(steps)
        wrong: set[int] = set()
        past = 0
        for e in errors:
            if not isinstance(e, int) or isinstance(e, bool) or e < 1:
                raise ImportFailed(str(path), line, "error_steps", f"expected 1-based step numbers, found {e!r}",
                                   unit=u)
            if e > n:
                past += 1
            else:
                wrong.add(e - 1)
        smallest = min(errors) - 1 if errors else -1
        problem = opt(path, line, obj, "modified_question", str, unit=u) or opt(path, line, obj, "question", str, unit=u)
        if not problem:
            raise ImportFailed(str(path), line, "modified_question", "missing field (also no 'question')", unit=u)
        meta = {k: obj[k] for k in ("reason", "modified_steps", "idx") if obj.get(k) is not None}
        meta.update({k: v for k, v in obj.items() if k not in _KNOWN})
        out.append(TraceRecord(
            line=line,
            source_id=key,
            problem=problem,
            steps=steps,
            gold_first_error=smallest if smallest < n else None,
            step_labels=[-1 if i in wrong else 1 for i in range(n)],
            error_type=cls,
            category=cls,
            split=split,
            metadata=meta or None,
            notes=[Note(PAST_END, "error_steps", past)] if past else None,
        ))
        yield from out
