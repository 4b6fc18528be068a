"""Benchmark tables as the papers print them: ProcessBench (per subset: error accuracy, correct
accuracy, F1 at a threshold tuned on GSM8K and transferred, and each subset's own best) and
PRMBench (per error class: step F1 with correct steps positive, with error steps positive, and
PRMScore = their mean, at the official validity threshold 0.5), with CSV and LaTeX output.

Both build on :mod:`prm_viewer.analysis.localisation` (ProcessBench metrics, the exact threshold
sweep, step F1); nothing here recomputes a metric.

PRMBench as its official code reads it (``ssmisya/PRMBench``, ``mr_eval/tasks/prmtest_classified``):
a step is predicted valid when its score is strictly above the threshold (``item >
validity_threshold``); per class TP = correct step predicted valid, FP = error step predicted
valid, TN = error step predicted invalid, FN = correct step predicted invalid; the overall row
sums every class except ``correct`` (the clean originals). Where a precision or recall is
undefined (no step of a kind) we report NaN; the official code prints -1 or a number computed
from that sentinel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from prm_viewer import queries
from prm_viewer.analysis import localisation as loc
from prm_viewer.analysis.reports import localisation_report
from prm_viewer.analysis.runs import Run
from prm_viewer.errors import PrmViewerError
from prm_viewer.store import Store

PRMBENCH_THRESHOLD = 0.5
CORRECT_CLASS = "correct"


def _match_split(splits: Sequence[str], wanted: str) -> str:
    low = {s.lower(): s for s in splits}
    if wanted.lower() in low:
        return low[wanted.lower()]
    hits = [s for s in splits if wanted.lower() in s.lower()]
    if len(hits) == 1:
        return hits[0]
    raise PrmViewerError(f"no subset '{wanted}' to tune the threshold on; subsets: {', '.join(splits) or '(none)'}")


def processbench_table(store: Store, runs: Sequence[Run], scorers: Sequence[str], tune_on: str = "gsm8k") -> pd.DataFrame:
    """Long table, one row per scorer and subset (split; a dataset without splits is its own
    subset) plus an ``average`` row per scorer (mean over subsets, as ProcessBench prints):
    scorer, subset, n_error, n_correct, tau (tuned on ``tune_on``), acc_error, acc_correct, f1,
    best_tau and best_f1 (the subset's own F1-optimal threshold: an in-sample oracle). Percent."""
    if not runs or not scorers:
        raise PrmViewerError("pick at least one dataset and one scorer")
    splits = queries.analysis_splits(store, [r.dataset_id for r in runs])
    split = _match_split(splits, tune_on)
    rows = []
    for scorer in scorers:
        rep = localisation_report(store, runs, scorer, tune_on=split, in_sample=True)
        by = rep.breakdowns["split"].rename(columns={"group": "subset"})
        best = rep.best_by_split.rename(columns={"split": "subset", "tau": "best_tau", "f1": "best_f1"})
        t = by.merge(best[["subset", "best_tau", "best_f1"]], on="subset", how="left")
        t.insert(0, "scorer", rep.scorer)
        t.insert(4, "tau", rep.threshold)
        avg = {"scorer": rep.scorer, "subset": "average", "n_error": int(t["n_error"].sum()),
               "n_correct": int(t["n_correct"].sum()), "tau": rep.threshold}
        for c in ("acc_error", "acc_correct", "f1", "best_f1"):
            avg[c] = float(t[c].mean())
        avg["best_tau"] = np.nan
        rows.append(pd.concat([t, pd.DataFrame([avg])], ignore_index=True))
    return pd.concat(rows, ignore_index=True)[["scorer", "subset", "n_error", "n_correct", "tau", "acc_error",
                                                "acc_correct", "f1", "best_tau", "best_f1"]]


def prmbench_scores(labels: pd.DataFrame, threshold: float = PRMBENCH_THRESHOLD) -> pd.DataFrame:
    """PRMBench per error class from labelled scored steps (columns ``category``, ``gold_label``,
    ``score``): category, n_steps, f1_correct, f1_error, prm_score (percent), plus ``overall``
    (every class except ``correct``). Valid = score strictly above ``threshold``."""
    cols = ["category", "n_steps", "f1_correct", "f1_error", "prm_score"]
    if labels.empty:
        return pd.DataFrame(columns=cols)
    # step_f1 predicts "correct" for score >= tau; the official rule is score > threshold.
    tau = float(np.nextafter(threshold, np.inf))
    lab = labels.assign(category=labels["category"].astype("string").fillna("(none)"))
    per = loc.step_f1(lab, tau, by="category").rename(columns={"group": "category"})
    rest = lab[lab["category"] != CORRECT_CLASS]
    out = [per]
    if not rest.empty:
        out.append(loc.step_f1(rest, tau).rename(columns={"group": "category"}).assign(category="overall"))
    return pd.concat(out, ignore_index=True)[cols]


def prmbench_table(store: Store, runs: Sequence[Run], scorers: Sequence[str],
                   threshold: float = PRMBENCH_THRESHOLD) -> pd.DataFrame:
    """:func:`prmbench_scores` for each scorer on the runs' labelled steps, one row per scorer and
    error class (the traces' ``category``, the PRMBench ``classification``)."""
    if not runs or not scorers:
        raise PrmViewerError("pick at least one dataset and one scorer")
    refs = [r.ref() for r in runs]
    parts = []
    for scorer in scorers:
        sc = store.resolve_scorer(scorer)
        labels = queries.analysis_step_labels(store, refs, sc["scorer_id"])
        if labels.empty:
            raise PrmViewerError(f"'{sc['name']}' has scored no labelled step of {', '.join(r.label for r in runs)}")
        parts.append(prmbench_scores(labels, threshold).assign(scorer=sc["name"]))
    t = pd.concat(parts, ignore_index=True)
    return t[["scorer"] + [c for c in t.columns if c != "scorer"]]


def error_positions(store: Store, runs: Sequence[Run], bins: int = 10) -> pd.DataFrame:
    """Where the gold error steps sit per error class: category, bin, lo, hi, n, share (of the
    class's error steps)."""
    d = queries.prmbench_error_positions(store, [r.ref() for r in runs], bins)
    if d.empty:
        return d.assign(lo=pd.Series(dtype=float), hi=pd.Series(dtype=float), share=pd.Series(dtype=float))
    return d.assign(lo=d["bin"] / bins, hi=(d["bin"] + 1) / bins,
                    share=d["n"] / d.groupby("category")["n"].transform("sum"))


def processbench_wide(table: pd.DataFrame) -> pd.DataFrame:
    """The ProcessBench table as the paper prints it: one row per scorer, for each subset its
    error accuracy, correct accuracy and F1, the average F1 last."""
    subsets = [s for s in dict.fromkeys(table["subset"]) if s != "average"]
    rows = []
    for scorer, g in table.groupby("scorer", sort=False):
        g = g.set_index("subset")
        r: dict[str, object] = {"scorer": scorer}
        for s in subsets:
            if s in g.index:
                r[f"{s} error"], r[f"{s} correct"], r[f"{s} F1"] = g.loc[s, ["acc_error", "acc_correct", "f1"]]
        r["avg F1"] = g.loc["average", "f1"] if "average" in g.index else np.nan
        rows.append(r)
    return pd.DataFrame(rows)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def latex_table(table: pd.DataFrame, caption: str, digits: int = 1) -> str:
    """A booktabs ``table`` with a ``tabular`` (text left, numbers right; NaN as ``--``); numbers
    with ``digits`` decimals except counts, text escaped for LaTeX."""
    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "--"
        if isinstance(v, (bool, np.bool_)):
            return str(v)
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            x = float(v)
            return f"{x:.{digits if abs(x) > 1 else max(digits, 3)}f}"
        return latex_escape(str(v))

    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    spec = "".join("r" if n else "l" for n in numeric)
    head = " & ".join(latex_escape(str(c)) for c in table.columns) + r" \\"
    body = [" & ".join(cell(v) for v in row) + r" \\" for row in table.itertuples(index=False)]
    return "\n".join([r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(caption)}}}",
                      rf"\begin{{tabular}}{{{spec}}}", r"\toprule", head, r"\midrule", *body, r"\bottomrule",
                      r"\end{tabular}", r"\end{table}", ""])
