"""The Recipe interface: how one PRM family turns traces into model inputs and logits into scores.

A recipe is DATA plus TWO SMALL FUNCTIONS. It never runs a model (a backend does) and never
touches the store (the job runner does).

Data (fields of :class:`Recipe`):
    ``name``, ``help``: registry key and one line for people.
    ``model_kind``: what model output the recipe reads, which is what a backend must produce:
        ``"token-classification"``: a head's logits (``num_labels`` columns) at each position;
        ``"causal-lm"``: next-token logits at each position, restricted to
        ``Prepared.returned_token_ids`` (in that order);
        ``"exact"``: no model; the recipe computes its rows itself (``EncodedTrace.rows``);
        ``"language-model"``: a causal LM's log-probabilities or samples (``backends/lm.py``); such
        a recipe sets ``score`` and drives the model itself.
    ``architectures``, ``marker_tokens``: what auto-detection looks for in ``config.json`` and
        in the tokenizer (see ``checkpoints.detect_recipe``).
    ``aggregate``: the usual trace-level aggregate of the family (shown in the UI).

Functions:
    ``prepare(tokenizer, options) -> Prepared``: look every token id up in the tokenizer (never
        constants) and fail with :class:`~prm_viewer.errors.RecipeError` when one is missing. The
        result carries ``step_tag_id`` and ``returned_token_ids`` as data, which is exactly what
        vLLM's STEP pooling takes (``PoolingParams(step_tag_id=..., returned_token_ids=...)``).
    ``build_inputs(prepared, traces) -> list[EncodedTrace]``: the full (untruncated) token ids of
        each trace and, per step, the position whose output row scores that step (``-1`` with a
        note when the step's marker could not be found). The engine truncates to the model's
        context and marks steps beyond it as not scored; recipes need not care.
    ``read_scores(prepared, rows) -> (score, raw)``: vectorised over all scored steps of a batch:
        ``rows`` is ``float[n, k]`` (the backend's output rows, logits, stacked), ``score`` is
        P(step correct) in [0, 1] and ``raw`` the recipe's raw value (a logit margin), both
        ``float[n]``.

A plug-in recipe is a module that calls :func:`prm_viewer.scoring.recipes.register` (named by
a dotted path, or by an entry point in the ``prm_viewer.recipes`` group); no core edit needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prm_viewer.errors import RecipeError

MODEL_KINDS = ("token-classification", "causal-lm", "exact", "language-model")


@dataclass(frozen=True)
class TraceInput:
    """One trace to score: what every recipe receives."""

    trace_id: str
    """The store's trace id (``<dataset_id>-<ordinal>``)."""
    problem: str
    """The problem text."""
    steps: Sequence[str]
    """The reasoning steps in order."""
    reference_answer: str | None = None
    """The problem's gold answer when the store has one (Monte-Carlo step values need it)."""


@dataclass
class EncodedTrace:
    """A trace as model input, with the position that scores each step."""

    trace_id: str
    input_ids: list[int]
    """Full token ids (the engine truncates to the model's context, not the recipe)."""
    positions: list[int]
    """One per step: index into ``input_ids`` whose output row gives the step's score; ``-1`` =
    the step cannot be scored (see ``notes``)."""
    notes: list[str | None]
    """One per step: why the step is not scored, else ``None``."""
    rows: np.ndarray | None = None
    """``exact`` recipes only: the rows themselves (``float[n_steps, k]``), no model needed."""


@dataclass
class Prepared:
    """A recipe bound to a tokenizer: token ids looked up once, as data."""

    recipe: Recipe
    tokenizer: Any
    """A transformers tokenizer (``None`` for ``exact`` recipes)."""
    step_tag_id: int | None = None
    """The marker token id (``<extra_0>``, ``ки``); ``None`` when positions are not at a marker
    token (rlhflow reads the position BEFORE each assistant ``+``)."""
    returned_token_ids: list[int] | None = None
    """``causal-lm`` recipes: vocabulary ids whose logits form a row, first = "correct"."""
    options: dict[str, Any] = field(default_factory=dict)
    """The recipe's options (already validated)."""

    def tag_id(self) -> int:
        """``step_tag_id``, which a marker recipe must have (a one-line error otherwise)."""
        if self.step_tag_id is None:
            raise RecipeError(f"recipe '{self.recipe.name}' was prepared without a step tag token")
        return self.step_tag_id


