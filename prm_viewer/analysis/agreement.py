"""Agreement of two step scorers (or a scorer and the gold step labels) on the same traces:
step-level confusion at each scorer's threshold, Cohen's kappa, the correlation of step scores,
the predicted first errors side by side, the traces where they disagree most, and the consensus
filter of "The Lessons of Developing PRMs" (keep the traces on which two localisers agree).

The per-step work is SQL (:mod:`prm_viewer.queries.figures`); this module holds the statistics.
A step is "wrong" for a scorer when its score is below that scorer's threshold; the gold labels
count a step wrong when its label is -1 (PRM800K's neutral 0 is not wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.analysis.runs import Run
from prm_viewer.errors import PrmViewerError
from prm_viewer.queries.figures import agreement_source
from prm_viewer.store import Store

GOLD = "gold"
"""The name that stands for the gold step labels in place of scorer B."""


def cohen_kappa(matrix: np.ndarray) -> float | None:
    """Cohen's kappa from a square confusion matrix (rows: rater A's classes, columns: B's, the
    same classes in the same order): ``(p_o - p_e) / (1 - p_e)``; 1.0 when both raters use one
    and the same class throughout (sklearn gives NaN there), None on an empty matrix."""
    m = np.asarray(matrix, dtype=float)
    n = m.sum()
    if n == 0:
        return None
    po = np.trace(m) / n
    pe = float((m.sum(axis=1) @ m.sum(axis=0)) / n**2)
    if pe == 1.0:
        return 1.0
    return float((po - pe) / (1 - pe))


def kappa_of_labels(a: Sequence[Any], b: Sequence[Any]) -> float | None:
    """Cohen's kappa of two equal-length label sequences (any hashable labels)."""
    if len(a) != len(b):
        raise ValueError("label sequences differ in length")
    if len(a) == 0:
        return None
    codes, classes = pd.factorize(pd.Series(list(a) + list(b), dtype=object))
    k = len(classes)
    ia, ib = codes[: len(a)], codes[len(a):]
    return cohen_kappa(np.bincount(ia * k + ib, minlength=k * k).reshape(k, k))


def confusion_frame(summary: dict[str, Any], a: str, b: str) -> pd.DataFrame:
    """The 2x2 step confusion as a small table (rows: A's call, columns: B's call)."""
    return pd.DataFrame({
        f"{b}: wrong": [summary["a_wrong_b_wrong"], summary["a_ok_b_wrong"]],
        f"{b}: not wrong": [summary["a_wrong_b_ok"], summary["a_ok_b_ok"]],
    }, index=[f"{a}: wrong", f"{a}: not wrong"]).rename_axis("step call").reset_index()


def first_error_counts(traces: pd.DataFrame) -> pd.DataFrame:
    """Counts of (pred_a, pred_b) pairs for the scatter: pred_a, pred_b, n."""
    if traces.empty:
        return pd.DataFrame(columns=["pred_a", "pred_b", "n"])
    return traces.groupby(["pred_a", "pred_b"]).size().rename("n").reset_index()


def most_disagreeing(traces: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """The traces with the largest first-error distance (no error counted as one past the last
    common step), then the largest mean score difference: trace_id, source_id, pred_a, pred_b,
    distance, mean_abs_diff, max_step."""
    if traces.empty:
        return traces.assign(distance=pd.Series(dtype=float))
    end = traces["n_common"]
    pa_ = traces["pred_a"].where(traces["pred_a"] >= 0, end)
    pb_ = traces["pred_b"].where(traces["pred_b"] >= 0, end)
    out = traces.assign(distance=(pa_ - pb_).abs())
    out = out.sort_values(["distance", "mean_abs_diff", "trace_id"], ascending=[False, False, True]).head(top)
    return out[["trace_id", "source_id", "pred_a", "pred_b", "distance", "mean_abs_diff", "max_step"]].reset_index(drop=True)


def consensus(traces: pd.DataFrame) -> pd.DataFrame:
    """The consensus filter: traces whose two predicted first errors are the same step (or both
    say no error)."""
    return traces[traces["pred_a"] == traces["pred_b"]]


@dataclass
class AgreementReport:
    run: str
    a: str
    b: str
    threshold_a: float
    threshold_b: float | None
    """None when B is the gold labels."""
    n_steps: int
    """Steps both score."""
    n_traces: int
    confusion: pd.DataFrame
    step_agreement: float | None
    """Share of steps on which both make the same call."""
    kappa: float | None
    """Cohen's kappa of the step calls."""
    pearson: float | None
    spearman: float | None
    first_error_agreement: float | None
    """Share of traces with the same predicted first error (the consensus share)."""
    first_error_kappa: float | None
    """Cohen's kappa of the predicted first errors as categories (-1 = none)."""
    n_consensus: int
    scatter: pd.DataFrame
    disagreements: pd.DataFrame
    traces: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    """Per-trace frame (not in JSON)."""

    def to_json(self) -> dict[str, Any]:
        return jsonable({k: v for k, v in self.__dict__.items() if k != "traces"})

    def consensus_ids(self) -> list[str]:
        return consensus(self.traces)["trace_id"].tolist()


def _none_if_nan(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)


def agreement_report(store: Store, run: Run, a: str, b: str, top: int = 20) -> AgreementReport:
    """Agreement of scorer ``a`` with scorer ``b`` (or ``b = "gold"``: the gold step labels)."""
    sa = store.resolve_scorer(a)
    gold = b == GOLD
    sb = None if gold else store.resolve_scorer(b)
    if sb is not None and sb["scorer_id"] == sa["scorer_id"]:
        raise PrmViewerError("scorers A and B are the same: pick two different scorers (or B = gold)")
    thr_a = float(sa["threshold"])
    thr_b = 0.5 if sb is None else float(sb["threshold"])  # gold steps are 0 (wrong) or 1
    refs = [run.ref()]
    b_id = None if sb is None else sb["scorer_id"]
    with agreement_source(store, refs, sa["scorer_id"], b_id) as src:  # one join of the step pairs
        summary = src.summary(thr_a, thr_b)
        traces = src.traces(thr_a, thr_b) if summary.get("n") else pd.DataFrame()
    b_name = GOLD if sb is None else sb["name"]
    n = int(summary.get("n") or 0)
    if n == 0:
        what = "gold step labels" if gold else f"scores from '{b_name}'"
        raise PrmViewerError(f"no step of '{run.label}' has both scores from '{sa['name']}' and {what}")
    m = np.array([[summary["a_wrong_b_wrong"], summary["a_wrong_b_ok"]], [summary["a_ok_b_wrong"], summary["a_ok_b_ok"]]])
    same = traces["pred_a"] == traces["pred_b"]
    return AgreementReport(
        run=run.label, a=sa["name"], b=b_name, threshold_a=thr_a, threshold_b=None if gold else thr_b,
        n_steps=n, n_traces=len(traces), confusion=confusion_frame(summary, sa["name"], b_name),
        step_agreement=float(np.trace(m) / n), kappa=cohen_kappa(m),
        pearson=_none_if_nan(summary.get("pearson")), spearman=_none_if_nan(summary.get("spearman")),
        first_error_agreement=float(same.mean()) if len(traces) else None,
        first_error_kappa=kappa_of_labels(traces["pred_a"].tolist(), traces["pred_b"].tolist()),
        n_consensus=int(same.sum()), scatter=first_error_counts(traces),
        disagreements=most_disagreeing(traces, top), traces=traces)
