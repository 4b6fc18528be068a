"""``rlhflow``: RLHFlow Llama3.1-8B-PRM-Mistral-Data / -Deepseek-Data.

Input (their evaluation code): a multi-turn chat where user turn 1 is ``problem + " " + step 1``,
each later step is its own user turn and every assistant turn is ``+``; rendered with the
tokenizer's chat template. Score: softmax over the logits of ``+`` and ``-`` at the position that
predicts each assistant ``+`` (one forward pass serves all steps: the model is causal, so the
position sees exactly the conversation up to that step), P(``+``).
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


def prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    if not getattr(tokenizer, "chat_template", None):
        raise RecipeError("recipe rlhflow needs a tokenizer with a chat template; this one has none")
    good = single_token_id(tokenizer, options.get("good_token", "+"), "rlhflow")
    bad = single_token_id(tokenizer, options.get("bad_token", "-"), "rlhflow")
    return Prepared(recipe=RECIPE, tokenizer=tokenizer, step_tag_id=None, returned_token_ids=[good, bad], options=options)


def build_inputs(prep: Prepared, traces: Sequence[TraceInput]) -> list[EncodedTrace]:
    tok = prep.tokenizer
    good_text = prep.options.get("good_token", "+")
    good_id = prep.returned_token_ids[0] if prep.returned_token_ids else -1
    texts: list[str] = []
    offsets: list[list[int]] = []
    for t in traces:
        conv: list[dict[str, str]] = []
        for k, step in enumerate(t.steps):
            content = (t.problem + " " + step) if k == 0 else step
            conv.append({"role": "user", "content": content.replace(SENTINEL, "")})
            conv.append({"role": "assistant", "content": SENTINEL})
        rendered = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=False)
        text, offs = render_with_sentinels(rendered, good_text)
        texts.append(text)
        offsets.append(offs)
    located = locate(tok, texts, offsets, [[good_id] * len(o) for o in offsets], -1, add_special_tokens=False)
    return [EncodedTrace(t.trace_id, ids, pos, notes) for t, (ids, pos, notes) in zip(traces, located)]


def read_scores(prep: Prepared, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return softmax_pick(rows, 0)


RECIPE = Recipe(
    name="rlhflow",
    help="RLHFlow PRM: chat turns, every assistant turn '+'; P(+) vs '-' at the slot predicting each '+'",
    model_kind="causal-lm",
    prepare=prepare,
    build_inputs=build_inputs,
    read_scores=read_scores,
    aggregate="mean",
    options_help={
        "good_token": "assistant token meaning a correct step (default +)",
        "bad_token": "token meaning a wrong step (default -)",
    },
)
