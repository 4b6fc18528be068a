"""``math-shepherd``: peiyi9979/math-shepherd-mistral-7b-prm and LM-head PRMs trained like it.

Input (model card): plain text ``f"{question} {output}"`` where ``output`` is the steps, each
written ``"Step k: <text> ки"``, joined by newlines; tokenized with the tokenizer's default
special tokens (BOS). Score: the causal LM's next-token logits at each ``ки`` token restricted
to the tokens ``+`` and ``-`` (in that order), softmax, P(``+``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from prm_viewer.scoring.recipes.base import EncodedTrace, Prepared, Recipe, TraceInput, locate, single_token_id, softmax_pick

MARKER = "ки"
_HAS_PREFIX = re.compile(r"^\s*Step \d+\s*:")


def prepare(tokenizer: Any, options: dict[str, Any]) -> Prepared:
    tag = single_token_id(tokenizer, options.get("marker", MARKER), "math-shepherd")
    good = single_token_id(tokenizer, options.get("good_token", "+"), "math-shepherd")
    bad = single_token_id(tokenizer, options.get("bad_token", "-"), "math-shepherd")
    return Prepared(recipe=RECIPE, tokenizer=tokenizer, step_tag_id=tag, returned_token_ids=[good, bad], options=options)


def _render(problem: str, steps: Sequence[str], marker: str, prefix: str) -> tuple[str, list[int]]:
    text = problem + " "
    offsets: list[int] = []
    for k, step in enumerate(steps, start=1):
        if k > 1:
            text += "\n"
        head = "" if not prefix or _HAS_PREFIX.match(step) else prefix.format(k=k)
        text += head + step.strip() + " "
        offsets.append(len(text))
        text += marker
    return text, offsets


def build_inputs(prep: Prepared, traces: Sequence[TraceInput]) -> list[EncodedTrace]:
    marker = prep.options.get("marker", MARKER)
    prefix = prep.options.get("step_prefix", "Step {k}: ")
    rendered = [_render(t.problem, t.steps, marker, prefix) for t in traces]
    located = locate(prep.tokenizer, [r[0] for r in rendered], [r[1] for r in rendered],
                     [[prep.tag_id()] * len(r[1]) for r in rendered], 0, add_special_tokens=True)
    return [EncodedTrace(t.trace_id, ids, pos, notes) for t, (ids, pos, notes) in zip(traces, located)]


def read_scores(prep: Prepared, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return softmax_pick(rows, 0)


RECIPE = Recipe(
    name="math-shepherd",
    help="Math-Shepherd: causal-LM logits of '+' vs '-' at each 'ки' step tag (P(+))",
    model_kind="causal-lm",
    prepare=prepare,
    build_inputs=build_inputs,
    read_scores=read_scores,
    marker_tokens=(MARKER,),
    aggregate="min",
    options_help={
        "marker": f"step tag token (default {MARKER})",
        "good_token": "token meaning a correct step (default +)",
        "bad_token": "token meaning a wrong step (default -)",
        "step_prefix": "prefix written before step k unless it already has one (default 'Step {k}: '; '' = none)",
    },
)
