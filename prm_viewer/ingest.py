"""Import a file into the store: detect the format, stream records, validate, write in batches.

One import is one transaction: all of the file or none of it. Re-importing the same content with
the same format and options is a no-op that says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from prm_viewer.errors import ImportFailed, PrmViewerError
from prm_viewer import settings
from prm_viewer.formats import detect_format, get_format, hub, read_sample
from prm_viewer.formats import fast_json
from prm_viewer.formats.base import Format, fail, validate
from prm_viewer.formats.processbench import split_from_name
from prm_viewer.jobfolder import as_step_results
from prm_viewer.model import MAX_LISTED, ImportReport, Skip, TraceRecord
from prm_viewer.store import Store, dataset_key, file_sha256, problem_key
from prm_viewer.store.fast_json import FastImport

BATCH_STEPS = 100_000

TRACE_SCHEMA = pa.schema(
    [
        ("ordinal", pa.int32()),
        ("source_line", pa.int32()),
        ("source_id", pa.string()),
        ("problem_id", pa.string()),
        ("problem", pa.string()),
        ("reference_answer", pa.string()),
        ("source_problem_id", pa.string()),
        ("generator", pa.string()),
        ("final_answer", pa.string()),
        ("final_answer_correct", pa.bool_()),
        ("gold_first_error", pa.int32()),
        ("error_type", pa.string()),
        ("category", pa.string()),
        ("split", pa.string()),
        ("n_steps", pa.int32()),
        ("has_step_labels", pa.bool_()),
        ("metadata", pa.string()),
    ]
)
STEP_SCHEMA = pa.schema([("ordinal", pa.int32()), ("step_idx", pa.int32()), ("text", pa.string()), ("gold_label", pa.int8())])


def imported_scorer_id(name: str) -> str:
    """Scores that came with a file form a scorer named by the user; its id follows the name."""
    return "imp-" + hashlib.sha256(name.encode()).hexdigest()[:12]


class _Batch:
    """Column buffers for one batch of traces and their steps."""

    def __init__(self) -> None:
        self.t: dict[str, list[Any]] = {f.name: [] for f in TRACE_SCHEMA}
        self.s_ord: list[int] = []
        self.s_idx: list[int] = []
        self.s_text: list[str] = []
        self.s_label: list[int | None] = []
        self.scores: dict[str, tuple[list[int], list[int], list[float | None]]] = {}

    def add(self, ordinal: int, rec: TraceRecord) -> None:
        t = self.t
        n = len(rec.steps)
        t["ordinal"].append(ordinal)
        t["source_line"].append(rec.line)
        t["source_id"].append(rec.source_id)
        t["problem_id"].append(problem_key(rec.problem))
        t["problem"].append(rec.problem)
        t["reference_answer"].append(rec.reference_answer)
        t["source_problem_id"].append(rec.problem_id)
        t["generator"].append(rec.generator)
        t["final_answer"].append(rec.final_answer)
        t["final_answer_correct"].append(rec.final_answer_correct)
        t["gold_first_error"].append(rec.gold_first_error)
        t["error_type"].append(rec.error_type)
        t["category"].append(rec.category)
        t["split"].append(rec.split)
        t["n_steps"].append(n)
        t["has_step_labels"].append(rec.step_labels is not None and any(x is not None for x in rec.step_labels))
        t["metadata"].append(json.dumps(rec.metadata, ensure_ascii=False, default=str) if rec.metadata else None)
        self.s_ord.extend([ordinal] * n)
        self.s_idx.extend(range(n))
        self.s_text.extend(rec.steps)
        self.s_label.extend(rec.step_labels if rec.step_labels is not None else [None] * n)
        if rec.step_scores:
            for name, values in rec.step_scores.items():
                o, i, v = self.scores.setdefault(name, ([], [], []))
                o.extend([ordinal] * n)
                i.extend(range(n))
                v.extend(values)

    @property
    def n_steps(self) -> int:
        return len(self.s_idx)

    def tables(self) -> tuple[pa.Table, pa.Table]:
        traces = pa.table(self.t, schema=TRACE_SCHEMA)
        steps = pa.table(
            {"ordinal": self.s_ord, "step_idx": self.s_idx, "text": self.s_text, "gold_label": self.s_label},
            schema=STEP_SCHEMA,
        )
        return traces, steps


def import_file(
    store: Store,
    path: str | Path,
    fmt: str | Format | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    tags: dict[str, str] | None = None,
    synthetic: bool = False,
    progress: Callable[[int], None] | None = None,
    fast: bool = True,
) -> ImportReport:
    """Import one file; raises a :class:`PrmViewerError` (store unchanged) on bad input.

    ``fast``: let the SQL fast path take a ProcessBench JSON/JSONL file that it finds valid (the
    stored rows are the same; ``False`` forces the Python reader, for comparisons)."""
    options = dict(options or {})
    path = hub.resolve(path, settings.upload_dir(store.path) / "hub")
    if not path.exists():
        raise ImportFailed(str(path), None, None, "no such file")
    if path.is_dir():
        raise ImportFailed(str(path), None, None, "is a folder, not a file")
    if path.stat().st_size == 0:
        raise ImportFailed(str(path), None, None, "the file is empty")
    # A Format object (not a registry name) lets internal readers such as the demo's use the
    # same import path without joining the registry that upload detection tries.
    records_path = str(options["records"]) if options.get("records") else None
    format_ = (fmt if isinstance(fmt, Format) else get_format(fmt) if fmt
               else detect_format(path, read_sample(path, records_path=records_path)))
    started = time.perf_counter()
    fhash = file_sha256(path)
    did = dataset_key(fhash, format_.name, options)
    existing = store.dataset_by_hash(did)
    if existing is not None:
        return ImportReport(dataset_id=did, name=existing["name"], format=format_.name, path=str(path),
                            traces=existing["n_traces"], steps=existing["n_steps"],
                            labelled_traces=existing["n_labelled"], already_present=True)
    report = ImportReport(dataset_id=did, name="", format=format_.name, path=str(path))
    skip_bad = _on_error(path, options)
    with _fast_stage(store, format_, path, options, enabled=fast) as staged:
        if staged is not None:  # DuckDB parsed and SQL validated the whole file: write it in SQL
            with store.transaction():
                report.name = store.unique_dataset_name(name or path.stem)
                store.insert_dataset({
                    "dataset_id": did, "name": report.name, "format": format_.name, "source_path": str(path),
                    "file_hash": fhash, "options": options, "tags": tags or {}, "synthetic": synthetic,
                })
                staged.write(did, options.get("split") or split_from_name(path), BATCH_STEPS, progress)
                report.traces, report.steps, report.labelled_traces = store.finish_dataset(did)
                store.save_import_report(did, report.to_json())
            report.seconds = time.perf_counter() - started
            return report
    seen: dict[str, int] = {}
    unit = format_.record_unit(path, options)
    names = format_.source_fields(options)
    id_field = names.get("id", "id")
    with store.transaction() as cur:  # every write below joins it: all of the file or none of it
        report.name = store.unique_dataset_name(name or path.stem)
        store.insert_dataset({
            "dataset_id": did, "name": report.name, "format": format_.name, "source_path": str(path),
            "file_hash": fhash, "options": options, "tags": tags or {}, "synthetic": synthetic,
        })
        batch = _Batch()
        scorer_names: set[str] = set()
        ordinal = 0
        writer = _BackgroundWriter(store, cur, did)
        try:
            for item in format_.read(path, options):
                if isinstance(item, Skip):
                    if item.invalid and not skip_bad:
                        raise fail(path, item.line, item.field, item.reason, item.unit)
                    report.skipped.append(item)
                    continue
                try:
                    validate(path, item, unit, names)
                    first = seen.get(item.source_id)
                    if first is not None:
                        raise fail(path, item.line, id_field, f"duplicate id '{item.source_id}' (first on {unit} {first})",
                                   unit)
                except ImportFailed as exc:
                    if not skip_bad:
                        raise
                    report.skipped.append(Skip(item.line, exc.message, exc.field, invalid=True, unit=exc.unit))
                    continue
                seen[item.source_id] = item.line
                if item.notes:
                    _note(report, item, unit)
                batch.add(ordinal, item)
                ordinal += 1
                if item.step_scores:
                    scorer_names.update(item.step_scores)
                if batch.n_steps >= BATCH_STEPS:
                    writer.submit(batch)
                    batch = _Batch()
                    if progress:
                        progress(ordinal)
            if ordinal == 0:
                why = f" ({len(report.skipped)} records skipped: {report.skipped[0].reason})" if report.skipped else ""
                raise ImportFailed(str(path), None, None, f"no traces found{why}")
            writer.submit(batch)
            writer.wait()
            if progress:
                progress(ordinal)
        finally:
            writer.close()  # the in-flight batch finishes before the transaction commits or rolls back
        report.traces, report.steps, report.labelled_traces = store.finish_dataset(did)
        report.scorers = sorted(scorer_names)
        store.save_import_report(did, report.to_json())
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _fast_stage(store: Store, format_: Format, path: Path, options: dict[str, Any],
                enabled: bool = True) -> Iterator[FastImport | None]:
    """The file staged by the SQL fast path when it may take it and finds nothing wrong (see
    :mod:`prm_viewer.store.fast_json`), else ``None``: the Python reader imports it and reports
    the first problem in today's words."""
    kind = fast_json.eligible(format_.name, path, options) if enabled else None
    if kind is None:
        yield None
        return
    if kind == "jsonl":  # the byte scan runs while DuckDB parses (its record lines are not needed)
        with ThreadPoolExecutor(1, thread_name_prefix="prm-scan") as pool:
            pending = pool.submit(fast_json.scan, path, kind)
            with FastImport(store, path, kind, None) as fast:
                scan = pending.result()
                ok = scan is not None and fast.check(scan.key_tokens, scan.n_lines, scan.quotes)
                yield fast if ok else None
        return
    scan = fast_json.scan(path, kind)
    if scan is None:
        yield None
        return
    with FastImport(store, path, scan.kind, scan.record_lines) as fast:
        yield fast if fast.check(scan.key_tokens, None, scan.quotes) else None


