"""Backends, collected in the ``BACKENDS`` registry (see ``base.py`` for the contract).

Built-ins are listed as (name, module) and imported on first use, so that listing backends
does not import torch. Plug-ins: the ``prm_viewer.backends`` entry-point group, or
:func:`register` from a module.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.base import Backend, Runner, RunSpec

# name -> module holding ``BACKEND``; imported lazily (backend modules are light, but keep the
# table the single list of what exists).
_BUILTIN: dict[str, str] = {
    "transformers": "prm_viewer.scoring.backends.transformers_backend",
    "exact": "prm_viewer.scoring.backends.exact",
    "vllm": "prm_viewer.scoring.backends.vllm_backend",
    "vllm-server": "prm_viewer.scoring.backends.vllm_server",
}
BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    BACKENDS[backend.name] = backend
    return backend


def backend_names() -> list[str]:
    return sorted(set(_BUILTIN) | set(BACKENDS))


def get_backend(name: str) -> Backend:
    if name not in BACKENDS and name in _BUILTIN:
        register(import_module(_BUILTIN[name]).BACKEND)
    backend = BACKENDS.get(name)
    if backend is None:
        raise RecipeError(f"unknown backend '{name}'; known: {', '.join(backend_names())}")
    return backend


def check_backend(backend_name: str, model_kind: str, recipe_name: str) -> Backend:
    """The backend, or a one-line error when it cannot run this recipe's model kind."""
    backend = get_backend(backend_name)
    if model_kind not in backend.model_kinds:
        fits = [n for n in backend_names() if model_kind in get_backend(n).model_kinds]
        raise RecipeError(
            f"backend '{backend_name}' cannot run recipe '{recipe_name}' ({model_kind}); use: {', '.join(fits) or 'none installed'}"
        )
    return backend


for _ep in entry_points(group="prm_viewer.backends"):
    _ep.load()

__all__ = ["BACKENDS", "Backend", "RunSpec", "Runner", "backend_names", "check_backend", "get_backend", "register"]
