"""The byte-level facts the SQL fast path of a ProcessBench import needs and DuckDB does not give.

DuckDB's ``read_json`` parses a ProcessBench file several times faster than the Python reader,
but it says neither on which line a record starts nor whether a record has keys beyond the
columns it was asked for, and it writes a non-string item of a list read as text as its JSON text
(``1`` becomes ``'1'``). :func:`scan` reads the file's bytes once (numpy, in chunks) and tells:

- ``key_tokens``: how many ``":`` the file holds whose quote is not escaped (not after an odd
  run of backslashes). In valid JSON such a quote ends a string, and one followed by ``:`` ends an
  object key, so when no key is written with blanks before its colon (checked), the count is the
  number of keys, at any depth; equal to the known keys DuckDB found means no record has another
  key and no value is an object with keys;
- ``quotes``: the unescaped ``"``, twice the number of strings (keys included): equal to twice the
  keys, the string fields and the steps that DuckDB found, every step is a string (a second proof
  beside the SQL test of the step texts);
- the line each record starts on: for JSON Lines the record number, provided the file has exactly
  one non-blank line per record (the caller checks the count); for a JSON array, the line of each
  ``{`` outside strings, which (once SQL and the counts have shown that no value is an object) are
  exactly the records (the caller checks their number too).

:func:`eligible` says when the fast path may be tried at all; anything it does not cover, and any
record that SQL finds wrong, goes through the Python reader, whose messages name file, line and
field.
"""

from __future__ import annotations

import json
import mmap
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers import sniff

_SPACED_COLON = re.compile(rb'"[ \t\r\n]+:')
_TRAILING_COMMA = re.compile(rb',[ \t\r\n]*[\]}]')
_BACKSLASHES_QUOTE = re.compile(rb'(\\+)"')
_CHUNK = 1 << 17  # 128 KiB chunks: measured fastest here (1 MiB ones about 1.5x slower)
# Everything up to the next "{" outside a string: strings are skipped whole (with their escapes).
_TO_BRACE = re.compile(rb'(?:"(?:[^"\\]|\\.)*"|[^"{])*\{', re.S)
_OPTIONS = frozenset({"split", "on_error"})


@dataclass(frozen=True)
class Scan:
    """What :func:`scan` found in a file's bytes."""

    kind: str
    """``'jsonl'`` or ``'json'`` (a top-level array)."""
    key_tokens: int
    """Occurrences of ``":`` whose quote is not escaped (the keys; see the module docstring)."""
    quotes: int
    """Occurrences of ``"`` not escaped: twice the number of strings, keys included."""
    n_lines: int
    """Lines in the file (the last one counted when it lacks a newline)."""
    record_lines: list[int] | None
    """For a JSON array: the line of every ``{`` outside strings, in order; ``None`` for JSONL."""


def eligible(format_name: str, path: Path, options: dict[str, Any]) -> str | None:
    """The container kind (``'jsonl'`` / ``'json'``) when the SQL fast path may be tried for this
    import, else ``None``: the ProcessBench format, an uncompressed JSONL file or JSON array, and no
    option but ``split`` / ``on_error`` (others, e.g. ``records``, take the Python reader)."""
    if format_name != "processbench" or not set(options) <= _OPTIONS:
        return None
    try:
        c = sniff(path)
    except (ImportFailed, OSError):  # the Python reader reports whatever is wrong with the file
        return None
    if c.compression is not None or c.records_path:
        return None
    if c.kind == "jsonl" or (c.kind == "json" and c.shape == "array"):
        return c.kind
    return None


def scan(path: Path, kind: str) -> Scan | None:
    """Read the file's bytes once; ``None`` when the fast path cannot vouch for it (a key spelled
    with blanks before its colon, or a JSON array whose records cannot be located). JSON Lines are
    mapped, not copied (the big files); a JSON array is read whole (its records are located by a
    regex loop)."""
    if kind == "json" or path.stat().st_size == 0:  # (an empty file cannot be mapped)
        return _scan(path.read_bytes(), kind) if kind == "json" else None
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return _scan(data, kind)


