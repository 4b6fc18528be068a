"""First-error localisation: ProcessBench metrics, the threshold sweep, predicted-vs-gold
position classes, alternative localisers side by side, PRMBench step-level F1.

Pure functions over the per-trace frame of ``queries.analysis_trace_frame`` (and the step frame
of ``queries.analysis_step_labels``); vectorised numpy/pandas, no per-trace loops.

Definitions (ProcessBench): a localiser predicts the earliest wrong step or -1 (none).
``acc_error`` = exact-match rate over traces whose gold label is not -1, ``acc_correct`` = rate
of predicting -1 over traces whose label is -1, ``F1`` = their harmonic mean; all x100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Localiser:
    """One way of predicting the first error from the trace frame."""

    name: str
    column: str
    """Column of the trace frame holding its prediction (-1 = no error)."""
    help: str


LOCALISERS: dict[str, Localiser] = {
    loc.name: loc
    for loc in (
        Localiser("threshold", "pred_threshold", "first step scored below the threshold"),
        Localiser("largest_drop", "pred_drop",
                  "step with the largest fall in score from the previous step (progress), when any step is below the threshold"),
        Localiser("critic", "pred_critic", "the critic's pick of the earliest wrong step"),
    )
}

POSITION_CLASSES = ("exact", "too_early", "too_late", "missed", "false_alarm", "clean")
"""exact / too early / too late / missed on traces with an error; false alarm / clean (correctly
no error) on traces without one."""


@dataclass(frozen=True)
class PBMetrics:
    """ProcessBench metrics (percent)."""

    n_error: int
    n_correct: int
    acc_error: float | None
    acc_correct: float | None
    f1: float | None


def processbench_metrics(gold: np.ndarray, pred: np.ndarray) -> PBMetrics:
    """The official formula on arrays of gold labels and predictions (-1 = no error)."""
    gold = np.asarray(gold, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    err = gold != -1
    n_err, n_cor = int(err.sum()), int((~err).sum())
    acc_e = float(np.mean(pred[err] == gold[err]) * 100) if n_err else None
    acc_c = float(np.mean(pred[~err] == -1) * 100) if n_cor else None
    return PBMetrics(n_err, n_cor, acc_e, acc_c, _f1(acc_e, acc_c))


def _f1(acc_e: float | None, acc_c: float | None) -> float | None:
    if acc_e is None or acc_c is None:
        return None
    return 0.0 if acc_e + acc_c == 0 else 2 * acc_e * acc_c / (acc_e + acc_c)


def usable(frame: pd.DataFrame, localiser: str = "threshold") -> pd.DataFrame:
    """Traces a localiser can be scored on: gold first error known and a prediction present
    (threshold/drop: at least one scored step; critic: the critic answered)."""
    col = LOCALISERS[localiser].column
    if col not in frame:
        return frame.iloc[0:0]
    keep = frame["gold_first_error"].notna() & frame[col].notna()
    if localiser != "critic" and "n_scored" in frame:
        keep &= frame["n_scored"] > 0
    return frame[keep]


def metrics_by(frame: pd.DataFrame, localiser: str = "threshold", by: str | None = None) -> pd.DataFrame:
    """ProcessBench metrics overall (``by`` None) or per value of a column (split, generator,
    category...): columns group, n_error, n_correct, acc_error, acc_correct, f1."""
    f = usable(frame, localiser)
    col = LOCALISERS[localiser].column
    gold = f["gold_first_error"].astype("int64")
    pred = f[col].astype("int64")
    d = pd.DataFrame({
        "group": "all" if by is None else f[by].astype("string").fillna("(none)"),
        "is_err": gold != -1,
        "hit_err": (gold != -1) & (pred == gold),
        "hit_cor": (gold == -1) & (pred == -1),
    })
    g = d.groupby("group", sort=True).sum()
    n_err = g["is_err"].astype(int)
    n_cor = (d.groupby("group", sort=True).size() - g["is_err"]).astype(int)
    acc_e = (g["hit_err"] / n_err.where(n_err > 0)) * 100
    acc_c = (g["hit_cor"] / n_cor.where(n_cor > 0)) * 100
    f1 = (2 * acc_e * acc_c / (acc_e + acc_c)).where(acc_e + acc_c > 0, 0.0).where(acc_e.notna() & acc_c.notna())
    out = pd.DataFrame({"n_error": n_err, "n_correct": n_cor, "acc_error": acc_e, "acc_correct": acc_c, "f1": f1})
    return out.reset_index()


def position_classes(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Each trace's class in :data:`POSITION_CLASSES`."""
    gold = np.asarray(gold, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    err = gold >= 0
    conds = [
        err & (pred == gold),
        err & (pred >= 0) & (pred < gold),
        err & (pred > gold),
        err & (pred == -1),
        ~err & (pred >= 0),
    ]
    return np.select(conds, list(POSITION_CLASSES[:5]), default="clean")


def position_table(frame: pd.DataFrame, localiser: str = "threshold") -> pd.DataFrame:
    """Counts and shares of each position class: class, n, share (of traces of that kind)."""
    f = usable(frame, localiser)
    cls = position_classes(f["gold_first_error"], f[LOCALISERS[localiser].column])
    counts = pd.Series(cls).value_counts().reindex(list(POSITION_CLASSES), fill_value=0)
    n_err = int((f["gold_first_error"] >= 0).sum())
    n_cor = len(f) - n_err
    denom = np.array([n_err] * 4 + [n_cor] * 2, dtype=float)
    share = np.where(denom > 0, counts.to_numpy() / np.where(denom > 0, denom, 1), np.nan)
    return pd.DataFrame({"class": counts.index, "n": counts.to_numpy().astype(int), "share": share})


def offset_histogram(frame: pd.DataFrame, localiser: str = "threshold") -> pd.DataFrame:
    """Predicted minus gold position on traces with an error and a predicted error:
    columns offset, n (negative = too early)."""
    f = usable(frame, localiser)
    col = LOCALISERS[localiser].column
    m = (f["gold_first_error"] >= 0) & (f[col] >= 0)
    off = (f.loc[m, col] - f.loc[m, "gold_first_error"]).astype(int)
    vc = off.value_counts().sort_index()
    return pd.DataFrame({"offset": vc.index.astype(int), "n": vc.to_numpy().astype(int)})


def traces_in_class(frame: pd.DataFrame, localiser: str, cls: str) -> list[str]:
    """Trace ids behind one position-class count (for links from a table cell)."""
    f = usable(frame, localiser)
    c = position_classes(f["gold_first_error"], f[LOCALISERS[localiser].column])
    return f.loc[c == cls, "trace_id"].tolist()


def compare_localisers(frame: pd.DataFrame, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Localisers side by side: metrics and position-class counts per localiser present."""
    rows = []
    for name in names or LOCALISERS:
        if LOCALISERS[name].column not in frame or usable(frame, name).empty:
            continue
        m = metrics_by(frame, name).iloc[0].to_dict()
        pos = position_table(frame, name).set_index("class")["n"].to_dict()
        rows.append({"localiser": name, "n_traces": m["n_error"] + m["n_correct"], **{k: m[k] for k in
                     ("acc_error", "acc_correct", "f1")}, **pos})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- threshold sweep
#
# With prediction = first step scored below tau, a trace is predicted exactly for a whole
# interval of tau: an erroneous trace with gold g iff score[g] < tau <= min(score[:g]); a correct
# trace iff tau <= min(score). So the sweep needs only (s_gold, m_before, min_all) per trace
# (computed in SQL) and sorted end points -- no re-scan of the steps per threshold.


@dataclass(frozen=True)
class Intervals:
    lo: np.ndarray
    """Error traces with a non-empty interval: tau must be > lo ..."""
    hi: np.ndarray
    """... and <= hi."""
    n_error: int
    """All usable error traces (including those no tau can get right)."""
    min_all: np.ndarray
    """Correct traces: right iff tau <= min_all."""


def intervals(frame: pd.DataFrame) -> Intervals:
    f = usable(frame, "threshold")
    err = f[f["gold_first_error"] >= 0]
    cor = f[f["gold_first_error"] == -1]
    lo = err["s_gold"].to_numpy(dtype=float)  # NaN = gold step unscored: never exactly hit
    hi = err["m_before"].to_numpy(dtype=float)
    hi = np.where(np.isnan(hi), np.inf, hi)  # no scored step before the gold one
    ok = ~np.isnan(lo) & (lo < hi)
    return Intervals(np.sort(lo[ok]), np.sort(hi[ok]), len(err), np.sort(cor["min_all"].to_numpy(dtype=float)))


def sweep_at(iv: Intervals, taus: np.ndarray) -> pd.DataFrame:
    """acc_error, acc_correct, f1 (percent) at each tau, by counting interval end points."""
    taus = np.asarray(taus, dtype=float)
    hits_e = np.searchsorted(iv.lo, taus, side="left") - np.searchsorted(iv.hi, taus, side="left")
    hits_c = iv.min_all.size - np.searchsorted(iv.min_all, taus, side="left")
    acc_e = hits_e / iv.n_error * 100 if iv.n_error else np.full(taus.shape, np.nan)
    acc_c = hits_c / iv.min_all.size * 100 if iv.min_all.size else np.full(taus.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(acc_e + acc_c > 0, 2 * acc_e * acc_c / (acc_e + acc_c), 0.0)
    f1 = np.where(np.isnan(acc_e) | np.isnan(acc_c), np.nan, f1)
    return pd.DataFrame({"tau": taus, "acc_error": acc_e, "acc_correct": acc_c, "f1": f1})


def threshold_sweep(frame: pd.DataFrame, grid: np.ndarray | None = None) -> pd.DataFrame:
    """The sweep on a grid (default 0, 0.01, ..., 1)."""
    return sweep_at(intervals(frame), np.linspace(0, 1, 101) if grid is None else grid)


def best_threshold(frame: pd.DataFrame) -> tuple[float | None, float | None]:
    """The F1-optimal tau, exactly: F1 is constant between interval end points and each piece
    (c_k, c_k+1] is attained at its right end, so only end points need checking. Ties go to the
    smallest tau. Returns (tau, F1) or (None, None) when F1 is undefined."""
    iv = intervals(frame)
    cands = np.unique(np.concatenate([iv.lo, iv.hi, iv.min_all, [0.0, 1.0]]))
    cands = cands[np.isfinite(cands) & (cands >= 0) & (cands <= 1)]
    # A tau just above every score predicts an error everywhere: also a candidate.
    cands = np.append(cands, np.nextafter(1.0, 2.0))
    s = sweep_at(iv, cands)
    if s["f1"].isna().all():
        return None, None
    i = int(np.nanargmax(s["f1"].to_numpy()))
    return float(cands[i]), float(s["f1"].iloc[i])


# --------------------------------------------------------------------------- PRMBench step F1


def step_f1(labels: pd.DataFrame, tau: float, by: str | None = None) -> pd.DataFrame:
    """PRMBench-style step-level F1 from labelled scored steps (``gold_label``, ``score``):
    a step is predicted correct when score >= tau; gold correct when its label is not -1
    (PRM800K's neutral 0 counts as not wrong). ``f1_correct`` takes correct steps as positive,
    ``f1_error`` error steps; ``prm_score`` is their mean. Percent."""
    if labels.empty:
        return pd.DataFrame(columns=["group", "n_steps", "f1_correct", "f1_error", "prm_score"])
    pc = labels["score"].to_numpy(dtype=float) >= tau
    gc = labels["gold_label"].to_numpy() != -1
    d = pd.DataFrame({
        "group": "all" if by is None else labels[by].astype("string").fillna("(none)").to_numpy(),
        "tp_c": pc & gc, "fp_c": pc & ~gc, "fn_c": ~pc & gc, "tp_e": ~pc & ~gc,
    })
    g = d.groupby("group").sum()
    n = d.groupby("group").size()
    # For the error class: fp_e = fn_c (predicted error, gold correct), fn_e = fp_c.
    f1_c = 2 * g["tp_c"] / (2 * g["tp_c"] + g["fp_c"] + g["fn_c"]).where(lambda x: x > 0) * 100
    f1_e = 2 * g["tp_e"] / (2 * g["tp_e"] + g["fn_c"] + g["fp_c"]).where(lambda x: x > 0) * 100
    out = pd.DataFrame({"n_steps": n, "f1_correct": f1_c, "f1_error": f1_e, "prm_score": (f1_c + f1_e) / 2})
    return out.reset_index()
