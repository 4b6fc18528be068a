"""Read-side SQL used by pages, the CLI and analysis: one place, tested.

Every function takes a :class:`~prm_viewer.store.Store` and returns a pandas DataFrame (or
plain values). Pages never write SQL; they call these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.store import Store


def datasets(store: Store) -> pd.DataFrame:
    """Datasets with counts, tags (dict) and the names of scorers that scored them."""
    df = store.cursor().execute(
        """SELECT d.dataset_id, d.name, d.format, d.source_path, d.n_traces, d.n_steps, d.n_labelled,
                  d.tags, d.synthetic, d.created_at,
                  coalesce((SELECT string_agg(DISTINCT sc.name, ', ' ORDER BY sc.name)
                            FROM step_scores ss JOIN scorers sc USING (scorer_id)
                            JOIN traces t USING (trace_id)
                            WHERE t.dataset_id = d.dataset_id), '') AS scorers
           FROM datasets d ORDER BY d.created_at, d.name"""
    ).df()
    df["tags"] = df["tags"].map(lambda s: json.loads(s) if s else {})
    return df


def scorers(store: Store) -> pd.DataFrame:
    """Scorers with their options/provenance parsed."""
    df = store.cursor().execute("SELECT * FROM scorers ORDER BY created_at, name").df()
    for col in ("options", "provenance"):
        df[col] = df[col].map(lambda s: json.loads(s) if s else {})
    return df


# ---- export ----
# Queries behind prm_viewer/export.py. Each builder returns (sql, params) so export.py can stream
# it to a file with COPY (``copy_query``) or read a page of it (``query_frame``).

EXPORT_FILTERS: dict[str, str] = {
    "split": "t.split",
    "category": "t.category",
    "generator": "t.generator",
    "error_type": "t.error_type",
    "final_answer_correct": "t.final_answer_correct",
    "gold_first_error": "t.gold_first_error",
}
"""Filter keys an export accepts (besides ``trace_ids``) -> the traces column they test."""

_TEXT_CELL_TRIGGERS = "'=', '+', '-', '@', chr(9), chr(13)"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(expr: str, csv_safe: bool) -> str:
    """A text column; for CSV, a leading formula character is neutralised with a quote."""
    if not csv_safe:
        return expr
    return f"CASE WHEN left({expr}, 1) IN ({_TEXT_CELL_TRIGGERS}) THEN '''' || {expr} ELSE {expr} END"


def export_where(dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """The WHERE clause (over ``traces t``) selecting what an export covers.

    ``dataset_ids`` None = every dataset. ``filters``: ``trace_ids`` (list) and the keys of
    :data:`EXPORT_FILTERS`, each a value, ``None`` (IS NULL) or a list of values.
    """
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if dataset_ids is not None:
        clauses.append("t.dataset_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(dataset_ids))
    for key, value in (filters or {}).items():
        if key == "trace_ids":
            clauses.append("t.trace_id IN (SELECT unnest(?::VARCHAR[]))")
            params.append([str(v) for v in value])
            continue
        column = EXPORT_FILTERS.get(key)
        if column is None:
            raise PrmViewerError(f"unknown export filter '{key}'; known: trace_ids, {', '.join(EXPORT_FILTERS)}")
        if value is None:
            clauses.append(f"{column} IS NULL")
        elif isinstance(value, (list, tuple, set)):
            values = list(value)
            parts = []
            if any(v is None for v in values):
                parts.append(f"{column} IS NULL")
            kept = [v for v in values if v is not None]
            if kept:
                parts.append(f"{column} IN (SELECT unnest(?))")
                params.append(kept)
            clauses.append("(" + (" OR ".join(parts) or "FALSE") + ")")
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def export_scorers(store: Store, where: str, params: list[Any]) -> list[tuple[str, str, bool, bool]]:
    """Scorers with results on the selected traces: ``(scorer_id, name, has_step_scores,
    has_trace_scores)``, in creation order."""
    rows = store.cursor().execute(
        f"""SELECT sc.scorer_id, sc.name,
                   sc.scorer_id IN (SELECT DISTINCT ss.scorer_id FROM step_scores ss JOIN traces t USING (trace_id)
                                    WHERE {where}) AS has_steps,
                   sc.scorer_id IN (SELECT DISTINCT ts.scorer_id FROM trace_scores ts JOIN traces t USING (trace_id)
                                    WHERE {where}) AS has_traces
            FROM scorers sc ORDER BY sc.created_at, sc.name""",
        params + params,
    ).fetchall()
    return [(r[0], r[1], bool(r[2]), bool(r[3])) for r in rows if r[2] or r[3]]


def _predicted_joins(scorers: Sequence[tuple[str, str, bool, bool]]) -> tuple[list[str], list[str], list[Any]]:
    """Per-scorer trace-level joins: aggregates of step scores and critics' trace predictions."""
    cols: list[str] = []
    joins: list[str] = []
    params: list[Any] = []
    for i, (sid, name, has_steps, has_traces) in enumerate(scorers):
        parts = []
        if has_steps:
            joins.append(f"LEFT JOIN trace_aggregates a{i} ON a{i}.trace_id = t.trace_id AND a{i}.scorer_id = ?")
            params.append(sid)
            parts.append(f"a{i}.predicted_first_error")
        if has_traces:
            joins.append(f"LEFT JOIN trace_scores ts{i} ON ts{i}.trace_id = t.trace_id AND ts{i}.scorer_id = ?")
            params.append(sid)
            parts.append(f"ts{i}.predicted_first_error")
        expr = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
        cols.append(f"{expr} AS {_ident(f'predicted_first_error[{name}]')}")
    return cols, joins, params


