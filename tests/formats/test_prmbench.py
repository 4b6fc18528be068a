"""PRMBench: 1-based error_steps converted to 0-based; classification as error type."""

from __future__ import annotations

from prm_viewer.formats import get_format
from prm_viewer.model import TraceRecord
from tests.conftest import TEST_DATA

FMT = get_format("prmbench")


def test_sample_mapping() -> None:
    a, b, c = [r for r in FMT.read(TEST_DATA / "prmbench" / "valid.jsonl", {}) if isinstance(r, TraceRecord)]
    # error_steps [3, 4] (1-based) over 5 steps -> steps 2 and 3 (0-based) wrong
    assert a.step_labels == [1, 1, -1, -1, 1] and a.gold_first_error == 2
    assert a.steps[2] == "3. Assume a pen costs 29 cents."
    assert (a.error_type, a.category, a.source_id) == ("circular", "circular", "circular_prm_test_p1_0")
    assert a.problem.startswith("Three pens and a pad cost $1.24.")  # modified_question, not `question`
    assert a.metadata == {"reason": "Steps 3 and 4 assume the answer and verify it: circular reasoning.",
                          "modified_steps": [3, 4, 5]}
    assert (b.step_labels, b.gold_first_error, b.error_type) == ([1, 1], -1, "multi_solutions")
    assert (c.step_labels, c.gold_first_error) == ([1, -1, -1], 1)
