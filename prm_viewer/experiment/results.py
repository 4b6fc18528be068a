"""The experiment's numbers, computed by the product's own analysis reports over the store:
with-vs-without comparison (accuracy with paired bootstrap CIs per split, McNemar, first-error
positions, "right answer, flawed process"), diversity, and the tiny PRM's ProcessBench F1."""

from __future__ import annotations

from typing import Any

import numpy as np

from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.analysis.runs import resolve_run
from prm_viewer.analysis.stats import paired_bootstrap
from prm_viewer.store import Store


def _ci(i: Any) -> dict[str, Any]:
    return {"estimate": i.estimate, "low": i.low, "high": i.high}


def comparison(store: Store, without: str, with_: str, prm: str, verifier: str, seed: int) -> dict[str, Any]:
    """A = without, B = with (differences are with minus without)."""
    from prm_viewer.analysis.reports import compare_report, diversity_report

    a, b = resolve_run(store, without), resolve_run(store, with_)
    rep = compare_report(store, a, b, scorer=prm, seed=seed)
    exact = compare_report(store, a, b, scorer=verifier, seed=seed)
    per_split: dict[str, Any] = {}
    for split, p in rep.pairs.groupby(rep.pairs["split_a"].fillna("(none)")):
        both = p[p["acc_a"].notna() & p["acc_b"].notna()]
        ca, cb, cd = paired_bootstrap(both["acc_a"].to_numpy(), both["acc_b"].to_numpy(), 2000, seed=seed)
        per_split[str(split)] = {"n_problems": len(both), "without": _ci(ca), "with": _ci(cb), "diff": _ci(cd)}
    per_category: dict[str, Any] = {}
    for cat, p in rep.pairs.groupby(rep.pairs["category_a"].fillna("(none)")):
        both = p[p["acc_a"].notna() & p["acc_b"].notna()]
        ca, cb, cd = paired_bootstrap(both["acc_a"].to_numpy(), both["acc_b"].to_numpy(), 2000, seed=seed)
        per_category[str(cat)] = {"n_problems": len(both), "without": _ci(ca), "with": _ci(cb), "diff": _ci(cd)}
    div = diversity_report(store, [a, b])
    steps_valid = {}
    for name, frame in (("without", rep.frame_a), ("with", rep.frame_b)):
        clean = frame["gold_first_error"].dropna()
        steps_valid[name] = {"traces": int(len(clean)), "clean_process_share": float((clean == -1).mean()) if len(clean) else None}
    return jsonable({
        "accuracy": rep.accuracy, "accuracy_by_split": per_split, "accuracy_by_category": per_category,
        "n_traces": {"without": rep.n_traces_a, "with": rep.n_traces_b}, "n_shared_problems": rep.n_shared_problems,
        "clean_process": steps_valid, "rates_gold": rep.rates.get("gold"), "rates_prm": rep.rates.get("predicted"),
        "rates_verifier": exact.rates.get("predicted"), "first_error": rep.first_error, "trace_length": rep.trace_length,
        "trace_min_prm": rep.trace_min, "diversity": div.summary,
    })


def localisation(store: Store, dataset: str, prm: str, threshold: float, tune_on: str | None = None) -> dict[str, Any]:
    """ProcessBench metrics of the tiny PRM on one dataset: at ``threshold``, per split; and,
    with ``tune_on``, at the F1-optimal threshold of that split applied to the others."""
    from prm_viewer.analysis.reports import localisation_report

    run = resolve_run(store, dataset)
    rep = localisation_report(store, [run], prm, threshold=threshold)
    out: dict[str, Any] = {"threshold": threshold, "n_traces": rep.n_traces, "n_unscored": rep.n_unscored,
                           "overall": rep.overall[rep.overall["localiser"] == "threshold"],
                           "by_split": rep.breakdowns["split"], "positions": rep.positions.get("threshold"),
                           "step_f1": rep.step_f1, "best_by_split_in_sample": rep.best_by_split}
    out["step_auc"] = step_auc(store, run, prm)
    if tune_on is not None:
        tuned = localisation_report(store, [run], prm, tune_on=tune_on)
        out["tuned"] = {"tau": tuned.threshold, "source": tuned.threshold_source, "by_split": tuned.breakdowns["split"]}
    return jsonable(out)


def step_auc(store: Store, run: Any, prm: str) -> dict[str, Any]:
    """Step-level ROC AUC of the PRM's P(correct) against the gold step labels (valid = positive),
    overall and per split, with the share of valid steps (the base rate) and the step counts."""
    from sklearn.metrics import roc_auc_score

    from prm_viewer import queries

    frame = queries.analysis_step_labels(store, [run.ref()], prm)
    frame = frame[frame["gold_label"] != 0]

    def one(f: Any) -> dict[str, Any]:
        y = (f["gold_label"] > 0).to_numpy()
        auc = float(roc_auc_score(y, f["score"].to_numpy())) if 0 < y.sum() < len(y) else None
        return {"auc": auc, "steps": int(len(y)), "valid_share": float(y.mean()) if len(y) else None}

    out = {"overall": one(frame)}
    for split, f in frame.groupby(frame["split"].fillna("(none)")):
        out[str(split)] = one(f)
    return out


def headline(cmp: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a reader looks for first."""
    acc = cmp["accuracy"]
    return {
        "accuracy_without": acc["a"], "accuracy_with": acc["b"], "diff_with_minus_without": acc["diff"],
        "mcnemar_p": acc["mcnemar"]["p_value"], "by_split": cmp["accuracy_by_split"],
    }


def finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)
