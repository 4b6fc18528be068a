"""Streaming CSV / TSV: a header row, then one record per row (cells are text).

Rows are counted from 1 after the header, blank rows skipped ("row N" in messages). Decoding is
strict UTF-8 (a leading BOM dropped), one line at a time, so a bad byte names its row; a row
whose width differs from the header's fails (a truncated row or an unquoted delimiter).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Generator, Iterator, Sequence
from typing import Any, BinaryIO

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers.sniff import Container, open_bytes


def _decoded_lines(fh: BinaryIO) -> Iterator[str]:
    """Strictly decoded text lines (newlines kept, as csv expects), a UTF-8 BOM dropped."""
    first = True
    for raw in fh:
        if first:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
            first = False
        yield raw.decode("utf-8")


def _rows(c: Container) -> Generator[tuple[int, list[str]], None, None]:
    """``(0, header)`` then ``(row, cells)`` for each non-blank data row, width-checked."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long steps exceed csv's 128 KiB default
    p = str(c.path)
    row_no = 0
    try:
        with open_bytes(c.path) as fh:
            reader = csv.reader(_decoded_lines(fh), delimiter=c.delimiter, strict=True)
            head = next(reader, None)
            if not head:
                raise ImportFailed(p, None, None, "no header row")
            yield 0, head
            width = len(head)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                row_no += 1
                if len(row) != width:
                    raise ImportFailed(p, row_no, None, f"{len(row)} fields where the header has {width} "
                                       "(truncated row or unquoted delimiter?)", unit="row")
                yield row_no, row
    except UnicodeDecodeError as exc:
        # Lines are decoded one at a time as the reader asks for them: the failing one belongs to
        # the row being read.
        raise ImportFailed(p, row_no + 1, None, f"not valid UTF-8 (byte {exc.start} of its line)", unit="row") from None
    except csv.Error as exc:
        raise ImportFailed(p, row_no + 1, None, f"malformed CSV ({exc})", unit="row") from None


def header(c: Container) -> list[str]:
    """The column names (the first row)."""
    rows = _rows(c)
    try:
        return next(rows)[1]
    finally:
        rows.close()


def iter_rows(c: Container, columns: Sequence[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row, {column: cell})``; only ``columns`` when given (each must be in the header:
    the caller checks them first against :func:`header`)."""
    rows = _rows(c)
    _, head = next(rows)
    index = [(name, head.index(name)) for name in (columns if columns is not None else head)]
    for row_no, row in rows:
        yield row_no, {name: row[i] for name, i in index}
