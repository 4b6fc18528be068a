"""Bad input: every case gives one line naming the file, the line/row and the field; the store
is exactly as before; the CLI exits 2 without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prm_viewer.errors import PrmViewerError
from prm_viewer.ingest import import_file
from prm_viewer.store import Store
from tests.conftest import ROOT, TEST_DATA, snapshot

D = TEST_DATA
CSV_MAP = ["--format", "generic", "--map", "problem=question", "--map", "steps=solution", "--option", "split_rule=blankline"]

# (case id, file, CLI arguments after the file, expected message pattern after "<file>")
CASES: list[tuple[str, Path, list[str], str]] = [
    ("malformed-json-line", D / "processbench/bad_malformed_line.jsonl", [],
     r", line 2: malformed JSON \(Expecting property name"),
    ("wrong-type", D / "processbench/bad_label_type.jsonl", [],
     r", line 2, field 'label': expected an integer, found a string"),
    ("wrong-type-in-list", D / "trl-stepwise/bad_labels_type.jsonl", [],
     r", line 2, field 'labels\[1\]': expected true/false, found 'no'"),
    ("wrong-type-steps", D / "bbm/bad_steps_type.jsonl", [],
     r", line 1, field 'steps': expected a list, found a string"),
    ("missing-field", D / "processbench/bad_missing_field.jsonl", [],
     r", line 2, field 'problem': missing field"),
    ("missing-mapped-column", D / "generic/valid.csv",
     ["--format", "generic", "--map", "problem=question", "--map", "steps=solutions"],
     r", field 'solutions': mapped column not in the file"),
    ("empty-step-list", D / "processbench/bad_empty_steps.jsonl", [],
     r", line 2, field 'steps': empty step list"),
    ("empty-solution", D / "gsm8k-solutions/bad_empty_solution.jsonl", [],
     r", line 2, field '6b_finetuning.solution': empty solution \(no steps\)"),
    ("first-error-out-of-range", D / "processbench/bad_label_range.jsonl", [],
     r", line 3, field 'label': first-error index 3 is out of range for 3 steps \(0-based\)"),
    ("mistake-index-out-of-range", D / "bbm/bad_mistake_index.jsonl", [],
     r", line 2, field 'mistake_index': index 3 is out of range for 3 steps \(0-based\)"),
    ("error-steps-out-of-range-1-based", D / "prmbench/bad_error_steps.jsonl", [],
     r", line 2, field 'error_steps': expected 1-based step numbers, found 0"),
    ("first-error-out-of-range-csv", D / "generic/bad_first_error.csv",
     [*CSV_MAP, "--map", "first_error=first_error_step", "--option", "first_error_base=1", "--option", "no_error=N/A"],
     r", row 2, field 'first_error_step': step 7 \(first_error_base 1\) is out of range for 3 steps"),
    ("duplicate-ids", D / "processbench/bad_duplicate_id.jsonl", [],
     r", line 3, field 'id': duplicate id 'pb-0' \(first on line 1\)"),
    ("non-utf8", D / "processbench/bad_utf8.jsonl", [], r", line 2: not valid UTF-8"),
    ("truncated-jsonl", D / "processbench/bad_truncated.jsonl", [], r", line 3: malformed JSON \(Unterminated string"),
    ("truncated-json-array", D / "processbench/bad_truncated.json", [], r", line \d+: malformed or truncated JSON"),
    ("truncated-csv-row", D / "generic/bad_row_width.csv", CSV_MAP,
     r", row 2: 5 fields where the header has 11 \(truncated row"),
    ("empty-file", D / "processbench/bad_empty.jsonl", [], r": the file is empty"),
    ("wrong-format", D / "processbench/bad_wrong_format.txt", [],
     r": no known format matches \(tried processbench, .*\); choose one with --format"),
    ("wrong-format-forced", D / "bbm/multistep_arithmetic.jsonl", ["--format", "processbench"],
     r", line 1, field 'label': missing field"),
    ("label-mismatch", D / "math-shepherd/bad_label_mismatch.jsonl", [],
     r", line 2, field 'label': does not match 'input' at step 1"),
    ("bad-chosen-completion", D / "prm800k/bad_chosen_completion.jsonl", [],
     r", line 2, field 'label.steps\[0\].chosen_completion': 3 is not an index into 1 completions"),
    ("bad-rating", D / "prm800k/bad_rating.jsonl", [],
     r", line 1, field 'label.steps\[2\].rating': expected -1, 0, 1 or null, found 2"),
    ("unknown-option", D / "processbench/valid.jsonl", ["--option", "splt=x"],
     r", field 'options': unknown option\(s\) splt; this format takes: on_error, records, split"),
    ("nested-first-error", D / "nested/bad_first_error.json",
     ["--format", "generic", "--option", "records=*", "--map", "problem=question", "--map", "steps=model_output",
      "--map", "first_error=m_first_error_step", "--option", "first_error_base=1", "--option", "no_error=N/A"],
     r", record 3, field 'm_first_error_step': step 7 \(first_error_base 1\) is out of range for 3 steps"),
    ("step-lines-inner-item", D / "step-lines/bad_inner_item.jsonl",
     ["--format", "generic", "--map", "problem=problem", "--map", "steps=steps_lines"],
     r", line 2, field 'steps_lines\[1\]\[1\]': expected a line of text, found an integer"),
    ("step-label-missing", D / "step-markers/bad_label.jsonl",
     ["--format", "generic", "--map", "problem=question", "--map", "steps=solution", "--map", "first_error=first_error",
      "--option", "split_rule=step_markers", "--option", "first_error_base=1", "--option", "no_error=N/A",
      "--option", "first_error_ref=step_label"],
     r", line 2, field 'first_error': no step is labelled 'Step 9' among the 4 steps"),
    ("error-steps-past-end", D / "error-steps/bad_past_end.jsonl",
     ["--format", "generic", "--map", "problem=q", "--map", "steps=steps", "--map", "error_steps=error_steps",
      "--option", "first_error_base=1"],
     r", line 2, field 'error_steps': step 3 \(first_error_base 1\) is out of range for 2 steps"),
    ("step-row-rating", D / "step-rows/bad_rating.parquet", ["--format", "generic", "--option", "preset=prm800k-steps"],
     r", row 5, field 'rating': unknown step label 5 \(label_scheme pm1\)"),
    ("truncated-gzip", D / "processbench/bad_truncated.jsonl.gz", [],
     r": the compressed file is corrupt or truncated \("),
]
IDS = [c[0] for c in CASES]


def _api_args(cli: list[str]) -> tuple[str | None, dict]:
    """The import_file arguments equivalent to the CLI arguments of a case."""
    from prm_viewer.cli import build_parser
    from prm_viewer.cli.options import options_from_cli

    ns = build_parser().parse_args(["import", "X", *cli])
    return ns.format, options_from_cli(ns.map or [], ns.option or [])


@pytest.fixture
def populated(store: Store) -> Store:
    """A store that already holds data, so 'unchanged' means more than 'still empty'."""
    import_file(store, TEST_DATA / "processbench" / "valid.json")
    import_file(store, TEST_DATA / "generic" / "valid.csv", fmt="generic", options={
        "map": {"problem": "question", "steps": "solution", "scores.ext_prm": "prm_scores"}, "split_rule": "blankline"})
    return store


def test_every_bad_sample_file_is_covered() -> None:
    covered = {c[1] for c in CASES}
    assert set(TEST_DATA.glob("*/bad_*")) <= covered


@pytest.mark.parametrize(("case", "path", "cli", "pattern"), CASES, ids=IDS)
def test_bad_input_api(populated: Store, case: str, path: Path, cli: list[str], pattern: str) -> None:
    fmt, options = _api_args(cli)
    before = snapshot(populated)
    version = populated.data_version()
    with pytest.raises(PrmViewerError) as info:
        import_file(populated, path, fmt=fmt, options=options)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    assert "\n" not in msg
    import re
    assert re.match(re.escape(str(path)) + pattern, msg), msg
    assert snapshot(populated) == before
    assert populated.data_version() == version


def test_bad_input_cli(tmp_path: Path) -> None:
    """Every case through ``python -m prm_viewer import`` in one subprocess per case."""
    db = tmp_path / "cli.duckdb"
    with Store(db) as s:
        import_file(s, TEST_DATA / "processbench" / "valid.json")
        before = snapshot(s)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    import re
    for case, path, cli, pattern in CASES:
        proc = subprocess.run([sys.executable, "-m", "prm_viewer", "--db", str(db), "import", str(path), *cli],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert proc.returncode == 2, (case, proc.stderr)
        assert "Traceback" not in proc.stderr, case
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (case, proc.stderr)
        assert re.match("error: " + re.escape(str(path)) + pattern, lines[0]), (case, lines[0])
        assert proc.stdout == "", case
    with Store(db) as s:
        assert snapshot(s) == before


def test_truncated_parquet_and_non_utf8_csv(populated: Store, tmp_path: Path) -> None:
    src = TEST_DATA / "trl-stepwise" / "valid.parquet"
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(src.read_bytes()[:-40])
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(b'q,s\nA,"[""a""]"\nB,"[""b\xe9""]"\n')
    before = snapshot(populated)
    with pytest.raises(PrmViewerError, match=r"cut.parquet: not a readable Parquet file"):
        import_file(populated, cut)
    with pytest.raises(PrmViewerError, match=r"cut.parquet: not a readable Parquet file"):
        import_file(populated, cut, fmt="trl-stepwise")
    with pytest.raises(PrmViewerError, match=r"bad.csv, row 2: not valid UTF-8"):
        import_file(populated, bad_csv, fmt="generic", options={"map": {"problem": "q", "steps": "s"}})
    assert snapshot(populated) == before


def test_non_utf8_inside_a_json_array(populated: Store, tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b'[\n {"id": "a", "problem": "p", "steps": ["x"], "label": -1},\n'
                     b' {"id": "b", "problem": "p\xff", "steps": ["x"], "label": -1}\n]\n')
    before = snapshot(populated)
    with pytest.raises(PrmViewerError, match=r"a.json, line 3: not valid UTF-8"):
        import_file(populated, path)
    assert snapshot(populated) == before


def test_failure_after_a_flushed_batch_rolls_back_everything(populated: Store, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad record after earlier batches were written: the whole import is undone."""
    import json

    from prm_viewer import ingest

    monkeypatch.setattr(ingest, "BATCH_STEPS", 2)  # flush after every trace
    path = tmp_path / "late.jsonl"
    good = [{"id": f"t{i}", "problem": f"P{i}", "steps": ["a", "b"], "label": -1} for i in range(5)]
    path.write_text("\n".join(json.dumps(r) for r in good) + '\n{"id": "t5", "problem": "P5", "steps": [], "label": -1}\n')
    before = snapshot(populated)
    with pytest.raises(PrmViewerError, match=r"late.jsonl, line 6, field 'steps': empty step list"):
        import_file(populated, path)
    assert snapshot(populated) == before
