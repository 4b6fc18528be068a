"""Analyses as whole reports, fetched from the store: what the CLI prints and the pages draw.

Each ``*_report`` runs the queries of ``prm_viewer.queries`` (section "analysis") and then the
pure functions of this package. Reports keep their per-trace frames (``frame...`` fields, left
out of JSON) so pages can link every number to the traces behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from prm_viewer import queries
from prm_viewer.analysis import compare as cmp
from prm_viewer.analysis import diversity as div
from prm_viewer.analysis import error_types as et
from prm_viewer.analysis import localisation as loc
from prm_viewer.analysis.jsonable import jsonable
from prm_viewer.analysis.runs import Run
from prm_viewer.errors import PrmViewerError
from prm_viewer.store import Store

BREAKDOWNS = ("split", "generator", "category")


# --------------------------------------------------------------------------- localisation


@dataclass
class LocalisationReport:
    scorer: str
    threshold: float
    threshold_source: str
    """'given', 'scorer default', or 'tuned on split X' (F1-optimal there)."""
    tuned_on: str | None
    tuned_f1: float | None
    """F1 on the tuning split itself (in-sample; for reference only)."""
    reported_splits: list[str]
    runs: list[str]
    n_traces: int
    n_unlabelled: int
    """Traces without a known gold first error (left out)."""
    n_unscored: int
    """Traces with a known label but no score from this scorer (left out)."""
    overall: pd.DataFrame
    """Localisers side by side on the reported splits."""
    breakdowns: dict[str, pd.DataFrame]
    """Threshold-localiser metrics per split, generator and category (reported splits)."""
    positions: dict[str, pd.DataFrame]
    offsets: dict[str, pd.DataFrame]
    sweep: pd.DataFrame
    """F1 etc. per tau (grid) per split, every split (descriptive: curves, not a tuned result)."""
    best_by_split: pd.DataFrame
    """Each split's own F1-optimal tau (in-sample oracle, labelled as such)."""
    step_f1: pd.DataFrame | None
    frame: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    """Per-trace frame of the reported splits (not in JSON)."""
    gold: str = "gold"
    """The gold source the metrics are computed against (``queries.gold``)."""

    def to_json(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "frame"}
        return jsonable(d)


def _split_col(frame: pd.DataFrame) -> pd.Series:
    # Datasets without a split (e.g. one ProcessBench file each) count as their own split.
    return frame["split"].astype("object").where(frame["split"].notna(), frame["run"])


