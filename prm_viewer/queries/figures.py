"""Read-side SQL behind the paper figures: Best-of-N reranking, scorer agreement, PRMBench error
positions. Everything per trace or per step happens here in DuckDB (100k traces in well under a
second each); ``prm_viewer/analysis`` only turns the few resulting rows into statistics.

Best-of-N rules (documented once here, used by the CLI and the page):

- the samples of a problem are the run's traces of that problem that are scored by the scorer and
  have a known final-answer correctness; ``sample`` = 0-based order by position in the file;
- subsets at N: every subset of size N when there are at most ``repeats`` of them (always N = 1:
  each sample alone, and N = k: all samples of the problem), so the average is the exact
  expectation; otherwise ``repeats`` random subsets (the first N of a random permutation per
  repeat, hash of trace id, repeat and seed: deterministic for a seed); a problem with fewer than
  N samples does not count at N;
- argmax ("PRM-max") picks the sample with the highest aggregate; ties go to the lowest sample;
- PRM-weighted vote sums the aggregate over the samples of each answer and takes the heaviest
  answer; majority vote counts them; ties go to the answer of the lowest sample;
- answers are compared after trimming, removing white space and lower-casing; a trace without an
  answer is an answer of its own; an answer is right when its lowest sample is;
- pass@N: some sample in the subset is right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from prm_viewer.queries._sql import RUN_TRACES, RunRef, frame, runs_cte
from prm_viewer.store import Store

__all__ = ["AGGREGATIONS", "agreement_steps_summary", "agreement_trace_frame", "bestofn_accuracy", "bestofn_picks",
           "bestofn_sample_counts", "minimum_positions", "prmbench_error_positions"]

AGGREGATIONS = ("min", "product", "last", "mean")
"""Trace aggregates of step scores (the ``trace_score_*`` macros of ``store/schema.py``)."""

_ANSWER_KEY = ("coalesce(nullif(lower(regexp_replace(trim(tr.final_answer), '\\s+', '', 'g')), ''), "
               "'#' || tr.trace_id)")


def _samples_cte(runs: Sequence[RunRef], scorer_id: str) -> tuple[str, list[Any]]:
    """CTEs ``runs``, ``t`` (traces), ``agg`` (aggregates per scored trace) and ``s`` (samples)."""
    cte, params = runs_cte(runs)
    sql = f"""{cte},
    t AS (SELECT tr.trace_id, tr.problem_id, tr.ordinal, tr.final_answer_correct AS correct, tr.gold_first_error,
                 tr.n_steps, {_ANSWER_KEY} AS answer
          FROM {RUN_TRACES} WHERE tr.final_answer_correct IS NOT NULL),
    agg AS (SELECT ss.trace_id, trace_score_min(ss.score) AS s_min, trace_score_product(ss.score) AS s_product,
                   trace_score_last(ss.score, ss.step_idx) AS s_last, trace_score_mean(ss.score) AS s_mean
            FROM step_scores ss SEMI JOIN t ON ss.trace_id = t.trace_id
            WHERE ss.scorer_id = ? AND ss.score IS NOT NULL GROUP BY ss.trace_id),
    s AS (SELECT t.*, agg.s_min, agg.s_product, agg.s_last, agg.s_mean,
                 CAST(row_number() OVER (PARTITION BY t.problem_id ORDER BY t.ordinal, t.trace_id) - 1 AS INTEGER) AS sample,
                 CAST(count(*) OVER (PARTITION BY t.problem_id) AS INTEGER) AS k
          FROM t JOIN agg USING (trace_id))"""
    return sql, params + [scorer_id]


def bestofn_sample_counts(store: Store, runs: Sequence[RunRef], scorer_id: str) -> pd.DataFrame:
    """How many problems have k usable samples: k, n_problems (and n_traces of the runs in all)."""
    cte, params = _samples_cte(runs, scorer_id)
    sql = f"""WITH {cte}
    SELECT k, count(DISTINCT problem_id) AS n_problems FROM s GROUP BY k ORDER BY k"""
    return store.cursor().execute(sql, params).df()


def bestofn_accuracy(store: Store, runs: Sequence[RunRef], scorer_id: str, ns: Sequence[int],
                     repeats: int = 20, seed: int = 0) -> pd.DataFrame:
    """Accuracy of every selection rule at each N (module docstring for the rules).

    One row per N: n, n_problems, and for each method ``<agg>_max``, ``<agg>_vote`` (agg in
    :data:`AGGREGATIONS`), ``majority`` and ``pass``: ``<method>`` = mean over problems of the
    problem's mean correctness over its subsets, ``<method>_sd`` = the sample standard deviation
    of those per-problem means (for a confidence interval)."""
    cte, params = _samples_cte(runs, scorer_id)
    n_list = sorted({int(n) for n in ns if int(n) >= 1})
    # Integer keys do the work: a problem number, an answer number, and per aggregation the rank
    # of each sample in its problem (0 = highest aggregate, ties to the lowest sample), so an
    # argmax in a subset is a min over one integer.
    ranks = ", ".join(f"CAST(row_number() OVER (PARTITION BY problem_id ORDER BY s_{a} DESC, sample) AS INTEGER) AS r_{a}"
                      for a in AGGREGATIONS)
    cols = "pid, sample, k, correct, aid, " + ", ".join(f"s_{a}, r_{a}" for a in AGGREGATIONS)
    picks = ", ".join(f"arg_min(m.correct, m.r_{a}) AS {a}_max" for a in AGGREGATIONS)
    votes = ", ".join(f"max({{'w': v.w_{a}, 'i': -v.first, 'c': v.ans_correct}}).c AS {a}_vote" for a in AGGREGATIONS)
    weights = ", ".join(f"sum(m.s_{a}) AS w_{a}" for a in AGGREGATIONS)
    methods = [f"{a}_max" for a in AGGREGATIONS] + [f"{a}_vote" for a in AGGREGATIONS] + ["majority", "pass"]
    per_problem = ", ".join(f"avg(CAST({m} AS DOUBLE)) AS {m}" for m in methods)
    per_n = ", ".join(f"avg({m}) AS {m}, stddev_samp({m}) AS {m}_sd" for m in methods)
    sql = f"""WITH {cte},
    ns AS (SELECT unnest(?::INTEGER[]) AS n),
    x AS (SELECT CAST(dense_rank() OVER (ORDER BY problem_id) AS INTEGER) AS pid,
                 CAST(dense_rank() OVER (ORDER BY answer) AS INTEGER) AS aid, trace_id, sample, k, correct,
                 s_min, s_product, s_last, s_mean, {ranks}
          FROM s),
    -- Every subset of size n of k samples as a bit mask, where there are at most `repeats` of them
    -- (always n = 1 and n = k); k <= 16 keeps the enumeration small.
    ks AS (SELECT DISTINCT k FROM x),
    masks AS (SELECT k, n, mask, CAST(row_number() OVER (PARTITION BY k, n ORDER BY mask) - 1 AS INTEGER) AS rep,
                     count(*) OVER (PARTITION BY k, n) AS n_sub
              FROM (SELECT ks.k, ns.n, unnest(range(0, 1 << ks.k)) AS mask FROM ks JOIN ns ON ns.n <= ks.k
                    WHERE ks.k <= 16)
              WHERE bit_count(mask) = n),
    full_sets AS (SELECT k, n, mask, rep FROM masks WHERE n_sub <= ? OR n = 1 OR n = k),
    exact AS (SELECT k, n FROM full_sets GROUP BY k, n
              UNION ALL SELECT ks.k, 1 FROM ks JOIN ns ON ns.n = 1 WHERE ks.k > 16
              UNION ALL SELECT ks.k, ks.k FROM ks JOIN ns ON ns.n = ks.k WHERE ks.k > 16),
    rand AS (SELECT ks.k, ns.n FROM ks JOIN ns ON ns.n <= ks.k EXCEPT SELECT k, n FROM exact),
    perm AS (SELECT x.{cols.replace(", ", ", x.")}, r.rep,
                    row_number() OVER (PARTITION BY r.rep, x.pid ORDER BY hash(x.trace_id, r.rep, ?), x.sample) AS rk
             FROM x CROSS JOIN range(?) r(rep) WHERE x.k IN (SELECT k FROM rand)),
    m AS (SELECT f.n, f.rep, x.{cols.replace(", ", ", x.")}
          FROM x JOIN full_sets f ON f.k = x.k AND (f.mask >> x.sample) & 1 = 1
          UNION ALL
          SELECT 1 AS n, x.sample AS rep, x.{cols.replace(", ", ", x.")} FROM x WHERE x.k > 16 AND 1 IN (SELECT n FROM ns)
          UNION ALL
          SELECT x.k AS n, 0 AS rep, x.{cols.replace(", ", ", x.")} FROM x WHERE x.k > 16 AND x.k IN (SELECT n FROM ns)
          UNION ALL
          SELECT rand.n, perm.rep, perm.{cols.replace(", ", ", perm.")}
          FROM perm JOIN rand ON rand.k = perm.k AND perm.rk <= rand.n),
    pk AS (SELECT m.n, m.rep, m.pid, {picks}, bool_or(m.correct) AS pass
           FROM m GROUP BY m.n, m.rep, m.pid),
    ans AS (SELECT m.n, m.rep, m.pid, m.aid, {weights}, count(*) AS cnt, min(m.sample) AS first,
                   arg_min(m.correct, m.sample) AS ans_correct
            FROM m GROUP BY m.n, m.rep, m.pid, m.aid),
    vo AS (SELECT v.n, v.rep, v.pid, {votes}, max({{'n': v.cnt, 'i': -v.first, 'c': v.ans_correct}}).c AS majority
           FROM ans v GROUP BY v.n, v.rep, v.pid),
    pp AS (SELECT pk.n, pk.pid, {per_problem}
           FROM pk JOIN vo USING (n, rep, pid) GROUP BY pk.n, pk.pid)
    SELECT n, count(*) AS n_problems, {per_n} FROM pp GROUP BY n ORDER BY n"""
    params += [n_list, int(max(repeats, 1)), int(seed), int(max(repeats, 1))]
    return store.cursor().execute(sql, params).df()


def bestofn_picks(store: Store, runs: Sequence[RunRef], scorer_id: str) -> pd.DataFrame:
    """The argmax pick of each aggregation among ALL samples of each problem (problems with at
    least one sample): aggregation, problem_id, trace_id, correct, gold_first_error, sample, k."""
    cte, params = _samples_cte(runs, scorer_id)
    parts = " UNION ALL ".join(
        f"SELECT '{a}' AS aggregation, problem_id, arg_max(trace_id, {{'v': s_{a}, 'i': -sample}}) AS trace_id "
        f"FROM s GROUP BY problem_id" for a in AGGREGATIONS)
    sql = f"""WITH {cte}, p AS ({parts})
    SELECT p.aggregation, p.problem_id, p.trace_id, s.correct, s.gold_first_error, s.sample, s.k
    FROM p JOIN s USING (trace_id) ORDER BY p.aggregation, s.ordinal"""
    return frame(store.cursor().execute(sql, params))


def minimum_positions(store: Store, runs: Sequence[RunRef], scorer_id: str, bins: int = 10) -> pd.DataFrame:
    """Where each scored trace's lowest step score falls: relative position
    ``argmin / (n_steps - 1)`` (1 for one-step traces; earliest step on ties), binned into
    ``bins`` equal bins of [0, 1]; columns correct (final answer), bin, n, n_last (minimum on the
    last step)."""
    cte, params = runs_cte(runs)
    sql = f"""WITH {cte},
    t AS (SELECT tr.trace_id, tr.n_steps, tr.final_answer_correct AS correct FROM {RUN_TRACES}),
    a AS (SELECT ss.trace_id, arg_min(ss.step_idx, {{'s': ss.score, 'i': ss.step_idx}}) AS at_min
          FROM step_scores ss SEMI JOIN t ON ss.trace_id = t.trace_id
          WHERE ss.scorer_id = ? AND ss.score IS NOT NULL GROUP BY ss.trace_id),
    r AS (SELECT t.correct, CASE WHEN t.n_steps > 1 THEN a.at_min / (t.n_steps - 1) ELSE 1.0 END AS rel,
                 a.at_min = t.n_steps - 1 AS last
          FROM a JOIN t USING (trace_id))
    SELECT correct, CAST(least(floor(rel * ?), ? - 1) AS INTEGER) AS bin, count(*) AS n,
           count(*) FILTER (WHERE last) AS n_last
    FROM r GROUP BY ALL ORDER BY correct, bin"""
    return store.cursor().execute(sql, params + [scorer_id, int(bins), int(bins)]).df()


def _pair_cte(runs: Sequence[RunRef], a_id: str, b_id: str | None) -> tuple[str, list[Any]]:
    """CTE ``j(trace_id, step_idx, sa, sb)``: steps scored by A and by B (``b_id`` None = the gold
    labels as 0 (wrong, label -1) / 1 (not wrong))."""
    cte, params = runs_cte(runs)
    if b_id is None:
        b = """SELECT st.trace_id, st.step_idx, CASE WHEN st.gold_label = -1 THEN 0.0 ELSE 1.0 END AS score
               FROM steps st SEMI JOIN t ON st.trace_id = t.trace_id WHERE st.gold_label IS NOT NULL"""
        b_params: list[Any] = []
    else:
        b = """SELECT ss.trace_id, ss.step_idx, ss.score FROM step_scores ss SEMI JOIN t ON ss.trace_id = t.trace_id
               WHERE ss.scorer_id = ? AND ss.score IS NOT NULL"""
        b_params = [b_id]
    sql = f"""{cte},
    t AS (SELECT tr.trace_id, tr.n_steps FROM {RUN_TRACES}),
    a AS (SELECT ss.trace_id, ss.step_idx, ss.score FROM step_scores ss SEMI JOIN t ON ss.trace_id = t.trace_id
          WHERE ss.scorer_id = ? AND ss.score IS NOT NULL),
    b AS ({b}),
    j AS (SELECT a.trace_id, a.step_idx, a.score AS sa, b.score AS sb FROM a JOIN b USING (trace_id, step_idx))"""
    return sql, params + [a_id] + b_params


def agreement_steps_summary(store: Store, runs: Sequence[RunRef], a_id: str, b_id: str | None,
                            thr_a: float, thr_b: float) -> dict[str, Any]:
    """Step-level agreement on the steps both score: the 2x2 counts (``a_wrong_b_wrong``,
    ``a_wrong_b_ok``, ``a_ok_b_wrong``, ``a_ok_b_ok``; wrong = score below the scorer's
    threshold), ``n``, ``pearson`` (corr of the scores) and ``spearman`` (corr of their average
    ranks, ties sharing the mean rank, as scipy's ``spearmanr``)."""
    cte, params = _pair_cte(runs, a_id, b_id)
    sql = f"""WITH {cte},
    r AS (SELECT sa, sb,
                 rank() OVER (ORDER BY sa) + (count(*) OVER (PARTITION BY sa) - 1) / 2.0 AS ra,
                 rank() OVER (ORDER BY sb) + (count(*) OVER (PARTITION BY sb) - 1) / 2.0 AS rb
          FROM j)
    SELECT count(*) AS n,
           count(*) FILTER (WHERE sa < ? AND sb < ?) AS a_wrong_b_wrong,
           count(*) FILTER (WHERE sa < ? AND sb >= ?) AS a_wrong_b_ok,
           count(*) FILTER (WHERE sa >= ? AND sb < ?) AS a_ok_b_wrong,
           count(*) FILTER (WHERE sa >= ? AND sb >= ?) AS a_ok_b_ok,
           corr(sa, sb) AS pearson, corr(ra, rb) AS spearman
    FROM r"""
    cur = store.cursor().execute(sql, params + [float(thr_a), float(thr_b)] * 4)
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row is not None else {}


def agreement_trace_frame(store: Store, runs: Sequence[RunRef], a_id: str, b_id: str | None,
                          thr_a: float, thr_b: float) -> pd.DataFrame:
    """One row per trace with steps scored by both: trace_id, source_id, n_common (such steps),
    pred_a / pred_b (first common step below each threshold, else -1), mean_abs_diff,
    max_abs_diff and max_step (the step where they differ most; earliest on ties)."""
    cte, params = _pair_cte(runs, a_id, b_id)
    sql = f"""WITH {cte}
    SELECT j.trace_id, any_value(tr.source_id) AS source_id, count(*) AS n_common,
           trace_pred_first_error(j.step_idx, j.sa, ?) AS pred_a,
           trace_pred_first_error(j.step_idx, j.sb, ?) AS pred_b,
           avg(abs(j.sa - j.sb)) AS mean_abs_diff, max(abs(j.sa - j.sb)) AS max_abs_diff,
           arg_max(j.step_idx, {{'d': abs(j.sa - j.sb), 'i': -j.step_idx}}) AS max_step
    FROM j JOIN traces tr ON tr.trace_id = j.trace_id
    GROUP BY j.trace_id ORDER BY any_value(tr.dataset_id), any_value(tr.ordinal)"""
    return frame(store.cursor().execute(sql, params + [float(thr_a), float(thr_b)]))


def prmbench_error_positions(store: Store, runs: Sequence[RunRef], bins: int = 10) -> pd.DataFrame:
    """Where the gold error steps sit, per error class (``category``): relative position
    ``step_idx / n_steps`` binned into ``bins`` bins of [0, 1); columns category, bin, n."""
    cte, params = runs_cte(runs)
    sql = f"""WITH {cte},
    t AS (SELECT tr.trace_id, tr.n_steps, coalesce(tr.category, '(none)') AS category FROM {RUN_TRACES})
    SELECT t.category, CAST(least(floor(st.step_idx * ? / t.n_steps), ? - 1) AS INTEGER) AS bin, count(*) AS n
    FROM steps st JOIN t ON st.trace_id = t.trace_id WHERE st.gold_label = -1
    GROUP BY ALL ORDER BY t.category, bin"""
    return store.cursor().execute(sql, params + [int(bins), int(bins)]).df()
