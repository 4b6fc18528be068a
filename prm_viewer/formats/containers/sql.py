"""The DuckDB escape hatch: ``SELECT ... FROM src`` over a file, for any other shape.

``src`` is the file as DuckDB reads it (``read_json`` for JSON / JSONL, ``read_parquet``,
``read_csv``), compressed or not. The query runs on its own in-memory DuckDB connection (never the
store's: a user's SQL can read nothing but the file), and its result rows are streamed in Arrow
batches as records, counted from 1 ("row N" in messages), for the column-mapping importer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prm_viewer.errors import ImportFailed
from prm_viewer.formats.containers.sniff import Container, first_line

BATCH_ROWS = 8192


def source_sql(c: Container) -> str:
    """The DuckDB table function that reads the file as ``src``."""
    path = str(c.path).replace("'", "''")
    if c.kind == "parquet":
        return f"read_parquet('{path}')"
    if c.kind in ("csv", "tsv"):
        delim = c.delimiter.replace("'", "''")
        return f"read_csv('{path}', delim = '{delim}', header = true, all_varchar = true)"
    fmt = "newline_delimited" if c.kind in ("jsonl", "unknown") else "auto"
    compression = f", compression = '{c.compression}'" if c.compression else ""
    return f"read_json('{path}', format = '{fmt}'{compression}, maximum_object_size = 1073741824)"


def sql_records(c: Container, sql: str, columns: Sequence[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(row, record)`` for each result row of ``sql`` (which reads ``src``)."""
    import duckdb

    p = str(c.path)
    if c.kind == "json" and c.records_path:
        raise ImportFailed(p, None, "sql", "use either sql or records (unnest the list in the SQL instead)")
    con = duckdb.connect(":memory:")
    try:
        try:
            con.execute(f"CREATE VIEW src AS SELECT * FROM {source_sql(c)}")
            result = con.execute(sql)
            names = [d[0] for d in result.description or []]
        except duckdb.Error as exc:
            raise ImportFailed(p, None, "sql", f"the query failed: {first_line(exc)}") from None
        for col in columns or ():
            if col not in names:
                raise ImportFailed(p, None, col, f"mapped column not in the query's result; its columns: "
                                                 f"{', '.join(names[:30])}")
        reader = result.fetch_record_batch(BATCH_ROWS)
        n = 0
        try:
            for batch in reader:
                values = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                for row in zip(*values):
                    n += 1
                    yield n, dict(zip(names, row))
        except duckdb.Error as exc:
            raise ImportFailed(p, None, "sql", f"the query failed: {first_line(exc)}") from None
    finally:
        con.close()
