"""GSM8K model solutions: one trace per model, answers from "A:" / "####" lines."""

from __future__ import annotations

import json
from pathlib import Path

from prm_viewer.formats import get_format
from prm_viewer.ingest import import_file
from prm_viewer.model import TraceRecord
from prm_viewer.store import Store
from tests.conftest import TEST_DATA

FMT = get_format("gsm8k-solutions")


def test_sample_mapping() -> None:
    recs = [r for r in FMT.read(TEST_DATA / "gsm8k-solutions" / "valid.jsonl", {}) if isinstance(r, TraceRecord)]
    assert [(r.source_id, r.generator) for r in recs] == [
        ("line 1:6b_finetuning", "6b_finetuning"), ("line 1:175b_verification", "175b_verification"),
        ("line 2:6b_finetuning", "6b_finetuning"), ("line 2:175b_verification", "175b_verification")]
    assert [r.final_answer for r in recs] == ["20", "14", "8", "8"]
    assert [r.reference_answer for r in recs] == ["14", "14", "8", "8"]  # "A: 14" and "#### 8"
    assert [r.final_answer_correct for r in recs] == [False, True, True, True]
    assert recs[3].steps == ["Each pen is $2.", "So 4 * 2 = $<<4*2=8>>8", "A: 8"]  # blank lines dropped
    assert all(r.gold_first_error is None and r.step_labels is None for r in recs)


def test_real_file_pairs_models_on_problems(store: Store, shared_data: Path) -> None:
    path = shared_data / "grade-school-math" / "example_model_solutions.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    models = [k for k, v in raw[0].items() if isinstance(v, dict)]
    rep = import_file(store, path)
    assert rep.format == "gsm8k-solutions"
    assert rep.traces == sum(1 for o in raw for m in models if isinstance(o.get(m), dict))
    cur = store.cursor()
    per_model = dict(cur.execute(
        "SELECT generator, count(*) FILTER (WHERE final_answer_correct) FROM traces WHERE dataset_id = ? GROUP BY 1",
        [rep.dataset_id]).fetchall())
    assert per_model == {m: sum(bool(o[m]["is_correct"]) for o in raw) for m in models}
    n_problems = cur.execute("SELECT count(DISTINCT problem_id) FROM traces WHERE dataset_id = ?",
                             [rep.dataset_id]).fetchone()[0]
    assert n_problems == len({" ".join(o["question"].split()) for o in raw})
