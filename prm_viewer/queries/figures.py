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

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from prm_viewer.queries._sql import RUN_TRACES, RunRef, frame, runs_cte
from prm_viewer.store import Store

__all__ = ["AGGREGATIONS", "AgreementSource", "agreement_source", "agreement_steps_summary", "agreement_trace_frame", "bestofn_accuracy", "bestofn_picks",
           "bestofn_sample_counts", "BestOfNSource", "bestofn_source", "minimum_positions", "prmbench_error_positions"]

AGGREGATIONS = ("min", "product", "last", "mean")
"""Trace aggregates of step scores (the ``trace_score_*`` macros of ``store/schema.py``)."""

_ANSWER_KEY = ("coalesce(nullif(lower(regexp_replace(trim(tr.final_answer), '\\s+', '', 'g')), ''), "
               "'#' || tr.trace_id)")

Relation = tuple[str, list[Any]]
"""A SQL SELECT and its parameters."""


def _trace_scores(runs: Sequence[RunRef], scorer_id: str) -> Relation:
    """The one pass over the step scores that every Best-of-N read shares
    (:class:`BestOfNSource` materialises it once). One row per trace of the runs with at least
    one score from the scorer: trace_id, ordinal, n_steps, correct (NULL = unknown), s_min /
    s_product / s_last / s_mean (the ``trace_score_*`` macros), at_min (the earliest step with
    the lowest score); and, for the samples (a known correctness; NULL on the other rows):
    sample and k (module docstring), pid and aid (integer keys of the problem and of the answer's
    comparison key) and r_<agg> per aggregation (the rank in its problem: 0 = highest aggregate,
    ties to the lowest sample, i.e. the argmax)."""
    cte, params = runs_cte(runs)
    ranks = ", ".join(f"CAST(row_number() OVER (PARTITION BY pid ORDER BY s_{a} DESC, sample) - 1 AS INTEGER) AS r_{a}"
                      for a in AGGREGATIONS)
    sql = f"""WITH {cte},
    t AS (SELECT tr.trace_id, tr.problem_id, tr.ordinal, tr.n_steps, tr.final_answer_correct AS correct,
                 {_ANSWER_KEY} AS answer
          FROM {RUN_TRACES}),
    a AS (SELECT t.*, g.s_min, g.s_product, g.s_last, g.s_mean, g.at_min
          FROM t JOIN (SELECT ss.trace_id, trace_score_min(ss.score) AS s_min, trace_score_product(ss.score) AS s_product,
                              trace_score_last(ss.score, ss.step_idx) AS s_last, trace_score_mean(ss.score) AS s_mean,
                              arg_min(ss.step_idx, {{'s': ss.score, 'i': ss.step_idx}}) AS at_min
                       FROM step_scores ss SEMI JOIN t ON ss.trace_id = t.trace_id
                       WHERE ss.scorer_id = ? AND ss.score IS NOT NULL GROUP BY ss.trace_id) g USING (trace_id)),
    -- The strings become integer keys here and are not carried further (each window below
    -- copies its rows).
    p AS (SELECT * EXCLUDE (problem_id, answer), CAST(dense_rank() OVER (ORDER BY problem_id) AS INTEGER) AS pid,
                 CAST(dense_rank() OVER (ORDER BY answer) AS INTEGER) AS aid
          FROM a WHERE correct IS NOT NULL),
    s AS (SELECT *, CAST(row_number() OVER (PARTITION BY pid ORDER BY ordinal, trace_id) - 1 AS INTEGER) AS sample,
                 CAST(count(*) OVER (PARTITION BY pid) AS INTEGER) AS k
          FROM p)
    SELECT *, {ranks} FROM s
    UNION ALL BY NAME SELECT * EXCLUDE (problem_id, answer) FROM a WHERE correct IS NULL"""
    return sql, params + [scorer_id]


def _counts_sql() -> str:
    return "SELECT k, count(DISTINCT pid) AS n_problems FROM ts WHERE sample IS NOT NULL GROUP BY k ORDER BY k"


