"""Math-Shepherd: problem before "Step 1:", steps between ки tags, +/- labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prm_viewer.errors import ImportFailed
from prm_viewer.formats import get_format
from prm_viewer.formats.math_shepherd import parse
from prm_viewer.ingest import import_file
from prm_viewer.model import TraceRecord
from prm_viewer.store import Store
from tests.conftest import TEST_DATA

FMT = get_format("math-shepherd")


def test_sample_mapping() -> None:
    recs = [r for r in FMT.read(TEST_DATA / "math-shepherd" / "valid.jsonl", {}) if isinstance(r, TraceRecord)]
    a, b, c = recs
    assert a.problem == "Tom has 3 apples and buys 4 more. How many apples does he have?"
    assert a.steps == ["He has 3 + 4 = <<3+4=7>>7 apples.", "The answer is: 7"]
    assert (a.step_labels, a.gold_first_error, a.final_answer, a.final_answer_correct) == ([1, 1], -1, "7", True)
    assert (b.step_labels, b.gold_first_error, b.final_answer, b.final_answer_correct) == ([1, -1, -1], 1, "28", False)
    assert (c.category, c.gold_first_error) == ("MATH", 0) and a.category == "GSM8K"


def test_untagged_tail_is_an_unlabelled_step() -> None:
    problem, steps, labels = parse("f", 1, "Q? Step 1: a ки\nStep 2: b", "Q? Step 1: a +\nStep 2: b")
    assert (problem, steps, labels) == ("Q?", ["a", "b"], [1, None])


def test_missing_step_marker_is_an_error() -> None:
    with pytest.raises(ImportFailed, match=r"line 4, field 'input': no 'Step 1:' marker"):
        parse("f", 4, "Q? a ки", "Q? a +")


def test_real_samples(store: Store, shared_data: Path) -> None:
    path = shared_data / "openr" / "samples_math-shepherd.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rep = import_file(store, path)
    assert rep.format == "math-shepherd" and rep.traces == len(raw)
    assert rep.steps == sum(o["input"].count("ки") for o in raw)
    labels = [r[0] for r in store.cursor().execute(
        """SELECT s.gold_label FROM steps s JOIN traces t USING (trace_id) WHERE t.dataset_id = ?
           ORDER BY t.ordinal, s.step_idx""", [rep.dataset_id]).fetchall()]
    # Independent reading of the labels: the character after each step's text in `label`.
    expected = []
    for o in raw:
        pos = 0
        for piece in o["input"].split("ки")[:-1]:
            pos += len(piece)
            expected.append(1 if o["label"][pos] == "+" else -1)
            pos += 1
    assert labels == expected
