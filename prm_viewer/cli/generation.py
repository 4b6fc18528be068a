"""Generation commands: ``generate`` (sample a policy checkpoint on a problem set, foreground, with
a progress bar) and ``check-answers`` (fill missing correctness labels with math-verify)."""

from __future__ import annotations

import argparse
from typing import Any

from prm_viewer.cli.common import open_cli_store
from prm_viewer.cli.options import json_values, parse_kv
from prm_viewer.errors import PrmViewerError


def cmd_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from prm_viewer.generation import SamplingSettings, submit_generation
    from prm_viewer.jobs import JobRunner, job_summary

    sampling = SamplingSettings(n=args.n, temperature=args.temperature, top_p=args.top_p,
                                max_new_tokens=args.max_new_tokens, seed=args.seed, stop=tuple(args.stop or ()))
    opts: dict[str, Any] = json_values(args.backend_option)
    if args.endpoint:
        opts["endpoints"] = list(args.endpoint)
    with open_cli_store(args) as store:
        job_id = submit_generation(
            store, args.problems, args.checkpoint, sampling, backend=args.backend, dataset_name=args.dataset,
            prompt_template=args.prompt_template, system_prompt=args.system_prompt,
            use_chat_template=not args.no_chat_template, split_rule=args.split_rule, tags=dict(args.tag or []),
            device=args.device, dtype=args.dtype, batch_size=args.batch_size, backend_options=opts,
            trust_remote_code=args.trust_remote_code, mapping=dict(args.map or []), limit=args.limit)
        runner = JobRunner(store, max_workers=1)
        job = store.get_job(job_id) or {}
        bar = tqdm(total=job.get("traces_total") or 0, desc=f"generating ({job_id})", unit=" samples", disable=None)

        def show(j: dict[str, Any]) -> None:
            bar.update(max(0, (j["traces_done"] or 0) - bar.n))
            if j.get("tokens_per_s"):
                bar.set_postfix_str(f"{j['tokens_per_s']:.0f} tok/s")

        try:
            job = runner.wait(job_id, on_progress=show)
        except KeyboardInterrupt:
            runner.cancel(job_id)
            raise PrmViewerError(f"interrupted: job {job_id} cancelled; run the same command again to resume") from None
        finally:
            bar.close()
        print(job_summary(job).replace("traces", "samples"))
        if job["status"] != "done":
            raise PrmViewerError(f"job {job_id} {job['status']}: {job['error'] or 'see its worker.log'}")
        ds = store.resolve_dataset(job["dataset_id"])
    print(f"dataset '{ds['name']}': {ds['n_traces']} traces, {ds['n_steps']} steps; "
          f"score it with: python -m prm_viewer score --dataset {ds['name']} --checkpoint PRM")
    return 0


def cmd_check_answers(args: argparse.Namespace) -> int:
    from prm_viewer.generation import check_dataset_answers

    with open_cli_store(args) as store:
        counts = check_dataset_answers(store, args.dataset, timeout=args.timeout)
    print(f"checked {counts['checked']} traces with a reference answer and no label: {counts['correct']} correct, "
          f"{counts['wrong']} wrong, {counts['undecided']} undecided (left unknown)")
    return 0


def cmd_resplit(args: argparse.Namespace) -> int:
    from prm_viewer.generation import resplit_dataset

    with open_cli_store(args) as store:
        did = resplit_dataset(store, args.dataset, args.split_rule, args.name)
        ds = store.resolve_dataset(did)
    print(f"dataset '{ds['name']}': {ds['n_traces']} traces, {ds['n_steps']} steps (split rule {args.split_rule})")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser("generate", help="sample a policy checkpoint on a problem set into a new dataset")
    sp.add_argument("--problems", required=True,
                    help="problem file (GSM8K question/answer, MATH problem/solution, or --map), 'demo', or a dataset name")
    sp.add_argument("--checkpoint", required=True, help="policy checkpoint: local folder or hub id")
    sp.add_argument("--n", type=int, default=4, help="samples per problem (default 4)")
    sp.add_argument("--temperature", type=float, default=0.7)
    sp.add_argument("--top-p", type=float, default=1.0)
    sp.add_argument("--max-new-tokens", type=int, default=1024)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--stop", action="append", metavar="TEXT", help="a stop string (repeat for several)")
    sp.add_argument("--backend", default="transformers", choices=["transformers", "vllm", "vllm-server"])
    sp.add_argument("--endpoint", action="append", metavar="URL", help="vllm-server: a server URL (repeat for several)")
    sp.add_argument("--backend-option", action="append", type=parse_kv, metavar="KEY=VALUE",
                    help="backend option, value read as JSON when it parses")
    sp.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    sp.add_argument("--dtype", default="auto")
    sp.add_argument("--batch-size", type=int, default=16, help="sequences decoded together (transformers)")
    sp.add_argument("--dataset", help="name of the resulting dataset (default gen-<checkpoint folder>)")
    sp.add_argument("--tag", action="append", type=parse_kv, metavar="KEY=VALUE", help="extra dataset tag")
    sp.add_argument("--map", action="append", type=parse_kv, metavar="FIELD=COLUMN",
                    help="problem file columns: problem=, reference_answer= or solution=, category=, split=")
    sp.add_argument("--limit", type=int, help="use only the first N problems")
    sp.add_argument("--prompt-template", help="user prompt with {problem} (default: step by step, final \\boxed{})")
    sp.add_argument("--system-prompt", help="system message for chat templates")
    sp.add_argument("--no-chat-template", action="store_true", help="send the prompt as plain text")
    sp.add_argument("--split-rule", default="blankline", help="blankline (default), newline, step_markers, regex:<pattern>")
    sp.add_argument("--trust-remote-code", action="store_true",
                    help="let transformers run Python files shipped inside the checkpoint (off by default)")
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("check-answers", help="fill missing final-answer correctness from reference answers (math-verify)")
    sp.add_argument("--dataset", required=True, help="dataset name or id")
    sp.add_argument("--timeout", type=int, default=5, help="seconds per parse/comparison (default 5)")
    sp.set_defaults(func=cmd_check_answers)

    sp = sub.add_parser("resplit", help="split a generated dataset's samples again, into a new dataset")
    sp.add_argument("--dataset", required=True, help="generated dataset name or id")
    sp.add_argument("--split-rule", required=True, help="blankline, newline, step_markers, regex:<pattern>")
    sp.add_argument("--name", help="name of the new dataset")
    sp.set_defaults(func=cmd_resplit)
