"""``experiment load`` on a folder without a finished run: one line naming the folder, store untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from prm_viewer.cli import main
from prm_viewer.store import Store


def test_experiment_load_without_a_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, empty = tmp_path / "s.duckdb", tmp_path / "no-run"
    empty.mkdir()
    assert main(["--db", str(db), "experiment", "load", "--out", str(empty)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--out {empty} holds no finished experiment run" in err[0]
    with Store(db) as s:
        assert s.is_empty()
