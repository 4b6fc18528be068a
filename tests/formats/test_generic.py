"""The generic column-mapping importer: options, split rules, bases, markers, errors, suggestions."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prm_viewer.errors import ImportFailed
from prm_viewer.formats import get_format, read_sample
from prm_viewer.formats.generic import suggest_mapping
from prm_viewer.ingest import import_file
from prm_viewer.model import TraceRecord
from prm_viewer.store import Store
from tests.conftest import TEST_DATA, snapshot
from tests.formats.helpers import GENERIC_OPTIONS, read_back

G = get_format("generic")
CSV = TEST_DATA / "generic" / "valid.csv"


def _read(path: Path, options: dict[str, Any]) -> list[TraceRecord]:
    return [r for r in G.read(path, options) if isinstance(r, TraceRecord)]


def _csv(tmp_path: Path, rows: list[dict[str, str]], name: str = "t.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_csv_sample_with_full_mapping() -> None:
    a, b, c = _read(CSV, GENERIC_OPTIONS["valid.csv"])
    assert a.steps == ["4 * 2 = 8.", "3 + 8 = 11.", "The answer is 11."]  # blankline split
    # first_error_step is 1-based with "N/A" for none: N/A -> -1, "1" -> 0, "2" -> 1
    assert [r.gold_first_error for r in (a, b, c)] == [-1, 0, 1]
    assert [r.final_answer_correct for r in (a, b, c)] == [True, False, False]  # "true", "false", "0"
    assert (a.source_id, a.problem_id, a.category, a.generator) == ("r1", "q1", "arithmetic", "policy-with-prm")
    assert c.problem == 'Simplify, "2x + 3x".'  # quoted cell with a comma and quotes
    assert b.step_scores == {"ext_prm": [0.3, 0.6, 0.5]}
    assert G.record_unit(CSV) == "row"


@pytest.mark.parametrize(("rule", "text", "steps"), [
    ("newline", "a = 1\n\n b = 2 \nc", ["a = 1", "b = 2", "c"]),
    ("blankline", "a\nstill a\n  \nb", ["a\nstill a", "b"]),
    ("step_markers", "Intro.\nStep 1: x = 1\nStep 2. y = 2\n## Step 3: z", ["Intro.", "x = 1", "y = 2", "z"]),
    ("regex:\\s*;\\s*", "one; two ;three;", ["one", "two", "three"]),
    ("regex:(;|\\|)", "one;two|three", ["one", "two", "three"]),  # captured separators are not steps
])
def test_split_rules(tmp_path: Path, rule: str, text: str, steps: list[str]) -> None:
    path = _csv(tmp_path, [{"q": "Q", "s": text}])
    (rec,) = _read(path, {"map": {"problem": "q", "steps": "s"}, "split_rule": rule})
    assert rec.steps == steps


def test_jsonl_binary_labels_give_first_error_and_metadata() -> None:
    recs = _read(TEST_DATA / "generic" / "valid.jsonl", GENERIC_OPTIONS["valid.jsonl"])
    assert [r.step_labels for r in recs] == [[1, 1], [1, -1, -1], [1]]  # 1 correct, 0 wrong
    assert [r.gold_first_error for r in recs] == [-1, 1, -1]
    assert recs[0].metadata == {"difficulty": "easy", "source": "handmade"}
    assert [r.line for r in recs] == [1, 2, 3] and G.record_unit(TEST_DATA / "generic" / "valid.jsonl") == "line"


def test_parquet_lists_markers_and_null_as_no_error() -> None:
    recs = _read(TEST_DATA / "generic" / "valid.parquet", GENERIC_OPTIONS["valid.parquet"])
    assert [r.steps for r in recs] == [["12 / 4 = 3.", "3 + 1 = 4."], ["2 ** 3 = 2 * 3.", "2 * 3 = 6."], ["10 - 7 = 3."]]
    assert [r.gold_first_error for r in recs] == [-1, 0, -1]  # no_error=null: null means "no error"
    assert [r.step_scores for r in recs][1] == {"parquet_prm": [0.2, 0.7]}


def test_null_first_error_is_unknown_unless_marked(tmp_path: Path) -> None:
    path = _csv(tmp_path, [{"q": "Q", "s": '["a", "b"]', "fe": ""}, {"q": "Q2", "s": '["a"]', "fe": "-1"}])
    recs = _read(path, {"map": {"problem": "q", "steps": "s", "first_error": "fe"}})
    assert [r.gold_first_error for r in recs] == [None, -1]  # JSON-list steps need no split rule
    recs = _read(path, {"map": {"problem": "q", "steps": "s", "first_error": "fe"}, "no_error": "null,-1"})
    assert [r.gold_first_error for r in recs] == [-1, -1]


def test_pm1_labels_accept_signs_and_booleans(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps({"q": "Q", "s": ["a", "b", "c", "d"], "l": ["+", 0, False, None]}) + "\n")
    (rec,) = _read(path, {"map": {"problem": "q", "steps": "s", "step_labels": "l"}})
    assert rec.step_labels == [1, 0, -1, None] and rec.gold_first_error == 2


def test_imported_scores_become_a_named_scorer(store: Store) -> None:
    rep = import_file(store, CSV, fmt="generic", options=GENERIC_OPTIONS["valid.csv"])
    assert rep.scorers == ["ext_prm"]
    rows = read_back(store, rep.dataset_id)
    assert [r["scores"]["ext_prm"] for r in rows] == [[0.9, 0.85, 0.8], [0.3, 0.6, 0.5], [0.95, 0.1]]
    recipe = store.cursor().execute("SELECT recipe FROM scorers WHERE name = 'ext_prm'").fetchone()[0]
    assert recipe == "imported"
    # Two runs of the same problem q1 share one problem row.
    assert rows[0]["problem"] == rows[1]["problem"]
    assert store.cursor().execute("SELECT count(*) FROM problems").fetchone()[0] == 2


@pytest.mark.parametrize(("options", "message"), [
    ({"map": {"problem": "question", "steps": "solution"}, "split_rul": "newline"},
     r"field 'options': unknown option\(s\) split_rul"),
    ({"map": {"problem": "question", "stepz": "solution"}}, r"field 'map.stepz': unknown field"),
    ({"map": {"problem": "question"}}, r"field 'map': the generic importer needs --map steps=COLUMN"),
    ({"map": {"problem": "question", "steps": "solutions"}, "split_rule": "newline"},
     r"field 'solutions': mapped column not in the file; its columns: row_id, question_id, question"),
    ({"map": {"problem": "question", "steps": "solution"}, "split_rule": "regex:("},
     r"field 'split_rule': invalid regular expression"),
    ({"map": {"problem": "question", "steps": "solution"}, "split_rule": "lines"}, r"field 'split_rule': unknown rule 'lines'"),
    ({"map": {"problem": "question", "steps": "solution"}}, r"row 1, field 'solution': holds text, not a list"),
    ({"map": {"problem": "question", "steps": "solution", "first_error": "first_error_step"}, "split_rule": "blankline"},
     r"row 1, field 'first_error_step': expected a step index or a no-error marker \(-1\), found 'N/A'"),
    ({"map": {"problem": "question", "steps": "solution", "first_error": "first_error_step"}, "split_rule": "blankline",
      "first_error_base": "2"}, r"field 'first_error_base': expected 0 or 1"),
    ({"map": {"problem": "question", "steps": "solution", "correct": "model"}, "split_rule": "blankline"},
     r"row 1, field 'model': expected true/false, found 'policy-with-prm'"),
    ({"map": {"problem": "question", "steps": "solution", "scores.x": "answer"}, "split_rule": "blankline"},
     r"row 1, field 'answer': expected a list of scores, found text"),
    ({"map": {"problem": "question", "steps": "solution", "id": "question_id"}, "split_rule": "blankline"},
     r"row 2, field 'question_id': duplicate id 'q1' \(first on row 1\)"),
])
def test_bad_options_and_cells_name_the_field(store: Store, options: dict[str, Any], message: str) -> None:
    before = snapshot(store)
    with pytest.raises(ImportFailed, match=message) as info:
        import_file(store, CSV, fmt="generic", options=options)
    assert str(info.value).startswith(str(CSV)) and "\n" not in str(info.value)
    assert snapshot(store) == before


def test_first_error_out_of_range_reports_the_source_value(store: Store) -> None:
    path = TEST_DATA / "generic" / "bad_first_error.csv"
    opts = {"map": {"problem": "question", "steps": "solution", "first_error": "first_error_step"},
            "split_rule": "blankline", "first_error_base": "1", "no_error": "N/A"}
    before = snapshot(store)
    with pytest.raises(ImportFailed, match=r"row 2, field 'first_error_step': step 7 \(first_error_base 1\) is out of "
                                           r"range for 3 steps"):
        import_file(store, path, fmt="generic", options=opts)
    assert snapshot(store) == before


def test_jsonl_record_missing_a_mapped_column(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"q": "Q", "s": ["a"], "g": "m"}) + "\n" + json.dumps({"q": "Q", "s": ["a"]}) + "\n")
    with pytest.raises(ImportFailed, match=r"line 2, field 'g': mapped column missing from this record"):
        _read(path, {"map": {"problem": "q", "steps": "s", "generator": "g"}})


def test_parquet_missing_column_and_truncated_file(tmp_path: Path) -> None:
    src = TEST_DATA / "generic" / "valid.parquet"
    with pytest.raises(ImportFailed, match=r"field 'nope': mapped column not in the file; its columns: problem, trace"):
        _read(src, {"map": {"problem": "problem", "steps": "nope"}})
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(ImportFailed, match=r"cut.parquet: not a readable Parquet file"):
        _read(cut, {"map": {"problem": "problem", "steps": "trace"}, "split_rule": "newline"})


def test_tsv_and_forced_container(tmp_path: Path) -> None:
    tsv = tmp_path / "t.tsv"
    tsv.write_text("q\ts\nWhat?\ta|b\n", encoding="utf-8")
    (rec,) = _read(tsv, {"map": {"problem": "q", "steps": "s"}, "split_rule": "regex:\\|"})
    assert rec.steps == ["a", "b"]
    txt = tmp_path / "t.txt"
    txt.write_text("q;s\nWhat?;a|b\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="cannot tell the file type"):
        _read(txt, {"map": {"problem": "q", "steps": "s"}})
    (rec,) = _read(txt, {"map": {"problem": "q", "steps": "s"}, "split_rule": "regex:\\|", "container": "csv",
                         "delimiter": ";"})
    assert (rec.problem, rec.steps) == ("What?", ["a", "b"])


def test_long_csv_cells_are_read(tmp_path: Path) -> None:
    long_step = "x" * 300_000  # beyond csv's default 128 KiB field limit
    path = _csv(tmp_path, [{"q": "Q", "s": json.dumps([long_step, "y"])}])
    (rec,) = _read(path, {"map": {"problem": "q", "steps": "s"}})
    assert rec.steps == [long_step, "y"]


def test_suggest_mapping_for_the_samples() -> None:
    got = suggest_mapping(read_sample(CSV))
    assert got["map"]["problem"] == "question" and got["map"]["steps"] == "solution"
    assert got["map"]["first_error"] == "first_error_step" and got["map"]["correct"] == "is_correct"
    assert got["map"]["generator"] == "model" and got["map"]["reference_answer"] == "gold"
    assert got["map"]["scores.prm_scores"] == "prm_scores"
    assert got["split_rule"] == "blankline" and got["no_error"] == "N/A"
    j = suggest_mapping(read_sample(TEST_DATA / "generic" / "valid.jsonl"))
    assert j["map"]["problem"] == "prompt" and j["map"]["steps"] == "steps" and j["map"]["id"] == "uid"
    assert "split_rule" not in j  # steps are already a list


def test_suggestion_tells_list_labels_from_first_error(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"question": "Q", "steps": "Step 1: a\nStep 2: b", "label": [1, -1]}) + "\n")
    got = suggest_mapping(read_sample(path))
    assert got["map"] == {"problem": "question", "steps": "steps", "step_labels": "label"}
    assert got["split_rule"] == "step_markers"
    # The suggestion imports as is.
    (rec,) = _read(path, got)
    assert rec.steps == ["a", "b"] and rec.gold_first_error == 1


def test_suggested_mapping_for_parquet_imports(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"prompt": ["Q1", "Q2"], "completions": [["a", "b"], ["c"]],
                             "first_error": [1, -1], "model": ["m", "n"]}), path)
    opts = suggest_mapping(read_sample(path))
    rep = import_file(store, path, fmt="generic", options=opts)
    rows = read_back(store, rep.dataset_id)
    assert [(r["problem"], r["steps"], r["gold_first_error"], r["generator"]) for r in rows] == [
        ("Q1", ["a", "b"], 1, "m"), ("Q2", ["c"], -1, "n")]
