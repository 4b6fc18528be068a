"""Agreement between step annotators (the imported gold included as annotator ``gold``).

Pure functions over a long frame of labels (trace_id, step_idx, annotator, label in {-1, 0, +1}):

- Cohen's kappa per pair of annotators on the steps both labelled (unweighted, nominal; undefined
  when the expected agreement is 1, as scikit-learn's ``cohen_kappa_score`` gives NaN);
- Krippendorff's alpha (nominal) over every annotator, from the coincidence matrix of the steps
  labelled by at least two annotators (missing values allowed);
- first-error agreement per pair on the traces where both have a first error: exact and within
  one step. A human annotator's first error is their first step labelled wrong; "no error" when
  every step has a label and none is wrong; unknown otherwise. The gold's is the imported one.
  For "within one step", "no error" counts as the position after the last step;
- a confusion table per pair and the traces with the most disagreeing steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from prm_viewer import queries
from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.store import Store

__all__ = ["AgreementReport", "LABEL_ORDER", "annotator_agreement", "cohen_kappa", "first_errors",
           "krippendorff_alpha", "pair_table"]

LABEL_ORDER = (1, 0, -1)
LABEL_TEXT = {1: "correct", 0: "unsure", -1: "wrong"}


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Cohen's kappa of two equally long label sequences; None when undefined (no items, or the
    expected agreement is 1)."""
    x, y = np.asarray(a), np.asarray(b)
    if x.size == 0:
        return None
    cats = np.union1d(x, y)
    px = np.array([(x == c).mean() for c in cats])
    py = np.array([(y == c).mean() for c in cats])
    po = float((x == y).mean())
    pe = float((px * py).sum())
    return None if pe >= 1.0 else (po - pe) / (1.0 - pe)


def krippendorff_alpha(units: pd.DataFrame) -> tuple[float | None, int]:
    """Nominal Krippendorff's alpha of a long frame (unit columns trace_id, step_idx; label) and
    the number of pairable units (two or more labels). None when undefined (no pairable unit, or a
    single category in all of them)."""
    if units.empty:
        return None, 0
    key = units["trace_id"].astype(str) + "\x1f" + units["step_idx"].astype(str)
    counts = pd.crosstab(key, units["label"])  # units x categories: n_uc
    m = counts.sum(axis=1)
    counts = counts[m >= 2]
    m = m[m >= 2]
    if counts.empty:
        return None, 0
    n_uc = counts.to_numpy(dtype=float)
    mu = m.to_numpy(dtype=float)[:, None]
    # Coincidences: o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1)
    o = (n_uc[:, :, None] * n_uc[:, None, :]) / (mu[:, :, None] - 1)
    o = o.sum(axis=0) - np.diag((n_uc / (mu - 1)).sum(axis=0))
    n_c = o.sum(axis=1)
    n = n_c.sum()
    disagree_obs = n - np.trace(o)                  # sum over c != k of o_ck
    disagree_exp = n * n - float((n_c ** 2).sum())  # sum over c != k of n_c n_k
    if disagree_exp <= 0:
        return None, int(len(counts))
    return float(1.0 - (n - 1) * disagree_obs / disagree_exp), int(len(counts))


def first_errors(units: pd.DataFrame, traces: pd.DataFrame) -> pd.DataFrame:
    """Per (trace_id, annotator) with a known first error: first_error (-1 = no error). Humans'
    from their labels (see the module docstring); gold's from ``traces.gold_first_error``."""
    human = units[units["annotator"] != queries.GOLD]
    rows = []
    if not human.empty:
        n_steps = traces.set_index("trace_id")["n_steps"]
        g = human.groupby(["trace_id", "annotator"], sort=True)
        agg = pd.DataFrame({
            "first_wrong": g.apply(lambda d: d.loc[d["label"] == -1, "step_idx"].min(), include_groups=False),
            "n_labelled": g.size(),
        }).reset_index()
        agg["n_steps"] = agg["trace_id"].map(n_steps)
        fe = np.where(agg["first_wrong"].notna(), agg["first_wrong"],
                      np.where(agg["n_labelled"] >= agg["n_steps"], -1, np.nan))
        rows.append(pd.DataFrame({"trace_id": agg["trace_id"], "annotator": agg["annotator"], "first_error": fe}))
    gold = traces[traces["gold_first_error"].notna()]
    rows.append(pd.DataFrame({"trace_id": gold["trace_id"], "annotator": queries.GOLD,
                              "first_error": gold["gold_first_error"].astype(float)}))
    out = pd.concat(rows, ignore_index=True).dropna(subset=["first_error"])
    out["first_error"] = out["first_error"].astype(int)
    return out.reset_index(drop=True)


