"""Small fixtures for the analysis tests: ProcessBench-shaped JSONL files imported through the
real import path, and step scores written through the store's real ingest method."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from prm_viewer.ingest import import_file
from prm_viewer.store import Store


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def import_records(store: Store, tmp_path: Path, name: str, records: list[dict[str, Any]], split: str | None = None) -> str:
    """Import ProcessBench-shaped records as dataset ``name``; returns the dataset id."""
    path = write_jsonl(tmp_path / f"{name}.jsonl", records)
    rep = import_file(store, path, fmt="processbench", name=name, options={"split": split} if split else None)
    return rep.dataset_id


def add_scorer(store: Store, name: str, threshold: float = 0.5, recipe: str = "imported") -> str:
    return store.upsert_scorer({"scorer_id": "sc-" + name, "name": name, "recipe": recipe, "threshold": threshold})


def add_scores(store: Store, scorer_id: str, dataset_id: str, scores: dict[str, list[float | None]]) -> None:
    """``scores``: source id -> per-step scores."""
    ids = dict(store.cursor().execute(
        "SELECT source_id, trace_id FROM traces WHERE dataset_id = ?", [dataset_id]).fetchall())
    rows = [(scorer_id, ids[sid], i, v, v, None) for sid, vals in scores.items() for i, v in enumerate(vals)]
    df = pd.DataFrame(rows, columns=["scorer_id", "trace_id", "step_idx", "score", "raw", "note"])
    df["score"] = df["score"].astype(float)
    df["raw"] = df["raw"].astype(float)
    df["note"] = df["note"].astype(object)
    store.insert_step_scores(df)


def add_critic(store: Store, name: str, dataset_id: str, picks: dict[str, int | None], verdicts: dict[str, str] | None = None) -> str:
    sid = add_scorer(store, name, recipe="critic")
    ids = dict(store.cursor().execute(
        "SELECT source_id, trace_id FROM traces WHERE dataset_id = ?", [dataset_id]).fetchall())
    df = pd.DataFrame([(sid, ids[k], v, (verdicts or {}).get(k), None) for k, v in picks.items()],
                      columns=["scorer_id", "trace_id", "predicted_first_error", "verdict", "raw_output"])
    df["predicted_first_error"] = df["predicted_first_error"].astype("Int64")
    df["raw_output"] = df["raw_output"].astype(object)
    store.insert_trace_scores(df)
    return sid


def pb(id_: str, problem: str, steps: list[str], label: int, correct: bool | None = None, generator: str = "g") -> dict[str, Any]:
    rec: dict[str, Any] = {"id": id_, "generator": generator, "problem": problem, "steps": steps, "label": label}
    rec["final_answer_correct"] = (label == -1) if correct is None else correct
    return rec
