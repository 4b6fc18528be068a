"""Problem sets for generation: problems with reference answers, category and split.

Sources (:func:`load_problems` picks one from what the user gave):

- a problem file (JSONL / JSON / CSV / Parquet), auto-detected: GSM8K style (``question`` +
  ``answer`` whose reference follows ``####``), MATH style (``problem`` + ``solution`` with the
  reference in the last ``\\boxed{}``; ``type`` -> category), or mapped columns
  (``problem=COL``, ``reference_answer=COL`` or ``solution=COL``, ``category=COL``, ``split=COL``);
- ``demo``: the synthetic demo's exactly checkable tasks (with their splits and categories);
- the name of an imported dataset: its problems (reference answers as stored).

Every loader returns a :data:`PROBLEM_SCHEMA` table, one row per distinct problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from prm_viewer.answers import after_marker, last_boxed
from prm_viewer.errors import ImportFailed, PrmViewerError
from prm_viewer.store import Store, problem_key

PROBLEM_SCHEMA = pa.schema([
    pa.field("problem_id", pa.string()),
    pa.field("problem", pa.string()),
    pa.field("reference_answer", pa.string()),
    pa.field("category", pa.string()),
    pa.field("split", pa.string()),
])
"""The problems a generation job reads (its input table)."""
MAP_FIELDS = ("problem", "reference_answer", "solution", "category", "split")
DEMO = "demo"


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for r in rows:
        pid = problem_key(r["problem"])
        if pid in seen:  # one row per distinct problem (duplicates in a file are one problem)
            continue
        seen.add(pid)
        out.append({**r, "problem_id": pid})
    return pa.Table.from_pylist(out, schema=PROBLEM_SCHEMA)


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = str(v)
    return s if s.strip() else None


def gsm8k_reference(answer: str) -> str | None:
    """The reference after ``####`` in a GSM8K answer (thousands commas kept as written)."""
    return after_marker(answer, ("####",))


def detect_style(columns: list[str]) -> str:
    """``gsm8k`` (``question`` + ``answer``), ``math`` (``problem`` + ``solution``), ``plain``
    (``problem`` + ``answer``/``reference_answer``), else a PrmViewerError asking for a mapping."""
    cols = set(columns)
    if {"question", "answer"} <= cols:
        return "gsm8k"
    if {"problem", "solution"} <= cols:
        return "math"
    if "problem" in cols and cols & {"answer", "reference_answer"}:
        return "plain"
    raise PrmViewerError(f"cannot tell the problem columns of this file (columns: {', '.join(sorted(cols))}); "
                         "map them: problem=COLUMN and reference_answer=COLUMN or solution=COLUMN")


def read_problem_file(path: str | Path, mapping: Mapping[str, str] | None = None) -> pa.Table:
    """Problems from a file (see the module docstring); errors name the file, row/line and field."""
    from prm_viewer.formats import containers

    path = Path(path)
    if not path.is_file():
        raise ImportFailed(str(path), None, None, "no such file")
    unknown = sorted(set(mapping or {}) - set(MAP_FIELDS))
    if unknown:
        raise ImportFailed(str(path), None, None, f"unknown mapped field {', '.join(unknown)} (fields: {', '.join(MAP_FIELDS)})")
    c = containers.sniff(path)
    rows: list[dict[str, Any]] = []
    style = None
    for n, rec in containers.records(c):
        if style is None:
            style = "mapped" if mapping else detect_style(list(rec))
        rows.append(_problem_row(str(path), n, c.unit, rec, style, dict(mapping or {})))
    if not rows:
        raise ImportFailed(str(path), None, None, "no problems found")
    return _table(rows)


def _problem_row(path: str, n: int, unit: str, rec: dict[str, Any], style: str, mapping: dict[str, str]) -> dict[str, Any]:
    def col(name: str) -> Any:
        if name not in rec:
            raise ImportFailed(path, n, name, f"no column '{name}' (columns: {', '.join(rec)})", unit)
        return rec[name]

    if style == "gsm8k":
        problem, ref = _text(col("question")), gsm8k_reference(str(col("answer") or ""))
        if ref is None:
            raise ImportFailed(path, n, "answer", "no '####' line with the reference answer", unit)
        category, split = rec.get("category"), rec.get("split")
    elif style == "math":
        problem, ref = _text(col("problem")), last_boxed(str(col("solution") or ""))
        if ref is None:
            raise ImportFailed(path, n, "solution", "no \\boxed{} answer in the solution", unit)
        category, split = rec.get("type", rec.get("category")), rec.get("split")
    elif style == "plain":
        problem = _text(col("problem"))
        ref = _text(rec.get("reference_answer", rec.get("answer")))
        category, split = rec.get("category"), rec.get("split")
    else:
        if "problem" not in mapping:
            raise ImportFailed(path, None, "problem", "map the problem column: problem=COLUMN", unit)
        problem = _text(col(mapping["problem"]))
        ref = _text(col(mapping["reference_answer"])) if "reference_answer" in mapping else None
        if ref is None and "solution" in mapping:
            sol = str(col(mapping["solution"]) or "")
            ref = last_boxed(sol) or gsm8k_reference(sol)
        category = col(mapping["category"]) if "category" in mapping else None
        split = col(mapping["split"]) if "split" in mapping else None
    if problem is None:
        raise ImportFailed(path, n, "problem", "empty problem text", unit)
    return {"problem": problem, "reference_answer": None if ref is None else str(ref).strip(),
            "category": _text(category), "split": _text(split)}


def demo_problems() -> pa.Table:
    """The synthetic demo's tasks as problems (reference = the exact result)."""
    from prm_viewer.demo.tasks import make_tasks

    return _table([{"problem": t.text, "reference_answer": str(t.answer), "category": t.category, "split": t.split}
                   for t in make_tasks()])


def dataset_problems(store: Store, dataset: str) -> pa.Table:
    """The distinct problems of an imported dataset, with their stored reference answers."""
    from prm_viewer import queries

    ds = store.resolve_dataset(dataset)
    return queries.dataset_problem_table(store, ds["dataset_id"]).cast(PROBLEM_SCHEMA)


def load_problems(source: str | Path | pa.Table, store: Store | None = None,
                  mapping: Mapping[str, str] | None = None, limit: int | None = None) -> tuple[pa.Table, str]:
    """``(problems, description)`` from a file path, ``demo``, a dataset name, or a table already
    in :data:`PROBLEM_SCHEMA`; ``limit`` keeps the first problems."""
    if isinstance(source, pa.Table):
        table, what = source.select([f.name for f in PROBLEM_SCHEMA]).cast(PROBLEM_SCHEMA), "a problem table"
    elif str(source) == DEMO:
        table, what = demo_problems(), "the synthetic demo tasks"
    elif Path(str(source)).exists():
        table, what = read_problem_file(source, mapping), f"file {Path(str(source)).name}"
    elif store is not None:
        try:
            table = dataset_problems(store, str(source))
        except PrmViewerError:
            raise PrmViewerError(f"problems '{source}': no such file, and no dataset of that name "
                                 "(give a problem file, 'demo', or an imported dataset's name)") from None
        what = f"dataset {source}"
    else:
        raise PrmViewerError(f"problems '{source}': no such file")
    if limit is not None:
        table = table.slice(0, max(0, int(limit)))
    if table.num_rows == 0:
        raise PrmViewerError(f"problems from {what}: none to generate for")
    return table, what


__all__ = ["DEMO", "MAP_FIELDS", "PROBLEM_SCHEMA", "dataset_problems", "demo_problems", "detect_style",
           "gsm8k_reference", "load_problems", "read_problem_file"]
