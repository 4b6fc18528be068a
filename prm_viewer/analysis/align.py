"""Step alignment of two traces of the same problem, for the side-by-side view.

Two runs rarely write the same steps: one inserts a step, words a step differently, or goes
wrong at some point. The alignment is a global (Needleman-Wunsch) alignment over *step
similarity*: pairing step i of A with step j of B scores ``similarity(i, j) - 0.5`` (so a
similar pair gains, an unrelated pair loses), leaving a step without a partner costs
``GAP``. Similarity is difflib's ratio over word/number/symbol tokens of the normalised text
(whitespace folded, lower case), so ``"z = 3"`` and ``"z = 4"`` are similar (0.67) while
``"x = 1"`` and ``"y = 2"`` are not (0.33). Ties prefer a pair, then a step of A alone, then
a step of B alone, so the result is deterministic.

The *first divergent row* is the first row where the two steps are not the same text after
normalisation (or one side has no step): numbers matter in a math step, so similar is not
the same. Everything here is pure Python over lists; no store, no Streamlit.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

GAP = 0.3
"""Cost of leaving a step without a partner (a pair of unrelated steps costs 0.5 each way)."""
MAX_CELLS = 250_000
"""Largest steps(A) x steps(B) grid aligned by similarity; longer traces fall back to pairing
identical steps only (difflib over whole steps), which is linear-ish and still readable."""
_CHARS = 400
"""Characters of a step compared (a long step's start says what it does)."""
_TOKEN = re.compile(r"\w+|[^\w\s]")


def normalise(text: str) -> str:
    """Whitespace folded to single spaces, trimmed, lower case."""
    return " ".join(str(text).split()).lower()


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalise(text)[:_CHARS])


def similarity(a: str, b: str) -> float:
    """Token-level difflib ratio in [0, 1] (1 = same text after normalisation)."""
    na, nb = normalise(a), normalise(b)
    if na == nb:
        return 1.0
    ta, tb = tokens(a), tokens(b)
    if not ta and not tb:
        return 1.0
    return difflib.SequenceMatcher(a=ta, b=tb, autojunk=False).ratio()


@dataclass(frozen=True)
class AlignedRow:
    """One row of the side-by-side view."""

    a: int | None
    """Step index in A (0-based), None where A has no step on this row."""
    b: int | None
    """Step index in B, None where B has none."""
    similarity: float | None
    """Similarity of the two steps; None on a one-sided row."""

    @property
    def same(self) -> bool:
        return self.similarity == 1.0


def align_steps(a: Sequence[str], b: Sequence[str], gap: float = GAP) -> list[AlignedRow]:
    """Global alignment of A's steps with B's (see the module docstring)."""
    n, m = len(a), len(b)
    if n * m > MAX_CELLS:
        return _align_identical(a, b)
    sim = np.array([[similarity(x, y) for y in b] for x in a], dtype=float).reshape(n, m)
    score = np.zeros((n + 1, m + 1))
    score[:, 0] = -gap * np.arange(n + 1)
    score[0, :] = -gap * np.arange(m + 1)
    move = np.zeros((n + 1, m + 1), dtype=np.int8)  # 0 pair, 1 A alone (up), 2 B alone (left)
    move[1:, 0], move[0, 1:] = 1, 2
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            options = (score[i - 1, j - 1] + sim[i - 1, j - 1] - 0.5, score[i - 1, j] - gap, score[i, j - 1] - gap)
            k = int(np.argmax(options))  # first maximum: the documented tie order
            score[i, j], move[i, j] = options[k], k
    rows: list[AlignedRow] = []
    i, j = n, m
    while i or j:
        k = move[i, j]
        if k == 0:
            rows.append(AlignedRow(i - 1, j - 1, float(sim[i - 1, j - 1])))
            i, j = i - 1, j - 1
        elif k == 1:
            rows.append(AlignedRow(i - 1, None, None))
            i -= 1
        else:
            rows.append(AlignedRow(None, j - 1, None))
            j -= 1
    return rows[::-1]


def _align_identical(a: Sequence[str], b: Sequence[str]) -> list[AlignedRow]:
    sm = difflib.SequenceMatcher(a=[normalise(s) for s in a], b=[normalise(s) for s in b], autojunk=False)
    rows: list[AlignedRow] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            rows += [AlignedRow(i, j, 1.0) for i, j in zip(range(i1, i2), range(j1, j2))]
            continue
        la, lb = i2 - i1, j2 - j1
        for k in range(max(la, lb)):
            i, j = (i1 + k if k < la else None), (j1 + k if k < lb else None)
            rows.append(AlignedRow(i, j, similarity(a[i], b[j]) if i is not None and j is not None else None))
    return rows


def first_divergence(rows: Sequence[AlignedRow]) -> int | None:
    """Index of the first row whose steps differ (or that has a step on one side only);
    None when the traces say the same thing throughout."""
    return next((k for k, r in enumerate(rows) if not r.same), None)


def side_by_side_frame(
    texts_a: Sequence[str],
    texts_b: Sequence[str],
    scores_a: Sequence[float | None] | None = None,
    scores_b: Sequence[float | None] | None = None,
    gold_a: int | None = None,
    gold_b: int | None = None,
    pred_a: int | None = None,
    pred_b: int | None = None,
) -> pd.DataFrame:
    """The aligned rows as a table: row, a_step, a_text, a_score, a_mark, similarity, b_step,
    b_text, b_score, b_mark, divergence (True on the first divergent row).

    ``gold_*`` / ``pred_*`` are first-error indices (-1 = none, None = unknown); the step at
    that index gets the mark "first error (gold)", "first error (predicted)" or both.
    """
    rows = align_steps(texts_a, texts_b)
    div = first_divergence(rows)

    def mark(i: int | None, gold: int | None, pred: int | None) -> str:
        if i is None:
            return ""
        parts = [w for w, at in (("gold", gold), ("predicted", pred)) if at is not None and at >= 0 and at == i]
        return f"first error ({' + '.join(parts)})" if parts else ""

    def at(values: Sequence[float | None] | None, i: int | None) -> float | None:
        if values is None or i is None or i >= len(values) or values[i] is None:
            return None
        v = float(values[i])  # type: ignore[arg-type]
        return None if np.isnan(v) else v

    out = [{
        "row": k,
        "a_step": r.a, "a_text": texts_a[r.a] if r.a is not None else "", "a_score": at(scores_a, r.a),
        "a_mark": mark(r.a, gold_a, pred_a),
        "similarity": r.similarity,
        "b_step": r.b, "b_text": texts_b[r.b] if r.b is not None else "", "b_score": at(scores_b, r.b),
        "b_mark": mark(r.b, gold_b, pred_b),
        "divergence": k == div,
    } for k, r in enumerate(rows)]
    frame = pd.DataFrame(out, columns=["row", "a_step", "a_text", "a_score", "a_mark", "similarity", "b_step",
                                       "b_text", "b_score", "b_mark", "divergence"])
    for col in ("a_step", "b_step"):
        frame[col] = frame[col].astype("Int64")
    for col in ("a_score", "b_score", "similarity"):
        frame[col] = frame[col].astype(float)
    return frame