def localisation_report(
    store: Store,
    runs: Sequence[Run],
    scorer: str,
    threshold: float | None = None,
    tune_on: str | None = None,
    in_sample: bool = False,
    critic: str | None = None,
    gold: str = "gold",
) -> LocalisationReport:
    """ProcessBench localisation of ``scorer`` on the runs.

    The threshold is ``threshold`` if given; else, with ``tune_on``, the F1-optimal tau on that
    split, applied to the OTHER splits (the tuning split is reported only with ``in_sample``);
    else the scorer's own threshold. ``gold``: the gold source (``queries.gold``: gold,
    annotator:NAME, majority, prefer:NAME) whose first errors and step labels count as the truth.
    """
    if threshold is not None and tune_on is not None:
        raise PrmViewerError("give either a threshold or a split to tune it on, not both")
    sc = store.resolve_scorer(scorer)
    critic_id = store.resolve_scorer(critic)["scorer_id"] if critic else None
    refs = [r.ref() for r in runs]
    base_tau = float(sc["threshold"]) if threshold is None else float(threshold)
    gold = queries.check_gold(store, gold)
    frame = queries.analysis_trace_frame(store, refs, sc["scorer_id"], base_tau, critic_id, gold=gold)
    frame["split"] = _split_col(frame)
    splits = sorted(frame["split"].dropna().unique().tolist())
    source, tuned_f1 = ("given" if threshold is not None else "scorer default"), None
    reported = splits
    if tune_on is not None:
        if tune_on not in splits:
            raise PrmViewerError(f"no split '{tune_on}' in the selection; splits: {', '.join(splits) or '(none)'}")
        tau, tuned_f1 = loc.best_threshold(frame[frame["split"] == tune_on])
        if tau is None:
            raise PrmViewerError(f"cannot tune on '{tune_on}': it needs scored traces both with and without an error")
        reported = splits if in_sample else [s for s in splits if s != tune_on]
        if not reported:
            raise PrmViewerError(
                f"tuning on '{tune_on}' leaves no other split to report; add datasets/splits, or ask for in-sample results")
        source = f"tuned on split {tune_on}" + (" (in-sample results included)" if in_sample else "")
        frame = queries.analysis_trace_frame(store, refs, sc["scorer_id"], tau, critic_id, gold=gold)
        frame["split"] = _split_col(frame)
    else:
        tau = base_tau
    labelled = frame["gold_first_error"].notna()
    n_unscored = int((labelled & (frame["n_scored"] == 0)).sum())
    rep = frame[frame["split"].isin(reported)]
    names = [n for n in loc.LOCALISERS if n != "critic" or critic_id]
    labels = queries.analysis_step_labels(store, refs, sc["scorer_id"], gold=gold)
    if not labels.empty:
        labels = labels.assign(split=labels["split"].astype("object").where(labels["split"].notna(), labels["run"]))
        labels = labels[labels["split"].isin(reported)]
    step = None
    if not labels.empty:
        step = pd.concat([loc.step_f1(labels, tau), loc.step_f1(labels, tau, by="split").assign(group=lambda d: "split=" + d["group"])])
    sweeps, best = [], []
    for s in splits:  # one per split (a handful): the sweep itself is vectorised
        fs = frame[frame["split"] == s]
        sweeps.append(loc.threshold_sweep(fs).assign(split=s))
        bt, bf = loc.best_threshold(fs)
        best.append({"split": s, "tau": bt, "f1": bf, "note": "in-sample optimum (oracle)"})
    return LocalisationReport(
        scorer=sc["name"], threshold=tau, threshold_source=source, tuned_on=tune_on, tuned_f1=tuned_f1,
        reported_splits=reported, runs=[r.label for r in runs], n_traces=len(frame),
        n_unlabelled=int((~labelled).sum()), n_unscored=n_unscored,
        overall=loc.compare_localisers(rep, names),
        breakdowns={by: loc.metrics_by(rep, "threshold", by) for by in BREAKDOWNS},
        positions={n: loc.position_table(rep, n) for n in names if not loc.usable(rep, n).empty},
        offsets={n: loc.offset_histogram(rep, n) for n in names if not loc.usable(rep, n).empty},
        sweep=pd.concat(sweeps, ignore_index=True) if sweeps else pd.DataFrame(),
        best_by_split=pd.DataFrame(best), step_f1=step, frame=rep, gold=gold,
    )


# --------------------------------------------------------------------------- comparison


@dataclass
class CompareReport:
    a: str
    b: str
    scorer: str | None
    pairing: str
    n_traces_a: int
    n_traces_b: int
    n_shared_problems: int
    accuracy: cmp.Accuracy
    trace_length: Any
    trace_min: Any
    first_error: pd.DataFrame
    score_by_position: pd.DataFrame
    rates: dict[str, list[cmp.Rates]]
    breakdown: dict[str, pd.DataFrame]
    differ_most: pd.DataFrame
    """Problems ranked by how much A and B differ, with the problem text and source ids."""
    headline: cmp.Headline | None = None
    """The answer to "did process rewards help?" with effect sizes (see ``compare.headline``)."""
    frame_a: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    frame_b: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    pairs: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def to_json(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in {"frame_a", "frame_b", "pairs"}}
        return jsonable(d)


