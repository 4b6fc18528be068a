"""The analysis commands through the real CLI entry point: JSON without NaN, clear errors."""

from __future__ import annotations

import json

import pytest

from prm_viewer.cli import main
from tests.analysis.helpers import add_scorer, add_scores, import_records, pb


@pytest.fixture
def db(store, tmp_path):
    a = [pb("a1", "P1", ["x", "y"], 1, False), pb("a2", "P2", ["x"], -1, True)]
    b = [pb("b1", "P1", ["x", "y"], -1, True), pb("b2", "P2", ["x"], -1, True)]
    da = import_records(store, tmp_path, "with", a, split="in_domain")
    db_ = import_records(store, tmp_path, "without", b, split="out_of_domain")
    sid = add_scorer(store, "prm")
    add_scores(store, sid, da, {"a1": [0.9, 0.1], "a2": [0.8]})
    add_scores(store, sid, db_, {"b1": [0.9, 0.7], "b2": [0.4]})
    path = store.path
    store.close()
    return path


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    return json.loads(out, parse_constant=lambda c: pytest.fail(f"JSON contains {c}"))


def test_localisation_cli(db, capsys):
    assert main(["--db", str(db), "localisation", "--dataset", "with", "--dataset", "without", "--scorer", "prm",
                 "--tune-on", "in_domain", "--json"]) == 0
    d = _json(capsys)
    assert d["reported_splits"] == ["out_of_domain"] and d["tuned_on"] == "in_domain"
    # in_domain: a1 gold 1 needs .1 < tau <= .9; a2 clean needs tau <= .8 -> optimum tau = .8 (F1 100)
    assert d["threshold"] == pytest.approx(0.8) and d["tuned_f1"] == pytest.approx(100)
    # out_of_domain at .8: b1 [.9 .7] -> 1 false alarm; b2 [.4] -> 0 false alarm: acc_correct 0
    thr = next(r for r in d["overall"] if r["localiser"] == "threshold")
    assert thr["acc_correct"] == 0 and thr["acc_error"] is None and thr["f1"] is None
    assert main(["--db", str(db), "localisation", "--dataset", "with", "--scorer", "prm", "--threshold", "0.5"]) == 0
    assert "localisers" in capsys.readouterr().out


def test_compare_cli(db, capsys):
    assert main(["--db", str(db), "compare", "--a", "with", "--b", "without", "--scorer", "prm", "--json"]) == 0
    d = _json(capsys)
    assert d["n_shared_problems"] == 2 and d["accuracy"]["a"]["estimate"] == 0.5 and d["accuracy"]["b"]["estimate"] == 1.0
    assert d["accuracy"]["mcnemar"]["b_only"] == 1
    assert main(["--db", str(db), "compare", "--a", "with", "--b", "without"]) == 0
    assert "McNemar" in capsys.readouterr().out


def test_diversity_and_errors_cli(db, capsys):
    assert main(["--db", str(db), "diversity", "--dataset", "with", "--json"]) == 0
    assert _json(capsys)["per_problem"] == []
    assert main(["--db", str(db), "errors", "--dataset", "with", "--json"]) == 0
    assert _json(capsys)["counts"] == []


@pytest.mark.parametrize("argv, message", [
    (["localisation", "--dataset", "nope", "--scorer", "prm"], "no dataset 'nope'"),
    (["localisation", "--dataset", "with", "--scorer", "nope"], "no scorer 'nope'"),
    (["localisation", "--dataset", "with", "--scorer", "prm", "--tune-on", "in_domain"], "no other split"),
    (["compare", "--a", "with", "--b", "without", "--generator-a", "zz"], "no generator 'zz'"),
])
def test_bad_input_exits_2_with_one_line(db, capsys, argv, message):
    assert main(["--db", str(db), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
