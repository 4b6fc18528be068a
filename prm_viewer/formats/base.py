"""The format contract, the registry, and streaming readers shared by importers.

A format is a small class with ``name``, ``detect(sample)`` and ``read(path, options)``.
``read`` yields :class:`~prm_viewer.model.TraceRecord` (or :class:`~prm_viewer.model.Skip`)
one at a time, so memory stays bounded whatever the file size. Validation that is the same for
every format (non-empty steps, first-error range, label lengths, duplicate ids) lives in
:func:`validate`, applied by the store's import, not in each importer.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from prm_viewer.errors import ImportFailed, UnknownFormat
from prm_viewer.model import Skip, TraceRecord

_CHUNK = 1 << 20


@dataclass
class Sample:
    """The first records of a file, for ``detect()`` and previews (read once, shared)."""

    path: Path
    kind: str
    """'jsonl', 'json' (array or single object), 'csv', 'parquet', 'empty' or 'unknown'."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """Up to ``n`` first records as dicts (JSON objects or table rows)."""
    error: ImportFailed | None = None
    """Why reading the sample stopped early (bad first line, corrupt table), if it did."""

    @property
    def keys(self) -> set[str]:
        """Keys present in the first record (empty when none)."""
        return set(self.records[0]) if self.records else set()


class Format:
    """Base class of an importer. Subclasses set ``name``/``label`` and implement two methods."""

    name: ClassVar[str] = ""
    """Registry key, used by ``--format``."""
    label: ClassVar[str] = ""
    """Human name shown in the UI."""
    generic: ClassVar[bool] = False
    """True for the column-mapping importer (never auto-detected without a mapping)."""

    def detect(self, sample: Sample) -> bool:
        """True when the sampled records look like this format."""
        raise NotImplementedError

    def read(self, path: Path, options: dict[str, Any]) -> Iterator[TraceRecord | Skip]:
        """Yield the file's traces in order, raising :class:`ImportFailed` on bad input."""
        raise NotImplementedError

    def record_unit(self, path: Path) -> str:
        """What ``TraceRecord.line`` counts in this file, for messages: 'line' or 'row' (tables)."""
        return "line"

    def source_fields(self, options: dict[str, Any]) -> dict[str, str]:
        """The file's own names for canonical fields (``first_error``, ``steps``, ``id``, ...), so
        shared validation errors name a field the user can find in the file."""
        return {}


FORMATS: dict[str, Format] = {}


def register(fmt: type[Format]) -> type[Format]:
    """Class decorator adding a format to the registry (plug-ins use it too)."""
    if not fmt.name:
        raise ValueError(f"{fmt.__name__} has no name")
    FORMATS[fmt.name] = fmt()
    return fmt


def get_format(name: str) -> Format:
    """Look a format up by name, with a clear error listing the known ones."""
    _load_builtin()
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormat(f"unknown format '{name}'; known formats: {', '.join(sorted(FORMATS))}") from None


def detect_format(path: Path, sample: Sample | None = None) -> Format:
    """The one format whose ``detect()`` accepts the file, or :class:`UnknownFormat`."""
    _load_builtin()
    sample = sample or read_sample(path)
    if sample.kind == "empty":
        raise ImportFailed(str(path), None, None, "the file is empty")
    tried = [f for f in FORMATS.values() if not f.generic]
    for fmt in tried:
        if fmt.detect(sample):
            return fmt
    if not sample.records and sample.error is not None:
        # Nothing parsed: the reason is the unreadable start of the file, not an unknown layout.
        raise sample.error
    keys = ", ".join(sorted(sample.keys)) or "none"
    raise UnknownFormat(
        f"{path}: no known format matches (tried {', '.join(f.name for f in tried)}; "
        f"first record keys: {keys}); choose one with --format, or map columns with --format generic --map ..."
    )


def _load_builtin() -> None:
    # Importing the package registers the built-in formats and entry-point plug-ins.
    import prm_viewer.formats  # noqa: F401


