"""The DuckDB store: schema, migrations and every write.

One process owns the database file (DuckDB allows one read-write process). That process is the
app, or the CLI when the app is not running; scoring workers never open it (they exchange Parquet
files, see ``jobfolder.py``). Within the owner, :class:`Store` holds one connection; reads go
through ``cursor()`` (one per thread) and writes through ``transaction()``, serialised by a lock
and re-entrant: every write method joins the calling thread's transaction when there is one, so
an import (many writes) is one transaction. See ``base.py`` for the rules.

- ``schema.py``: tables (forward migrations) and derived objects (the predicted-first-error and
  trace-aggregate macros, the ``trace_aggregates`` view), re-created at every read-write open.
- ``keys.py``: deterministic ids (dataset, trace, problem).
- ``base.py``: opening, migrating, cursors, transactions.
- here: the writes, and the lookups that writers and callers need (resolve a name, a unique name).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb

from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.store.base import StoreBase, TransactionAborted, now, trace_key_base
from prm_viewer.store.keys import dataset_key, file_sha256, problem_key
from prm_viewer.store.labels import BadInput, LabelsMixin
from prm_viewer.store.schema import DERIVED, MIGRATIONS, SCHEMA_VERSION

__all__ = ["DERIVED", "MIGRATIONS", "SCHEMA_VERSION", "Store", "TransactionAborted", "dataset_key", "file_sha256",
           "open_store", "problem_key"]
__all__ += ["BadInput", "LabelsMixin"]

Cursor = duckdb.DuckDBPyConnection


def _row(cur: Cursor, row: tuple[Any, ...] | None) -> dict[str, Any] | None:
    return dict(zip([d[0] for d in cur.description], row)) if row is not None else None


def _unique(taken: set[str], wanted: str) -> str:
    name, k = wanted, 2
    while name in taken:
        name, k = f"{wanted}-{k}", k + 1
    return name


class Store(LabelsMixin, StoreBase):
    """The one owner of a DuckDB file."""

    def _one(self, sql: str, params: Sequence[Any]) -> dict[str, Any] | None:
        cur = self.cursor()
        return _row(cur, cur.execute(sql, list(params)).fetchone())

    # ------------------------------------------------------------------ datasets

    def is_empty(self) -> bool:
        row = self.cursor().execute("SELECT count(*) FROM datasets").fetchone()
        return row is not None and row[0] == 0

    def dataset_by_hash(self, dataset_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM datasets WHERE dataset_id = ?", [dataset_id])

    def resolve_dataset(self, ref: str) -> dict[str, Any]:
        """A dataset by name or id, or NotFound listing the names."""
        found = self._one("SELECT * FROM datasets WHERE name = ? OR dataset_id = ?", [ref, ref])
        if found is None:
            names = [r[0] for r in self.cursor().execute("SELECT name FROM datasets ORDER BY name").fetchall()]
            raise NotFound(f"no dataset '{ref}'; datasets: {', '.join(names) or '(none)'}")
        return found

    def unique_dataset_name(self, wanted: str) -> str:
        return _unique({r[0] for r in self.cursor().execute("SELECT name FROM datasets").fetchall()}, wanted)

    def insert_dataset(self, row: Mapping[str, Any]) -> None:
        """Add a dataset row (in the caller's import transaction, or in its own)."""
        with self.transaction() as cur:
            cur.execute(
                """INSERT INTO datasets (dataset_id, name, format, source_path, file_hash, options, tags,
                                         synthetic, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    row["dataset_id"], row["name"], row["format"], row.get("source_path"), row["file_hash"],
                    json.dumps(row.get("options") or {}, sort_keys=True, default=str),
                    json.dumps(row.get("tags") or {}, sort_keys=True),
                    bool(row.get("synthetic", False)), now(),
                ],
            )

    def append_batch(self, dataset_id: str, traces: Any, steps: Any) -> None:
        """Insert one batch of traces and steps (pyarrow Tables), normally inside an import
        transaction.

        ``traces`` has the TRACE_COLUMNS of ``ingest.py`` (with ``ordinal``); ``steps`` has
        ``ordinal, step_idx, text, gold_label``. Ids are formed here, in SQL, not per row in Python.
        """
        with self.transaction() as cur:
            cur.register("_batch_traces", traces)
            cur.register("_batch_steps", steps)
            try:
                cur.execute(
                    """INSERT INTO problems
                       SELECT DISTINCT ON (problem_id) problem_id, problem, reference_answer
                       FROM _batch_traces
                       WHERE problem_id NOT IN (SELECT problem_id FROM problems)"""
                )
                # A reference answer given later fills one that was missing.
                cur.execute(
                    """UPDATE problems SET reference_answer = b.reference_answer
                       FROM (SELECT problem_id, any_value(reference_answer) AS reference_answer
                             FROM _batch_traces WHERE reference_answer IS NOT NULL GROUP BY problem_id) b
                       WHERE problems.problem_id = b.problem_id AND problems.reference_answer IS NULL"""
                )
                base = trace_key_base(cur, dataset_id)
                cur.execute(
                    """INSERT INTO traces
                       SELECT ? || '-' || ordinal, ?, ordinal, source_line, source_id, problem_id,
                              source_problem_id, generator, final_answer, final_answer_correct,
                              gold_first_error, error_type, category, split, n_steps, has_step_labels, metadata,
                              ? + ordinal
                       FROM _batch_traces""",
                    [dataset_id, dataset_id, base],
                )
                cur.execute(
                    "INSERT INTO step_rows SELECT ? + ordinal, step_idx, text, gold_label FROM _batch_steps",
                    [base],
                )
            finally:
                cur.unregister("_batch_traces")
                cur.unregister("_batch_steps")

    def finish_dataset(self, dataset_id: str) -> tuple[int, int, int]:
        """Store the dataset's counts; returns (traces, steps, labelled traces)."""
        with self.transaction() as cur:
            row = cur.execute(
                """SELECT count(*), coalesce(sum(n_steps), 0),
                          count(*) FILTER (WHERE gold_first_error IS NOT NULL OR has_step_labels)
                   FROM traces WHERE dataset_id = ?""",
                [dataset_id],
            ).fetchone()
            assert row is not None
            n_traces, n_steps, n_labelled = row
            cur.execute(
                "UPDATE datasets SET n_traces = ?, n_steps = ?, n_labelled = ? WHERE dataset_id = ?",
                [n_traces, n_steps, n_labelled, dataset_id],
            )
        return int(n_traces), int(n_steps), int(n_labelled)

    def set_tags(self, ref: str, tags: dict[str, str]) -> None:
        ds = self.resolve_dataset(ref)
        with self.transaction() as cur:
            cur.execute("UPDATE datasets SET tags = ? WHERE dataset_id = ?", [json.dumps(tags, sort_keys=True), ds["dataset_id"]])

    def rename_dataset(self, ref: str, new_name: str) -> None:
        ds = self.resolve_dataset(ref)
        if not new_name.strip():
            raise PrmViewerError("a dataset name cannot be empty")
        with self.transaction() as cur:
            if cur.execute("SELECT 1 FROM datasets WHERE name = ? AND dataset_id <> ?", [new_name, ds["dataset_id"]]).fetchone():
                raise PrmViewerError(f"a dataset named '{new_name}' already exists")
            cur.execute("UPDATE datasets SET name = ? WHERE dataset_id = ?", [new_name, ds["dataset_id"]])

    def delete_dataset(self, ref: str) -> dict[str, Any]:
        """Remove a dataset with its traces, steps, scores and jobs; orphaned problems too.

        The jobs' folders hold copies of the trace text (``traces.parquet``), so they are deleted
        too once the deletion is committed; the returned row lists them under ``job_dirs_removed``
        and any that could not be removed (or, inside a caller's transaction, were not yet) under
        ``job_dirs_left``, so the caller can say where they are."""
        ds = self.resolve_dataset(ref)
        did = ds["dataset_id"]
        outer = self.in_transaction()
        with self.transaction() as cur:
            job_dirs = [r[0] for r in cur.execute(
                "SELECT job_dir FROM jobs WHERE dataset_id = ? AND job_dir IS NOT NULL", [did]).fetchall()]
            cur.execute("DELETE FROM step_scores WHERE trace_id IN (SELECT trace_id FROM traces WHERE dataset_id = ?)", [did])
            cur.execute("DELETE FROM trace_scores WHERE trace_id IN (SELECT trace_id FROM traces WHERE dataset_id = ?)", [did])
            cur.execute("DELETE FROM scored_datasets WHERE dataset_id = ?", [did])
            cur.execute("DELETE FROM step_rows WHERE trace_key IN (SELECT trace_key FROM traces WHERE dataset_id = ?)",
                        [did])
            for table in ("step_labels", "label_queue_items", "label_queue_done"):  # annotations of its traces
                cur.execute(f"DELETE FROM {table} WHERE trace_id IN (SELECT trace_id FROM traces WHERE dataset_id = ?)", [did])
            cur.execute("DELETE FROM jobs WHERE dataset_id = ?", [did])
            cur.execute("DELETE FROM traces WHERE dataset_id = ?", [did])
            cur.execute("DELETE FROM problems WHERE problem_id NOT IN (SELECT DISTINCT problem_id FROM traces)")
            cur.execute("DELETE FROM datasets WHERE dataset_id = ?", [did])
            cur.execute("DELETE FROM import_reports WHERE dataset_id = ?", [did])
            # Imported scorers with no scores left are removed with their data.
            cur.execute(
                """DELETE FROM scorers WHERE recipe = 'imported'
                   AND scorer_id NOT IN (SELECT DISTINCT scorer_id FROM step_scores)"""
            )
        removed: list[str] = []
        left: list[str] = []
        for job_dir in job_dirs:
            if not outer:
                shutil.rmtree(job_dir, ignore_errors=True)
            (left if Path(job_dir).exists() else removed).append(str(job_dir))
        return {**ds, "job_dirs_removed": removed, "job_dirs_left": left}

    # ------------------------------------------------------------------ scorers and scores

    def scorer_by_id(self, scorer_id: str) -> dict[str, Any] | None:
        """The ``scorers`` row with this id, or None."""
        return self._one("SELECT * FROM scorers WHERE scorer_id = ?", [scorer_id])

    def scorer_by_name(self, name: str) -> dict[str, Any] | None:
        """The ``scorers`` row with this name, or None."""
        return self._one("SELECT * FROM scorers WHERE name = ?", [name])

    def unique_scorer_name(self, wanted: str) -> str:
        """``wanted``, or ``wanted-2``, ``wanted-3``... whichever no scorer has yet."""
        return _unique({r[0] for r in self.cursor().execute("SELECT name FROM scorers").fetchall()}, wanted)

    def upsert_scorer(self, row: Mapping[str, Any]) -> str:
        """Insert a scorer if its id is new; returns the id. Keys as in the ``scorers`` table."""
        with self.transaction() as c:
            if c.execute("SELECT 1 FROM scorers WHERE scorer_id = ?", [row["scorer_id"]]).fetchone():
                return str(row["scorer_id"])
            clash = c.execute("SELECT scorer_id FROM scorers WHERE name = ?", [row["name"]]).fetchone()
            if clash:
                raise PrmViewerError(f"a different scorer is already named '{row['name']}'; choose another name")
            c.execute(
                """INSERT INTO scorers (scorer_id, name, recipe, backend, checkpoint, revision, options,
                                        threshold, provenance, synthetic, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    row["scorer_id"], row["name"], row["recipe"], row.get("backend"), row.get("checkpoint"),
                    row.get("revision"), json.dumps(row.get("options") or {}, sort_keys=True, default=str),
                    float(row.get("threshold", 0.5)), json.dumps(row.get("provenance") or {}, sort_keys=True, default=str),
                    bool(row.get("synthetic", False)), now(),
                ],
            )
            return str(row["scorer_id"])

    def set_scorer_options(self, scorer_id: str, options: Mapping[str, Any]) -> None:
        """Replace a scorer's stored spec (``options``), e.g. a new batch token budget, which does
        not change scores and so is not part of the scorer's identity."""
        with self.transaction() as cur:
            cur.execute("UPDATE scorers SET options = ? WHERE scorer_id = ?",
                        [json.dumps(dict(options), sort_keys=True, default=str), scorer_id])

    def resolve_scorer(self, ref: str) -> dict[str, Any]:
        """A scorer by name or id, or NotFound listing the names."""
        found = self._one("SELECT * FROM scorers WHERE name = ? OR scorer_id = ?", [ref, ref])
        if found is None:
            names = [r[0] for r in self.cursor().execute("SELECT name FROM scorers ORDER BY name").fetchall()]
            raise NotFound(f"no scorer '{ref}'; scorers: {', '.join(names) or '(none)'}")
        return found

    def insert_step_scores(self, table: Any) -> int:
        """Idempotently add step scores from an Arrow table / DataFrame with the columns of
        ``jobfolder.STEP_RESULT_SCHEMA`` (``scorer_id, trace_id, step_idx, score, raw, note``; others
        are ignored). Existing keys are left unchanged, so re-ingesting a shard adds nothing twice.
        Returns the number of new rows."""
        return self._insert_new(
            "step_scores", table,
            """SELECT DISTINCT ON (scorer_id, trace_id, step_idx)
                      scorer_id, trace_id, CAST(step_idx AS INTEGER), CAST(score AS DOUBLE),
                      CAST(raw AS DOUBLE), CAST(note AS VARCHAR)""",
            kind="step")

    def insert_trace_scores(self, table: Any) -> int:
        """Idempotently add trace-level predictions (critics): columns ``scorer_id, trace_id,
        predicted_first_error, verdict, raw_output``."""
        return self._insert_new(
            "trace_scores", table,
            """SELECT DISTINCT ON (scorer_id, trace_id) scorer_id, trace_id,
                      CAST(predicted_first_error AS INTEGER), CAST(verdict AS VARCHAR),
                      CAST(raw_output AS VARCHAR)""",
            kind="trace")

    def _insert_new(self, target: str, table: Any, select: str, kind: Literal["step", "trace"]) -> int:
        """``INSERT INTO target <select> FROM table ON CONFLICT DO NOTHING`` and the
        (scorer, dataset, kind) pairs it touched into ``scored_datasets``; the number of new rows.
        Two open transactions that both add the same new pair would collide at COMMIT (DuckDB's
        optimistic concurrency); score writes all go through the store's one writer, so they
        do not overlap."""
        with self.transaction() as c:
            name = f"_new_{target}"
            c.register(name, table)
            try:
                before = c.execute(f"SELECT count(*) FROM {target}").fetchone()
                c.execute(f"INSERT INTO {target} {select} FROM {name} ON CONFLICT DO NOTHING")
                after = c.execute(f"SELECT count(*) FROM {target}").fetchone()
                # A trace id is always ``dataset_id || '-' || ordinal`` (formed by the store), so the
                # dataset comes from the id and the few datasets rows: joining the traces instead
                # scans every trace id per shard (144 ms a 1,000-trace shard at 2M traces).
                c.execute(
                    f"""INSERT INTO scored_datasets
                        SELECT DISTINCT n.scorer_id, d.dataset_id, '{kind}'
                        FROM (SELECT DISTINCT scorer_id, trace_id FROM {name}) n
                        JOIN datasets d ON starts_with(n.trace_id, d.dataset_id || '-')
                        ON CONFLICT DO NOTHING""")
            finally:
                c.unregister(name)
        assert before is not None and after is not None
        return int(after[0] - before[0])

    def delete_scorer(self, ref: str) -> None:
        sc = self.resolve_scorer(ref)
        with self.transaction() as cur:
            for table in ("step_scores", "trace_scores", "scored_datasets", "jobs"):
                cur.execute(f"DELETE FROM {table} WHERE scorer_id = ?", [sc["scorer_id"]])
            cur.execute("DELETE FROM scorers WHERE scorer_id = ?", [sc["scorer_id"]])

    # ---- jobs (scoring engine) ----
    # A job is one scorer x one dataset; workers never open this file, the runner in
    # ``prm_viewer/jobs.py`` records what they report here.

    _JOB_FIELDS = frozenset({"status", "job_dir", "traces_total", "traces_done", "tokens_per_s", "eta_s", "pid",
                             "error", "started_at", "finished_at", "device", "dtype"})

    def insert_job(self, row: Mapping[str, Any]) -> None:
        """Add a job row (status ``queued`` unless given)."""
        with self.transaction() as cur:
            cur.execute(
                """INSERT INTO jobs (job_id, scorer_id, dataset_id, status, job_dir, traces_total, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [row["job_id"], row["scorer_id"], row["dataset_id"], row.get("status", "queued"), row.get("job_dir"),
                 row.get("traces_total"), now()],
            )

    def update_job(self, job_id: str, ingest: Any = None, **fields: Any) -> int:
        """Set job fields (``started_at=True`` / ``finished_at=True`` mean now; ``None`` clears) and,
        in the same transaction, idempotently add the step scores in ``ingest`` (an Arrow table as
        for :meth:`insert_step_scores`). Returns the number of new score rows."""
        unknown = set(fields) - self._JOB_FIELDS
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        values = {k: (now() if v is True and k.endswith("_at") else v) for k, v in fields.items()}
        with self.transaction() as cur:
            added = self.insert_step_scores(ingest) if ingest is not None and len(ingest) else 0
            if values:
                sets = ", ".join(f"{k} = ?" for k in values)
                cur.execute(f"UPDATE jobs SET {sets} WHERE job_id = ?", [*values.values(), job_id])
        return added

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM jobs WHERE job_id = ?", [job_id])

    def jobs_with_status(self, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Jobs in any of ``statuses``, oldest first."""
        cur = self.cursor()
        rows = cur.execute(
            "SELECT * FROM jobs WHERE list_contains(?, status) ORDER BY created_at, job_id", [list(statuses)]
        ).fetchall()
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in rows]

    # ---- import reports (ingest.py) ----

    def save_import_report(self, dataset_id: str, report: Mapping[str, Any]) -> None:
        """Store what an import did (``ImportReport.to_json()``) with its dataset, in the import's
        transaction; a report left by a deleted dataset of the same id is replaced."""
        with self.transaction() as cur:
            cur.execute("DELETE FROM import_reports WHERE dataset_id = ?", [dataset_id])
            cur.execute("INSERT INTO import_reports VALUES (?, ?, ?)",
                        [dataset_id, json.dumps(dict(report), default=str), now()])

    # ---- generation (prm_viewer/generation) ----
    # A generation job is a ``jobs`` row of kind "generate": no scorer (``scorer_id`` is empty),
    # ``dataset_id`` = the dataset it will write, ``settings`` = its JSON settings.

    def insert_generation_job(self, row: Mapping[str, Any]) -> None:
        """Add a queued generation job: ``job_id, dataset_id, job_dir, traces_total, settings``."""
        with self.transaction() as cur:
            cur.execute(
                """INSERT INTO jobs (job_id, scorer_id, dataset_id, status, job_dir, traces_total, created_at, kind, settings)
                   VALUES (?, '', ?, 'queued', ?, ?, ?, 'generate', ?)""",
                [row["job_id"], row["dataset_id"], row.get("job_dir"), row.get("traces_total"), now(),
                 json.dumps(row.get("settings") or {}, sort_keys=True, default=str)])

    def set_job_settings(self, job_id: str, settings: Mapping[str, Any], dataset_id: str | None = None) -> None:
        """Replace a generation job's settings (e.g. its split rule before the dataset is written)
        and, when given, the id of the dataset it will write."""
        with self.transaction() as cur:
            cur.execute("UPDATE jobs SET settings = ?, dataset_id = coalesce(?, dataset_id) WHERE job_id = ?",
                        [json.dumps(dict(settings), sort_keys=True, default=str), dataset_id, job_id])

    def add_generated_dataset(self, row: Mapping[str, Any], traces: Any, steps: Any, job_id: str | None = None,
                              **job_fields: Any) -> tuple[int, int, int]:
        """Write a generated dataset (its row as for :meth:`insert_dataset`, Arrow tables as for
        :meth:`append_batch`) and, when ``job_id`` is given, point the job at it and set
        ``job_fields``: one transaction. Returns (traces, steps, labelled traces)."""
        with self.transaction() as cur:
            self.insert_dataset(row)
            self.append_batch(row["dataset_id"], traces, steps)
            counts = self.finish_dataset(row["dataset_id"])
            if job_id is not None:
                cur.execute("UPDATE jobs SET dataset_id = ? WHERE job_id = ?", [row["dataset_id"], job_id])
                if job_fields:
                    self.update_job(job_id, **job_fields)
        return counts

    def set_answer_correct(self, table: Any) -> int:
        """Fill ``final_answer_correct`` (and ``final_answer`` where it was missing) from an Arrow
        table ``trace_id, final_answer, final_answer_correct``; only traces whose correctness is
        still unknown change. Returns the number of traces changed."""
        with self.transaction() as cur:
            cur.register("_answer_checks", table)
            try:
                before = cur.execute("SELECT count(*) FROM traces WHERE final_answer_correct IS NULL").fetchone()
                cur.execute(
                    """UPDATE traces SET final_answer_correct = c.final_answer_correct,
                              final_answer = coalesce(traces.final_answer, c.final_answer)
                       FROM _answer_checks c
                       WHERE traces.trace_id = c.trace_id AND traces.final_answer_correct IS NULL
                         AND c.final_answer_correct IS NOT NULL""")
                after = cur.execute("SELECT count(*) FROM traces WHERE final_answer_correct IS NULL").fetchone()
            finally:
                cur.unregister("_answer_checks")
        assert before is not None and after is not None
        return int(before[0] - after[0])


def open_store(path: str | Path | None = None, read_only: bool = False) -> Store:
    """Open the store at ``path`` or at the configured location."""
    from prm_viewer import settings

    return Store(Path(path) if path else settings.db_path(), read_only=read_only)
