"""Exports: CSV formula-injection safety, numeric columns, hand-computed aggregates, Parquet,
ProcessBench JSONL round trips (fixture, demo, real ProcessBench), selections and the CLI."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prm_viewer import export
from prm_viewer.cli import main
from prm_viewer.demo import load_demo
from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.ingest import import_file
from prm_viewer.store import Store

TRICKY_STEPS = [
    "-5 + 3 = -2",
    "=SUM(A1:A2)",
    "+1 more",
    "@mention",
    "\tindented",
    "\rcarriage",
    'plain, with a comma and "quotes"\nand a newline',
]
RECORDS = [
    {"id": "=1+1", "generator": "@evil", "problem": "Compute -5 + 3.", "steps": TRICKY_STEPS,
     "final_answer_correct": False, "label": 1},
    {"id": "pb-2", "generator": "m1", "problem": "A plain problem.", "steps": ["a", "b"],
     "final_answer_correct": True, "label": -1},
]
# Scorer A (threshold 0.5) scores every step; B (threshold 0.7) leaves step 1 of trace 0 unscored;
# C is a critic with only a trace-level prediction.
A = {0: [0.9, 0.4, 0.6, 0.3, 0.8, 0.7, 0.2], 1: [0.95, 0.85]}
B = {0: [0.8, None, 0.75, 0.65, 0.9, 0.9, 0.9], 1: [0.6, 0.99]}


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> tuple[Store, str]:
    src = tmp_path / "tricky.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    rep = import_file(store, src, name="tricky")
    did = rep.dataset_id
    for sid, name, thr, scores in (("sa", "scorer A", 0.5, A), ("sb", "=scorer B", 0.7, B)):
        store.upsert_scorer({"scorer_id": sid, "name": name, "recipe": "imported", "threshold": thr})
        rows = [(sid, f"{did}-{t}", i, s) for t, vals in scores.items() for i, s in enumerate(vals)]
        store.insert_step_scores(pa.table({
            "scorer_id": [r[0] for r in rows], "trace_id": [r[1] for r in rows], "step_idx": [r[2] for r in rows],
            "score": pa.array([r[3] for r in rows], pa.float64()), "raw": pa.array([r[3] for r in rows], pa.float64()),
            "note": pa.nulls(len(rows), pa.string()),
        }))
    store.upsert_scorer({"scorer_id": "sc", "name": "critic C", "recipe": "critic"})
    store.insert_trace_scores(pa.table({
        "scorer_id": ["sc"], "trace_id": [f"{did}-0"], "predicted_first_error": [2], "verdict": ["INCORRECT"],
        "raw_output": ["=cmd|' /C calc'!A0"],
    }))
    return store, did


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ CSV


def test_csv_steps_neutralise_formula_cells_and_keep_numbers(loaded: tuple[Store, str], tmp_path: Path) -> None:
    store, did = loaded
    out = tmp_path / "steps.csv"
    assert export.export_dataset(store, "tricky", "csv", out, per="step") == len(TRICKY_STEPS) + 2
    rows = _csv_rows(out)
    t0 = [r for r in rows if r["trace_id"] == f"{did}-0"]
    texts = [r["step_text"] for r in t0]
    # Every one of = + - @ tab CR gets a leading quote; the plain text (with comma, quotes and a
    # newline) comes back verbatim.
    assert texts == ["'" + t for t in TRICKY_STEPS[:6]] + [TRICKY_STEPS[6]]
    assert {r["source_id"] for r in t0} == {"'=1+1"} and {r["generator"] for r in t0} == {"'@evil"}
    # Numeric columns stay numbers: negative indices are not quoted.
    t1 = [r for r in rows if r["trace_id"] == f"{did}-1"]
    assert [r["gold_first_error"] for r in t1] == ["-1", "-1"]
    assert [r["predicted_first_error[scorer A]"] for r in t1] == ["-1", "-1"]
    assert [r["step_idx"] for r in t0] == [str(i) for i in range(7)]
    assert [float(r["score[scorer A]"]) for r in t0] == A[0]
    assert t0[1]["score[=scorer B]"] == ""  # unscored step: empty, not 0
    # The critic has no step scores (no score column) but its prediction is there.
    assert "score[critic C]" not in rows[0]
    assert {r["predicted_first_error[critic C]"] for r in t0} == {"2"}
    assert {r["predicted_first_error[critic C]"] for r in t1} == {""}
    df = pd.read_csv(out)
    for col in ("step_idx", "gold_first_error", "score[scorer A]", "score[=scorer B]", "predicted_first_error[scorer A]"):
        assert pd.api.types.is_numeric_dtype(df[col]), col


def test_csv_traces_aggregates_match_hand_computation(loaded: tuple[Store, str], tmp_path: Path) -> None:
    store, did = loaded
    out = tmp_path / "traces.csv"
    assert export.export_dataset(store, "tricky", "csv", out, per="trace") == 2
    rows = {r["trace_id"]: r for r in _csv_rows(out)}
    for t, name, scores, thr in ((0, "scorer A", A[0], 0.5), (1, "scorer A", A[1], 0.5),
                                 (0, "=scorer B", B[0], 0.7), (1, "=scorer B", B[1], 0.7)):
        row = rows[f"{did}-{t}"]
        known = [(i, s) for i, s in enumerate(scores) if s is not None]
        vals = [s for _, s in known]
        assert float(row[f"score_min[{name}]"]) == pytest.approx(min(vals))
        assert float(row[f"score_product[{name}]"]) == pytest.approx(math.prod(vals))
        assert float(row[f"score_last[{name}]"]) == pytest.approx(known[-1][1])
        assert float(row[f"score_mean[{name}]"]) == pytest.approx(sum(vals) / len(vals))
        expected_pred = next((i for i, s in known if s < thr), -1)
        assert int(row[f"predicted_first_error[{name}]"]) == expected_pred
    assert rows[f"{did}-0"]["predicted_first_error[critic C]"] == "2"
    assert rows[f"{did}-0"]["gold_first_error"] == "1" and rows[f"{did}-1"]["gold_first_error"] == "-1"
    assert rows[f"{did}-0"]["final_answer_correct"] == "false" and rows[f"{did}-1"]["final_answer_correct"] == "true"
    assert rows[f"{did}-0"]["source_id"] == "'=1+1" and rows[f"{did}-0"]["n_steps"] == "7"


# ------------------------------------------------------------------ Parquet


def test_parquet_keeps_text_verbatim_and_types(loaded: tuple[Store, str], tmp_path: Path) -> None:
    store, did = loaded
    out = tmp_path / "steps.parquet"
    assert export.export_dataset(store, "tricky", "parquet", out) == 9
    table = pq.read_table(out)
    assert table.schema.field("score[scorer A]").type == pa.float64()
    assert pa.types.is_integer(table.schema.field("step_idx").type)
    assert pa.types.is_integer(table.schema.field("gold_first_error").type)
    df = table.to_pandas()
    assert list(df.loc[df.trace_id == f"{did}-0", "step_text"]) == TRICKY_STEPS
    traces = pq.read_table(_write(store, "parquet", "trace", tmp_path)).to_pandas().set_index("source_id")
    assert traces.loc["=1+1", "score_min[scorer A]"] == pytest.approx(0.2)
    assert bool(traces.loc["pb-2", "final_answer_correct"]) is True


def _write(store: Store, fmt: str, per: str, tmp_path: Path) -> Path:
    out = tmp_path / f"x_{per}.{fmt}"
    export.export_dataset(store, "tricky", fmt, out, per=per)
    return out


# ------------------------------------------------------------------ JSONL (ProcessBench shape) round trips


def _pb_view(store: Store, dataset: str) -> list[tuple]:
    did = store.resolve_dataset(dataset)["dataset_id"]
    cur = store.cursor()
    return cur.execute(
        """SELECT t.source_id, p.problem, t.generator, t.final_answer_correct, t.gold_first_error,
                  list(s.text ORDER BY s.step_idx)
           FROM traces t JOIN problems p USING (problem_id) JOIN steps s USING (trace_id)
           WHERE t.dataset_id = ? GROUP BY ALL ORDER BY any_value(t.ordinal)""",
        [did],
    ).fetchall()


def test_jsonl_is_processbench_shaped_and_verbatim(loaded: tuple[Store, str], tmp_path: Path) -> None:
    store, _ = loaded
    out = tmp_path / "pb.jsonl"
    assert export.export_dataset(store, "tricky", "jsonl", out) == 2
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == RECORDS  # same keys, values and order as the source


def test_jsonl_round_trip_of_the_demo(store: Store, tmp_path: Path) -> None:
    load_demo(store)
    for name in ("synthetic-demo-with-process-reward", "synthetic-demo-without-process-reward"):
        out = tmp_path / f"{name}.jsonl"
        export.export_dataset(store, name, "jsonl", out)
        with Store(tmp_path / f"{name}.duckdb") as other:
            rep = import_file(other, out, fmt="processbench", name="back")
            assert rep.traces == store.resolve_dataset(name)["n_traces"]
            assert _pb_view(other, "back") == _pb_view(store, name)


def test_jsonl_round_trip_of_real_processbench(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ProcessBench" / "gsm8k.json"
    if not src.exists():
        pytest.skip(f"{src} is absent")
    with Store(tmp_path / "a.duckdb") as s:
        import_file(s, src, name="gsm8k")
        out = tmp_path / "gsm8k.jsonl"
        assert export.export_dataset(s, "gsm8k", "jsonl", out) == 400
        original = json.loads(src.read_text(encoding="utf-8"))
        exported = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
        assert exported == original
        with Store(tmp_path / "b.duckdb") as t:
            import_file(t, out, name="back")
            assert _pb_view(t, "back") == _pb_view(s, "gsm8k")


# ------------------------------------------------------------------ selections, bytes, errors


def test_selection_filters_and_bytes(loaded: tuple[Store, str], tmp_path: Path) -> None:
    store, did = loaded
    data = export.export_bytes(store, ["tricky"], "csv", "step", filters={"trace_ids": [f"{did}-1"]})
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert [r["step_text"] for r in rows] == ["a", "b"]
    out = tmp_path / "sel.csv"
    assert export.export_to_path(store, None, "csv", out, "step", {"trace_ids": [f"{did}-1"]}) == 2
    assert out.read_bytes() == data
    assert len(export.export_frame(store, None, "trace", {"final_answer_correct": False})) == 1
    assert len(export.export_frame(store, "tricky", "trace", {"generator": ["m1", "@evil"]})) == 2
    assert len(export.export_frame(store, "tricky", "trace", {"error_type": None})) == 2
    assert len(export.export_frame(store, "tricky", "step", {"split": "nope"})) == 0
    # An empty selection writes a header and nothing else.
    empty = tmp_path / "empty.csv"
    assert export.export_to_path(store, "tricky", "csv", empty, "trace", {"trace_ids": []}) == 0
    assert empty.read_text().startswith("dataset,trace_id,") and len(empty.read_text().splitlines()) == 1
    assert export.file_name("tricky", "jsonl") == "tricky_processbench.jsonl"


def test_bad_requests_are_clear_errors(loaded: tuple[Store, str], tmp_path: Path) -> None:
    store, _ = loaded
    with pytest.raises(PrmViewerError, match="unknown export filter 'colour'"):
        export.export_bytes(store, "tricky", "csv", filters={"colour": "red"})
    with pytest.raises(PrmViewerError, match="unknown export format 'xlsx'"):
        export.export_bytes(store, "tricky", "xlsx")
    with pytest.raises(PrmViewerError, match="'step' or 'trace'"):
        export.export_bytes(store, "tricky", "csv", per="problem")
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        export.export_bytes(store, "nope", "csv")
    with pytest.raises(PrmViewerError, match="does not exist"):
        export.export_dataset(store, "tricky", "csv", tmp_path / "missing" / "x.csv")
    assert list(tmp_path.glob(".*")) == []  # no temporary file left behind


def test_cli_export(loaded: tuple[Store, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = loaded
    db = str(store.path)
    store.close()  # the CLI is the owner now
    out = tmp_path / "cli.csv"
    assert main(["--db", db, "export", "--dataset", "tricky", "--format", "csv", "--per", "trace", "-o", str(out)]) == 0
    assert "wrote 2 rows" in capsys.readouterr().out
    assert len(_csv_rows(out)) == 2
    assert main(["--db", db, "export", "--dataset", "nope", "--format", "csv", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no dataset 'nope'") and "Traceback" not in err
