"""Importers, one module per format, collected in the ``FORMATS`` registry.

Plug-ins register more with the ``prm_viewer.formats`` entry-point group (each entry point
names a module that applies ``@register``).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from prm_viewer.formats.base import FORMATS, Format, Sample, detect_format, get_format, read_sample, register

# Order matters for detection: specific formats before looser ones; the generic mapper last.
_BUILTIN = (
    "processbench",
    "prmbench",
    "prm800k",
    "trl_stepwise",
    "math_shepherd",
    "bbm",
    "gsm8k_solutions",
    "generic",
)

for _mod in _BUILTIN:
    import_module(f"prm_viewer.formats.{_mod}")

for _ep in entry_points(group="prm_viewer.formats"):
    _ep.load()

__all__ = ["FORMATS", "Format", "Sample", "detect_format", "get_format", "read_sample", "register"]