def pair_table(units: pd.DataFrame, fes: pd.DataFrame, names: Sequence[str], n_steps: pd.Series) -> pd.DataFrame:
    """One row per pair of ``names``: a, b, n_steps (common steps), kappa, first_error_exact,
    first_error_within_1 (shares of n_traces), n_traces (common traces with a first error)."""
    wide = units.pivot_table(index=["trace_id", "step_idx"], columns="annotator", values="label", aggfunc="first")
    fe = fes.pivot_table(index="trace_id", columns="annotator", values="first_error", aggfunc="first")
    rows = []
    for a, b in combinations(names, 2):
        both = wide[[a, b]].dropna() if a in wide and b in wide else pd.DataFrame(columns=[a, b])
        kappa = cohen_kappa(both[a].astype(int).to_numpy(), both[b].astype(int).to_numpy())
        ex = w1 = None
        nt = 0
        if a in fe and b in fe:
            f = fe[[a, b]].dropna().astype(int)
            nt = len(f)
            if nt:
                ex = float((f[a] == f[b]).mean())
                last = n_steps.reindex(f.index).to_numpy()
                pa = np.where(f[a] == -1, last, f[a])
                pb = np.where(f[b] == -1, last, f[b])
                w1 = float((np.abs(pa - pb) <= 1).mean())
        rows.append({"a": a, "b": b, "n_steps": int(len(both)), "kappa": kappa, "first_error_exact": ex,
                     "first_error_within_1": w1, "n_traces": nt})
    return pd.DataFrame(rows, columns=["a", "b", "n_steps", "kappa", "first_error_exact", "first_error_within_1",
                                       "n_traces"])


@dataclass
class AgreementReport:
    """Annotator agreement on a dataset or a queue."""

    annotators: list[str]
    """The annotators compared, ``gold`` first when present."""
    pairs: pd.DataFrame
    """a, b, n_steps, kappa, first_error_exact, first_error_within_1, n_traces."""
    alpha: float | None
    """Krippendorff's alpha (nominal) over every annotator; None when undefined."""
    n_units: int
    """Steps with two or more labels (what alpha is computed on)."""
    disagreements: pd.DataFrame
    """trace_id, source_id, problem_snippet, n_disagree (steps whose labels differ), most first."""
    units: pd.DataFrame = field(repr=False)
    """The labels: trace_id, step_idx, annotator, label."""

    def confusion(self, a: str, b: str) -> pd.DataFrame:
        """Counts on the steps both labelled: rows a's label, columns b's (correct, unsure, wrong)."""
        wide = self.units.pivot_table(index=["trace_id", "step_idx"], columns="annotator", values="label",
                                      aggfunc="first")
        names = [LABEL_TEXT[v] for v in LABEL_ORDER]
        if a not in wide or b not in wide:
            return pd.DataFrame(0, index=pd.Index(names, name=a), columns=pd.Index(names, name=b))
        both = wide[[a, b]].dropna().astype(int)
        t = pd.crosstab(both[a], both[b]).reindex(index=list(LABEL_ORDER), columns=list(LABEL_ORDER), fill_value=0)
        t.index = pd.Index(names, name=a)
        t.columns = pd.Index(names, name=b)
        return t.astype(int)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "annotators": self.annotators, "alpha": self.alpha, "n_units": self.n_units,
            "pairs": self.pairs.to_dict(orient="records"),
            "disagreements": self.disagreements.to_dict(orient="records"),
            "confusion": {f"{a} vs {b}": self.confusion(a, b).to_dict(orient="index")
                          for a, b in combinations(self.annotators, 2)},
        })
        return out


def annotator_agreement(store: Store, dataset: str | None = None, queue_id: str | None = None) -> AgreementReport:
    """Agreement of every annotator (gold included) on a dataset (name or id), a queue (its
    traces), or the whole store."""
    dataset_id = store.resolve_dataset(dataset)["dataset_id"] if dataset is not None else None
    gold_steps = queries.gold_steps_sql(queries.GOLD, None if dataset_id is None else [dataset_id])
    units = queries.label_step_units(store, gold_steps, dataset_id, queue_id)
    traces = queries.label_unit_traces(store, dataset_id, queue_id)
    present = set(units["annotator"])
    names = ([queries.GOLD] if queries.GOLD in present else []) + sorted(present - {queries.GOLD})
    fes = first_errors(units, traces)
    pairs = pair_table(units, fes, names, traces.set_index("trace_id")["n_steps"])
    alpha, n_units = krippendorff_alpha(units)
    per_step = units.groupby(["trace_id", "step_idx"])["label"].agg(["nunique", "size"])
    dis = per_step[(per_step["size"] >= 2) & (per_step["nunique"] > 1)].groupby(level="trace_id").size()
    d = traces.set_index("trace_id").loc[dis.index, ["source_id", "problem_snippet"]].copy() if len(dis) else \
        pd.DataFrame(columns=["source_id", "problem_snippet"])
    d["n_disagree"] = dis.astype(int)
    d = d.reset_index().rename(columns={"index": "trace_id"})
    if "trace_id" not in d:
        d["trace_id"] = pd.Series(dtype=str)
    d = d.sort_values(["n_disagree", "trace_id"], ascending=[False, True])[
        ["trace_id", "source_id", "problem_snippet", "n_disagree"]].reset_index(drop=True)
    return AgreementReport(names, pairs, alpha, n_units, d, units)
