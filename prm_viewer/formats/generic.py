"""Generic importer: JSONL, JSON, CSV/TSV or Parquet with an explicit column mapping.

Never auto-detected: choose it with ``--format generic`` (CLI) or the upload page's mapping
form. :func:`suggest_mapping` proposes a mapping from a file's first records.

Options (``options`` dict; the CLI fills ``map`` from ``--map KEY=COLUMN`` and the rest from
``--option KEY=VALUE``; unknown keys are rejected):

``map``  canonical field -> column. ``problem`` and ``steps`` are required; the others optional:

    =================  ==============================================================
    problem            problem text
    steps              a list (of strings, or of lists of lines), a JSON-list text, or
                       a text + split_rule (see :mod:`.step_shapes`)
    final_answer       the trace's final answer
    reference_answer   the problem's gold answer
    correct            final answer correct: true/false, 1/0, yes/no, correct/incorrect
    first_error        index of the earliest wrong step (see first_error_base, no_error)
    step_labels        per-step labels, a list (or JSON-list text); see label_scheme
                       (a scalar rating per row in a step-row table)
    error_steps        a list of erroneous step indices (base = first_error_base): step
                       labels -1 there, +1 elsewhere; first error = the smallest
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
``first_error_ref``  ``position`` (default: the index is a position in the steps list, or in the
    source list before a list split) or ``step_label`` (a 1-based "N" names the step labelled
    "Step N"; use with ``first_error_base=1``). A first error that no longer lines up after a split
    is imported where it points and noted in the report.
``records``  the records inside a JSON document: a dotted key (``data``) or ``*`` (every value of
    the top-level object is a list of records; the parent key is the column ``_key``).
``sql``  a DuckDB ``SELECT ... FROM src`` over the file (:mod:`.containers.sql`); its result
    columns are mapped like a file's.
``group_by``, ``order_by``, ``keep``, ``preset``  step-row tables, see :mod:`.step_rows`.
``on_error``  ``skip``: records that fail validation are skipped and listed (default ``fail``).
``container``  force the file type: ``jsonl``, ``json``, ``csv``, ``tsv`` or ``parquet``
    (default: from the extension and first bytes).
``delimiter``  CSV delimiter (default ``,``; tab for ``.tsv``; ``tab`` is accepted).

CSV cells are text; list-valued fields in CSV (steps without a split rule, step labels,
scores) are JSON lists. Rows are counted from 1 after the header ("row N" in messages).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats import cells, step_rows
from prm_viewer.formats.base import Format, Sample, first_error_from_labels, register
from prm_viewer.formats.cells import BadCell
from prm_viewer.formats.containers import KINDS, Container, records, sniff
from prm_viewer.formats.containers.sql import sql_records
from prm_viewer.formats.step_shapes import (
    FIRST_ERROR_REFS,
    SPLIT_RULES,
    StepShapeError,
    TextSplit,
    locate_first_error,
    read_steps,
    text_splitter,
)
from prm_viewer.formats.suggest import suggest_mapping
from prm_viewer.model import Note, Skip, TraceRecord

__all__ = ["MAP_KEYS", "OPTION_KEYS", "SPLIT_RULES", "Generic", "suggest_mapping"]

OPTION_KEYS = {"map", "split_rule", "first_error_base", "no_error", "label_scheme", "container", "delimiter",
               "first_error_ref", "records", "sql", "on_error", *step_rows.STEP_ROW_OPTIONS}
MAP_KEYS = {
    "problem", "steps", "final_answer", "reference_answer", "correct", "first_error", "step_labels", "error_steps",
    "generator", "category", "split", "error_type", "id", "problem_id", "metadata",
}
CONTAINERS = set(KINDS)


@dataclass
class _Plan:
    """The parsed options: what to read from which column, and how."""

    columns: dict[str, str]
    scores: dict[str, str]
    meta: list[str]
    split: TextSplit | None
    rule: str | None
    ref: str
    base: int
    no_error: set[str]
    labels: dict[str, int]
    scheme: str
    container: Container
    sql: str | None = None
    group_by: list[str] = field(default_factory=list)
    order_by: str | None = None
    keep: tuple[str, set[str]] | None = None
    needed: list[str] = field(default_factory=list)


@register
class Generic(Format):
    name = "generic"
    label = "Generic JSONL / CSV / Parquet with a column mapping"
    generic = True
    containers = KINDS

    def detect(self, sample: Sample) -> bool:
        return False  # only by explicit choice, with a mapping

    def record_unit(self, path: Path, options: dict[str, Any] | None = None) -> str:
        options = options or {}
        if options.get("sql") or options.get("group_by") or options.get("preset"):
            return "row"  # result rows of the SQL; first rows of a step-row group
        return _container(path, options.get("container"), None, options.get("records")).unit

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        mapping = options.get("map")
        return {str(k): str(v) for k, v in mapping.items()} if isinstance(mapping, dict) else {}

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        plan = _plan(path, options)
        unit = "row" if plan.sql else plan.container.unit
        if plan.sql:
            rows = sql_records(plan.container, plan.sql, plan.needed)
        else:
            rows = records(plan.container, plan.needed, column_label="mapped column")
        if plan.group_by:
            unit = "row"
            for group in step_rows.group_rows(str(path), unit, rows, plan.group_by, plan.order_by, plan.keep):
                yield _guarded(plan, group[0][0], unit, lambda g=group: _grouped(plan, g, unit))
            return
        for n, row in rows:
            yield _guarded(plan, n, unit, lambda n=n, row=row: _record(plan, n, row, unit))


def _guarded(plan: _Plan, n: int, unit: str, build: Any) -> TraceRecord | Skip:
    """One record, or an invalid :class:`Skip` naming its cell (the import decides whether that is fatal)."""
    try:
        result: TraceRecord = build()
        return result
    except (BadCell, StepShapeError) as exc:
        col, msg = exc.args
        return Skip(n, msg, col, invalid=True, unit=unit)
    except ImportFailed as exc:
        if exc.line is None:
            raise
        return Skip(exc.line, exc.message, exc.field, invalid=True, unit=exc.unit)


# --------------------------------------------------------------------------- options


def _plan(path: Path, options: dict[str, Any]) -> _Plan:
    p = str(path)
    options = step_rows.apply_preset(p, options)
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
    ref = str(options.get("first_error_ref", "position")).strip()
    if ref not in FIRST_ERROR_REFS:
        raise ImportFailed(p, None, "first_error_ref", f"expected {' or '.join(FIRST_ERROR_REFS)}, got '{ref}'")
    if "first_error" in columns and "error_steps" in columns:
        raise ImportFailed(p, None, "map", "map either first_error or error_steps, not both")
    records_path = str(options["records"]) if options.get("records") else None
    container = _container(path, options.get("container"), delimiter, records_path)
    rule = str(options["split_rule"]) if options.get("split_rule") else None
    group_by = [c.strip() for c in str(options.get("group_by") or "").split(",") if c.strip()]
    keep = step_rows.parse_keep(p, options.get("keep"))
    if not group_by and (options.get("order_by") or keep):
        raise ImportFailed(p, None, "group_by", "order_by and keep apply to step-row tables: set group_by too")
    sql = str(options["sql"]).strip() if options.get("sql") else None
    plan = _Plan(columns=columns, scores=scores, meta=meta, split=text_splitter(p, rule), rule=rule, ref=ref,
                 base=int(base_raw), no_error=no_error, labels=cells.PM1 if scheme == "pm1" else cells.BINARY,
                 scheme=scheme, container=container, sql=sql, group_by=group_by,
                 order_by=str(options["order_by"]).strip() if options.get("order_by") else None, keep=keep)
    extra = [*group_by, *([plan.order_by] if plan.order_by else []), *([keep[0]] if keep else [])]
    plan.needed = list(dict.fromkeys([*columns.values(), *scores.values(), *meta, *extra]))
    return plan


def _container(path: Path, forced: Any, delimiter: str | None, records_path: Any = None) -> Container:
    rp = str(records_path) if records_path else None
    if forced:
        kind = str(forced).strip().lower()
        if kind not in CONTAINERS:
            raise ImportFailed(str(path), None, "container", f"expected one of {', '.join(sorted(CONTAINERS))}, got '{kind}'")
        return sniff(path, kind, delimiter, rp)
    c = sniff(path, None, delimiter, rp)
    if c.kind in CONTAINERS:
        return c
    if c.kind == "empty":
        raise ImportFailed(str(path), None, None, "the file is empty")
    raise ImportFailed(str(path), None, None,
                       "cannot tell the file type (not JSON/JSONL, CSV/TSV or Parquet); set --option container=...")


# --------------------------------------------------------------------------- cells


def _record(plan: _Plan, n: int, row: dict[str, Any], unit: str) -> TraceRecord:
    cols = plan.columns
    get = row.get
    notes: list[Note] = []
    problem = _problem(plan, row)
    shaped = read_steps(cols["steps"], get(cols["steps"]), plan.split, plan.rule)
    steps = shaped.texts
    labels = (cells.labels(cols["step_labels"], get(cols["step_labels"]), plan.labels, plan.scheme)
              if "step_labels" in cols else None)
    if "first_error" in cols:
        col = cols["first_error"]
        given = cells.first_error(col, get(col), plan.base, plan.no_error)
        first = given
        if given is not None and given >= 0:
            first, warning = locate_first_error(shaped, given, plan.ref)
            if first is None or first >= len(steps):
                what = "no step is labelled" if plan.ref == "step_label" else "out of range for"
                where = (f"'Step {given + 1}'" if plan.ref == "step_label" else
                         f"step {given + plan.base} (first_error_base {plan.base})")
                raise BadCell(col, f"{where} is out of range for {len(steps)} steps" if what.startswith("out")
                              else f"{what} {where} among the {len(steps)} steps")
            if warning:
                notes.append(Note("first errors that no longer line up after the split", col))
    elif "error_steps" in cols:
        first, labels = _error_steps(plan, cols["error_steps"], get(cols["error_steps"]), len(steps))
    elif labels is not None:
        first = first_error_from_labels(labels)
    else:
        first = None
    scores = _scores(plan, row, notes)
    text = cells.text
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
        notes=notes or None,
    )


def _problem(plan: _Plan, row: dict[str, Any]) -> str:
    col = plan.columns["problem"]
    problem = row.get(col)
    if not isinstance(problem, str):
        raise BadCell(col, f"expected text, found {cells.kind(problem)}")
    return problem


def _scores(plan: _Plan, row: dict[str, Any], notes: list[Note]) -> dict[str, list[float | None]] | None:
    out: dict[str, list[float | None]] = {}
    for name, col in plan.scores.items():
        raw = row.get(col)
        values = cells.scores(col, raw)
        nans = sum(1 for x in (raw if isinstance(raw, (list, tuple)) else ()) if isinstance(x, float) and math.isnan(x))
        if isinstance(raw, str):
            nans = raw.count("NaN")
        if nans:
            notes.append(Note(f"NaN scores in '{col}' stored as not scored", col, nans))
        out[name] = values
    return out or None


def _error_steps(plan: _Plan, col: str, v: Any, n: int) -> tuple[int, list[int | None]]:
    """``error_steps`` (indices in ``first_error_base``) -> (first error, step labels)."""
    raw = cells.as_list(col, v, "step indices")
    wrong: set[int] = set()
    for i, e in enumerate(raw or []):
        if isinstance(e, bool) or not isinstance(e, (int, float)) or (isinstance(e, float) and not e.is_integer()):
            raise BadCell(f"{col}[{i}]", f"expected a step index, found {e!r}")
        k = int(e) - plan.base
        if not 0 <= k < n:
            raise BadCell(col, f"step {int(e)} (first_error_base {plan.base}) is out of range for {n} steps")
        wrong.add(k)
    return (min(wrong) if wrong else -1), [-1 if k in wrong else 1 for k in range(n)]


def _grouped(plan: _Plan, group: list[tuple[int, dict[str, Any]]], unit: str) -> TraceRecord:
    """One trace from a step-row group: the first row gives the trace fields, each row a step."""
    cols = plan.columns
    n0, first_row = group[0]
    steps: list[str] = []
    labels: list[Any] | None = [] if "step_labels" in cols else None
    for n, row in group:
        try:
            text = row.get(cols["steps"])
            if not isinstance(text, str) or not text.strip():
                raise BadCell(cols["steps"], f"expected the step's text, found {cells.kind(text)}")
            steps.append(text)
            if labels is not None:
                rating = row.get(cols["step_labels"])
                rating = None if isinstance(rating, float) and math.isnan(rating) else rating
                try:
                    cells.labels(cols["step_labels"], [rating], plan.labels, plan.scheme)
                except BadCell as exc:
                    raise BadCell(cols["step_labels"], str(exc.args[1])) from None
                labels.append(rating)
        except BadCell as exc:
            raise ImportFailed(str(plan.container.path), n, exc.args[0], exc.args[1], unit=unit) from None
    rec = _record(plan, n0, {**first_row, cols["steps"]: steps,
                             **({cols["step_labels"]: labels} if labels is not None else {})}, unit)
    if "id" not in cols:
        rec.source_id = " / ".join(cells.text(first_row.get(c)) or "" for c in plan.group_by) + f" @ {unit} {n0}"
    return rec

