"""Run A vs run B on the problems they share: accuracy with paired bootstrap CIs and an exact
McNemar test, step-score distributions, first-error position, trace length, process/answer
disagreement rates, per-group breakdown, and the problems where the runs differ most.

Pure functions over two per-trace frames (``queries.analysis_trace_frame``) and, for
per-position score distributions, ``queries.analysis_position_scores``.
Problems are paired on ``problem_id`` (hash of the normalised text) or, on request, on the
source's problem id. With several samples per problem, a problem's accuracy is the mean over
its samples (the bootstrap resamples problems), and McNemar uses each problem's first sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from prm_viewer.analysis.stats import (
    Interval, McNemar, mcnemar_exact, paired_bootstrap, paired_effects, paired_odds_ratio, proportion_diff,
    two_sample,
)
from prm_viewer.errors import PrmViewerError

PAIR_KEYS = {"problem": "problem_id", "source_id": "source_problem_id"}
"""How problems are matched: by normalised text hash (default) or by the source's problem id."""


def per_problem(frame: pd.DataFrame, key: str = "problem_id") -> pd.DataFrame:
    """One row per problem: n_traces, acc (mean correctness over samples with a known answer),
    first_trace / first_correct / first_source (the lowest-ordinal sample and its source id),
    problem_ref (a problem_id, for the problem's text), mean_min (mean trace-minimum score),
    split, category."""
    # Only the columns used below: sorting and grouping copy every column they carry.
    cols = [c for c in dict.fromkeys([key, "dataset_id", "ordinal", "trace_id", "final_answer_correct", "split",
                                      "category", "min_all", "source_id", "problem_id"]) if c in frame]
    f = frame.loc[frame[key].notna(), cols].sort_values(["dataset_id", "ordinal"])
    correct = f["final_answer_correct"].astype("float")
    d = f.assign(_c=correct)
    g = d.groupby(key, sort=False)
    out = pd.DataFrame({
        "n_traces": g.size(),
        "acc": g["_c"].mean(),
        "first_trace": g["trace_id"].first(),
        "first_correct": g["_c"].first(),  # first non-null; refined below to the first sample
        "split": g["split"].first(),
        "category": g["category"].first(),
    })
    if "source_id" in f:
        out["first_source"] = g["source_id"].first()
    if "problem_id" in f:
        out["problem_ref"] = g["problem_id"].first()
    first_rows = d.drop_duplicates(key)
    out["first_correct"] = first_rows.set_index(key)["_c"].reindex(out.index)
    if "min_all" in f:
        out["mean_min"] = g["min_all"].mean()
    return out


def pair(fa: pd.DataFrame, fb: pd.DataFrame, key: str = "problem_id") -> pd.DataFrame:
    """Shared problems with A's and B's per-problem values side by side (suffixes _a, _b)."""
    fa, fb = shared_traces(fa, 2, key), shared_traces(fb, 2, key)
    pa, pb = per_problem(fa, key), per_problem(fb, key)
    p = pa.join(pb, how="inner", lsuffix="_a", rsuffix="_b")
    p.index.name = "problem_key"
    return p


@dataclass(frozen=True)
class Accuracy:
    n_problems: int
    """Shared problems where both runs have a known final-answer correctness."""
    a: Interval
    b: Interval
    diff: Interval
    """B minus A, paired bootstrap."""
    mcnemar: McNemar


def accuracy(pairs: pd.DataFrame, n_resamples: int = 2000, seed: int = 0) -> Accuracy:
    both = pairs[pairs["acc_a"].notna() & pairs["acc_b"].notna()]
    a_ci, b_ci, d_ci = paired_bootstrap(both["acc_a"].to_numpy(), both["acc_b"].to_numpy(), n_resamples, seed=seed)
    first = pairs[pairs["first_correct_a"].notna() & pairs["first_correct_b"].notna()]
    mc = mcnemar_exact(first["first_correct_a"].to_numpy() > 0.5, first["first_correct_b"].to_numpy() > 0.5)
    return Accuracy(len(both), a_ci, b_ci, d_ci, mc)


SHARED_COUNT = {"problem_id": "runs_with_problem", "source_problem_id": "runs_with_source_problem"}


def shared_traces(frame: pd.DataFrame, n_runs: int = 2, key: str = "problem_id") -> pd.DataFrame:
    """The traces whose problem every run has (counted in SQL: ``runs_with_problem``)."""
    shared = (frame[SHARED_COUNT[key]] == n_runs).to_numpy()
    # A row filter copies every column (string columns by random gathers: 16 s at 1M traces per
    # run); when every problem is shared, as in a paired comparison, there is nothing to drop.
    return frame if shared.all() else frame[shared]


