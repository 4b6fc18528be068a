"""Best-of-N reranking with a PRM, as the papers compute it.

The per-problem work (random subsets, argmax and vote per aggregation, pass and majority) runs in
DuckDB (:class:`prm_viewer.queries.figures.BestOfNSource`; the module's docstring states the
rules: subsets, tie breaks, answer matching). This module adds the statistics: a normal-approximation
confidence interval over problems, the "right answer, flawed process" share among the picks (the
diagnostic of "The Lessons of Developing PRMs", Qwen, arXiv 2501.07301) and the histogram of where
the trace minimum falls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from prm_viewer import queries
from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.analysis.runs import Run
from prm_viewer.errors import PrmViewerError
from prm_viewer.queries.figures import AGGREGATIONS, BestOfNSource, bestofn_source
from prm_viewer.store import Store

RULES = {"max": "argmax of the aggregate (PRM-max)", "vote": "PRM-weighted majority vote"}
REFERENCES = {"majority": "maj@N (majority vote)", "pass": "pass@N (some sample right)"}


def default_ns(max_k: int) -> list[int]:
    """1, 2, 4, ... up to ``max_k``, and ``max_k`` itself (N = all samples)."""
    ns, n = [], 1
    while n <= max_k:
        ns.append(n)
        n *= 2
    if max_k >= 1 and ns[-1] != max_k:
        ns.append(max_k)
    return ns


def mean_ci(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Normal-approximation interval ``mean +- z * sd / sqrt(n)`` (clipped to [0, 1]); NaN sd
    (one problem) gives a zero-width interval."""
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    half = z * np.nan_to_num(np.asarray(sd, dtype=float)) / np.sqrt(np.maximum(np.asarray(n, dtype=float), 1))
    m = np.asarray(mean, dtype=float)
    return np.clip(m - half, 0, 1), np.clip(m + half, 0, 1)


