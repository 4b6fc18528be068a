"""``experiment run``: rebuild the with-vs-without process-reward experiment from nothing;
``experiment load``: put a finished run's results into the store (what the app shows first)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def cmd_run(args: argparse.Namespace) -> int:
    from prm_viewer.errors import PrmViewerError
    from prm_viewer.experiment import DEFAULT_OUT, preset
    from prm_viewer.experiment.pipeline import run_experiment

    if args.seed < 0:
        raise PrmViewerError(f"--seed must be 0 or more, got {args.seed}")
    out = Path(args.out) if args.out else DEFAULT_OUT
    if out.exists() and not out.is_dir():
        raise PrmViewerError(f"--out {out} is a file, not a folder")
    res = run_experiment(preset(args.quick, args.seed), out)
    h = res["headline"]

    def ci(x: dict[str, Any]) -> str:
        return "n/a" if x["estimate"] is None else f"{x['estimate']:.3f} [{x['low']:.3f}, {x['high']:.3f}]"

    print(f"accuracy without process reward {ci(h['accuracy_without'])}, with {ci(h['accuracy_with'])}, "
          f"with - without {ci(h['diff_with_minus_without'])} (95% paired bootstrap); McNemar p = {h['mcnemar_p']}")
    for split, v in h["by_split"].items():
        print(f"  {split}: without {ci(v['without'])}, with {ci(v['with'])}, diff {ci(v['diff'])} ({v['n_problems']} problems)")
    print(f"results: {out / 'results.json'}; load into a store with prm_viewer.experiment.load_experiment(store, '{out}')")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from prm_viewer.cli.common import open_cli_store
    from prm_viewer.errors import PrmViewerError
    from prm_viewer.experiment import DEFAULT_OUT
    from prm_viewer.experiment.artefacts import has_results, load_experiment

    out = Path(args.out) if args.out else DEFAULT_OUT
    if not has_results(out):
        raise PrmViewerError(f"--out {out} holds no finished experiment run; build one with "
                             "`python -m prm_viewer experiment run`")
    with open_cli_store(args) as store:
        names = load_experiment(store, out)
    print("loaded the experiment's results: " + ", ".join(names) if names else "the experiment's results are already loaded")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("experiment", help="the with-vs-without process-reward experiment (tiny models, CPU)")
    esub = p.add_subparsers(dest="experiment_command", required=True, metavar="ACTION")
    r = esub.add_parser("run", help="train the tiny PRM and both policies, evaluate through scoring jobs")
    r.add_argument("--out", help="artefact folder (default data/experiment)")
    r.add_argument("--seed", type=int, default=0, help="seed of every split, initialisation and sampler (default 0)")
    r.add_argument("--quick", action="store_true", help="tiny smoke settings (about a minute; numbers mean nothing)")
    r.set_defaults(func=cmd_run)
    r = esub.add_parser("load", help="load a finished run's datasets, scorers and scores into the store")
    r.add_argument("--out", help="artefact folder of the run (default data/experiment)")
    r.set_defaults(func=cmd_load)