def _accuracy_sql(ns: Sequence[int], repeats: int, seed: int) -> Relation:
    n_list = sorted({int(n) for n in ns if int(n) >= 1})
    # Within one subset the samples are distinct, so "the best-ranked sample and its correctness"
    # is one integer min over ``2 * rank + correct``, and "the lowest sample of an answer and its
    # correctness" one min over ``2 * sample + correct`` (``fc``).
    cols = "pid, sample, k, correct, aid, " + ", ".join(f"s_{a}, r_{a}" for a in AGGREGATIONS)
    weights = ", ".join(f"sum(m.s_{a}) AS w_{a}, min(2 * m.r_{a} + m.correct::INTEGER) AS p_{a}" for a in AGGREGATIONS)
    picks = ", ".join(f"min(v.p_{a}) % 2 = 1 AS {a}_max" for a in AGGREGATIONS)
    # The heaviest answer, ties to the answer of the lowest sample (``fc`` orders them the same way).
    votes = ", ".join(f"first(v.fc ORDER BY v.w_{a} DESC, v.fc) % 2 = 1 AS {a}_vote" for a in AGGREGATIONS)
    # Majority: the most samples, ties to the lowest sample, as one integer: count, then the
    # complement of the answer's lowest sample, then its correctness bit.
    majority = "max((v.cnt::BIGINT << 32) | ((2147483647 - (v.fc >> 1))::BIGINT << 1) | (v.fc % 2)) % 2 = 1 AS majority"
    methods = [f"{a}_max" for a in AGGREGATIONS] + [f"{a}_vote" for a in AGGREGATIONS] + ["majority", "pass"]
    per_problem = ", ".join(f"avg(CAST({m} AS DOUBLE)) AS {m}" for m in methods)
    one = ", ".join(f"avg(CAST(correct AS DOUBLE)) AS {m}" for m in methods)
    per_n = ", ".join(f"avg({m}) AS {m}, stddev_samp({m}) AS {m}_sd" for m in methods)
    sql = f"""WITH x AS (SELECT trace_id, {cols} FROM ts WHERE sample IS NOT NULL),
    ns AS (SELECT unnest(?::INTEGER[]) AS n),
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
    -- The subsets of size n > 1 (N = 1 is below: every sample alone).
    m AS (SELECT f.n, f.rep, x.{cols.replace(", ", ", x.")}
          FROM x JOIN full_sets f ON f.k = x.k AND f.n > 1 AND (f.mask >> x.sample) & 1 = 1
          UNION ALL
          SELECT x.k AS n, 0 AS rep, x.{cols.replace(", ", ", x.")} FROM x WHERE x.k > 16 AND x.k IN (SELECT n FROM ns)
          UNION ALL
          SELECT rand.n, perm.rep, perm.{cols.replace(", ", ", perm.")}
          FROM perm JOIN rand ON rand.k = perm.k AND perm.rk <= rand.n),
    -- One row per subset and answer: its weights, size, lowest sample (with its correctness) and
    -- the best-ranked sample per aggregation; then one row per subset.
    ans AS (SELECT m.n, m.rep, m.pid, {weights}, count(*) AS cnt, min(2 * m.sample + m.correct::INTEGER) AS fc,
                   bool_or(m.correct) AS ok
            FROM m GROUP BY m.n, m.rep, m.pid, m.aid),
    vo AS (SELECT v.n, v.pid, {picks}, {votes}, {majority}, bool_or(v.ok) AS pass
           FROM ans v GROUP BY v.n, v.rep, v.pid),
    pp AS (SELECT n, pid, {per_problem} FROM vo GROUP BY n, pid
           UNION ALL
           -- N = 1: each sample alone is picked, voted for and passed exactly when it is right.
           SELECT 1 AS n, pid, {one} FROM x WHERE 1 IN (SELECT n FROM ns) GROUP BY pid)
    SELECT n, count(*) AS n_problems, {per_n} FROM pp GROUP BY n ORDER BY n"""
    return sql, [n_list, int(max(repeats, 1)), int(seed), int(max(repeats, 1))]


def _picks_sql() -> str:
    parts = " UNION ALL ".join(f"SELECT '{a}' AS aggregation, trace_id, correct, sample, k, ordinal FROM ts "
                               f"WHERE r_{a} = 0" for a in AGGREGATIONS)
    # The gold first error of each pick: one lookup, kept apart.
    return f"""WITH p AS ({parts})
    SELECT p.aggregation, g.problem_id, p.trace_id, p.correct, g.gold_first_error, p.sample, p.k
    FROM p JOIN traces g ON g.trace_id = p.trace_id ORDER BY p.aggregation, p.ordinal"""


