"""Explorer reads: filtering, sorting and paging traces in SQL, so that 100k traces stay
responsive; pages only ever hold one page of rows. The Trace page steps through the same order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.queries._sql import in_list as _in_list
from prm_viewer.store import Store


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
        # The trace_aggregates view's macros, with the scorer filter applied before grouping.
        agg = """LEFT JOIN (SELECT trace_id, trace_score_min(score) AS score_min,
                                  trace_score_last(score, step_idx) AS score_last,
                                  trace_score_mean(score) AS score_mean,
                                  trace_pred_first_error(step_idx, score, ?) AS pred_step
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
    row = store.cursor().execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
    return int(row[0]) if row else 0


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
            """WITH per AS (SELECT scorer_id, list(DISTINCT dataset_id ORDER BY dataset_id) AS dataset_ids
                            FROM scored_datasets GROUP BY scorer_id)
               SELECT sc.scorer_id, sc.name, sc.recipe, sc.threshold, sc.synthetic, per.dataset_ids
               FROM scorers sc JOIN per ON per.scorer_id = sc.scorer_id
               ORDER BY sc.created_at, sc.name""").df(),
    }
    for key, column in (("generators", "generator"), ("categories", "category"), ("splits", "split")):
        out[key] = [r[0] for r in cur.execute(
            f"SELECT DISTINCT {column} FROM traces WHERE {column} IS NOT NULL ORDER BY 1").fetchall()]
    return out


def heatmap_scores(store: Store, scorer_id: str, trace_ids: Sequence[str], max_step: int | None = None) -> pd.DataFrame:
    """``trace_id, step_idx, score`` of one scorer on the given traces (one Explorer page);
    with ``max_step``, only steps below it (the heatmap's columns)."""
    return store.cursor().execute(
        """SELECT trace_id, step_idx, score FROM step_scores
           WHERE scorer_id = ? AND trace_id IN (SELECT unnest(?::VARCHAR[])) AND (? IS NULL OR step_idx < ?)""",
        [scorer_id, [str(t) for t in trace_ids], max_step, max_step],
    ).df()
