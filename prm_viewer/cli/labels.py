"""Step annotation commands: ``label``, ``labels export|import``, ``queue create|list|progress|next|done``;
annotator agreement is the ``agreement`` command without ``--a/--b`` (``cli/figures.py`` calls
:func:`annotator_agreement_command`).

A user's mistake is one line naming the flag (``--step 9: trace ... has 5 steps``) and the store
is left unchanged.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from prm_viewer.cli.common import open_cli_store, print_json
from prm_viewer.cli.options import parse_kv
from prm_viewer.errors import PrmViewerError

if TYPE_CHECKING:
    from prm_viewer.queries import TraceFilter
    from prm_viewer.store import BadInput

FLAGS = {"trace": "--trace", "step": "--step", "label": "--label", "annotator": "--annotator", "note": "--note",
         "queue": "QUEUE", "name": "NAME", "dataset": "--dataset", "sample": "--sample", "only": "--only",
         "filter": "--filter", "gold": "--gold"}
"""BadInput.field -> the flag that gave it."""


def _flag(exc: BadInput) -> PrmViewerError:
    flag = FLAGS.get(exc.field or "")
    return PrmViewerError(f"{flag}: {exc}" if flag else str(exc))


def _first_error(text: str) -> int | None:
    if text.strip().lower() in ("none", "-1"):
        return None
    try:
        return int(text)
    except ValueError:
        raise PrmViewerError(f"--first-error takes a step number or 'none', not '{text}'") from None


def cmd_label(args: argparse.Namespace) -> int:
    from prm_viewer import annotation as an

    chosen = [x for x in ("label", "first_error", "undo") if getattr(args, x) not in (None, False)]
    if len(chosen) > 1:
        raise PrmViewerError("give one of --label, --first-error or --undo")
    if not chosen and args.note is None:
        raise PrmViewerError("nothing to do: give --label, --first-error, --note or --undo")
    if (args.label is not None or (args.note is not None and not chosen)) and args.step is None:
        raise PrmViewerError("--step: needed with --label and --note")
    if (args.label is not None or args.first_error is not None or args.note is not None) and not args.trace:
        raise PrmViewerError("--trace: needed to label a step")
    with open_cli_store(args) as store:
        try:
            if args.undo:
                ok = an.undo_last(store, args.annotator, args.trace)
                print(f"undid the latest action of {args.annotator.strip()}" if ok
                      else f"nothing to undo for {args.annotator.strip()}")
                return 0
            if args.first_error is not None:
                k = _first_error(args.first_error)
                event = an.set_first_error(store, args.trace, k, args.annotator)
                what = "no error" if k is None else f"first error at step {k}"
            elif args.label is not None:
                clear = args.label.strip().lower() == "clear"
                event = an.label_step(store, args.trace, args.step, None if clear else args.label,
                                      args.annotator, note=args.note)
                what = f"step {args.step} {args.label}"
            else:
                event = an.set_note(store, args.trace, args.step, args.note, args.annotator)
                what = f"note on step {args.step}"
        except an.BadInput as exc:
            raise _flag(exc) from None
    print(f"{args.annotator.strip()}: {what} on trace {args.trace} (event {event})")
    return 0


def cmd_labels_export(args: argparse.Namespace) -> int:
    from prm_viewer import annotation as an
    from prm_viewer import export

    with open_cli_store(args) as store:
        try:
            n = export.export_labels(store, args.dataset, args.format, args.out, gold=args.gold,
                                     annotators=args.annotator or None)
        except an.BadInput as exc:
            raise _flag(exc) from None
    print(f"wrote {n} rows ({args.format}, gold source {args.gold}) to {args.out}")
    return 0


def cmd_labels_import(args: argparse.Namespace) -> int:
    from prm_viewer.annotation.io import import_label_csv

    with open_cli_store(args) as store:
        rep = import_label_csv(store, args.file)
    per = ", ".join(f"{k}: {v} steps" for k, v in rep["annotators"].items())
    print(f"read {rep['rows']} rows from {args.file}; written {per}")
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from prm_viewer import annotation as an

    with open_cli_store(args) as store:
        try:
            if args.action == "create":
                _need(args.name, "NAME")
                _need(args.dataset, "--dataset")
                filt = _filter(dict(args.filter or []))
                qid = an.create_queue(store, args.name, args.dataset, filt, sample=args.sample, seed=args.seed,
                                      one_per_problem=args.one_per_problem, only=args.only, created_by=args.created_by)
                print(f"created queue '{args.name}' ({qid}) with {len(an.queue_items(store, qid))} traces")
            elif args.action == "list":
                df = an.queues(store)
                if args.json:
                    print(df.to_json(orient="records", date_format="iso"))
                else:
                    print(df.to_string(index=False) if not df.empty else "no queues; create one with: queue create NAME --dataset D")
            elif args.action == "progress":
                df = an.queue_progress(store, _need(args.name, "QUEUE"))
                if args.json:
                    print(df.to_json(orient="records"))
                else:
                    total = len(an.queue_items(store, args.name))
                    print(df.to_string(index=False) if not df.empty else f"nobody has finished an item yet ({total} traces)")
            elif args.action == "next":
                nxt = an.next_item(store, _need(args.name, "QUEUE"), _need(args.annotator, "--annotator"))
                print(nxt if nxt else "done: no trace left for this annotator")
            elif args.action == "done":
                an.mark_done(store, _need(args.name, "QUEUE"), _need(args.trace, "--trace"), _need(args.annotator, "--annotator"))
                print(f"marked {args.trace} done for {args.annotator}")
        except an.BadInput as exc:
            raise _flag(exc) from None
    return 0


def _need(value: str | None, flag: str) -> str:
    if not value:
        raise PrmViewerError(f"{flag}: needed for this queue action")
    return value


def _filter(kv: dict[str, str]) -> TraceFilter:
    from prm_viewer import queries

    known = {"generator": "generators", "category": "categories", "split": "splits", "correct": "correct",
             "gold_error": "gold_error", "text": "text"}
    bad = sorted(set(kv) - set(known))
    if bad:
        raise PrmViewerError(f"--filter: unknown key '{bad[0]}'; known: {', '.join(known)}")
    fields: dict[str, object] = {}
    for k, v in kv.items():
        fields[known[k]] = tuple(x for x in v.split(",") if x) if known[k].endswith("s") else v
    return queries.TraceFilter(**fields)  # type: ignore[arg-type]


def annotator_agreement_command(args: argparse.Namespace) -> int:
    """``agreement --dataset D [--queue Q] [--json]`` without ``--a/--b``: step annotators (gold included)."""
    from prm_viewer import annotation as an

    with open_cli_store(args) as store:
        try:
            qid = an.resolve_queue(store, args.queue) if getattr(args, "queue", None) else None
        except an.BadInput as exc:
            raise PrmViewerError(f"--queue: {exc}") from None
        rep = an.annotator_agreement(store, args.dataset, qid)
    if args.json:
        print_json(rep.to_json())
        return 0
    if len(rep.annotators) < 2:
        print(f"fewer than two annotators on '{args.dataset}' ({', '.join(rep.annotators) or 'none'}): nothing to compare")
        return 0

    def f(x: object) -> str:
        return "n/a" if x is None or x != x else f"{float(x):.3f}"  # type: ignore[arg-type]

    print(f"annotators: {', '.join(rep.annotators)}; Krippendorff's alpha {f(rep.alpha)} on {rep.n_units} steps")
    pairs = rep.pairs.copy()
    for c in ("kappa", "first_error_exact", "first_error_within_1"):
        pairs[c] = pairs[c].map(f)
    print(pairs.to_string(index=False))
    if not rep.disagreements.empty:
        print("\nmost disagreeing traces")
        print(rep.disagreements.head(args.top).to_string(index=False))
    return 0


LABEL_FORMATS = ("trl-stepwise", "processbench", "prm800k", "csv")
"""The keys of ``prm_viewer.export.LABEL_FORMATS`` (spelled out: ``--help`` imports no data package)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("label", help="label a step (or set the first error, or undo) as an annotator")
    p.add_argument("--trace", help="trace id")
    p.add_argument("--step", help="0-based step index")
    p.add_argument("--label", help="the step's label: correct, wrong, unsure, or clear")
    p.add_argument("--first-error", help="step K is the first error (earlier steps correct), or 'none' (all correct)")
    p.add_argument("--note", help="a note on the step")
    p.add_argument("--undo", action="store_true", help="remove this annotator's latest action (on --trace if given)")
    p.add_argument("--annotator", required=True, help="who labels (not 'gold', 'majority' or 'prefer:...')")
    p.set_defaults(func=cmd_label)

    p = sub.add_parser("labels", help="export step labels as training data, or import a label CSV back")
    lsub = p.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    e = lsub.add_parser("export", help="write labels under a gold source: " + ", ".join(LABEL_FORMATS))
    e.add_argument("--dataset", required=True, help="dataset name or id")
    e.add_argument("--format", required=True, choices=list(LABEL_FORMATS))
    e.add_argument("--gold", default="gold", help="gold source: gold, majority, annotator:NAME, prefer:NAME")
    e.add_argument("--annotator", action="append", help="csv: only these annotators' columns (repeatable)")
    e.add_argument("--out", required=True, help="output file")
    e.set_defaults(func=cmd_labels_export)
    i = lsub.add_parser("import", help="restore annotators' labels from a `labels export --format csv` file")
    i.add_argument("file")
    i.set_defaults(func=cmd_labels_import)

    p = sub.add_parser("queue", help="labelling queues: create, list, progress, next, done")
    p.add_argument("action", choices=["create", "list", "progress", "next", "done"])
    p.add_argument("name", nargs="?", help="queue name (create) or name/id (progress, next, done)")
    p.add_argument("--dataset", help="create: dataset name or id")
    p.add_argument("--filter", action="append", type=parse_kv, metavar="KEY=VALUE",
                   help="create: generator=, category=, split= (comma-separated), correct=, gold_error=, text=")
    p.add_argument("--sample", type=int, help="create: a random sample of N traces")
    p.add_argument("--seed", type=int, default=0, help="create: seed of the sample (default 0)")
    p.add_argument("--one-per-problem", action="store_true", help="create: at most one trace per problem")
    p.add_argument("--only", help="create: 'unlabelled' or 'disagree:SCORER' (predicted and gold first error differ)")
    p.add_argument("--created-by", help="create: who made it")
    p.add_argument("--annotator", help="next, done: the annotator")
    p.add_argument("--trace", help="done: the trace finished")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_queue)