def export_steps_sql(store: Store, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None,
                     csv_safe: bool) -> tuple[str, list[Any]]:
    """One row per step: identity, text, gold label, one score column per scorer, predicted
    (per scorer) and gold first error."""
    where, wparams = export_where(dataset_ids, filters)
    scorers = export_scorers(store, where, wparams)
    score_cols, joins, jparams = [], [], []
    for i, (sid, name, has_steps, _) in enumerate(scorers):
        if has_steps:
            joins.append(f"LEFT JOIN step_scores s{i} ON s{i}.trace_id = st.trace_id AND s{i}.step_idx = st.step_idx "
                         f"AND s{i}.scorer_id = ?")
            jparams.append(sid)
            score_cols.append(f"s{i}.score AS {_ident(f'score[{name}]')}")
    pred_cols, pred_joins, pparams = _predicted_joins(scorers)
    tx = lambda e: _text(e, csv_safe)  # noqa: E731
    cols = [
        f"{tx('d.name')} AS dataset", f"{tx('t.trace_id')} AS trace_id", f"{tx('t.source_id')} AS source_id",
        f"{tx('t.problem_id')} AS problem_id", f"{tx('t.source_problem_id')} AS source_problem_id",
        f"{tx('t.generator')} AS generator", f"{tx('t.split')} AS split", f"{tx('t.category')} AS category",
        "st.step_idx", f"{tx('st.text')} AS step_text", "st.gold_label",
        *score_cols, *pred_cols,
        "t.gold_first_error", f"{tx('t.error_type')} AS error_type",
    ]
    sql = f"""SELECT {', '.join(cols)}
              FROM steps st JOIN traces t USING (trace_id) JOIN datasets d ON d.dataset_id = t.dataset_id
              {' '.join(joins)} {' '.join(pred_joins)}
              WHERE {where}
              ORDER BY d.created_at, d.name, t.ordinal, st.step_idx"""
    return sql, jparams + pparams + wparams


def export_traces_sql(store: Store, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None,
                      csv_safe: bool) -> tuple[str, list[Any]]:
    """One row per trace: identity, per-scorer aggregates (min, product, last, mean) and
    predicted first error, gold first error, final answer and its correctness."""
    where, wparams = export_where(dataset_ids, filters)
    scorers = export_scorers(store, where, wparams)
    pred_cols, joins, jparams = _predicted_joins(scorers)
    agg_cols: list[str] = []
    for i, (_, name, has_steps, _) in enumerate(scorers):
        if has_steps:
            for agg in ("min", "product", "last", "mean"):
                agg_cols.append(f"a{i}.score_{agg} AS {_ident(f'score_{agg}[{name}]')}")
        agg_cols.append(pred_cols[i])
    tx = lambda e: _text(e, csv_safe)  # noqa: E731
    cols = [
        f"{tx('d.name')} AS dataset", f"{tx('t.trace_id')} AS trace_id", f"{tx('t.source_id')} AS source_id",
        f"{tx('t.problem_id')} AS problem_id", f"{tx('t.source_problem_id')} AS source_problem_id",
        f"{tx('t.generator')} AS generator", f"{tx('t.split')} AS split", f"{tx('t.category')} AS category",
        "t.n_steps", *agg_cols,
        "t.gold_first_error", f"{tx('t.error_type')} AS error_type",
        f"{tx('t.final_answer')} AS final_answer", f"{tx('p.reference_answer')} AS reference_answer",
        "t.final_answer_correct",
    ]
    sql = f"""SELECT {', '.join(cols)}
              FROM traces t JOIN datasets d ON d.dataset_id = t.dataset_id JOIN problems p ON p.problem_id = t.problem_id
              {' '.join(joins)}
              WHERE {where}
              ORDER BY d.created_at, d.name, t.ordinal"""
    return sql, jparams + wparams


