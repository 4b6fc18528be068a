"""The scoring CLI as a user runs it: real subprocesses, real store file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prm_viewer.store import Store
from tests.conftest import ROOT, TEST_DATA


def cli(*args: str, db) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prm_viewer", "--db", str(db), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    db = tmp_path / "s.duckdb"
    assert cli("import", str(TEST_DATA / "processbench" / "valid.jsonl"), "--dataset", "pb", db=db).returncode == 0
    for args, needle in [
        (("score", "--dataset", "pb", "--checkpoint", str(tmp_path / "missing")), "no such directory"),
        (("score", "--dataset", "nope", "--recipe", "verifier"), "no dataset 'nope'"),
        (("score", "--dataset", "pb", "--checkpoint", str(tmp_path)), "no config.json"),
        (("cancel", "j-000"), "no job 'j-000'"),
    ]:
        r = cli(*args, db=db)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr
    with Store(db) as s:
        assert s.cursor().execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


@pytest.mark.slow
def test_score_jobs_scorers(tmp_path, tiny):
    db = tmp_path / "s.duckdb"
    assert cli("import", str(TEST_DATA / "processbench" / "valid.jsonl"), "--dataset", "pb", db=db).returncode == 0
    r = cli("score", "--dataset", "pb", "--checkpoint", str(tiny["qwen-prm"]), "--device", "cpu",
            "--batch-tokens", "2048", "--name", "tiny-qwen", db=db)
    assert r.returncode == 0, r.stderr
    assert "done, 3/3 traces" in r.stdout
    r = cli("jobs", "--json", db=db)
    jobs = json.loads(r.stdout)
    assert [(j["scorer"], j["dataset"], j["status"], j["traces_done"]) for j in jobs] == [("tiny-qwen", "pb", "done", 3)]
    r = cli("scorers", db=db)
    assert "tiny-qwen" in r.stdout and "qwen-prm" in r.stdout and "sha256:" in r.stdout
    with Store(db) as s:
        n = s.cursor().execute("SELECT count(*) FROM step_scores ss JOIN scorers USING (scorer_id) "
                               "WHERE name = 'tiny-qwen' AND score BETWEEN 0 AND 1").fetchone()[0]
        assert n == 9  # every step of the 3 traces
        opts = json.loads(s.resolve_scorer("tiny-qwen")["options"])
        assert opts["batch_tokens"] == 2048 and opts["dtype"] == "auto"  # resolved by the worker, not here
        job_row = s.cursor().execute("SELECT device, dtype FROM jobs").fetchone()
        assert job_row == ("cpu", "float32")  # what the worker really ran on
    # scoring the same pair again is a no-op on the same job
    r = cli("score", "--dataset", "pb", "--checkpoint", str(tiny["qwen-prm"]), "--device", "cpu",
            "--batch-tokens", "2048", db=db)
    assert r.returncode == 0 and "done, 3/3" in r.stdout
    assert len(json.loads(cli("jobs", "--json", db=db).stdout)) == 1
