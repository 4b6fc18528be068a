"""The store: schema version, migrations, deterministic ids, transactions, delete, single owner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from prm_viewer import store as store_mod
from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.ingest import import_file
from prm_viewer.store import SCHEMA_VERSION, Store, problem_key
from tests.conftest import TEST_DATA, snapshot

PB = TEST_DATA / "processbench" / "valid.jsonl"


def test_new_store_has_current_schema(tmp_path: Path) -> None:
    s = Store(tmp_path / "a.duckdb")
    assert s.schema_version() == SCHEMA_VERSION
    tables = {r[0] for r in s.cursor().execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"datasets", "problems", "traces", "steps", "scorers", "jobs", "step_scores", "trace_scores"} <= tables
    s.close()
    # Reopening does not re-run migrations (no error on existing tables) and keeps the version.
    s2 = Store(tmp_path / "a.duckdb")
    assert s2.schema_version() == SCHEMA_VERSION
    s2.close()


def test_forward_migration_runs_only_new_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.duckdb"
    Store(path).close()
    extra = {**store_mod.MIGRATIONS, SCHEMA_VERSION + 1: ("ALTER TABLE datasets ADD COLUMN note VARCHAR",)}
    monkeypatch.setattr(store_mod, "MIGRATIONS", extra)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION + 1
    cols = {r[0] for r in s.cursor().execute("DESCRIBE datasets").fetchall()}
    assert "note" in cols
    s.close()


def test_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(PrmViewerError, match="newer than this prm_viewer"):
        Store(path)


def test_ids_are_deterministic_across_stores(tmp_path: Path) -> None:
    a, b = Store(tmp_path / "a.duckdb"), Store(tmp_path / "b.duckdb")
    ra, rb = import_file(a, PB), import_file(b, PB)
    assert ra.dataset_id == rb.dataset_id
    q = "SELECT trace_id, problem_id FROM traces ORDER BY trace_id"
    assert a.cursor().execute(q).fetchall() == b.cursor().execute(q).fetchall()
    # problem ids are a hash of normalised text: whitespace differences do not split a problem
    assert problem_key("What is  2+3*4?\n") == problem_key("What is 2+3*4?")
    # two traces of the same problem share one problems row
    n_problems = a.cursor().execute("SELECT count(*) FROM problems").fetchone()[0]
    assert n_problems == 2
    a.close(), b.close()


def test_reimport_is_noop_and_other_options_make_a_new_dataset(store: Store) -> None:
    first = import_file(store, PB)
    before = snapshot(store)
    again = import_file(store, PB)
    assert again.already_present and "nothing changed" in again.summary()
    assert snapshot(store) == before
    other = import_file(store, PB, options={"split": "custom"})
    assert other.dataset_id != first.dataset_id and not other.already_present
    assert other.name != first.name  # names stay unique


def test_delete_dataset_removes_everything_it_owns(store: Store) -> None:
    empty = snapshot(store)
    rep = import_file(store, PB)
    sid = store.upsert_scorer(None, {"scorer_id": "s1", "name": "s1", "recipe": "test"})
    import pyarrow as pa

    store.insert_step_scores(None, pa.table({
        "scorer_id": ["s1"], "trace_id": [f"{rep.dataset_id}-0"], "step_idx": [0],
        "score": [0.9], "raw": [None], "note": [None],
    }))
    store.delete_dataset(rep.name)
    after = snapshot(store)
    assert after["traces"] == [] and after["steps"] == [] and after["step_scores"] == []
    assert after["problems"] == [] and after["datasets"] == []
    # the model scorer itself stays (it may score other datasets); only its scores went
    assert [r for r in after["scorers"] if sid in r]
    assert {k: v for k, v in after.items() if k != "scorers"} == {k: v for k, v in empty.items() if k != "scorers"}
    with pytest.raises(NotFound, match="no dataset"):
        store.delete_dataset(rep.name)


def test_step_scores_are_idempotent(store: Store) -> None:
    import pyarrow as pa

    store.upsert_scorer(None, {"scorer_id": "s", "name": "s", "recipe": "test"})
    tbl = pa.table({"scorer_id": ["s", "s"], "trace_id": ["t", "t"], "step_idx": [0, 1],
                    "score": [0.1, 0.2], "raw": [None, None], "note": [None, None]})
    assert store.insert_step_scores(None, tbl) == 2
    assert store.insert_step_scores(None, tbl) == 0
    assert store.cursor().execute("SELECT count(*) FROM step_scores").fetchone()[0] == 2


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    before = snapshot(store)
    with pytest.raises(RuntimeError):
        with store.transaction() as cur:
            cur.execute("INSERT INTO problems VALUES ('p', 'x', NULL)")
            raise RuntimeError("boom")
    assert snapshot(store) == before


def test_trace_aggregates_view_matches_hand_computation(store: Store) -> None:
    import math

    import pyarrow as pa

    store.upsert_scorer(None, {"scorer_id": "s", "name": "s", "recipe": "test", "threshold": 0.5})
    scores = [0.9, 0.4, 0.8, 0.3]
    store.insert_step_scores(None, pa.table({
        "scorer_id": ["s"] * 4, "trace_id": ["t"] * 4, "step_idx": [0, 1, 2, 3],
        "score": scores, "raw": [None] * 4, "note": [None] * 4}))
    row = store.cursor().execute(
        "SELECT score_min, score_product, score_last, score_mean, predicted_first_error FROM trace_aggregates").fetchone()
    assert row[0] == pytest.approx(0.3)
    assert row[1] == pytest.approx(math.prod(scores))
    assert row[2] == pytest.approx(0.3)  # the last step's score, not the largest
    assert row[3] == pytest.approx(sum(scores) / 4)
    assert row[4] == 1  # first step below 0.5


def test_second_process_is_told_the_store_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    s = Store(path)
    code = (
        "import sys; from prm_viewer.store import Store; from prm_viewer.errors import StoreBusy\n"
        f"try:\n    Store({str(path)!r})\nexcept StoreBusy as e:\n    print('BUSY', e); sys.exit(0)\nsys.exit(1)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    s.close()
    assert out.returncode == 0, out.stderr
    assert "BUSY" in out.stdout and "another process" in out.stdout


def test_tags_and_rename(store: Store) -> None:
    rep = import_file(store, PB, tags={"policy": "a"})
    from prm_viewer import queries

    df = queries.datasets(store)
    assert df.loc[0, "tags"] == {"policy": "a"}
    store.set_tags(rep.name, {"process_reward": "with"})
    store.rename_dataset(rep.name, "run-with")
    df = queries.datasets(store)
    assert df.loc[0, "name"] == "run-with" and df.loc[0, "tags"] == {"process_reward": "with"}
    assert json.loads(store.cursor().execute("SELECT tags FROM datasets").fetchone()[0]) == {"process_reward": "with"}