def export_processbench_sql(dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
    """ProcessBench-shaped records: ``id, generator, problem, steps, final_answer_correct, label``
    (``label`` = gold first error, 0-based, -1 = none), in source order."""
    where, params = export_where(dataset_ids, filters)
    sql = f"""SELECT t.source_id AS id, t.generator, p.problem, list(st.text ORDER BY st.step_idx) AS steps,
                     t.final_answer_correct, t.gold_first_error AS label
              FROM traces t JOIN datasets d ON d.dataset_id = t.dataset_id JOIN problems p ON p.problem_id = t.problem_id
                   JOIN steps st ON st.trace_id = t.trace_id
              WHERE {where}
              GROUP BY d.created_at, d.name, t.ordinal, t.source_id, t.generator, p.problem,
                       t.final_answer_correct, t.gold_first_error
              ORDER BY d.created_at, d.name, t.ordinal"""
    return sql, params


COPY_OPTIONS: dict[str, str] = {"csv": "FORMAT csv, HEADER", "parquet": "FORMAT parquet", "jsonl": "FORMAT json"}
"""DuckDB COPY options per export file format (``json`` writes one object per line)."""


def copy_query(store: Store, sql: str, params: list[Any], path: str | Path, fmt: str) -> int:
    """Stream a query's rows to a file with DuckDB's COPY; returns the number of rows."""
    target = str(path).replace("'", "''")
    row = store.cursor().execute(f"COPY ({sql}) TO '{target}' ({COPY_OPTIONS[fmt]})", params).fetchone()
    return int(row[0]) if row else 0


def query_frame(store: Store, sql: str, params: list[Any], limit: int | None = None) -> pd.DataFrame:
    """A query's rows as a DataFrame (``limit`` rows at most, for previews)."""
    if limit is not None:
        sql = f"SELECT * FROM ({sql}) LIMIT {int(limit)}"
    return store.cursor().execute(sql, params).df()


# ---- analysis ----
# Inputs of prm_viewer/analysis. A "run" is a dataset, optionally narrowed to one generator:
# runs are passed as (label, dataset_id, generator-or-None) triples and expanded into a VALUES
# table so one query serves any number of runs. Per-trace and per-step work (first step below a
# threshold, the largest drop, interval end points for the threshold sweep) happens here in
# DuckDB; the analysis functions only aggregate the resulting columns.

RunRef = tuple[str, str, "str | None"]


def _runs_cte(runs: Sequence[RunRef]) -> tuple[str, list[Any]]:
    if not runs:
        raise PrmViewerError("no run selected")
    rows = ", ".join("(?, ?, ?)" for _ in runs)
    params: list[Any] = []
    for label, dataset_id, generator in runs:
        params += [str(label), str(dataset_id), generator]
    return f"runs(run, dataset_id, generator) AS (SELECT * FROM (VALUES {rows}) v(run, dataset_id, generator))", params


def _frame(cur: Any) -> pd.DataFrame:
    """Result as a DataFrame through Arrow (several times faster than ``.df()`` on 100k rows)."""
    fetch = getattr(cur, "to_arrow_table", None) or getattr(cur, "fetch_arrow_table")
    return fetch().to_pandas()


def analysis_trace_frame(
    store: Store,
    runs: Sequence[RunRef],
    scorer_id: str | None = None,
    threshold: float = 0.5,
    critic_id: str | None = None,
    start_value: float = 1.0,
    with_drop: bool = True,
) -> pd.DataFrame:
    """One row per trace of the runs, with what localisation and comparison need.

    Columns: run, trace_id, dataset_id, ordinal, source_id, problem_id, source_problem_id,
    generator, split, category, error_type, n_steps, final_answer_correct, gold_first_error,
    runs_with_problem / runs_with_source_problem (how many of the runs have this problem: a
    problem is shared when it equals the number of runs), and, with a scorer: n_scored (scored
    steps; 0 = not scored), min_all (lowest step score), s_gold (score of the gold first-error
    step), m_before (lowest score before it; NULL = no scored step before), pred_threshold (first
    step scored below ``threshold``, else -1), pred_drop (the step with the largest drop from the
    previous step's score -- ``start_value`` before step 0, earliest on ties -- when some step is
    below the threshold, else -1), mean_score, last_score; with a critic: pred_critic (its
    predicted first error, NULL when it gave none) and critic_verdict. ``with_drop=False`` skips
    the window over steps that the largest-drop localiser needs (pred_drop is then NULL).
    """
    cte, params = _runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.* FROM traces tr JOIN runs r
            ON tr.dataset_id = r.dataset_id AND (r.generator IS NULL OR tr.generator = r.generator)),
    pr AS (SELECT problem_id, count(DISTINCT run) AS n FROM t GROUP BY problem_id),
    spr AS (SELECT source_problem_id, count(DISTINCT run) AS n FROM t
            WHERE source_problem_id IS NOT NULL GROUP BY source_problem_id)"""
    select_scores = ""
    join_scores = ""
    if scorer_id is not None:
        # One pass over the scored steps, gold index joined in, previous score by window.
        prev = "lag(ss.score, 1, ?) OVER (PARTITION BY ss.trace_id ORDER BY ss.step_idx)" if with_drop else "?"
        # Without the drop localiser, skip its arg_min over a struct per step (a tenth of the
        # query); scores are in [0, 1], so the result is -1 for every scored trace, as before.
        drop = ("CASE WHEN min(score) < ? THEN arg_min(step_idx, {'d': score - prev, 'i': step_idx}) ELSE -1 END"
                if with_drop else "-1")
        sql += f""",
    s AS (SELECT ss.trace_id, ss.step_idx, ss.score, t.gold_first_error AS g, {prev} AS prev
          FROM step_scores ss JOIN t ON ss.trace_id = t.trace_id
          WHERE ss.scorer_id = ? AND ss.score IS NOT NULL),
    a AS (SELECT trace_id,
                 count(*) AS n_scored,
                 min(score) AS min_all,
                 avg(score) AS mean_score,
                 arg_max(score, step_idx) AS last_score,
                 max(score) FILTER (WHERE step_idx = g) AS s_gold,
                 min(score) FILTER (WHERE step_idx < g) AS m_before,
                 coalesce(min(step_idx) FILTER (WHERE score < ?), -1) AS pred_threshold,
                 {drop} AS pred_drop
          FROM s GROUP BY trace_id)"""
        params += [float(start_value), scorer_id, float(threshold)] + ([float(threshold)] if with_drop else [])
        select_scores = """, coalesce(a.n_scored, 0) AS n_scored, a.min_all, a.s_gold, a.m_before,
               a.pred_threshold, a.pred_drop, a.mean_score, a.last_score"""
        join_scores = " LEFT JOIN a ON a.trace_id = t.trace_id"
    select_critic = ""
    join_critic = ""
    if critic_id is not None:
        select_critic = ", ts.predicted_first_error AS pred_critic, ts.verdict AS critic_verdict"
        join_critic = " LEFT JOIN trace_scores ts ON ts.trace_id = t.trace_id AND ts.scorer_id = ?"
        params.append(critic_id)
    sql += f"""
    SELECT t.run, t.trace_id, t.dataset_id, t.ordinal, t.source_id, t.problem_id, t.source_problem_id,
           t.generator, t.split, t.category, t.error_type, t.n_steps, t.final_answer_correct,
           t.gold_first_error, pr.n AS runs_with_problem, coalesce(spr.n, 0) AS runs_with_source_problem
           {select_scores}{select_critic}
    FROM t JOIN pr ON pr.problem_id = t.problem_id
    LEFT JOIN spr ON spr.source_problem_id = t.source_problem_id{join_scores}{join_critic}
    ORDER BY t.run, t.dataset_id, t.ordinal"""
    return _frame(store.cursor().execute(sql, params))


def analysis_position_scores(
    store: Store, runs: Sequence[RunRef], scorer_id: str, bins: int = 10, shared_by: str | None = None
) -> pd.DataFrame:
    """Scored steps as numbers only: run_index (position of the run in ``runs``), rel_bin
    (``floor(step_idx * bins / n_steps)``), score. With ``shared_by`` ('problem_id' or
    'source_problem_id') only problems that every run has."""
    cte, params = _runs_cte(runs)
    order = ", ".join(f"(?, {i})" for i in range(len(runs)))
    params += [str(r[0]) for r in runs]
    shared = ""
    if shared_by is not None:
        if shared_by not in {"problem_id", "source_problem_id"}:
            raise PrmViewerError(f"cannot pair problems by '{shared_by}'")
        shared = f"""WHERE t.{shared_by} IN (SELECT {shared_by} FROM t GROUP BY {shared_by}
                                       HAVING count(DISTINCT run) = (SELECT count(*) FROM runs))"""
    sql = f"""
    WITH {cte},
    idx(run, run_index) AS (SELECT * FROM (VALUES {order}) v(run, run_index)),
    t AS (SELECT r.run, tr.trace_id, tr.problem_id, tr.source_problem_id, tr.n_steps FROM traces tr JOIN runs r
            ON tr.dataset_id = r.dataset_id AND (r.generator IS NULL OR tr.generator = r.generator)),
    ts AS (SELECT t.trace_id, t.run, t.n_steps FROM t {shared})
    SELECT CAST(idx.run_index AS TINYINT) AS run_index,
           CAST(least(floor(ss.step_idx * ? / ts.n_steps), ? - 1) AS SMALLINT) AS rel_bin, ss.score
    FROM step_scores ss JOIN ts ON ss.trace_id = ts.trace_id JOIN idx ON idx.run = ts.run
    WHERE ss.scorer_id = ? AND ss.score IS NOT NULL"""
    params += [int(bins), int(bins), scorer_id]
    return _frame(store.cursor().execute(sql, params))


def analysis_step_frame(
    store: Store, runs: Sequence[RunRef], scorer_ids: Sequence[str], bins: int = 10, start_value: float | None = None
) -> pd.DataFrame:
    """Scored steps of the runs for the given scorers: run, scorer_id, trace_id, problem_id,
    step_idx, n_steps, rel_bin (relative position ``floor(step_idx * bins / n_steps)``), score,
    progress (score minus the previous scored step's score; for the first step, minus
    ``start_value``, or NULL when it is None)."""
    cte, params = _runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.problem_id, tr.n_steps FROM traces tr JOIN runs r
            ON tr.dataset_id = r.dataset_id AND (r.generator IS NULL OR tr.generator = r.generator))
    SELECT t.run, ss.scorer_id, ss.trace_id, t.problem_id, ss.step_idx, t.n_steps,
           least(CAST(floor(ss.step_idx * ? / t.n_steps) AS INTEGER), ? - 1) AS rel_bin,
           ss.score,
           ss.score - lag(ss.score, 1, ?) OVER (PARTITION BY ss.scorer_id, ss.trace_id ORDER BY ss.step_idx) AS progress
    FROM step_scores ss JOIN t ON ss.trace_id = t.trace_id
    WHERE ss.scorer_id IN (SELECT unnest(?::VARCHAR[])) AND ss.score IS NOT NULL
    ORDER BY t.run, ss.scorer_id, ss.trace_id, ss.step_idx"""
    params += [int(bins), int(bins), start_value, [str(s) for s in scorer_ids]]
    return store.cursor().execute(sql, params).df()


