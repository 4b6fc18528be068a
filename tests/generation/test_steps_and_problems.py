"""Step splitting and problem sets, against hand-written expectations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prm_viewer.errors import ImportFailed, PrmViewerError
from prm_viewer.generation import load_problems, split_steps
from prm_viewer.generation.sampling import SamplingSettings, sample_seed
from prm_viewer.generation.steps import BadSplitRule
from prm_viewer.store import problem_key

TEXT = "Step 1: 3 + 4 = 7.\n\nStep 2: 7 * 2 = 14.\n  \nThe answer is \\boxed{14}."


@pytest.mark.parametrize(("rule", "want"), [
    ("blankline", ["Step 1: 3 + 4 = 7.", "Step 2: 7 * 2 = 14.", "The answer is \\boxed{14}."]),
    ("newline", ["Step 1: 3 + 4 = 7.", "Step 2: 7 * 2 = 14.", "The answer is \\boxed{14}."]),
    ("step_markers", ["Step 1: 3 + 4 = 7.", "Step 2: 7 * 2 = 14.\n  \nThe answer is \\boxed{14}."]),
    ("regex:\\.\\s+", ["Step 1: 3 + 4 = 7", "Step 2: 7 * 2 = 14", "The answer is \\boxed{14}."]),
    ("regex:(=)", ["Step 1: 3 + 4", "7.\n\nStep 2: 7 * 2", "14.\n  \nThe answer is \\boxed{14}."]),  # groups dropped
])
def test_split_rules(rule: str, want: list[str]) -> None:
    assert split_steps(TEXT, rule) == want


def test_split_edge_cases() -> None:
    assert split_steps("", "blankline") == []
    assert split_steps("one line only", "blankline") == ["one line only"]
    assert split_steps("a\nb", "blankline") == ["a\nb"]
    with pytest.raises(BadSplitRule, match="invalid regular expression"):
        split_steps("x", "regex:(")
    with pytest.raises(BadSplitRule, match="unknown split rule 'commas'"):
        split_steps("x", "commas")


def test_sample_seed_is_per_key() -> None:
    assert sample_seed(0, "p1", 0) == sample_seed(0, "p1", 0)
    assert len({sample_seed(0, "p1", k) for k in range(50)}) == 50
    assert sample_seed(1, "p1", 0) == (sample_seed(0, "p1", 0) + 1) % 2 ** 31
    with pytest.raises(PrmViewerError, match="top-p"):
        SamplingSettings(top_p=0)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gsm8k_math_and_mapped_files(tmp_path: Path) -> None:
    gsm = _write(tmp_path / "gsm.jsonl", [
        {"question": "Janet has 3 eggs and buys 4. How many?", "answer": "3 + 4 = <<3+4=7>>7\n#### 7"},
        {"question": "Tom has 1,000 coins.", "answer": "so\n#### 1,000"},
    ])
    t, _ = load_problems(gsm)
    assert t.column("reference_answer").to_pylist() == ["7", "1,000"]
    assert t.column("problem_id").to_pylist()[0] == problem_key("Janet has 3 eggs and buys 4. How many?")
    math_ = _write(tmp_path / "math.jsonl", [
        {"problem": "Compute 1/2 + 1/4.", "solution": "We get $\\boxed{\\frac{3}{4}}$.", "type": "Algebra", "level": "Level 1"},
    ])
    t, _ = load_problems(math_)
    assert t.to_pylist()[0]["reference_answer"] == "\\frac{3}{4}" and t.to_pylist()[0]["category"] == "Algebra"
    csv = tmp_path / "mine.csv"
    csv.write_text("q,gold,grp,sp\nWhat is 2+2?,4,easy,test\nWhat is 2+2?,4,easy,test\nWhat is 3*3?,9,hard,train\n")
    t, _ = load_problems(csv, mapping={"problem": "q", "reference_answer": "gold", "category": "grp", "split": "sp"})
    assert t.num_rows == 2  # the repeated problem is one problem
    assert t.column("split").to_pylist() == ["test", "train"] and t.column("category").to_pylist() == ["easy", "hard"]


def test_bad_problem_files_name_the_row(tmp_path: Path) -> None:
    gsm = _write(tmp_path / "gsm.jsonl", [{"question": "a?", "answer": "#### 1"}, {"question": "b?", "answer": "no marker"}])
    with pytest.raises(ImportFailed, match=r"gsm.jsonl.*line 2.*answer.*####"):
        load_problems(gsm)
    odd = _write(tmp_path / "odd.jsonl", [{"text": "x"}])
    with pytest.raises(PrmViewerError, match="cannot tell the problem columns"):
        load_problems(odd)


def test_demo_and_dataset_problems(store) -> None:  # noqa: ANN001 - the conftest fixture
    from prm_viewer.demo.tasks import make_tasks

    t, _ = load_problems("demo")
    tasks = make_tasks()
    assert t.num_rows == len(tasks)
    assert t.to_pylist()[0]["reference_answer"] == str(tasks[0].answer)
    assert set(t.column("split").to_pylist()) == {"in_domain", "out_of_domain"}
    with pytest.raises(PrmViewerError, match="no such file, and no dataset"):
        load_problems("missing", store)
