"""The container layer (prm_viewer.formats.containers): sniffing, sampling, streaming with column
projection, and errors that name the file, the line/row and the field."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prm_viewer.errors import ImportFailed
from prm_viewer.formats import get_format
from prm_viewer.formats.containers import Container, read_sample, records, sniff, table_columns
from prm_viewer.model import TraceRecord
from tests.conftest import TEST_DATA

D = TEST_DATA


def _tsv_from_csv(tmp_path: Path) -> Path:
    """The generic CSV sample rewritten with tabs (same cells, multi-line ones included)."""
    with open(D / "generic" / "valid.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    out = tmp_path / "valid.tsv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter="\t").writerows(rows)
    return out


def _json_object(tmp_path: Path) -> Path:
    """The first ProcessBench sample record as one pretty-printed JSON object."""
    first = json.loads((D / "processbench" / "valid.json").read_text())[0]
    out = tmp_path / "one.json"
    out.write_text(json.dumps(first, indent=2))
    return out


@pytest.mark.parametrize(("path", "kind", "shape", "unit"), [
    (D / "processbench" / "valid.json", "json", "array", "line"),
    (D / "processbench" / "valid.jsonl", "jsonl", None, "line"),
    (D / "generic" / "valid.jsonl", "jsonl", None, "line"),
    (D / "generic" / "valid.csv", "csv", None, "row"),
    (D / "generic" / "valid.parquet", "parquet", None, "row"),
    (D / "trl-stepwise" / "valid.parquet", "parquet", None, "row"),
    (D / "processbench" / "bad_empty.jsonl", "empty", None, "line"),
    (D / "processbench" / "bad_wrong_format.txt", "unknown", None, "line"),
], ids=lambda v: v.name if isinstance(v, Path) else None)
def test_sniff_real_samples(path: Path, kind: str, shape: str | None, unit: str) -> None:
    c = sniff(path)
    assert (c.kind, c.shape, c.unit) == (kind, shape, unit)
    assert read_sample(path).kind == kind


def test_sniff_tsv_and_json_object(tmp_path: Path) -> None:
    tsv = sniff(_tsv_from_csv(tmp_path))
    assert (tsv.kind, tsv.delimiter, tsv.unit) == ("tsv", "\t", "row")
    obj = sniff(_json_object(tmp_path))
    assert (obj.kind, obj.shape) == ("json", "object")
    # TSV rows read exactly as the CSV's; the object is one record at line 1.
    assert [r for _, r in records(tsv)] == [r for _, r in records(D / "generic" / "valid.csv")]
    assert [(n, r["id"]) for n, r in records(obj)] == [(1, "pb-0")]


def test_forced_kind_and_delimiter(tmp_path: Path) -> None:
    semi = tmp_path / "semi.txt"
    semi.write_text("q;s\nWhat?;a|b\n", encoding="utf-8")
    assert sniff(semi).kind == "unknown"
    c = sniff(semi, "csv", ";")
    assert (c.kind, c.delimiter) == ("csv", ";")
    assert list(records(c)) == [(1, {"q": "What?", "s": "a|b"})]
    with pytest.raises(ValueError, match="unknown container kind"):
        sniff(semi, "xml")


def test_every_record_of_each_container(tmp_path: Path) -> None:
    json_recs = list(records(D / "processbench" / "valid.json"))
    jsonl_recs = list(records(D / "processbench" / "valid.jsonl"))
    assert [r for _, r in json_recs] == [r for _, r in jsonl_recs]
    assert [n for n, _ in jsonl_recs] == [1, 2, 3]
    assert [n for n, _ in json_recs] == sorted({n for n, _ in json_recs}) and json_recs[0][0] > 1  # start lines
    parquet = list(records(D / "trl-stepwise" / "valid.parquet"))
    assert [n for n, _ in parquet] == [1, 2, 3]
    assert set(parquet[0][1]) == {"prompt", "completions", "labels"}
    assert isinstance(parquet[0][1]["labels"][0], bool)


@pytest.mark.parametrize("path", [D / "generic" / "valid.parquet", D / "generic" / "valid.csv"],
                         ids=lambda p: p.suffix)
def test_column_projection(path: Path) -> None:
    cols = table_columns(path)
    want = cols[1:3]
    full = list(records(path))
    projected = list(records(path, want))
    assert [set(r) for _, r in projected] == [set(want)] * len(full)
    assert [(n, {k: r[k] for k in want}) for n, r in full] == projected


def test_parquet_projection_reads_only_those_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []
    real = pq.ParquetFile.iter_batches

    def spy(self: pq.ParquetFile, *args: object, **kwargs: object) -> object:
        asked.append(kwargs.get("columns"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    list(records(D / "generic" / "valid.parquet", ["problem"]))
    assert asked == [["problem"]]


def test_projection_of_a_missing_column() -> None:
    with pytest.raises(ImportFailed, match=r"valid.parquet, field 'nope': column not in the file; its columns: problem, trace"):
        list(records(D / "generic" / "valid.parquet", ["problem", "nope"]))
    with pytest.raises(ImportFailed, match=r"valid.csv, field 'nope': mapped column not in the file; its columns: row_id"):
        list(records(D / "generic" / "valid.csv", ["nope"], column_label="mapped column"))
    with pytest.raises(ImportFailed, match=r"valid.jsonl, line 1, field 'nope': column missing from this record"):
        list(records(D / "processbench" / "valid.jsonl", ["nope"]))


def test_malformed_line_names_file_and_line() -> None:
    path = D / "processbench" / "bad_malformed_line.jsonl"
    it = records(path)
    assert next(it)[0] == 1  # the good first line streams before the bad one is read
    with pytest.raises(ImportFailed) as info:
        next(it)
    err = info.value
    assert (err.path, err.line, err.unit) == (str(path), 2, "line")
    assert str(err).startswith(f"{path}, line 2: malformed JSON (Expecting property name")


@pytest.mark.parametrize(("path", "pattern"), [
    (D / "processbench" / "bad_truncated.json", r"bad_truncated.json, line \d+: malformed or truncated JSON"),
    (D / "processbench" / "bad_utf8.jsonl", r"bad_utf8.jsonl, line 2: not valid UTF-8"),
    (D / "generic" / "bad_row_width.csv", r"bad_row_width.csv, row 2: 5 fields where the header has 11"),
    (D / "processbench" / "bad_empty.jsonl", r"bad_empty.jsonl: the file is empty"),
], ids=lambda v: v.name if isinstance(v, Path) else None)
def test_errors_name_the_line_or_row(path: Path, pattern: str) -> None:
    with pytest.raises(ImportFailed, match=pattern):
        list(records(path))


def test_table_errors_count_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'q,s\nA,"[""a""]"\nB,"[""b\xe9""]"\n')
    with pytest.raises(ImportFailed, match=r"bad.csv, row 2: not valid UTF-8") as info:
        list(records(bad))
    assert (info.value.line, info.value.unit) == (2, "row")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes((D / "trl-stepwise" / "valid.parquet").read_bytes()[:-40])
    with pytest.raises(ImportFailed, match=r"cut.parquet: not a readable Parquet file \("):
        list(records(cut))


def test_json_records_must_be_objects(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[{"a": 1},\n [1, 2]]')
    with pytest.raises(ImportFailed, match=r"a.json, line 2: expected a JSON object, found list"):
        list(records(path))
    sample = read_sample(path)  # the sample passes over non-objects
    assert sample.records == [{"a": 1}] and sample.error is None


def test_sample_keeps_what_parses_and_the_error() -> None:
    s = read_sample(D / "processbench" / "bad_truncated.jsonl")
    assert len(s.records) == 2 and s.error is not None and s.error.line == 3
    assert read_sample(D / "generic" / "valid.parquet", n=2).records == [r for _, r in records(D / "generic" / "valid.parquet")][:2]
    assert read_sample(D / "processbench" / "bad_wrong_format.txt").records == []


def test_container_is_a_value() -> None:
    c = sniff(D / "generic" / "valid.csv")
    assert c == Container(path=D / "generic" / "valid.csv", kind="csv", shape=None, delimiter=",")
    assert c.is_table and not sniff(D / "processbench" / "valid.json").is_table


def test_formats_read_the_containers_they_declare(tmp_path: Path) -> None:
    """ProcessBench as Parquet (as the hub exports it) reads as its JSON does; a format whose
    files are JSON says so for a Parquet file instead of failing on its bytes."""
    raw = json.loads((D / "processbench" / "valid.json").read_text())
    path = tmp_path / "gsm8k.parquet"
    pq.write_table(pa.Table.from_pylist(raw), path)
    pb = get_format("processbench")
    got = [r for r in pb.read(path, {}) if isinstance(r, TraceRecord)]
    want = [r for r in pb.read(D / "processbench" / "valid.json", {}) if isinstance(r, TraceRecord)]
    assert [(r.source_id, r.steps, r.gold_first_error) for r in got] == [(r.source_id, r.steps, r.gold_first_error)
                                                                          for r in want]
    assert [r.line for r in got] == [1, 2, 3] and pb.record_unit(path) == "row"
    with pytest.raises(ImportFailed, match=r"gsm8k.parquet: the format bbm reads JSONL / JSON files, not Parquet"):
        list(get_format("bbm").read(path, {}))
