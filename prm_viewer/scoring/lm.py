"""Compatibility: the language-model names at their old address.

The contract now lives beside the backend contract (``scoring/backends/lm.py``: ``LM_KIND``,
``Sampling``, ``LanguageModel``, ``cut_at_stop``) and the recipe helpers beside the recipes
(``scoring/recipes/lm_results.py``: ``TraceResult``, ``results_table``, ``chat_prompt_ids``).
Import from there; this module only keeps plug-ins written against the old path working.
"""

from __future__ import annotations

from prm_viewer.scoring.backends.lm import LM_KIND, LanguageModel, Sampling, cut_at_stop
from prm_viewer.scoring.recipes.lm_results import TraceResult, chat_prompt_ids, results_table

__all__ = ["LM_KIND", "LanguageModel", "Sampling", "TraceResult", "chat_prompt_ids", "cut_at_stop", "results_table"]
