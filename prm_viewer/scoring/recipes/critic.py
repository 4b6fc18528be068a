"""``critic``: a generative judge (an instruction-tuned LM) names the earliest wrong step.

Modes (option ``mode``):

- ``processbench`` (default): the ProcessBench critique prompt; steps are shown as
  ``<paragraph_i>...</paragraph_i>`` (0-based) and the judge answers ``\\boxed{i}`` (earliest wrong
  paragraph) or ``\\boxed{-1}`` (none).
- ``autorace``: AutoRace-style. First a criteria list: given (option ``criteria``), or written
  once by the judge from known-wrong traces (option ``wrong_examples``: a JSONL file of
  ``{problem, steps}``); then each trace is marked ``CORRECT`` or ``INCORRECT`` with the failing
  step when the judge names one.

Step scores (the judge gives a first error, not probabilities): steps before the first error 1.0,
the first error 0.0, later steps not scored (note "after the judge's first error"), so the
predicted first error at any threshold in (0, 1) is the judge's. A trace judged INCORRECT without
a step, or whose answer cannot be parsed, gets no scores and a note with the judge's text:
never a guess. Self-consistency: ``samples`` = k > 1 samples at ``temperature`` (default 0.7),
majority vote among the parsed ones (raw = the winner's vote share).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.lm import LM_KIND, Sampling
from prm_viewer.scoring.recipes.base import Prepared, Recipe, TraceInput
from prm_viewer.scoring.recipes.judge_parse import Unparsed, Verdict, majority, parse_autorace, parse_processbench
from prm_viewer.scoring.recipes.lm_results import TraceResult, chat_prompt_ids, results_table

if TYPE_CHECKING:
    from prm_viewer.scoring.engine import Engine

# ProcessBench's critique template (Qwen/ProcessBench, code/run_eval.py)
PROCESSBENCH_TEMPLATE = (
    "The following is a math problem and a solution (split into paragraphs, enclosed with tags and indexed from 0):\n\n"
    "[Math Problem]\n\n{problem}\n\n[Solution]\n\n{tagged_response}\n\n"
    "Your task is to review and critique the solution paragraph by paragraph. Once you identify an error in a "
    "paragraph, return the index of the paragraph where the earliest error occurs. Otherwise, return the index "
    "of -1 (which typically denotes \"not found\").\n\n"
    "Please put your final answer (i.e., the index) in \\boxed{{}}."
)
CRITERIA_PROMPT = (
    "Below are step-by-step solutions to problems. Every one of them is known to be WRONG.\n\n{examples}\n\n"
    "Write a numbered list of criteria that a careful grader should check in a step-by-step solution, so that "
    "mistakes like these are caught. Be concise: one line per criterion."
)
AUTORACE_PROMPT = (
    "{criteria}\n\nUsing the criteria above, check the following solution step by step.\n\n"
    "[Problem]\n{problem}\n\n[Solution]\n{numbered}\n\n"
    "Finish with one line: \"Verdict: CORRECT\" if every step is right, or \"Verdict: INCORRECT, step N\" where N "
    "is the first wrong step (numbered from 1)."
)
MODES = ("processbench", "autorace")
NOTE_MAX = 2000


def prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    mode = options.get("mode", "processbench")
    if mode not in MODES:
        raise RecipeError(f"recipe critic: mode must be one of {', '.join(MODES)}")
    if mode == "autorace" and not (options.get("criteria") or options.get("wrong_examples")):
        raise RecipeError("recipe critic (autorace) needs --option criteria=TEXT or --option wrong_examples=FILE.jsonl")
    if options.get("wrong_examples") and not Path(options["wrong_examples"]).is_file():
        raise RecipeError(f"recipe critic: wrong_examples file '{options['wrong_examples']}' does not exist")
    if int(options.get("samples", 1)) < 1:
        raise RecipeError("recipe critic: samples must be >= 1")
    return Prepared(recipe=RECIPE, tokenizer=tokenizer, options=options)


def processbench_prompt(trace: TraceInput) -> str:
    tagged = "\n\n".join(f"<paragraph_{i}>\n{s}\n</paragraph_{i}>" for i, s in enumerate(trace.steps))
    return PROCESSBENCH_TEMPLATE.format(problem=trace.problem, tagged_response=tagged)


def autorace_prompt(criteria: str, trace: TraceInput) -> str:
    numbered = "\n".join(f"Step {i + 1}: {s}" for i, s in enumerate(trace.steps))
    return AUTORACE_PROMPT.format(criteria=criteria, problem=trace.problem, numbered=numbered)


def _sampling(opts: dict[str, Any]) -> Sampling:
    k = int(opts.get("samples", 1))
    temp = float(opts.get("temperature", 0.0 if k == 1 else 0.7))
    return Sampling(n=k, temperature=temp, max_tokens=int(opts.get("max_tokens", 1024)), seed=None if opts.get("seed") is None else int(opts["seed"]))


def criteria(engine: Engine) -> str:
    """The AutoRace criteria: given, or written once per engine by the judge (greedy) from the
    known-wrong examples."""
    opts = engine.prepared.options
    if opts.get("criteria"):
        return str(opts["criteria"])
    cached = engine.cache.get("critic.criteria")
    if cached is None:
        lines = Path(opts["wrong_examples"]).read_text(encoding="utf-8").splitlines()
        shown = []
        for n, line in enumerate(x for x in lines if x.strip()):
            try:
                rec = json.loads(line)
                steps = rec["steps"]
                shown.append(f"Problem: {rec['problem']}\n" + "\n".join(f"Step {i + 1}: {s}" for i, s in enumerate(steps)))
            except (ValueError, KeyError, TypeError):
                raise RecipeError(f"{opts['wrong_examples']}, line {n + 1}: needs JSON with 'problem' and 'steps'") from None
        ids = chat_prompt_ids(engine.prepared.tokenizer,
                              [{"role": "user", "content": CRITERIA_PROMPT.format(examples="\n\n".join(shown[:8]))}])
        cached = engine.lm().generate([ids], Sampling(n=1, temperature=0.0, max_tokens=512))[0][0].strip()
        engine.cache["critic.criteria"] = cached
    return str(cached)


def score(engine: Engine, traces: Sequence[TraceInput]) -> pa.Table:
    prep = engine.prepared
    lm = engine.lm()
    opts = prep.options
    mode = opts.get("mode", "processbench")
    tok = prep.tokenizer
    if mode == "processbench":
        texts = [processbench_prompt(t) for t in traces]
        parse = parse_processbench
        tag = "processbench"
    else:
        crit = criteria(engine)
        texts = [autorace_prompt(crit, t) for t in traces]
        parse = parse_autorace
        tag = f"autorace (criteria sha {hashlib.sha256(crit.encode()).hexdigest()[:10]})"
    prompts = [chat_prompt_ids(tok, [{"role": "user", "content": x}]) for x in texts]
    limit = lm.max_length
    sampling = _sampling(opts)
    results: list[TraceResult | None] = [None] * len(traces)
    runnable = []
    for i, (t, p) in enumerate(zip(traces, prompts)):
        if limit and len(p) >= limit:
            note = f"not judged: the prompt has {len(p)} tokens, the judge's context is {limit}"
            results[i] = TraceResult(t.trace_id, [None] * len(t.steps), [None] * len(t.steps), [note] * len(t.steps))
        else:
            runnable.append(i)
    run_prompts = [prompts[i] for i in runnable]
    engine.tokens += sum(len(p) for p in run_prompts)
    outputs = lm.generate(run_prompts, sampling) if run_prompts else []
    for i, samples in zip(runnable, outputs):
        results[i] = verdict_result(traces[i], [parse(s, len(traces[i].steps)) for s in samples], tag)
    return results_table([r for r in results if r is not None])


def verdict_result(trace: TraceInput, parsed: Sequence[Verdict | Unparsed], tag: str) -> TraceResult:
    """Step scores and notes from the parsed samples of one trace (see the module docstring)."""
    n = len(trace.steps)
    best, votes = majority(parsed)
    share = votes / len(parsed) if parsed else 0.0
    if best is None or best.first_error is None:
        bad = [p for p in parsed if isinstance(p, Unparsed)]
        if best is None:
            first = bad[0] if bad else Unparsed("no output", "")
            head = f"judge ({tag}) output unparsed ({first.reason}): {first.text[:NOTE_MAX]}"
        else:
            head = f"judge ({tag}): INCORRECT without naming a step ({votes}/{len(parsed)} samples)"
        unscored: list[str | None] = [head, *["not scored: see step 0's note"] * (n - 1)]
        return TraceResult(trace.trace_id, [None] * n, [None] * n, unscored)
    e = best.first_error
    said = "no error" if e == -1 else f"first error at step {e}"
    head = f"judge ({tag}): {said} ({votes}/{len(parsed)} samples)"
    scores: list[float | None] = []
    notes: list[str | None] = []
    for k in range(n):
        if e == -1 or k < e:
            scores.append(1.0)
            notes.append(None)
        elif k == e:
            scores.append(0.0)
            notes.append(None)
        else:
            scores.append(None)
            notes.append("not judged: after the judge's first error")
    if n:
        notes[0] = head if notes[0] is None else head + "; " + notes[0]
    raws: list[float | None] = [share if s is not None else None for s in scores]
    return TraceResult(trace.trace_id, scores, raws, notes)



RECIPE = Recipe(
    name="critic",
    help="generative judge: ProcessBench critique prompt (\\boxed{i} = earliest wrong step) or AutoRace criteria",
    model_kind=LM_KIND,
    prepare=prepare,
    score=score,
    aggregate="min",
    options_help={
        "mode": "processbench (default) or autorace",
        "criteria": "autorace: the criteria list to judge by",
        "wrong_examples": "autorace: JSONL file of known-wrong traces {problem, steps}; the judge writes the criteria",
        "samples": "self-consistency: samples per trace, majority vote (default 1 = greedy)",
        "temperature": "sampling temperature (default 0 for 1 sample, 0.7 for more)",
        "max_tokens": "longest judge answer in tokens (default 1024)",
        "seed": "per-request sampling seed (default: the engine's; ignored by vllm on CPU)",
    },
)