def compare_report(
    store: Store, a: Run, b: Run, scorer: str | None = None, pairing: str = "problem", bins: int = 10,
    top: int = 20, n_resamples: int = 2000, seed: int = 0, gold: str = "gold",
) -> CompareReport:
    """Run A vs run B on shared problems (see ``prm_viewer.analysis.compare``); ``gold``: the gold
    source of the "right answer, flawed process" rates and first-error positions (``queries.gold``)."""
    key = cmp.check_key(pairing)
    sc = store.resolve_scorer(scorer) if scorer else None
    sid = sc["scorer_id"] if sc else None
    tau = float(sc["threshold"]) if sc else 0.5
    la, lb = ("A: " + a.label, "B: " + b.label)
    frame = queries.analysis_trace_frame(store, [a.ref(la), b.ref(lb)], sid, tau, with_drop=False,
                                         gold=queries.check_gold(store, gold))
    fa, fb = frame[frame["run"] == la], frame[frame["run"] == lb]
    pairs = cmp.pair(fa, fb, key)
    if pairs.empty:
        raise PrmViewerError(f"runs '{a.label}' and '{b.label}' share no problem (paired by {pairing})")
    sa, sb = cmp.shared_traces(fa, 2, key), cmp.shared_traces(fb, 2, key)
    if sid is not None:
        positions = queries.analysis_position_scores(store, [a.ref(la), b.ref(lb)], sid, bins, shared_by=key)
        by_pos = cmp.score_by_position(positions)
        tmin = cmp.two_sample(sa["min_all"].to_numpy(float), sb["min_all"].to_numpy(float))
    else:
        by_pos, tmin = pd.DataFrame(), None
    rates = {
        src: [cmp.process_rates(sa, src), cmp.process_rates(sb, src)]
        for src in ("gold", "predicted") if src == "gold" or sid is not None
    }
    treated, basis = treated_run(store, a, b)
    top_rows = cmp.differ_most(pairs, top)
    if "problem_ref_a" in top_rows and not top_rows.empty:
        texts = queries.analysis_problem_texts(store, top_rows["problem_ref_a"].dropna().tolist())
        top_rows = top_rows.merge(texts.rename(columns={"problem_id": "problem_ref_a"}), how="left", on="problem_ref_a")
    return CompareReport(
        a=a.label, b=b.label, scorer=sc["name"] if sc else None, pairing=pairing,
        n_traces_a=len(fa), n_traces_b=len(fb), n_shared_problems=len(pairs),
        accuracy=cmp.accuracy(pairs, n_resamples, seed),
        trace_length=cmp.two_sample(sa["n_steps"].to_numpy(float), sb["n_steps"].to_numpy(float)),
        trace_min=tmin, first_error=cmp.first_error_positions(sa, sb), score_by_position=by_pos, rates=rates,
        breakdown={by: cmp.breakdown(pairs, by, min(n_resamples, 1000), seed) for by in ("split", "category")},
        differ_most=top_rows, headline=cmp.headline(pairs, rates, treated, basis, n_resamples=n_resamples, seed=seed),
        frame_a=sa, frame_b=sb, pairs=pairs,
    )


TREATMENT_TAG = "process_reward"
"""The dataset tag that says which run was trained with process rewards (``with`` / ``without``)."""


def treated_run(store: Store, a: Run, b: Run) -> tuple[str, str]:
    """('A' or 'B', why): the run tagged ``process_reward=with`` when exactly one of the two is;
    otherwise B, read as "B's effect over A"."""
    tags = queries.datasets(store).set_index("dataset_id")["tags"]

    def tag(run: Run) -> str | None:
        value = (tags.get(run.dataset_id) or {}).get(TREATMENT_TAG)
        return None if value is None else str(value)

    ta, tb = tag(a), tag(b)
    if (ta == "with") != (tb == "with"):
        side = "A" if ta == "with" else "B"
        return side, f"tags: {TREATMENT_TAG}={ta or '(none)'} on A, {TREATMENT_TAG}={tb or '(none)'} on B"
    return "B", f"no {TREATMENT_TAG}=with tag tells the runs apart: B's effect over A"


# --------------------------------------------------------------------------- diversity, error types


@dataclass
class DiversityReport:
    runs: list[str]
    semantic: bool
    summary: pd.DataFrame
    per_problem: pd.DataFrame
    clusters: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    def to_json(self) -> dict[str, Any]:
        return jsonable({k: v for k, v in self.__dict__.items() if k != "clusters"})


def diversity_report(store: Store, runs: Sequence[Run], semantic: bool = False, cluster_distance: float = 0.5) -> DiversityReport:
    texts = queries.analysis_step_texts(store, [r.ref() for r in runs])
    per, cl = div.diversity(texts, semantic=semantic, cluster_distance=cluster_distance)
    return DiversityReport([r.label for r in runs], semantic, div.summarise(per), per, cl)


@dataclass
class ErrorTypeReport:
    runs: list[str]
    counts: pd.DataFrame
    by_position: pd.DataFrame
    by_relative_position: pd.DataFrame
    critic: pd.DataFrame | None

    def to_json(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


def error_type_report(store: Store, runs: Sequence[Run], critic: str | None = None, bins: int = 10) -> ErrorTypeReport:
    critic_id = store.resolve_scorer(critic)["scorer_id"] if critic else None
    frame = queries.analysis_trace_frame(store, [r.ref() for r in runs], None, 0.5, critic_id)
    return ErrorTypeReport(
        [r.label for r in runs], et.error_type_counts(frame), et.error_type_by_position(frame),
        et.error_type_by_position(frame, relative=True, bins=bins), et.critic_verdicts(frame) if critic_id else None,
    )
