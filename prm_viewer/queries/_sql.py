"""SQL fragments shared by the query modules (not part of the public API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from prm_viewer.errors import PrmViewerError

RunRef = tuple[str, str, "str | None"]
"""A run: ``(label, dataset_id, generator or None)``: a dataset, optionally narrowed to one generator."""

RUN_TRACES = ("traces tr JOIN runs r\n"
              "            ON tr.dataset_id = r.dataset_id AND (r.generator IS NULL OR tr.generator = r.generator)")
"""The traces of the runs of :func:`runs_cte` (``tr``: the trace, ``r.run``: its run's label)."""


def runs_cte(runs: Sequence[RunRef]) -> tuple[str, list[Any]]:
    """A ``runs(run, dataset_id, generator)`` CTE (one VALUES row per run) and its parameters."""
    if not runs:
        raise PrmViewerError("no run selected")
    rows = ", ".join("(?, ?, ?)" for _ in runs)
    params: list[Any] = []
    for label, dataset_id, generator in runs:
        params += [str(label), str(dataset_id), generator]
    return f"runs(run, dataset_id, generator) AS (SELECT * FROM (VALUES {rows}) v(run, dataset_id, generator))", params


def frame(cur: Any) -> pd.DataFrame:
    """Result as a DataFrame through Arrow (several times faster than ``.df()`` on 100k rows)."""
    fetch = getattr(cur, "to_arrow_table", None) or getattr(cur, "fetch_arrow_table")
    return fetch().to_pandas()


def ident(name: str) -> str:
    """A quoted SQL identifier (e.g. a column named after a scorer)."""
    return '"' + name.replace('"', '""') + '"'


def in_list(column: str, values: Sequence[str], clauses: list[str], params: list[Any]) -> None:
    """Add ``column IN (values)`` to ``clauses`` when ``values`` is not empty."""
    if values:
        clauses.append(f"{column} IN (SELECT unnest(?::VARCHAR[]))")
        params.append([str(v) for v in values])


def row_dict(cur: Any, row: tuple[Any, ...] | None) -> dict[str, Any] | None:
    """A fetched row as ``{column: value}`` (None stays None)."""
    return dict(zip([d[0] for d in cur.description], row)) if row is not None else None


def one_trace(alias: str, trace_id: str) -> tuple[str, list[Any]]:
    """A WHERE condition picking one trace by id in ``traces`` aliased ``alias``, and its
    parameters. Every writer forms a trace id as ``<dataset_id>-<ordinal>``, so the ordinal is
    added as a second, redundant condition: the traces table has no index (schema migration 7),
    and an integer condition lets DuckDB skip every row group whose ordinals are elsewhere
    (BENCHMARKS.md, "Import": 30 ms -> 6 ms for one trace among 1M)."""
    prefix = f"{alias}." if alias else ""
    head, sep, tail = trace_id.rpartition("-")
    if sep and head and tail.isdigit() and tail == str(int(tail)) and int(tail) < 2**31:
        return f"{prefix}trace_id = ? AND {prefix}ordinal = ?", [trace_id, int(tail)]
    return f"{prefix}trace_id = ?", [trace_id]
