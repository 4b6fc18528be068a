"""Best-of-N at an intermediate N with ties: the PRM-weighted votes and the majority vote over
every subset of size 2, against a direct enumeration (itertools) of the documented rules."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from prm_viewer.analysis import bestofn as bon
from prm_viewer.analysis.runs import Run
from prm_viewer.store import Store
from tests.analysis.test_bestofn import _direct, _random_case, make_store


def _vote(sub: list[dict], key: str | None) -> bool:
    """The heaviest answer (``key`` None: the most samples); ties to the answer of the lowest
    sample; right when that answer's lowest sample is right."""
    w: dict[str, list] = {}
    for r in sorted(sub, key=lambda r: r["o"]):
        e = w.setdefault(r["answer"], [0.0, r["o"], r["correct"]])
        e[0] += 1.0 if key is None else r[key]
    return max(w.values(), key=lambda e: (e[0], -e[1]))[2]


def test_votes_at_n2_equal_enumeration(store: Store) -> None:
    # Scores on a coarse grid and three answers: equal weights between answers really occur.
    traces, scores = _random_case(5, n_problems=40, k=4)
    did = make_store(store, traces, {"prm": scores})
    rep = bon.bestofn_report(store, Run(did, "bon"), "prm", ns=[2, 3], repeats=6)
    d = _direct(traces, scores)
    ties = 0
    for n in (2, 3):
        expect: dict[str, list[float]] = {m: [] for m in ("min_vote", "product_vote", "last_vote", "mean_vote", "majority")}
        for _, g in d.groupby("problem"):
            subs = list(combinations(g.sort_values("o").to_dict("records"), n))
            for agg in ("min", "product", "last", "mean"):
                expect[f"{agg}_vote"].append(np.mean([_vote(list(s), agg) for s in subs]))
                ties += sum(len({r["answer"] for r in s}) > 1 and len({sum(x[agg] for x in s if x["answer"] == a)
                                                                       for a in {r["answer"] for r in s}}) == 1 for s in subs)
            expect["majority"].append(np.mean([_vote(list(s), None) for s in subs]))
        for method, vals in expect.items():
            assert rep.accuracy(method, n) == pytest.approx(np.mean(vals)), (method, n)
    assert ties > 0  # the fixture exercises the tie rule
