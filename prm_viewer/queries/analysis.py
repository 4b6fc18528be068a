"""Inputs of ``prm_viewer/analysis``: per-trace and per-step frames of one or more runs.

A "run" is a dataset, optionally narrowed to one generator: runs are passed as
``(label, dataset_id, generator-or-None)`` triples and expanded into a VALUES table so one query
serves any number of runs. Per-trace and per-step work (first step below a threshold, the largest
drop, interval end points for the threshold sweep) happens here in DuckDB; the analysis functions
only aggregate the resulting columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from prm_viewer.errors import PrmViewerError
from prm_viewer.queries._sql import RUN_TRACES, RunRef, frame, runs_cte
from prm_viewer.queries.gold import GOLD, gold_steps_sql, gold_traces_sql, parse_gold
from prm_viewer.store import Store

__all__ = ["RunRef", "analysis_generators", "analysis_position_scores", "analysis_problem_texts",
           "analysis_progress_by_position", "analysis_scorers_for", "analysis_splits", "analysis_step_frame",
           "analysis_step_labels", "analysis_step_texts", "analysis_trace_frame", "analysis_trace_labels",
           "analysis_trace_steps", "analysis_traces_steps"]


def analysis_trace_frame(
    store: Store,
    runs: Sequence[RunRef],
    scorer_id: str | None = None,
    threshold: float = 0.5,
    critic_id: str | None = None,
    start_value: float = 1.0,
    with_drop: bool = True,
    gold: str = "gold",
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
    ``gold``: the gold source (``queries.gold``) whose first error is ``gold_first_error``;
    the default ``gold`` reads ``traces.gold_first_error`` as it is.
    """
    cte, params = runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS ({_run_traces(runs, gold, params)}),
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
                 trace_score_min(score) AS min_all,
                 trace_score_mean(score) AS mean_score,
                 trace_score_last(score, step_idx) AS last_score,
                 max(score) FILTER (WHERE step_idx = g) AS s_gold,
                 min(score) FILTER (WHERE step_idx < g) AS m_before,
                 trace_pred_first_error(step_idx, score, ?) AS pred_threshold,
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
    return frame(store.cursor().execute(sql, params))


def _run_traces(runs: Sequence[RunRef], gold: str, params: list[Any]) -> str:
    """SELECT of the runs' traces (``r.run, tr.*``), with ``gold_first_error`` replaced by the gold
    source's when it is not the imported gold (its parameters appended to ``params``)."""
    if parse_gold(gold)[0] == GOLD:
        return f"SELECT r.run, tr.* FROM {RUN_TRACES}"
    gsql, gparams = gold_traces_sql(gold, [str(r[1]) for r in runs])
    params += gparams
    return f"""SELECT r.run, tr.* REPLACE (g.gold_first_error AS gold_first_error)
               FROM {RUN_TRACES} LEFT JOIN ({gsql}) g ON g.trace_id = tr.trace_id"""


