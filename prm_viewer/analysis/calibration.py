"""Calibration of step scores against gold step labels: the reliability diagram and the expected
calibration error (ECE), with the ProcessBench threshold sweep of
:mod:`prm_viewer.analysis.localisation` beside it.

A step's outcome is 1 when its gold label is not -1 (PRM800K's neutral 0 counts as not wrong) and
its score is read as P(step correct). Bins are ``n_bins`` equal-width bins of [0, 1] assigned as
scikit-learn's ``calibration_curve(strategy="uniform")`` does (bin i holds scores in
``(i/n, (i+1)/n]``, the first bin also 0). ECE = sum over bins of (share of steps in the bin) x
|mean outcome - mean score|.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prm_viewer import queries
from prm_viewer.analysis import localisation as loc
from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.analysis.runs import Run
from prm_viewer.errors import PrmViewerError
from prm_viewer.store import Store


def reliability(scores: np.ndarray, outcomes: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Per non-empty bin: bin, lo, hi, n, mean_score (confidence), accuracy (share of outcome 1),
    gap = accuracy - mean_score."""
    if n_bins < 1:
        raise PrmViewerError("the number of bins must be at least 1")
    p = np.asarray(scores, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], p)
    total = np.bincount(ids, minlength=n_bins)
    s = np.bincount(ids, weights=p, minlength=n_bins)
    t = np.bincount(ids, weights=y, minlength=n_bins)
    nz = total > 0
    b = np.flatnonzero(nz)
    conf = s[nz] / total[nz]
    acc = t[nz] / total[nz]
    return pd.DataFrame({"bin": b, "lo": edges[b], "hi": edges[b + 1], "n": total[nz].astype(int),
                         "mean_score": conf, "accuracy": acc, "gap": acc - conf})


def expected_calibration_error(bins: pd.DataFrame) -> float | None:
    """ECE from :func:`reliability`'s table (None when it is empty)."""
    n = bins["n"].sum() if not bins.empty else 0
    if n == 0:
        return None
    return float((bins["n"] / n * (bins["accuracy"] - bins["mean_score"]).abs()).sum())


@dataclass
class CalibrationReport:
    scorer: str
    runs: list[str]
    n_steps: int
    n_bins: int
    ece: float | None
    bins: pd.DataFrame
    """The reliability diagram's points."""
    sweep: pd.DataFrame
    """ProcessBench F1 / accuracies against the threshold (all traces of the runs)."""
    best_tau: float | None
    best_f1: float | None
    """The F1-optimal threshold on these traces (in-sample)."""

    def to_json(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


def calibration_report(store: Store, runs: Sequence[Run], scorer: str, n_bins: int = 10) -> CalibrationReport:
    """Reliability diagram, ECE and threshold sweep of ``scorer`` on the runs' labelled steps."""
    sc = store.resolve_scorer(scorer)
    refs = [r.ref() for r in runs]
    labels = queries.analysis_step_labels(store, refs, sc["scorer_id"])
    if labels.empty:
        raise PrmViewerError(f"no step of {', '.join(r.label for r in runs)} has both a gold step label and a score "
                             f"from '{sc['name']}'")
    bins = reliability(labels["score"].to_numpy(dtype=float), (labels["gold_label"].to_numpy() != -1).astype(float),
                       n_bins)
    frame = queries.analysis_trace_frame(store, refs, sc["scorer_id"], float(sc["threshold"]), with_drop=False)
    sweep = loc.threshold_sweep(frame)
    tau, f1 = loc.best_threshold(frame)
    return CalibrationReport(scorer=sc["name"], runs=[r.label for r in runs], n_steps=len(labels), n_bins=n_bins,
                             ece=expected_calibration_error(bins), bins=bins, sweep=sweep, best_tau=tau, best_f1=f1)
