"""The store: schema version, migrations, derived macros/views, deterministic ids, re-entrant
transactions, delete, single owner."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from prm_viewer.store import schema as store_mod
from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.ingest import import_file
from prm_viewer.store import SCHEMA_VERSION, Store, TransactionAborted, problem_key
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
    sid = store.upsert_scorer({"scorer_id": "s1", "name": "s1", "recipe": "test"})
    import pyarrow as pa

    store.insert_step_scores(pa.table({
        "scorer_id": ["s1"], "trace_id": [f"{rep.dataset_id}-0"], "step_idx": [0],
        "score": [0.9], "raw": [None], "note": [None],
    }))
    store.delete_dataset(rep.name)
    after = snapshot(store)
    assert after["traces"] == [] and after["step_rows"] == [] and after["step_scores"] == []
    assert after["problems"] == [] and after["datasets"] == []
    # the model scorer itself stays (it may score other datasets); only its scores went
    assert [r for r in after["scorers"] if sid in r]
    assert {k: v for k, v in after.items() if k != "scorers"} == {k: v for k, v in empty.items() if k != "scorers"}
    with pytest.raises(NotFound, match="no dataset"):
        store.delete_dataset(rep.name)


def test_step_scores_are_idempotent(store: Store) -> None:
    import pyarrow as pa

    store.upsert_scorer({"scorer_id": "s", "name": "s", "recipe": "test"})
    tbl = pa.table({"scorer_id": ["s", "s"], "trace_id": ["t", "t"], "step_idx": [0, 1],
                    "score": [0.1, 0.2], "raw": [None, None], "note": [None, None]})
    assert store.insert_step_scores(tbl) == 2
    assert store.insert_step_scores(tbl) == 0
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

    store.upsert_scorer({"scorer_id": "s", "name": "s", "recipe": "test", "threshold": 0.5})
    scores = [0.9, 0.4, 0.8, 0.3]
    store.insert_step_scores(pa.table({
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


# ---- re-entrant transactions

SCORER = {"scorer_id": "s", "name": "s", "recipe": "test", "threshold": 0.5}


def _scores(n: int, scorer_id: str = "s", trace_id: str = "t") -> pa.Table:
    return pa.table({"scorer_id": [scorer_id] * n, "trace_id": [trace_id] * n, "step_idx": list(range(n)),
                     "score": [0.5] * n, "raw": [None] * n, "note": [None] * n})


def _count_from_another_thread(store: Store, table: str) -> int:
    """What a reader outside the transaction sees (its own thread, so its own cursor)."""
    out: list[int] = []
    t = threading.Thread(target=lambda: out.append(store.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()[0]))
    t.start()
    t.join()
    return out[0]


def test_nested_transactions_commit_once_at_the_outermost(store: Store) -> None:
    v0 = store.data_version()
    with store.transaction() as outer:
        store.upsert_scorer(SCORER)  # joins the outer transaction
        with store.transaction() as inner:
            assert inner is outer and store.in_transaction()
            assert store.insert_step_scores(_scores(3)) == 3
        # the nested block ended: nothing is committed yet, but the transaction reads its own writes
        assert store.cursor().execute("SELECT count(*) FROM step_scores").fetchone()[0] == 3
        assert _count_from_another_thread(store, "step_scores") == 0
        assert store.data_version() == v0
    assert not store.in_transaction()
    assert _count_from_another_thread(store, "step_scores") == 3
    assert store.data_version() == v0 + 1  # one commit for all of it


def test_error_in_a_nested_block_rolls_back_everything(store: Store) -> None:
    import_file(store, PB)
    before, v0 = snapshot(store), store.data_version()
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction():
            store.upsert_scorer(SCORER)
            with store.transaction():
                store.insert_step_scores(_scores(2))
                raise RuntimeError("boom")
    assert snapshot(store) == before and store.data_version() == v0
    # a write method that fails inside a caller's transaction takes the caller's writes with it
    with pytest.raises(PrmViewerError, match="already named"):
        with store.transaction():
            store.upsert_scorer(SCORER)
            store.upsert_scorer({**SCORER, "scorer_id": "other"})
    assert snapshot(store) == before


def test_a_caught_nested_error_still_rolls_back(store: Store) -> None:
    before = snapshot(store)
    with pytest.raises(TransactionAborted, match="nothing was saved.*inner"):
        with store.transaction():
            store.upsert_scorer(SCORER)
            try:
                with store.transaction():
                    store.insert_step_scores(_scores(2))
                    raise ValueError("inner")
            except ValueError:
                pass  # the caller carries on, but the transaction can only roll back now
    assert snapshot(store) == before
    store.upsert_scorer(SCORER)  # the store is usable afterwards
    assert store.resolve_scorer("s")["scorer_id"] == "s"


def test_a_helper_thread_joins_the_transaction_it_is_given(store: Store) -> None:
    before = snapshot(store)
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction() as cur:
            def helper() -> None:
                with store.joined(cur):
                    store.upsert_scorer(SCORER)
                    store.insert_step_scores(_scores(2))
            t = threading.Thread(target=helper)
            t.start()
            t.join()
            assert store.cursor().execute("SELECT count(*) FROM step_scores").fetchone()[0] == 2
            raise RuntimeError("boom")
    assert snapshot(store) == before
    with pytest.raises(RuntimeError, match="open transaction"):
        with store.joined(store.cursor()):
            pass


def test_write_methods_take_no_cursor(store: Store) -> None:
    # one write path: writes join the calling thread's transaction; no cursor is threaded through
    assert store.upsert_scorer(SCORER) == "s"
    with pytest.raises(TypeError):
        store.upsert_scorer(None, SCORER)  # type: ignore[call-arg]


# ---- derived objects: the predicted-first-error and aggregate macros, the view

def test_rule_macros_handle_nulls_and_thresholds(store: Store) -> None:
    store.upsert_scorer({**SCORER, "threshold": 0.6})
    store.insert_step_scores(pa.table({
        "scorer_id": ["s"] * 7, "trace_id": ["a", "a", "a", "b", "b", "c", "c"], "step_idx": [0, 1, 2, 0, 1, 0, 1],
        "score": [None, 0.7, 0.5, 0.9, 0.6, None, None], "raw": [None] * 7, "note": [None] * 7}))
    rows = store.cursor().execute(
        "SELECT trace_id, predicted_first_error, n_scored, score_last FROM trace_aggregates ORDER BY trace_id").fetchall()
    # a NULL score is never "below"; 0.6 is not below 0.6; a trace with no scored step has no row
    assert rows == [("a", 2, 2, 0.5), ("b", -1, 2, 0.6)]
    at = store.cursor().execute(
        """SELECT trace_pred_first_error(step_idx, score, ?) FROM step_scores
           WHERE trace_id = 'b' AND score IS NOT NULL""", [0.95]).fetchone()[0]
    assert at == 0  # the threshold is an argument: queries pass the scorer's or the user's


def test_derived_objects_are_recreated_at_open(tmp_path: Path) -> None:
    # A store written before the macros existed (old inline view, no macros) is brought up to date.
    path = tmp_path / "old.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute("DROP VIEW trace_aggregates")
    con.execute("DROP MACRO trace_pred_first_error")
    con.execute("CREATE VIEW trace_aggregates AS SELECT 1 AS stale")
    con.execute("DELETE FROM meta WHERE key = 'derived_version'")
    con.close()
    with pytest.raises(PrmViewerError, match="open it once read-write"):
        Store(path, read_only=True)
    s = Store(path)
    assert "predicted_first_error" in {r[0] for r in s.cursor().execute("DESCRIBE trace_aggregates").fetchall()}
    assert s.cursor().execute("SELECT trace_pred_first_error(1, 0.1, 0.5)").fetchone()[0] == 1
    s.close()
    ro = Store(path, read_only=True)  # now up to date: a read-only open is fine
    assert ro.schema_version() == SCHEMA_VERSION
    ro.close()


def test_every_query_gives_the_views_predicted_first_error(store: Store) -> None:
    # Explorer, Trace page, analysis frame and export all use the one rule (the schema's macros).
    import pandas as pd

    from prm_viewer import queries

    rep = import_file(store, PB)
    store.upsert_scorer({**SCORER, "threshold": 0.6})
    tids = [r[0] for r in store.cursor().execute(
        "SELECT trace_id FROM traces WHERE dataset_id = ? ORDER BY ordinal", [rep.dataset_id]).fetchall()]
    steps = dict(store.cursor().execute("SELECT trace_id, n_steps FROM traces").fetchall())
    # trace 0: a NULL, then a step below 0.6 last; trace 1: nothing below (-1); trace 2: nothing scored
    patterns = [lambda i, n: None if i == 0 else 0.3 if i == n - 1 else 0.9, lambda i, n: 0.8, lambda i, n: None]
    rows = [(t, i, patterns[k % 3](i, steps[t])) for k, t in enumerate(tids) for i in range(steps[t])]
    store.insert_step_scores(pa.table({"scorer_id": ["s"] * len(rows), "trace_id": [r[0] for r in rows],
                                       "step_idx": [r[1] for r in rows], "score": [r[2] for r in rows],
                                       "raw": [None] * len(rows), "note": [None] * len(rows)}))
    view = dict(store.cursor().execute("SELECT trace_id, predicted_first_error FROM trace_aggregates").fetchall())
    assert sorted(view.values()) == [-1, steps[tids[0]] - 1] and tids[2] not in view
    page = queries.explorer_page(store, queries.TraceFilter(scorer="s"), limit=1000)
    explorer = {t: int(p) for t, p in zip(page["trace_id"], page["pred_first_error"]) if not pd.isna(p)}
    frame = queries.analysis_trace_frame(store, [("r", rep.dataset_id, None)], "s", 0.6)
    analysis = {t: int(p) for t, p in zip(frame["trace_id"], frame["pred_threshold"]) if not pd.isna(p)}
    trace = {t: int(queries.trace_predictions(store, t)["predicted_first_error"].iloc[0]) for t in view}
    exported = queries.query_frame(store, *queries.export_traces_sql(store, None, None, False))
    export = {t: int(p) for t, p in zip(exported["trace_id"], exported["predicted_first_error[s]"]) if not pd.isna(p)}
    assert explorer == analysis == trace == export == view


def test_one_trace_header(store: Store) -> None:
    from prm_viewer import queries

    rep = import_file(store, PB)
    head = queries.trace_header(store, f"{rep.dataset_id}-0")
    assert head["dataset"] == rep.name and head["problem"] and isinstance(head["metadata"], dict)
    with pytest.raises(NotFound, match="no trace"):
        queries.trace_header(store, "nope-0")
    assert not hasattr(queries, "analysis_trace_header")  # one header function, not two


def _scored(store: Store) -> set[tuple[str, str, str]]:
    return set(store.cursor().execute("SELECT scorer_id, dataset_id, kind FROM scored_datasets").fetchall())


def test_scored_datasets_follow_every_score_write_and_delete(store: Store) -> None:
    a = import_file(store, PB)
    b = import_file(store, PB, options={"split": "custom"})
    for sid in ("prm", "critic"):
        store.upsert_scorer({"scorer_id": sid, "name": sid, "recipe": "test"})
    store.insert_step_scores(pa.table({
        "scorer_id": ["prm"] * 3, "trace_id": [f"{a.dataset_id}-0", f"{a.dataset_id}-0", f"{b.dataset_id}-1"],
        "step_idx": [0, 1, 0], "score": [0.9, 0.2, 0.5], "raw": [None] * 3, "note": [None] * 3}))
    store.insert_trace_scores(pa.table({
        "scorer_id": ["critic"], "trace_id": [f"{b.dataset_id}-0"], "predicted_first_error": [1],
        "verdict": ["INCORRECT"], "raw_output": ["..."]}))
    assert _scored(store) == {("prm", a.dataset_id, "step"), ("prm", b.dataset_id, "step"),
                              ("critic", b.dataset_id, "trace")}
    # what every page lists: the step scorers per dataset, now read from the summary
    from prm_viewer import queries

    listed = queries.datasets(store).set_index("dataset_id")["scorers"].to_dict()
    assert listed == {a.dataset_id: "prm", b.dataset_id: "prm"}
    per = queries.explorer_options(store)["scorers"].set_index("scorer_id")["dataset_ids"].map(list).to_dict()
    assert per == {"prm": sorted([a.dataset_id, b.dataset_id]), "critic": [b.dataset_id]}
    store.delete_dataset(b.name)
    assert _scored(store) == {("prm", a.dataset_id, "step")}
    store.delete_scorer("prm")
    assert _scored(store) == set()


_OLD_TRACE_COLUMNS = ("trace_id, dataset_id, ordinal, source_line, source_id, problem_id, source_problem_id, generator, "
                      "final_answer, final_answer_correct, gold_first_error, error_type, category, split, n_steps, "
                      "has_step_labels, metadata")


def _old_store(path: Path, version: int, source: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store as the code of schema ``version`` (< 7) left it: its tables (one string trace id per
    step row, the traces primary key), holding the rows of ``source`` (a current store)."""
    with monkeypatch.context() as m:
        m.setattr(store_mod, "MIGRATIONS", {v: s for v, s in store_mod.MIGRATIONS.items() if v <= version})
        m.setattr(store_mod, "SCHEMA_VERSION", version)
        m.setattr(store_mod, "DERIVED", [d for d in store_mod.DERIVED if "VIEW steps " not in d])
        Store(path).close()
    src = source.cursor()
    con = duckdb.connect(str(path))
    for table, cols in (("datasets", "*"), ("problems", "*"), ("traces", _OLD_TRACE_COLUMNS), ("steps", "*")):
        rows = src.execute(f"SELECT {cols} FROM {table} ORDER BY ALL").fetchall()
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    con.close()


