"""User-facing errors.

Anything raised as a :class:`PrmViewerError` is a user's mistake or an environment problem and
is shown as one line (CLI: exit code 2; UI: ``st.error``). Any other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations


class PrmViewerError(Exception):
    """Base class: ``str(err)`` is the one-line message shown to the user."""


class UnknownFormat(PrmViewerError):
    """No registered format recognised the file (the message names those tried)."""


class ImportFailed(PrmViewerError):
    """A file could not be imported. Names the file, the line/row and the field.

    ``unit`` is what ``line`` counts: ``"line"`` (text lines of JSON / JSONL) or ``"row"``
    (data rows of a CSV/TSV or Parquet table, counted from 1 after any header). The message
    reads ``<file>, <unit> <line>, field '<field>': <message>``.
    """

    def __init__(self, path: str, line: int | None, field: str | None, message: str, unit: str = "line") -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        self.unit = unit
        where = self.path
        if line is not None:
            where += f", {unit} {line}"
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


class NotFound(PrmViewerError):
    """A named dataset, scorer, job or trace does not exist."""


class StoreBusy(PrmViewerError):
    """The DuckDB file is held by another process (the single-owner rule)."""


class RecipeError(PrmViewerError):
    """A checkpoint or recipe cannot be used as asked (missing marker token, mismatch...)."""


class MissingDependency(PrmViewerError):
    """An optional package is not installed; the message carries the install command."""

    def __init__(self, package: str, install: str, purpose: str = "") -> None:
        why = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"the package '{package}' is not installed{why}; install it with: {install}")
