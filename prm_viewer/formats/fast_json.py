"""The byte-level facts the SQL fast path of a ProcessBench import needs and DuckDB does not give.

DuckDB's ``read_json`` parses a ProcessBench file several times faster than the Python reader,
but it says neither on which line a record starts nor whether a record has keys beyond the
columns it was asked for. :func:`scan` reads the file's bytes once and tells both:

- ``key_tokens``: how many ``":`` the file holds whose quote is not escaped (not after an odd
  run of backslashes). In valid JSON such a quote ends a string, and one followed by ``:`` ends an
  object key, so when no key is written with blanks before its colon (checked), the count is the
  number of keys; equal to the known keys DuckDB found means no record has another key;
- the line each record starts on: for JSON Lines the record number, provided the file has exactly
  one non-blank line per record (the caller checks the count); for a JSON array, the line of each
  ``{`` outside strings, which (once SQL has checked that no value is an object) are exactly the
  records.

:func:`eligible` says when the fast path may be tried at all; anything it does not cover, and any
record that SQL finds wrong, goes through the Python reader, whose messages name file, line and
field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers import sniff

_SPACED_COLON = re.compile(rb'"[ \t\r\n]+:')
_BACKSLASHES_QUOTE_COLON = re.compile(rb'(\\+)":')
# Everything up to the next "{" outside a string: strings are skipped whole (with their escapes).
_TO_BRACE = re.compile(rb'(?:"(?:[^"\\]|\\.)*"|[^"{])*\{', re.S)
_OPTIONS = frozenset({"split", "on_error"})


@dataclass(frozen=True)
class Scan:
    """What :func:`scan` found in a file's bytes."""

    kind: str
    """``'jsonl'`` or ``'json'`` (a top-level array)."""
    key_tokens: int
    """Occurrences of ``":`` (an upper bound of the keys; see the module docstring)."""
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
    with blanks before its colon, or a JSON array whose records cannot be located)."""
    data = path.read_bytes()
    # Two searches and two counts in C over the whole file (together a fraction of the parse's
    # cost; one alternation regex would be several times slower): blanks before a colon, or a
    # backslash before a quote and a colon, are rare in a valid file.
    if _SPACED_COLON.search(data):
        return None
    keys = data.count(b'":')
    if b'\\":' in data:  # a quote escaped inside a string ends no key
        keys -= sum(1 for m in _BACKSLASHES_QUOTE_COLON.finditer(data) if len(m.group(1)) % 2)
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if kind == "jsonl":
        return Scan(kind, keys, n_lines, None)
    lines: list[int] = []
    pos, line = 0, 1
    while (m := _TO_BRACE.match(data, pos)) is not None:
        end = m.end()
        line += data.count(b"\n", pos, end)
        lines.append(line)
        pos = end
    return Scan(kind, keys, n_lines, lines)
