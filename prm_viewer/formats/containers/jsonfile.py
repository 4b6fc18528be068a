"""Streaming JSON Lines and JSON documents (a top-level array of records, or one object).

Both yield ``(line, value)``, ``line`` being the 1-based line on which the value starts, and
raise :class:`ImportFailed` naming the file and line of the first bad byte: memory stays bounded
whatever the file size (an array is decoded item by item, never loaded whole).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers.sniff import open_bytes

_CHUNK = 1 << 20

_fast_loads: Callable[[bytes], Any]
try:
    from orjson import loads as _fast_loads
except ImportError:  # orjson is in requirements.txt; the stdlib path is correct, only slower
    _fast_loads = json.loads


def _bad_utf8(path: Path, line: int, exc: UnicodeDecodeError) -> ImportFailed:
    return ImportFailed(str(path), line, None, f"not valid UTF-8 (byte {exc.start})")


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` for a JSON Lines file; a bad line raises with its number.

    Lines are parsed from bytes with orjson (several times faster than ``json``, and the import
    is benchmarked at 1M steps); a line orjson rejects is re-read with the standard library,
    which either accepts it (e.g. ``NaN``) or says exactly what is wrong.
    """
    with open_bytes(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = _fast_loads(raw)
            except ValueError:
                obj = _strict_loads(path, lineno, raw)
            yield lineno, obj


def _strict_loads(path: Path, lineno: int, raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_utf8(path, lineno, exc) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(str(path), lineno, None, f"malformed JSON ({exc.msg} at column {exc.colno})") from None


def iter_json_document(path: Path) -> Iterator[tuple[int, Any]]:
    """Stream the items of a top-level JSON array (or yield a single top-level object) without
    loading the file whole. Yields ``(line, item)``, line = where the item starts."""
    with open_bytes(path) as fh:
        yield from _ArrayReader(path, fh).items()


class _ArrayReader:
    """Incremental decoder of one JSON array: a text buffer refilled in 1 MiB chunks, with the
    current line tracked for messages and split multi-byte characters carried over."""

    def __init__(self, path: Path, fh: BinaryIO) -> None:
        self.path = path
        self.fh = fh
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.pending = b""

    def fail(self, line: int, message: str) -> ImportFailed:
        return ImportFailed(str(self.path), line, None, message)

    def fill(self) -> bool:
        """Append the next chunk to the buffer; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.fh.read(_CHUNK)
        if not chunk:
            self.eof = True
            if self.pending:
                raise self.fail(self.line, "not valid UTF-8 (truncated multi-byte character)")
            return False
        chunk = self.pending + chunk
        try:
            text = chunk.decode("utf-8")
            self.pending = b""
        except UnicodeDecodeError as exc:
            if exc.end >= len(chunk) - 3 and exc.reason == "unexpected end of data":
                text, self.pending = chunk[: exc.start].decode("utf-8"), chunk[exc.start:]
            else:
                bad_line = self.line + self.buf[self.pos:].count("\n") + chunk[: exc.start].count(b"\n")
                raise _bad_utf8(self.path, bad_line, exc) from None
        self.buf = self.buf[self.pos:] + text
        self.pos = 0
        return True

    def skip_ws(self) -> str:
        """The next non-blank character ("" at the end), counting the lines skipped."""
        while True:
            buf = self.buf
            while self.pos < len(buf) and buf[self.pos] in " \t\r\n":
                if buf[self.pos] == "\n":
                    self.line += 1
                self.pos += 1
            if self.pos < len(buf):
                return buf[self.pos]
            if not self.fill():
                return ""

    def items(self) -> Iterator[tuple[int, Any]]:
        first = self.skip_ws()
        if first == "{":
            yield self.line, self.whole_object()
            return
        if first != "[":
            raise self.fail(self.line, "expected a JSON array or object")
        decoder = json.JSONDecoder()
        self.pos += 1
        expect_item = True
        while True:
            ch = self.skip_ws()
            if ch == "":
                raise self.fail(self.line, "the file ends before the JSON array is closed (truncated?)")
            if ch == "]":
                break
            if ch == ",":
                if expect_item:
                    raise self.fail(self.line, "malformed JSON (unexpected ',')")
                self.pos += 1
                expect_item = True
                continue
            if not expect_item:
                raise self.fail(self.line, "malformed JSON (expected ',' or ']')")
            while True:
                try:
                    item, end = decoder.raw_decode(self.buf, self.pos)
                    break
                except json.JSONDecodeError as exc:
                    if not self.fill():
                        bad_line = self.line + self.buf.count("\n", self.pos, exc.pos)
                        raise self.fail(bad_line, f"malformed or truncated JSON ({exc.msg})") from None
            start_line = self.line
            self.line += self.buf.count("\n", self.pos, end)
            self.pos = end
            expect_item = False
            yield start_line, item
        if self.data_after(self.buf[self.pos + 1:]):
            raise self.fail(self.line, "unexpected data after the JSON array")

    def whole_object(self) -> Any:
        """A top-level object: one record, decoded whole."""
        rest = (self.pending + self.fh.read()) if not self.eof else b""
        try:
            text = rest.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = self.line + self.buf[self.pos:].count("\n") + rest[: exc.start].count(b"\n")
            raise _bad_utf8(self.path, bad_line, exc) from None
        try:
            return json.loads(self.buf[self.pos:] + text)
        except json.JSONDecodeError as exc:
            raise self.fail(self.line + exc.lineno - 1, f"malformed JSON ({exc.msg})") from None

    def data_after(self, rest: str) -> bool:
        """True when anything but whitespace follows the closing bracket."""
        if rest.strip():
            return True
        while chunk := self.fh.read(_CHUNK):
            if chunk.strip():
                return True
        return False
