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
