"""``qwen-prm``: Qwen2.5-Math-PRM-7B/72B and Qwen2.5-Math-7B-PRM800K.

Input (model card): chat template with the system prompt below, the problem as the user turn and
the steps joined by ``<extra_0>`` plus a trailing ``<extra_0>`` as the assistant turn, rendered
with ``apply_chat_template(tokenize=False, add_generation_prompt=False)``. Score: the 2-label
head's logits at each ``<extra_0>`` token, softmax, index 1 = P(correct).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.recipes.base import (
    SENTINEL,
    EncodedTrace,
    Prepared,
    Recipe,
    TraceInput,
    locate,
    render_with_sentinels,
    single_token_id,
    softmax_pick,
)

MARKER = "<extra_0>"
SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


def prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    if not getattr(tokenizer, "chat_template", None):
        raise RecipeError("recipe qwen-prm needs a tokenizer with a chat template; this one has none")
    tag = single_token_id(tokenizer, options.get("marker", MARKER), "qwen-prm")
    return Prepared(recipe=RECIPE, tokenizer=tokenizer, step_tag_id=tag, options=options)


def build_inputs(prep: Prepared, traces: Sequence[TraceInput]) -> list[EncodedTrace]:
    tok = prep.tokenizer
    marker = prep.options.get("marker", MARKER)
    system = prep.options.get("system_prompt", SYSTEM)
    texts: list[str] = []
    offsets: list[list[int]] = []
    for t in traces:
        answer = "".join(s.replace(SENTINEL, "") + SENTINEL for s in t.steps)
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": t.problem},
            {"role": "assistant", "content": answer},
        ]
        rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        text, offs = render_with_sentinels(rendered, marker)
        texts.append(text)
        offsets.append(offs)
    located = locate(tok, texts, offsets, [[prep.tag_id()] * len(o) for o in offsets], 0, add_special_tokens=False)
    return [EncodedTrace(t.trace_id, ids, pos, notes) for t, (ids, pos, notes) in zip(traces, located)]


def read_scores(prep: Prepared, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return softmax_pick(rows, 1)


RECIPE = Recipe(
    name="qwen-prm",
    help="Qwen2.5-Math-PRM: 2-label token classification at each <extra_0> (P(correct) = softmax index 1)",
    model_kind="token-classification",
    prepare=prepare,
    build_inputs=build_inputs,
    read_scores=read_scores,
    architectures=("Qwen2ForProcessRewardModel",),
    marker_tokens=(MARKER,),
    aggregate="min",
    options_help={
        "marker": f"step marker token (default {MARKER})",
        "system_prompt": "system prompt of the chat (default: the model card's)",
    },
)