def _minimum_sql(bins: int) -> Relation:
    sql = """WITH r AS (SELECT correct, CASE WHEN n_steps > 1 THEN at_min / (n_steps - 1) ELSE 1.0 END AS rel,
                        at_min = n_steps - 1 AS last FROM ts)
    SELECT correct, CAST(least(floor(rel * ?), ? - 1) AS INTEGER) AS bin, count(*) AS n,
           count(*) FILTER (WHERE last) AS n_last
    FROM r GROUP BY ALL ORDER BY correct, bin"""
    return sql, [int(bins), int(bins)]


def _over_trace_scores(store: Store, runs: Sequence[RunRef], scorer_id: str, sql: str, params: list[Any]) -> Any:
    """Run ``sql`` (which reads ``ts``) with ``ts`` as a CTE of :func:`_trace_scores`."""
    ts_sql, ts_params = _trace_scores(runs, scorer_id)
    body = sql[len("WITH "):] if sql.startswith("WITH ") else f"q AS ({sql}) SELECT * FROM q"
    return store.cursor().execute(f"WITH ts AS ({ts_sql}), {body}", ts_params + params)


def bestofn_sample_counts(store: Store, runs: Sequence[RunRef], scorer_id: str) -> pd.DataFrame:
    """How many problems have k usable samples: k, n_problems (and n_traces of the runs in all)."""
    return _over_trace_scores(store, runs, scorer_id, _counts_sql(), []).df()


def bestofn_accuracy(store: Store, runs: Sequence[RunRef], scorer_id: str, ns: Sequence[int],
                     repeats: int = 20, seed: int = 0) -> pd.DataFrame:
    """Accuracy of every selection rule at each N (module docstring for the rules).

    One row per N: n, n_problems, and for each method ``<agg>_max``, ``<agg>_vote`` (agg in
    :data:`AGGREGATIONS`), ``majority`` and ``pass``: ``<method>`` = mean over problems of the
    problem's mean correctness over its subsets, ``<method>_sd`` = the sample standard deviation
    of those per-problem means (for a confidence interval)."""
    sql, params = _accuracy_sql(ns, repeats, seed)
    return _over_trace_scores(store, runs, scorer_id, sql, params).df()


def bestofn_picks(store: Store, runs: Sequence[RunRef], scorer_id: str) -> pd.DataFrame:
    """The argmax pick of each aggregation among ALL samples of each problem (problems with at
    least one sample): aggregation, problem_id, trace_id, correct, gold_first_error, sample, k."""
    return frame(_over_trace_scores(store, runs, scorer_id, _picks_sql(), []))


def minimum_positions(store: Store, runs: Sequence[RunRef], scorer_id: str, bins: int = 10) -> pd.DataFrame:
    """Where each scored trace's lowest step score falls: relative position
    ``argmin / (n_steps - 1)`` (1 for one-step traces; earliest step on ties), binned into
    ``bins`` equal bins of [0, 1]; columns correct (final answer), bin, n, n_last (minimum on the
    last step)."""
    sql, params = _minimum_sql(bins)
    return _over_trace_scores(store, runs, scorer_id, sql, params).df()


class BestOfNSource:
    """The per-trace scores of one run and scorer, computed ONCE (one pass over the step scores)
    into a temporary table of this thread's cursor, and every Best-of-N read over it: ``counts``
    (as :func:`bestofn_sample_counts`), ``accuracy`` (:func:`bestofn_accuracy`), ``picks``
    (:func:`bestofn_picks`) and ``minimum`` (:func:`minimum_positions`). Use through
    :func:`bestofn_source`, which drops the table."""

    def __init__(self, store: Store, runs: Sequence[RunRef], scorer_id: str) -> None:
        self.cur = store.cursor()
        self.name = f"bestofn_ts_{uuid.uuid4().hex}"
        ts_sql, ts_params = _trace_scores(runs, scorer_id)
        self.cur.execute(f"CREATE TEMP TABLE {self.name} AS {ts_sql}", ts_params)

    def _run(self, sql: str, params: list[Any]) -> Any:
        body = sql[len("WITH "):] if sql.startswith("WITH ") else f"q AS ({sql}) SELECT * FROM q"
        return self.cur.execute(f"WITH ts AS (SELECT * FROM {self.name}), {body}", params)

    def counts(self) -> pd.DataFrame:
        return self._run(_counts_sql(), []).df()

    def accuracy(self, ns: Sequence[int], repeats: int = 20, seed: int = 0) -> pd.DataFrame:
        return self._run(*_accuracy_sql(ns, repeats, seed)).df()

    def picks(self) -> pd.DataFrame:
        return frame(self._run(_picks_sql(), []))

    def minimum(self, bins: int = 10) -> pd.DataFrame:
        return self._run(*_minimum_sql(bins)).df()

    def close(self) -> None:
        self.cur.execute(f"DROP TABLE IF EXISTS {self.name}")


