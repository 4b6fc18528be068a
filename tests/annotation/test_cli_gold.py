"""The analysis commands measure against any gold source (--gold), and deleting a dataset removes
its annotations with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prm_viewer.cli import main
from prm_viewer.store import Store
from tests.annotation.helpers import build


def test_localisation_cli_with_an_annotator_as_gold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        build(s, tmp_path)
    assert main(["--db", str(db), "localisation", "--dataset", "d", "--scorer", "s", "--gold", "annotator:alice",
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    row = next(r for r in rep["overall"] if r["localiser"] == "threshold")
    # Hand computation (tests/annotation/test_gold.py): alice's errors r1 at 2 (missed), r2 at 1 (hit),
    # clean r0 (hit): 50 / 100, F1 = 2 * 50 * 100 / 150.
    assert (row["acc_error"], row["acc_correct"], row["f1"]) == pytest.approx((50.0, 100.0, 200 / 3))
    assert main(["--db", str(db), "localisation", "--dataset", "d", "--scorer", "s", "--gold", "annotator:nobody"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no annotator 'nobody' has labels; annotators: alice, bob" in err[0]


def test_deleting_a_dataset_removes_its_labels(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as s:
        build(s, tmp_path)
        assert s.cursor().execute("SELECT count(*) FROM step_labels").fetchone()[0] > 0
        s.delete_dataset("d")
        assert s.cursor().execute("SELECT count(*) FROM step_labels").fetchone()[0] == 0
