"""BIG-Bench Mistake: 0-based mistake_index, null = no mistake, category from the file name."""

from __future__ import annotations

import json
from pathlib import Path

from prm_viewer.formats import get_format
from prm_viewer.ingest import import_file
from prm_viewer.model import TraceRecord
from prm_viewer.store import Store
from tests.conftest import TEST_DATA

BBM = get_format("bbm")
SAMPLE = TEST_DATA / "bbm" / "multistep_arithmetic.jsonl"


def test_sample_mapping() -> None:
    recs = [r for r in BBM.read(SAMPLE, {}) if isinstance(r, TraceRecord)]
    assert [r.gold_first_error for r in recs] == [-1, 1, 0]
    assert recs[0].step_labels == [1, 1, 1]
    assert recs[1].step_labels == [1, -1, None]
    assert recs[2].step_labels == [-1, None, None, None]
    # answer vs target: "3"=="3"; "8"!="-8"; null answer -> unknown
    assert [r.final_answer_correct for r in recs] == [True, False, None]
    assert [r.reference_answer for r in recs] == ["3", "-8", "6"]
    assert {r.category for r in recs} == {"multistep_arithmetic"}
    assert {r.generator for r in recs} == {"PaLM 2-L"}
    assert recs[0].problem == "((-1 + 2) * 3) ="


def test_options_override_category_and_generator() -> None:
    recs = [r for r in BBM.read(SAMPLE, {"category": "arith", "generator": "other"}) if isinstance(r, TraceRecord)]
    assert {(r.category, r.generator) for r in recs} == {("arith", "other")}


def test_real_files(store: Store, shared_data: Path) -> None:
    for path in sorted((shared_data / "BIG-Bench-Mistake").glob("*.jsonl")):
        raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rep = import_file(store, path)
        assert rep.format == "bbm" and rep.traces == len(raw)
        assert rep.steps == sum(len(o["steps"]) for o in raw)
        cur = store.cursor()
        got = cur.execute(
            """SELECT count(*) FILTER (WHERE gold_first_error = -1), count(*) FILTER (WHERE final_answer_correct),
                      min(category), max(category)
               FROM traces WHERE dataset_id = ?""", [rep.dataset_id]).fetchone()
        no_mistake = sum(o["mistake_index"] is None for o in raw)
        exact = sum(o["answer"] is not None and " ".join(o["answer"].split()).rstrip(".") ==
                    " ".join(o["target"].split()).rstrip(".") for o in raw)
        assert got == (no_mistake, exact, path.stem, path.stem)
        firsts = [r[0] for r in cur.execute(
            "SELECT gold_first_error FROM traces WHERE dataset_id = ? ORDER BY ordinal", [rep.dataset_id]).fetchall()]
        assert firsts == [-1 if o["mistake_index"] is None else o["mistake_index"] for o in raw]
