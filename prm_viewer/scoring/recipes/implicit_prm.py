"""``implicit-prm``: PRIME / EurusPRM implicit process rewards (two causal LMs).

Input (EurusPRM model card): chat template with the problem as the user turn and the steps
joined by ``"\\n\\n"`` as the assistant turn. Per response token ``t``:
``beta * (log p_prm(y_t | y_<t) - log p_ref(y_t | y_<t))``; ``q_t`` is its cumulative sum from the
first response token. At the last token of each step ``k``: ``accumulative`` reward = ``q`` there;
``single`` reward = ``q`` there minus ``q`` at the previous step's last token (0 before step 0),
i.e. the sum over the step's own tokens (the ``"\\n\\n"`` separator counts towards the next step).
Score = sigmoid(reward), raw = reward.

Two checkpoints per scorer: the scorer's checkpoint is the PRM; the option ``reference`` names the
reference model (its SFT/base model), which must share the PRM's tokenizer. ``beta`` defaults to
0.001 (the EurusPRM card's ``coef``; check the card of your checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.lm import LM_KIND
from prm_viewer.scoring.recipes.base import SENTINEL, Prepared, Recipe, TraceInput, render_with_sentinels
from prm_viewer.scoring.recipes.lm_results import TraceResult, results_table

if TYPE_CHECKING:
    from prm_viewer.scoring.engine import Engine

MODES = ("single", "accumulative")


def prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    if not options.get("reference"):
        raise RecipeError("recipe implicit-prm needs the reference model: --option reference=PATH")
    if options.get("mode", "single") not in MODES:
        raise RecipeError(f"recipe implicit-prm: mode must be one of {', '.join(MODES)}")
    try:
        float(options.get("beta", 0.001))
    except (TypeError, ValueError):
        raise RecipeError("recipe implicit-prm: beta must be a number") from None
    return Prepared(recipe=RECIPE, tokenizer=tokenizer, options=options)


def encode(tokenizer: Any, trace: TraceInput) -> tuple[list[int], int, list[int]]:
    """Token ids, the index of the first response token, and the index of each step's last token."""
    body = SENTINEL + "\n\n".join(s.replace(SENTINEL, "") + SENTINEL for s in trace.steps)
    if getattr(tokenizer, "chat_template", None):
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": trace.problem}, {"role": "assistant", "content": body}],
            tokenize=False, add_generation_prompt=False)
        special = False
    else:
        rendered, special = trace.problem + "\n\n" + body, True
    text, offsets = render_with_sentinels(rendered, "")
    enc = tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
    starts = np.asarray([o[0] for o in enc["offset_mapping"]], dtype=np.int64)
    ends = np.asarray([o[1] for o in enc["offset_mapping"]], dtype=np.int64)
    real = ends > starts  # special tokens have empty spans
    first = int(np.flatnonzero(real & (ends > offsets[0]))[0]) if len(offsets) else len(starts)
    last = [int(np.flatnonzero(real & (starts < off))[-1]) for off in offsets[1:]]
    return list(enc["input_ids"]), first, [max(x, first - 1) for x in last]


def step_rewards(lp_prm: np.ndarray, lp_ref: np.ndarray, first: int, last: Sequence[int], beta: float,
                 mode: str) -> np.ndarray:
    """Per-step rewards from per-token log-probabilities (see the module docstring)."""
    d = beta * (np.asarray(lp_prm, np.float64) - np.asarray(lp_ref, np.float64))
    d[:first] = 0.0
    q = np.cumsum(d)
    at = np.asarray([q[k] if k >= first else 0.0 for k in last])
    return at if mode == "accumulative" else np.diff(np.concatenate([[0.0], at]))


def score(engine: Engine, traces: Sequence[TraceInput]) -> pa.Table:
    prep = engine.prepared
    lm = engine.lm()
    beta = float(prep.options.get("beta", 0.001))
    mode = prep.options.get("mode", "single")
    ref = engine.model(prep.options["reference"], role="reference")
    limits = [x for x in (lm.max_length, ref.max_length) if x]
    limit = min(limits) if limits else None
    encoded = [encode(prep.tokenizer, t) for t in traces]
    seqs = [ids[:limit] if limit else ids for ids, _, _ in encoded]
    engine.tokens += 2 * sum(len(s) for s in seqs)
    lp_prm = lm.prompt_logprobs(seqs)
    lp_ref = ref.prompt_logprobs(seqs)
    out: list[TraceResult] = []
    for t, (ids, first, last), a, b in zip(traces, encoded, lp_prm, lp_ref):
        n = len(seqs[len(out)])
        kept = [k for k in last if k < n]
        rewards = step_rewards(a, b, first, kept, beta, mode) if kept else np.zeros(0)
        scores: list[float | None] = [float(0.5 * (1 + np.tanh(0.5 * r))) for r in rewards]
        raws: list[float | None] = [float(r) for r in rewards]
        notes: list[str | None] = [None] * len(kept)
        for k in last[len(kept):]:
            scores.append(None)
            raws.append(None)
            notes.append(f"not scored: the trace has {len(ids)} tokens, more than the models' context of {limit}; "
                         f"this step ends at token {k}")
        out.append(TraceResult(t.trace_id, scores, raws, notes))
    return results_table(out)



RECIPE = Recipe(
    name="implicit-prm",
    help="PRIME/EurusPRM implicit PRM: beta * log(p_prm / p_ref) summed per step (two causal LMs); sigmoid",
    model_kind=LM_KIND,
    prepare=prepare,
    score=score,
    aggregate="min",
    options_help={
        "reference": "the reference model (local folder or hub id); must share the PRM's tokenizer (required)",
        "beta": "the coefficient beta (default 0.001, the EurusPRM card's coef)",
        "mode": "single (q at step end minus q at previous step end, default) or accumulative (q at step end)",
    },
)
