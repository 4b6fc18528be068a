"""The canonical data model. Importers map every source format into :class:`TraceRecord`;
nothing downstream knows the source format.

Conventions (the facts every chart depends on):
- step indices are 0-based everywhere in the store;
- ``gold_first_error``: index of the earliest wrong step, ``-1`` = no error, ``None`` = unknown;
- step labels: ``+1`` correct, ``0`` neutral/ok-but-unhelpful (PRM800K), ``-1`` wrong, ``None``
  unlabelled;
- step scores are probabilities of correctness in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class TraceRecord:
    """One reasoning trace as read from a source file (mutable for speed; treat as a value)."""

    line: int
    """1-based line (JSONL), item (JSON array) or row (CSV/Parquet) in the source, for errors."""
    source_id: str
    """The trace's id as given in the source file (or ``"line N"`` when it has none)."""
    problem: str
    """The problem / question text."""
    steps: list[str]
    """The reasoning steps, in order (never empty)."""
    generator: str | None = None
    """The policy / model that produced the trace."""
    final_answer: str | None = None
    """The trace's final answer, as text."""
    reference_answer: str | None = None
    """The problem's gold answer, when known."""
    final_answer_correct: bool | None = None
    """Whether the final answer is right (gold or computed), ``None`` when unknown."""
    gold_first_error: int | None = None
    """0-based index of the earliest wrong step; ``-1`` = none; ``None`` = unknown."""
    step_labels: list[int | None] | None = None
    """Per-step gold labels (+1/0/-1/None), same length as ``steps``; ``None`` = no labels."""
    error_type: str | None = None
    """Kind of the first error (e.g. PRMBench ``classification``, demo error types)."""
    category: str | None = None
    """Problem category / task / subject (for generalisation breakdowns)."""
    split: str | None = None
    """Split, e.g. ``gsm8k``, ``in_domain``, ``out_of_domain``."""
    problem_id: str | None = None
    """The source's problem id, when it has one (else derived from the problem text)."""
    metadata: dict[str, Any] | None = None
    """Free extra fields kept as JSON."""
    step_scores: dict[str, list[float | None]] | None = field(default=None)
    """Per-step scores computed elsewhere, by scorer name (imported as named scorers)."""
    notes: list[Note] | None = None
    """What the import report should say about this record (a NaN score, an error step past the
    end, a first error that no longer lines up after a split); the record is imported."""


@dataclass(slots=True)
class Note:
    """A counted remark about one record: ``count`` occurrences of ``reason`` in ``field``."""

    reason: str
    field: str | None = None
    count: int = 1


@dataclass(slots=True)
class Skip:
    """A source record not imported, with why: deliberately (e.g. a PRM800K 'bad_problem') or,
    with ``invalid``, because it failed validation (an error unless the import skips bad rows)."""

    line: int
    reason: str
    field: str | None = None
    """The field that failed (invalid records)."""
    invalid: bool = False
    """True for a record that failed validation: the import fails on it unless ``on_error=skip``."""
    unit: str = "line"
    """What ``line`` counts: 'line', 'row' or 'record'."""

    def where(self) -> str:
        """``"row 7, field 'label'"``: the place, in the words of a message."""
        return f"{self.unit} {self.line}" + (f", field '{self.field}'" if self.field else "")


@dataclass
class ImportReport:
    """What an import did; shown by the CLI and the Library page."""

    dataset_id: str
    name: str
    format: str
    path: str
    traces: int = 0
    steps: int = 0
    labelled_traces: int = 0
    """Traces with a known gold first error or step labels."""
    skipped: list[Skip] = field(default_factory=list)
    """Records not imported: deliberate skips and (with ``on_error=skip``) invalid records."""
    notes: dict[str, int] = field(default_factory=dict)
    """Counted remarks over all records (reason -> count), e.g. NaN scores stored as not scored."""
    warnings: list[Skip] = field(default_factory=list)
    """The first records each note was made on (line/row, field, reason), for the report."""
    scorers: list[str] = field(default_factory=list)
    """Names of scorers whose precomputed scores came with the file."""
    already_present: bool = False
    """True when the same file (same content, format and options) was imported before: a no-op."""
    seconds: float = 0.0

    def summary(self) -> str:
        """One or two lines for people."""
        if self.already_present:
            return f"'{self.path}' was already imported as dataset '{self.name}' ({self.dataset_id}); nothing changed."
        text = (
            f"imported '{self.path}' as dataset '{self.name}' (format {self.format}): "
            f"{self.traces} traces, {self.steps} steps, {self.labelled_traces} labelled traces"
        )
        if self.scorers:
            text += f", scores from {', '.join(self.scorers)}"
        invalid = [s for s in self.skipped if s.invalid]
        if invalid:
            text += f"; skipped {len(invalid)} invalid records"
        deliberate = [s for s in self.skipped if not s.invalid]
        if deliberate:
            reasons: dict[str, int] = {}
            for s in deliberate:
                reasons[s.reason] = reasons.get(s.reason, 0) + 1
            text += "; skipped " + ", ".join(f"{n} ({r})" for r, n in reasons.items())
        if self.notes:
            text += "; notes: " + ", ".join(f"{n} {r}" for r, n in self.notes.items())
        return text + f" in {self.seconds:.2f} s"

    def to_json(self) -> dict[str, Any]:
        """What is stored with the dataset (the import report table)."""
        return {
            "traces": self.traces, "steps": self.steps, "labelled_traces": self.labelled_traces,
            "skipped": [{"line": s.line, "unit": s.unit, "field": s.field, "reason": s.reason, "invalid": s.invalid}
                        for s in self.skipped[:MAX_LISTED]],
            "n_skipped": len(self.skipped), "n_invalid": sum(1 for s in self.skipped if s.invalid),
            "notes": self.notes,
            "warnings": [{"line": s.line, "unit": s.unit, "field": s.field, "reason": s.reason}
                         for s in self.warnings[:MAX_LISTED]],
        }


MAX_LISTED = 1000
"""Skipped records and warnings listed one by one in a stored report (all are counted)."""
