"""Importers, one module per format, collected in the ``FORMATS`` registry.

Every importer reads its file through the container layer (:mod:`.containers`: JSON / JSONL /
CSV / TSV / Parquet sniffing, sampling and streaming) and its fields through :mod:`.fields`;
:mod:`.base` holds the contract (:class:`Format`), the registry's table and the shared
validation; :mod:`.registry` loads the built-in formats and entry-point plug-ins (group
``prm_viewer.formats``: each entry point names a module that applies ``@register``) and looks
formats up.
"""

from __future__ import annotations

from prm_viewer.formats.base import FORMATS, Format, register
from prm_viewer.formats.containers import Sample, read_sample
from prm_viewer.formats.registry import _BUILTIN, detect_format, get_format

__all__ = ["FORMATS", "Format", "Sample", "_BUILTIN", "detect_format", "get_format", "read_sample", "register"]