# --------------------------------------------------------------------------- reading helpers


def open_text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each non-blank line, decoding UTF-8 strictly."""
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportFailed(str(path), lineno, None, f"not valid UTF-8 (byte {exc.start})") from None
            if text.strip():
                yield lineno, text


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, object)`` for a JSON Lines file; a bad line raises with its number.

    Lines are parsed from bytes with orjson (several times faster than ``json``, and the import
    is benchmarked at 1M steps); a line orjson rejects is re-read with the standard library,
    which either accepts it (e.g. ``NaN``) or says exactly what is wrong.
    """
    with open(path, "rb") as fh:
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
        raise ImportFailed(str(path), lineno, None, f"not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(str(path), lineno, None, f"malformed JSON ({exc.msg} at column {exc.colno})") from None


try:
    from orjson import loads as _fast_loads
except ImportError:  # orjson is in requirements.txt; the stdlib path is correct, only slower
    _fast_loads = json.loads


def iter_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    """Stream the items of a top-level JSON array (or a single object) without loading it whole.

    Yields ``(line, item)`` where line is the 1-based line on which the item starts.
    """
    decoder = json.JSONDecoder()
    with open(path, "rb") as fh:
        buf = ""
        pos = 0
        line = 1
        eof = False
        pending = b""

        def fill() -> bool:
            nonlocal buf, pos, eof, pending
            if eof:
                return False
            chunk = fh.read(_CHUNK)
            if not chunk:
                eof = True
                if pending:
                    raise ImportFailed(str(path), line, None, "not valid UTF-8 (truncated multi-byte character)")
                return False
            chunk = pending + chunk
            try:
                text = chunk.decode("utf-8")
                pending = b""
            except UnicodeDecodeError as exc:
                if exc.end >= len(chunk) - 3 and exc.reason == "unexpected end of data":
                    text, pending = chunk[: exc.start].decode("utf-8"), chunk[exc.start :]
                else:
                    bad_line = line + buf[pos:].count("\n") + chunk[: exc.start].count(b"\n")
                    raise ImportFailed(str(path), bad_line, None, f"not valid UTF-8 (byte {exc.start})") from None
            buf = buf[pos:] + text
            pos = 0
            return True

        def skip_ws() -> str:
            nonlocal pos, line
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    if buf[pos] == "\n":
                        line += 1
                    pos += 1
                if pos < len(buf):
                    return buf[pos]
                if not fill():
                    return ""

        first = skip_ws()
        if first == "{":
            rest = (pending + fh.read()) if not eof else b""
            try:
                text = rest.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_line = line + buf[pos:].count("\n") + rest[: exc.start].count(b"\n")
                raise ImportFailed(str(path), bad_line, None, f"not valid UTF-8 (byte {exc.start})") from None
            try:
                obj = json.loads(buf[pos:] + text)
            except json.JSONDecodeError as exc:
                raise ImportFailed(str(path), line + exc.lineno - 1, None, f"malformed JSON ({exc.msg})") from None
            yield line, obj
            return
        if first != "[":
            raise ImportFailed(str(path), line, None, "expected a JSON array or object")
        pos += 1
        expect_item = True
        while True:
            ch = skip_ws()
            if ch == "":
                raise ImportFailed(str(path), line, None, "the file ends before the JSON array is closed (truncated?)")
            if ch == "]":
                break
            if ch == ",":
                if expect_item:
                    raise ImportFailed(str(path), line, None, "malformed JSON (unexpected ',')")
                pos += 1
                expect_item = True
                continue
            if not expect_item:
                raise ImportFailed(str(path), line, None, "malformed JSON (expected ',' or ']')")
            while True:
                try:
                    item, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as exc:
                    if not fill():
                        bad_line = line + buf.count("\n", pos, exc.pos)
                        raise ImportFailed(
                            str(path), bad_line, None, f"malformed or truncated JSON ({exc.msg})"
                        ) from None
            start_line = line
            line += buf.count("\n", pos, end)
            pos = end
            expect_item = False
            yield start_line, item
        if skip_ws_rest(fh, buf[pos + 1 :]):
            raise ImportFailed(str(path), line, None, "unexpected data after the JSON array")


def skip_ws_rest(fh: io.BufferedReader, rest: str) -> bool:
    """True when anything but whitespace follows the closing bracket."""
    if rest.strip():
        return True
    while chunk := fh.read(_CHUNK):
        if chunk.strip():
            return True
    return False


def iter_json_any(path: Path) -> Iterator[tuple[int, Any]]:
    """JSON Lines or a JSON array, told apart by the first non-blank character and line."""
    kind = sniff_kind(path)
    if kind == "json":
        return iter_json_array(path)
    if kind == "empty":
        raise ImportFailed(str(path), None, None, "the file is empty")
    return iter_jsonl(path)


def iter_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Like :func:`iter_json_any` but every record must be a JSON object."""
    for line, obj in iter_json_any(path):
        if not isinstance(obj, dict):
            raise ImportFailed(str(path), line, None, f"expected a JSON object, found {type(obj).__name__}")
        yield line, obj


def iter_parquet_rows(path: Path, batch_size: int = 8192) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(row, record)`` from a Parquet file in batches (rows counted from 1)."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        row = 0
        for batch in pf.iter_batches(batch_size=batch_size):
            for rec in batch.to_pylist():
                row += 1
                yield row, rec
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid / ArrowIOError subclass these
        raise ImportFailed(str(path), None, None, f"not a readable Parquet file ({_first_line(exc)})") from None


def sniff_kind(path: Path) -> str:
    """'jsonl', 'json', 'csv', 'parquet', 'empty' or 'unknown' from the extension and first bytes."""
    path = Path(path)
    if os.path.getsize(path) == 0:
        return "empty"
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if head[:4] == b"PAR1":
        return "parquet"
    stripped = head.lstrip()
    if not stripped:
        return "empty"
    suffix = path.suffix.lower()
    if stripped[:1] == b"[":
        return "json"
    if stripped[:1] == b"{":
        # One object per line (JSONL) unless the first object spans lines (pretty JSON object).
        first_line = stripped.split(b"\n", 1)[0].strip()
        try:
            json.loads(first_line)
            return "jsonl"
        except (json.JSONDecodeError, UnicodeDecodeError):
            return "json" if suffix == ".json" else "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    return "unknown"


def read_sample(path: Path, n: int = 5) -> Sample:
    """Read the first ``n`` records of any supported container, tolerating a bad tail."""
    path = Path(path)
    kind = sniff_kind(path)
    records: list[dict[str, Any]] = []
    error: ImportFailed | None = None
    try:
        if kind in {"jsonl", "json"}:
            for _, obj in iter_json_any(path):
                if isinstance(obj, dict):
                    records.append(obj)
                if len(records) >= n:
                    break
        elif kind == "csv":
            records = read_csv_head(path, n)
        elif kind == "parquet":
            import pyarrow.parquet as pq

            try:
                pf = pq.ParquetFile(path)
                if pf.metadata.num_rows:
                    records = next(pf.iter_batches(batch_size=n)).to_pylist()
            except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid/ArrowIOError subclass these
                raise ImportFailed(str(path), None, None, f"not a readable Parquet file ({_first_line(exc)})") from None
    except ImportFailed as exc:
        error = exc  # the full read reports the exact line; a sample only needs what parses
    except csv.Error as exc:
        error = ImportFailed(str(path), None, None, f"malformed CSV ({exc})")
    return Sample(path=path, kind=kind, records=records, error=error)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_csv_head(path: Path, n: int) -> list[dict[str, Any]]:
    """First ``n`` rows of a CSV/TSV as dicts."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        return [row for _, row in zip(range(n), reader)]


# --------------------------------------------------------------------------- typed field access


def need(path: Path, line: int, obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``obj[key]``, which must exist and be of ``kind``; else a one-line ImportFailed."""
    if key not in obj:
        raise ImportFailed(str(path), line, key, "missing field")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ImportFailed(str(path), line, key, f"expected {_kind_name(kind)}, found {_json_type(value)}")
    return value


def opt(path: Path, line: int, obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """Like :func:`need` but missing or null gives ``None``."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ImportFailed(str(path), line, key, f"expected {_kind_name(kind)}, found {_json_type(value)}")
    return value


def need_str_list(path: Path, line: int, obj: dict[str, Any], key: str) -> list[str]:
    """A required list of strings."""
    value = need(path, line, obj, key, list)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ImportFailed(str(path), line, f"{key}[{i}]", f"expected a string, found {_json_type(item)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {str: "a string", bool: "true/false", int: "an integer", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------- shared validation


def fail(path: Path | str, line: int | None, field: str | None, message: str, unit: str = "line") -> ImportFailed:
    """An :class:`ImportFailed` whose location reads ``row N`` (CSV/Parquet) when ``unit='row'``."""
    err = ImportFailed(str(path), line, field, message)
    if unit != "line" and line is not None:
        err.args = (str(err).replace(f"{err.path}, line {line}", f"{err.path}, {unit} {line}", 1),)
    return err


def validate(path: Path, rec: TraceRecord, unit: str = "line", names: dict[str, str] | None = None) -> None:
    """Checks every format needs; raises ImportFailed naming the line (or row) and field.

    ``names`` maps the canonical fields (problem, steps, first_error, step_labels, id, scores.X)
    to the source file's own names, so that messages name the field the user can find.
    """
    p = str(path)
    names = names or {}
    if not isinstance(rec.problem, str) or not rec.problem.strip():
        raise fail(p, rec.line, names.get("problem", "problem"), "empty problem text", unit)
    n = len(rec.steps)
    if n == 0:
        raise fail(p, rec.line, names.get("steps", "steps"), "empty step list", unit)
    g = rec.gold_first_error
    if g is not None and not (-1 <= g < n):
        raise fail(p, rec.line, names.get("first_error", "first_error"), f"first-error index {g} is out of range for {n} steps (0-based)", unit)
    if rec.step_labels is not None and len(rec.step_labels) != n:
        raise fail(p, rec.line, names.get("step_labels", "step_labels"), f"{len(rec.step_labels)} labels for {n} steps", unit)
    if rec.step_scores:
        for name, scores in rec.step_scores.items():
            if len(scores) != n:
                raise fail(p, rec.line, names.get(f"scores.{name}", f"scores.{name}"), f"{len(scores)} scores for {n} steps", unit)
            for s in scores:
                if s is not None and not (0.0 <= s <= 1.0):
                    raise fail(p, rec.line, names.get(f"scores.{name}", f"scores.{name}"), f"score {s} is outside [0, 1]", unit)


def first_error_from_labels(labels: list[int | None]) -> int | None:
    """Earliest step labelled -1; -1 when all labelled and none wrong; None when unknown."""
    for i, lab in enumerate(labels):
        if lab == -1:
            return i
    if labels and all(lab is not None for lab in labels):
        return -1
    return None


def options_from_cli(maps: list[tuple[str, str]], opts: list[tuple[str, str]]) -> dict[str, Any]:
    """Import options from ``--map key=column`` and ``--option key=value`` pairs.

    The mapping goes under ``options["map"]``; other options are top-level keys. Values stay
    strings here; each format parses its own options (and rejects unknown ones).
    """
    options: dict[str, Any] = {}
    if maps:
        options["map"] = dict(maps)
    options.update(dict(opts))
    return options


def check_options(path: Path, options: dict[str, Any], allowed: set[str]) -> None:
    """Reject option keys a format does not know (a typo must not be silently ignored)."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise ImportFailed(str(path), None, "options", f"unknown option(s) {', '.join(unknown)}; this format takes: {known}")
