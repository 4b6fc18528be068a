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

import difflib
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from prm_viewer.analysis.stats import Interval, McNemar, mcnemar_exact, paired_bootstrap, two_sample
from prm_viewer.errors import PrmViewerError

PAIR_KEYS = {"problem": "problem_id", "source_id": "source_problem_id"}
"""How problems are matched: by normalised text hash (default) or by the source's problem id."""


def per_problem(frame: pd.DataFrame, key: str = "problem_id") -> pd.DataFrame:
    """One row per problem: n_traces, acc (mean correctness over samples with a known answer),
    first_trace / first_correct (the lowest-ordinal sample), mean_min (mean trace-minimum score),
    split, category."""
    # Only the columns used below: sorting and grouping copy every column they carry.
    cols = [c for c in dict.fromkeys([key, "dataset_id", "ordinal", "trace_id", "final_answer_correct", "split",
                                      "category", "min_all"]) if c in frame]
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
    return frame[frame[SHARED_COUNT[key]] == n_runs]


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


def breakdown(pairs: pd.DataFrame, by: str = "split") -> pd.DataFrame:
    """Accuracy of A and B per group (split or category; in-domain vs out-of-domain)."""
    p = pairs[pairs["acc_a"].notna() & pairs["acc_b"].notna()]
    group = p[f"{by}_a"].combine_first(p[f"{by}_b"]).astype("string").fillna("(none)")
    g = p.assign(group=group).groupby("group")
    out = pd.DataFrame({"n_problems": g.size(), "acc_a": g["acc_a"].mean(), "acc_b": g["acc_b"].mean()})
    out["diff"] = out["acc_b"] - out["acc_a"]
    return out.reset_index()


def differ_most(pairs: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """Problems ranked by |accuracy difference|, then by |difference of mean trace minimum|."""
    p = pairs.copy()
    p["acc_gap"] = (p["acc_b"] - p["acc_a"]).abs()
    p["score_gap"] = (p["mean_min_b"] - p["mean_min_a"]).abs() if "mean_min_a" in p else np.nan
    p = p.sort_values(["acc_gap", "score_gap"], ascending=False, na_position="last")
    cols = ["first_trace_a", "first_trace_b", "acc_a", "acc_b", "acc_gap", "score_gap"]
    cols += [c for c in ("mean_min_a", "mean_min_b") if c in p]
    return p[cols].head(top).reset_index()


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def align_steps(a: list[str], b: list[str]) -> list[tuple[int | None, int | None]]:
    """Row pairs (index in A, index in B) that put identical steps (after whitespace and case
    normalisation) on the same row; differing stretches are paired in order, the longer side
    padded with None."""
    sm = difflib.SequenceMatcher(a=[_norm(s) for s in a], b=[_norm(s) for s in b], autojunk=False)
    rows: list[tuple[int | None, int | None]] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            rows += list(zip(range(i1, i2), range(j1, j2)))
            continue
        la, lb = i2 - i1, j2 - j1
        for k in range(max(la, lb)):
            rows.append((i1 + k if k < la else None, j1 + k if k < lb else None))
    return rows


def check_key(key: str) -> str:
    if key not in PAIR_KEYS:
        raise PrmViewerError(f"unknown pairing '{key}'; use one of: {', '.join(PAIR_KEYS)}")
    return PAIR_KEYS[key]
