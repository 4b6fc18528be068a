"""The scoring engine: a recipe bound to a loaded backend runner; traces in, step scores out.

Used by the worker process (and by benchmarks/tests directly). Knows nothing about jobs or the
store. The output is step results (``jobfolder.STEP_RESULT_SCHEMA``), one row per step:
``scorer_id, trace_id, step_idx, score, raw, note``; a step that cannot be scored has ``score``
NULL and ``note`` saying why (never a silently wrong score). ``scorer_id`` is the engine's
(``load_engine(spec, scorer_id=...)``; NULL for a bare engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pyarrow as pa

from prm_viewer.errors import RecipeError
from prm_viewer.jobfolder import STEP_RESULT_SCHEMA, as_step_results
from prm_viewer.scoring.backends.base import Backend, Loaded, Runner, RunSpec
from prm_viewer.scoring.backends.lm import LanguageModel
from prm_viewer.scoring.recipes import EncodedTrace, Prepared, TraceInput, get_recipe, load_plugin

RESULT_SCHEMA = STEP_RESULT_SCHEMA
"""Old name of ``jobfolder.STEP_RESULT_SCHEMA`` (the same object)."""


@dataclass
class ScorerSpec:
    """What rebuilds a scorer exactly (stored with the scorer and in each job's spec.json)."""

    recipe: str
    """A name in the recipe registry."""
    checkpoint: str | None = None
    """Local folder or hub id (``None`` for exact recipes)."""
    backend: str = "transformers"
    """A name in the backend registry."""
    device: str = "auto"
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``: a request; the worker resolves it on its machine."""
    dtype: str = "auto"
    """``auto`` or one of the backend's dtypes (``backends.backend_dtypes``); resolved by the worker."""
    batch_tokens: int = 0
    """Token budget of a batch; 0 = auto (``backends.torch_device.resolve_batch_tokens``)."""
    trust_remote_code: bool = False
    """Let transformers run code shipped with the checkpoint."""
    max_length: int | None = None
    """Override of the model's context (tokens)."""
    recipe_options: dict[str, Any] = field(default_factory=dict)
    """The recipe's options (checked by the recipe)."""
    recipe_module: str | None = None
    """Dotted module of a plug-in recipe, imported by the worker before use."""
    backend_options: dict[str, Any] = field(default_factory=dict)
    """Backend-specific options (``RunSpec.options``), e.g. vllm-server's ``endpoints``; a key
    named like a model role (``reference``) holds options for that model only."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScorerSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Engine:
    """A recipe bound to a loaded model: what ``score_traces`` runs."""

    prepared: Prepared
    """The recipe bound to the checkpoint's tokenizer."""
    runner: Loaded
    """The loaded model: a ``Runner`` (per-position recipes) or a ``LanguageModel``."""
    backend: Backend
    """The registry entry that loaded it."""
    run_spec: RunSpec
    """The RunSpec the runner was loaded with (``model()`` loads other checkpoints alike)."""
    tokens: int = 0
    """Tokens run through the model so far (for throughput figures)."""
    scorer_id: str | None = None
    """Set on every result row (``None``: a bare engine, outside a job)."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Per-engine state a recipe computes once (e.g. a judge's criteria list)."""
    others: dict[str, Loaded] = field(default_factory=dict)
    """Other models loaded by ``model()``, by role."""

    @property
    def device(self) -> str:
        """The device the model actually runs on."""
        return self.runner.device

    @property
    def dtype(self) -> str:
        """The dtype the model actually runs in."""
        return self.runner.dtype

    def position_runner(self) -> Runner:
        """The runner as a per-position ``Runner`` (a one-line error when it is a language model)."""
        if not isinstance(self.runner, Runner):
            raise RecipeError(f"recipe '{self.prepared.recipe.name}' needs a scoring runner; "
                              f"backend '{self.backend.name}' loaded a language model")
        return self.runner

    def lm(self) -> LanguageModel:
        """The runner as a ``LanguageModel`` (a one-line error when it is not one)."""
        return _as_lm(self.runner, self)

    def model(self, checkpoint: str, role: str) -> LanguageModel:
        """Another checkpoint on the same backend, loaded once (implicit-prm's reference model).
        Backend options under the key ``role`` override the scorer's for this model; the
        checkpoint must share the scorer's tokenizer (the inputs are tokenized once)."""
        from dataclasses import replace

        from prm_viewer.scoring import checkpoints

        if role not in self.others:
            ckpt = checkpoints.resolve(checkpoint)
            checkpoints.check_fit(ckpt, self.prepared.recipe.name, self.run_spec.trust_remote_code)
            tok = checkpoints.load_tokenizer(ckpt, self.run_spec.trust_remote_code)
            if tok.get_vocab() != self.prepared.tokenizer.get_vocab():
                raise RecipeError(f"the {role} model '{checkpoint}' has another tokenizer than the scorer's checkpoint")
            base = {k: v for k, v in (self.run_spec.options or {}).items() if not isinstance(v, dict)}
            opts = {**base, **((self.run_spec.options or {}).get(role) or {}), "role": role}
            self.others[role] = self.backend.load(replace(self.run_spec, checkpoint=ckpt, options=opts))
        return _as_lm(self.others[role], self)

    def close(self) -> None:
        """Free every model the engine loaded."""
        self.runner.close()
        for other in self.others.values():
            other.close()


def _as_lm(runner: Loaded, engine: Engine) -> LanguageModel:
    if not isinstance(runner, LanguageModel):
        raise RecipeError(f"recipe '{engine.prepared.recipe.name}' needs a language model; "
                          f"backend '{engine.backend.name}' loaded a scoring runner")
    return runner


def load_engine(spec: ScorerSpec, scorer_id: str | None = None) -> Engine:
    """Resolve the checkpoint, prepare the recipe, resolve the device and dtype on this machine
    (``Backend.resolve``), load the backend: every failure is a one-line RecipeError (path
    missing, wrong kind, marker token missing, bad weights, no GPU...)."""
    from prm_viewer.scoring import checkpoints
    from prm_viewer.scoring.backends import check_backend

    if spec.recipe_module:
        load_plugin(spec.recipe_module)
    recipe = get_recipe(spec.recipe)
    backend = check_backend(spec.backend, recipe.model_kind, recipe.name)
    options = recipe.check_options(spec.recipe_options)
    ckpt = tokenizer = None
    if recipe.model_kind != "exact":
        if not spec.checkpoint:
            raise RecipeError(f"recipe '{recipe.name}' needs a checkpoint")
        ckpt = checkpoints.resolve(spec.checkpoint)
        checkpoints.check_fit(ckpt, recipe.name, spec.trust_remote_code)
        tokenizer = checkpoints.load_tokenizer(ckpt, spec.trust_remote_code)
    prepared = recipe.prepare(tokenizer, options)
    device, dtype = backend.resolve(spec.device, spec.dtype)
    run_spec = RunSpec(checkpoint=ckpt, prepared=prepared, device=device, dtype=dtype,
                       batch_tokens=spec.batch_tokens, trust_remote_code=spec.trust_remote_code,
                       max_length=spec.max_length, options=dict(spec.backend_options or {}))
    runner = backend.load(run_spec)
    return Engine(prepared=prepared, runner=runner, backend=backend, run_spec=run_spec, scorer_id=scorer_id)


def score_traces(engine: Engine, traces: Sequence[TraceInput]) -> pa.Table:
    """Score a batch of traces: step results (exactly ``STEP_RESULT_SCHEMA``) in input order
    (trace, then step), ``scorer_id`` = the engine's."""
    prep = engine.prepared
    if prep.recipe.score is not None:  # language-model recipes drive their model(s) themselves
        return as_step_results(cast(pa.Table, prep.recipe.score(engine, traces)), engine.scorer_id)
    assert prep.recipe.build_inputs is not None and prep.recipe.read_scores is not None  # Recipe.__post_init__
    encoded = prep.recipe.build_inputs(prep, traces)
    runner = engine.position_runner()
    limit = runner.max_length
    runnable: list[EncodedTrace] = []
    kept: list[np.ndarray] = []  # per trace: step indices whose positions are run
    notes_all: list[list[str | None]] = []
    for enc in encoded:
        pos = np.asarray(enc.positions, dtype=np.int64)
        notes = list(enc.notes)
        ids = enc.input_ids
        if limit is not None and len(ids) > limit:
            over = np.flatnonzero(pos >= limit)
            for i in over.tolist():
                notes[i] = (f"not scored: the trace has {len(ids)} tokens, more than the model's context of {limit}; "
                            f"this step's marker is at token {int(pos[i])}")
            ids = ids[:limit]
            pos = np.where(pos >= limit, -1, pos)
        ok = np.flatnonzero(pos >= 0)
        kept.append(ok)
        notes_all.append(notes)
        rows = enc.rows[ok] if enc.rows is not None else None
        runnable.append(EncodedTrace(enc.trace_id, ids, pos[ok].tolist(), [None] * len(ok), rows=rows))
        engine.tokens += len(ids)
    outputs = runner.run(runnable)
    n_scored = sum(len(k) for k in kept)
    if n_scored:
        stacked = np.concatenate([o.reshape(len(k), -1) for o, k in zip(outputs, kept) if len(k)])
        score_flat, raw_flat = prep.recipe.read_scores(prep, stacked)
    else:
        score_flat = raw_flat = np.zeros(0)
    n_steps = np.fromiter((len(e.positions) for e in encoded), dtype=np.int64, count=len(encoded))
    total = int(n_steps.sum())
    score = np.full(total, np.nan)
    raw = np.full(total, np.nan)
    offsets = np.concatenate([[0], np.cumsum(n_steps)[:-1]]).astype(np.int64)
    dest = np.concatenate([off + k for off, k in zip(offsets, kept)]) if total else np.zeros(0, np.int64)
    score[dest.astype(np.int64)] = score_flat
    raw[dest.astype(np.int64)] = raw_flat
    scored_mask = np.zeros(total, dtype=bool)
    scored_mask[dest.astype(np.int64)] = True
    notes_flat = [n for notes in notes_all for n in notes]
    return pa.table({
        "scorer_id": pa.array([engine.scorer_id] * total, pa.string()),
        "trace_id": pa.array(np.repeat(np.asarray([e.trace_id for e in encoded], dtype=object), n_steps), pa.string()),
        "step_idx": pa.array(np.concatenate([np.arange(n) for n in n_steps]) if total else np.zeros(0, np.int32), pa.int32()),
        "score": pa.array(score, pa.float64(), mask=~scored_mask),
        "raw": pa.array(raw, pa.float64(), mask=~scored_mask),
        "note": pa.array(notes_flat, pa.string()),
    }, schema=STEP_RESULT_SCHEMA)
