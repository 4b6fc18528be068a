"""GSM8K model solutions (openai/grade-school-math ``example_model_solutions.jsonl``).

One record per problem: ``{question, ground_truth, <model>: {solution, is_correct}, ...}``.
Every key whose value is an object with a ``solution`` string is one model's attempt.

Mapping (one trace per model per problem, so runs can be compared on the same problems):
- generator = the model key (e.g. ``175b_verification``);
- steps = the non-blank lines of ``solution``, verbatim, including the final ``A: ...`` line;
- final_answer = the text after the last ``A:`` (or ``####``) line of the solution;
  reference_answer = the same from ``ground_truth``; final_answer_correct = ``is_correct``;
- no step labels: gold first error unknown (``None``);
- source id = ``line N:<model>``; metadata keeps the full ground-truth solution.
Options: ``split``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.answers import after_marker
from prm_viewer.formats.base import Format, Sample, check_options, register
from prm_viewer.formats.containers import records
from prm_viewer.formats.fields import need
from prm_viewer.model import Skip, TraceRecord

_MARKERS = ("####", "A:")


def _models(obj: dict[str, Any]) -> list[str]:
    return [k for k, v in obj.items() if isinstance(v, dict) and "solution" in v]


@register
class Gsm8kSolutions(Format):
    name = "gsm8k-solutions"
    label = "GSM8K model solutions (several models per problem)"

    def detect(self, sample: Sample) -> bool:
        return (bool(sample.records) and {"question", "ground_truth"} <= sample.keys
                and bool(_models(sample.records[0])))

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        return {"problem": "question"}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        check_options(path, options, {"split"})
        split = options.get("split")
        p = str(path)
        for line, obj in records(self.open(path, options)):
            problem = need(path, line, obj, "question", str)
            truth = need(path, line, obj, "ground_truth", str)
            reference = after_marker(truth, _MARKERS)
            models = _models(obj)
            if not models:
                raise ImportFailed(p, line, None, "no model solutions (objects with a 'solution' field)")
            for model in models:
                entry = obj[model]
                solution = entry["solution"]
                if not isinstance(solution, str):
                    raise ImportFailed(p, line, f"{model}.solution", "expected a string")
                steps = [s for s in solution.splitlines() if s.strip()]
                if not steps:
                    raise ImportFailed(p, line, f"{model}.solution", "empty solution (no steps)")
                correct = entry.get("is_correct")
                if correct is not None and not isinstance(correct, bool):
                    raise ImportFailed(p, line, f"{model}.is_correct", f"expected true/false, found {correct!r}")
                yield TraceRecord(
                    line=line,
                    source_id=f"line {line}:{model}",
                    problem=problem,
                    steps=steps,
                    generator=model,
                    final_answer=after_marker(solution, _MARKERS),
                    reference_answer=reference,
                    final_answer_correct=correct,
                    split=split,
                    metadata={"ground_truth": truth},
                )
