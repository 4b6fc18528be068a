"""``mc-value``: Monte-Carlo step values (Math-Shepherd, Rewarding Progress / PAV).

The scorer's checkpoint is the PROVER policy. From each step prefix (the problem plus steps
``0..k``) it samples ``rollouts`` continuations; the value of step ``k`` is the fraction of them
whose final answer matches the reference answer (``soft``, default) or 1.0 when any does
(``hard``). Score = the value; raw = the progress ``Q_k - Q_{k-1}``, where ``Q_{-1}`` is the value
of the problem alone (rolled out too), so the progress view can show both.

Final answer of a rollout: ``prm_viewer.answers.extract_answer`` of prefix + continuation (the
last ``\\boxed{}``, "The answer is ...", ``####``), else its last number (the demo tasks' steps
end in ``= value``). The reference answer is the problem's, as the store passes it with the trace
(``TraceInput.reference_answer``; the synthetic demo's problems carry theirs); without one the
steps are not scored (noted). Answers are compared with ``prm_viewer.answers.equivalent``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prm_viewer.answers import equivalent, extract_answer
from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.lm import LM_KIND, Sampling
from prm_viewer.scoring.recipes.lm_results import TraceResult, results_table
from prm_viewer.scoring.recipes.base import Prepared, Recipe, TraceInput


def prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    if options.get("mode", "soft") not in ("soft", "hard"):
        raise RecipeError("recipe mc-value: mode must be soft or hard")
    if int(options.get("rollouts", 8)) < 1:
        raise RecipeError("recipe mc-value: rollouts must be >= 1")
    return Prepared(recipe=RECIPE, tokenizer=tokenizer, options=options)


def final_answer(text: str) -> str | None:
    """The answer a rollout reaches: a stated one (``\\boxed{}``, "The answer is", ``####``),
    else the last number, else ``None``."""
    return extract_answer(text, last_number=True)


def reference_answer(trace: TraceInput) -> str | None:
    """The problem's gold answer as the store passes it; ``None`` when it has none (or blank)."""
    ref = trace.reference_answer
    return ref if ref is not None and ref.strip() else None


def prefix_text(tokenizer: Any, problem: str, steps: Sequence[str]) -> tuple[list[int], str]:
    """Prompt ids for continuing after ``steps`` (the chat's assistant turn, left open), and the
    steps text itself (for answer extraction)."""
    from prm_viewer.scoring.recipes.lm_results import chat_prompt_ids

    done = "".join(s + "\n" for s in steps)
    head = chat_prompt_ids(tokenizer, [{"role": "user", "content": problem}])
    return head + list(tokenizer.encode(done, add_special_tokens=False)) if done else head, done


def values_from_rollouts(prefixes: Sequence[str], rollouts: Sequence[Sequence[str]], ref: str,
                         mode: str) -> np.ndarray:
    """Q per prefix: fraction (soft) or any (hard) of rollouts whose final answer matches."""
    q = []
    for prefix, outs in zip(prefixes, rollouts):
        hits = [bool(equivalent(final_answer(prefix + o), ref)) for o in outs]
        q.append(float(np.mean(hits)) if mode == "soft" else float(any(hits)))
    return np.asarray(q)


def score(engine: Any, traces: Sequence[TraceInput]) -> Any:
    prep = engine.prepared
    opts = prep.options
    n = int(opts.get("rollouts", 8))
    mode = opts.get("mode", "soft")
    sampling = Sampling(n=n, temperature=float(opts.get("temperature", 0.7)),
                        max_tokens=int(opts.get("max_tokens", 256)), seed=None if opts.get("seed") is None else int(opts["seed"]))
    limit = engine.runner.max_length
    results: list[TraceResult | None] = [None] * len(traces)
    jobs: list[tuple[int, list[str], str]] = []
    prompts: list[list[int]] = []
    for i, t in enumerate(traces):
        ref = reference_answer(t)
        if ref is None:
            m = len(t.steps)
            results[i] = TraceResult(t.trace_id, [None] * m, [None] * m,
                                     ["not scored: no reference answer for this problem"] * m)
            continue
        texts = []
        for k in range(len(t.steps) + 1):  # k = steps in the prefix (0 = problem only)
            ids, done = prefix_text(prep.tokenizer, t.problem, list(t.steps[:k]))
            if limit and len(ids) + sampling.max_tokens > limit:
                break  # this prefix and longer ones do not fit with a rollout: not scored (noted below)
            prompts.append(ids)
            texts.append(done)
        jobs.append((i, texts, ref))
    engine.tokens += sum(len(p) for p in prompts)
    outs = engine.runner.generate(prompts, sampling) if prompts else []
    at = 0
    for i, texts, ref in jobs:
        t = traces[i]
        rolls = outs[at:at + len(texts)]
        at += len(texts)
        q = values_from_rollouts(texts, rolls, ref, mode)
        m, fit = len(t.steps), max(0, len(texts) - 1)  # steps whose prefix fitted
        over = f"not scored: prefix + {sampling.max_tokens} rollout tokens exceed the prover's context of {limit}"
        notes: list[str | None] = [None] * fit + [over] * (m - fit)
        if m and texts:
            notes[0] = f"Q(problem only) = {q[0]:.3f}; {n} rollouts per step, {mode}" + (f"; {notes[0]}" if notes[0] else "")
        results[i] = TraceResult(t.trace_id, q[1:].tolist() + [None] * (m - fit),
                                 np.diff(q).tolist() + [None] * (m - fit), notes)
    return results_table([r for r in results if r is not None])



RECIPE = Recipe(
    name="mc-value",
    help="Monte-Carlo step values: fraction of prover rollouts from each step prefix reaching the reference answer",
    model_kind=LM_KIND,
    prepare=prepare,
    score=score,
    aggregate="min",
    options_help={
        "rollouts": "rollouts per step prefix (default 8)",
        "mode": "soft (fraction correct, default) or hard (1 if any rollout is correct)",
        "temperature": "prover sampling temperature (default 0.7)",
        "max_tokens": "longest rollout in tokens (default 256)",
        "seed": "per-request sampling seed (default: the engine's; ignored by vllm on CPU)",
    },
)
