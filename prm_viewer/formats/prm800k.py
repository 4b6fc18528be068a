"""PRM800K raw labels (openai/prm800k ``data/*.jsonl``): one labelling session per line.

Record: ``{labeler, timestamp, generation, is_quality_control_question,
is_initial_screening_question, question: {problem, ground_truth_answer, ...},
label: {steps: [{completions: [{text, rating, flagged}], human_completion, chosen_completion}],
total_time, finish_reason}}``.

Mapping (one trace = the path the labeller walked):
- step k = ``completions[chosen_completion]`` with its human rating (-1/0/+1) as the label;
- ``chosen_completion`` null with a ``human_completion``: the labeller rejected every candidate
  and wrote the step; the step is that text, its label its rating (usually null: unrated);
  its index is listed in metadata ``human_steps``;
- ``chosen_completion`` null, no human completion, candidates present (phase 2
  ``found_error``): the trace ends at the error; the step is the first candidate rated -1
  (else the first candidate) with its rating;
- a step with no candidates (``give_up`` sessions end so) ends the trace; it adds no step;
- gold first error = the first step rated -1; with none, ``-1`` when ``finish_reason`` is
  ``solution`` (the labeller accepted the path to its answer), otherwise unknown (``None``);
- final_answer = the text after ``# Answer`` in the last step; reference_answer =
  ``ground_truth_answer``; final_answer_correct = the two match after normalising spaces,
  ``$``, ``\\boxed{}`` and the writing of plain numbers (``prm_viewer.answers.equivalent``: an
  equivalent expression written differently reads as wrong); unknown when the trace has no
  final answer;
- source id = ``<labeler>@<timestamp>`` (unique per session); generator is not recorded
  (``None``); metadata keeps finish_reason, labeler, timestamp, generation, total_time,
  human_steps and the phase-2 pre-generated answer / verifier score when present.

Skipped, with the reason in the report: quality-control questions, initial screening
questions, ``finish_reason == "bad_problem"`` (the labeller judged the problem itself broken),
and sessions with no step.
Options: ``split``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.answers import equivalent
from prm_viewer.formats.base import Format, Sample, check_options, register
from prm_viewer.formats.containers import records
from prm_viewer.formats.fields import need
from prm_viewer.model import Skip, TraceRecord

_RATINGS = {-1, 0, 1}
_PREGEN = ("pre_generated_answer", "pre_generated_verifier_score")


@register
class PRM800K(Format):
    name = "prm800k"
    label = "PRM800K raw labels (JSONL)"

    def detect(self, sample: Sample) -> bool:
        if not sample.records or not {"question", "label"} <= sample.keys:
            return False
        first = sample.records[0]
        return isinstance(first["label"], dict) and "steps" in first["label"] and isinstance(first["question"], dict)

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        return {"problem": "question.problem", "steps": "label.steps", "id": "labeler"}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        check_options(path, options, {"split"})
        split = options.get("split")
        p = str(path)
        for line, obj in records(self.open(path, options)):
            if obj.get("is_quality_control_question"):
                yield Skip(line, "quality-control question")
                continue
            if obj.get("is_initial_screening_question"):
                yield Skip(line, "screening question")
                continue
            question = need(path, line, obj, "question", dict)
            label = need(path, line, obj, "label", dict)
            finish = label.get("finish_reason")
            if finish == "bad_problem":
                yield Skip(line, "bad_problem")
                continue
            raw_steps = label.get("steps")
            if not isinstance(raw_steps, list):
                raise ImportFailed(p, line, "label.steps", "expected a list")
            steps, labels, human = _walk(p, line, raw_steps)
            if not steps:
                yield Skip(line, "no steps")
                continue
            problem = question.get("problem")
            if not isinstance(problem, str):
                raise ImportFailed(p, line, "question.problem", "missing or not a string")
            reference = question.get("ground_truth_answer")
            reference = None if reference is None else str(reference)
            final = steps[-1].rsplit("# Answer", 1)[1].strip() or None if "# Answer" in steps[-1] else None
            first = next((i for i, lab in enumerate(labels) if lab == -1), None)
            if first is None and finish == "solution":
                first = -1
            meta: dict[str, Any] = {k: obj.get(k) for k in ("labeler", "timestamp", "generation") if obj.get(k) is not None}
            meta["finish_reason"] = finish
            if label.get("total_time") is not None:
                meta["total_time"] = label["total_time"]
            if human:
                meta["human_steps"] = human
            meta.update({k: question[k] for k in _PREGEN if question.get(k) is not None})
            labeler, stamp = obj.get("labeler"), obj.get("timestamp")
            yield TraceRecord(
                line=line,
                source_id=f"{labeler}@{stamp}" if labeler and stamp else f"line {line}",
                problem=problem,
                steps=steps,
                final_answer=final,
                reference_answer=reference,
                final_answer_correct=equivalent(final, reference) if final is not None else None,
                gold_first_error=first,
                step_labels=labels,
                split=split,
                metadata=meta,
            )


def _walk(path: str, line: int, raw_steps: list[Any]) -> tuple[list[str], list[int | None], list[int]]:
    """The labeller's path through the candidate steps: (texts, ratings, human-written indices)."""
    steps: list[str] = []
    labels: list[int | None] = []
    human: list[int] = []
    for k, st in enumerate(raw_steps):
        where = f"label.steps[{k}]"
        if not isinstance(st, dict):
            raise ImportFailed(path, line, where, "expected an object")
        cands = st.get("completions")
        chosen = st.get("chosen_completion")
        hc = st.get("human_completion")
        if cands is not None and not isinstance(cands, list):
            raise ImportFailed(path, line, f"{where}.completions", "expected a list or null")
        if chosen is not None:
            if not isinstance(chosen, int) or isinstance(chosen, bool) or not cands or not 0 <= chosen < len(cands):
                raise ImportFailed(path, line, f"{where}.chosen_completion",
                                   f"{chosen!r} is not an index into {len(cands or [])} completions")
            pick, stop = cands[chosen], False
        elif isinstance(hc, dict):
            pick, stop = hc, False
            human.append(len(steps))
        elif cands:
            pick = next((c for c in cands if isinstance(c, dict) and c.get("rating") == -1), cands[0])
            stop = True
        else:
            break
        if not isinstance(pick, dict) or not isinstance(pick.get("text"), str):
            raise ImportFailed(path, line, where, "the chosen step has no text")
        rating = pick.get("rating")
        if rating is not None and (isinstance(rating, bool) or rating not in _RATINGS):
            raise ImportFailed(path, line, f"{where}.rating", f"expected -1, 0, 1 or null, found {rating!r}")
        steps.append(pick["text"])
        labels.append(rating)
        if stop:
            break
    return steps, labels, human
