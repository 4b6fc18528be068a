"""The format contract, the registry's table, and the validation every format shares.

A format is a small class with ``name``, ``detect(sample)`` and ``read(path, options)``.
``read`` yields :class:`~prm_viewer.model.TraceRecord` (or :class:`~prm_viewer.model.Skip`)
one at a time, so memory stays bounded whatever the file size; it reads the file through the
container layer (:mod:`prm_viewer.formats.containers`) and the record's fields through
:mod:`prm_viewer.formats.fields`. Validation that is the same for every format (non-empty steps,
first-error range, label lengths, duplicate ids) lives in :func:`validate`, applied by the
store's import, not in each importer; :func:`check_options` rejects option keys a format does
not take.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers import Container, Sample, iter_jsonl, read_sample, sniff
from prm_viewer.formats.fields import need, need_str_list, opt
from prm_viewer.model import Skip, TraceRecord

# Re-exported for callers outside formats/ that import them from here (prm_viewer.demo.format);
# new code imports them from formats.containers / formats.fields.
__all__ = [
    "FORMATS", "Format", "Sample", "check_options", "fail", "first_error_from_labels", "iter_jsonl", "need",
    "need_str_list", "opt", "read_sample", "register", "validate",
]


class Format:
    """Base class of an importer. Subclasses set ``name``/``label`` and implement two methods."""

    name: ClassVar[str] = ""
    """Registry key, used by ``--format``."""
    label: ClassVar[str] = ""
    """Human name shown in the UI."""
    generic: ClassVar[bool] = False
    """True for the column-mapping importer (never auto-detected without a mapping)."""
    containers: ClassVar[tuple[str, ...]] = ("jsonl", "json")
    """The containers (:data:`~prm_viewer.formats.containers.KINDS`) this format's files come in;
    :meth:`open` rejects others with a clear message."""

    def detect(self, sample: Sample) -> bool:
        """True when the sampled records look like this format."""
        raise NotImplementedError

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        """Yield the file's traces in order, raising :class:`ImportFailed` on bad input."""
        raise NotImplementedError

    def record_unit(self, path: Path, options: dict[str, Any] | None = None) -> str:
        """What ``TraceRecord.line`` counts in this file, for messages: 'line', 'row' (tables) or
        'record' (records under a records path)."""
        return "record" if (options or {}).get("records") else sniff(path).unit

    def open(self, path: Path, options: dict[str, Any] | None = None) -> Container:
        """The file's container, checked against :attr:`containers` (a file of unknown type is
        read as JSON Lines, so that the error names its first bad line); ``options['records']``
        is the records path inside a JSON document."""
        records_path = (options or {}).get("records")
        c = sniff(path, records_path=str(records_path) if records_path else None)
        if c.kind == "empty":
            raise ImportFailed(str(path), None, None, "the file is empty")
        if c.kind != "unknown" and c.kind not in self.containers:
            raise ImportFailed(str(path), None, None, f"the format {self.name} reads {_kinds(self.containers)} files, "
                                                      f"not {_kinds((c.kind,))}")
        return c

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        """The file's own names for canonical fields (``first_error``, ``steps``, ``id``, ...), so
        shared validation errors name a field the user can find in the file."""
        return {}


def _kinds(kinds: tuple[str, ...]) -> str:
    names = {"jsonl": "JSONL", "json": "JSON", "csv": "CSV", "tsv": "TSV", "parquet": "Parquet"}
    return " / ".join(names.get(k, k) for k in kinds)


FORMATS: dict[str, Format] = {}
"""Name -> format, filled by :func:`register`; :mod:`prm_viewer.formats.registry` loads the
built-in formats and plug-ins into it and looks formats up (``get_format``, ``detect_format``)."""


def register(fmt: type[Format]) -> type[Format]:
    """Class decorator adding a format to the registry (plug-ins use it too)."""
    if not fmt.name:
        raise ValueError(f"{fmt.__name__} has no name")
    FORMATS[fmt.name] = fmt()
    return fmt


