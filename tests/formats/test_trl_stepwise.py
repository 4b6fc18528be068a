"""TRL stepwise supervision: boolean labels per completion, JSONL or Parquet."""

from __future__ import annotations

from prm_viewer.formats import get_format
from prm_viewer.model import TraceRecord
from tests.conftest import TEST_DATA

FMT = get_format("trl-stepwise")


def test_jsonl_and_parquet_agree_and_map_labels() -> None:
    j = [r for r in FMT.read(TEST_DATA / "trl-stepwise" / "valid.jsonl", {}) if isinstance(r, TraceRecord)]
    p = [r for r in FMT.read(TEST_DATA / "trl-stepwise" / "valid.parquet", {}) if isinstance(r, TraceRecord)]
    assert [r.step_labels for r in j] == [[1, 1], [1, -1, -1], [1]]
    assert [r.gold_first_error for r in j] == [-1, 1, -1]
    assert all(r.final_answer_correct is None for r in j)
    assert [(r.problem, r.steps, r.step_labels) for r in j] == [(r.problem, r.steps, r.step_labels) for r in p]
    assert [r.source_id for r in j] == ["line 1", "line 2", "line 3"]
    assert [r.source_id for r in p] == ["row 1", "row 2", "row 3"]
    assert FMT.record_unit(TEST_DATA / "trl-stepwise" / "valid.parquet") == "row"