@contextmanager
def bestofn_source(store: Store, runs: Sequence[RunRef], scorer_id: str) -> Iterator[BestOfNSource]:
    """A :class:`BestOfNSource` for the block (its temporary table is dropped at the end)."""
    src = BestOfNSource(store, runs, scorer_id)
    try:
        yield src
    finally:
        src.close()


def _run_map(runs: Sequence[RunRef]) -> Relation:
    """``tmap(tk, trace_id, source_id, dataset_id, ordinal)``: the traces of the runs, each with an
    integer key ``tk`` (so that the per-step pairs carry no trace-id string)."""
    cte, params = runs_cte(runs)
    return (f"""WITH {cte} SELECT CAST(row_number() OVER () AS INTEGER) AS tk, tr.trace_id, tr.source_id, tr.dataset_id,
               tr.ordinal FROM {RUN_TRACES}""", params)


def _pairs(a_id: str, b_id: str | None) -> Relation:
    """``(tk, step_idx, sa, sb)``: the steps of the traces of ``tmap`` scored by A and by B
    (``b_id`` None = the gold labels as 0 (wrong, label -1) / 1 (not wrong)). The one pass over
    the step rows that every agreement read shares (:class:`AgreementSource` materialises it)."""
    # Each side gets its integer trace key first (which also keeps the run's traces only), so the
    # pairing join is on two integers, not on the trace-id string.
    if b_id is None:
        b = """SELECT t.tk, st.step_idx, CASE WHEN st.gold_label = -1 THEN 0.0 ELSE 1.0 END AS score
               FROM steps st JOIN tmap t ON t.trace_id = st.trace_id WHERE st.gold_label IS NOT NULL"""
        b_params: list[Any] = []
    else:
        b = """SELECT t.tk, ss.step_idx, ss.score FROM step_scores ss JOIN tmap t ON t.trace_id = ss.trace_id
               WHERE ss.scorer_id = ? AND ss.score IS NOT NULL"""
        b_params = [b_id]
    sql = f"""WITH a AS (SELECT t.tk, ss.step_idx, ss.score FROM step_scores ss JOIN tmap t ON t.trace_id = ss.trace_id
               WHERE ss.scorer_id = ? AND ss.score IS NOT NULL),
    b AS ({b})
    SELECT a.tk, a.step_idx, a.score AS sa, b.score AS sb FROM a JOIN b USING (tk, step_idx)"""
    return sql, [a_id] + b_params


def _summary_sql(thr_a: float, thr_b: float) -> Relation:
    # Average ranks for Spearman with ONE window (one sort) per side: rank() is a tie group's
    # lowest rank, count(*) up to the current row's peers its highest; the mean of the two is
    # the rank ties share (as scipy's ``rankdata``).
    sql = """WITH ra AS (SELECT sa, sb, (rank() OVER (ORDER BY sa) + count(*) OVER (ORDER BY sa)) / 2.0 AS ra FROM j),
    r AS (SELECT sa, sb, ra, (rank() OVER (ORDER BY sb) + count(*) OVER (ORDER BY sb)) / 2.0 AS rb FROM ra)
    SELECT count(*) AS n,
           count(*) FILTER (WHERE sa < ? AND sb < ?) AS a_wrong_b_wrong,
           count(*) FILTER (WHERE sa < ? AND sb >= ?) AS a_wrong_b_ok,
           count(*) FILTER (WHERE sa >= ? AND sb < ?) AS a_ok_b_wrong,
           count(*) FILTER (WHERE sa >= ? AND sb >= ?) AS a_ok_b_ok,
           corr(sa, sb) AS pearson, corr(ra, rb) AS spearman
    FROM r"""
    return sql, [float(thr_a), float(thr_b)] * 4


def _trace_frame_sql(thr_a: float, thr_b: float) -> Relation:
    # Per trace first (900k step rows -> 100k, on the integer key), then its ids and file order.
    sql = """WITH g AS (SELECT tk, count(*) AS n_common,
                      trace_pred_first_error(step_idx, sa, ?) AS pred_a, trace_pred_first_error(step_idx, sb, ?) AS pred_b,
                      avg(abs(sa - sb)) AS mean_abs_diff, max(abs(sa - sb)) AS max_abs_diff,
                      arg_max(step_idx, {'d': abs(sa - sb), 'i': -step_idx}) AS max_step
               FROM j GROUP BY tk)
    SELECT t.trace_id, t.source_id, g.n_common, g.pred_a, g.pred_b, g.mean_abs_diff, g.max_abs_diff, g.max_step
    FROM g JOIN tmap t USING (tk) ORDER BY t.dataset_id, t.ordinal"""
    return sql, [float(thr_a), float(thr_b)]


