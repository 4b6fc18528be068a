"""Training-data exports from step labels, checked field by field, and re-imported with the same
labels: TRL stepwise and ProcessBench through their importers, PRM800K-like records through the
prm800k importer, the per-annotator CSV through ``labels import``. The per-step / per-trace CSVs
carry the problem text, formula-safe."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from prm_viewer import export
from prm_viewer.cli import main
from prm_viewer.ingest import import_file
from prm_viewer.store import Store
from tests.annotation.helpers import RECORDS, build, current
from tests.conftest import snapshot

ALICE = {  # alice's labels per source id, step -> label (helpers.build)
    "r0": {0: 1, 1: 1, 2: 1}, "r1": {0: 1, 1: 1, 2: -1}, "r2": {0: 1, 1: -1}, "r3": {0: 1},
}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _gold_by_source(store: Store, dataset: str) -> tuple[dict, dict]:
    did = store.resolve_dataset(dataset)["dataset_id"]
    cur = store.cursor()
    steps = {}
    for sid, k, lab in cur.execute("""SELECT t.source_id, s.step_idx, s.gold_label FROM steps s JOIN traces t USING (trace_id)
                                      WHERE t.dataset_id = ? ORDER BY 1, 2""", [did]).fetchall():
        steps.setdefault(sid, {})[k] = lab
    firsts = dict(cur.execute("SELECT source_id, gold_first_error FROM traces WHERE dataset_id = ?", [did]).fetchall())
    return steps, firsts


def test_trl_processbench_prm800k_exports_round_trip(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path)
    problems = {r["id"]: r["problem"] for r in RECORDS}
    texts = {r["id"]: r["steps"] for r in RECORDS}
    # TRL stepwise under alice: steps up to her first unlabelled one, True unless wrong.
    out = tmp_path / "trl.jsonl"
    assert export.export_labels(store, "d", "trl-stepwise", out, gold="annotator:alice") == 4
    recs = {r["id"]: r for r in _jsonl(out)}
    for sid, labs in ALICE.items():
        assert recs[sid]["prompt"] == problems[sid]
        assert recs[sid]["completions"] == texts[sid][: len(labs)]
        assert recs[sid]["labels"] == [labs[k] != -1 for k in range(len(labs))]
    import_file(store, out, fmt="trl-stepwise", name="back-trl")
    steps, _ = _gold_by_source(store, "back-trl")
    assert steps == ALICE
    # ProcessBench under alice: her first errors (r3 unknown: left out).
    out = tmp_path / "pb.jsonl"
    assert export.export_labels(store, "d", "processbench", out, gold="annotator:alice") == 3
    recs = {r["id"]: r for r in _jsonl(out)}
    assert {k: r["label"] for k, r in recs.items()} == {"r0": -1, "r1": 2, "r2": 1}
    assert recs["r2"]["steps"] == texts["r2"] and recs["r2"]["problem"] == problems["r2"]
    assert recs["r1"]["final_answer_correct"] is False and recs["r1"]["generator"] == "g"
    import_file(store, out, fmt="processbench", name="back-pb")
    assert _gold_by_source(store, "back-pb")[1] == {"r0": -1, "r1": 2, "r2": 1}
    # PRM800K-like under the majority: every step, the majority's rating or null.
    out = tmp_path / "prm800k.jsonl"
    assert export.export_labels(store, "d", "prm800k", out, gold="majority") == 4
    recs = {r["timestamp"]: r for r in _jsonl(out)}
    r1 = recs["r1"]
    assert r1["labeler"] == "majority" and r1["question"]["problem"] == problems["r1"]
    assert [s["completions"][0]["text"] for s in r1["label"]["steps"]] == texts["r1"]
    assert [s["completions"][0]["rating"] for s in r1["label"]["steps"]] == [1, -1, -1]
    assert recs["r0"]["label"]["finish_reason"] == "solution" and r1["label"]["finish_reason"] == "found_error"
    assert [s["completions"][0]["rating"] for s in recs["r3"]["label"]["steps"]] == [None, None, None]  # a tie
    import_file(store, out, fmt="prm800k", name="back-prm")
    steps, firsts = _gold_by_source(store, "back-prm")
    assert steps["majority@r1"] == {0: 1, 1: -1, 2: -1} and firsts["majority@r1"] == 1
    assert firsts["majority@r0"] == -1 and firsts["majority@r3"] is None


def test_per_annotator_csv_round_trip_through_the_cli(tmp_path: Path, capsys) -> None:
    db, db2 = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    with Store(db) as s:
        ids = build(s, tmp_path)
        want = {n: current(s, n) for n in ("alice", "bob")}
    out = tmp_path / "labels.csv"
    assert main(["--db", str(db), "labels", "export", "--dataset", "d", "--format", "csv", "--gold", "majority",
                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["dataset", "trace_id", "source_id", "problem_id", "problem", "step_idx", "step_text",
                             "gold_label", "label[majority]", "label[alice]", "note[alice]", "label[bob]", "note[bob]"]
    by = {(r["source_id"], int(r["step_idx"])): r for r in rows}
    assert len(rows) == 13
    assert by[("r1", 1)]["gold_label"] == "-1" and by[("r1", 1)]["label[alice]"] == "1" and by[("r1", 1)]["label[bob]"] == "-1"
    assert by[("r1", 2)]["label[majority]"] == "-1" and by[("r3", 0)]["label[majority]"] == ""
    assert by[("r3", 0)]["problem"] == "'=SUM(A1:A9) is a formula"   # formula-safe
    assert by[("r3", 0)]["step_text"] == "'-start"
    assert by[("r3", 1)]["note[alice]"] == "'=HYPERLINK(x) looks odd"
    # A fresh store with the same file (same trace ids): `labels import` restores both annotators.
    with Store(db2) as s:
        build(s, tmp_path, labels=False)
        gold_before = snapshot(s)["step_rows"], snapshot(s)["traces"]
    assert main(["--db", str(db2), "labels", "import", str(out)]) == 0
    # alice: r0 3 + r1 3 + r2 2 + r3 step 0 and the note on step 1 = 10; bob: r1 2 + r2 3 = 5.
    assert "alice: 10 steps, bob: 5 steps" in capsys.readouterr().out
    with Store(db2) as s:
        assert {n: current(s, n) for n in ("alice", "bob")} == want
        assert (snapshot(s)["step_rows"], snapshot(s)["traces"]) == gold_before
        note = s.cursor().execute("SELECT note FROM current_step_labels WHERE annotator = 'alice' AND trace_id = ? "
                                  "AND step_idx = 1", [ids["r3"]]).fetchone()
        assert note == ("=HYPERLINK(x) looks odd",)
        again = snapshot(s)
    assert main(["--db", str(db2), "labels", "import", str(out)]) == 0   # twice: nothing new
    with Store(db2) as s:
        assert snapshot(s) == again


def test_cli_lists_every_label_format() -> None:
    from prm_viewer.cli.labels import LABEL_FORMATS

    assert LABEL_FORMATS == tuple(export.LABEL_FORMATS)


def test_bad_label_csv_names_row_and_column_and_changes_nothing(tmp_path: Path, capsys) -> None:
    db = tmp_path / "a.duckdb"
    with Store(db) as s:
        ids = build(s, tmp_path, labels=False)
        before = snapshot(s)
    head = "trace_id,step_idx,label[ann]\n"
    cases = {
        f"{ids['r0']},0,1\n{ids['r0']},1,maybe\n": "row 2, field 'label[ann]': unknown label 'maybe'",
        f"{ids['r0']},0,1\nnope,0,1\n": "row 2, field 'trace_id': no trace 'nope' in the store",
        f"{ids['r0']},5,1\n": f"row 1, field 'step_idx': trace '{ids['r0']}' has 3 steps; there is no step 5",
    }
    for i, (body, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.csv"
        path.write_text(head + body, encoding="utf-8")
        assert main(["--db", str(db), "labels", "import", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {path}, ") and message in err[0], err
    with Store(db) as s:
        assert snapshot(s) == before


def test_step_and_trace_csv_carry_the_problem_text_and_annotator_columns(store: Store, tmp_path: Path) -> None:
    build(store, tmp_path)
    steps = list(csv.DictReader(export.export_bytes(store, "d", "csv", per="step", gold="annotator:alice",
                                                    annotators=["bob"]).decode().splitlines()))
    by = {(r["source_id"], int(r["step_idx"])): r for r in steps}
    assert by[("r0", 0)]["problem"] == "What is 1+1?" and by[("r3", 2)]["problem"] == "'=SUM(A1:A9) is a formula"
    assert by[("r1", 2)]["gold_label"] == "-1" and by[("r1", 2)]["gold_first_error"] == "2"  # alice's
    assert by[("r1", 1)]["label[bob]"] == "-1" and by[("r0", 0)]["label[bob]"] == ""
    traces = list(csv.DictReader(export.export_bytes(store, "d", "csv", per="trace").decode().splitlines()))
    t = {r["source_id"]: r for r in traces}
    assert t["r3"]["problem"] == "'=SUM(A1:A9) is a formula" and t["r2"]["gold_first_error"] == "2"
