"""Scoring commands: ``score``, ``jobs``, ``cancel``, ``retry``, ``resume``, ``scorers``,
``recipes`` and the worker entry point ``worker --job DIR`` (what the job runner launches)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from prm_viewer.cli.common import open_cli_store
from prm_viewer.cli.options import json_values, parse_kv
from prm_viewer.errors import NotFound, PrmViewerError

if TYPE_CHECKING:
    from prm_viewer.jobs import JobRunner
    from prm_viewer.store import Store


def _job(store: Store, job_id: str) -> dict[str, Any]:
    job = store.get_job(job_id)
    if job is None:
        raise NotFound(f"no job '{job_id}'")
    return job


def _run_foreground(runner: JobRunner, job_id: str) -> dict[str, Any]:
    """Wait for a job with a progress bar; Ctrl-C cancels it (its scores so far are kept)."""
    from tqdm import tqdm

    job = _job(runner.store, job_id)
    bar = tqdm(total=job["traces_total"] or 0, desc=f"scoring ({job_id})", unit=" traces", disable=None)

    def show(j: dict[str, Any]) -> None:
        bar.update(max(0, (j["traces_done"] or 0) - bar.n))
        if j.get("tokens_per_s"):
            bar.set_postfix_str(f"{j['tokens_per_s']:.0f} tok/s")

    try:
        return runner.wait(job_id, on_progress=show)
    except KeyboardInterrupt:
        runner.cancel(job_id)
        raise PrmViewerError(f"interrupted: job {job_id} cancelled; its scores so far are kept; "
                             f"run the same command again (or 'retry {job_id}') to resume") from None
    finally:
        bar.close()


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    opts = json_values(args.backend_option)
    if args.endpoint:
        opts["endpoints"] = list(args.endpoint)
    return opts


def cmd_score(args: argparse.Namespace) -> int:
    from prm_viewer.jobs import JobRunner, job_summary
    from prm_viewer.scoring.scorers import TRUST_REMOTE_CODE_HELP, register_scorer

    if args.trust_remote_code:
        print("note: " + TRUST_REMOTE_CODE_HELP)
    with open_cli_store(args) as store:
        ds = store.resolve_dataset(args.dataset)  # fail on a wrong dataset before loading anything
        scorer = register_scorer(
            store, args.checkpoint, recipe=args.recipe, backend=args.backend, device=args.device,
            threshold=args.threshold, name=args.name, trust_remote_code=args.trust_remote_code,
            options=json_values(args.option), batch_tokens=args.batch_tokens, dtype=args.dtype,
            max_length=args.max_length, recipe_module=args.recipe_module, backend_options=_backend_options(args),
        )
        for note in scorer.get("notes", []):
            print("note: " + note)
        print(f"scorer '{scorer['name']}' ({scorer['recipe']}, {scorer['backend']}) on dataset '{ds['name']}'")
        runner = JobRunner(store, max_workers=1)
        job_id = runner.submit(scorer["scorer_id"], ds["dataset_id"], shard_traces=args.shard_traces)
        if args.batch_tokens:
            _note_job_budget(store, job_id, int(args.batch_tokens))
        job = _run_foreground(runner, job_id)
    print(job_summary(job))
    if job["status"] != "done":
        raise PrmViewerError(f"job {job_id} {job['status']}: {job['error'] or 'see its worker.log'}")
    return 0


def _note_job_budget(store: Store, job_id: str, batch_tokens: int) -> None:
    """Say so when a resumed job runs with another token budget than ``--batch-tokens`` asked."""
    from pathlib import Path

    from prm_viewer import jobfolder as jf

    job = _job(store, job_id)
    try:
        budget = (getattr(jf.read_spec(Path(job["job_dir"])).payload, "scorer", None) or {}).get("batch_tokens")
    except (PrmViewerError, OSError):
        return
    if budget is not None and int(budget) != batch_tokens:
        print(f"note: job {job_id} was started before and resumes with its folder's batch_tokens {budget}, "
              f"not --batch-tokens {batch_tokens}")


def cmd_jobs(args: argparse.Namespace) -> int:
    from prm_viewer import queries
    from prm_viewer.jobs import JobRunner

    with open_cli_store(args) as store:
        JobRunner(store).refresh()  # record what finished workers left behind; launch nothing
        df = queries.jobs(store)
    if args.json:
        print(df.to_json(orient="records", date_format="iso"))
    elif df.empty:
        print("no jobs; start one with: python -m prm_viewer score --dataset D --checkpoint PATH")
    else:
        df["progress"] = [f"{d or 0}/{t or 0}" for d, t in zip(df["traces_done"], df["traces_total"])]
        cols = ["job_id", "scorer", "dataset", "status", "progress", "tokens_per_s", "seconds", "error"]
        print(df[cols].to_string(index=False, na_rep=""))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from prm_viewer.jobs import JobRunner

    with open_cli_store(args) as store:
        JobRunner(store).cancel(args.job)
        status = _job(store, args.job)["status"]
    print(f"job {args.job}: {status}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from prm_viewer.jobs import JobRunner, job_summary

    with open_cli_store(args) as store:
        runner = JobRunner(store, max_workers=1)
        runner.retry(args.job)
        job = _run_foreground(runner, args.job)
    print(job_summary(job))
    return 0 if job["status"] == "done" else 2


def cmd_resume(args: argparse.Namespace) -> int:
    from prm_viewer.jobs import JobRunner, job_summary

    with open_cli_store(args) as store:
        runner = JobRunner(store)
        ids = runner.resume()
        if not ids:
            print("no unfinished jobs")
            return 0
        jobs = [_run_foreground(runner, j) for j in ids]
    for job in jobs:
        print(job_summary(job))
    return 0 if all(j["status"] == "done" for j in jobs) else 2


def cmd_scorers(args: argparse.Namespace) -> int:
    from prm_viewer import queries

    with open_cli_store(args) as store:
        df = queries.scorers(store)
    if args.json:
        print(df.to_json(orient="records", date_format="iso", default_handler=str))
    elif df.empty:
        print("no scorers")
    else:
        print(df[["name", "recipe", "backend", "checkpoint", "revision", "threshold"]].to_string(index=False, na_rep=""))
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from prm_viewer.scoring.backends import backend_names, get_backend
    from prm_viewer.scoring.recipes import RECIPES

    for r in RECIPES.values():
        print(f"{r.name:14} {r.model_kind:21} {r.help}")
        for k, v in r.options_help.items():
            print(f"{'':16}option {k}: {v}")
    print("backends: " + ", ".join(f"{n} ({', '.join(sorted(get_backend(n).model_kinds))})" for n in backend_names()))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from prm_viewer.scoring.worker import main as worker_main

    return int(worker_main(args.job))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser("score", help="score a dataset with a PRM checkpoint (foreground, with a progress bar)")
    sp.add_argument("--dataset", required=True, help="dataset name or id")
    sp.add_argument("--checkpoint", help="local model folder or hub id (not needed for --recipe verifier)")
    sp.add_argument("--recipe", help="qwen-prm, math-shepherd, rlhflow, verifier, ... (default: detected)")
    sp.add_argument("--recipe-module", help="dotted module of a plug-in recipe to import first")
    sp.add_argument("--backend", help="transformers (default for models), vllm, vllm-server, or exact (model-free recipes)")
    sp.add_argument("--endpoint", action="append", metavar="URL",
                    help="vllm-server backend: a running vLLM server, e.g. http://gpu1:8000 (repeat for several)")
    sp.add_argument("--backend-option", action="append", type=parse_kv, metavar="KEY=VALUE",
                    help="backend option, value read as JSON when it parses (vllm-server: concurrency, "
                         "batch_traces, timeout_s, retries, model, reference; transformers: prefix_sharing)")
    sp.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sp.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, float32 on CPU), float32, bfloat16, float16")
    sp.add_argument("--batch-tokens", type=int, help="token budget of one batch (default: setting batch_tokens)")
    sp.add_argument("--max-length", type=int, help="override the model's context length (tokens)")
    sp.add_argument("--name", help="scorer name (default: recipe:checkpoint-folder)")
    sp.add_argument("--threshold", type=float, help="step score below which a step is a predicted error")
    sp.add_argument("--option", action="append", type=parse_kv, metavar="KEY=VALUE",
                    help="recipe option, value read as JSON when it parses (see 'recipes')")
    # The full warning (scoring.scorers.TRUST_REMOTE_CODE_HELP) is printed when the flag is used;
    # importing it here would load the scoring engine for every `--help`.
    sp.add_argument("--trust-remote-code", action="store_true",
                    help="let transformers run Python files shipped inside the checkpoint (off by default; "
                         "only for checkpoints whose authors you trust)")
    sp.add_argument("--shard-traces", type=int, default=256, help="traces per result shard (resume granularity)")
    sp.set_defaults(func=cmd_score)

    sp = sub.add_parser("jobs", help="list scoring jobs with status and progress")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_jobs)

    sp = sub.add_parser("cancel", help="cancel a scoring job (scores so far are kept)")
    sp.add_argument("job")
    sp.set_defaults(func=cmd_cancel)

    sp = sub.add_parser("retry", help="resume a failed or cancelled job in the foreground")
    sp.add_argument("job")
    sp.set_defaults(func=cmd_retry)

    sp = sub.add_parser("resume", help="run unfinished jobs (left by a stopped app or CLI) in the foreground")
    sp.set_defaults(func=cmd_resume)

    sp = sub.add_parser("scorers", help="list registered scorers")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_scorers)

    sp = sub.add_parser("recipes", help="list scoring recipes, their options and the backends")
    sp.set_defaults(func=cmd_recipes)

    sp = sub.add_parser("worker", help="(internal) run one scoring job folder; never opens the store")
    sp.add_argument("--job", required=True, help="job folder with spec.json and traces.parquet")
    sp.set_defaults(func=cmd_worker)
