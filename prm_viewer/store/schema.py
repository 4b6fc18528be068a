"""The store's schema: tables (forward migrations) and derived objects (macros and views).

Two kinds of schema objects, two life cycles:

- Tables hold data. They change only through :data:`MIGRATIONS`, applied once each, in order, and
  recorded as ``meta.schema_version``.
- Derived objects (:data:`DERIVED`: DuckDB macros and views) hold no data, only definitions. They
  are (re)created with ``CREATE OR REPLACE`` at every read-write open, so a store of any version
  always has this code's definitions and changing one needs no migration. A read-only open checks
  that the store already has them (``meta.derived_version``).

The rules that turn step scores into trace-level values are defined here ONCE, as macros, and every
query uses them: the predicted first error (the first scored step below a threshold, else -1) and
the trace aggregates (min, product, last, mean). Each is an aggregate over one trace's rows with
``score IS NOT NULL``: a trace with no scored step has no row (unknown), not -1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


# Forward migrations of the tables: MIGRATIONS[v] takes a store at version v-1 to version v.
# Never edit a released entry's tables; append a new one. No macros or views here: see DERIVED.
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
        # v1 also created the view trace_aggregates: views are derived objects now (DERIVED), so
        # existing stores get it replaced at open and new ones get it from there.
    ),
    2: (
        # What a job's worker really ran on ("auto" resolved on the worker's machine).
        "ALTER TABLE jobs ADD COLUMN device VARCHAR",
        "ALTER TABLE jobs ADD COLUMN dtype VARCHAR",
    ),
    3: (
        # Generation jobs: a job's kind ("score" | "generate") and, for kinds without a scorer, its
        # settings (JSON: checkpoint, sampling, prompt, split rule, dataset name).
        "ALTER TABLE jobs ADD COLUMN kind VARCHAR DEFAULT 'score'",
        "ALTER TABLE jobs ADD COLUMN settings VARCHAR",
    ),
    4: (
        # What an import did, stored with the dataset: counts, skipped records (line/row, field,
        # reason) and counted notes (NaN scores, error steps past the end, misaligned first errors).
        """CREATE TABLE import_reports (
            dataset_id  VARCHAR PRIMARY KEY,
            report      VARCHAR NOT NULL,      -- JSON: ImportReport.to_json()
            created_at  TIMESTAMP NOT NULL
        )""",
    ),
    5: (
        # Step annotation: an append-only log of label actions per annotator (one user action, e.g.
        # "first error is step 3", = one event_id over several rows). The imported gold stays in
        # steps.gold_label / traces.gold_first_error and is never written by annotation code.
        """CREATE TABLE step_labels (
            event_id    BIGINT NOT NULL,
            trace_id    VARCHAR NOT NULL,
            step_idx    INTEGER NOT NULL,
            annotator   VARCHAR NOT NULL,
            label       TINYINT,           -- +1 correct, -1 wrong, 0 unsure, NULL cleared
            note        VARCHAR,
            created_at  TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE label_queues (
            queue_id    VARCHAR PRIMARY KEY,
            name        VARCHAR NOT NULL UNIQUE,
            spec        VARCHAR,           -- JSON: dataset, filter, sample n, seed, one_per_problem, only
            created_by  VARCHAR,
            created_at  TIMESTAMP NOT NULL
        )""",
        """CREATE TABLE label_queue_items (
            queue_id    VARCHAR NOT NULL,
            position    INTEGER NOT NULL,
            trace_id    VARCHAR NOT NULL,
            PRIMARY KEY (queue_id, position)
        )""",
        """CREATE TABLE label_queue_done (
            queue_id    VARCHAR NOT NULL,
            trace_id    VARCHAR NOT NULL,
            annotator   VARCHAR NOT NULL,
            done_at     TIMESTAMP NOT NULL,
            PRIMARY KEY (queue_id, trace_id, annotator)
        )""",
    ),
    6: (
        # Which scorer scored which dataset (step scores and critics' trace predictions), kept by
        # the store with every score insert and delete. Every page's dataset list and the scorer
        # menus read it instead of a DISTINCT over all step scores joined to the traces on the
        # string trace id (5-6 s at 10M step scores: BENCHMARKS.md, "Scale (10x)").
        """CREATE TABLE scored_datasets (
            scorer_id   VARCHAR NOT NULL,
            dataset_id  VARCHAR NOT NULL,
            kind        VARCHAR NOT NULL,   -- 'step' (step_scores) or 'trace' (trace_scores)
            PRIMARY KEY (scorer_id, dataset_id, kind)
        )""",
        """INSERT INTO scored_datasets
           SELECT DISTINCT s.scorer_id, t.dataset_id, 'step'
           FROM (SELECT DISTINCT scorer_id, trace_id FROM step_scores) s JOIN traces t USING (trace_id)
           UNION
           SELECT DISTINCT s.scorer_id, t.dataset_id, 'trace'
           FROM (SELECT DISTINCT scorer_id, trace_id FROM trace_scores) s JOIN traces t USING (trace_id)""",
    ),
    7: (
        # The import's write cost (BENCHMARKS.md, "Import"): the traces primary key (an index
        # built at insert and written at commit; uniqueness of trace ids is proved by each writer:
        # ids are <dataset_id>-<ordinal>) is dropped, and the steps are stored against an integer
        # trace key (trace_key, unique in the store) instead of 1M repeated trace-id strings.
        # DuckDB cannot drop a constraint: traces is rebuilt. The rows keep their order; readers
        # keep their SQL through the DERIVED view ``steps`` (step_rows joined to traces).
        """CREATE TABLE traces_v7 (
            trace_id             VARCHAR NOT NULL,     -- <dataset_id>-<ordinal>, unique
            dataset_id           VARCHAR NOT NULL,
            ordinal              INTEGER NOT NULL,
            source_line          INTEGER,
            source_id            VARCHAR,
            problem_id           VARCHAR NOT NULL,
            source_problem_id    VARCHAR,
            generator            VARCHAR,
            final_answer         VARCHAR,
            final_answer_correct BOOLEAN,
            gold_first_error     INTEGER,
            error_type           VARCHAR,
            category             VARCHAR,
            split                VARCHAR,
            n_steps              INTEGER NOT NULL,
            has_step_labels      BOOLEAN NOT NULL DEFAULT FALSE,
            metadata             VARCHAR,
            trace_key            BIGINT NOT NULL       -- unique in the store; step_rows refer to it
        )""",
        """INSERT INTO traces_v7
           SELECT *, row_number() OVER (ORDER BY dataset_id, ordinal) - 1 FROM traces
           ORDER BY dataset_id, ordinal""",
        """CREATE TABLE step_rows (
            trace_key   BIGINT NOT NULL,               -- traces.trace_key
            step_idx    INTEGER NOT NULL,              -- 0-based
            text        VARCHAR NOT NULL,
            gold_label  TINYINT                        -- +1 / 0 / -1 / NULL
        )""",
        """INSERT INTO step_rows
           SELECT t.trace_key, s.step_idx, s.text, s.gold_label
           FROM steps s JOIN traces_v7 t USING (trace_id) ORDER BY t.trace_key, s.step_idx""",
        "DROP TABLE steps",
        "DROP TABLE traces",
        "ALTER TABLE traces_v7 RENAME TO traces",
        # The problems primary key goes too (its index cost the import about 0.3 CPU s per 100K
        # problems): both writers insert only keys not yet present, once each.
        """CREATE TABLE problems_v7 (
            problem_id        VARCHAR NOT NULL,      -- hash of the normalised problem text, unique
            problem           VARCHAR NOT NULL,
            reference_answer  VARCHAR
        )""",
        "INSERT INTO problems_v7 SELECT * FROM problems",
        "DROP TABLE problems",
        "ALTER TABLE problems_v7 RENAME TO problems",
    ),
}

SCHEMA_VERSION = max(MIGRATIONS)
"""The newest table layout: the last migration's number."""


DERIVED: Sequence[str] = (
    # The steps as every reader sees them (one row per step, by trace id): the stored rows carry
    # the integer trace key (migration 7). A filter on trace_id reaches step_rows through the
    # join (DuckDB pushes the key range of the matching traces into the scan).
    """CREATE OR REPLACE VIEW steps AS
        SELECT t.trace_id, s.step_idx, s.text, s.gold_label
        FROM step_rows s JOIN traces t USING (trace_key)""",
    # Predicted first error: the first step scored below ``threshold``, else -1. A NULL score is
    # never below the threshold; a trace with no scored step has no group (NULL, not -1).
    """CREATE OR REPLACE MACRO trace_pred_first_error(step_idx, score, threshold) AS
        coalesce(min(step_idx) FILTER (WHERE score < threshold), -1)""",
    # Trace aggregates of step scores. "last" is the score of the highest step index, not the largest.
    "CREATE OR REPLACE MACRO trace_score_min(score) AS min(score)",
    "CREATE OR REPLACE MACRO trace_score_product(score) AS product(score)",
    "CREATE OR REPLACE MACRO trace_score_last(score, step_idx) AS arg_max(score, step_idx)",
    "CREATE OR REPLACE MACRO trace_score_mean(score) AS avg(score)",
    # Trace-level aggregates of step scores per scorer, at each scorer's own threshold.
    """CREATE OR REPLACE VIEW trace_aggregates AS
        SELECT s.scorer_id, s.trace_id,
               trace_score_min(s.score)                    AS score_min,
               trace_score_product(s.score)                AS score_product,
               trace_score_last(s.score, s.step_idx)       AS score_last,
               trace_score_mean(s.score)                   AS score_mean,
               count(s.score)                              AS n_scored,
               trace_pred_first_error(s.step_idx, s.score, sc.threshold) AS predicted_first_error
        FROM step_scores s JOIN scorers sc USING (scorer_id)
        WHERE s.score IS NOT NULL
        GROUP BY s.scorer_id, s.trace_id""",
    # Step annotation: each annotator's current label and note per step (the latest event; every
    # event row carries the step's whole state), steps whose latest state is empty dropped.
    """CREATE OR REPLACE VIEW current_step_labels AS
        SELECT trace_id, step_idx, annotator, label, note, created_at
        FROM (SELECT *, row_number() OVER (PARTITION BY trace_id, step_idx, annotator
                                           ORDER BY event_id DESC) AS rn
              FROM step_labels)
        WHERE rn = 1 AND (label IS NOT NULL OR note IS NOT NULL)""",
)
"""Macros and views, created in this order (a view's macros first) at every read-write open."""

DERIVED_VERSION = hashlib.sha256("\n;\n".join(DERIVED).encode()).hexdigest()[:16]
"""Fingerprint of :data:`DERIVED`, kept in ``meta.derived_version``."""