def test_scored_datasets_backfilled_by_the_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v5.duckdb"
    with Store(tmp_path / "now.duckdb") as now:
        rep = import_file(now, PB)
        _old_store(path, 5, now, monkeypatch)  # a store written by the code before the summary existed
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO scorers (scorer_id, name, recipe, created_at) VALUES ('prm', 'prm', 'test', now())")
    con.execute("INSERT INTO step_scores VALUES ('prm', ?, 0, 0.5, NULL, NULL)", [f"{rep.dataset_id}-1"])
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)
    con.close()
    with pytest.raises(PrmViewerError, match="open it once read-write"):  # read-only: cannot migrate
        Store(path, read_only=True)
    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION
    assert _scored(s) == {("prm", rep.dataset_id, "step")}
    s.close()
    Store(path, read_only=True).close()  # up to date now


def test_migration_7_keys_steps_by_integer_and_keeps_every_row(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A v6 store (string trace id per step row, traces primary key) migrates to step_rows keyed
    by an integer trace key; the steps view, the traces and every read equal the v6 rows; writes
    (import, delete) work on the migrated store."""
    path = tmp_path / "v6.duckdb"
    with Store(tmp_path / "now.duckdb") as now:
        a = import_file(now, PB)
        b = import_file(now, PB, options={"split": "custom"})
        _old_store(path, 6, now, monkeypatch)
    con = duckdb.connect(str(path))
    old_traces = con.execute(f"SELECT {_OLD_TRACE_COLUMNS} FROM traces ORDER BY ALL").fetchall()
    old_steps = con.execute("SELECT * FROM steps ORDER BY ALL").fetchall()
    old_problems = con.execute("SELECT * FROM problems ORDER BY ALL").fetchall()
    assert len(old_steps) == a.steps + b.steps > 0 and con.execute(  # the v6 layout really was there
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name IN ('traces', 'problems') "
        "AND constraint_type = 'PRIMARY KEY'").fetchone() == (2,) and old_problems
    con.close()
    s = Store(path)
    cur = s.cursor()
    assert s.schema_version() == SCHEMA_VERSION == 7
    assert cur.execute(f"SELECT {_OLD_TRACE_COLUMNS} FROM traces ORDER BY ALL").fetchall() == old_traces
    assert cur.execute("SELECT * FROM steps ORDER BY ALL").fetchall() == old_steps
    # one key per trace, unique; the step rows carry it (no trace-id string), in key order
    keys = cur.execute("SELECT trace_key FROM traces ORDER BY dataset_id, ordinal").fetchall()
    assert [k for (k,) in keys] == list(range(len(old_traces)))
    assert {c for (c,) in cur.execute("SELECT column_name FROM (DESCRIBE step_rows)").fetchall()} == {
        "trace_key", "step_idx", "text", "gold_label"}
    assert cur.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name IN ('traces', 'problems') "
                       "AND constraint_type = 'PRIMARY KEY'").fetchone() == (0,)
    assert cur.execute("SELECT * FROM problems ORDER BY ALL").fetchall() == old_problems
    # one trace's reads (by id and, redundantly, its ordinal) find it in either dataset
    from prm_viewer import queries

    for did in (a.dataset_id, b.dataset_id):
        head = queries.trace_header(s, f"{did}-1")
        assert (head["trace_id"], head["dataset_id"], head["ordinal"]) == (f"{did}-1", did, 1) and "trace_key" not in head
        assert queries.label_trace_info(s, f"{did}-1")["dataset_id"] == did
        assert [r[1:3] for r in old_steps if r[0] == f"{did}-1"] == list(
            queries.trace_steps(s, f"{did}-1")[["step_idx", "text"]].itertuples(index=False, name=None))
    # writes on the migrated store: a new dataset's keys start above the old ones; delete removes its rows
    c = import_file(s, PB, options={"split": "third"})
    new_keys = [k for (k,) in cur.execute("SELECT trace_key FROM traces WHERE dataset_id = ? ORDER BY ordinal",
                                          [c.dataset_id]).fetchall()]
    assert new_keys == list(range(len(old_traces), len(old_traces) + c.traces))
    assert cur.execute("SELECT count(*) FROM steps WHERE trace_id LIKE ?", [f"{c.dataset_id}-%"]).fetchone() == (c.steps,)
    s.delete_dataset(c.name)
    s.delete_dataset(b.name)
    assert cur.execute("SELECT count(*) FROM step_rows").fetchone() == (a.steps,)
    assert cur.execute("SELECT DISTINCT t.dataset_id FROM step_rows s JOIN traces t USING (trace_key)").fetchall() == [
        (a.dataset_id,)]
    s.close()