def analysis_position_scores(
    store: Store, runs: Sequence[RunRef], scorer_id: str, bins: int = 10, shared_by: str | None = None
) -> pd.DataFrame:
    """Scored steps as numbers only: run_index (position of the run in ``runs``), rel_bin
    (``floor(step_idx * bins / n_steps)``), score. With ``shared_by`` ('problem_id' or
    'source_problem_id') only problems that every run has."""
    cte, params = runs_cte(runs)
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
    t AS (SELECT r.run, tr.trace_id, tr.problem_id, tr.source_problem_id, tr.n_steps FROM {RUN_TRACES}),
    ts AS (SELECT t.trace_id, t.run, t.n_steps FROM t {shared})
    SELECT CAST(idx.run_index AS TINYINT) AS run_index,
           CAST(least(floor(ss.step_idx * ? / ts.n_steps), ? - 1) AS SMALLINT) AS rel_bin, ss.score
    FROM step_scores ss JOIN ts ON ss.trace_id = ts.trace_id JOIN idx ON idx.run = ts.run
    WHERE ss.scorer_id = ? AND ss.score IS NOT NULL"""
    params += [int(bins), int(bins), scorer_id]
    return frame(store.cursor().execute(sql, params))


def analysis_step_frame(
    store: Store, runs: Sequence[RunRef], scorer_ids: Sequence[str], bins: int = 10, start_value: float | None = None
) -> pd.DataFrame:
    """Scored steps of the runs for the given scorers: run, scorer_id, trace_id, problem_id,
    step_idx, n_steps, rel_bin (relative position ``floor(step_idx * bins / n_steps)``), score,
    progress (score minus the previous scored step's score; for the first step, minus
    ``start_value``, or NULL when it is None)."""
    cte, params = runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.problem_id, tr.n_steps FROM {RUN_TRACES})
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
    cte, params = runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.n_steps FROM {RUN_TRACES}),
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


def analysis_step_labels(store: Store, runs: Sequence[RunRef], scorer_id: str, gold: str = "gold") -> pd.DataFrame:
    """Labelled, scored steps (for PRMBench-style step F1): run, trace_id, split, generator,
    category, step_idx, gold_label (+1/0/-1), score. ``gold``: the gold source's step labels
    (``queries.gold``); the default reads ``steps.gold_label`` of traces with step labels."""
    cte, params = runs_cte(runs)
    if parse_gold(gold)[0] != GOLD:
        gsql, gparams = gold_steps_sql(gold, [str(r[1]) for r in runs])
        sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.split, tr.generator, tr.category FROM {RUN_TRACES})
    SELECT t.run, t.trace_id, t.split, t.generator, t.category, g.step_idx, g.gold_label, ss.score
    FROM t JOIN ({gsql}) g ON g.trace_id = t.trace_id
    JOIN step_scores ss ON ss.trace_id = g.trace_id AND ss.step_idx = g.step_idx AND ss.scorer_id = ?
    WHERE ss.score IS NOT NULL
    ORDER BY t.run, t.trace_id, g.step_idx"""
        return store.cursor().execute(sql, [*params, *gparams, scorer_id]).df()
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.split, tr.generator, tr.category FROM {RUN_TRACES}
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
    cte, params = runs_cte(runs)
    sql = f"""
    WITH {cte},
    t AS (SELECT r.run, tr.trace_id, tr.problem_id, tr.final_answer FROM {RUN_TRACES})
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
        """WITH k AS (SELECT DISTINCT scorer_id, kind FROM scored_datasets
                 WHERE dataset_id IN (SELECT unnest(?::VARCHAR[])))
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


def analysis_trace_labels(
    store: Store, trace_ids: Sequence[str], scorer_id: str | None = None, threshold: float | None = None
) -> pd.DataFrame:
    """What a reader recognises a trace by, for links and the side-by-side view: trace_id,
    dataset, generator, source_id, problem (text), final_answer, final_answer_correct,
    gold_first_error, n_steps, and pred_first_error (first step of ``scorer_id`` below
    ``threshold`` -- the scorer's own when None --, -1 none; NULL without a scorer or scores).
    In the order of ``trace_ids``."""
    sql = """
    WITH ids AS (SELECT unnest(?::VARCHAR[]) AS trace_id, generate_subscripts(?::VARCHAR[], 1) AS k),
    pred AS (SELECT ss.trace_id, trace_pred_first_error(ss.step_idx, ss.score, coalesce(?, sc.threshold)) AS pfe
             FROM step_scores ss JOIN scorers sc ON sc.scorer_id = ss.scorer_id
             WHERE ss.scorer_id = ? AND ss.score IS NOT NULL AND ss.trace_id IN (SELECT trace_id FROM ids)
             GROUP BY ss.trace_id)
    SELECT t.trace_id, d.name AS dataset, t.generator, t.source_id, p.problem, t.final_answer,
           t.final_answer_correct, t.gold_first_error, t.n_steps, pred.pfe AS pred_first_error
    FROM ids JOIN traces t ON t.trace_id = ids.trace_id JOIN datasets d ON d.dataset_id = t.dataset_id
    JOIN problems p ON p.problem_id = t.problem_id LEFT JOIN pred ON pred.trace_id = t.trace_id
    ORDER BY ids.k"""
    ids = [str(t) for t in trace_ids]
    return store.cursor().execute(sql, [ids, ids, threshold, scorer_id]).df()


def analysis_traces_steps(store: Store, trace_ids: Sequence[str], scorer_id: str | None = None) -> pd.DataFrame:
    """Steps of the given traces with one scorer's score: trace_id, step_idx, text, gold_label,
    score (NULL when unscored or without a scorer), ordered by trace and step."""
    return store.cursor().execute(
        """SELECT st.trace_id, st.step_idx, st.text, st.gold_label, ss.score
           FROM steps st LEFT JOIN step_scores ss
                ON ss.trace_id = st.trace_id AND ss.step_idx = st.step_idx AND ss.scorer_id = ?
           WHERE st.trace_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY st.trace_id, st.step_idx""",
        [scorer_id, [str(t) for t in trace_ids]],
    ).df()
