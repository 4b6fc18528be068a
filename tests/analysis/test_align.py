"""Step alignment for the side-by-side view, on hand-made cases and against a brute-force search
over every alignment of small inputs."""

from __future__ import annotations

import difflib
import itertools
import random

import pandas as pd
import pytest

from prm_viewer.analysis import align
from prm_viewer.analysis.align import AlignedRow, align_steps, first_divergence, side_by_side_frame, similarity


def pairs(rows: list[AlignedRow]) -> list[tuple[int | None, int | None]]:
    return [(r.a, r.b) for r in rows]


def test_similarity_by_hand():
    # tokens [z, =, 3] vs [z, =, 4]: 2 matches of 6 tokens -> 2*2/6
    assert similarity("z = 3", "z = 4") == pytest.approx(4 / 6)
    assert similarity("x = 1", "y = 2") == pytest.approx(2 / 6)
    assert similarity("Y  = 2", "y = 2") == 1.0  # whitespace and case are normalised away
    assert similarity("", "") == 1.0


def test_identical_traces_align_on_the_diagonal_and_never_diverge():
    steps = ["2 + 3 = 5", "5 * 4 = 20", "The answer is 20."]
    rows = align_steps(steps, list(steps))
    assert pairs(rows) == [(0, 0), (1, 1), (2, 2)]
    assert first_divergence(rows) is None


def test_an_inserted_step_leaves_a_gap_and_reworded_steps_pair_up():
    a = ["x = 1", "y = 2", "z = 3"]
    b = ["x = 1", "w = 5", "Y  = 2", "z = 4"]
    rows = align_steps(a, b)
    assert pairs(rows) == [(0, 0), (None, 1), (1, 2), (2, 3)]
    assert first_divergence(rows) == 1  # the inserted step
    assert rows[3].similarity == pytest.approx(4 / 6) and not rows[3].same


def test_a_deleted_step_and_a_first_difference_in_numbers():
    a = ["Start with 8.", "8 + 4 = 12", "12 - 15 = -3", "-3 + 9 = 6"]
    b = ["Start with 8.", "12 - 15 = -2", "-2 + 9 = 7"]  # skips "8 + 4 = 12", then slips
    rows = align_steps(a, b)
    assert pairs(rows) == [(0, 0), (1, None), (2, 1), (3, 2)]
    assert first_divergence(rows) == 1
    # same texts up to the slip: the first divergent row is where the numbers differ
    rows = align_steps(["a b c", "12 - 15 = -3"], ["a b c", "12 - 15 = -2"])
    assert pairs(rows) == [(0, 0), (1, 1)] and first_divergence(rows) == 1


def test_unrelated_steps_pair_in_order_and_empty_sides():
    assert pairs(align_steps(["alpha beta", "gamma"], ["one two", "three"])) == [(0, 0), (1, 1)]
    assert pairs(align_steps(["a"], [])) == [(0, None)]
    assert pairs(align_steps([], ["a", "b"])) == [(None, 0), (None, 1)]
    assert align_steps([], []) == []
    assert first_divergence(align_steps([], [])) is None


def _alignments(n: int, m: int):
    """Every global alignment of n and m items as a list of (i | None, j | None)."""
    if n == 0 and m == 0:
        yield []
        return
    if n and m:
        for rest in _alignments(n - 1, m - 1):
            yield rest + [(n - 1, m - 1)]
    if n:
        for rest in _alignments(n - 1, m):
            yield rest + [(n - 1, None)]
    if m:
        for rest in _alignments(n, m - 1):
            yield rest + [(None, m - 1)]


def _score(al, a, b) -> float:
    def sim(x: str, y: str) -> float:  # independent restatement: difflib over the same tokens
        tx, ty = align.tokens(x), align.tokens(y)
        if " ".join(x.split()).lower() == " ".join(y.split()).lower() or not (tx or ty):
            return 1.0
        return difflib.SequenceMatcher(a=tx, b=ty, autojunk=False).ratio()

    return sum((sim(a[i], b[j]) - 0.5) if i is not None and j is not None else -align.GAP for i, j in al)


@pytest.mark.parametrize("seed", range(12))
def test_alignment_is_optimal_against_brute_force(seed):
    rng = random.Random(seed)
    vocab = ["x = 1", "x = 2", "y = 3", "add 4", "add 5 to it", "so the answer is 7", "z"]
    a = [rng.choice(vocab) for _ in range(rng.randint(0, 4))]
    b = [rng.choice(vocab) for _ in range(rng.randint(0, 4))]
    best = max(_score(al, a, b) for al in _alignments(len(a), len(b)))
    got = pairs(align_steps(a, b))
    assert _score(got, a, b) == pytest.approx(best)
    # every step of each side appears exactly once, in order
    assert [i for i, _ in got if i is not None] == list(range(len(a)))
    assert [j for _, j in got if j is not None] == list(range(len(b)))


def test_long_traces_fall_back_to_identical_steps(monkeypatch):
    monkeypatch.setattr(align, "MAX_CELLS", 10)
    a = ["s0", "s1", "s2", "s3"]
    b = ["s0", "new", "s1", "s2", "s3"]
    rows = align_steps(a, b)
    assert pairs(rows) == [(0, 0), (None, 1), (1, 2), (2, 3), (3, 4)]
    assert first_divergence(rows) == 1


def test_side_by_side_frame_marks_and_scores():
    a = ["x = 1", "y = 2", "z = 3"]
    b = ["x = 1", "w = 5", "Y  = 2", "z = 4"]
    f = side_by_side_frame(a, b, [0.9, 0.8, None], [0.95, 0.1, 0.7, 0.6], gold_a=-1, gold_b=1, pred_a=None, pred_b=1)
    assert [None if pd.isna(v) else int(v) for v in f["a_step"]] == [0, None, 1, 2]
    assert f["a_text"].tolist() == ["x = 1", "", "y = 2", "z = 3"]
    assert f["b_text"].tolist() == b
    assert f["a_score"].tolist()[0] == 0.9 and f["a_score"].isna().tolist() == [False, True, False, True]
    assert f["b_score"].tolist() == [0.95, 0.1, 0.7, 0.6]
    assert f["divergence"].tolist() == [False, True, False, False]
    assert f["b_mark"].tolist() == ["", "first error (gold + predicted)", "", ""]
    assert f["a_mark"].tolist() == ["", "", "", ""]  # -1 = no error, None = unknown
    g = side_by_side_frame(a, a, gold_a=2, pred_a=0, gold_b=None, pred_b=2)
    assert g["a_mark"].tolist() == ["first error (predicted)", "", "first error (gold)"]
    assert g["b_mark"].tolist() == ["", "", "first error (predicted)"]
    assert not g["divergence"].any() and g["a_score"].isna().all()


def test_every_alignment_enumerator_is_complete():
    # 2 x 2 grid: Delannoy number D(2, 2) = 13 alignments
    assert len(list(_alignments(2, 2))) == 13
    assert len({tuple(x) for x in _alignments(3, 2)}) == 25  # D(3, 2)
    assert list(itertools.islice(_alignments(0, 1), 2)) == [[(None, 0)]]
