"""Reliability diagram and ECE against scikit-learn's calibration_curve on fixed data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from prm_viewer.analysis import calibration as cal
from prm_viewer.analysis.runs import Run
from prm_viewer.cli.entry import main
from prm_viewer.store import Store
from tests.analysis.test_bestofn import make_store


def test_reliability_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.random(500), [0.0, 0.1, 0.3, 0.5, 1.0, 0.2, 0.7]])  # bin edges included
    y = (rng.random(p.size) < p ** 1.5).astype(float)
    for n_bins in (5, 10, 13):
        bins = cal.reliability(p, y, n_bins)
        true, pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
        np.testing.assert_allclose(bins["accuracy"], true)
        np.testing.assert_allclose(bins["mean_score"], pred)
        # ECE by hand from the same bins: weights = counts per bin.
        counts = np.bincount(np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p), minlength=n_bins)
        w = counts[counts > 0] / p.size
        assert cal.expected_calibration_error(bins) == pytest.approx(float(np.sum(w * np.abs(true - pred))))


def test_report_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    traces, scores, labels = [], {}, {}
    for o in range(30):
        k = int(rng.integers(1, 5))
        labels[o] = rng.choice([-1, 0, 1], k).tolist()
        scores[o] = rng.random(k).round(3).tolist()
        first = next((i for i, v in enumerate(labels[o]) if v == -1), -1)
        traces.append({"problem": f"p{o}", "answer": "1", "correct": first == -1, "gold": first, "n_steps": k})
    db = tmp_path / "c.duckdb"
    with Store(db) as s:
        did = make_store(s, traces, {"prm": scores}, labels=labels)
        rep = cal.calibration_report(s, [Run(did, "bon")], "prm", n_bins=10)
    p = np.concatenate([scores[o] for o in range(30)])
    y = np.concatenate([labels[o] for o in range(30)]) != -1
    true, pred = calibration_curve(y, p, n_bins=10)
    np.testing.assert_allclose(rep.bins["accuracy"], true)
    assert rep.n_steps == p.size and not rep.sweep.empty
    assert main(["--db", str(db), "calibration", "--dataset", "bon", "--scorer", "prm", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ece"] == pytest.approx(rep.ece)
    assert main(["--db", str(db), "calibration", "--dataset", "bon", "--scorer", "nope"]) == 2