def score_by_position(positions: pd.DataFrame) -> pd.DataFrame:
    """Step-score distributions per relative-position bin from ``queries.analysis_position_scores``
    (run_index 0 = A, 1 = B): rel_bin, n/mean/median per side, Mann-Whitney p-value per bin."""
    rows = []
    run = positions["run_index"].to_numpy()
    rel = positions["rel_bin"].to_numpy()
    score = positions["score"].to_numpy(dtype=float)
    order = np.lexsort((run, rel))  # one sort, then contiguous slices per (bin, run)
    rel, run, score = rel[order], run[order], score[order]
    for b in np.unique(rel):  # one iteration per position bin (about 10), not per trace
        lo, hi = np.searchsorted(rel, b, "left"), np.searchsorted(rel, b, "right")
        r, v = run[lo:hi], score[lo:hi]
        t = two_sample(v[r == 0], v[r == 1], ks=False)
        rows.append({"rel_bin": int(b), **asdict(t)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Rates:
    """Answer/process disagreement, with the counts behind each rate."""

    source: str
    """'gold' (gold first error) or 'predicted' (the scorer's threshold prediction)."""
    right_flawed: float | None
    """Share of traces with a correct final answer that contain an error."""
    n_right: int
    n_right_flawed: int
    wrong_clean: float | None
    """Share of traces with a wrong final answer that contain no error."""
    n_wrong: int
    n_wrong_clean: int


def process_rates(frame: pd.DataFrame, source: str = "gold") -> Rates:
    col = "gold_first_error" if source == "gold" else "pred_threshold"
    if col not in frame:
        return Rates(source, None, 0, 0, None, 0, 0)
    f = frame[frame[col].notna() & frame["final_answer_correct"].notna()]
    if source == "predicted" and "n_scored" in f:
        f = f[f["n_scored"] > 0]
    right = f["final_answer_correct"].astype(bool)
    has_err = f[col] >= 0
    n_r, n_w = int(right.sum()), int((~right).sum())
    n_rf, n_wc = int((right & has_err).sum()), int((~right & ~has_err).sum())
    return Rates(source, n_rf / n_r if n_r else None, n_r, n_rf, n_wc / n_w if n_w else None, n_w, n_wc)


def rate_traces(frame: pd.DataFrame, source: str, which: str) -> list[str]:
    """Trace ids behind a rate: ``which`` is 'right_flawed' or 'wrong_clean'."""
    col = "gold_first_error" if source == "gold" else "pred_threshold"
    f = frame[frame[col].notna() & frame["final_answer_correct"].notna()]
    right = f["final_answer_correct"].astype(bool)
    m = (right & (f[col] >= 0)) if which == "right_flawed" else (~right & (f[col] == -1))
    return f.loc[m, "trace_id"].tolist()


def first_error_positions(fa: pd.DataFrame, fb: pd.DataFrame) -> pd.DataFrame:
    """First-error position, absolute and relative (index / n_steps), gold and predicted."""
    rows = []
    for source, col in (("gold", "gold_first_error"), ("predicted", "pred_threshold")):
        if col not in fa or col not in fb:
            continue
        # Plain arrays: filtering whole frames would copy every (string) column for two numbers.
        ea, na = _errors_at(fa, col)
        eb, nb = _errors_at(fb, col)
        for kind in ("absolute", "relative"):
            va, vb = (ea, eb) if kind == "absolute" else (ea / na, eb / nb)
            rows.append({"source": source, "position": kind, **asdict(two_sample(va, vb))})
    return pd.DataFrame(rows)


def _errors_at(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """First-error indices (>= 0) in ``col`` and the n_steps of those traces, as float arrays."""
    err = frame[col].to_numpy(dtype=float, na_value=np.nan)
    keep = err >= 0
    return err[keep], frame["n_steps"].to_numpy(dtype=float, na_value=np.nan)[keep]


def breakdown(pairs: pd.DataFrame, by: str = "split", n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Accuracy of A and B per group (split or category; in-domain vs out-of-domain), with the
    paired bootstrap 95% interval of B - A within each group (diff_low, diff_high)."""
    p = pairs[pairs["acc_a"].notna() & pairs["acc_b"].notna()]
    group = p[f"{by}_a"].combine_first(p[f"{by}_b"]).astype("string").fillna("(none)")
    g = p.assign(group=group).groupby("group")
    out = pd.DataFrame({"n_problems": g.size(), "acc_a": g["acc_a"].mean(), "acc_b": g["acc_b"].mean()})
    out["diff"] = out["acc_b"] - out["acc_a"]
    cis = {name: paired_bootstrap(d["acc_a"].to_numpy(), d["acc_b"].to_numpy(), n_resamples, seed=seed)[2]
           for name, d in g}  # one per group: a handful
    out["diff_low"] = [cis[k].low for k in out.index]
    out["diff_high"] = [cis[k].high for k in out.index]
    return out.reset_index()


def differ_most(pairs: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """Problems ranked by |accuracy difference|, then by |difference of mean trace minimum|."""
    p = pairs.copy()
    p["acc_gap"] = (p["acc_b"] - p["acc_a"]).abs()
    p["score_gap"] = (p["mean_min_b"] - p["mean_min_a"]).abs() if "mean_min_a" in p else np.nan
    p = p.sort_values(["acc_gap", "score_gap"], ascending=False, na_position="last")
    cols = [c for c in ("problem_ref_a", "first_source_a", "first_source_b") if c in p]
    cols += ["first_trace_a", "first_trace_b", "acc_a", "acc_b", "acc_gap", "score_gap"]
    cols += [c for c in ("mean_min_a", "mean_min_b") if c in p]
    return p[cols].head(top).reset_index()


# --------------------------------------------------------------------------- headline


@dataclass(frozen=True)
class Effect:
    """One headline measure, oriented *treated minus control*."""

    measure: str
    treated: float | None
    control: float | None
    diff: Interval
    """treated - control with its 95% interval."""
    higher_is_better: bool
    verdict: str
    """'better', 'worse' (the interval excludes 0 that way) or 'no clear difference'; 'n/a'."""
    method: str
    """How the interval was computed (for the reader)."""


@dataclass(frozen=True)
class Headline:
    """The answer to "did process rewards help?" (or, without tags, "does B beat A?")."""

    question: str
    answer: str
    """One sentence: the verdict on accuracy and on the process."""
    treated: str
    """'A' or 'B': the run the effects are measured for."""
    control: str
    basis: str
    """Why that run is the treated one (the tags, or the default B-vs-A reading)."""
    n_problems: int
    accuracy: Effect
    cohens_h: Interval
    """Cohen's h of treated vs control accuracy (bootstrap interval over the same resamples)."""
    odds_ratio: Interval
    """McNemar's conditional odds ratio, treated over control (first sample per problem), exact interval."""
    mcnemar_p: float | None
    process: Effect | None
    """'Right answer, flawed process' rate (gold labels when there are any, else predicted errors)."""
    trace_min: Effect | None
    """Mean lowest step score per problem (with a scorer)."""


def _verdict(diff: Interval, higher_is_better: bool) -> str:
    if diff.low is None or diff.high is None:
        return "n/a"
    if diff.low > 0 or diff.high < 0:
        return "better" if (diff.low > 0) == higher_is_better else "worse"
    return "no clear difference"


def orient(iv: Interval, treated: str) -> Interval:
    """A B - A interval as treated - control: unchanged for treated 'B', negated (bounds
    swapped) for 'A'. Percentile intervals of a difference negate exactly, so every number on
    a page reads the same whichever way round it is printed."""
    if treated == "B":
        return iv
    return Interval(*[None if v is None else 0.0 - v for v in (iv.estimate, iv.high, iv.low)])  # no -0.0


def headline(
    pairs: pd.DataFrame, rates: dict[str, list[Rates]], treated: str = "B", basis: str = "",
    question: str | None = None, n_resamples: int = 2000, seed: int = 0,
) -> Headline:
    """The headline effects of run ``treated`` ('A' or 'B') over the other, on shared problems.

    Accuracy: paired bootstrap over problems (difference, Cohen's h), exact McNemar test and
    conditional odds ratio on each problem's first sample. Process: difference of "right
    answer, flawed process" rates among traces with a right answer (Newcombe's interval; gold
    first errors when known, else the scorer's predictions). Trace minimum: paired bootstrap of
    the per-problem mean lowest step score."""
    if treated not in ("A", "B"):
        raise PrmViewerError(f"treated run must be 'A' or 'B', not '{treated}'")
    t, c = ("a", "b") if treated == "A" else ("b", "a")
    both = pairs[pairs["acc_a"].notna() & pairs["acc_b"].notna()]
    # Resampled in the report's own A, B order (the same resamples as ``accuracy``), then oriented.
    eff = paired_effects(both["acc_a"].to_numpy(), both["acc_b"].to_numpy(), n_resamples, seed=seed)
    diff, h = orient(eff.diff, treated), orient(eff.cohens_h, treated)
    first = pairs[pairs["first_correct_a"].notna() & pairs["first_correct_b"].notna()]
    mc = mcnemar_exact(first[f"first_correct_{c}"].to_numpy() > 0.5, first[f"first_correct_{t}"].to_numpy() > 0.5)
    acc = Effect("final-answer accuracy", _mean(both[f"acc_{t}"]), _mean(both[f"acc_{c}"]), diff, True,
                 _verdict(diff, True), "paired bootstrap over problems")
    process = None
    for src in ("gold", "predicted"):
        pair_rates = rates.get(src)
        if not pair_rates:
            continue
        ra, rb = pair_rates
        rt, rc = (ra, rb) if treated == "A" else (rb, ra)
        if rt.n_right and rc.n_right:
            d = proportion_diff(rc.n_right_flawed, rc.n_right, rt.n_right_flawed, rt.n_right)
            process = Effect(f"right answer, flawed process ({src} errors)", rt.right_flawed, rc.right_flawed, d, False,
                             _verdict(d, False), "Newcombe interval, traces with a right answer")
            break
    tmin = None
    if "mean_min_a" in pairs:
        m = pairs[pairs["mean_min_a"].notna() & pairs["mean_min_b"].notna()]
        if len(m):
            d = orient(paired_bootstrap(m["mean_min_a"].to_numpy(), m["mean_min_b"].to_numpy(), n_resamples, seed=seed)[2],
                       treated)
            tmin = Effect("lowest step score per trace", _mean(m[f"mean_min_{t}"]), _mean(m[f"mean_min_{c}"]), d, True,
                          _verdict(d, True), "paired bootstrap over problems")
    q = question or ("Did process rewards help?" if basis.startswith("tags") else f"Does {treated} do better than {c.upper()}?")
    return Headline(q, _answer(acc, process), treated, c.upper(), basis, len(both), acc, h,
                    paired_odds_ratio(mc.a_only, mc.b_only), mc.p_value, process, tmin)


def _mean(x: pd.Series) -> float | None:
    return float(x.mean()) if len(x) else None


def _answer(acc: Effect, process: Effect | None) -> str:
    pv = process.verdict if process is not None else "n/a"
    p = {"better": "a cleaner process", "worse": "a more flawed process"}.get(pv)
    if acc.verdict == "better":
        return "Yes: final-answer accuracy is higher" + (f", with {p}." if p else ".")
    if acc.verdict == "worse":
        return "No: final-answer accuracy is lower" + (f", with {p}." if p else ".")
    if acc.verdict == "n/a":
        return "Cannot tell: no shared problem with a known final answer."
    if pv == "better":
        return "Partly: no clear difference in final-answer accuracy, but a cleaner process (fewer right answers reached through a wrong step)."
    if pv == "worse":
        return "No: no clear difference in final-answer accuracy, and a more flawed process."
    return "No clear effect: the intervals of both accuracy and process quality include zero."


def describe(e: Effect, points: bool = True) -> str:
    """``64.6% vs 59.8%: +4.8 points [-4.8, +14.3]`` (rates as percent, differences in points)."""
    def v(x: float | None) -> str:
        return "n/a" if x is None else (f"{x:.1%}" if points else f"{x:.3f}")

    def d(x: float | None) -> str:
        return "n/a" if x is None else (f"{100 * x:+.1f}" if points else f"{x:+.3f}")

    unit = " points" if points else ""
    return f"{v(e.treated)} vs {v(e.control)}: {d(e.diff.estimate)}{unit} [{d(e.diff.low)}, {d(e.diff.high)}]"



def forest_rows(head: Headline, breakdowns: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The headline effects and the per-group accuracy differences as one table oriented
    treated minus control (``breakdown`` gives B - A; it is flipped when A is treated): measure,
    group, estimate, low, high, verdict. Rows without an interval are left out."""
    rows = [{"measure": head.accuracy.measure, "group": "all shared problems", **asdict(head.accuracy.diff),
             "verdict": head.accuracy.verdict}]
    for by, df in breakdowns.items():
        if df.empty or (len(df) == 1 and df["group"].iloc[0] == "(none)"):
            continue
        for r in df.itertuples():
            iv = Interval(r.diff, r.diff_low, r.diff_high)
            iv = orient(iv, head.treated)
            rows.append({"measure": head.accuracy.measure, "group": f"{by} = {r.group}", **asdict(iv),
                         "verdict": _verdict(iv, True)})
    if head.process is not None:
        rows.append({"measure": head.process.measure, "group": "traces with a right answer",
                     **asdict(head.process.diff), "verdict": head.process.verdict})
    out = pd.DataFrame(rows, columns=["measure", "group", "estimate", "low", "high", "verdict"])
    return out[out["low"].notna() & out["high"].notna()].reset_index(drop=True)


def check_key(key: str) -> str:
    if key not in PAIR_KEYS:
        raise PrmViewerError(f"unknown pairing '{key}'; use one of: {', '.join(PAIR_KEYS)}")
    return PAIR_KEYS[key]
