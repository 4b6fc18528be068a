"""What container a file is (from its first bytes and extension), and the one place its bytes are
opened.

A later issue adds compressed files (gzip / zstd, told by their magic bytes) here: :func:`sniff`
looks through the compression and :func:`open_bytes` decompresses, so every reader gets them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from prm_viewer.errors import ImportFailed

KINDS = ("jsonl", "json", "csv", "tsv", "parquet")
"""The containers the readers stream: JSON Lines, a JSON document (array of records or one
object), CSV, TSV (CSV with tabs) and Parquet."""
TABLES = frozenset({"csv", "tsv", "parquet"})
"""Containers whose records are table rows ("row N" in messages); the others count lines."""
_HEAD = 65536


@dataclass(frozen=True)
class Container:
    """A file and how to read its records."""

    path: Path
    kind: str
    """One of :data:`KINDS`, or ``'empty'`` (no content) or ``'unknown'`` (none of them: read as
    JSON Lines, so that the error names the first bad line)."""
    shape: str | None = None
    """For ``'json'``: ``'array'`` (a list of records) or ``'object'`` (one record); else ``None``."""
    delimiter: str = ","
    """Field delimiter of CSV/TSV (``','`` / tab); unused for the other kinds."""

    @property
    def unit(self) -> str:
        """What a record number counts, for messages: ``'row'`` (tables) or ``'line'``."""
        return "row" if self.kind in TABLES else "line"

    @property
    def is_table(self) -> bool:
        """True for CSV/TSV/Parquet (columns known up front)."""
        return self.kind in TABLES


def open_bytes(path: Path) -> BinaryIO:
    """The file's content as a binary stream (every text reader opens files through this)."""
    return open(path, "rb")


def sniff(path: Path | str, kind: str | None = None, delimiter: str | None = None) -> Container:
    """The file's container from its first bytes and extension, unless ``kind`` forces one.

    ``PAR1`` magic -> parquet; ``[`` -> a JSON array; ``{`` -> JSON Lines when the first line is
    a whole JSON value, else a (pretty-printed) JSON object for a ``.json`` file, JSON Lines
    otherwise; ``.csv`` / ``.tsv`` -> CSV / TSV; no content -> ``'empty'``; else ``'unknown'``.
    ``delimiter`` overrides CSV/TSV's (``','`` / tab).
    """
    path = Path(path)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown container kind {kind!r}; expected one of {', '.join(KINDS)}")
    found, shape = (kind, None) if kind is not None else _sniff_kind(path)
    if found == "json" and shape is None:
        shape = _json_shape(path)
    delim = delimiter or ("\t" if found == "tsv" else ",")
    return Container(path=path, kind=found, shape=shape, delimiter=delim)


def _sniff_kind(path: Path) -> tuple[str, str | None]:
    if os.path.getsize(path) == 0:
        return "empty", None
    with open_bytes(path) as fh:
        head = fh.read(_HEAD)
    if head[:4] == b"PAR1":
        return "parquet", None
    stripped = head.lstrip()
    if not stripped:
        return "empty", None
    suffix = path.suffix.lower()
    if stripped[:1] == b"[":
        return "json", "array"
    if stripped[:1] == b"{":
        # One object per line (JSONL) unless the first object spans lines (pretty JSON object).
        first_line = stripped.split(b"\n", 1)[0].strip()
        try:
            json.loads(first_line)
            return "jsonl", None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return ("json", "object") if suffix == ".json" else ("jsonl", None)
    if suffix == ".csv":
        return "csv", None
    if suffix == ".tsv":
        return "tsv", None
    return "unknown", None


def _json_shape(path: Path) -> str | None:
    """``'array'`` or ``'object'`` from the first non-blank byte of a (forced) JSON file."""
    with open_bytes(path) as fh:
        first = fh.read(_HEAD).lstrip()[:1]
    return {b"[": "array", b"{": "object"}.get(first)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (pyarrow's messages run over several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def empty_file(path: Path | str) -> ImportFailed:
    """The one error for a file with no content."""
    return ImportFailed(str(path), None, None, "the file is empty")
