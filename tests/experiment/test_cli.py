"""The ``experiment`` command: registered, and a user's mistake is one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prm_viewer.cli.entry import build_parser, main


def test_experiment_run_is_registered() -> None:
    args = build_parser().parse_args(["experiment", "run", "--quick", "--seed", "3", "--out", "x"])
    assert (args.quick, args.seed, args.out) == (True, 3, "x")


def test_negative_seed_is_one_line(capsys: object) -> None:
    assert main(["experiment", "run", "--seed", "-1"]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.strip() == "error: --seed must be 0 or more, got -1"


def test_out_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    r = subprocess.run([sys.executable, "-m", "prm_viewer", "experiment", "run", "--out", str(f)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: --out {f} is a file, not a folder"
    assert "Traceback" not in r.stderr
