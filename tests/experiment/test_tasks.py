"""The experiment's task suite and tokenizer, checked with the test's own parser and arithmetic."""

from __future__ import annotations

import operator
import re
from typing import Any

from prm_viewer.experiment.prm import class_weights
from prm_viewer.experiment.tasks import Splits, make_splits

_WORDS = {"add": "+", "subtract": "-", "multiply by": "*"}
_FN = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def _parse(text: str) -> tuple[int, list[tuple[str, int]]]:
    m = re.fullmatch(r"Start with (\d+)\. Then (.*)\. What is the result\?", text)
    assert m, text
    ops = []
    for part in m.group(2).split(", "):
        word, num = part.rsplit(" ", 1)
        ops.append((_WORDS[word], int(num)))
    return int(m.group(1)), ops


def _values(text: str) -> list[int]:
    v, ops = _parse(text)
    out = [v]
    for sym, b in ops:
        v = _FN[sym](v, b)
        out.append(v)
    return out


def test_splits_are_sized_disjoint_and_in_range() -> None:
    s = make_splits(5, n_train=300, n_test_in=40, n_test_ood=10)
    assert (len(s.train), len(s.test_in), len(s.test_ood)) == (300, 40, 30)
    train_texts = {t.text for t in s.train}
    assert len(train_texts) == 300 and not train_texts & {t.text for t in s.test()}
    for t in s.train + s.test_in:
        _, ops = _parse(t.text)
        assert 2 <= len(ops) <= 4 and {sym for sym, _ in ops} <= {"+", "-"}
        assert all(2 <= b <= 9 for _, b in ops)
        assert all(0 <= v <= 99 for v in _values(t.text)), t.text  # at most two digits
        assert t.answer == _values(t.text)[-1] and (t.split, t.category) == ("in_domain", "arithmetic")
    by_cat: dict[str, list[Any]] = {}
    for t in s.test_ood:
        by_cat.setdefault(t.category, []).append(t)
        assert t.split == "out_of_domain" and t.answer == _values(t.text)[-1]
    assert {k: len(v) for k, v in by_cat.items()} == {"long-chain": 10, "unseen-operator": 10, "larger-numbers": 10}
    assert all(6 <= len(_parse(t.text)[1]) <= 8 for t in by_cat["long-chain"])
    assert all(any(sym == "*" for sym, _ in _parse(t.text)[1]) for t in by_cat["unseen-operator"])
    assert all(100 <= v <= 999 for t in by_cat["larger-numbers"] for v in _values(t.text))
    assert make_splits(5, 300, 40, 10) == s  # deterministic


def test_digits_are_one_token_each(tok: Any, splits: Splits) -> None:
    line = "47 + 5 = 52"
    pieces = [tok.decode([i]) for i in tok(line, add_special_tokens=False)["input_ids"]]
    assert "".join(pieces) == line
    digit_pieces = [p.strip() for p in pieces if any(c.isdigit() for c in p)]
    assert digit_pieces == list("475" "52")  # every digit alone: 4, 7, 5, 5, 2
    text = splits.test_in[0].text
    assert len(tok(text, add_special_tokens=False)["input_ids"]) < len(text)  # words merge


def test_class_weights_by_hand() -> None:
    rows = [{"input_ids": [0] * 5, "labels": [-100, 1, 1, -100, 0]}, {"input_ids": [0] * 2, "labels": [1, -100]}]
    w0, w1 = class_weights(rows)
    # 4 labels: 3 valid, 1 invalid -> w = 4 / (2 * n_c)
    assert (w0, w1) == (2.0, 4 / 6)
    assert 1 * w0 == 3 * w1  # both classes weigh the same in total
    dense = [{"input_ids": [0] * 4, "labels": [1001, 1000, 1001, 1]}]
    assert class_weights(dense, offset=1000) == (3 / 2, 3 / 4)  # 3 targets: 2 right, 1 wrong
    assert class_weights(dense) == (1.0, 1.0)  # one class only among the step labels