def analysis_progress_by_position(
    store: Store, runs: Sequence[RunRef], scorer_ids: Sequence[str], bins: int = 10, start_value: float | None = None
) -> pd.DataFrame:
    """Mean step score and mean progress per (run, scorer, relative-position bin), in SQL:
    run, scorer_id, scorer, rel_bin, n_steps (steps in the bin), mean_score, mean_progress,
    n_progress (steps with a defined progress)."""
    cte, params = _runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.n_steps FROM traces tr JOIN runs r
            ON tr.dataset_id = r.dataset_id AND (r.generator IS NULL OR tr.generator = r.generator)),
    p AS (SELECT t.run, ss.scorer_id,
                 least(CAST(floor(ss.step_idx * ? / t.n_steps) AS INTEGER), ? - 1) AS rel_bin,
                 ss.score,
                 ss.score - lag(ss.score, 1, ?) OVER (PARTITION BY ss.scorer_id, ss.trace_id ORDER BY ss.step_idx) AS progress
          FROM step_scores ss JOIN t ON ss.trace_id = t.trace_id
          WHERE ss.scorer_id IN (SELECT unnest(?::VARCHAR[])) AND ss.score IS NOT NULL)
    SELECT p.run, p.scorer_id, sc.name AS scorer, p.rel_bin, count(*) AS n_steps, avg(p.score) AS mean_score,
           avg(p.progress) AS mean_progress, count(p.progress) AS n_progress
    FROM p JOIN scorers sc USING (scorer_id)
    GROUP BY ALL ORDER BY p.run, sc.name, p.rel_bin"""
    params += [int(bins), int(bins), start_value, [str(s) for s in scorer_ids]]
    return store.cursor().execute(sql, params).df()


def analysis_step_labels(store: Store, runs: Sequence[RunRef], scorer_id: str) -> pd.DataFrame:
    """Labelled, scored steps (for PRMBench-style step F1): run, trace_id, split, generator,
    category, step_idx, gold_label (+1/0/-1), score."""
    cte, params = _runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.split, tr.generator, tr.category FROM traces tr JOIN runs r
            ON tr.dataset_id = r.dataset_id AND (r.generator IS NULL OR tr.generator = r.generator)
          WHERE tr.has_step_labels)
    SELECT t.run, t.trace_id, t.split, t.generator, t.category, st.step_idx, st.gold_label, ss.score
    FROM t JOIN steps st ON st.trace_id = t.trace_id
    JOIN step_scores ss ON ss.trace_id = st.trace_id AND ss.step_idx = st.step_idx AND ss.scorer_id = ?
    WHERE st.gold_label IS NOT NULL AND ss.score IS NOT NULL
    ORDER BY t.run, t.trace_id, st.step_idx"""
    params.append(scorer_id)
    return store.cursor().execute(sql, params).df()


