"""Annotator agreement against independent computations: Cohen's kappa vs scikit-learn,
Krippendorff's alpha vs the ``krippendorff`` package (with missing values), first-error
agreement and confusion by hand, and the CLI ``agreement`` without --a/--b."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from prm_viewer import annotation as an
from prm_viewer.analysis.annotators import cohen_kappa, krippendorff_alpha
from prm_viewer.cli import main
from prm_viewer.store import Store
from tests.annotation.helpers import build

# Three annotators x ten units, NaN = not labelled (a missing-value pattern).
DATA = np.array([
    [1, 1, -1, 0, 1, -1, 1, np.nan, 1, -1],
    [1, -1, -1, 0, 1, 1, np.nan, 1, 1, -1],
    [np.nan, 1, -1, -1, 1, -1, 1, 1, np.nan, 0],
])


def test_kappa_matches_scikit_learn() -> None:
    a, b = [1, 1, -1, 0, 1, -1, 1, 1, -1, 0, 0], [1, -1, -1, 0, 1, 1, 1, 1, -1, 1, 0]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    mask = ~np.isnan(DATA[0]) & ~np.isnan(DATA[1])
    assert cohen_kappa(DATA[0][mask].astype(int), DATA[1][mask].astype(int)) == pytest.approx(
        cohen_kappa_score(DATA[0][mask], DATA[1][mask]))
    assert cohen_kappa([1, 1], [1, 1]) is None   # expected agreement 1: undefined (sklearn gives NaN)
    assert cohen_kappa([], []) is None


def _long(data: np.ndarray) -> pd.DataFrame:
    rows = [("t", u, f"a{i}", int(v)) for i, row in enumerate(data) for u, v in enumerate(row) if not np.isnan(v)]
    return pd.DataFrame(rows, columns=["trace_id", "step_idx", "annotator", "label"])


def test_alpha_matches_the_krippendorff_package_with_missing_values() -> None:
    alpha, n_units = krippendorff_alpha(_long(DATA))
    assert alpha == pytest.approx(krippendorff.alpha(reliability_data=DATA, level_of_measurement="nominal"))
    assert n_units == 10  # every unit has two or more labels
    sparse = DATA.copy()
    sparse[1, :4] = np.nan  # units 0 and 3 keep one label only, and drop out
    sparse[2, 3] = np.nan
    alpha, n_units = krippendorff_alpha(_long(sparse))
    assert alpha == pytest.approx(krippendorff.alpha(reliability_data=sparse, level_of_measurement="nominal"))
    assert n_units == 8


def test_store_agreement_by_hand(store: Store, tmp_path: Path) -> None:
    ids = build(store, tmp_path)
    rep = an.annotator_agreement(store, "d")
    assert rep.annotators == ["gold", "alice", "bob"]
    pairs = rep.pairs.set_index(["a", "b"])
    # gold (implied by the ProcessBench first errors) vs alice on their common steps:
    # r0 steps 0-2: (1,1)x3; r1: (1,1), (-1,1); r2: (1,1), (1,-1), (-1,None); r3 step 0: (-1,1)
    g = [1, 1, 1, 1, -1, 1, 1, -1]
    a = [1, 1, 1, 1, 1, 1, -1, 1]
    row = pairs.loc[("gold", "alice")]
    assert row["n_steps"] == 8
    assert row["kappa"] == pytest.approx(cohen_kappa_score(g, a))
    # First errors: gold r0 -1, r1 1, r2 2, r3 0; alice r0 -1, r1 2, r2 1, r3 unknown (partly labelled).
    assert row["n_traces"] == 3
    assert row["first_error_exact"] == pytest.approx(1 / 3)
    assert row["first_error_within_1"] == pytest.approx(1.0)
    ab = pairs.loc[("alice", "bob")]  # bob: r1 1, r2 2
    assert (ab["n_traces"], ab["first_error_exact"], ab["first_error_within_1"]) == (2, 0.0, 1.0)
    assert pairs.loc[("gold", "bob")]["first_error_exact"] == 1.0
    conf = rep.confusion("gold", "alice")
    assert conf.loc["correct", "correct"] == 5 and conf.loc["wrong", "correct"] == 2 and conf.loc["correct", "wrong"] == 1
    assert int(conf.to_numpy().sum()) == 8
    # Alpha over gold, alice and bob, checked against the package on the same units.
    units = rep.units.pivot_table(index=["trace_id", "step_idx"], columns="annotator", values="label")
    expected = krippendorff.alpha(reliability_data=units[["gold", "alice", "bob"]].to_numpy().T,
                                  level_of_measurement="nominal")
    assert rep.alpha == pytest.approx(expected)
    # Steps with two or more labels that differ: r1 step 1 (alice +1 vs gold/bob -1; step 2 has alice's
    # label only), r2 step 1 (alice -1 vs +1; step 2 gold and bob agree), r3 step 0 (gold -1, alice +1).
    dis = dict(zip(rep.disagreements["source_id"], rep.disagreements["n_disagree"]))
    assert dis == {"r1": 1, "r2": 1, "r3": 1}
    assert rep.disagreements["n_disagree"].is_monotonic_decreasing
    del ids


def test_cli_agreement_without_scorers_is_annotator_agreement(tmp_path: Path, capsys) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        build(s, tmp_path)
    assert main(["--db", str(db), "agreement", "--dataset", "d", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["annotators"] == ["gold", "alice", "bob"]
    assert {(p["a"], p["b"]) for p in out["pairs"]} == {("gold", "alice"), ("gold", "bob"), ("alice", "bob")}
    assert main(["--db", str(db), "agreement", "--dataset", "d"]) == 0
    assert "Krippendorff's alpha" in capsys.readouterr().out
    assert main(["--db", str(db), "agreement", "--dataset", "d", "--a", "s"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: give both --a and --b to compare two scorers, or neither to compare step annotators"
