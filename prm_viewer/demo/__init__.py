"""The embedded synthetic demo: what a new user sees on an empty store.

``load_demo(store)`` generates two synthetic policies' traces on the same exactly-checkable
arithmetic problems (``tasks.py``, ``traces.py``), writes them as JSONL files beside the store,
imports them through the normal import path (``ingest.import_file`` with the demo reader), and
adds step scores from two scorers: the exact ``verifier`` (``verifier.py``) and a clearly named
noisy stand-in for a PRM. Everything is deterministic (fixed seeds) and flagged synthetic.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from prm_viewer.demo.tasks import Task, make_tasks
from prm_viewer.demo.traces import POLICIES, Policy, generate_records
from prm_viewer.demo.verifier import verify_steps
from prm_viewer.store import Store

__all__ = ["load_demo", "demo_records", "verify_steps", "VERIFIER_SCORER", "SYNTHETIC_PRM_SCORER"]

TASK_SEED = 7
PRM_SEED = 303

VERIFIER_SCORER: dict[str, Any] = {
    "scorer_id": "demo-verifier",
    "name": "verifier (demo)",
    "recipe": "verifier",
    "backend": None,
    "options": {"checks": "prm_viewer.demo.verifier.verify_steps", "score": "1.0 valid, 0.0 invalid"},
    "threshold": 0.5,
    "synthetic": True,
}
SYNTHETIC_PRM_SCORER: dict[str, Any] = {
    "scorer_id": "demo-synthetic-prm",
    "name": "synthetic-prm (demo)",
    "recipe": "synthetic",
    "backend": None,
    "options": {
        "what": "NOT a model: scores drawn around the gold step labels with noise, noisier out of domain",
        "seed": PRM_SEED,
    },
    "threshold": 0.5,
    "synthetic": True,
}

# Beta(a, b) of the synthetic PRM's score for a (correct, wrong) step, by split: it is
# well separated in domain and blurred out of domain, so generalisation views show a gap.
_PRM_BETA: dict[str, dict[int, tuple[float, float]]] = {
    "in_domain": {1: (8.0, 2.0), -1: (2.0, 8.0)},
    "out_of_domain": {1: (5.0, 2.5), -1: (3.0, 3.5)},
}


def demo_records(tasks: list[Task] | None = None) -> list[tuple[Policy, list[dict[str, Any]]]]:
    """Every demo record, per policy (deterministic)."""
    tasks = tasks if tasks is not None else make_tasks(TASK_SEED)
    return [(p, generate_records(p, tasks)) for p in POLICIES]


def synthetic_prm_scores(record: dict[str, Any]) -> list[float]:
    """The noisy stand-in PRM's step scores for one record (seeded by the trace id)."""
    rng = random.Random(f"{PRM_SEED}:{record['id']}")
    beta = _PRM_BETA[record["split"]]
    return [round(rng.betavariate(*beta[label]), 6) for label in record["step_labels"]]


def demo_dir(store: Store) -> Path:
    """Where the generated demo files are written: a ``demo`` folder beside the store."""
    return store.path.parent / "demo"


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    # Same content every time -> same file hash -> the import is recognised as already done.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)


def load_demo(store: Store) -> list[str]:
    """Add the synthetic demo to the store; returns the names of datasets added (empty when
    it is already there). Scores missing from an earlier, interrupted load are filled in."""
    import pyarrow as pa

    from prm_viewer.demo.format import DemoFormat
    from prm_viewer.ingest import import_file

    added: list[str] = []
    fmt = DemoFormat()
    store.upsert_scorer(VERIFIER_SCORER)
    store.upsert_scorer(SYNTHETIC_PRM_SCORER)
    for policy, records in demo_records():
        path = demo_dir(store) / f"{policy.dataset}.jsonl"
        _write_jsonl(path, records)
        report = import_file(
            store, path, fmt=fmt, name=policy.dataset, synthetic=True,
            tags={"process_reward": policy.key, "synthetic": "demo", "policy": policy.generator},
        )
        if not report.already_present:
            added.append(report.name)
        trace_ids: list[str] = []
        step_idx: list[int] = []
        verifier: list[float] = []
        prm: list[float] = []
        for ordinal, rec in enumerate(records):
            n = len(rec["steps"])
            trace_ids.extend([f"{report.dataset_id}-{ordinal}"] * n)
            step_idx.extend(range(n))
            verifier.extend(1.0 if ok else 0.0 for ok in verify_steps(rec["problem"], rec["steps"]))
            prm.extend(synthetic_prm_scores(rec))
        with store.transaction():  # both scorers' scores or neither
            for scorer, values in ((VERIFIER_SCORER, verifier), (SYNTHETIC_PRM_SCORER, prm)):
                store.insert_step_scores(pa.table({
                    "scorer_id": [scorer["scorer_id"]] * len(values),
                    "trace_id": trace_ids,
                    "step_idx": pa.array(step_idx, pa.int32()),
                    "score": pa.array(values, pa.float64()),
                    "raw": pa.array(values, pa.float64()),
                    "note": pa.nulls(len(values), pa.string()),
                }))
    return added