def analysis_step_texts(store: Store, runs: Sequence[RunRef]) -> pd.DataFrame:
    """Step texts of the runs: run, trace_id, problem_id, final_answer, step_idx, text."""
    cte, params = _runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.problem_id, tr.final_answer FROM traces tr JOIN runs r
            ON tr.dataset_id = r.dataset_id AND (r.generator IS NULL OR tr.generator = r.generator))
    SELECT t.run, t.trace_id, t.problem_id, t.final_answer, st.step_idx, st.text
    FROM t JOIN steps st ON st.trace_id = t.trace_id
    ORDER BY t.run, t.problem_id, t.trace_id, st.step_idx"""
    return store.cursor().execute(sql, params).df()


def analysis_trace_steps(store: Store, trace_id: str) -> pd.DataFrame:
    """One trace's steps with every scorer's score side by side (long form): step_idx, text,
    gold_label, scorer (NULL when unscored), recipe, score."""
    return store.cursor().execute(
        """SELECT st.step_idx, st.text, st.gold_label, sc.name AS scorer, sc.recipe, ss.score
           FROM steps st
           LEFT JOIN step_scores ss ON ss.trace_id = st.trace_id AND ss.step_idx = st.step_idx
           LEFT JOIN scorers sc ON sc.scorer_id = ss.scorer_id
           WHERE st.trace_id = ? ORDER BY st.step_idx, sc.name""",
        [trace_id],
    ).df()


def analysis_trace_header(store: Store, trace_id: str) -> dict[str, Any]:
    """A trace's row with its problem text and dataset name (NotFound-free: {} when absent)."""
    cur = store.cursor()
    row = cur.execute(
        """SELECT t.*, p.problem, p.reference_answer, d.name AS dataset
           FROM traces t JOIN problems p USING (problem_id) JOIN datasets d USING (dataset_id)
           WHERE t.trace_id = ?""",
        [trace_id],
    ).fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row else {}


def analysis_problem_texts(store: Store, problem_ids: Sequence[str]) -> pd.DataFrame:
    """problem_id, problem text for the given problems."""
    return store.cursor().execute(
        "SELECT problem_id, problem FROM problems WHERE problem_id IN (SELECT unnest(?::VARCHAR[]))",
        [[str(p) for p in problem_ids]],
    ).df()


def analysis_generators(store: Store, dataset_id: str) -> list[str]:
    """Distinct generators of a dataset (for run pickers)."""
    rows = store.cursor().execute(
        "SELECT DISTINCT generator FROM traces WHERE dataset_id = ? AND generator IS NOT NULL ORDER BY 1",
        [dataset_id],
    ).fetchall()
    return [r[0] for r in rows]


def analysis_scorers_for(store: Store, dataset_ids: Sequence[str]) -> pd.DataFrame:
    """Scorers with step scores or trace predictions on any of the datasets: scorer_id, name,
    recipe, threshold, kind ('step' or 'trace')."""
    return store.cursor().execute(
        """WITH t AS (SELECT trace_id FROM traces WHERE dataset_id IN (SELECT unnest(?::VARCHAR[]))),
           k AS (SELECT DISTINCT scorer_id, 'step' AS kind FROM step_scores SEMI JOIN t USING (trace_id)
                 UNION SELECT DISTINCT scorer_id, 'trace' AS kind FROM trace_scores SEMI JOIN t USING (trace_id))
           SELECT sc.scorer_id, sc.name, sc.recipe, sc.threshold, k.kind
           FROM k JOIN scorers sc USING (scorer_id) ORDER BY sc.name, k.kind""",
        [[str(d) for d in dataset_ids]],
    ).df()




def analysis_splits(store: Store, dataset_ids: Sequence[str]) -> list[str]:
    """Split names of the datasets' traces; a dataset's traces without a split count under the
    dataset's name (as in the localisation report)."""
    rows = store.cursor().execute(
        """SELECT DISTINCT coalesce(t.split, d.name) FROM traces t JOIN datasets d USING (dataset_id)
           WHERE t.dataset_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1""",
        [[str(d) for d in dataset_ids]],
    ).fetchall()
    return [r[0] for r in rows]


# ---- explorer / trace ----
# Reads behind the Explorer, Trace and Export pages. Filtering, sorting and paging happen in SQL
# so that 100k traces stay responsive; pages only ever hold one page of rows.


@dataclass(frozen=True)
class TraceFilter:
    """What the Explorer shows; round-trips through the URL query string (``prm_viewer.ui.filters``)."""

    datasets: tuple[str, ...] = ()
    """Dataset ids; empty = every dataset."""
    scorer: str | None = None
    """Scorer id whose scores colour the heatmap and feed the score and predicted-error filters."""
    generators: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    correct: str = "any"
    """Final-answer correctness: any | true | false | unknown."""
    gold_error: str = "any"
    """Gold first error: any | present | absent | unknown."""
    pred_error: str = "any"
    """Predicted first error (needs a scorer): any | present | absent | matches_gold | differs_from_gold."""
    min_score: tuple[float, float] | None = None
    """Range of the trace's minimum step score (inclusive); None = no constraint."""
    last_score: tuple[float, float] | None = None
    """Range of the trace's last step score (inclusive)."""
    text: str = ""
    """Case-insensitive substring searched in the problem and in every step."""