def fast_path_applies(store: Store, path: str | Path, fmt: str = "processbench",
                      options: dict[str, Any] | None = None) -> bool:
    """Whether :func:`import_file` would take this file through the SQL fast path (nothing is
    written)."""
    with _fast_stage(store, get_format(fmt), Path(path), dict(options or {})) as staged:
        return staged is not None


def preview(path: str | Path, fmt: str | Format, options: dict[str, Any], n: int = 3) -> list[TraceRecord | Skip]:
    """The first ``n`` traces as the import would read them (nothing is written); invalid records
    among them come back as invalid :class:`Skip` items."""
    format_ = fmt if isinstance(fmt, Format) else get_format(fmt)
    out: list[TraceRecord | Skip] = []
    for item in format_.read(Path(path), dict(options)):
        out.append(item)
        if sum(1 for x in out if isinstance(x, TraceRecord)) >= n or len(out) >= 10 * n:
            break
    return out


def _on_error(path: Path, options: dict[str, Any]) -> bool:
    """True when ``on_error=skip``: invalid records are skipped and listed, not fatal."""
    mode = str(options.get("on_error", "fail")).strip().lower()
    if mode not in {"skip", "fail"}:
        raise ImportFailed(str(path), None, "on_error", f"expected skip or fail, got '{mode}'")
    return mode == "skip"


