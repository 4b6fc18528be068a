"""Step labels through the CLI and the API: per annotator, never touching the imported gold,
undo, first-error semantics, and one-line errors that leave the store unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from prm_viewer import annotation as an
from prm_viewer.cli import main
from prm_viewer.store import Store
from tests.annotation.helpers import build, current, gold_state
from tests.conftest import snapshot


@pytest.fixture
def cli_store(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    db = tmp_path / "s.duckdb"
    with Store(db) as s:
        ids = build(s, tmp_path, labels=False)
    return db, ids


def run(db: Path, *argv: str) -> int:
    return main(["--db", str(db), *argv])


def test_cli_labels_land_per_annotator_and_never_change_the_gold(cli_store, capsys) -> None:
    db, ids = cli_store
    with Store(db) as s:
        before = gold_state(s)
    assert run(db, "label", "--trace", ids["r2"], "--step", "3", "--label", "wrong", "--annotator", "ann",
               "--note", "off by one") == 0
    assert run(db, "label", "--trace", ids["r2"], "--first-error", "1", "--annotator", "zoe") == 0
    assert run(db, "label", "--trace", ids["r0"], "--first-error", "none", "--annotator", "zoe") == 0
    assert run(db, "label", "--trace", ids["r2"], "--step", "0", "--label", "unsure", "--annotator", " ann ") == 0
    with Store(db) as s:
        assert gold_state(s) == before
        # ann: step 3 wrong (with its note), step 0 unsure; the name is stripped.
        assert current(s, "ann") == {(ids["r2"], 3): -1, (ids["r2"], 0): 0}
        # zoe: r2 steps 0 correct, 1 wrong, later steps untouched; r0 every step correct.
        assert current(s, "zoe") == {(ids["r2"], 0): 1, (ids["r2"], 1): -1,
                                     (ids["r0"], 0): 1, (ids["r0"], 1): 1, (ids["r0"], 2): 1}
        lab = an.trace_labels(s, ids["r2"])
        note = lab[(lab["annotator"] == "ann") & (lab["step_idx"] == 3)]["note"].tolist()
        assert note == ["off by one"]
        # The imported gold appears as annotator 'gold' (ProcessBench label 2: steps 0-1 correct, 2 wrong).
        g = lab[lab["annotator"] == "gold"]
        assert list(zip(g["step_idx"], g["label"])) == [(0, 1), (1, 1), (2, -1)]
        assert an.annotators(s) == ["gold", "ann", "zoe"]
    assert "zoe: first error at step 1" in capsys.readouterr().out


def test_undo_removes_exactly_the_latest_action(cli_store) -> None:
    db, ids = cli_store
    run(db, "label", "--trace", ids["r1"], "--step", "0", "--label", "wrong", "--annotator", "a")
    run(db, "label", "--trace", ids["r1"], "--first-error", "2", "--annotator", "a")
    run(db, "label", "--trace", ids["r0"], "--step", "1", "--label", "wrong", "--annotator", "b")
    assert run(db, "label", "--undo", "--annotator", "a") == 0
    with Store(db) as s:
        assert current(s, "a") == {(ids["r1"], 0): -1}   # the first-error action is gone, the first label back
        assert current(s, "b") == {(ids["r0"], 1): -1}   # another annotator is untouched
        assert an.undo_last(s, "a", ids["r0"]) is False  # nothing of a's on r0
        assert an.undo_last(s, "a") is True
        assert current(s, "a") == {}
        assert an.undo_last(s, "a") is False


def test_clear_and_note_keep_the_other_half(store: Store, tmp_path: Path) -> None:
    ids = build(store, tmp_path, labels=False)
    t = ids["r1"]
    an.label_step(store, t, 1, "wrong", "a", note="why")
    an.set_note(store, t, 1, "because", "a")
    an.set_first_error(store, t, 0, "a")          # step 1 untouched by a first error at 0
    lab = an.trace_labels(store, t)
    row = lab[(lab["annotator"] == "a") & (lab["step_idx"] == 1)].iloc[0]
    assert (int(row["label"]), row["note"]) == (-1, "because")
    an.label_step(store, t, 1, None, "a")         # clear the label, keep the note
    lab = an.trace_labels(store, t)
    row = lab[(lab["annotator"] == "a") & (lab["step_idx"] == 1)].iloc[0]
    assert row["label"] is pd_na() and row["note"] == "because"
    an.set_note(store, t, 1, "", "a")             # nothing left: the step drops out of the current labels
    lab = an.trace_labels(store, t)
    assert ((lab["annotator"] == "a") & (lab["step_idx"] == 1)).sum() == 0


def pd_na() -> object:
    import pandas as pd

    return pd.NA


BAD_LABELS = [
    (["--step", "9", "--label", "wrong"], "--step: trace '{r1}' has 3 steps (0-2); there is no step 9"),
    (["--step", "x", "--label", "wrong"], "--step: step 'x' is not a whole number"),
    (["--step", "1", "--label", "bad"], "--label: unknown label 'bad'; choose one of correct, wrong, unsure"),
    (["--first-error", "7"], "--step: trace '{r1}' has 3 steps (0-2); there is no step 7"),
    (["--first-error", "x"], "--first-error takes a step number or 'none', not 'x'"),
    (["--step", "1"], "nothing to do: give --label, --first-error, --note or --undo"),
    (["--label", "wrong"], "--step: needed with --label and --note"),
    (["--trace", "nope", "--step", "0", "--label", "wrong"], "--trace: no trace 'nope'"),
    (["--step", "0", "--label", "wrong", "--annotator", "gold"],
     "--annotator: the annotator name 'gold' is reserved (gold, majority, prefer:NAME); choose another"),
    (["--step", "0", "--label", "wrong", "--annotator", "prefer:x"],
     "--annotator: the annotator name 'prefer:x' is reserved (gold, majority, prefer:NAME); choose another"),
    (["--step", "0", "--label", "wrong", "--annotator", " "], "--annotator: the annotator name is empty; give a name"),
]


def test_bad_label_inputs_are_one_line_and_change_nothing(cli_store, capsys) -> None:
    db, ids = cli_store
    with Store(db) as s:
        before = snapshot(s)
    for argv, message in BAD_LABELS:
        # The later --trace / --annotator win over these defaults (argparse keeps the last).
        assert run(db, "label", "--trace", ids["r1"], "--annotator", "a", *argv) == 2, argv
        assert capsys.readouterr().err.strip().splitlines() == ["error: " + message.format(**ids)], argv
    with Store(db) as s:
        assert snapshot(s) == before
