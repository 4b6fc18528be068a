"""Paper-figure commands: ``bestofn``, ``agreement``, ``benchmark processbench|prmbench`` and
``calibration`` (each with ``--json``; ``benchmark`` also writes ``--csv`` / ``--latex``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from prm_viewer.cli.common import open_cli_store, print_json
from prm_viewer.errors import PrmViewerError

if TYPE_CHECKING:
    from prm_viewer.store import Store


def _ints(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise PrmViewerError(f"--n takes comma-separated whole numbers (e.g. 1,2,4,8), not '{text}'") from None
    if not out or any(n < 1 for n in out):
        raise PrmViewerError(f"--n takes positive whole numbers, not '{text}'")
    return out


def _print(title: str, df: object) -> None:
    import pandas as pd

    if not isinstance(df, pd.DataFrame) or df.empty:
        return
    print(f"\n{title}")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


def cmd_bestofn(args: argparse.Namespace) -> int:
    from prm_viewer.analysis.bestofn import bestofn_report
    from prm_viewer.analysis.runs import resolve_run

    ns = _ints(args.n) if args.n else None
    with open_cli_store(args) as store:
        rep = bestofn_report(store, resolve_run(store, args.dataset, args.generator), args.scorer, ns=ns,
                             repeats=args.repeats, seed=args.seed, gold=args.gold)
    if args.json:
        print_json(rep.to_json())
        return 0
    print(f"Best-of-N of {rep.scorer} on {rep.run}: N = {', '.join(map(str, rep.ns))}; "
          f"{rep.repeats} random subsets per N (seed {rep.seed}); accuracy with 95% CI over problems")
    wide = rep.curves.pivot_table(index="n", columns="method", values="accuracy").reset_index()
    _print("accuracy by N (columns: aggregation_rule, majority = maj@N, pass = pass@N)", wide)
    _print("right answer, flawed process among the argmax picks (all samples)", rep.flawed)
    if rep.last_step_share is not None:
        print(f"\nlowest step score on the final step in {rep.last_step_share:.1%} of scored traces")
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    from prm_viewer.analysis.agreement import agreement_report
    from prm_viewer.analysis.runs import resolve_run

    if args.a is None and args.b is None:  # step annotators (gold included): cli/labels.py
        from prm_viewer.cli.labels import annotator_agreement_command

        return annotator_agreement_command(args)
    if args.a is None or args.b is None:
        raise PrmViewerError("give both --a and --b to compare two scorers, or neither to compare step annotators")

    with open_cli_store(args) as store:
        rep = agreement_report(store, resolve_run(store, args.dataset, args.generator), args.a, args.b, top=args.top)
        if args.consensus_out:
            _write_consensus(store, rep.consensus_ids(), Path(args.consensus_out))
    if args.json:
        print_json(rep.to_json())
        return 0

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    print(f"{rep.a} vs {rep.b} on {rep.run}: {rep.n_steps} steps in {rep.n_traces} traces")
    print(f"step calls agree on {f(rep.step_agreement)} (Cohen's kappa {f(rep.kappa)}); "
          f"score correlation Pearson {f(rep.pearson)}, Spearman {f(rep.spearman)}")
    print(f"same predicted first error on {f(rep.first_error_agreement)} of traces (kappa {f(rep.first_error_kappa)}); "
          f"consensus subset: {rep.n_consensus} traces")
    _print("step confusion", rep.confusion)
    _print("most disagreeing traces", rep.disagreements)
    if args.consensus_out:
        print(f"\nconsensus traces written to {args.consensus_out}")
    return 0


def _write_consensus(store: Store, ids: list[str], path: Path) -> None:
    from prm_viewer.export import export_to_path

    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("csv", "jsonl", "parquet"):
        raise PrmViewerError(f"--consensus-out must end in .csv, .jsonl or .parquet, not '{path.name}'")
    export_to_path(store, None, fmt, path, per="step", filters={"trace_ids": ids})


def cmd_benchmark(args: argparse.Namespace) -> int:
    from prm_viewer.analysis import benchmarks as bm
    from prm_viewer.analysis.runs import resolve_run

    with open_cli_store(args) as store:
        runs = [resolve_run(store, d) for d in args.dataset]
        if args.kind == "processbench":
            table = bm.processbench_table(store, runs, args.scorer, tune_on=args.tune_on)
            caption = f"ProcessBench (threshold tuned on {args.tune_on}; best = each subset's own optimum)"
        else:
            table = bm.prmbench_table(store, runs, args.scorer, threshold=args.threshold)
            caption = f"PRMBench step F1 at threshold {args.threshold} (PRMScore = mean of both F1s)"
    if args.csv:
        Path(args.csv).write_text(table.to_csv(index=False), encoding="utf-8")
    if args.latex:
        shown = bm.processbench_wide(table) if args.kind == "processbench" else table
        Path(args.latex).write_text(bm.latex_table(shown, caption), encoding="utf-8")
    if args.json:
        from prm_viewer.analysis.jsonable import jsonable

        print_json(jsonable({"benchmark": args.kind, "table": table}))
        return 0
    print(caption)
    _print("", table)
    return 0


def cmd_calibration(args: argparse.Namespace) -> int:
    from prm_viewer.analysis.calibration import calibration_report
    from prm_viewer.analysis.runs import resolve_run

    with open_cli_store(args) as store:
        rep = calibration_report(store, [resolve_run(store, d, args.generator) for d in args.dataset], args.scorer,
                                 n_bins=args.bins)
    if args.json:
        print_json(rep.to_json())
        return 0
    print(f"{rep.scorer}: {rep.n_steps} labelled steps, expected calibration error {rep.ece:.4f} ({rep.n_bins} bins)")
    _print("reliability diagram (mean score vs share of steps not wrong, per bin)", rep.bins)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bestofn", help="Best-of-N reranking curves of a scorer (several samples per problem)")
    p.add_argument("--dataset", required=True, help="dataset name or id (NAME:GENERATOR for one generator)")
    p.add_argument("--generator", help="only this generator's traces")
    p.add_argument("--scorer", required=True, help="scorer name or id")
    p.add_argument("--n", help="comma-separated N values (default 1, 2, 4, ... up to the samples available)")
    p.add_argument("--repeats", type=int, default=20, help="random subsets per N between 1 and all (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random subsets (default 0)")
    p.add_argument("--gold", default="gold", help="gold labels of the flawed-process share: gold (imported, "
                   "default), annotator:NAME, majority or prefer:NAME")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_bestofn)

    p = sub.add_parser("agreement", help="agreement of two scorers (or a scorer and the gold labels) on the same steps; "
                                         "without --a/--b, of the step annotators (gold included)")
    p.add_argument("--dataset", required=True, help="dataset name or id")
    p.add_argument("--generator", help="only this generator's traces")
    p.add_argument("--a", help="scorer A (name or id); without --a/--b: annotator agreement")
    p.add_argument("--b", help="scorer B (name or id), or 'gold' for the gold step labels")
    p.add_argument("--queue", help="annotator agreement on this labelling queue's traces (name or id)")
    p.add_argument("--top", type=int, default=20, help="how many most-disagreeing traces to list (default 20)")
    p.add_argument("--consensus-out", help="write the traces where both localisers agree to FILE (.csv, .jsonl, .parquet)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_agreement)

    p = sub.add_parser("benchmark", help="ProcessBench or PRMBench table as the papers print it")
    p.add_argument("kind", choices=["processbench", "prmbench"], help="which benchmark table")
    p.add_argument("--dataset", required=True, action="append", help="dataset name or id (repeat for several)")
    p.add_argument("--scorer", required=True, action="append", help="scorer name or id (repeat for several)")
    p.add_argument("--tune-on", default="gsm8k", help="ProcessBench: subset to tune the threshold on (default gsm8k)")
    p.add_argument("--threshold", type=float, default=0.5, help="PRMBench: validity threshold (default 0.5, official)")
    p.add_argument("--csv", help="also write the table as CSV to FILE")
    p.add_argument("--latex", help="also write the table as a LaTeX tabular to FILE")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("calibration", help="reliability diagram and expected calibration error of step scores")
    p.add_argument("--dataset", required=True, action="append", help="dataset name or id (repeat for several)")
    p.add_argument("--generator", help="only this generator's traces")
    p.add_argument("--scorer", required=True, help="scorer name or id")
    p.add_argument("--bins", type=int, default=10, help="equal-width bins of [0, 1] (default 10)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_calibration)