TRACE_SORTS: dict[str, str] = {
    "order": "dataset, ordinal",
    "gold_first_error": "CASE WHEN gold_first_error = -1 THEN 2147483647 ELSE gold_first_error END",
    "pred_first_error": "CASE WHEN pred_first_error = -1 THEN 2147483647 ELSE pred_first_error END",
    "min_score": "score_min",
    "disagreement": "disagreement",
}
"""Sort keys of the Explorer (key -> SQL over the filtered rows). 'No error' (-1) sorts after any error."""

TRACE_CHOICES: dict[str, dict[str, str]] = {
    "correct": {"true": "t.final_answer_correct", "false": "NOT t.final_answer_correct",
                "unknown": "t.final_answer_correct IS NULL"},
    "gold_error": {"present": "t.gold_first_error >= 0", "absent": "t.gold_first_error = -1",
                   "unknown": "t.gold_first_error IS NULL"},
    "pred_error": {"present": "pred_first_error >= 0", "absent": "pred_first_error = -1",
                   "matches_gold": "pred_first_error = t.gold_first_error",
                   "differs_from_gold": "pred_first_error <> t.gold_first_error"},
}
"""Choice filters: field -> choice -> SQL condition ('any' adds none)."""


def _in_list(column: str, values: Sequence[str], clauses: list[str], params: list[Any]) -> None:
    if values:
        clauses.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
        params.append([str(v) for v in values])


_AGG_SORTS = frozenset({"pred_first_error", "min_score", "disagreement"})
"""Sorts that need the scorer's per-trace aggregates."""


def _explorer_base(store: Store, f: TraceFilter, lean: bool = False, sort: str | None = None) -> tuple[str, list[Any]]:
    """SELECT of every trace matching ``f`` with its per-scorer aggregates (not yet ordered).

    ``lean``: only what filtering and sorting by ``sort`` need (counts, previous/next, id lists):
    the aggregate over every step score and the problem text are joined only when the filter or
    the sort uses them, which is most of the cost at 1M steps.
    """
    params: list[Any] = []
    needs_agg = not lean or f.pred_error != "any" or f.min_score is not None or f.last_score is not None \
        or sort in _AGG_SORTS
    if f.scorer and not needs_agg:
        if store.cursor().execute("SELECT 1 FROM scorers WHERE scorer_id = ?", [f.scorer]).fetchone() is None:
            raise NotFound(f"no scorer with id '{f.scorer}'")
    if f.scorer and needs_agg:
        row = store.cursor().execute("SELECT threshold FROM scorers WHERE scorer_id = ?", [f.scorer]).fetchone()
        if row is None:
            raise NotFound(f"no scorer with id '{f.scorer}'")
        # Same definition as the trace_aggregates view, with the scorer filter applied before grouping.
        agg = """LEFT JOIN (SELECT trace_id, min(score) AS score_min, arg_max(score, step_idx) AS score_last,
                                  avg(score) AS score_mean,
                                  coalesce(min(step_idx) FILTER (WHERE score < ?), -1) AS pred_step
                           FROM step_scores WHERE scorer_id = ? AND score IS NOT NULL GROUP BY trace_id) a
                   ON a.trace_id = t.trace_id
                 LEFT JOIN trace_scores ts ON ts.trace_id = t.trace_id AND ts.scorer_id = ?"""
        params += [float(row[0]), f.scorer, f.scorer]
        cols = """a.score_min, a.score_last, a.score_mean,
                  coalesce(ts.predicted_first_error, a.pred_step) AS pred_first_error"""
    else:
        agg = ""
        cols = """NULL::DOUBLE AS score_min, NULL::DOUBLE AS score_last, NULL::DOUBLE AS score_mean,
                  NULL::INTEGER AS pred_first_error"""
    clauses: list[str] = ["TRUE"]
    _in_list("t.dataset_id", f.datasets, clauses, params)
    _in_list("t.generator", f.generators, clauses, params)
    _in_list("t.category", f.categories, clauses, params)
    _in_list("t.split", f.splits, clauses, params)
    for field_name, choices in TRACE_CHOICES.items():
        choice = getattr(f, field_name)
        if choice == "any":
            continue
        if choice not in choices:
            raise PrmViewerError(f"unknown {field_name} filter '{choice}'; choose any, {', '.join(choices)}")
        if field_name == "pred_error" and not f.scorer:
            raise PrmViewerError("the predicted-first-error filter needs a scorer")
        clauses.append(choices[choice])
    for column, bounds in (("score_min", f.min_score), ("score_last", f.last_score)):
        if bounds is not None:
            if not f.scorer:
                raise PrmViewerError("score filters need a scorer")
            clauses.append(f"{column} BETWEEN ? AND ?")
            params += [float(bounds[0]), float(bounds[1])]
    if f.text.strip():
        needle = f.text.strip().lower()
        clauses.append("""(contains(lower(p.problem), ?) OR EXISTS (
                              SELECT 1 FROM steps s WHERE s.trace_id = t.trace_id AND contains(lower(s.text), ?)))""")
        params += [needle, needle]
    if lean:
        problem = "JOIN problems p ON p.problem_id = t.problem_id" if f.text.strip() else ""
        sql = f"""SELECT t.trace_id, d.name AS dataset, t.ordinal, t.n_steps, t.gold_first_error, {cols}
                  FROM traces t JOIN datasets d ON d.dataset_id = t.dataset_id {problem} {agg}
                  WHERE {' AND '.join(clauses)}"""
    else:
        sql = f"""SELECT t.trace_id, d.name AS dataset, d.synthetic, t.ordinal, t.source_id, t.generator,
                         t.category, t.split, t.n_steps, t.final_answer_correct, t.gold_first_error,
                         {cols},
                         left(p.problem, 160) AS problem
                  FROM traces t JOIN datasets d ON d.dataset_id = t.dataset_id
                       JOIN problems p ON p.problem_id = t.problem_id
                       {agg}
                  WHERE {' AND '.join(clauses)}"""
    # disagreement = distance between predicted and gold first error ('no error' = after the last step).
    sql = f"""SELECT *, abs(CASE WHEN pred_first_error = -1 THEN n_steps ELSE pred_first_error END
                          - CASE WHEN gold_first_error = -1 THEN n_steps ELSE gold_first_error END) AS disagreement
              FROM ({sql})"""
    return sql, params