# --------------------------------------------------------------------------- shared validation


def fail(path: Path | str, line: int | None, field: str | None, message: str, unit: str = "line") -> ImportFailed:
    """``ImportFailed(path, line, field, message, unit=unit)``: ``unit='row'`` for tables."""
    return ImportFailed(str(path), line, field, message, unit=unit)


def validate(path: Path, rec: TraceRecord, unit: str = "line", names: dict[str, str] | None = None) -> None:
    """Checks every format needs; raises ImportFailed naming the line (or row) and field.

    ``names`` maps the canonical fields (problem, steps, first_error, step_labels, id, scores.X)
    to the source file's own names, so that messages name the field the user can find.
    """
    p = str(path)
    names = names or {}
    if not isinstance(rec.problem, str) or not rec.problem.strip():
        raise fail(p, rec.line, names.get("problem", "problem"), "empty problem text", unit)
    n = len(rec.steps)
    if n == 0:
        raise fail(p, rec.line, names.get("steps", "steps"), "empty step list", unit)
    g = rec.gold_first_error
    if g is not None and not (-1 <= g < n):
        raise fail(p, rec.line, names.get("first_error", "first_error"), f"first-error index {g} is out of range for {n} steps (0-based)", unit)
    if rec.step_labels is not None and len(rec.step_labels) != n:
        raise fail(p, rec.line, names.get("step_labels", "step_labels"), f"{len(rec.step_labels)} labels for {n} steps", unit)
    bad = _unstorable_text(rec)
    if bad is not None:
        raise fail(p, rec.line, names.get(bad, bad), "text with an unpaired surrogate escape (\\ud800-\\udfff), "
                   "which is not a character and cannot be stored", unit)
    if rec.step_scores:
        for name, scores in rec.step_scores.items():
            if len(scores) != n:
                raise fail(p, rec.line, names.get(f"scores.{name}", f"scores.{name}"), f"{len(scores)} scores for {n} steps", unit)
            for s in scores:
                if s is not None and not (0.0 <= s <= 1.0):
                    raise fail(p, rec.line, names.get(f"scores.{name}", f"scores.{name}"), f"score {s} is outside [0, 1]", unit)


def _unstorable_text(rec: TraceRecord) -> str | None:
    """The first text field holding a lone surrogate (JSON's ``"\\ud800"`` escape decodes to one;
    it has no UTF-8 form, so Arrow and DuckDB refuse it), or None. One joined encode per record."""
    fields = {"problem": rec.problem, "final_answer": rec.final_answer, "id": rec.source_id,
              "reference_answer": rec.reference_answer, "generator": rec.generator, "problem_id": rec.problem_id,
              "error_type": rec.error_type, "category": rec.category, "split": rec.split,
              "steps": "".join(t for t in rec.steps if isinstance(t, str))}
    texts = {k: v for k, v in fields.items() if isinstance(v, str)}
    if _encodes("".join(texts.values())):
        return None
    return "steps" if not _encodes(texts["steps"]) else next(k for k, v in texts.items() if not _encodes(v))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def first_error_from_labels(labels: list[int | None]) -> int | None:
    """Earliest step labelled -1; -1 when all labelled and none wrong; None when unknown."""
    for i, lab in enumerate(labels):
        if lab == -1:
            return i
    if labels and all(lab is not None for lab in labels):
        return -1
    return None


COMMON_OPTIONS = frozenset({"records", "on_error"})
"""Options every format takes: ``records`` (the records path in a JSON document, read by
:meth:`Format.open`) and ``on_error`` (``skip`` or ``fail``: applied by the import)."""


def check_options(path: Path, options: dict[str, Any], allowed: set[str]) -> None:
    """Reject option keys a format does not know (a typo must not be silently ignored)."""
    allowed = set(allowed) | COMMON_OPTIONS
    unknown = sorted(set(options) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise ImportFailed(str(path), None, "options", f"unknown option(s) {', '.join(unknown)}; this format takes: {known}")
