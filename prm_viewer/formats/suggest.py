"""Mapping suggestions for the generic importer, from a file's first records.

Columns are recognised by name (case-insensitive, including suffixes such as
``*_first_error_step`` and names such as ``model_output``) and by the shape of their values: a
list of strings (or of lists of lines) is steps, a long multi-line text is steps with a split
rule, small integers mixed with "N/A" / -1 are a first error, a list of small ints or booleans is
step labels, a list of numbers in [0, 1] is scores.
"""

from __future__ import annotations

import re
from typing import Any

from prm_viewer.formats.containers import PARENT_KEY, Sample
from prm_viewer.formats.step_shapes import STEP_MARKER

_GUESSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id", ("id", "idx", "uid", "trace_id", "sample_id")),
    ("problem_id", ("problem_id", "question_id", "qid", PARENT_KEY)),
    ("problem", ("problem", "question", "prompt", "input", "query", "instruction")),
    ("steps", ("steps", "completions", "process", "modified_process", "reasoning_steps", "solution",
               "response", "output", "model_output", "reasoning", "cot", "trace", "steps_lines")),
    ("final_answer", ("final_answer", "answer", "prediction", "pred", "predicted_answer", "model_answer")),
    ("reference_answer", ("reference_answer", "gold_answer", "ground_truth_answer", "target", "gt_answer",
                          "ground_truth", "gold")),
    ("correct", ("final_answer_correct", "is_correct", "correct", "correctness")),
    ("first_error", ("first_error", "first_error_step", "first_error_index", "mistake_index", "error_step", "label")),
    ("error_steps", ("error_steps", "wrong_steps", "mistake_steps")),
    ("step_labels", ("step_labels", "labels", "step_label", "label")),
    ("generator", ("generator", "model", "model_name", "policy")),
    ("category", ("category", "subject", "task", "domain")),
    ("split", ("split", "source", "dataset")),
    ("error_type", ("error_type", "classification")),
)
_NO_ERROR = ("-1", "n/a", "na", "none", "null")


def _is_str_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(
        isinstance(x, str) or (isinstance(x, (list, tuple)) and all(isinstance(y, str) for y in x)) for x in v)


def _is_nested_lines(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, (list, tuple)) for x in v)


def _is_multiline(v: Any) -> bool:
    return isinstance(v, str) and v.count("\n") >= 2 and not v.strip().startswith("[")


def _is_small_index(values: list[Any]) -> bool:
    """Small non-negative ints (as numbers or text), possibly mixed with "N/A" / -1 / null."""
    seen = False
    for v in values:
        if v is None or (isinstance(v, str) and v.strip().lower() in _NO_ERROR + ("",)):
            continue
        if isinstance(v, bool):
            return False
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()
        if not re.fullmatch(r"-?\d{1,3}", text):
            return False
        seen = True
    return seen


def _is_label_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(
        isinstance(x, bool) or (isinstance(x, int) and x in (-1, 0, 1)) for x in v)


def _is_score_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(
        x is None or (isinstance(x, float) and (x != x or 0.0 <= x <= 1.0)) for x in v) and any(
        isinstance(x, float) for x in v)


def suggest_mapping(sample: Sample) -> dict[str, Any]:
    """Options for the generic importer guessed from a file's first records.

    Returns ``{"map": {field: column}, ...other options}`` ready for ``import_file(...,
    fmt="generic", options=...)``; the upload page shows it for the user to correct.
    """
    rec = sample.records[0] if sample.records else {}
    by_lower = {str(c).lower(): c for c in rec}
    used: set[str] = set()
    mapping: dict[str, str] = {}
    options: dict[str, Any] = {}
    column_values = {c: [r.get(c) for r in sample.records] for c in rec}

    def take(fld: str, col: str) -> None:
        mapping[fld] = col
        used.add(col)

    for fld, names in _GUESSES:
        for name in names:
            col = by_lower.get(name)
            if col is None or col in used:
                continue
            value = rec[col]
            if fld == "first_error" and (isinstance(value, (list, tuple)) or not _is_small_index(column_values[col])):
                continue
            if fld in ("step_labels", "error_steps") and not isinstance(value, (list, tuple)) and not (
                    isinstance(value, str) and value.strip().startswith("[")):
                continue
            if fld == "steps" and not (_is_str_list(value) or isinstance(value, str)):
                continue
            take(fld, col)
            break
    # By name pattern: "<model>_first_error_step" and the like.
    if "first_error" not in mapping:
        for col in rec:
            if col not in used and re.search(r"first_?error", str(col), re.I) and _is_small_index(column_values[col]):
                take("first_error", col)
                break
    # By value shape, for columns no name matched.
    if "steps" not in mapping:
        for col, value in rec.items():
            if col not in used and (_is_str_list(value) or _is_multiline(value)):
                take("steps", col)
                break
    if "problem" not in mapping:
        texts = [(len(v), c) for c, v in rec.items() if c not in used and isinstance(v, str) and v.strip()]
        if texts:
            take("problem", max(texts)[1])
    for col, value in rec.items():
        if col in used:
            continue
        if "score" in str(col).lower() and (isinstance(value, (list, tuple)) or (
                isinstance(value, str) and value.strip().startswith("["))) or _is_score_list(value):
            take(f"scores.{col}", col)
        elif "first_error" not in mapping and _is_small_index(column_values[col]) and any(
                isinstance(v, str) for v in column_values[col]):
            take("first_error", col)
        elif "step_labels" not in mapping and "error_steps" not in mapping and _is_label_list(value):
            take("step_labels", col)
    _suggest_options(rec, sample, mapping, options)
    return {"map": mapping, **options}


def _suggest_options(rec: dict[str, Any], sample: Sample, mapping: dict[str, str], options: dict[str, Any]) -> None:
    steps_col = mapping.get("steps")
    if steps_col is not None:
        value = rec[steps_col]
        if isinstance(value, str) and not value.strip().startswith("["):
            if STEP_MARKER.search(value):
                options["split_rule"] = "step_markers"
            elif "\n\n" in value:
                options["split_rule"] = "blankline"
            else:
                options["split_rule"] = "newline"
        elif _is_str_list(value) and not _is_nested_lines(value):
            items = [x for x in value if isinstance(x, str)]
            headers = sum(1 for x in items if re.match(r"\s*(?:#+\s*|\*\*)?Step\s*\d+", x, re.I))
            if headers and (headers < len(items) or any(not x.strip() for x in items)):
                options["split_rule"] = "step_markers"  # headers mixed with continuation lines
    fe = mapping.get("first_error")
    if fe is not None:
        seen = {str(r.get(fe)).strip().lower(): str(r.get(fe)).strip() for r in sample.records}
        markers = [seen[m] if m in seen else m for m in _NO_ERROR if m in seen]
        if markers and markers != ["-1"]:
            options["no_error"] = ",".join(markers)
        nums = [int(v) for v in (str(r.get(fe)).strip() for r in sample.records) if re.fullmatch(r"\d+", v)]
        if nums and min(nums) >= 1 and "n/a" in seen:
            options["first_error_base"] = "1"