@dataclass(frozen=True)
class Recipe:
    """One PRM family. See the module docstring for the contract."""

    name: str
    help: str
    model_kind: str
    prepare: Callable[[Any, dict[str, Any]], Prepared]
    build_inputs: Callable[[Prepared, Sequence[TraceInput]], list[EncodedTrace]] | None = None
    """Per-position recipes: build each trace's token ids and step positions (None with ``score``)."""
    read_scores: Callable[[Prepared, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
    """Per-position recipes: turn the rows at step positions into scores (None with ``score``)."""
    architectures: tuple[str, ...] = ()
    """``config.json`` architectures that imply this recipe."""
    marker_tokens: tuple[str, ...] = ()
    """Tokens that, present in a tokenizer, suggest this recipe (and that it needs)."""
    aggregate: str = "min"
    options_help: dict[str, str] = field(default_factory=dict)
    """Accepted options and what they mean; unknown options are rejected."""
    score: Callable[[Any, Sequence[TraceInput]], Any] | None = None
    """``language-model`` recipes: ``score(engine, traces) -> pyarrow.Table`` (step results,
    ``jobfolder.STEP_RESULT_SCHEMA``; ``recipes/lm_results.py`` builds them), replacing build_inputs/run/read_scores; the engine calls it when set."""

    def __post_init__(self) -> None:
        if self.model_kind not in MODEL_KINDS:
            raise ValueError(f"recipe {self.name}: model_kind must be one of {MODEL_KINDS}")
        if self.score is None and (self.build_inputs is None or self.read_scores is None):
            raise ValueError(f"recipe {self.name}: needs build_inputs and read_scores, or score")

    def check_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        opts = dict(options or {})
        unknown = sorted(set(opts) - set(self.options_help))
        if unknown:
            known = ", ".join(self.options_help) or "none"
            raise RecipeError(f"recipe '{self.name}' has no option {', '.join(unknown)} (options: {known})")
        return opts


# ---------------------------------------------------------------- helpers shared by recipes

def single_token_id(tokenizer: Any, text: str, recipe: str) -> int:
    """The id of ``text`` as ONE token: encoded alone, else looked up in the vocabulary (covers
    SentencePiece's ``▁+``). Raises RecipeError naming the recipe when the tokenizer lacks it."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) == 1:
        return int(ids[0])
    tid = tokenizer.convert_tokens_to_ids(text)
    unk = getattr(tokenizer, "unk_token_id", None)
    if isinstance(tid, int) and tid >= 0 and tid != unk:
        return int(tid)
    raise RecipeError(
        f"the tokenizer lacks the {recipe} marker token {text!r} (it splits into {len(ids)} tokens); "
        "this checkpoint does not fit this recipe"
    )


def softmax_pick(rows: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-column logits -> (softmax probability of column ``index``, logit margin of it)."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    other = 1 - index
    margin = rows[:, index] - rows[:, other]
    # softmax over two logits == sigmoid of their difference (stable for large margins)
    score = 0.5 * (1.0 + np.tanh(0.5 * margin))
    return score, margin


# A private-use character stands for each marker while a chat template renders, so that the
# marker's character offset in the rendered text is known exactly (templates may trim content).
SENTINEL = "\ue000"


def locate(
    tokenizer: Any,
    texts: Sequence[str],
    marker_offsets: Sequence[Sequence[int]],
    marker_ids: Sequence[Sequence[int]],
    shift: int,
    add_special_tokens: bool,
) -> list[tuple[list[int], list[int], list[str | None]]]:
    """Tokenize ``texts`` in one batched call and map each inserted marker's character offset to
    its token index (+ ``shift``: ``-1`` = the position predicting that token). ``marker_ids``
    gives, per text, the token id expected at each marker.

    A marker counts only where the recipe put it (a marker string inside a step's own text is
    ignored), and only when exactly that token sits there; otherwise the step gets a note."""
    enc = tokenizer(list(texts), add_special_tokens=add_special_tokens, return_offsets_mapping=True)
    out: list[tuple[list[int], list[int], list[str | None]]] = []
    for ids, offsets, marks, want in zip(enc["input_ids"], enc["offset_mapping"], marker_offsets, marker_ids):
        starts = np.fromiter((o[0] for o in offsets), dtype=np.int64, count=len(offsets))
        ends = np.fromiter((o[1] for o in offsets), dtype=np.int64, count=len(offsets))
        ids_arr = np.asarray(ids, dtype=np.int64)
        marks_arr = np.asarray(marks, dtype=np.int64)
        # the last token starting at or before the marker's first character must cover it and
        # be the marker token (a SentencePiece "▁ки" token starts one character early)
        real = ends > starts
        cand = np.flatnonzero(real)
        if len(cand):
            k = np.searchsorted(starts[cand], marks_arr, side="right") - 1
            tok = cand[np.clip(k, 0, len(cand) - 1)]
            ok = (k >= 0) & (starts[tok] <= marks_arr) & (ends[tok] > marks_arr) \
                & (ids_arr[tok] == np.asarray(want, dtype=np.int64))
        else:
            tok = np.zeros(len(marks_arr), dtype=np.int64)
            ok = np.zeros(len(marks_arr), dtype=bool)
        positions = np.where(ok, tok + shift, -1)
        notes: list[str | None] = [
            None if good else "the step's marker token was not found where it was inserted "
            "(the tokenizer merged it with neighbouring text)"
            for good in ok.tolist()
        ]
        out.append((list(ids), positions.tolist(), notes))
    return out


def render_with_sentinels(rendered: str, marker_text: str) -> tuple[str, list[int]]:
    """Replace each SENTINEL in ``rendered`` by ``marker_text``; return the text and the
    character offset of each inserted marker."""
    pieces = rendered.split(SENTINEL)
    offsets: list[int] = []
    text_parts: list[str] = []
    pos = 0
    for i, piece in enumerate(pieces):
        text_parts.append(piece)
        pos += len(piece)
        if i < len(pieces) - 1:
            offsets.append(pos)
            text_parts.append(marker_text)
            pos += len(marker_text)
    return "".join(text_parts), offsets
