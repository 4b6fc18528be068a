"""Data commands: ``import``, ``list``, ``delete``, ``export``, ``demo``, ``formats``, ``settings``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from prm_viewer.cli.common import open_cli_store
from prm_viewer.cli.options import options_from_cli, parse_kv

if TYPE_CHECKING:
    from prm_viewer.store import Store


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from prm_viewer.ingest import import_file

    options = options_from_cli(args.map or [], args.option or [])
    with open_cli_store(args) as store:
        bar = tqdm(desc=f"importing {Path(args.file).name}", unit=" traces", disable=None, leave=False)

        def progress(n: int) -> None:
            bar.update(n - bar.n)

        try:
            report = import_file(store, args.file, fmt=args.format, options=options, name=args.dataset,
                                 tags=dict(args.tag or []), progress=progress)
        finally:
            bar.close()
        checked = _check_answers_after_import(store, report.dataset_id) if args.check_answers else None
    print(report.summary())
    if checked:
        print(f"  checked {checked['checked']} final answers against the reference answers (math-verify): "
              f"{checked['correct']} correct, {checked['wrong']} wrong, {checked['undecided']} undecided")
    for skip in report.skipped[:10]:
        print(f"  skipped {skip.where()}: {skip.reason}")
    if len(report.skipped) > 10:
        print(f"  ... and {len(report.skipped) - 10} more skipped (all are listed in the stored import report)")
    for warn in report.warnings[:10]:
        print(f"  note {warn.where()}: {warn.reason}")
    if len(report.warnings) > 10:
        print(f"  ... and {len(report.warnings) - 10} more notes")
    return 0


def _check_answers_after_import(store: Store, dataset_id: str) -> dict[str, int] | None:
    """Fill ``final_answer_correct`` where the file gave a reference answer but no label (the CLI
    runs in a main thread, where math-verify's time limits work)."""
    from prm_viewer import queries
    from prm_viewer.generation import check_dataset_answers

    if queries.answer_check_rows(store, dataset_id).empty:
        return None
    return check_dataset_answers(store, dataset_id)


def cmd_list(args: argparse.Namespace) -> int:
    from prm_viewer import queries

    with open_cli_store(args) as store:
        df = queries.datasets(store)
    if args.json:
        print(df.to_json(orient="records", date_format="iso"))
    elif df.empty:
        print("no datasets; import one with: python -m prm_viewer import FILE")
    else:
        cols = ["name", "format", "n_traces", "n_steps", "n_labelled", "scorers", "tags", "synthetic"]
        print(df[cols].to_string(index=False))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with open_cli_store(args) as store:
        ds = store.delete_dataset(args.dataset)
    print(f"deleted dataset '{ds['name']}' ({ds['n_traces']} traces) with its steps and scores")
    if ds.get("job_dirs_removed"):
        print(f"  removed {len(ds['job_dirs_removed'])} job folder(s) holding copies of its traces")
    for left in ds.get("job_dirs_left") or []:
        print(f"  could not remove job folder {left}: delete it by hand (it holds copies of the trace text)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from prm_viewer import export

    with open_cli_store(args) as store:
        n = export.export_dataset(store, args.dataset, args.format, args.output, per=args.per)
    print(f"wrote {n} rows to {args.output}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """What the app opens an empty store on: the experiment's real results (``data/experiment``)
    when they are there, else (or with ``--synthetic``) the synthetic demo."""
    from prm_viewer.demo import load_demo
    from prm_viewer.experiment import has_results, load_default_demo

    synthetic = args.synthetic or not has_results(args.experiment)
    with open_cli_store(args) as store:
        names = load_demo(store) if args.synthetic else load_default_demo(store, args.experiment)
    what = "the synthetic demo" if synthetic else "the with-vs-without experiment's results"
    print(f"loaded {what}: " + ", ".join(names) if names else f"{what}: already loaded, nothing added")
    return 0


def cmd_formats(args: argparse.Namespace) -> int:
    from prm_viewer.formats import FORMATS

    for f in FORMATS.values():
        print(f"{f.name:16} {f.label}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from prm_viewer import settings

    for s in settings.SETTINGS:
        print(f"{s.name} = {settings.get(s.name)!r}    # {s.help}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser("import", help="import a trace file (format auto-detected)")
    sp.add_argument("file")
    sp.add_argument("--format", help="force a format (see 'formats')")
    sp.add_argument("--map", action="append", type=parse_kv, metavar="KEY=COLUMN",
                    help="generic importer column mapping, e.g. problem=question steps=solution")
    sp.add_argument("--option", action="append", type=parse_kv, metavar="KEY=VALUE",
                    help="importer option, e.g. split_rule=newline first_error_base=1 no_error=N/A, "
                         "records=* (nested JSON), on_error=skip (skip and report bad rows), sql=SELECT ... FROM src, "
                         "preset=prm800k-steps")
    sp.add_argument("--dataset", help="dataset name (default: the file name)")
    sp.add_argument("--tag", action="append", type=parse_kv, metavar="KEY=VALUE", help="tag, e.g. process_reward=with")
    sp.add_argument("--no-check-answers", dest="check_answers", action="store_false",
                    help="do not fill final_answer_correct from reference answers (checked with math-verify by default)")
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("list", help="list datasets")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("delete", help="delete a dataset with its traces, steps and scores")
    sp.add_argument("--dataset", required=True)
    sp.set_defaults(func=cmd_delete)

    sp = sub.add_parser("export", help="export annotated steps or traces")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--format", required=True, choices=["csv", "parquet", "jsonl"])
    sp.add_argument("--per", choices=["step", "trace"], default="step")
    sp.add_argument("-o", "--output", required=True)
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("demo", help="load the demo: the with-vs-without experiment's results (as the app does)")
    sp.add_argument("--synthetic", action="store_true", help="load the synthetic demo (generated records) instead")
    sp.add_argument("--experiment", metavar="FOLDER", help="the experiment's artefacts (default: data/experiment)")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("formats", help="list the import formats")
    sp.set_defaults(func=cmd_formats)

    sp = sub.add_parser("settings", help="show settings and their values")
    sp.set_defaults(func=cmd_settings)
