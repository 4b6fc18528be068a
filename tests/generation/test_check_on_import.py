"""A CLI import fills final_answer_correct from reference answers (math-verify), unless told not to."""

from __future__ import annotations

import csv
from pathlib import Path

from prm_viewer.cli import main
from prm_viewer.store import Store

ROWS = [  # (problem, solution steps, reference answer, correct by hand)
    ("What is 1/2 + 1/4?", "1/2 = 2/4\n2/4 + 1/4 = 3/4, so \\boxed{\\frac{3}{4}}", "0.75", True),
    ("What is 12 * 3?", "12 * 3 = 36\nThe answer is \\boxed{36}", "36", True),
    ("What is 7 + 5?", "7 + 5 = 13\nSo \\boxed{13}", "12", False),
]


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["question", "solution", "gold"])
        for prob, sol, ref, _ in ROWS:
            w.writerow([prob, sol, ref])
    return path


def _correct(db: Path) -> list[bool | None]:
    with Store(db) as s:
        return [r[0] for r in s.cursor().execute(
            "SELECT final_answer_correct FROM traces ORDER BY ordinal").fetchall()]


def test_import_checks_answers_against_references(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "s.duckdb"
    args = ["--db", str(db), "import", str(_write(tmp_path)), "--format", "generic", "--map", "problem=question",
            "--map", "steps=solution", "--map", "reference_answer=gold", "--option", "split_rule=newline"]
    assert main(args) == 0
    assert _correct(db) == [r[3] for r in ROWS]
    assert "2 correct, 1 wrong, 0 undecided" in capsys.readouterr().out


def test_no_check_answers_leaves_them_unknown(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    args = ["--db", str(db), "import", str(_write(tmp_path)), "--format", "generic", "--map", "problem=question",
            "--map", "steps=solution", "--map", "reference_answer=gold", "--option", "split_rule=newline",
            "--no-check-answers"]
    assert main(args) == 0
    assert _correct(db) == [None, None, None]
