"""The format registry as a whole: every format has samples, detection is exclusive, and every
format round-trips through a real DuckDB store."""

from __future__ import annotations

from pathlib import Path

import pytest

from prm_viewer.errors import UnknownFormat
from prm_viewer.formats import FORMATS, detect_format, get_format, read_sample
from prm_viewer.formats import _BUILTIN
from prm_viewer.ingest import import_file
from prm_viewer.model import Skip, TraceRecord
from prm_viewer.store import Store
from tests.formats.helpers import bad_samples, options_for, read_back, valid_samples

BUILTIN = [f.name for f in FORMATS.values() if type(f).__module__.rsplit(".", 1)[-1] in _BUILTIN]
SPECIFIC = [n for n in BUILTIN if not FORMATS[n].generic]
ALL_VALID = [(n, p) for n in BUILTIN for p in valid_samples(n)]


def test_builtin_registry_is_complete_and_ordered() -> None:
    assert set(BUILTIN) == {"processbench", "prmbench", "prm800k", "trl-stepwise", "math-shepherd", "bbm",
                            "gsm8k-solutions", "generic"}
    assert BUILTIN[-1] == "generic" and FORMATS["generic"].generic
    assert [n for n in BUILTIN if FORMATS[n].generic] == ["generic"]


@pytest.mark.parametrize("name", BUILTIN)
def test_every_format_has_valid_and_malformed_samples(name: str) -> None:
    assert valid_samples(name), f"tests/data/{name}/ has no valid sample"
    assert name == "processbench" or bad_samples(name), f"tests/data/{name}/ has no bad_* sample"


@pytest.mark.parametrize(("owner", "path"), ALL_VALID, ids=[f"{n}:{p.name}" for n, p in ALL_VALID])
def test_detection_is_exclusive(owner: str, path: Path) -> None:
    sample = read_sample(path)
    accepted = [n for n in SPECIFIC if FORMATS[n].detect(sample)]
    if FORMATS[owner].generic:
        # A file that needs a column mapping is claimed by no specific format.
        assert accepted == []
        with pytest.raises(UnknownFormat, match="no known format matches"):
            detect_format(path)
    else:
        assert accepted == [owner]
        assert detect_format(path).name == owner
    assert not FORMATS["generic"].detect(sample)


@pytest.mark.parametrize(("name", "path"), ALL_VALID, ids=[f"{n}:{p.name}" for n, p in ALL_VALID])
def test_round_trip_through_the_store(store: Store, name: str, path: Path) -> None:
    options = options_for(path)
    fmt = get_format(name)
    items = list(fmt.read(path, options))
    records = [r for r in items if isinstance(r, TraceRecord)]
    skips = [r for r in items if isinstance(r, Skip)]
    assert records, "a valid sample yields traces"
    report = import_file(store, path, fmt=name if FORMATS[name].generic else None, options=options)
    assert report.format == name
    assert (report.traces, report.steps) == (len(records), sum(len(r.steps) for r in records))
    assert report.labelled_traces == sum(
        1 for r in records if r.gold_first_error is not None or (r.step_labels and any(x is not None for x in r.step_labels)))
    assert [(s.line, s.reason) for s in report.skipped] == [(s.line, s.reason) for s in skips]
    stored = read_back(store, report.dataset_id)
    assert len(stored) == len(records)
    for rec, row in zip(records, stored):
        assert row["trace_id"] == f"{report.dataset_id}-{records.index(rec)}"
        assert row["source_line"] == rec.line and row["source_id"] == rec.source_id
        assert row["problem"] == rec.problem
        assert row["steps"] == rec.steps and row["n_steps"] == len(rec.steps)
        assert row["labels"] == (rec.step_labels or [None] * len(rec.steps))
        assert row["gold_first_error"] == rec.gold_first_error
        for key in ("generator", "final_answer", "final_answer_correct", "error_type", "category", "split"):
            assert row[key] == getattr(rec, key), key
        assert row["source_problem_id"] == rec.problem_id
        if rec.reference_answer is not None:
            assert row["reference_answer"] == rec.reference_answer
        assert row["metadata"] == rec.metadata
        assert row["scores"] == (rec.step_scores or {})
    # Identity is deterministic: the same file again is a no-op.
    again = import_file(store, path, fmt=name if FORMATS[name].generic else None, options=options)
    assert again.already_present and again.dataset_id == report.dataset_id
    assert store.cursor().execute("SELECT count(*) FROM traces").fetchone()[0] == len(records)
