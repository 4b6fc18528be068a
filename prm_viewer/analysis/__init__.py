"""Analysis: localisation, progress, run-vs-run comparison, diversity, error types.

Pure functions live in one module per concept (``localisation``, ``progress``, ``compare``,
``stats``, ``diversity``, ``error_types``); ``reports`` fetches their inputs through
``prm_viewer.queries`` and assembles what the CLI and the pages show.
"""

from prm_viewer.analysis.runs import Run, resolve_run

__all__ = ["Run", "resolve_run"]
