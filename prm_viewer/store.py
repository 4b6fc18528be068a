"""The DuckDB store: schema, migrations and every write.

One process owns the database file (DuckDB allows one read-write process). That process is the
app, or the CLI when the app is not running; scoring workers never open it (they exchange Parquet
files, see ``jobs.py``). Within the owner, :class:`Store` holds one connection; reads go through
``cursor()`` (one per thread) and writes through ``transaction()``, serialised by a lock.

Ids are deterministic: a dataset's id is a hash of the file's bytes, its format and the import
options; a trace's id is ``<dataset_id>-<ordinal>``; a problem's id is a hash of its normalised
text, so the same problem imported from two runs is one problem (that is how runs are paired).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from prm_viewer.errors import NotFound, PrmViewerError, StoreBusy

SCHEMA_VERSION = 1

# Forward migrations: MIGRATIONS[v] takes a store at version v-1 to version v. Never edit a
# released entry; append a new one.
MIGRATIONS: dict[int, Sequence[str]] = {
    1: (
        """CREATE TABLE datasets (
            dataset_id   VARCHAR PRIMARY KEY,
            name         VARCHAR NOT NULL UNIQUE,
            format       VARCHAR NOT NULL,
            source_path  VARCHAR,
            file_hash    VARCHAR NOT NULL,
            options      VARCHAR,          -- JSON: the import options (mapping, split rule, ...)
            tags         VARCHAR,          -- JSON object, e.g. {"process_reward": "with"}
            synthetic    BOOLEAN NOT NULL DEFAULT FALSE,
            n_traces     INTEGER NOT NULL DEFAULT 0,
            n_steps      INTEGER NOT NULL DEFAULT 0,
            n_labelled   INTEGER NOT NULL DEFAULT 0,
            created_at   TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE problems (
            problem_id        VARCHAR PRIMARY KEY,   -- hash of the normalised problem text
            problem           VARCHAR NOT NULL,
            reference_answer  VARCHAR
        )""",
        """CREATE TABLE traces (
            trace_id             VARCHAR PRIMARY KEY,  -- <dataset_id>-<ordinal>
            dataset_id           VARCHAR NOT NULL,
            ordinal              INTEGER NOT NULL,     -- position in the source file
            source_line          INTEGER,              -- line/row in the source file
            source_id            VARCHAR,              -- the id as given in the source file
            problem_id           VARCHAR NOT NULL,
            source_problem_id    VARCHAR,
            generator            VARCHAR,
            final_answer         VARCHAR,
            final_answer_correct BOOLEAN,
            gold_first_error     INTEGER,              -- 0-based, -1 none, NULL unknown
            error_type           VARCHAR,
            category             VARCHAR,
            split                VARCHAR,
            n_steps              INTEGER NOT NULL,
            has_step_labels      BOOLEAN NOT NULL DEFAULT FALSE,
            metadata             VARCHAR               -- JSON
        )""",
        """CREATE TABLE steps (
            trace_id    VARCHAR NOT NULL,
            step_idx    INTEGER NOT NULL,              -- 0-based
            text        VARCHAR NOT NULL,
            gold_label  TINYINT                        -- +1 / 0 / -1 / NULL
        )""",
        """CREATE TABLE scorers (
            scorer_id    VARCHAR PRIMARY KEY,
            name         VARCHAR NOT NULL UNIQUE,
            recipe       VARCHAR NOT NULL,             -- qwen-prm, math-shepherd, ..., imported
            backend      VARCHAR,
            checkpoint   VARCHAR,                      -- local path or hub id
            revision     VARCHAR,                      -- commit / content hash of the checkpoint
            options      VARCHAR,                      -- JSON: recipe + backend options
            threshold    DOUBLE NOT NULL DEFAULT 0.5,
            provenance   VARCHAR,                      -- JSON: package versions, dtype, device...
            synthetic    BOOLEAN NOT NULL DEFAULT FALSE,
            created_at   TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE jobs (
            job_id          VARCHAR PRIMARY KEY,
            scorer_id       VARCHAR NOT NULL,
            dataset_id      VARCHAR NOT NULL,
            status          VARCHAR NOT NULL,          -- queued/running/done/failed/cancelled
            job_dir         VARCHAR,
            traces_total    INTEGER,
            traces_done     INTEGER NOT NULL DEFAULT 0,
            tokens_per_s    DOUBLE,
            eta_s           DOUBLE,
            pid             INTEGER,
            error           VARCHAR,
            created_at      TIMESTAMP NOT NULL,
            started_at      TIMESTAMP,
            finished_at     TIMESTAMP
        )""",
        """CREATE TABLE step_scores (
            scorer_id  VARCHAR NOT NULL,
            trace_id   VARCHAR NOT NULL,
            step_idx   INTEGER NOT NULL,
            score      DOUBLE,                         -- P(step correct) in [0,1]; NULL = not scored
            raw        DOUBLE,                         -- the recipe's raw value (logit, q, ...)
            note       VARCHAR,                        -- why a step was not scored
            PRIMARY KEY (scorer_id, trace_id, step_idx)
        )""",
        """CREATE TABLE trace_scores (
            scorer_id              VARCHAR NOT NULL,
            trace_id               VARCHAR NOT NULL,
            predicted_first_error  INTEGER,            -- critics: earliest wrong step, -1 none
            verdict                VARCHAR,            -- e.g. CORRECT / INCORRECT / unparsed
            raw_output             VARCHAR,            -- the judge's text, kept verbatim
            PRIMARY KEY (scorer_id, trace_id)
        )""",
        # Trace-level aggregates of step scores per scorer; predicted first error = first step
        # scored below the scorer's threshold, else -1.
        """CREATE VIEW trace_aggregates AS
        SELECT s.scorer_id, s.trace_id,
               min(s.score)                        AS score_min,
               product(s.score)                    AS score_product,
               arg_max(s.score, s.step_idx)        AS score_last,
               avg(s.score)                        AS score_mean,
               count(s.score)                      AS n_scored,
               coalesce(min(s.step_idx) FILTER (WHERE s.score < sc.threshold), -1) AS predicted_first_error
        FROM step_scores s JOIN scorers sc USING (scorer_id)
        WHERE s.score IS NOT NULL
        GROUP BY s.scorer_id, s.trace_id""",
    ),
}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def problem_key(text: str) -> str:
    """Deterministic problem id: hash of the whitespace-normalised text."""
    # str.split() splits on exactly the characters re's \s matches, so this equals
    # re.sub(r"\s+", " ", text).strip(), at a third of the cost (it runs once per imported trace).
    norm = " ".join(text.split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def dataset_key(file_hash: str, fmt: str, options: dict[str, Any]) -> str:
    """Deterministic dataset id from the content, the format and the import options."""
    blob = json.dumps({"file": file_hash, "format": fmt, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Store:
    """The one owner of a DuckDB file."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" in msg.lower():
                pid = re.search(r"PID (\d+)", msg)
                who = f" (process {pid.group(1)})" if pid else ""
                raise StoreBusy(
                    f"the store {self.path} is open in another process{who}, probably the app; "
                    "stop it or do this from the app (only one process may own the store)"
                ) from None
            raise PrmViewerError(f"cannot open the store {self.path}: {msg.splitlines()[0]}") from None
        self._lock = threading.RLock()
        self._local = threading.local()
        if not read_only:
            self._migrate()

    # ------------------------------------------------------------------ connection plumbing

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for reads in the calling thread (DuckDB connections are not thread-safe)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self.con.cursor()
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing write: commits on success, rolls back on any exception."""
        with self._lock:
            cur = self.con.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def _migrate(self) -> None:
        with self._lock:
            self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise PrmViewerError(
                    f"the store {self.path} has schema version {current}, newer than this prm_viewer "
                    f"({SCHEMA_VERSION}); upgrade prm_viewer"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self.con.execute("BEGIN TRANSACTION")
                try:
                    for sql in MIGRATIONS[version]:
                        self.con.execute(sql)
                    self.con.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)]
                    )
                    self.con.execute("INSERT OR IGNORE INTO meta VALUES ('data_version', '0')")
                    self.con.execute("COMMIT")
                except BaseException:
                    self.con.execute("ROLLBACK")
                    raise

    def schema_version(self) -> int:
        row = self.cursor().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def data_version(self) -> int:
        """Increases with every committed write: a cache key for readers."""
        row = self.cursor().execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ datasets

    def is_empty(self) -> bool:
        return self.cursor().execute("SELECT count(*) FROM datasets").fetchone()[0] == 0

    def dataset_by_hash(self, dataset_id: str) -> dict[str, Any] | None:
        cur = self.cursor()
        row = cur.execute("SELECT * FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row))

    def resolve_dataset(self, ref: str) -> dict[str, Any]:
        """A dataset by name or id, or NotFound listing the names."""
        cur = self.cursor()
        row = cur.execute("SELECT * FROM datasets WHERE name = ? OR dataset_id = ?", [ref, ref]).fetchone()
        if row is None:
            names = [r[0] for r in cur.execute("SELECT name FROM datasets ORDER BY name").fetchall()]
            raise NotFound(f"no dataset '{ref}'; datasets: {', '.join(names) or '(none)'}")
        return dict(zip([d[0] for d in cur.description], row))

    def unique_dataset_name(self, wanted: str) -> str:
        cur = self.cursor()
        taken = {r[0] for r in cur.execute("SELECT name FROM datasets").fetchall()}
        name, k = wanted, 2
        while name in taken:
            name, k = f"{wanted}-{k}", k + 1
        return name

    def insert_dataset(self, cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
        """Add a dataset row inside an import transaction."""
        cur.execute(
            """INSERT INTO datasets (dataset_id, name, format, source_path, file_hash, options, tags,
                                     synthetic, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                row["dataset_id"], row["name"], row["format"], row.get("source_path"), row["file_hash"],
                json.dumps(row.get("options") or {}, sort_keys=True, default=str),
                json.dumps(row.get("tags") or {}, sort_keys=True),
                bool(row.get("synthetic", False)), _now(),
            ],
        )

    def append_batch(self, cur: duckdb.DuckDBPyConnection, dataset_id: str, traces: Any, steps: Any) -> None:
        """Insert one batch of traces and steps (pyarrow Tables) inside an import transaction.

        ``traces`` has the TRACE_COLUMNS of ``ingest.py`` (with ``ordinal``); ``steps`` has
        ``ordinal, step_idx, text, gold_label``. Ids are formed here, in SQL, not per row in Python.
        """
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
            cur.execute(
                """INSERT INTO traces
                   SELECT ? || '-' || ordinal, ?, ordinal, source_line, source_id, problem_id,
                          source_problem_id, generator, final_answer, final_answer_correct,
                          gold_first_error, error_type, category, split, n_steps, has_step_labels, metadata
                   FROM _batch_traces""",
                [dataset_id, dataset_id],
            )
            cur.execute(
                "INSERT INTO steps SELECT ? || '-' || ordinal, step_idx, text, gold_label FROM _batch_steps",
                [dataset_id],
            )
        finally:
            cur.unregister("_batch_traces")
            cur.unregister("_batch_steps")

    def finish_dataset(self, cur: duckdb.DuckDBPyConnection, dataset_id: str) -> tuple[int, int, int]:
        """Store the dataset's counts; returns (traces, steps, labelled traces)."""
        n_traces, n_steps, n_labelled = cur.execute(
            """SELECT count(*), coalesce(sum(n_steps), 0),
                      count(*) FILTER (WHERE gold_first_error IS NOT NULL OR has_step_labels)
               FROM traces WHERE dataset_id = ?""",
            [dataset_id],
        ).fetchone()
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
        """Remove a dataset with its traces, steps, scores and jobs; orphaned problems too."""
        ds = self.resolve_dataset(ref)
        did = ds["dataset_id"]
        with self.transaction() as cur:
            cur.execute("DELETE FROM step_scores WHERE trace_id IN (SELECT trace_id FROM traces WHERE dataset_id = ?)", [did])
            cur.execute("DELETE FROM trace_scores WHERE trace_id IN (SELECT trace_id FROM traces WHERE dataset_id = ?)", [did])
            cur.execute("DELETE FROM steps WHERE trace_id IN (SELECT trace_id FROM traces WHERE dataset_id = ?)", [did])
            cur.execute("DELETE FROM jobs WHERE dataset_id = ?", [did])
            cur.execute("DELETE FROM traces WHERE dataset_id = ?", [did])
            cur.execute("DELETE FROM problems WHERE problem_id NOT IN (SELECT DISTINCT problem_id FROM traces)")
            cur.execute("DELETE FROM datasets WHERE dataset_id = ?", [did])
            # Imported scorers with no scores left are removed with their data.
            cur.execute(
                """DELETE FROM scorers WHERE recipe = 'imported'
                   AND scorer_id NOT IN (SELECT DISTINCT scorer_id FROM step_scores)"""
            )
        return ds

    # ------------------------------------------------------------------ scorers and scores

    def upsert_scorer(self, cur: duckdb.DuckDBPyConnection | None, row: dict[str, Any]) -> str:
        """Insert a scorer if its id is new; returns the id. Keys as in the ``scorers`` table."""
        def run(c: duckdb.DuckDBPyConnection) -> str:
            if c.execute("SELECT 1 FROM scorers WHERE scorer_id = ?", [row["scorer_id"]]).fetchone():
                return row["scorer_id"]
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
                    bool(row.get("synthetic", False)), _now(),
                ],
            )
            return row["scorer_id"]

        if cur is not None:
            return run(cur)
        with self.transaction() as c:
            return run(c)

    def resolve_scorer(self, ref: str) -> dict[str, Any]:
        cur = self.cursor()
        row = cur.execute("SELECT * FROM scorers WHERE name = ? OR scorer_id = ?", [ref, ref]).fetchone()
        if row is None:
            names = [r[0] for r in cur.execute("SELECT name FROM scorers ORDER BY name").fetchall()]
            raise NotFound(f"no scorer '{ref}'; scorers: {', '.join(names) or '(none)'}")
        return dict(zip([d[0] for d in cur.description], row))

    def insert_step_scores(self, cur: duckdb.DuckDBPyConnection | None, table: Any) -> int:
        """Idempotently add step scores from an Arrow table / DataFrame with columns
        ``scorer_id, trace_id, step_idx, score, raw, note``. Existing keys are left unchanged,
        so re-ingesting a shard adds nothing twice. Returns the number of new rows."""
        def run(c: duckdb.DuckDBPyConnection) -> int:
            c.register("_scores", table)
            try:
                before = c.execute("SELECT count(*) FROM step_scores").fetchone()[0]
                c.execute(
                    """INSERT INTO step_scores
                       SELECT DISTINCT ON (scorer_id, trace_id, step_idx)
                              scorer_id, trace_id, CAST(step_idx AS INTEGER), CAST(score AS DOUBLE),
                              CAST(raw AS DOUBLE), CAST(note AS VARCHAR)
                       FROM _scores
                       ON CONFLICT DO NOTHING"""
                )
                return int(c.execute("SELECT count(*) FROM step_scores").fetchone()[0] - before)
            finally:
                c.unregister("_scores")

        if cur is not None:
            return run(cur)
        with self.transaction() as c:
            return run(c)

    def insert_trace_scores(self, cur: duckdb.DuckDBPyConnection | None, table: Any) -> int:
        """Idempotently add trace-level predictions (critics): columns ``scorer_id, trace_id,
        predicted_first_error, verdict, raw_output``."""
        def run(c: duckdb.DuckDBPyConnection) -> int:
            c.register("_tscores", table)
            try:
                before = c.execute("SELECT count(*) FROM trace_scores").fetchone()[0]
                c.execute(
                    """INSERT INTO trace_scores
                       SELECT DISTINCT ON (scorer_id, trace_id) scorer_id, trace_id,
                              CAST(predicted_first_error AS INTEGER), CAST(verdict AS VARCHAR),
                              CAST(raw_output AS VARCHAR)
                       FROM _tscores ON CONFLICT DO NOTHING"""
                )
                return int(c.execute("SELECT count(*) FROM trace_scores").fetchone()[0] - before)
            finally:
                c.unregister("_tscores")

        if cur is not None:
            return run(cur)
        with self.transaction() as c:
            return run(c)

    def delete_scorer(self, ref: str) -> None:
        sc = self.resolve_scorer(ref)
        with self.transaction() as cur:
            for table in ("step_scores", "trace_scores", "jobs"):
                cur.execute(f"DELETE FROM {table} WHERE scorer_id = ?", [sc["scorer_id"]])
            cur.execute("DELETE FROM scorers WHERE scorer_id = ?", [sc["scorer_id"]])

    # ---- jobs (scoring engine) ----
    # A job is one scorer x one dataset; workers never open this file, the runner in
    # ``prm_viewer/jobs.py`` records what they report here.

    _JOB_FIELDS = frozenset({"status", "job_dir", "traces_total", "traces_done", "tokens_per_s", "eta_s", "pid",
                             "error", "started_at", "finished_at"})

    def insert_job(self, row: dict[str, Any]) -> None:
        """Add a job row (status ``queued`` unless given)."""
        with self.transaction() as cur:
            cur.execute(
                """INSERT INTO jobs (job_id, scorer_id, dataset_id, status, job_dir, traces_total, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [row["job_id"], row["scorer_id"], row["dataset_id"], row.get("status", "queued"), row.get("job_dir"),
                 row.get("traces_total"), _now()],
            )

    def update_job(self, job_id: str, ingest: Any = None, **fields: Any) -> int:
        """Set job fields (``started_at=True`` / ``finished_at=True`` mean now; ``None`` clears) and,
        in the same transaction, idempotently add the step scores in ``ingest`` (an Arrow table as
        for :meth:`insert_step_scores`). Returns the number of new score rows."""
        unknown = set(fields) - self._JOB_FIELDS
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        values = {k: (_now() if v is True and k.endswith("_at") else v) for k, v in fields.items()}
        with self.transaction() as cur:
            added = self.insert_step_scores(cur, ingest) if ingest is not None and len(ingest) else 0
            if values:
                sets = ", ".join(f"{k} = ?" for k in values)
                cur.execute(f"UPDATE jobs SET {sets} WHERE job_id = ?", [*values.values(), job_id])
        return added

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        cur = self.cursor()
        row = cur.execute("SELECT * FROM jobs WHERE job_id = ?", [job_id]).fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    def jobs_with_status(self, statuses: Sequence[str]) -> list[dict[str, Any]]:
        """Jobs in any of ``statuses``, oldest first."""
        cur = self.cursor()
        rows = cur.execute(
            "SELECT * FROM jobs WHERE list_contains(?, status) ORDER BY created_at, job_id", [list(statuses)]
        ).fetchall()
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in rows]


def open_store(path: str | Path | None = None, read_only: bool = False) -> Store:
    """Open the store at ``path`` or at the configured location."""
    from prm_viewer import settings

    return Store(Path(path) if path else settings.db_path(), read_only=read_only)
