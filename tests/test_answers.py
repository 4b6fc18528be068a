"""prm_viewer.answers: final-answer extraction, normalisation and comparison (the one place that
formats, analysis and the mc-value recipe share)."""

from __future__ import annotations

import math

import pytest

from prm_viewer.answers import after_marker, equivalent, extract_answer, last_boxed, normalise


@pytest.mark.parametrize(("text", "want"), [
    ("so \\boxed{12}", "12"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # nested braces
    ("first \\boxed{1}, then \\boxed{ {a}{b} }", "{a}{b}"),  # the last one, stripped
    ("\\boxed {x^{2}}", "x^{2}"),  # a space before the brace
    ("cut off \\boxed{\\frac{1}{2}", None),  # unbalanced: no answer rather than a wrong one
    ("The answer is 42.", "42"),
    ("Thus the final answer is: $\\frac{3}{4}$.", "\\frac{3}{4}"),
    ("the answer is 3\nthen more text. The answer is 5", "5"),  # the last statement
    ("Natalia sold 48 clips.\n#### 72", "72"),  # GSM8K
    ("The answer is 7 but \\boxed{8}", "8"),  # \boxed{} wins
    ("7 * 2 = 14\n14 - 3 = 11", None),  # no stated answer...
    ("", None),
    (None, None),
])
def test_extract_answer(text: str | None, want: str | None) -> None:
    assert extract_answer(text) == want


def test_last_number_fallback() -> None:
    assert extract_answer("7 * 2 = 14\n14 - 3 = 11", last_number=True) == "11"
    assert extract_answer("x = -2.5 here", last_number=True) == "-2.5"
    assert extract_answer("no digits", last_number=True) is None
    assert extract_answer("3 + 4 = 7 and \\boxed{12}", last_number=True) == "12"  # a stated answer first


def test_last_boxed_and_after_marker() -> None:
    assert last_boxed("x \\boxed{\\frac{1}{2}} y") == "\\frac{1}{2}"
    assert last_boxed("no box") is None
    assert after_marker("work\nA: 18\nmore", ("####", "A:")) == "18"
    assert after_marker("nothing", ("####",)) is None


@pytest.mark.parametrize(("raw", "want"), [
    ("1,000", "1000"),
    ("+5", "5"),
    ("2.50", "2.5"),
    ("3.0", "3"),
    ("-0", "0"),
    ("007", "7"),
    ("-12.000", "-12"),
    ("0.5", "0.5"),
    (" 1 000 ", "1 000"),  # not a plain number: only whitespace collapsed
    ("$\\boxed{42}$.", "42"),
    ("  apple   banana. ", "apple banana"),  # inner spaces and case kept
    ("1.2.3", "1.2.3"),
])
def test_normalise(raw: str, want: str) -> None:
    assert normalise(raw) == want


def test_normalise_missing_and_loose() -> None:
    assert normalise(None) is None and normalise(math.nan) is None
    assert normalise(12) == "12" and normalise(12.0) == "12"
    assert normalise(" X = 5 ", loose=True) == "x=5"
    assert normalise(" 1 2.", loose=True) == "12"
    assert normalise("apple banana") != normalise("applebanana")
    assert normalise("apple banana", loose=True) == normalise("applebanana", loose=True)


def test_equivalent() -> None:
    assert equivalent("72", "$72$.") is True
    assert equivalent("1,000", "1000") is True
    assert equivalent("\\boxed{10}", "10.0") is True
    assert equivalent("A", "a") is False  # case matters (option letters, word lists)
    assert equivalent("5", "6") is False
    assert equivalent(None, "5") is None and equivalent("5", None) is None


# ---------------------------------------------------------------------------- math-verify check()

import json  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

from prm_viewer.answers import check  # noqa: E402
from prm_viewer.errors import PrmViewerError  # noqa: E402

GSM8K_SOLUTIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "grade-school-math" / "example_model_solutions.jsonl"

# (gold, prediction, expected): each decided by hand
TRICKY = [
    ("\\frac{1}{2}", "so the answer is \\boxed{\\dfrac{1}{2}}", True),
    ("\\frac12", "\\dfrac{1}{2}", True),  # a bare LaTeX answer
    ("0.5", "The answer is $\\frac{1}{2}$.", True),
    ("2\\sqrt{2}", "\\boxed{\\sqrt{8}}", True),  # symbolic equality
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\boxed{\\frac{\\sqrt{3}}{2}}", True),  # nested braces
    ("1000", "She earns \\$1,000 in total.\n#### 1,000", True),  # thousands separator after ####
    ("18", "Janet makes 9 * 2 = $18 a day.\nA: 18", True),  # GSM8K model-solution "A:" line
    ("50", "The answer is 50%", True),  # percent of a number answer
    ("(1,2)", "The answer is (1, 2).", True),  # an open interval / tuple
    ("[0,1)", "\\boxed{[0, 1)}", True),
    ("(0,1]", "\\boxed{[0, 1)}", False),  # other endpoints closed
    ("x^2+2x+1", "\\boxed{(x+1)^2}", True),
    ("\\{1,2\\}", "\\boxed{\\{2,1\\}}", True),  # sets are unordered
    ("3", "\\boxed{4}", False),
    ("\\frac{1}{3}", "\\boxed{0.33}", False),  # not within rounding
    ("18", "She sells 9 eggs. The answer is 19.", False),
    ("5", "I could not finish the problem", False),  # no answer stated: wrong, not undecided
    ("7", "#### 7.0", True),
    ("-3", "\\boxed{-3}", True),
    ("-3", "\\boxed{3}", False),
]


@pytest.mark.parametrize(("gold", "pred", "want"), TRICKY)
def test_check_tricky_pairs(gold: str, pred: str, want: bool) -> None:
    assert check(gold, pred) is want


def test_check_undecided() -> None:
    assert check(None, "\\boxed{1}") is None  # no reference answer
    assert check("", "\\boxed{1}") is None
    assert check(math.nan, "\\boxed{1}") is None


def test_check_refuses_a_time_limit_off_the_main_thread() -> None:
    got: list[object] = []

    def run() -> None:
        try:
            check("1", "\\boxed{1}")
        except PrmViewerError as exc:
            got.append(str(exc))
        got.append(check("1", "\\boxed{1}", timeout=None))  # allowed: the caller bounds it

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert "main thread" in str(got[0]) and got[1] is True


@pytest.mark.skipif(not GSM8K_SOLUTIONS.is_file(), reason="../shared/data/grade-school-math is absent")
def test_check_reproduces_gsm8k_is_correct_flags() -> None:
    """The file's own ``is_correct`` per model variant is the independent judgement."""
    rows = [json.loads(line) for line in GSM8K_SOLUTIONS.read_text().splitlines() if line.strip()]
    agree = total = 0
    disagreements = []
    for r in rows:
        gold = after_marker(r["ground_truth"], ("A:",))
        for variant in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            sol = r[variant]
            total += 1
            if check(gold, sol["solution"]) is sol["is_correct"]:
                agree += 1
            else:
                disagreements.append((r["question"][:60], variant))
    assert total == 4 * 1319
    assert agree / total >= 0.995, disagreements[:20]
