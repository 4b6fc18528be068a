"""The job-folder contract (``prm_viewer/jobfolder.py``): versioned records round-trip, a newer
folder fails clearly, a legacy (unversioned) folder reads as v1, writes are atomic, and every
producer of step results emits exactly ``STEP_RESULT_SCHEMA``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prm_viewer import jobfolder as jf
from prm_viewer.errors import PrmViewerError
from prm_viewer.jobfolder import CONTRACT_VERSION, STEP_RESULT_SCHEMA, JobSpec, Progress, ScorePayload, Status

SCORER = {"recipe": "verifier", "checkpoint": None, "backend": "exact", "device": "auto", "dtype": "auto"}


def _spec(job_id: str = "j-abc") -> JobSpec:
    return JobSpec(job_id=job_id, payload=ScorePayload(scorer_id="s-1", dataset_id="d-1", scorer=dict(SCORER),
                                                       shard_traces=7))


def _inputs() -> pa.Table:
    return pa.table({"trace_id": ["d-1-0", "d-1-1"], "problem": ["p", "q"], "steps": [["a", "b"], ["c"]],
                     "reference_answer": [None, "3"]})


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_spec_progress_status_round_trip(tmp_path: Path) -> None:
    jf.create(tmp_path, _spec(), _inputs())
    spec = jf.read_spec(tmp_path)
    assert spec.kind == "score" and spec.version == CONTRACT_VERSION and spec.created_at is not None
    assert spec.payload == _spec().payload and spec.job_id == "j-abc"
    raw = json.loads((tmp_path / jf.SPEC_FILE).read_text())
    assert raw["version"] == CONTRACT_VERSION and raw["kind"] == "score" and raw["score"]["scorer_id"] == "s-1"
    assert jf.read_inputs(tmp_path).equals(_inputs())

    assert jf.read_progress(tmp_path) is None and jf.read_status(tmp_path) is None
    prog = Progress(state="running", pid=12, traces_total=2, traces_done=1, steps_done=2, tokens_per_s=3.5,
                    eta_s=1.0, backend="transformers", device="cuda", dtype="bfloat16", prefix_sharing=True)
    jf.write_progress(tmp_path, prog)
    back = jf.read_progress(tmp_path)
    assert back == prog and back is not None and back.updated_at is not None
    jf.write_status(tmp_path, Status(state="done", device="cuda", dtype="bfloat16"))
    st = jf.read_status(tmp_path)
    assert st is not None and (st.state, st.error, st.device, st.dtype) == ("done", None, "cuda", "bfloat16")
    assert st.finished_at is not None and st.version == CONTRACT_VERSION
    jf.clear_status(tmp_path)
    assert jf.read_status(tmp_path) is None

    assert not jf.cancel_requested(tmp_path)
    jf.request_cancel(tmp_path)
    assert jf.cancel_requested(tmp_path)
    jf.clear_cancel(tmp_path)
    assert not jf.cancel_requested(tmp_path)


@pytest.mark.parametrize("name", [jf.SPEC_FILE, jf.PROGRESS_FILE, jf.STATUS_FILE])
def test_newer_folder_fails_with_a_clear_message(tmp_path: Path, name: str) -> None:
    jf.create(tmp_path, _spec(), _inputs())
    jf.write_progress(tmp_path, Progress())
    jf.write_status(tmp_path, Status(state="done"))
    d = json.loads((tmp_path / name).read_text())
    d["version"] = 3
    (tmp_path / name).write_text(json.dumps(d))
    reader = {jf.SPEC_FILE: jf.read_spec, jf.PROGRESS_FILE: jf.read_progress, jf.STATUS_FILE: jf.read_status}[name]
    with pytest.raises(PrmViewerError) as err:
        reader(tmp_path)
    assert str(err.value) == (f"job folder {tmp_path} was written by a newer prm_viewer (contract v3; "
                              f"this one reads up to v{CONTRACT_VERSION}): upgrade prm_viewer")


def test_unknown_kind_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / jf.SPEC_FILE).write_text(json.dumps({"version": 1, "kind": "train", "job_id": "j", "train": {}}))
    with pytest.raises(PrmViewerError, match="'train' job, which this prm_viewer cannot run"):
        jf.read_spec(tmp_path)


def test_legacy_folder_reads_as_v1(tmp_path: Path) -> None:
    """A folder written before the contract was versioned (today's flat spec, no version keys)."""
    (tmp_path / jf.SPEC_FILE).write_text(json.dumps({
        "job_id": "j-old", "scorer_id": "s-9", "dataset_id": "d-9", "scorer": SCORER, "shard_traces": 4}))
    (tmp_path / jf.PROGRESS_FILE).write_text(json.dumps({
        "state": "running", "pid": 5, "traces_total": 10, "traces_done": 4, "steps_done": 9, "tokens_per_s": None,
        "eta_s": None, "device": "cpu", "dtype": "float32", "prefix_sharing": None, "updated_at": 1.0}))
    (tmp_path / jf.STATUS_FILE).write_text(json.dumps({"state": "failed", "error": "boom"}))
    legacy_shard = pa.table({"scorer_id": ["s-9"], "trace_id": ["d-9-0"], "step_idx": pa.array([0], pa.int32()),
                             "score": [0.5], "raw": [0.1], "note": pa.nulls(1, pa.string())})
    (tmp_path / jf.SHARDS_DIR).mkdir()
    pq.write_table(legacy_shard, tmp_path / jf.SHARDS_DIR / "00000.parquet")

    spec = jf.read_spec(tmp_path)
    assert spec.version == 1 and spec.kind == "score" and spec.job_id == "j-old" and spec.created_at is None
    assert spec.payload == ScorePayload(scorer_id="s-9", dataset_id="d-9", scorer=SCORER, shard_traces=4)
    prog = jf.read_progress(tmp_path)
    assert prog is not None and prog.version == 1 and (prog.traces_done, prog.device) == (4, "cpu")
    st = jf.read_status(tmp_path)
    assert st is not None and st.version == 1 and (st.state, st.error) == ("failed", "boom")
    assert jf.done_trace_ids(tmp_path) == {"d-9-0"}
    [(name, table)] = list(jf.iter_shards(tmp_path))
    assert name == "00000.parquet" and table.schema == STEP_RESULT_SCHEMA


def test_atomic_writes_leave_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jf.create(tmp_path, _spec(), _inputs())
    jf.write_progress(tmp_path, Progress())
    jf.write_status(tmp_path, Status(state="done"))
    shard = jf.write_shard(tmp_path, jf.empty_step_results())
    jf.write_shard(tmp_path, jf.empty_step_results())
    assert _files(tmp_path) == sorted([jf.SPEC_FILE, jf.TRACES_FILE, jf.PROGRESS_FILE, jf.STATUS_FILE,
                                       f"{jf.SHARDS_DIR}/00000.parquet", f"{jf.SHARDS_DIR}/00001.parquet"])
    assert shard.name == "00000.parquet" and [p.name for p in jf.shard_paths(tmp_path)] == ["00000.parquet", "00001.parquet"]

    # a write that fails midway leaves the old file whole and no temporary behind
    before = (tmp_path / jf.PROGRESS_FILE).read_text()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        jf.write_progress(tmp_path, Progress(state="running"))
    with pytest.raises(OSError):
        jf.write_shard(tmp_path, jf.empty_step_results())
    monkeypatch.undo()
    assert (tmp_path / jf.PROGRESS_FILE).read_text() == before
    assert not [p for p in tmp_path.rglob("*") if jf.is_temp(p)]
    assert len(jf.shard_paths(tmp_path)) == 2

    # a writer killed between write and rename leaves a temporary: readers ignore it, clean_temp removes it
    (tmp_path / jf.SHARDS_DIR / ".00002.parquet.123.tmp").write_bytes(b"half a shard")
    assert len(jf.shard_paths(tmp_path)) == 2
    jf.clean_temp(tmp_path)
    assert not [p for p in tmp_path.rglob("*") if jf.is_temp(p)]


def test_one_worker_per_folder(tmp_path: Path) -> None:
    first = jf.try_lock(tmp_path)
    assert first is not None
    if sys.platform != "win32":
        assert jf.try_lock(tmp_path) is None
    first.close()
    again = jf.try_lock(tmp_path)
    assert again is not None
    again.close()


def test_step_results_have_the_one_schema(tmp_path: Path) -> None:
    """Engine output, LM-recipe results and worker shards: exactly STEP_RESULT_SCHEMA."""
    from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
    from prm_viewer.scoring.recipes import TraceInput
    from prm_viewer.scoring.recipes.lm_results import TraceResult, results_table
    from prm_viewer.scoring.worker import run_job

    engine = load_engine(ScorerSpec(recipe="verifier", backend="exact"), scorer_id="s-x")
    out = score_traces(engine, [TraceInput("t-0", "What is 2 + 3?", ["2 + 3 = 5.", "The answer is 5."])])
    assert out.schema == STEP_RESULT_SCHEMA and out.num_rows == 2
    assert set(out.column("scorer_id").to_pylist()) == {"s-x"}
    bare = score_traces(load_engine(ScorerSpec(recipe="verifier", backend="exact")), [TraceInput("t-1", "p", ["s"])])
    assert bare.schema == STEP_RESULT_SCHEMA

    lm = results_table([TraceResult("t-0", [0.5, None], [1.0, float("nan")], [None, "why"])])
    assert lm.schema == STEP_RESULT_SCHEMA and lm.column("raw").to_pylist() == [1.0, None]

    # a real (in-process) worker run over a score folder: shards have exactly the schema
    jf.create(tmp_path, JobSpec(job_id="j-x", payload=ScorePayload(
        scorer_id="s-x", dataset_id="d", scorer=ScorerSpec(recipe="verifier", backend="exact").to_dict(),
        shard_traces=1)), _inputs())
    assert run_job(tmp_path) == 0
    shards = jf.shard_paths(tmp_path)
    assert len(shards) == 2
    for p in shards:
        assert pq.read_schema(p).remove_metadata() == STEP_RESULT_SCHEMA
    st, prog = jf.read_status(tmp_path), jf.read_progress(tmp_path)
    assert st is not None and st.state == "done" and (st.device, st.dtype) == ("cpu", "float64")
    assert prog is not None and (prog.device, prog.dtype, prog.traces_done) == ("cpu", "float64", 2)
    # resuming a finished folder scores nothing twice
    assert run_job(tmp_path) == 0 and len(jf.shard_paths(tmp_path)) == 2
