"""The import pipeline: detection report, overrides, skips, progress, scorers, CLI output."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from prm_viewer.errors import PrmViewerError
from prm_viewer.formats import detect_format, read_sample
from prm_viewer.ingest import import_file
from prm_viewer.store import Store
from tests.conftest import ROOT, TEST_DATA, snapshot


def test_report_counts_detection_and_skips(store: Store) -> None:
    rep = import_file(store, TEST_DATA / "prm800k" / "valid.jsonl")
    assert rep.format == "prm800k"
    # 5 sessions: 2 skipped (quality control, bad_problem); 3 traces of 4 + 3 + 1 steps
    assert (rep.traces, rep.steps) == (3, 8)
    # labelled: session 1 (first error -1) and 2 (first error 2) have a gold first error; session 5
    # has step labels (rating +1 on its one step) although its first error is unknown.
    assert rep.labelled_traces == 3
    assert [(s.line, s.reason) for s in rep.skipped] == [(3, "quality-control question"), (4, "bad_problem")]
    text = rep.summary()
    assert "format prm800k" in text and "3 traces, 8 steps, 3 labelled traces" in text
    assert "skipped 1 (quality-control question), 1 (bad_problem)" in text
    row = store.resolve_dataset(rep.name)
    assert (row["n_traces"], row["n_steps"], row["n_labelled"], row["format"]) == (3, 8, 3, "prm800k")


def test_user_override_of_the_format(store: Store, tmp_path: Path) -> None:
    # A ProcessBench-shaped file read through the generic importer with a 1-based label.
    path = TEST_DATA / "processbench" / "valid.jsonl"
    assert detect_format(path).name == "processbench"
    rep = import_file(store, path, fmt="generic", options={
        "map": {"problem": "problem", "steps": "steps", "first_error": "label", "id": "id"},
        "first_error_base": "1", "no_error": "-1,0"})
    assert rep.format == "generic"
    firsts = [r[0] for r in store.cursor().execute(
        "SELECT gold_first_error FROM traces WHERE dataset_id = ? ORDER BY ordinal", [rep.dataset_id]).fetchall()]
    # labels -1, 0, 1 read as 1-based with "-1" and "0" meaning none: -1, -1, 0
    assert firsts == [-1, -1, 0]


def test_unknown_format_name_lists_the_known_ones(store: Store) -> None:
    with pytest.raises(PrmViewerError, match=r"unknown format 'pb'; known formats: bbm, generic, gsm8k-solutions"):
        import_file(store, TEST_DATA / "processbench" / "valid.jsonl", fmt="pb")


def test_progress_is_reported_per_batch(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prm_viewer import ingest

    monkeypatch.setattr(ingest, "BATCH_STEPS", 4)
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"id": i, "problem": f"P{i}", "steps": ["a", "b", "c"], "label": -1}) + "\n"
                            for i in range(5)))
    seen: list[int] = []
    rep = import_file(store, path, progress=seen.append)
    assert rep.traces == 5 and seen == sorted(seen) and seen[-1] == 5 and len(seen) >= 3
    # Batches are contiguous: every trace has its 3 steps, ordinals 0..4.
    rows = store.cursor().execute(
        "SELECT ordinal, n_steps, (SELECT count(*) FROM steps s WHERE s.trace_id = t.trace_id) FROM traces t ORDER BY 1"
    ).fetchall()
    assert rows == [(i, 3, 3) for i in range(5)]


def test_file_with_only_skipped_records_fails_cleanly(store: Store, tmp_path: Path) -> None:
    lines = (TEST_DATA / "prm800k" / "valid.jsonl").read_text().splitlines()
    path = tmp_path / "skips.jsonl"
    path.write_text(lines[2] + "\n" + lines[3] + "\n")
    before = snapshot(store)
    with pytest.raises(PrmViewerError, match=r"skips.jsonl: no traces found \(2 records skipped: quality-control"):
        import_file(store, path)
    assert snapshot(store) == before


def test_cli_import_success_and_idempotence(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "prm_viewer", "--db", str(db), "import", str(TEST_DATA / "generic" / "valid.csv"),
           "--format", "generic", "--map", "problem=question", "--map", "steps=solution",
           "--map", "scores.ext_prm=prm_scores", "--map", "first_error=first_error_step",
           "--option", "split_rule=blankline", "--option", "first_error_base=1", "--option", "no_error=N/A",
           "--dataset", "mine", "--tag", "process_reward=with"]
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "as dataset 'mine' (format generic): 3 traces, 8 steps, 3 labelled traces, scores from ext_prm" in first.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert again.returncode == 0 and "was already imported as dataset 'mine'" in again.stdout
    with Store(db) as s:
        ds = s.resolve_dataset("mine")
        assert json.loads(ds["tags"]) == {"process_reward": "with"}
        assert json.loads(ds["options"])["map"]["steps"] == "solution"
        assert s.cursor().execute("SELECT count(*) FROM step_scores").fetchone()[0] == 8


def test_cli_skipped_lines_are_listed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "prm_viewer", "--db", str(tmp_path / "d.duckdb"), "import",
                           str(TEST_DATA / "prm800k" / "valid.jsonl")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skipped line 3: quality-control question" in proc.stdout
    assert "skipped line 4: bad_problem" in proc.stdout


def test_sample_reading_tolerates_a_bad_tail() -> None:
    sample = read_sample(TEST_DATA / "processbench" / "bad_truncated.jsonl")
    assert len(sample.records) == 2 and sample.error is not None
    assert detect_format(TEST_DATA / "processbench" / "bad_truncated.jsonl").name == "processbench"


# ------------------------------------------------------------------ concurrent uploads (issue 12, item 2)


class _SlowUpload(io.BytesIO):
    """An upload whose chunks arrive slowly, so two uploads interleave their writes."""

    def read(self, size: int | None = -1) -> bytes:
        time.sleep(0.01)
        return super().read(min(size or 4096, 4096) if size and size > 0 else 4096)


def test_concurrent_uploads_with_the_same_name(tmp_path: Path) -> None:
    from prm_viewer.ui.upload import save_upload

    a = b"".join(json.dumps({"problem": f"a{i}", "steps": ["x"], "label": -1}).encode() + b"\n" for i in range(400))
    b = b"".join(json.dumps({"problem": f"b{i}", "steps": ["y"], "label": -1}).encode() + b"\n" for i in range(300))
    results: dict[str, Path] = {}
    errors: list[BaseException] = []

    def upload(key: str, data: bytes) -> None:
        try:
            results[key] = save_upload(_SlowUpload(data), "runs.jsonl", tmp_path)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(k, d)) for k, d in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results["a"].read_bytes() == a and results["b"].read_bytes() == b
    for key, data in (("a", a), ("b", b)):
        assert results[key].name == hashlib.sha256(data).hexdigest()[:12] + "-runs.jsonl"
    assert not list(tmp_path.glob(".partial-*"))


def test_a_kept_file_whose_content_does_not_match_is_replaced(tmp_path: Path) -> None:
    from prm_viewer.ui.upload import save_upload

    data = b'{"problem": "p", "steps": ["s"], "label": -1}\n'
    corrupt = tmp_path / (hashlib.sha256(data).hexdigest()[:12] + "-runs.jsonl")
    corrupt.write_bytes(b"half of another upload")
    kept = save_upload(io.BytesIO(data), "runs.jsonl", tmp_path)
    assert kept == corrupt and kept.read_bytes() == data


@pytest.mark.parametrize("field, record", [
    ("steps", {"id": "a", "generator": "g", "problem": "p", "steps": ["ok", "s\\ud800"], "final_answer_correct": True, "label": -1}),
    ("problem", {"id": "a", "generator": "g", "problem": "p\\udc00", "steps": ["s"], "final_answer_correct": True, "label": -1}),
])
def test_lone_surrogate_escape_is_a_one_line_error(store: Store, tmp_path: Path, field: str, record: dict) -> None:
    """JSON's "\\ud800" escape decodes to a lone surrogate, which has no UTF-8 form: it used to
    crash the import in Arrow with a traceback; now it names the file, line and field."""
    good = {"id": "b", "generator": "g", "problem": "q", "steps": ["x"], "final_answer_correct": True, "label": -1}
    path = tmp_path / "sur.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(record).replace("\\\\u", "\\u") + "\n", encoding="utf-8")
    assert "\\ud" in path.read_text(encoding="utf-8") or "\\udc" in path.read_text(encoding="utf-8")
    before = snapshot(store)
    with pytest.raises(PrmViewerError) as err:
        import_file(store, path, "processbench")
    assert str(err.value) == (f"{path}, line 2, field '{field}': text with an unpaired surrogate escape "
                              "(\\ud800-\\udfff), which is not a character and cannot be stored")
    assert snapshot(store) == before