def _note(report: ImportReport, item: TraceRecord, unit: str) -> None:
    for note in item.notes or ():
        report.notes[note.reason] = report.notes.get(note.reason, 0) + note.count
        if len(report.warnings) < MAX_LISTED:
            report.warnings.append(Skip(item.line, note.reason, note.field, unit=unit))


class _BackgroundWriter:
    """Writes batch N in a worker thread while the reader parses batch N+1.

    DuckDB releases the GIL while it inserts, so reading (Python) and writing (DuckDB) overlap on
    two cores. At most one batch is in flight (memory stays bounded) and the transaction's cursor
    is used by one thread at a time: the reader never touches it while a batch is in flight. The
    writer thread joins the import's transaction (``Store.joined``), so its writes are part of it.
    """

    def __init__(self, store: Store, cur: duckdb.DuckDBPyConnection, did: str) -> None:
        self._args = (store, cur, did)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prm-import-writer")
        self._pending: Future[None] | None = None

    def submit(self, batch: _Batch) -> None:
        # Arrow conversion needs the GIL, so it runs here; the worker only runs DuckDB (GIL released).
        tables = batch.tables() if batch.t["ordinal"] else None
        self.wait()
        store, cur, did = self._args
        self._pending = self._pool.submit(_flush_joined, store, cur, did, batch, tables)

    def wait(self) -> None:
        """Block until the in-flight batch is written; re-raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for the in-flight batch without raising (an error is already on its way)."""
        if self._pending is not None:
            self._pending.exception()
        self._pool.shutdown(wait=True)


def _flush_joined(store: Store, cur: duckdb.DuckDBPyConnection, did: str, batch: _Batch,
                  tables: tuple[pa.Table, pa.Table] | None) -> None:
    """:func:`_flush` in the writer thread, inside the import's transaction (whose cursor is ``cur``)."""
    with store.joined(cur):
        _flush(store, did, batch, tables)


def _flush(store: Store, did: str, batch: _Batch, tables: tuple[pa.Table, pa.Table] | None) -> None:
    """Write one batch: its traces and steps, and the step scores that came with the file (each
    score column is an imported scorer; its rows get the one step-result schema)."""
    if tables is None:
        return
    traces, steps = tables
    store.append_batch(did, traces, steps)
    for sname, (ords, idxs, vals) in batch.scores.items():
        sid = imported_scorer_id(sname)
        existing = store.scorer_by_name(sname)
        if existing and existing["recipe"] != "imported":
            raise PrmViewerError(f"scores named '{sname}' clash with a model scorer of that name; rename the column")
        store.upsert_scorer({"scorer_id": sid, "name": sname, "recipe": "imported", "threshold": 0.5,
                             "options": {"source": "imported with a dataset"}})
        scores = pa.array(vals, pa.float64())
        rows = pa.table({"trace_id": [f"{did}-{o}" for o in ords], "step_idx": idxs, "score": scores, "raw": scores,
                         "note": pa.nulls(len(ords), pa.string())})
        store.insert_step_scores(as_step_results(rows, scorer_id=sid))