def _over_pairs(store: Store, runs: Sequence[RunRef], a_id: str, b_id: str | None, sql: str, params: list[Any]) -> Any:
    m_sql, m_params = _run_map(runs)
    j_sql, j_params = _pairs(a_id, b_id)
    return store.cursor().execute(f"WITH tmap AS ({m_sql}), j AS ({j_sql}), {sql[len('WITH '):]}",
                                  m_params + j_params + params)


def _summary_row(cur: Any) -> dict[str, Any]:
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row)) if row is not None else {}


def agreement_steps_summary(store: Store, runs: Sequence[RunRef], a_id: str, b_id: str | None,
                            thr_a: float, thr_b: float) -> dict[str, Any]:
    """Step-level agreement on the steps both score: the 2x2 counts (``a_wrong_b_wrong``,
    ``a_wrong_b_ok``, ``a_ok_b_wrong``, ``a_ok_b_ok``; wrong = score below the scorer's
    threshold), ``n``, ``pearson`` (corr of the scores) and ``spearman`` (corr of their average
    ranks, ties sharing the mean rank, as scipy's ``spearmanr``)."""
    return _summary_row(_over_pairs(store, runs, a_id, b_id, *_summary_sql(thr_a, thr_b)))


def agreement_trace_frame(store: Store, runs: Sequence[RunRef], a_id: str, b_id: str | None,
                          thr_a: float, thr_b: float) -> pd.DataFrame:
    """One row per trace with steps scored by both: trace_id, source_id, n_common (such steps),
    pred_a / pred_b (first common step below each threshold, else -1), mean_abs_diff,
    max_abs_diff and max_step (the step where they differ most; earliest on ties)."""
    return frame(_over_pairs(store, runs, a_id, b_id, *_trace_frame_sql(thr_a, thr_b)))


class AgreementSource:
    """The step pairs of two scorers (or a scorer and the gold labels) on one run, joined ONCE
    into temporary tables of this thread's cursor, and the agreement reads over them:
    ``summary`` (as :func:`agreement_steps_summary`) and ``traces``
    (:func:`agreement_trace_frame`). Use through :func:`agreement_source`."""

    def __init__(self, store: Store, runs: Sequence[RunRef], a_id: str, b_id: str | None) -> None:
        self.cur = store.cursor()
        self.name = f"agreement_{uuid.uuid4().hex}"
        m_sql, m_params = _run_map(runs)
        self.cur.execute(f"CREATE TEMP TABLE {self.name}_t AS {m_sql}", m_params)
        try:
            j_sql, j_params = _pairs(a_id, b_id)
            self.cur.execute(f"CREATE TEMP TABLE {self.name}_j AS WITH tmap AS (SELECT * FROM {self.name}_t), "
                             f"{j_sql[len('WITH '):]}", j_params)
        except BaseException:
            self.close()
            raise

    def _run(self, sql: str, params: list[Any]) -> Any:
        return self.cur.execute(f"WITH tmap AS (SELECT * FROM {self.name}_t), j AS (SELECT * FROM {self.name}_j), "
                                f"{sql[len('WITH '):]}", params)

    def summary(self, thr_a: float, thr_b: float) -> dict[str, Any]:
        return _summary_row(self._run(*_summary_sql(thr_a, thr_b)))

    def traces(self, thr_a: float, thr_b: float) -> pd.DataFrame:
        return frame(self._run(*_trace_frame_sql(thr_a, thr_b)))

    def close(self) -> None:
        self.cur.execute(f"DROP TABLE IF EXISTS {self.name}_j")
        self.cur.execute(f"DROP TABLE IF EXISTS {self.name}_t")


@contextmanager
def agreement_source(store: Store, runs: Sequence[RunRef], a_id: str, b_id: str | None) -> Iterator[AgreementSource]:
    """An :class:`AgreementSource` for the block (its temporary tables are dropped at the end)."""
    src = AgreementSource(store, runs, a_id, b_id)
    try:
        yield src
    finally:
        src.close()


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