def _scan(data: bytes | mmap.mmap, kind: str) -> Scan | None:
    counted = _counts(data)
    if counted is None:
        return None
    keys, quotes, newlines, comma = counted
    if comma and _trailing_comma(data, kind):
        return None
    n_lines = newlines + (0 if data[-1:] == b"\n" else 1)
    if not isinstance(data, bytes):
        return Scan(kind, keys, quotes, n_lines, None)
    lines: list[int] = []
    pos, line = 0, 1
    while (m := _TO_BRACE.match(data, pos)) is not None:
        end = m.end()
        line += data.count(b"\n", pos, end)
        lines.append(line)
        pos = end
    return Scan(kind, keys, quotes, n_lines, lines)


def _trailing_comma(data: bytes | mmap.mmap, kind: str) -> bool:
    """Whether the file may hold a trailing comma (``["a",]``), which DuckDB accepts and the
    Python reader reports as malformed JSON: ``json`` parses every JSON Lines record with a comma
    before a closing bracket (mostly text such as LaTeX's ``{,}``), or a JSON array whole."""
    try:
        if kind == "json":
            json.loads(data[:])
            return False
        starts = {data.rfind(b"\n", 0, m.start()) + 1 for m in _TRAILING_COMMA.finditer(data)}
        for start in starts:
            end = data.find(b"\n", start)
            json.loads(data[start:end if end >= 0 else len(data)])
    except ValueError:  # UnicodeDecodeError included
        return True
    return False


def _counts(data: bytes | mmap.mmap) -> tuple[int, int, int, bool] | None:
    """``(key_tokens, quotes, newlines, comma_before_bracket)`` of the file, or ``None`` when a
    key may be written with blanks before its colon. ``comma_before_bracket``: a comma before
    ``]`` or ``}`` (blanks between), outside or inside a string. One pass in chunks (numpy
    compares bytes several times faster than a regex scans them); the rare files with a backslash
    before a quote, a blank before a colon, or a comma or blank before a closing bracket are
    settled exactly by a regex over the whole file."""
    a = np.frombuffer(data, np.uint8)
    keys = quotes = newlines = 0
    backslash_quote = blank_colon = False
    closing_after = False
    for lo in range(0, len(a), _CHUNK):
        c = a[lo:lo + _CHUNK + 1]  # one byte of overlap: a pair starting in this chunk is counted here
        own = min(_CHUNK, len(a) - lo)
        q = c == 0x22
        colon = c == 0x3A
        quotes += int(np.count_nonzero(q[:own]))
        newlines += int(np.count_nonzero(c[:own] == 0x0A))
        keys += int(np.count_nonzero(q[:-1] & colon[1:]))
        if not backslash_quote:
            backslash_quote = bool(np.any((c[:-1] == 0x5C) & q[1:]))
        if not blank_colon:
            blank_colon = bool(np.any((c[:-1] <= 0x20) & colon[1:]))  # JSON's blanks and other controls
        if not closing_after:  # a comma or a blank before "]" or "}"
            closing = (c[1:] == 0x5D) | (c[1:] == 0x7D)
            closing_after = bool(np.any(((c[:-1] == 0x2C) | (c[:-1] <= 0x20)) & closing))
    if blank_colon and _SPACED_COLON.search(data):
        return None
    if backslash_quote:  # a quote after an odd run of backslashes is escaped: it ends no string
        ends = [m.end() for m in _BACKSLASHES_QUOTE.finditer(data) if len(m.group(1)) % 2]
        quotes -= len(ends)
        keys -= sum(1 for e in ends if data[e:e + 1] == b":")
    return keys, quotes, newlines, closing_after and _TRAILING_COMMA.search(data) is not None
