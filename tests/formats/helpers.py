"""Helpers for format tests: the sample files of each format and reading an import back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prm_viewer.store import Store
from tests.conftest import TEST_DATA

GENERIC_OPTIONS: dict[str, dict[str, Any]] = json.loads((TEST_DATA / "generic" / "options.json").read_text())


def valid_samples(fmt: str) -> list[Path]:
    """The valid sample files of a format (every file in tests/data/<fmt>/ not named bad_*)."""
    folder = TEST_DATA / fmt
    return sorted(p for p in folder.iterdir() if not p.name.startswith("bad_") and p.name != "options.json")


def bad_samples(fmt: str) -> list[Path]:
    return sorted((TEST_DATA / fmt).glob("bad_*"))


def options_for(path: Path) -> dict[str, Any]:
    """Import options a sample needs (only generic samples need any)."""
    return GENERIC_OPTIONS.get(path.name, {}) if path.parent.name == "generic" else {}


def read_back(store: Store, dataset_id: str) -> list[dict[str, Any]]:
    """Every trace of a dataset as stored, in file order, with its steps, labels and scores."""
    cur = store.cursor()
    cols = ["trace_id", "source_line", "source_id", "problem", "reference_answer", "source_problem_id", "generator",
            "final_answer", "final_answer_correct", "gold_first_error", "error_type", "category", "split", "n_steps",
            "has_step_labels", "metadata"]
    rows = cur.execute(
        f"""SELECT {', '.join('t.' + c if c not in ('problem', 'reference_answer') else 'p.' + c for c in cols)}
            FROM traces t JOIN problems p USING (problem_id) WHERE t.dataset_id = ? ORDER BY t.ordinal""",
        [dataset_id]).fetchall()
    out = [dict(zip(cols, r)) for r in rows]
    steps: dict[str, list[tuple[int, str, int | None]]] = {}
    for tid, idx, text, lab in cur.execute(
            """SELECT s.trace_id, s.step_idx, s.text, s.gold_label FROM steps s JOIN traces t USING (trace_id)
               WHERE t.dataset_id = ? ORDER BY s.trace_id, s.step_idx""", [dataset_id]).fetchall():
        steps.setdefault(tid, []).append((idx, text, lab))
    scores: dict[tuple[str, str], list[tuple[int, float | None]]] = {}
    for name, tid, idx, score in cur.execute(
            """SELECT sc.name, ss.trace_id, ss.step_idx, ss.score FROM step_scores ss JOIN scorers sc USING (scorer_id)
               JOIN traces t USING (trace_id) WHERE t.dataset_id = ? ORDER BY ss.step_idx""", [dataset_id]).fetchall():
        scores.setdefault((tid, name), []).append((idx, score))
    for t in out:
        st = steps.get(t["trace_id"], [])
        assert [i for i, _, _ in st] == list(range(len(st))), "step indices are 0-based and contiguous"
        t["steps"] = [s for _, s, _ in st]
        t["labels"] = [lab for _, _, lab in st]
        t["metadata"] = json.loads(t["metadata"]) if t["metadata"] else None
        t["scores"] = {name: [s for _, s in v] for (tid, name), v in scores.items() if tid == t["trace_id"]}
    return out
