"""PRMBench as its official loader reads it: sample id = class + idx, the clean solution once per
question as class 'correct', error steps past the end ignored (and counted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prm_viewer.formats import get_format
from prm_viewer.ingest import import_file
from prm_viewer.model import Skip, TraceRecord
from prm_viewer.store import Store
from tests.conftest import TEST_DATA
from tests.formats.helpers import read_back

FMT = get_format("prmbench")
PAST_END = "error steps past the last step (ignored, as PRMBench's evaluation ignores them)"
RELEASE = ("confidence", "counterfactual", "redundency", "step_contradiction")


def test_sample_mapping() -> None:
    a, b, c = [r for r in FMT.read(TEST_DATA / "prmbench" / "valid.jsonl", {}) if isinstance(r, TraceRecord)]
    # error_steps [3, 4] (1-based) over 5 steps -> steps 2 and 3 (0-based) wrong
    assert a.step_labels == [1, 1, -1, -1, 1] and a.gold_first_error == 2
    assert a.steps[2] == "3. Assume a pen costs 29 cents."
    assert (a.error_type, a.category) == ("circular", "circular")
    assert a.source_id == "circular_circular_prm_test_p1_0"  # f"{classification}_{idx}", as the loader keys it
    assert a.problem.startswith("Three pens and a pad cost $1.24.")  # modified_question, not `question`
    assert a.metadata == {"reason": "Steps 3 and 4 assume the answer and verify it: circular reasoning.",
                          "modified_steps": [3, 4, 5], "idx": "circular_prm_test_p1_0"}
    assert (b.step_labels, b.gold_first_error, b.error_type) == ([1, 1], -1, "multi_solutions")
    assert (c.step_labels, c.gold_first_error) == ([1, -1, -1], 1)


def test_same_idx_in_two_classes_is_two_samples(store: Store) -> None:
    rep = import_file(store, TEST_DATA / "prmbench" / "idx_across_classes.jsonl")
    got = read_back(store, rep.dataset_id)
    assert [t["source_id"] for t in got] == ["circular_circular_prm_test_p1_0",
                                             "multi_solutions_multi_solutions_prm_test_p1_3",
                                             "counterfactual_circular_prm_test_p1_0"]


def test_repeated_sample_is_skipped_like_the_loader(tmp_path: Path, store: Store) -> None:
    row = json.loads((TEST_DATA / "prmbench" / "valid.jsonl").read_text().splitlines()[0])
    f = tmp_path / "rep.jsonl"
    f.write_text(json.dumps(row) + "\n" + json.dumps({**row, "reason": "second copy"}) + "\n")
    rep = import_file(store, f)
    assert rep.traces == 1
    assert [(s.line, s.invalid) for s in rep.skipped] == [(2, False)]
    assert "repeats the one on line 1" in rep.skipped[0].reason


def test_redundency_rows_add_the_clean_solution_once(tmp_path: Path, store: Store) -> None:
    row = json.loads((TEST_DATA / "prmbench" / "valid.jsonl").read_text().splitlines()[0])
    red = {**row, "classification": "redundency", "idx": "q7", "error_steps": [2, 9]}  # 9 is past 5 steps
    conf = {**row, "classification": "confidence", "idx": "q7", "error_steps": [6]}  # only past the end
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in (red, conf, {**red, "idx": "q8"})) + "\n")
    rep = import_file(store, f)
    got = {t["source_id"]: t for t in read_back(store, rep.dataset_id)}
    assert list(got) == ["correct_q7", "redundency_q7", "confidence_q7", "correct_q8", "redundency_q8"]
    clean = got["correct_q7"]
    assert clean["steps"] == row["original_process"] and clean["problem"] == row["original_question"]
    assert (clean["gold_first_error"], clean["labels"], clean["error_type"]) == (-1, [1, 1, 1, 1], "correct")
    assert got["redundency_q7"]["labels"] == [1, -1, 1, 1, 1] and got["redundency_q7"]["gold_first_error"] == 1
    # every error step past the end: labels all +1 and the first error unknown (never matched)
    assert got["confidence_q7"]["labels"] == [1] * 5 and got["confidence_q7"]["gold_first_error"] is None
    assert rep.notes == {PAST_END: 3}


def _official(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per class: samples, steps, labelled (error) steps and samples with a first error inside the
    steps, following load_data_function / eval_on_hallucination_step of ssmisya/PRMBench."""
    seen: set[str] = set()
    out: dict[str, dict[str, int]] = {}

    def add(cls: str, steps: list[str], errors: list[int]) -> None:
        c = out.setdefault(cls, {"samples": 0, "steps": 0, "error_steps": 0, "first_errors": 0, "past_end": 0})
        zero = [e - 1 for e in errors]
        c["samples"] += 1
        c["steps"] += len(steps)
        c["error_steps"] += sum(1 for i in range(len(steps)) if i in zero)
        c["first_errors"] += 1 if zero and min(zero) < len(steps) else 0
        c["past_end"] += sum(1 for z in zero if z >= len(steps))

    for item in rows:
        if item["classification"] == "redundency" and f"correct_{item['idx']}" not in seen:
            seen.add(f"correct_{item['idx']}")
            add("correct", item["original_process"], [])
        key = f"{item['classification']}_{item['idx']}"
        if key not in seen:
            seen.add(key)
            add(item["classification"], item["modified_process"], item["error_steps"])
    return out


def test_the_four_release_files(shared_data: Path, store: Store) -> None:
    folder = shared_data / "PRMBench"
    rows_all: list[dict[str, Any]] = []
    got: dict[str, dict[str, int]] = {}
    past_total = 0
    for cls in RELEASE:
        path = folder / f"prm800k_test_p1_4o_{cls}.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows_all.extend(rows)
        rep = import_file(store, path)  # detected, as shipped
        assert rep.format == "prmbench" and not [s for s in rep.skipped if s.invalid]
        past_total += rep.notes.get(PAST_END, 0)
        for t in read_back(store, rep.dataset_id):
            c = got.setdefault(t["error_type"], {"samples": 0, "steps": 0, "error_steps": 0, "first_errors": 0})
            c["samples"] += 1
            c["steps"] += len(t["steps"])
            c["error_steps"] += t["labels"].count(-1)
            first = t["gold_first_error"]
            c["first_errors"] += 1 if first is not None and first >= 0 else 0
            # the first error's step text is the one the file's error_steps names
            if first is not None and first >= 0:
                src = next(r for r in rows if f"{r['classification']}_{r['idx']}" == t["source_id"])
                assert t["steps"][first] == src["modified_process"][min(src["error_steps"]) - 1]
    want = _official(rows_all)
    assert set(got) == set(want) == {*RELEASE, "correct"}
    for cls, counts in want.items():
        assert got[cls] == {k: v for k, v in counts.items() if k != "past_end"}, cls
    assert past_total == sum(c["past_end"] for c in want.values()) == 13
