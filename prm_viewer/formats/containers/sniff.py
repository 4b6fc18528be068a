"""What container a file is (from its first bytes and extension), and the one place its bytes are
opened.

Compressed files (gzip / zstd) are told by their magic bytes (or, failing that, a ``.gz`` /
``.zst`` extension): :func:`sniff` looks through the compression (the kind comes from the
decompressed first bytes and the extension under the compression's, e.g. ``x.jsonl.gz``) and
:func:`open_bytes` decompresses, so every text reader gets them. Parquet compresses its own pages.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
    compression: str | None = None
    """``'gzip'`` / ``'zstd'`` when the bytes are compressed (read through :func:`open_bytes`)."""
    records_path: str | None = None
    """Where a JSON document keeps its records: a dotted key path to a list (``data.items``) or
    ``*`` (every value of the top-level object is a list of records); ``None`` = the top level."""

    @property
    def unit(self) -> str:
        """What a record number counts, for messages: ``'row'`` (tables), ``'record'`` (records
        found under a records path: the n-th record read) or ``'line'``."""
        if self.records_path:
            return "record"
        return "row" if self.kind in TABLES else "line"

    @property
    def is_table(self) -> bool:
        """True for CSV/TSV/Parquet (columns known up front)."""
        return self.kind in TABLES


_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}


def compression(path: Path | str) -> str | None:
    """``'gzip'``, ``'zstd'`` or ``None``: from the magic bytes first, else the extension."""
    path = Path(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == _GZIP_MAGIC:
        return "gzip"
    if magic == _ZSTD_MAGIC:
        return "zstd"
    return None


def inner_suffix(path: Path | str) -> str:
    """The extension that names the container: ``x.jsonl.gz`` -> ``.jsonl``; ``x.csv`` -> ``.csv``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in COMPRESSED_SUFFIXES:
        return Path(path.stem).suffix.lower()
    return suffix


def open_bytes(path: Path) -> BinaryIO:
    """The file's (decompressed) content as a binary stream: every text reader opens files here.

    A corrupt or truncated compressed stream raises :class:`ImportFailed` where it is read."""
    kind = compression(path)
    if kind is None:
        return open(path, "rb")
    raw: Any
    if kind == "gzip":
        import gzip

        raw = gzip.open(path, "rb")
    else:
        try:
            import zstandard
        except ImportError:
            from prm_viewer.errors import MissingDependency

            raise MissingDependency("zstandard", "pip install zstandard", "reading .zst files") from None
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return io.BufferedReader(_Guarded(path, raw), buffer_size=1 << 20)


class _Guarded(io.RawIOBase):
    """A decompressing stream whose read errors become one :class:`ImportFailed`."""

    def __init__(self, path: Path, raw: Any) -> None:
        self._path = path
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self._raw.read(len(b))
        except (OSError, EOFError, ValueError) as exc:  # BadGzipFile, truncated gzip, ZstdError
            raise corrupt_compressed(self._path, exc) from None
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def corrupt_compressed(path: Path | str, exc: BaseException) -> ImportFailed:
    """The one error for a compressed file whose stream cannot be decompressed."""
    return ImportFailed(str(path), None, None, f"the compressed file is corrupt or truncated ({first_line(exc)})")


def sniff(path: Path | str, kind: str | None = None, delimiter: str | None = None,
          records_path: str | None = None) -> Container:
    """The file's container from its first bytes and extension, unless ``kind`` forces one.

    ``PAR1`` magic -> parquet; ``[`` -> a JSON array; ``{`` -> JSON Lines when the first line is
    a whole JSON value, else a (pretty-printed) JSON object for a ``.json`` file, JSON Lines
    otherwise; ``.csv`` / ``.tsv`` -> CSV / TSV; no content -> ``'empty'``; else ``'unknown'``.
    ``delimiter`` overrides CSV/TSV's (``','`` / tab). ``records_path``: see
    :attr:`Container.records_path` (a JSON document only).
    """
    path = Path(path)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown container kind {kind!r}; expected one of {', '.join(KINDS)}")
    found, shape = (kind, None) if kind is not None else _sniff_kind(path)
    if found == "json" and shape is None:
        shape = _json_shape(path)
    delim = delimiter or ("\t" if found == "tsv" else ",")
    rp = (records_path or "").strip() or None
    if rp is not None and found not in ("json", "jsonl", "unknown"):
        raise ImportFailed(str(path), None, "records", f"a records path applies to a JSON document, not a {found} file")
    if rp is not None and found != "json":
        found, shape = "json", _json_shape(path)  # a one-line JSON object sniffs as JSONL
    return Container(path=path, kind=found, shape=shape, delimiter=delim,
                     compression=compression(path) if found != "empty" else None, records_path=rp)


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
    suffix = inner_suffix(path)
    if stripped[:1] == b"[":
        return "json", "array"
    if stripped[:1] == b"{":
        # One object per line (JSONL) unless the first object spans lines (pretty JSON object).
        first_line = stripped.split(b"\n", 1)[0].strip()
        try:
            json.loads(first_line)
            return "jsonl", None
        except (json.JSONDecodeError, UnicodeDecodeError):
            if suffix == ".json":
                return "json", "object"
            if b"\n" not in stripped and len(head) >= _HEAD:
                # One line longer than the sniffed head: a minified JSON document, not JSONL.
                return ("json", "object") if suffix != ".jsonl" else ("jsonl", None)
            return "jsonl", None
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
