"""The import's background writer: batches are written while the next is read; an error on
either side leaves the store unchanged, and a good file imports exactly as read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prm_viewer import ingest
from prm_viewer.errors import ImportFailed, PrmViewerError
from prm_viewer.ingest import import_file
from prm_viewer.store import Store
from tests.conftest import snapshot


def _write(path: Path, n: int, bad_at: int | None = None) -> list[dict]:
    recs = [{"id": f"r{i}", "generator": "g", "problem": f"P{i % 7}", "steps": [f"s{i}.{k}" for k in range(1 + i % 4)],
             "final_answer_correct": i % 2 == 0, "label": -1} for i in range(n)]
    lines = [json.dumps(r) for r in recs]
    if bad_at is not None:
        lines[bad_at] = lines[bad_at].replace('"label": -1', '"label": "x"')
    path.write_text("\n".join(lines) + "\n")
    return recs


def test_many_small_batches_import_in_order(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "BATCH_STEPS", 7)  # dozens of batches, each written in the background
    recs = _write(tmp_path / "ok.jsonl", 200)
    rep = import_file(store, tmp_path / "ok.jsonl", fmt="processbench")
    assert (rep.traces, rep.steps) == (200, sum(len(r["steps"]) for r in recs))
    rows = store.cursor().execute(
        "SELECT t.source_id, list(s.text ORDER BY s.step_idx) FROM traces t JOIN steps s USING (trace_id) "
        "GROUP BY t.source_id, t.ordinal ORDER BY t.ordinal").fetchall()
    assert rows == [(r["id"], r["steps"]) for r in recs]


def test_error_after_batches_were_written_leaves_store_unchanged(store: Store, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "BATCH_STEPS", 7)
    import_file(store, Path(__file__).parent / "data" / "processbench" / "valid.jsonl")
    before = snapshot(store)
    _write(tmp_path / "bad.jsonl", 200, bad_at=150)
    with pytest.raises(ImportFailed, match=r"line 151.*'label'"):
        import_file(store, tmp_path / "bad.jsonl", fmt="processbench")
    assert snapshot(store) == before


def test_error_raised_by_the_writer_leaves_store_unchanged(store: Store, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Scores named like an existing model scorer are refused while a batch is written (in the
    # writer thread); the error reaches the caller and the transaction rolls back.
    monkeypatch.setattr(ingest, "BATCH_STEPS", 7)
    store.upsert_scorer({"scorer_id": "model-x", "name": "prm", "recipe": "qwen-prm"})
    before = snapshot(store)
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps({"q": f"P{i}", "s": ["a", "b", "c"], "sc": [0.1, 0.5, 0.9]}) + "\n"
                            for i in range(40)))
    with pytest.raises(PrmViewerError, match="clash with a model scorer"):
        import_file(store, path, fmt="generic", options={"map": {"problem": "q", "steps": "s", "scores.prm": "sc"}})
    assert snapshot(store) == before
