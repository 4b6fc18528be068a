"""Every shape of real trace sets, imported from tests/data/<shape>/ and checked against a
computation in the test (trace, step and labelled counts; the first error by its step TEXT)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from prm_viewer.errors import ImportFailed, UnknownFormat
from prm_viewer.ingest import import_file
from prm_viewer.queries.library import import_report
from prm_viewer.store import Store
from tests.conftest import TEST_DATA, snapshot
from tests.formats.helpers import read_back

D = TEST_DATA


def first_error_texts(traces: list[dict[str, Any]]) -> list[str | None]:
    out: list[str | None] = []
    for t in traces:
        g = t["gold_first_error"]
        out.append(t["steps"][g] if g is not None and g >= 0 else None)
    return out


# ------------------------------------------------------------------ nested JSON


NESTED_OPTS = {"records": "*", "map": {"problem": "question", "steps": "model_output", "first_error": "m_first_error_step",
                                       "generator": "model", "problem_id": "_key"},
               "first_error_base": "1", "no_error": "N/A"}


def test_nested_object_of_lists(store: Store) -> None:
    path = D / "nested" / "by_question.json"
    rep = import_file(store, path, fmt="generic", options=NESTED_OPTS)
    src = json.loads(path.read_text())
    flat = [(k, r) for k, v in src.items() for r in v]
    got = read_back(store, rep.dataset_id)
    assert (rep.traces, rep.steps) == (len(flat), sum(len(r["model_output"]) for _, r in flat)) == (5, 13)
    assert [t["source_problem_id"] for t in got] == [k for k, _ in flat]
    want = [None if r["m_first_error_step"] == "N/A" else r["model_output"][int(r["m_first_error_step"]) - 1]
            for _, r in flat]
    assert first_error_texts(got) == want == [None, "2+3 = 5.", "9 + 1 = 11.", None, "7*2 = 14."]
    assert rep.labelled_traces == 5


def test_nested_object_auto_detect_says_what_it_saw() -> None:
    from prm_viewer.formats import detect_format

    with pytest.raises(UnknownFormat) as info:
        detect_format(D / "nested" / "by_question.json")
    msg = str(info.value)
    assert "saw a top-level object whose values are lists of records (3 keys): try --option records=*" in msg
    assert len(msg) < 600


def test_nested_under_a_key_gzip(store: Store) -> None:
    opts = {**NESTED_OPTS, "records": "data"}
    del opts["map"]["problem_id"]  # type: ignore[attr-defined]
    rep = import_file(store, D / "nested" / "under_key.json.gz", fmt="generic", options=opts)
    doc = json.loads(gzip.decompress((D / "nested" / "under_key.json.gz").read_bytes()))
    assert rep.traces == len(doc["data"]) == 5
    assert first_error_texts(read_back(store, rep.dataset_id))[1] == doc["data"][1]["model_output"][0]


def test_nested_records_path_errors(store: Store) -> None:
    before = snapshot(store)
    path = D / "nested" / "under_key.json.gz"
    with pytest.raises(ImportFailed) as info:
        import_file(store, path, fmt="generic", options={**NESTED_OPTS, "records": "items"})
    assert str(info.value) == f"{path}, field 'records': no key 'items' at the top level; keys there: meta, data"
    with pytest.raises(ImportFailed) as info:
        import_file(store, D / "nested" / "bad_first_error.json", fmt="generic", options=NESTED_OPTS)
    assert str(info.value).endswith(", record 3, field 'm_first_error_step': step 7 (first_error_base 1) is out of "
                                    "range for 3 steps")
    assert snapshot(store) == before


# ------------------------------------------------------------------ steps of every shape


def test_list_of_lists_of_lines(store: Store) -> None:
    path = D / "step-lines" / "list_of_lists.jsonl"
    rep = import_file(store, path, fmt="generic", options={"map": {"problem": "problem", "steps": "steps_lines",
                                                                    "first_error": "first_error", "id": "id"}})
    src = [json.loads(x) for x in path.read_text().splitlines()]
    got = read_back(store, rep.dataset_id)
    assert [t["steps"] for t in got] == [["\n".join(inner) for inner in r["steps_lines"]] for r in src]
    assert rep.steps == 8  # one step per inner list, not per line (13 lines)
    assert first_error_texts(got) == [None, "3 * 5\n= 16", "10 / 4\n= 2"]
    with pytest.raises(ImportFailed) as info:
        import_file(store, D / "step-lines" / "bad_inner_item.jsonl", fmt="generic",
                    options={"map": {"problem": "problem", "steps": "steps_lines", "id": "id"}})
    assert str(info.value).endswith(", line 2, field 'steps_lines[1][1]': expected a line of text, found an integer")


MARKER_MAP = {"map": {"problem": "question", "steps": "solution", "first_error": "first_error", "id": "id"},
              "split_rule": "step_markers", "first_error_base": "1", "no_error": "N/A"}
MARKER_STEPS = [
    ["12 pens are 4 groups of 3.\n12 / 3 = 4", "Each group costs $2.", "4 * 2 = 9.\nSo the cost is $9.",
     "The answer is $9."],
    ["We list them.", "They are 1, 3, 5, 7.", "1+3+5+7 = 16.", "The answer is 16."],
    ["Area is length times width.", "3 * 5 = 8.\nWait, that is addition.", "The answer is 8."],
]


def test_step_markers_on_a_list_by_label(store: Store) -> None:
    rep = import_file(store, D / "step-markers" / "mixed_items.jsonl", fmt="generic",
                      options={**MARKER_MAP, "first_error_ref": "step_label"})
    got = read_back(store, rep.dataset_id)
    assert [t["steps"] for t in got] == MARKER_STEPS
    assert (rep.traces, rep.steps) == (3, 11)  # no empty step stored
    assert first_error_texts(got) == ["4 * 2 = 9.\nSo the cost is $9.", None, "3 * 5 = 8.\nWait, that is addition."]
    assert rep.notes == {}


def test_step_markers_by_position_warns_when_misaligned(store: Store) -> None:
    rep = import_file(store, D / "step-markers" / "mixed_items.jsonl", fmt="generic", options=MARKER_MAP)
    # item 3 (1-based) of s1 is an empty string; item 2 of s3 is empty: both are noted
    assert rep.notes == {"first errors that no longer line up after the split": 2}
    assert [(w.line, w.field) for w in rep.warnings] == [(1, "first_error"), (3, "first_error")]
    stored = import_report(store, rep.dataset_id)
    assert stored is not None and stored["notes"] == rep.notes


def test_step_label_that_names_no_step(store: Store) -> None:
    with pytest.raises(ImportFailed) as info:
        import_file(store, D / "step-markers" / "bad_label.jsonl", fmt="generic",
                    options={**MARKER_MAP, "first_error_ref": "step_label"})
    assert str(info.value).endswith(", line 2, field 'first_error': no step is labelled 'Step 9' among the 4 steps")


# ------------------------------------------------------------------ labels of every shape


ES_MAP = {"map": {"problem": "q", "steps": "steps", "error_steps": "error_steps", "id": "idx"}, "first_error_base": "1"}


def test_error_steps(store: Store) -> None:
    path = D / "error-steps" / "error_steps.jsonl"
    rep = import_file(store, path, fmt="generic", options=ES_MAP)
    src = [json.loads(x) for x in path.read_text().splitlines()]
    got = read_back(store, rep.dataset_id)
    assert [t["labels"] for t in got] == [[-1 if k + 1 in r["error_steps"] else 1 for k in range(len(r["steps"]))]
                                          for r in src]
    assert first_error_texts(got) == ["= 43", None, "= 30"]
    assert rep.labelled_traces == 3
    with pytest.raises(ImportFailed) as info:
        import_file(store, D / "error-steps" / "bad_past_end.jsonl", fmt="generic", options=ES_MAP)
    assert str(info.value).endswith(", line 2, field 'error_steps': step 3 (first_error_base 1) is out of range for "
                                    "2 steps")


def test_step_rows_prm800k_preset(store: Store) -> None:
    path = D / "step-rows" / "prm800k_steps.parquet"
    rep = import_file(store, path, fmt="generic", options={"preset": "prm800k-steps"})
    rows = pq.read_table(path).to_pylist()
    # independent grouping: a session is a run of preferred rows whose prefix grows by one
    sessions: list[list[dict[str, Any]]] = []
    for r in rows:
        if not r["is_preferred_response"]:
            continue
        if not sessions or len(r["responses"]) == 0 or sessions[-1][-1]["instruction"] != r["instruction"]:
            sessions.append([])
        sessions[-1].append(r)
    by_problem: dict[str, list[list[dict[str, Any]]]] = {}
    for s in sessions:
        by_problem.setdefault(s[0]["instruction"], []).append(s)
    ordered = [s for group in by_problem.values() for s in group]  # grouped by problem, first seen first
    got = read_back(store, rep.dataset_id)
    assert [t["steps"] for t in got] == [[r["next_response"] for r in s] for s in ordered]
    assert [t["labels"] for t in got] == [[r["rating"] for r in s] for s in ordered]
    assert (rep.traces, rep.steps) == (3, 9)
    assert first_error_texts(got) == [None, None, "(6-2)*180 = 540."]
    assert got[0]["reference_answer"] == "6"


def test_step_rows_bad_rating_names_its_row(store: Store) -> None:
    with pytest.raises(ImportFailed) as info:
        import_file(store, D / "step-rows" / "bad_rating.parquet", fmt="generic", options={"preset": "prm800k-steps"})
    assert str(info.value).endswith(", row 5, field 'rating': unknown step label 5 (label_scheme pm1)")


# ------------------------------------------------------------------ containers


@pytest.mark.parametrize("name", ["valid.jsonl.gz", "valid.json.zst", "hub_gsm8k.parquet"])
def test_processbench_compressed_and_parquet_detected(store: Store, name: str) -> None:
    rep = import_file(store, D / "processbench" / name)
    src = [json.loads(x) for x in (D / "processbench" / "valid.jsonl").read_text().splitlines() if x.strip()]
    assert rep.format == "processbench"
    assert (rep.traces, rep.steps) == (len(src), sum(len(r["steps"]) for r in src))
    got = read_back(store, rep.dataset_id)
    assert first_error_texts(got) == [r["steps"][r["label"]] if r["label"] >= 0 else None for r in src]


def test_truncated_gzip_is_one_line(store: Store) -> None:
    path = D / "processbench" / "bad_truncated.jsonl.gz"
    with pytest.raises(ImportFailed) as info:
        import_file(store, path)
    assert str(info.value).startswith(f"{path}: the compressed file is corrupt or truncated (")


# ------------------------------------------------------------------ bad rows and NaN scores


def test_skip_bad_rows_with_a_report(store: Store) -> None:
    path = D / "bad-rows" / "one_bad_row.jsonl"
    before = snapshot(store)
    with pytest.raises(ImportFailed) as info:
        import_file(store, path)  # the default stays all-or-nothing
    assert str(info.value) == f"{path}, line 4, field 'label': first-error index 5 is out of range for 3 steps (0-based)"
    assert snapshot(store) == before
    rep = import_file(store, path, options={"on_error": "skip"})
    src = [json.loads(x) for x in path.read_text().splitlines()]
    assert rep.traces == len(src) - 1 == 5
    assert [(s.line, s.field, s.invalid) for s in rep.skipped] == [(4, "label", True)]
    stored = import_report(store, rep.dataset_id)
    assert stored is not None and stored["n_invalid"] == 1
    assert stored["skipped"][0] == {"line": 4, "unit": "line", "field": "label", "invalid": True,
                                    "reason": "first-error index 5 is out of range for 3 steps (0-based)"}
    assert "skipped 1 invalid records" in rep.summary()


def test_nan_scores_are_counted(store: Store) -> None:
    path = D / "bad-rows" / "nan_scores.jsonl"
    rep = import_file(store, path, fmt="generic", options={"map": {"problem": "question", "steps": "steps",
                                                                    "scores.prm": "prm"}})
    lines = path.read_text().splitlines()
    n_nan = sum(1 for x in lines for v in json.loads(x)["prm"] if math.isnan(v))
    assert rep.notes == {"NaN scores in 'prm' stored as not scored": n_nan} == {
        "NaN scores in 'prm' stored as not scored": 3}
    got = read_back(store, rep.dataset_id)
    assert [t["scores"]["prm"] for t in got] == [[0.9, None], [None, None], [0.8]]


def test_sql_escape_hatch(store: Store, tmp_path: Path) -> None:
    path = D / "step-rows" / "prm800k_steps.parquet"
    rep = import_file(store, path, fmt="generic", options={
        "sql": "SELECT instruction, list(next_response ORDER BY len(responses)) AS steps, "
               "list(rating ORDER BY len(responses)) AS ratings FROM src WHERE is_preferred_response "
               "GROUP BY instruction ORDER BY min(len(responses)), instruction",
        "map": {"problem": "instruction", "steps": "steps", "step_labels": "ratings"}})
    rows = [r for r in pq.read_table(path).to_pylist() if r["is_preferred_response"]]
    assert rep.traces == len({r["instruction"] for r in rows}) == 2
    assert rep.steps == len(rows) == 9
    with pytest.raises(ImportFailed) as info:
        import_file(store, path, fmt="generic", options={"sql": "SELECT nope FROM src",
                                                         "map": {"problem": "a", "steps": "b"}})
    assert str(info.value).startswith(f"{path}, field 'sql': the query failed: Binder Error")


def test_sql_on_a_nested_object_readme_example(store: Store) -> None:
    path = D / "nested" / "under_key.json.gz"
    rep = import_file(store, path, fmt="generic", options={
        "sql": "SELECT r.question, r.model_output, r.m_first_error_step, r.model FROM "
               "(SELECT unnest(data) AS r FROM src)",
        "map": {"problem": "question", "steps": "model_output", "first_error": "m_first_error_step",
                "generator": "model"}, "first_error_base": "1", "no_error": "N/A"})
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert rep.traces == len(doc["data"]) and rep.steps == sum(len(r["model_output"]) for r in doc["data"])
    assert first_error_texts(read_back(store, rep.dataset_id)) == [
        None if r["m_first_error_step"] == "N/A" else r["model_output"][int(r["m_first_error_step"]) - 1]
        for r in doc["data"]]


# ------------------------------------------------------------------ hub data sets (offline, local folders)


def _pb_rows() -> list[dict[str, Any]]:
    return [json.loads(x) for x in (D / "processbench" / "valid.jsonl").read_text().splitlines() if x.strip()]


def test_hub_ref_parsing() -> None:
    from prm_viewer.formats.hub import HubRef, parse_ref

    assert parse_ref("hf://Qwen/ProcessBench:default@gsm8k") == HubRef("Qwen/ProcessBench", "default", "gsm8k")
    assert parse_ref("hf://a/b") == HubRef("a/b", None, None)
    with pytest.raises(ImportFailed) as info:
        parse_ref("hf://just-a-name")
    assert str(info.value) == "hf://just-a-name: expected hf://OWNER/NAME[:CONFIG][@SPLIT]"


def test_datasets_save_to_disk_folder(store: Store, tmp_path: Path) -> None:
    import datasets

    rows = _pb_rows()
    dd = datasets.DatasetDict({"gsm8k": datasets.Dataset.from_list(rows),
                               "math": datasets.Dataset.from_list(rows[:2])})
    folder = tmp_path / "ProcessBench"
    dd.save_to_disk(str(folder))
    rep = import_file(store, f"{folder}@math")
    assert rep.format == "processbench" and (rep.traces, rep.steps) == (2, sum(len(r["steps"]) for r in rows[:2]))
    with pytest.raises(ImportFailed) as info:
        import_file(store, folder)
    assert str(info.value) == "ProcessBench, field 'split': choose a split with @SPLIT; splits: gsm8k, math"
    again = import_file(store, f"{folder}@math")
    assert again.already_present


def test_hub_repo_layout_with_parquet_files(store: Store, tmp_path: Path) -> None:
    import pyarrow as pa

    rows = _pb_rows()
    folder = tmp_path / "repo" / "data"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows[:1]), folder / "gsm8k-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(rows[1:]), folder / "gsm8k-00001-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(rows[:2]), folder / "math-00000-of-00001.parquet")
    rep = import_file(store, f"{tmp_path / 'repo'}@gsm8k")
    assert (rep.traces, rep.steps) == (len(rows), sum(len(r["steps"]) for r in rows))
    got = read_back(store, rep.dataset_id)
    assert first_error_texts(got) == [r["steps"][r["label"]] if r["label"] >= 0 else None for r in rows]
