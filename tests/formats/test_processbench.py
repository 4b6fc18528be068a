"""ProcessBench importer: JSON array and JSONL give the same traces; labels are 0-based."""

from __future__ import annotations

from pathlib import Path

from prm_viewer.formats import get_format
from prm_viewer.ingest import import_file
from prm_viewer.model import TraceRecord
from prm_viewer.store import Store
from tests.conftest import TEST_DATA
from tests.formats.helpers import read_back

PB = get_format("processbench")


def _records(path: Path, **options: str) -> list[TraceRecord]:
    return [r for r in PB.read(path, dict(options)) if isinstance(r, TraceRecord)]


def test_jsonl_values() -> None:
    recs = _records(TEST_DATA / "processbench" / "valid.jsonl")
    assert [r.source_id for r in recs] == ["pb-0", "pb-1", "pb-2"]
    assert [r.gold_first_error for r in recs] == [-1, 0, 1]
    assert [r.final_answer_correct for r in recs] == [True, False, False]
    assert [r.generator for r in recs] == ["m1", "m2", "m1"]
    assert recs[1].steps == ["2+3 = 5.", "5*4 = 20.", "The answer is \\boxed{20}."]
    assert recs[0].problem == recs[1].problem == "What is 2+3*4?"
    assert all(r.step_labels is None and r.split is None for r in recs)


def test_json_array_and_jsonl_agree() -> None:
    a = _records(TEST_DATA / "processbench" / "valid.json")
    b = _records(TEST_DATA / "processbench" / "valid.jsonl")
    assert [(r.source_id, r.problem, r.steps, r.gold_first_error) for r in a] == \
           [(r.source_id, r.problem, r.steps, r.gold_first_error) for r in b]
    # Lines point at where each item starts in the pretty-printed array.
    text = (TEST_DATA / "processbench" / "valid.json").read_text().splitlines()
    for r in a:
        assert f'"{r.source_id}"' in "\n".join(text[r.line - 1:r.line + 1])


def test_split_from_file_name_and_option(tmp_path: Path) -> None:
    src = (TEST_DATA / "processbench" / "valid.jsonl").read_bytes()
    (tmp_path / "gsm8k.json").write_bytes(src)
    assert {r.split for r in _records(tmp_path / "gsm8k.json")} == {"gsm8k"}
    assert {r.split for r in _records(tmp_path / "gsm8k.json", split="mine")} == {"mine"}


def test_same_problem_is_one_problem_across_traces(store: Store) -> None:
    rep = import_file(store, TEST_DATA / "processbench" / "valid.jsonl")
    rows = read_back(store, rep.dataset_id)
    assert store.cursor().execute("SELECT count(*) FROM problems").fetchone()[0] == 2
    assert rows[0]["problem"] == rows[1]["problem"]
