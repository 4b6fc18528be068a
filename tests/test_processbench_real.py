"""The real ProcessBench files (../shared/data/ProcessBench): all 3,400 traces import, and per
split the counts in the store equal what the JSON itself says."""

from __future__ import annotations

import json
from pathlib import Path

from prm_viewer.ingest import import_file
from prm_viewer.store import Store

SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")


def test_all_splits_match_the_json(store: Store, shared_data: Path) -> None:
    total = 0
    for split in SPLITS:
        path = shared_data / "ProcessBench" / f"{split}.json"
        raw = json.loads(path.read_text(encoding="utf-8"))
        rep = import_file(store, path)
        assert rep.format == "processbench" and not rep.skipped
        cur = store.cursor()
        got = cur.execute(
            """SELECT count(*), count(*) FILTER (WHERE gold_first_error = -1), sum(n_steps),
                      count(*) FILTER (WHERE final_answer_correct), count(DISTINCT generator),
                      min(split), max(split)
               FROM traces WHERE dataset_id = ?""", [rep.dataset_id]).fetchone()
        expected = (len(raw), sum(o["label"] == -1 for o in raw), sum(len(o["steps"]) for o in raw),
                    sum(o["final_answer_correct"] for o in raw), len({o["generator"] for o in raw}), split, split)
        assert got == expected, split
        n_step_rows = cur.execute(
            "SELECT count(*) FROM steps s JOIN traces t USING (trace_id) WHERE t.dataset_id = ?",
            [rep.dataset_id]).fetchone()[0]
        assert n_step_rows == expected[2]
        # Every label, in file order, and a spot check of one step's text.
        labels = [r[0] for r in cur.execute(
            "SELECT gold_first_error FROM traces WHERE dataset_id = ? ORDER BY ordinal", [rep.dataset_id]).fetchall()]
        assert labels == [o["label"] for o in raw]
        mid = len(raw) // 2
        text = cur.execute(
            "SELECT s.text FROM steps s JOIN traces t USING (trace_id) WHERE t.dataset_id = ? AND t.ordinal = ? "
            "AND s.step_idx = ?", [rep.dataset_id, mid, len(raw[mid]["steps"]) - 1]).fetchone()[0]
        assert text == raw[mid]["steps"][-1]
        total += len(raw)
    assert total == 3400
    assert store.cursor().execute("SELECT count(*) FROM traces").fetchone()[0] == 3400
