"""Generic importer: JSONL, JSON, CSV/TSV or Parquet with an explicit column mapping.

Never auto-detected: choose it with ``--format generic`` (CLI) or the upload page's mapping
form. :func:`suggest_mapping` proposes a mapping from a file's first records.

Options (``options`` dict; the CLI fills ``map`` from ``--map KEY=COLUMN`` and the rest from
``--option KEY=VALUE``; unknown keys are rejected):

``map``  canonical field -> column. ``problem`` and ``steps`` are required; the others optional:

    =================  ==============================================================
    problem            problem text
    steps              a list column, a JSON-list text, or one text column + split_rule
    final_answer       the trace's final answer
    reference_answer   the problem's gold answer
    correct            final answer correct: true/false, 1/0, yes/no, correct/incorrect
    first_error        index of the earliest wrong step (see first_error_base, no_error)
    step_labels        per-step labels, a list (or JSON-list text); see label_scheme
    scores.<name>      per-step scores in [0, 1] computed elsewhere, imported as the
                       scorer <name> (e.g. ``--map scores.my_prm=prm_scores``)
    generator          model / policy that produced the trace
    category, split    for breakdowns
    error_type         kind of the first error
    id                 trace id in the source (must be unique; default ``row N``/``line N``)
    problem_id         the source's problem id
    metadata           comma-separated columns kept as free metadata
    =================  ==============================================================

``split_rule``  how one text column becomes steps: ``newline`` (each non-blank line),
    ``blankline`` (paragraphs separated by an empty line), ``regex:<pattern>`` (split at each
    match; blank pieces dropped) or ``step_markers`` (split at "Step k:" / "Step k." line
    starts; the marker is removed, a non-blank preamble is kept as a first step). Without a
    rule, a text value must be a JSON list (``["step 1", "step 2"]``).
``first_error_base``  ``0`` (default) or ``1``: the base of the first-error column; converted
    to 0-based on import.
``no_error``  comma-separated markers meaning "no error" in the first-error column (default
    ``-1``), compared as text, case-insensitively, e.g. ``no_error=-1,N/A``. Include ``null``
    (or ``none``) to read an empty/null cell as "no error"; otherwise it means "unknown".
``label_scheme``  ``pm1`` (default: +1/0/-1, true/false, "+"/"-") or ``binary`` (1 = correct,
    0 = wrong). Per-step labels decide the first error when no first-error column is mapped.
``container``  force the file type: ``jsonl``, ``json``, ``csv``, ``tsv`` or ``parquet``
    (default: from the extension and first bytes).
``delimiter``  CSV delimiter (default ``,``; tab for ``.tsv``; ``tab`` is accepted).

CSV cells are text; list-valued fields in CSV (steps without a split rule, step labels,
scores) are JSON lists. Rows are counted from 1 after the header ("row N" in messages).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats import cells
from prm_viewer.formats.base import Format, Sample, first_error_from_labels, register
from prm_viewer.formats.cells import BadCell
from prm_viewer.formats.containers import KINDS, Container, records, sniff
from prm_viewer.model import Skip, TraceRecord

OPTION_KEYS = {"map", "split_rule", "first_error_base", "no_error", "label_scheme", "container", "delimiter"}
MAP_KEYS = {
    "problem", "steps", "final_answer", "reference_answer", "correct", "first_error", "step_labels",
    "generator", "category", "split", "error_type", "id", "problem_id", "metadata",
}
SPLIT_RULES = ("newline", "blankline", "regex:<pattern>", "step_markers")
CONTAINERS = set(KINDS)

_STEP_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:#+[ \t]*)?Step[ \t]*\d+[ \t]*[:.]", re.I)


@dataclass
class _Plan:
    """The parsed options: what to read from which column, and how."""

    columns: dict[str, str]
    scores: dict[str, str]
    meta: list[str]
    split: Callable[[str], list[str]] | None
    base: int
    no_error: set[str]
    labels: dict[str, int]
    scheme: str
    container: Container
    needed: list[str] = field(default_factory=list)


@register
class Generic(Format):
    name = "generic"
    label = "Generic JSONL / CSV / Parquet with a column mapping"
    generic = True
    containers = KINDS

    def detect(self, sample: Sample) -> bool:
        return False  # only by explicit choice, with a mapping

    def record_unit(self, path: Path) -> str:
        return _container(path, None, None).unit

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        mapping = options.get("map")
        return {str(k): str(v) for k, v in mapping.items()} if isinstance(mapping, dict) else {}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        plan = _plan(path, options)
        unit = plan.container.unit
        for n, row in records(plan.container, plan.needed, column_label="mapped column"):
            try:
                yield _record(plan, n, row, unit)
            except BadCell as exc:
                col, msg = exc.args
                raise ImportFailed(str(path), n, col, msg, unit=unit) from None


# --------------------------------------------------------------------------- options


def _plan(path: Path, options: dict[str, Any]) -> _Plan:
    p = str(path)
    unknown = sorted(set(options) - OPTION_KEYS)
    if unknown:
        raise ImportFailed(p, None, "options", f"unknown option(s) {', '.join(unknown)}; the generic importer takes: "
                           f"{', '.join(sorted(OPTION_KEYS))}")
    mapping = options.get("map") or {}
    if not isinstance(mapping, dict):
        raise ImportFailed(p, None, "map", "expected a mapping of field -> column")
    columns: dict[str, str] = {}
    scores: dict[str, str] = {}
    meta: list[str] = []
    for key, col in mapping.items():
        if not isinstance(col, str) or not col.strip():
            raise ImportFailed(p, None, f"map.{key}", "expected a column name")
        if key.startswith("scores."):
            sname = key[len("scores."):].strip()
            if not sname:
                raise ImportFailed(p, None, f"map.{key}", "name the scorer: scores.<name>=<column>")
            scores[sname] = col
        elif key == "metadata":
            meta = [c.strip() for c in col.split(",") if c.strip()]
        elif key in MAP_KEYS:
            columns[key] = col
        else:
            raise ImportFailed(p, None, f"map.{key}", f"unknown field; map one of: {', '.join(sorted(MAP_KEYS))}, scores.<name>")
    missing = [k for k in ("problem", "steps") if k not in columns]
    if missing:
        raise ImportFailed(p, None, "map", "the generic importer needs " + " and ".join(f"--map {k}=COLUMN" for k in missing))

    base_raw = str(options.get("first_error_base", 0)).strip()
    if base_raw not in {"0", "1"}:
        raise ImportFailed(p, None, "first_error_base", f"expected 0 or 1, got '{base_raw}'")
    no_error_raw = options.get("no_error", "-1")
    markers = no_error_raw if isinstance(no_error_raw, (list, tuple)) else str(no_error_raw).split(",")
    no_error = {str(m).strip().lower() if m is not None else "null" for m in markers}
    scheme = str(options.get("label_scheme", "pm1")).strip()
    if scheme not in {"pm1", "binary"}:
        raise ImportFailed(p, None, "label_scheme", f"expected pm1 or binary, got '{scheme}'")
    delimiter: str | None = None
    if options.get("delimiter"):
        delimiter = str(options["delimiter"])
        if delimiter in {"tab", "\\t"}:
            delimiter = "\t"
        if len(delimiter) != 1:
            raise ImportFailed(p, None, "delimiter", f"expected one character, got '{delimiter}'")
    container = _container(path, options.get("container"), delimiter)
    plan = _Plan(columns=columns, scores=scores, meta=meta, split=_splitter(p, options.get("split_rule")),
                 base=int(base_raw), no_error=no_error, labels=cells.PM1 if scheme == "pm1" else cells.BINARY,
                 scheme=scheme, container=container)
    plan.needed = list(dict.fromkeys([*columns.values(), *scores.values(), *meta]))
    return plan


def _container(path: Path, forced: Any, delimiter: str | None) -> Container:
    if forced:
        kind = str(forced).strip().lower()
        if kind not in CONTAINERS:
            raise ImportFailed(str(path), None, "container", f"expected one of {', '.join(sorted(CONTAINERS))}, got '{kind}'")
        return sniff(path, kind, delimiter)
    c = sniff(path, None, delimiter)
    if c.kind in CONTAINERS:
        return c
    if c.kind == "empty":
        raise ImportFailed(str(path), None, None, "the file is empty")
    raise ImportFailed(str(path), None, None,
                       "cannot tell the file type (not JSON/JSONL, CSV/TSV or Parquet); set --option container=...")


def _splitter(path: str, rule: Any) -> Callable[[str], list[str]] | None:
    if rule is None or rule == "":
        return None
    rule = str(rule)
    if rule == "newline":
        return lambda text: [s.strip() for s in text.split("\n") if s.strip()]
    if rule == "blankline":
        blank = re.compile(r"\n[ \t\r]*\n")
        return lambda text: [s.strip() for s in blank.split(text) if s.strip()]
    if rule == "step_markers":
        return lambda text: [s.strip() for s in _STEP_MARKER.split(text) if s.strip()]
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


# --------------------------------------------------------------------------- cells


def _record(plan: _Plan, n: int, row: dict[str, Any], unit: str) -> TraceRecord:
    cols = plan.columns
    get = row.get
    text = cells.text
    problem_col = cols["problem"]
    problem = get(problem_col)
    if not isinstance(problem, str):
        raise BadCell(problem_col, f"expected text, found {cells.kind(problem)}")
    steps = cells.steps(cols["steps"], get(cols["steps"]), plan.split)
    labels = (cells.labels(cols["step_labels"], get(cols["step_labels"]), plan.labels, plan.scheme)
              if "step_labels" in cols else None)
    if "first_error" in cols:
        first = cells.first_error(cols["first_error"], get(cols["first_error"]), plan.base, plan.no_error)
        if first is not None and first >= len(steps):
            raise BadCell(cols["first_error"], f"step {first + plan.base} (first_error_base {plan.base}) is out of range "
                                            f"for {len(steps)} steps")
    elif labels is not None:
        first = first_error_from_labels(labels)
    else:
        first = None
    scores = {name: cells.scores(col, get(col)) for name, col in plan.scores.items()} or None
    sid = text(get(cols["id"])) if "id" in cols else f"{unit} {n}"
    if sid is None or not sid.strip():
        raise BadCell(cols["id"], "empty id")
    return TraceRecord(
        line=n,
        source_id=sid,
        problem=problem,
        steps=steps,
        generator=text(get(cols["generator"])) if "generator" in cols else None,
        final_answer=text(get(cols["final_answer"])) if "final_answer" in cols else None,
        reference_answer=text(get(cols["reference_answer"])) if "reference_answer" in cols else None,
        final_answer_correct=cells.boolean(cols["correct"], get(cols["correct"])) if "correct" in cols else None,
        gold_first_error=first,
        step_labels=labels,
        error_type=text(get(cols["error_type"])) if "error_type" in cols else None,
        category=text(get(cols["category"])) if "category" in cols else None,
        split=text(get(cols["split"])) if "split" in cols else None,
        problem_id=text(get(cols["problem_id"])) if "problem_id" in cols else None,
        metadata={c: get(c) for c in plan.meta} or None,
        step_scores=scores,
    )


# --------------------------------------------------------------------------- suggestions

_GUESSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id", ("id", "idx", "uid", "trace_id", "sample_id")),
    ("problem_id", ("problem_id", "question_id", "qid")),
    ("problem", ("problem", "question", "prompt", "input", "query", "instruction")),
    ("steps", ("steps", "completions", "process", "modified_process", "reasoning_steps", "solution",
               "response", "output", "reasoning", "cot", "trace")),
    ("final_answer", ("final_answer", "answer", "prediction", "pred", "predicted_answer", "model_answer")),
    ("reference_answer", ("reference_answer", "gold_answer", "ground_truth_answer", "target", "gt_answer",
                          "ground_truth", "gold")),
    ("correct", ("final_answer_correct", "is_correct", "correct", "correctness")),
    ("first_error", ("first_error", "first_error_step", "first_error_index", "mistake_index", "error_step", "label")),
    ("step_labels", ("step_labels", "labels", "step_label", "label")),
    ("generator", ("generator", "model", "model_name", "policy")),
    ("category", ("category", "subject", "task", "domain")),
    ("split", ("split", "source", "dataset")),
    ("error_type", ("error_type", "classification")),
)


def suggest_mapping(sample: Sample) -> dict[str, Any]:
    """Options for the generic importer guessed from a file's first records.

    Returns ``{"map": {field: column}, ...other options}`` ready for ``import_file(...,
    fmt="generic", options=...)``; the upload page shows it for the user to correct.
    Column names are matched case-insensitively; values decide ambiguous cases (a list-valued
    ``label`` is step labels, a scalar one a first-error index; a text ``steps`` gets a split rule).
    """
    rec = sample.records[0] if sample.records else {}
    by_lower = {str(c).lower(): c for c in rec}
    used: set[str] = set()
    mapping: dict[str, str] = {}
    options: dict[str, Any] = {}
    for fld, names in _GUESSES:
        for name in names:
            col = by_lower.get(name)
            if col is None or col in used:
                continue
            value = rec[col]
            if fld == "first_error" and isinstance(value, (list, tuple)):
                continue
            if fld == "step_labels" and not isinstance(value, (list, tuple)) and not (
                    isinstance(value, str) and value.strip().startswith("[")):
                continue
            mapping[fld] = col
            used.add(col)
            break
    for col, value in rec.items():
        if col in used or "score" not in str(col).lower():
            continue
        if isinstance(value, (list, tuple)) or (isinstance(value, str) and value.strip().startswith("[")):
            mapping[f"scores.{col}"] = col
            used.add(col)
    steps_col = mapping.get("steps")
    if steps_col is not None:
        value = rec[steps_col]
        if isinstance(value, str) and not value.strip().startswith("["):
            if _STEP_MARKER.search(value):
                options["split_rule"] = "step_markers"
            elif "\n\n" in value:
                options["split_rule"] = "blankline"
            else:
                options["split_rule"] = "newline"
    fe = mapping.get("first_error")
    if fe is not None:
        seen = {str(r.get(fe)).strip().lower(): str(r.get(fe)).strip() for r in sample.records}
        markers = [seen[m] if m in seen else m for m in ("-1", "n/a", "none", "null") if m in seen]
        if markers and markers != ["-1"]:
            options["no_error"] = ",".join(markers)
    return {"map": mapping, **options}
