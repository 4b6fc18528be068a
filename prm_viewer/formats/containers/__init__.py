"""The container layer: every importer reads its records through here.

A *container* is the file type that holds the records: JSON Lines, a JSON document (an array of
records, or one object), CSV, TSV or Parquet. This package

- tells which one a file is (:func:`sniff` -> :class:`Container`);
- samples the first records for detection and previews (:func:`read_sample` -> :class:`Sample`);
- streams ``(n, record)`` pairs with optional column projection (:func:`records`), ``n`` being
  the line (JSON) or row (tables) that :attr:`Container.unit` names in messages;

and raises :class:`~prm_viewer.errors.ImportFailed` naming the file, the line/row and the field.

Compressed files (gzip / zstd) are read through ``sniff.open_bytes``; a nested record path (the
``records=`` option: the list of records inside a JSON document, e.g. ``data.items``, or ``*``)
is applied in :func:`_values` (:mod:`.nested`), between the JSON reader and the record check.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers import delimited, parquet
from prm_viewer.formats.containers.jsonfile import iter_json_document, iter_jsonl
from prm_viewer.formats.containers.nested import PARENT_KEY, describe_document, iter_records, shown_keys
from prm_viewer.formats.containers.sniff import KINDS, TABLES, Container, empty_file, sniff

__all__ = [
    "KINDS", "PARENT_KEY", "TABLES", "Container", "Sample", "iter_json_document", "iter_jsonl", "read_sample",
    "records", "shown_keys", "sniff", "table_columns",
]


@dataclass
class Sample:
    """The first records of a file, for ``Format.detect()`` and previews (read once, shared)."""

    path: Path
    kind: str
    """The container: 'jsonl', 'json' (array or single object), 'csv', 'tsv', 'parquet',
    'empty' or 'unknown'."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """Up to ``n`` first records as dicts (JSON objects or table rows)."""
    error: ImportFailed | None = None
    """Why reading the sample stopped early (bad first line, corrupt table), if it did."""
    seen: str = ""
    """What the file holds when its top level is one JSON object (e.g. "a top-level object whose
    values are lists of records"), for detection messages; empty otherwise."""
    records_hint: str | None = None
    """The ``records=`` value to try for such a file (``*``, ``data``), if one fits."""
    compression: str | None = None
    """``'gzip'`` / ``'zstd'`` when the file is compressed."""

    @property
    def keys(self) -> set[str]:
        """Keys present in the first record (empty when none)."""
        return set(self.records[0]) if self.records else set()


def _container(source: Path | str | Container) -> Container:
    return source if isinstance(source, Container) else sniff(source)


def table_columns(source: Path | str | Container) -> list[str]:
    """A table's column names (CSV/TSV header, Parquet schema); ``[]`` for JSON containers,
    whose records need not share keys."""
    c = _container(source)
    if c.kind == "parquet":
        return parquet.columns(c)
    if c.kind in ("csv", "tsv"):
        return delimited.header(c)
    return []


def _values(c: Container, batch_rows: int = parquet.BATCH_ROWS) -> Iterator[tuple[int, Any]]:
    """``(n, value)`` of any JSON type, or ``(row, dict)`` for tables."""
    if c.kind == "empty":
        raise empty_file(c.path)
    if c.kind == "parquet":
        return parquet.iter_rows(c, batch_rows=batch_rows)
    if c.kind in ("csv", "tsv"):
        return delimited.iter_rows(c)
    if c.kind == "json":
        if c.records_path:
            return _nested(c)
        return iter_json_document(c.path)
    return iter_jsonl(c.path)


def _nested(c: Container) -> Iterator[tuple[int, Any]]:
    for _, doc in iter_json_document(c.path):
        yield from iter_records(str(c.path), doc, c.records_path or "")  # jsonl, and 'unknown': a line-by-line read names the first bad line


def records(source: Path | str | Container, columns: Sequence[str] | None = None, *,
            column_label: str = "column") -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream a file's records as ``(n, record)``: ``n`` = the line (JSON, JSONL) or the row
    (CSV/TSV/Parquet, counted from 1 after any header), per :attr:`Container.unit`.

    ``source`` is a path (its container sniffed) or a :class:`Container` (e.g. a forced kind).
    Every JSON record must be an object. With ``columns``, records hold only those keys: a table
    reads only them (Parquet reads no other column from disk) and fails up front when one is not
    in the file; a JSON record fails at its line when it lacks one. ``column_label`` is what
    messages call a column (e.g. ``'mapped column'``).
    """
    c = _container(source)
    p = str(c.path)
    if columns is not None and c.is_table:
        opened = parquet.open_parquet(c) if c.kind == "parquet" else None
        present = parquet.columns(c, opened) if opened is not None else delimited.header(c)
        have = set(present)
        for col in columns:
            if col not in have:
                shown = ", ".join(present[:30]) + (" ..." if len(present) > 30 else "")
                raise ImportFailed(p, None, col, f"{column_label} not in the file; its columns: {shown}")
        if opened is not None:
            yield from parquet.iter_rows(c, columns, opened=opened)
        else:
            yield from delimited.iter_rows(c, columns)
        return
    for n, obj in _values(c):
        if not isinstance(obj, dict):
            raise ImportFailed(p, n, None, f"expected a JSON object, found {type(obj).__name__}", unit=c.unit)
        if columns is None:
            yield n, obj
            continue
        for col in columns:
            if col not in obj:
                raise ImportFailed(p, n, col, f"{column_label} missing from this record", unit=c.unit)
        yield n, {col: obj[col] for col in columns}


def read_sample(path: Path | str, n: int = 5, records_path: str | None = None) -> Sample:
    """The first ``n`` records of any supported container, tolerating a bad tail.

    JSON values that are not objects are passed over (detection looks at objects only); the
    error that stopped the sample early, if any, is kept in :attr:`Sample.error`. A top-level
    JSON object (without ``records_path``) is described in :attr:`Sample.seen`, and a records path
    that fits it is proposed in :attr:`Sample.records_hint`; its record is not sampled when it is
    a container of records rather than a record.
    """
    out: list[dict[str, Any]] = []
    error: ImportFailed | None = None
    try:
        c = sniff(path, records_path=records_path)
    except ImportFailed as exc:
        return Sample(path=Path(path), kind="unknown", error=exc)
    seen, hint = "", None
    if c.kind not in ("empty", "unknown"):
        try:
            for _, obj in _values(c, batch_rows=max(n, 1)):
                if c.kind == "json" and c.shape == "object" and not c.records_path and isinstance(obj, dict):
                    seen, hint = describe_document(obj)
                    if hint is not None:
                        break  # the object holds records: it is not one itself
                if isinstance(obj, dict):
                    out.append(obj)
                if len(out) >= n:
                    break
        except ImportFailed as exc:
            error = exc  # the full read reports the exact line; a sample only needs what parses
    return Sample(path=c.path, kind=c.kind, records=out, error=error, seen=seen, records_hint=hint,
                  compression=c.compression)
