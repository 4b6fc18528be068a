"""Export SQL: the queries behind ``prm_viewer/export.py``.

Each builder returns ``(sql, params)`` so ``export.py`` can stream it to a file with COPY
(:func:`copy_query`) or read a page of it (:func:`query_frame`). Trace-level predictions and
aggregates come from the ``trace_aggregates`` view (``store/schema.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from prm_viewer.errors import PrmViewerError
from prm_viewer.queries._sql import ident as _ident
from prm_viewer.queries.gold import GOLD, gold_steps_sql, gold_traces_sql, parse_gold
from prm_viewer.store import Store

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


def _text(expr: str, csv_safe: bool) -> str:
    """A text column; for CSV, a leading formula character is neutralised with a quote."""
    if not csv_safe:
        return expr
    return f"CASE WHEN left({expr}, 1) IN ({_TEXT_CELL_TRIGGERS}) THEN '''' || {expr} ELSE {expr} END"


text_cell = _text
"""A text column, CSV-safe when asked (public for the label exports of ``queries.label_export``)."""


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


def _gold_joins(gold: str, dataset_ids: Sequence[str] | None, steps: bool) -> tuple[str, str, str, list[Any]]:
    """(gold_label expression, gold_first_error expression, joins, params) for a gold source:
    the imported columns as they are for ``gold``, else joins of the source's relations."""
    if parse_gold(gold)[0] == GOLD:
        return "st.gold_label", "t.gold_first_error", "", []
    fsql, fparams = gold_traces_sql(gold, dataset_ids)
    joins = f"LEFT JOIN ({fsql}) gfe ON gfe.trace_id = t.trace_id"
    if not steps:
        return "NULL", "gfe.gold_first_error", joins, fparams
    gsql, gparams = gold_steps_sql(gold, dataset_ids)
    joins = f"LEFT JOIN ({gsql}) gsrc ON gsrc.trace_id = st.trace_id AND gsrc.step_idx = st.step_idx " + joins
    return "CAST(gsrc.gold_label AS TINYINT)", "gfe.gold_first_error", joins, [*gparams, *fparams]


def export_steps_sql(store: Store, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None,
                     csv_safe: bool, gold: str = GOLD, annotators: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """One row per step: identity, problem text, step text, gold label, one score column per
    scorer, predicted (per scorer) and gold first error; ``gold`` picks the gold source
    (``queries.gold``) of gold_label / gold_first_error, ``annotators`` adds one ``label[NAME]``
    column each."""
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
    g_label, g_first, g_joins, gparams = _gold_joins(gold, dataset_ids, steps=True)
    ann_cols, ann_joins, aparams = [], [], []
    for i, name in enumerate(annotators):
        ann_joins.append(f"LEFT JOIN current_step_labels c{i} ON c{i}.trace_id = st.trace_id "
                         f"AND c{i}.step_idx = st.step_idx AND c{i}.annotator = ?")
        aparams.append(str(name))
        ann_cols.append(f"c{i}.label AS {_ident(f'label[{name}]')}")

    def tx(expr: str) -> str:
        return _text(expr, csv_safe)

    cols = [
        f"{tx('d.name')} AS dataset", f"{tx('t.trace_id')} AS trace_id", f"{tx('t.source_id')} AS source_id",
        f"{tx('t.problem_id')} AS problem_id", f"{tx('p.problem')} AS problem",
        f"{tx('t.source_problem_id')} AS source_problem_id",
        f"{tx('t.generator')} AS generator", f"{tx('t.split')} AS split", f"{tx('t.category')} AS category",
        "st.step_idx", f"{tx('st.text')} AS step_text", f"{g_label} AS gold_label", *ann_cols,
        *score_cols, *pred_cols,
        f"{g_first} AS gold_first_error", f"{tx('t.error_type')} AS error_type",
    ]
    sql = f"""SELECT {', '.join(cols)}
              FROM steps st JOIN traces t USING (trace_id) JOIN datasets d ON d.dataset_id = t.dataset_id
              JOIN problems p ON p.problem_id = t.problem_id
              {' '.join(joins)} {' '.join(pred_joins)} {g_joins} {' '.join(ann_joins)}
              WHERE {where}
              ORDER BY d.created_at, d.name, t.ordinal, st.step_idx"""
    return sql, jparams + pparams + gparams + aparams + wparams


def export_traces_sql(store: Store, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None,
                      csv_safe: bool, gold: str = GOLD, annotators: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """One row per trace: identity, problem text, per-scorer aggregates (min, product, last,
    mean) and predicted first error, gold first error (of the ``gold`` source), one
    ``first_error[NAME]`` column per annotator, final answer and its correctness."""
    where, wparams = export_where(dataset_ids, filters)
    scorers = export_scorers(store, where, wparams)
    pred_cols, joins, jparams = _predicted_joins(scorers)
    agg_cols: list[str] = []
    for i, (_, name, has_steps, _) in enumerate(scorers):
        if has_steps:
            for agg in ("min", "product", "last", "mean"):
                agg_cols.append(f"a{i}.score_{agg} AS {_ident(f'score_{agg}[{name}]')}")
        agg_cols.append(pred_cols[i])
    _, g_first, g_joins, gparams = _gold_joins(gold, dataset_ids, steps=False)
    ann_cols, ann_joins, aparams = [], [], []
    for i, name in enumerate(annotators):
        fsql, fparams = gold_traces_sql(f"annotator:{name}", dataset_ids)
        ann_joins.append(f"LEFT JOIN ({fsql}) fe{i} ON fe{i}.trace_id = t.trace_id")
        aparams += fparams
        ann_cols.append(f"fe{i}.gold_first_error AS {_ident(f'first_error[{name}]')}")

    def tx(expr: str) -> str:
        return _text(expr, csv_safe)

    cols = [
        f"{tx('d.name')} AS dataset", f"{tx('t.trace_id')} AS trace_id", f"{tx('t.source_id')} AS source_id",
        f"{tx('t.problem_id')} AS problem_id", f"{tx('p.problem')} AS problem",
        f"{tx('t.source_problem_id')} AS source_problem_id",
        f"{tx('t.generator')} AS generator", f"{tx('t.split')} AS split", f"{tx('t.category')} AS category",
        "t.n_steps", *agg_cols,
        f"{g_first} AS gold_first_error", *ann_cols, f"{tx('t.error_type')} AS error_type",
        f"{tx('t.final_answer')} AS final_answer", f"{tx('p.reference_answer')} AS reference_answer",
        "t.final_answer_correct",
    ]
    sql = f"""SELECT {', '.join(cols)}
              FROM traces t JOIN datasets d ON d.dataset_id = t.dataset_id JOIN problems p ON p.problem_id = t.problem_id
              {' '.join(joins)} {g_joins} {' '.join(ann_joins)}
              WHERE {where}
              ORDER BY d.created_at, d.name, t.ordinal"""
    return sql, jparams + gparams + aparams + wparams


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
