"""Annotated exports: CSV / Parquet per step or per trace, and ProcessBench-shaped JSONL.

Rows stream from DuckDB to the file with COPY (no Python list of rows, whatever the size).
CSV is safe to open in a spreadsheet: a text cell that starts with ``= + - @``, a tab or a
carriage return gets a leading ``'`` so it is not run as a formula; numeric columns (scores,
indices, labels) stay numbers. Parquet and JSONL keep text verbatim.

A selection is one or more datasets (names or ids; ``None`` = all) plus optional ``filters``:
``trace_ids`` (e.g. the Explorer's current rows) and the keys of
``queries.EXPORT_FILTERS`` (split, category, generator, error_type, ...).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from prm_viewer import queries
from prm_viewer.errors import PrmViewerError
from prm_viewer.store import Store

DatasetRefs = str | Sequence[str] | None
"""One dataset (name or id), several, or ``None`` for every dataset."""


@dataclass(frozen=True)
class Layout:
    """A row layout: what one output row is."""

    name: str
    build: Callable[..., tuple[str, list[Any]]]
    """``(store, dataset_ids, filters, csv_safe, gold=..., annotators=...) -> (sql, params)``."""


def _processbench(store: Store, ids: Sequence[str] | None, filters: Mapping[str, Any] | None,
                  csv_safe: bool, gold: str = "gold", annotators: Sequence[str] = ()) -> tuple[str, list[Any]]:
    if gold != "gold":
        return queries.label_processbench_sql(gold, ids, filters)
    return queries.export_processbench_sql(ids, filters)


LAYOUTS: dict[str, Layout] = {
    "step": Layout("step", queries.export_steps_sql),
    "trace": Layout("trace", queries.export_traces_sql),
    "processbench": Layout("processbench", _processbench),
}


@dataclass(frozen=True)
class OutputFormat:
    """A file format: the layout it forces (if any) and whether text cells need CSV neutralising."""

    name: str
    suffix: str
    mime: str
    csv_safe: bool = False
    layout: str | None = None
    """Set when the format has one fixed shape (JSONL is always ProcessBench records)."""


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "csv": OutputFormat("csv", ".csv", "text/csv", csv_safe=True),
    "parquet": OutputFormat("parquet", ".parquet", "application/vnd.apache.parquet"),
    "jsonl": OutputFormat("jsonl", ".jsonl", "application/x-ndjson", layout="processbench"),
}


def _format(fmt: str) -> OutputFormat:
    try:
        return OUTPUT_FORMATS[fmt]
    except KeyError:
        raise PrmViewerError(f"unknown export format '{fmt}'; choose one of {', '.join(OUTPUT_FORMATS)}") from None


def _layout(out: OutputFormat, per: str) -> Layout:
    name = out.layout or per
    if name not in LAYOUTS or (out.layout is None and name == "processbench"):
        raise PrmViewerError(f"unknown export row kind '{per}'; choose 'step' or 'trace'")
    return LAYOUTS[name]


def _dataset_ids(store: Store, datasets: DatasetRefs) -> list[str] | None:
    if datasets is None:
        return None
    refs = [datasets] if isinstance(datasets, str) else list(datasets)
    return [store.resolve_dataset(ref)["dataset_id"] for ref in refs]


def _query(store: Store, datasets: DatasetRefs, out: OutputFormat, per: str,
           filters: Mapping[str, Any] | None, gold: str = "gold", annotators: Sequence[str] = ()) -> tuple[str, list[Any]]:
    gold = queries.check_gold(store, gold)
    for name in annotators:
        queries.check_gold(store, f"annotator:{name}")
    return _layout(out, per).build(store, _dataset_ids(store, datasets), filters, out.csv_safe, gold=gold,
                                   annotators=list(annotators))


def export_to_path(store: Store, datasets: DatasetRefs, fmt: str, output_path: str | Path, per: str = "step",
                   filters: Mapping[str, Any] | None = None, gold: str = "gold",
                   annotators: Sequence[str] = ()) -> int:
    """Write a selection to ``output_path``; returns the number of rows written. ``gold``: the
    gold source (``queries.gold``) of the gold columns; ``annotators``: one label column each.

    The file appears complete or not at all (written beside it, then renamed).
    """
    out = _format(fmt)
    sql, params = _query(store, datasets, out, per, filters, gold, annotators)
    return write_query(store, sql, params, output_path, out.suffix, out.name)


def write_query(store: Store, sql: str, params: list[Any], output_path: str | Path, suffix: str, fmt: str) -> int:
    """Stream a query to ``output_path`` (``fmt``: a key of ``queries.COPY_OPTIONS``), complete
    or not at all; returns the number of rows."""
    target = Path(output_path)
    if target.is_dir():
        raise PrmViewerError(f"{target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise PrmViewerError(f"cannot write {target}: the folder {target.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        n = queries.copy_query(store, sql, params, tmp, fmt)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def export_dataset(store: Store, dataset_ref: DatasetRefs, fmt: str, output_path: str | Path, per: str = "step",
                   filters: Mapping[str, Any] | None = None) -> int:
    """Export one dataset (or several / all, see :data:`DatasetRefs`) to a file; returns rows
    written. ``fmt``: csv | parquet | jsonl (ProcessBench records, one per trace, ``per`` ignored)."""
    return export_to_path(store, dataset_ref, fmt, output_path, per=per, filters=filters)


def export_bytes(store: Store, datasets: DatasetRefs, fmt: str, per: str = "step",
                 filters: Mapping[str, Any] | None = None, gold: str = "gold", annotators: Sequence[str] = ()) -> bytes:
    """The same export as bytes, for a download button (e.g. the Export page's current filter)."""
    return _written_bytes(_format(fmt).suffix, lambda path: export_to_path(
        store, datasets, fmt, path, per=per, filters=filters, gold=gold, annotators=annotators))


def _written_bytes(suffix: str, write: Callable[[Path], object]) -> bytes:
    """What ``write(path)`` writes to a temporary file ending in ``suffix``, as bytes (the file
    writers go through DuckDB's COPY, which needs a path)."""
    with tempfile.TemporaryDirectory(prefix="prm_viewer_export_") as tmp:
        path = Path(tmp) / f"export{suffix}"
        write(path)
        return path.read_bytes()


def export_frame(store: Store, datasets: DatasetRefs, per: str = "step", filters: Mapping[str, Any] | None = None,
                 limit: int | None = 1000, gold: str = "gold", annotators: Sequence[str] = ()) -> pd.DataFrame:
    """The rows an export would write (Parquet columns, text verbatim), for previews."""
    sql, params = _query(store, datasets, OUTPUT_FORMATS["parquet"], per, filters, gold, annotators)
    return queries.query_frame(store, sql, params, limit=limit)


def file_name(datasets: DatasetRefs, fmt: str, per: str = "step") -> str:
    """A download file name for a selection, e.g. ``gsm8k_steps.csv``."""
    out = _format(fmt)
    base = datasets if isinstance(datasets, str) else "selection"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in base) or "export"
    kind = "processbench" if out.layout else f"{per}s"
    return f"{safe}_{kind}{out.suffix}"


