"""Scoring recipes, one module per PRM family, collected in the ``RECIPES`` registry.

Plug-ins: a module that calls :func:`register` with a :class:`Recipe`, named either by a dotted
path (``load_plugin("mylab.prm_recipe")``, the CLI's ``--recipe-module``, or the
``PRM_VIEWER_RECIPE_MODULES`` environment variable, comma-separated) or by an entry point in
the ``prm_viewer.recipes`` group. No core code changes.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from prm_viewer import settings
from prm_viewer.errors import RecipeError
from prm_viewer.scoring.recipes.base import EncodedTrace, Prepared, Recipe, TraceInput

RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add a recipe (a plug-in may replace a built-in by registering the same name)."""
    RECIPES[recipe.name] = recipe
    return recipe


def load_plugin(dotted: str) -> None:
    """Import a plug-in module by dotted path; it registers its recipes when imported."""
    try:
        import_module(dotted)
    except ImportError as exc:
        raise RecipeError(f"cannot import the recipe plug-in '{dotted}': {exc}") from None


def get_recipe(name: str) -> Recipe:
    recipe = RECIPES.get(name)
    if recipe is None:
        raise RecipeError(f"unknown recipe '{name}'; known: {', '.join(RECIPES)}")
    return recipe


for _mod in ("qwen_prm", "math_shepherd", "rlhflow", "verifier", "implicit_prm", "critic", "mc_value"):
    register(import_module(f"prm_viewer.scoring.recipes.{_mod}").RECIPE)

for _ep in entry_points(group="prm_viewer.recipes"):
    _ep.load()

for _dotted in filter(None, (m.strip() for m in str(settings.get("recipe_modules")).split(","))):
    load_plugin(_dotted)

__all__ = ["RECIPES", "EncodedTrace", "Prepared", "Recipe", "TraceInput", "get_recipe", "load_plugin", "register"]
