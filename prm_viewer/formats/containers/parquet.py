"""Streaming Parquet in record batches, reading only the columns asked for.

Every Parquet file is opened here (:func:`open_parquet`): one place turns pyarrow's errors for a
truncated or corrupt file into ``not a readable Parquet file (...)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers.sniff import Container, first_line

if TYPE_CHECKING:
    import pyarrow.parquet as pq

BATCH_ROWS = 8192


def _unreadable(c: Container, exc: BaseException) -> ImportFailed:
    return ImportFailed(str(c.path), None, None, f"not a readable Parquet file ({first_line(exc)})")


def open_parquet(c: Container) -> pq.ParquetFile:
    """The file's metadata and reader; a file pyarrow cannot open raises :class:`ImportFailed`."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(c.path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid / ArrowIOError subclass these
        raise _unreadable(c, exc) from None


def columns(c: Container, opened: pq.ParquetFile | None = None) -> list[str]:
    """The top-level column names of the file's schema."""
    return list((opened if opened is not None else open_parquet(c)).schema_arrow.names)


def iter_rows(c: Container, columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS,
              opened: pq.ParquetFile | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row, record)`` (rows counted from 1); only ``columns`` are read when given.
    ``opened``: the file as :func:`open_parquet` returned it, when the caller has it already."""
    pf = opened if opened is not None else open_parquet(c)
    names = list(columns) if columns is not None else None
    row_no = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_rows, columns=names):
            cols = batch.schema.names
            values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            rows = zip(*values) if values else iter([()] * batch.num_rows)
            for row in rows:
                row_no += 1
                yield row_no, dict(zip(cols, row))
    except (OSError, ValueError) as exc:
        raise _unreadable(c, exc) from None
