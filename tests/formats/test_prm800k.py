"""PRM800K raw labels: the labeller's chosen path, human steps, skips, first error."""

from __future__ import annotations

import json
from pathlib import Path

from prm_viewer.formats import get_format
from prm_viewer.ingest import import_file
from prm_viewer.model import Skip, TraceRecord
from prm_viewer.store import Store
from tests.conftest import TEST_DATA

FMT = get_format("prm800k")


def test_sample_mapping() -> None:
    items = list(FMT.read(TEST_DATA / "prm800k" / "valid.jsonl", {}))
    recs = [r for r in items if isinstance(r, TraceRecord)]
    skips = [(s.line, s.reason) for s in items if isinstance(s, Skip)]
    assert skips == [(3, "quality-control question"), (4, "bad_problem")]
    sol, err, give_up = recs
    # Session 1: step 2 rejected all candidates and was written by the labeller (unrated).
    assert sol.steps == ["Let p be the price of a pen and n the price of a notebook.", "Then $2p+n=5$ and $4p+n=7$.",
                         "Subtracting, 2p = 2.", "So a pen costs 1 dollar.\n\n# Answer\n\n1"]
    assert sol.step_labels == [1, None, 1, 1]
    assert sol.gold_first_error == -1  # finish_reason "solution": no error on the chosen path
    assert (sol.final_answer, sol.reference_answer, sol.final_answer_correct) == ("1", "1", True)
    assert sol.metadata["human_steps"] == [1] and sol.metadata["finish_reason"] == "solution"
    assert sol.source_id == "aaaa-1@2022-07-30T10:00:00.000001"
    # Session 2 (phase 2): no chosen candidate at the end -> the -1 candidate is the error step.
    assert err.steps[-1] == "Then 3 choices for the second." and err.step_labels == [1, 0, -1]
    assert err.gold_first_error == 2 and err.final_answer is None and err.final_answer_correct is None
    assert err.metadata["pre_generated_answer"] == "27" and err.metadata["generation"] == 6
    # Session 5: the labeller gave up after one step: first error unknown.
    assert give_up.steps == ["The area of a square is the side squared."] and give_up.gold_first_error is None


def test_real_samples(store: Store, shared_data: Path) -> None:
    path = shared_data / "openr" / "samples_prm800k.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rep = import_file(store, path)
    kept = [o for o in raw if not o["is_quality_control_question"] and not o["is_initial_screening_question"]
            and o["label"]["finish_reason"] != "bad_problem"]
    assert rep.format == "prm800k" and rep.traces == len(kept)
    assert len(rep.skipped) == len(raw) - len(kept)
    # Independent count: one step per label.steps entry that has a chosen, human or (final) candidate.
    expected_steps = 0
    for o in kept:
        for st in o["label"]["steps"]:
            if st["chosen_completion"] is None and st["human_completion"] is None and not st["completions"]:
                break
            expected_steps += 1
    assert rep.steps == expected_steps