# --------------------------------------------------------------------------- training data from labels

LABEL_FORMATS: dict[str, tuple[str, str]] = {
    "trl-stepwise": (".jsonl", "TRL stepwise supervision: prompt, completions, labels (PRMTrainer)"),
    "processbench": (".jsonl", "ProcessBench JSONL: the first error as label"),
    "prm800k": (".jsonl", "PRM800K-like raw records: per-step ratings"),
    "csv": (".csv", "CSV, one row per step, one label / note column per annotator"),
}
"""Training-data formats of :func:`export_labels` (``queries.label_export`` has their rules)."""


def export_labels(store: Store, datasets: DatasetRefs, fmt: str, output_path: str | Path, gold: str = "gold",
                  annotators: Sequence[str] | None = None, filters: Mapping[str, Any] | None = None) -> int:
    """Write step labels under the gold source ``gold`` as training data (``fmt`` in
    :data:`LABEL_FORMATS`); ``annotators`` (csv: default every annotator of the selection).
    Returns the number of rows (records) written."""
    if fmt not in LABEL_FORMATS:
        raise PrmViewerError(f"unknown label export format '{fmt}'; choose one of {', '.join(LABEL_FORMATS)}")
    gold = queries.check_gold(store, gold)
    ids = _dataset_ids(store, datasets)
    if fmt == "csv":
        scopes: list[str | None] = list(ids) if ids is not None else [None]
        names = list(annotators) if annotators is not None else sorted(
            {n for d in scopes for n in queries.label_annotators(store, d)})
        for name in names:
            queries.check_gold(store, f"annotator:{name}")
        sql, params = queries.label_csv_sql(gold, ids, filters, names)
        return write_query(store, sql, params, output_path, ".csv", "csv")
    build = {"trl-stepwise": queries.label_trl_sql, "processbench": queries.label_processbench_sql,
             "prm800k": queries.label_prm800k_sql}[fmt]
    sql, params = build(gold, ids, filters)
    return write_query(store, sql, params, output_path, ".jsonl", "jsonl")


def export_labels_bytes(store: Store, datasets: DatasetRefs, fmt: str, gold: str = "gold",
                        annotators: Sequence[str] | None = None) -> bytes:
    """:func:`export_labels` as bytes, for a download button (the Labelling page)."""
    suffix = LABEL_FORMATS[fmt][0] if fmt in LABEL_FORMATS else ".out"
    return _written_bytes(suffix, lambda path: export_labels(store, datasets, fmt, path, gold=gold,
                                                             annotators=annotators))
