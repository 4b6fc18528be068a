"""Backends, collected in the ``BACKENDS`` registry (see ``base.py`` for the contract).

Everything backend-specific lives in this package: the runners (``transformers_backend.py``,
``transformers_lm.py``, ``vllm_backend.py``, ``vllm_server.py``, ``exact.py``), the torch
device/dtype helpers (``torch_device.py``), shared-prefix grouping (``prefix.py``), the runner
contract (``base.py``) and the language-model contract (``lm.py``).

Built-ins are listed as (name, module) and imported on first use; backend modules import their
heavy dependencies (torch, vllm) only inside functions, so :func:`backend_names` and
:func:`backend_dtypes` are safe to call from the app. :func:`resolve_device_dtype` is not: it
asks the hardware, and belongs to the worker. Plug-ins: the ``prm_viewer.backends`` entry-point
group, or :func:`register` from a module.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.base import Backend, Loaded, Runner, RunSpec
from prm_viewer.scoring.backends.lm import LanguageModel

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
    """Add (or replace) a backend by its name."""
    BACKENDS[backend.name] = backend
    return backend


def backend_names() -> list[str]:
    """Every backend's name, sorted (no backend module is imported)."""
    return sorted(set(_BUILTIN) | set(BACKENDS))


def backend_dtypes(name: str) -> tuple[str, ...]:
    """The explicit dtypes backend ``name`` accepts, besides ``auto`` (which every backend
    takes); light: imports the backend's module, never torch or vllm."""
    return get_backend(name).dtypes


def resolve_device_dtype(name: str, device: str, dtype: str) -> tuple[str, str]:
    """What ``device``/``dtype`` (``auto`` included) become on this machine for backend ``name``.
    Worker-side: it may import torch or vllm to ask the hardware."""
    return get_backend(name).resolve(device, dtype)


def get_backend(name: str) -> Backend:
    """The registered backend ``name`` (built-ins are imported on first use)."""
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

__all__ = ["BACKENDS", "Backend", "LanguageModel", "Loaded", "RunSpec", "Runner", "backend_dtypes", "backend_names",
           "check_backend", "get_backend", "register", "resolve_device_dtype"]
