"""Scorer agreement against scikit-learn and scipy on fixed data, and the consensus export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score

from prm_viewer.analysis import agreement as ag
from prm_viewer.analysis.runs import Run
from prm_viewer.cli.entry import main
from prm_viewer.store import Store
from tests.analysis.test_bestofn import make_store


def _case(seed: int = 0, n: int = 40) -> tuple[list[dict], dict, dict, dict]:
    rng = np.random.default_rng(seed)
    traces, a, b, labels = [], {}, {}, {}
    for o in range(n):
        k = int(rng.integers(2, 6))
        traces.append({"problem": f"p{o}", "answer": "1", "correct": True, "gold": -1, "n_steps": k})
        a[o] = (rng.integers(0, 9, k) / 8).tolist()  # a grid, so scores tie
        b[o] = np.clip(np.array(a[o]) + rng.normal(0, 0.3, k), 0, 1).round(2).tolist()
        labels[o] = rng.choice([-1, 0, 1], k).tolist()
    return traces, a, b, labels


def test_kappa_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    y[:120] = x[:120]
    assert ag.kappa_of_labels(x.tolist(), y.tolist()) == pytest.approx(cohen_kappa_score(x, y))
    m = np.array([[20, 5], [10, 65]])
    xa = [0] * 25 + [1] * 75
    ya = [0] * 20 + [1] * 5 + [0] * 10 + [1] * 65
    assert ag.cohen_kappa(m) == pytest.approx(cohen_kappa_score(xa, ya))


def test_report_against_sklearn_and_scipy(store: Store) -> None:
    traces, a, b, labels = _case()
    did = make_store(store, traces, {"A": a, "B": b}, labels=labels)
    rep = ag.agreement_report(store, Run(did, "bon"), "A", "B")
    sa = np.concatenate([a[o] for o in range(len(traces))])
    sb = np.concatenate([b[o] for o in range(len(traces))])
    assert rep.n_steps == len(sa)
    assert rep.kappa == pytest.approx(cohen_kappa_score(sa < 0.5, sb < 0.5))
    assert rep.pearson == pytest.approx(sps.pearsonr(sa, sb)[0])
    assert rep.spearman == pytest.approx(sps.spearmanr(sa, sb)[0])
    # First errors: the first step below 0.5, else -1, per trace, by hand.
    def first(v: list[float]) -> int:
        return next((i for i, s in enumerate(v) if s < 0.5), -1)
    pa = [first(a[o]) for o in range(len(traces))]
    pb = [first(b[o]) for o in range(len(traces))]
    assert rep.traces["pred_a"].tolist() == pa and rep.traces["pred_b"].tolist() == pb
    assert rep.n_consensus == sum(x == y for x, y in zip(pa, pb))
    assert rep.first_error_kappa == pytest.approx(cohen_kappa_score(pa, pb))
    top = rep.disagreements.iloc[0]
    o = int(top["trace_id"].rsplit("-", 1)[1])
    end = len(a[o])
    assert top["distance"] == max(abs((x if x >= 0 else len(a[i])) - (y if y >= 0 else len(a[i])))
                                  for i, (x, y) in enumerate(zip(pa, pb)))
    assert top["max_step"] == int(np.argmax(np.abs(np.array(a[o]) - np.array(b[o])))) and end > 0
    # Against gold: wrong = label -1.
    g = ag.agreement_report(store, Run(did, "bon"), "A", "gold")
    gl = np.concatenate([labels[o] for o in range(len(traces))])
    assert g.kappa == pytest.approx(cohen_kappa_score(sa < 0.5, gl == -1))


def test_same_scorer_and_cli_consensus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traces, a, b, labels = _case(2, 10)
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        make_store(s, traces, {"A": a, "B": b}, labels=labels)
    assert main(["--db", str(db), "agreement", "--dataset", "bon", "--a", "A", "--b", "A"]) == 2
    assert "same" in capsys.readouterr().err
    out = tmp_path / "consensus.jsonl"
    assert main(["--db", str(db), "agreement", "--dataset", "bon", "--a", "A", "--b", "B", "--json",
                 "--consensus-out", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    def first(v: list[float]) -> int:
        return next((i for i, s in enumerate(v) if s < 0.5), -1)
    agree = [o for o in range(len(traces)) if first(a[o]) == first(b[o])]
    assert rep["n_consensus"] == len(agree)
    lines = out.read_text().splitlines()
    assert len(lines) == len(agree)
    assert main(["--db", str(db), "agreement", "--dataset", "bon", "--a", "A", "--b", "B",
                 "--consensus-out", str(tmp_path / "x.txt")]) == 2
