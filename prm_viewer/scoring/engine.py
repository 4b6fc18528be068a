"""The scoring engine: a recipe bound to a loaded backend runner; traces in, step scores out.

Used by the worker process (and by benchmarks/tests directly). Knows nothing about jobs or the
store. The output is an Arrow table with one row per step: ``trace_id, step_idx, score, raw,
note``; a step that cannot be scored has ``score`` NULL and ``note`` saying why (never a
silently wrong score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from prm_viewer.scoring.recipes import EncodedTrace, Prepared, TraceInput, get_recipe, load_plugin

RESULT_SCHEMA = pa.schema([
    ("trace_id", pa.string()),
    ("step_idx", pa.int32()),
    ("score", pa.float64()),
    ("raw", pa.float64()),
    ("note", pa.string()),
])


@dataclass
class ScorerSpec:
    """What rebuilds a scorer exactly (stored with the scorer and in each job's spec.json)."""

    recipe: str
    checkpoint: str | None = None
    """Local folder or hub id (``None`` for exact recipes)."""
    backend: str = "transformers"
    device: str = "auto"
    dtype: str = "auto"
    batch_tokens: int = 0  # 0 = auto (see backends.transformers_backend.resolve_batch_tokens)
    trust_remote_code: bool = False
    max_length: int | None = None
    """Override of the model's context (tokens)."""
    recipe_options: dict[str, Any] = field(default_factory=dict)
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
    prepared: Prepared
    runner: Any
    tokens: int = 0
    """Tokens run through the model so far (for throughput figures)."""
    backend: Any = None
    run_spec: Any = None
    """The RunSpec the runner was loaded with (``model()`` loads other checkpoints alike)."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Per-engine state a recipe computes once (e.g. a judge's criteria list)."""
    others: dict[str, Any] = field(default_factory=dict)

    def model(self, checkpoint: str, role: str) -> Any:
        """Another checkpoint on the same backend, loaded once (implicit-prm's reference model).
        Backend options under the key ``role`` override the scorer's for this model; the
        checkpoint must share the scorer's tokenizer (the inputs are tokenized once)."""
        from dataclasses import replace

        from prm_viewer.errors import RecipeError
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
        return self.others[role]

    def close(self) -> None:
        self.runner.close()
        for other in self.others.values():
            other.close()


def load_engine(spec: ScorerSpec) -> Engine:
    """Resolve the checkpoint, prepare the recipe, load the backend: every failure is a
    one-line RecipeError (path missing, wrong kind, marker token missing, bad weights...)."""
    from prm_viewer.scoring import checkpoints
    from prm_viewer.scoring.backends import RunSpec, check_backend

    if spec.recipe_module:
        load_plugin(spec.recipe_module)
    recipe = get_recipe(spec.recipe)
    backend = check_backend(spec.backend, recipe.model_kind, recipe.name)
    options = recipe.check_options(spec.recipe_options)
    ckpt = tokenizer = None
    if recipe.model_kind != "exact":
        if not spec.checkpoint:
            from prm_viewer.errors import RecipeError

            raise RecipeError(f"recipe '{recipe.name}' needs a checkpoint")
        ckpt = checkpoints.resolve(spec.checkpoint)
        checkpoints.check_fit(ckpt, recipe.name, spec.trust_remote_code)
        tokenizer = checkpoints.load_tokenizer(ckpt, spec.trust_remote_code)
    prepared = recipe.prepare(tokenizer, options)
    run_spec = RunSpec(checkpoint=ckpt, prepared=prepared, device=spec.device, dtype=spec.dtype,
                       batch_tokens=spec.batch_tokens, trust_remote_code=spec.trust_remote_code,
                       max_length=spec.max_length, options=dict(spec.backend_options or {}))
    runner = backend.load(run_spec)
    return Engine(prepared=prepared, runner=runner, backend=backend, run_spec=run_spec)


def score_traces(engine: Engine, traces: Sequence[TraceInput]) -> pa.Table:
    """Score a batch of traces; rows in input order (trace, then step)."""
    prep = engine.prepared
    if prep.recipe.score is not None:  # language-model recipes drive their model(s) themselves
        return prep.recipe.score(engine, traces)
    encoded = prep.recipe.build_inputs(prep, traces)
    limit = engine.runner.max_length
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
    outputs = engine.runner.run(runnable)
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
        "trace_id": pa.array(np.repeat(np.asarray([e.trace_id for e in encoded], dtype=object), n_steps), pa.string()),
        "step_idx": pa.array(np.concatenate([np.arange(n) for n in n_steps]) if total else np.zeros(0, np.int32), pa.int32()),
        "score": pa.array(score, pa.float64(), mask=~scored_mask),
        "raw": pa.array(raw, pa.float64(), mask=~scored_mask),
        "note": pa.array(notes_flat, pa.string()),
    }, schema=RESULT_SCHEMA)