def curves(wide: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """The wide frame of ``bestofn_accuracy`` as long rows: n, method, aggregation (None for the
    references), rule ('max', 'vote', 'majority', 'pass'), n_problems, accuracy, ci_low, ci_high."""
    rows = []
    methods = [(f"{a}_{r}", a, r) for a in AGGREGATIONS for r in RULES] + [(m, None, m) for m in REFERENCES]
    for method, agg, rule in methods:
        lo, hi = mean_ci(wide[method].to_numpy(), wide[f"{method}_sd"].to_numpy(), wide["n_problems"].to_numpy(), confidence)
        rows.append(pd.DataFrame({"n": wide["n"].astype(int), "method": method, "aggregation": agg, "rule": rule,
                                  "n_problems": wide["n_problems"].astype(int), "accuracy": wide[method].astype(float),
                                  "ci_low": lo, "ci_high": hi}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def flawed_share(picks: pd.DataFrame) -> pd.DataFrame:
    """Per aggregation, among the argmax picks at N = all: n_picked, n_right (final answer
    correct), n_right_labelled (of those, with a known gold first error), n_right_flawed (gold
    first error != -1), share = n_right_flawed / n_right_labelled (NaN when none is labelled)."""
    out = []
    for agg in AGGREGATIONS:
        p = picks[picks["aggregation"] == agg]
        right = p["correct"].astype(bool)
        labelled = right & p["gold_first_error"].notna()
        flawed = labelled & (p["gold_first_error"].fillna(-1) != -1)
        n_lab = int(labelled.sum())
        out.append({"aggregation": agg, "n_picked": len(p), "n_right": int(right.sum()), "n_right_labelled": n_lab,
                    "n_right_flawed": int(flawed.sum()), "share": float(flawed.sum()) / n_lab if n_lab else float("nan")})
    return pd.DataFrame(out)


def flawed_traces(picks: pd.DataFrame, aggregation: str) -> list[str]:
    """Trace ids behind ``n_right_flawed`` of one aggregation (for links)."""
    p = picks[(picks["aggregation"] == aggregation) & picks["correct"].astype(bool)]
    return p.loc[p["gold_first_error"].notna() & (p["gold_first_error"].fillna(-1) != -1), "trace_id"].tolist()


def minimum_histogram(hist: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Counts per bin and final-answer outcome with the bin's range: outcome, bin, lo, hi, n,
    share (of that outcome's traces); the last bin holds the final step."""
    if hist.empty:
        return pd.DataFrame(columns=["outcome", "bin", "lo", "hi", "n", "share"])
    h = hist.assign(outcome=hist["correct"].map({True: "right answer", False: "wrong answer"}).fillna("unknown"))
    h = h.groupby(["outcome", "bin"], as_index=False)[["n", "n_last"]].sum()
    h["share"] = h["n"] / h.groupby("outcome")["n"].transform("sum")
    h["lo"] = h["bin"] / bins
    h["hi"] = (h["bin"] + 1) / bins
    return h[["outcome", "bin", "lo", "hi", "n", "share"]]


@dataclass
class BestOfNReport:
    run: str
    scorer: str
    ns: list[int]
    repeats: int
    seed: int
    sample_counts: pd.DataFrame
    """k (usable samples of a problem) -> n_problems."""
    curves: pd.DataFrame
    """Long: n, method, aggregation, rule, n_problems, accuracy, ci_low, ci_high."""
    flawed: pd.DataFrame
    """Right answer, flawed process among the argmax picks over all samples of each problem (per aggregation)."""
    minimum: pd.DataFrame
    """Where the trace minimum falls (relative position, per final-answer outcome)."""
    last_step_share: float | None
    """Share of scored traces whose lowest score is on the final step."""
    picks: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    """The argmax picks over all samples of each problem (not in JSON)."""

    def to_json(self) -> dict[str, Any]:
        return jsonable({k: v for k, v in self.__dict__.items() if k != "picks"})

    def accuracy(self, method: str, n: int) -> float | None:
        row = self.curves[(self.curves["method"] == method) & (self.curves["n"] == n)]
        return None if row.empty else float(row["accuracy"].iloc[0])


def bestofn_report(store: Store, run: Run, scorer: str, ns: Sequence[int] | None = None,
                   repeats: int = 20, seed: int = 0, confidence: float = 0.95, gold: str = "gold") -> BestOfNReport:
    """Best-of-N curves, the flawed-pick share and the minimum positions for ``scorer`` on ``run``;
    ``gold``: the gold source (``queries.gold``) of the picks' first errors in the flawed share."""
    sc = store.resolve_scorer(scorer)
    refs = [run.ref()]
    # One pass over the step scores for every table below (a temporary per-trace table).
    with bestofn_source(store, refs, sc["scorer_id"]) as src:
        return _report(store, run, sc, src, ns, repeats, seed, confidence, gold)


def _report(store: Store, run: Run, sc: dict[str, Any], src: BestOfNSource, ns: Sequence[int] | None,
            repeats: int, seed: int, confidence: float, gold: str) -> BestOfNReport:
    counts = src.counts()
    if counts.empty:
        raise PrmViewerError(f"no trace of '{run.label}' has both a known final-answer correctness and scores from "
                             f"'{sc['name']}'")
    max_k = int(counts["k"].max())
    if max_k < 2:
        raise PrmViewerError(f"'{run.label}' has one sample per problem: Best-of-N needs several traces per problem")
    chosen = default_ns(max_k) if not ns else sorted({int(n) for n in ns})
    bad = [n for n in chosen if n < 1 or n > max_k]
    if bad:
        raise PrmViewerError(f"N = {', '.join(map(str, bad))} is out of range: problems have at most {max_k} samples")
    if repeats < 1:
        raise PrmViewerError("repeats must be at least 1")
    wide = src.accuracy(chosen, repeats=repeats, seed=seed)
    picks = src.picks()
    if queries.check_gold(store, gold) != "gold":  # the imported gold is already in the picks
        fe = queries.gold_first_errors(store, gold, picks["trace_id"].unique().tolist())
        picks = picks.assign(gold_first_error=picks["trace_id"].map(fe).astype("Int64"))
    hist = src.minimum()
    total = int(hist["n"].sum()) if not hist.empty else 0
    return BestOfNReport(
        run=run.label, scorer=sc["name"], ns=chosen, repeats=repeats, seed=seed, sample_counts=counts,
        curves=curves(wide, confidence), flawed=flawed_share(picks), minimum=minimum_histogram(hist),
        last_step_share=float(hist["n_last"].sum()) / total if total else None, picks=picks)