def _order_by(sort: str, descending: bool) -> str:
    key = TRACE_SORTS.get(sort)
    if key is None:
        raise PrmViewerError(f"unknown sort '{sort}'; choose one of {', '.join(TRACE_SORTS)}")
    direction = "DESC" if descending else "ASC"
    keys = ", ".join(f"{k.strip()} {direction} NULLS LAST" for k in key.split(", ")) if sort == "order" \
        else f"{key} {direction} NULLS LAST"
    return f"{keys}, dataset, ordinal"


def explorer_count(store: Store, f: TraceFilter) -> int:
    """How many traces match ``f``."""
    sql, params = _explorer_base(store, f, lean=True)
    return int(store.cursor().execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])


def explorer_page(store: Store, f: TraceFilter, sort: str = "order", descending: bool = False,
                  limit: int = 200, offset: int = 0) -> pd.DataFrame:
    """One page of matching traces, sorted in SQL (LIMIT/OFFSET)."""
    sql, params = _explorer_base(store, f)
    return store.cursor().execute(
        f"SELECT * FROM ({sql}) ORDER BY {_order_by(sort, descending)} LIMIT ? OFFSET ?",
        params + [int(limit), int(offset)],
    ).df()


def explorer_trace_ids(store: Store, f: TraceFilter) -> list[str]:
    """Every matching trace id (for an export of exactly the current filter)."""
    sql, params = _explorer_base(store, f, lean=True)
    return [r[0] for r in store.cursor().execute(f"SELECT trace_id FROM ({sql}) ORDER BY dataset, ordinal", params).fetchall()]


def explorer_order(store: Store, f: TraceFilter, sort: str = "order", descending: bool = False) -> Any:
    """Every matching trace id in the Explorer's sort order, as an Arrow string array.

    The Trace page caches this per data version + filter + sort (``ui.state.cached``), so
    previous/next while stepping through a filter is an array lookup, not a query; Arrow keeps
    the cached value cheap to copy (one buffer, not 100k Python strings)."""
    sql, params = _explorer_base(store, f, lean=True, sort=sort)
    table = store.cursor().execute(
        f"SELECT trace_id FROM ({sql}) ORDER BY {_order_by(sort, descending)}", params).fetch_arrow_table()
    return table.column(0).combine_chunks()


def neighbours_in(order: Any, trace_id: str) -> dict[str, Any]:
    """``{previous, next, position (1-based), total}`` of ``trace_id`` in an :func:`explorer_order`
    array; all None when it is not there."""
    import pyarrow.compute as pc

    i = pc.index(order, trace_id).as_py()
    if i < 0:
        return {"previous": None, "next": None, "position": None, "total": None}
    return {"previous": order[i - 1].as_py() if i > 0 else None,
            "next": order[i + 1].as_py() if i + 1 < len(order) else None,
            "position": i + 1, "total": len(order)}


def explorer_neighbours(store: Store, f: TraceFilter, trace_id: str, sort: str = "order",
                        descending: bool = False) -> dict[str, Any]:
    """``{previous, next, position (1-based), total}`` of a trace in the filtered, sorted list;
    all None when the trace does not match the filter."""
    return neighbours_in(explorer_order(store, f, sort, descending), trace_id)


def explorer_options(store: Store) -> dict[str, Any]:
    """Choices for the Explorer's filter widgets: datasets and scorers (DataFrames; a scorer row
    lists the ``dataset_ids`` it scored) and the distinct generators, categories and splits (lists)."""
    cur = store.cursor()
    out: dict[str, Any] = {
        "datasets": cur.execute("SELECT dataset_id, name, synthetic, n_traces FROM datasets ORDER BY created_at, name").df(),
        "scorers": cur.execute(
            """WITH scored AS (SELECT DISTINCT scorer_id, trace_id FROM trace_scores
                              UNION SELECT DISTINCT scorer_id, trace_id FROM step_scores),
                    per AS (SELECT s.scorer_id, list(DISTINCT t.dataset_id ORDER BY t.dataset_id) AS dataset_ids
                            FROM scored s JOIN traces t ON t.trace_id = s.trace_id GROUP BY s.scorer_id)
               SELECT sc.scorer_id, sc.name, sc.recipe, sc.threshold, sc.synthetic, per.dataset_ids
               FROM scorers sc JOIN per ON per.scorer_id = sc.scorer_id
               ORDER BY sc.created_at, sc.name""").df(),
    }
    for key, column in (("generators", "generator"), ("categories", "category"), ("splits", "split")):
        out[key] = [r[0] for r in cur.execute(
            f"SELECT DISTINCT {column} FROM traces WHERE {column} IS NOT NULL ORDER BY 1").fetchall()]
    return out


def heatmap_scores(store: Store, scorer_id: str, trace_ids: Sequence[str]) -> pd.DataFrame:
    """``trace_id, step_idx, score`` of one scorer on the given traces (one Explorer page)."""
    return store.cursor().execute(
        """SELECT trace_id, step_idx, score FROM step_scores
           WHERE scorer_id = ? AND trace_id IN (SELECT unnest(?::VARCHAR[]))""",
        [scorer_id, [str(t) for t in trace_ids]],
    ).df()


def trace_header(store: Store, trace_id: str) -> dict[str, Any]:
    """One trace with its dataset name and problem; NotFound when absent."""
    cur = store.cursor()
    row = cur.execute(
        """SELECT t.*, d.name AS dataset, d.synthetic, p.problem, p.reference_answer
           FROM traces t JOIN datasets d ON d.dataset_id = t.dataset_id
                JOIN problems p ON p.problem_id = t.problem_id
           WHERE t.trace_id = ?""",
        [trace_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"no trace '{trace_id}' (it may have been deleted with its dataset)")
    out = dict(zip([d[0] for d in cur.description], row))
    out["metadata"] = json.loads(out["metadata"]) if out.get("metadata") else {}
    return out


def trace_steps(store: Store, trace_id: str) -> pd.DataFrame:
    """``step_idx, text, gold_label`` of one trace, in order."""
    return store.cursor().execute(
        "SELECT step_idx, text, gold_label FROM steps WHERE trace_id = ? ORDER BY step_idx", [trace_id]
    ).df()


def trace_step_scores(store: Store, trace_id: str) -> pd.DataFrame:
    """Every scorer's step scores on one trace: ``scorer_id, scorer, threshold, synthetic,
    step_idx, score, raw, note``."""
    return store.cursor().execute(
        """SELECT s.scorer_id, sc.name AS scorer, sc.threshold, sc.synthetic, s.step_idx, s.score, s.raw, s.note
           FROM step_scores s JOIN scorers sc ON sc.scorer_id = s.scorer_id
           WHERE s.trace_id = ? ORDER BY sc.created_at, sc.name, s.step_idx""",
        [trace_id],
    ).df()


_TRACE_PREDICTIONS = """WITH step_pred AS (
               SELECT s.scorer_id, coalesce(min(s.step_idx) FILTER (WHERE s.score < sc.threshold), -1) AS pfe
               FROM {steps} s JOIN scorers sc ON sc.scorer_id = s.scorer_id
               WHERE s.trace_id = ? AND s.score IS NOT NULL GROUP BY s.scorer_id),
           k AS (SELECT scorer_id FROM step_pred UNION SELECT scorer_id FROM trace_scores WHERE trace_id = ?)
           SELECT sc.scorer_id, sc.name AS scorer, sc.threshold, sc.synthetic,
                  coalesce(ts.predicted_first_error, sp.pfe) AS predicted_first_error, ts.verdict, ts.raw_output
           FROM k JOIN scorers sc ON sc.scorer_id = k.scorer_id
                LEFT JOIN step_pred sp ON sp.scorer_id = k.scorer_id
                LEFT JOIN trace_scores ts ON ts.scorer_id = k.scorer_id AND ts.trace_id = ?
           ORDER BY sc.created_at, sc.name"""


def trace_predictions(store: Store, trace_id: str) -> pd.DataFrame:
    """Each scorer's predicted first error on one trace (-1 none): from step scores (first step
    below the scorer's threshold) or from a judge's trace-level verdict. Columns ``scorer_id,
    scorer, threshold, synthetic, predicted_first_error, verdict, raw_output``."""
    return store.cursor().execute(_TRACE_PREDICTIONS.format(steps="step_scores"), [trace_id, trace_id, trace_id]).df()


def trace_scores_and_predictions(store: Store, trace_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trace_step_scores, trace_predictions)`` of one trace with ONE scan of step_scores.

    Finding one trace's rows costs a scan of every step score (DuckDB does not use the
    composite primary key's index for it), so the predictions are computed from the already fetched rows."""
    scores = trace_step_scores(store, trace_id)
    cur = store.cursor()
    # A per-call name: the cursor is shared by the thread's reruns.
    name = f"_trace_rows_{id(scores)}"
    cur.register(name, scores.assign(trace_id=trace_id))
    try:
        preds = cur.execute(_TRACE_PREDICTIONS.format(steps=name), [trace_id, trace_id, trace_id]).df()
    finally:
        cur.unregister(name)
    return scores, preds


# ---- scoring engine (jobs) ----

def scoring_traces(store: Store, dataset_id: str) -> Any:
    """A dataset's traces as the scoring worker reads them: an Arrow table ``trace_id, problem,
    steps, reference_answer`` (steps: list of step texts in step order), in the dataset's order
    with the traces of one problem together (from its first trace on), so that the worker's
    shards hold whole groups of traces that share a prefix."""
    return store.cursor().execute(
        """SELECT t.trace_id, p.problem, list(s.text ORDER BY s.step_idx) AS steps, p.reference_answer
           FROM traces t JOIN problems p USING (problem_id) JOIN steps s USING (trace_id)
           WHERE t.dataset_id = ?
           GROUP BY t.trace_id, t.ordinal, t.problem_id, p.problem, p.reference_answer
           ORDER BY min(t.ordinal) OVER (PARTITION BY t.problem_id), t.ordinal""",
        [dataset_id],
    ).fetch_arrow_table()


def jobs(store: Store) -> pd.DataFrame:
    """Scoring jobs, newest first, with scorer and dataset names, progress and timings."""
    return store.cursor().execute(
        """SELECT j.job_id, sc.name AS scorer, d.name AS dataset, j.status, j.traces_done, j.traces_total,
                  CASE WHEN j.traces_total > 0 THEN j.traces_done / j.traces_total END AS fraction,
                  j.tokens_per_s, j.eta_s, j.error, j.created_at, j.started_at, j.finished_at,
                  date_diff('millisecond', j.started_at, coalesce(j.finished_at, CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP))) / 1000.0
                      AS seconds,
                  j.scorer_id, j.dataset_id, j.pid, j.job_dir
           FROM jobs j LEFT JOIN scorers sc USING (scorer_id) LEFT JOIN datasets d USING (dataset_id)
           ORDER BY j.created_at DESC, j.job_id"""
    ).df()
