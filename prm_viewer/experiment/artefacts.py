"""The experiment's artefacts on disk and how a store gets them without any model code.

``<out>/`` (default ``data/experiment/``, git-ignored):

- ``traces/<name>.jsonl``: the sampled test traces of each policy (and the PRM's held-out set),
  generic-format JSONL with the verifier's gold step labels;
- ``datasets.json``: name, file and tags of each dataset; ``scorers.json``: the scorer rows
  (recipe, checkpoint, provenance); ``scores.parquet``: their step scores keyed by trace id
  (a trace id follows the file's hash and import options, so it is the same in any store);
- ``checkpoints/``: tokenizer, SFT policy, tiny PRM, the two RL policies (normal checkpoint dirs);
- ``results.json``, ``curves.json``, ``run.json`` (settings, timings, versions), ``figures/``;
- ``store/``: the run's own DuckDB store and job folders.

:func:`load_experiment` adds the datasets with their scores to any store (what the app's demo
would call instead of ``demo.load_demo``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prm_viewer import settings
from prm_viewer.errors import NotFound
from prm_viewer.store import Store

DEFAULT_OUT = settings.ROOT / "data" / "experiment"


def save_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    from prm_viewer.analysis.jsonable import jsonable  # NaN -> null, dataclasses and frames -> JSON

    tmp.write_text(json.dumps(jsonable(obj), indent=2, default=str, allow_nan=False), encoding="utf-8")
    tmp.replace(path)


def export_scores(store: Store, out: Path, datasets: list[dict[str, Any]], scorer_ids: list[str]) -> int:
    """Write ``datasets.json``, ``scorers.json`` and ``scores.parquet`` from the run's store."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prm_viewer import queries

    refs = [(d["name"], d["dataset_id"], None) for d in datasets]
    frame = queries.analysis_step_frame(store, refs, scorer_ids)
    table = pa.table({
        "scorer_id": pa.array(frame["scorer_id"].astype(str).tolist(), pa.string()),
        "trace_id": pa.array(frame["trace_id"].astype(str).tolist(), pa.string()),
        "step_idx": pa.array(frame["step_idx"].astype(int).tolist(), pa.int32()),
        "score": pa.array(frame["score"].astype(float).tolist(), pa.float64()),
    })
    pq.write_table(table, out / "scores.parquet")
    rows = []
    for sid in scorer_ids:
        row = dict(store.resolve_scorer(sid))
        rows.append({k: (json.loads(v) if k in ("options", "provenance") and isinstance(v, str) else v)
                     for k, v in row.items() if k != "created_at"})
    save_json(out / "scorers.json", rows)
    save_json(out / "datasets.json", [{k: d[k] for k in ("name", "file", "tags")} for d in datasets])
    return table.num_rows


def load_experiment(store: Store, folder: str | Path | None = None) -> list[str]:
    """Add the experiment's datasets (both policies' test traces and the PRM's held-out set)
    with the tiny PRM's and the verifier's step scores to ``store``; returns the names of
    datasets added (empty when already there). Needs no torch: the scores are read from
    ``scores.parquet``. Raises NotFound when the folder has no finished run."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from prm_viewer.experiment.evaluate import import_traces

    out = Path(folder) if folder else DEFAULT_OUT
    need = [out / n for n in ("datasets.json", "scorers.json", "scores.parquet")]
    missing = [p.name for p in need if not p.is_file()]
    if missing:
        raise NotFound(f"no finished experiment in {out} (missing {', '.join(missing)}); "
                       "run: python -m prm_viewer experiment run")
    datasets = json.loads(need[0].read_text(encoding="utf-8"))
    scorers = json.loads(need[1].read_text(encoding="utf-8"))
    scores = pq.read_table(need[2])
    added: list[str] = []
    with store.transaction():  # all of it or none
        for row in scorers:
            if store.scorer_by_id(row["scorer_id"]) is None:
                store.upsert_scorer(_relocated(row, out))
        for d in datasets:
            existed = {r["name"] for r in _names(store)}
            did = import_traces(store, out / d["file"], d["name"], d["tags"])
            name = store.resolve_dataset(did)["name"]
            if name not in existed:
                added.append(name)
        n = scores.num_rows
        store.insert_step_scores(pa.table({
            "scorer_id": scores.column("scorer_id"), "trace_id": scores.column("trace_id"),
            "step_idx": scores.column("step_idx"), "score": scores.column("score"), "raw": scores.column("score"),
            "note": pa.nulls(n, pa.string()),
        }))
    return added


def has_results(folder: str | Path | None = None) -> bool:
    """Whether ``folder`` (default ``data/experiment/``) holds a finished run's artefacts."""
    out = Path(folder) if folder else DEFAULT_OUT
    return all((out / n).is_file() for n in ("datasets.json", "scorers.json", "scores.parquet"))


def load_default_demo(store: Store, folder: str | Path | None = None) -> list[str]:
    """What an empty store gets as its demo: the experiment's real results when its artefacts
    exist (:func:`load_experiment`), else the synthetic demo (``demo.load_demo``, flagged
    synthetic, the fallback). Returns the names of datasets added."""
    if has_results(folder):
        return load_experiment(store, folder)
    from prm_viewer.demo import load_demo

    return load_demo(store)


def _relocated(row: dict[str, Any], out: Path) -> dict[str, Any]:
    """A scorer row whose checkpoint points into this folder (the run recorded the absolute path
    of the machine it ran on; a clone elsewhere has the checkpoint under ``out/checkpoints``)."""
    ckpt = row.get("checkpoint")
    if not ckpt or Path(ckpt).is_dir():
        return row
    here = out / "checkpoints" / Path(ckpt).name
    if not here.is_dir():
        return row
    options = row.get("options")
    if isinstance(options, dict) and options.get("checkpoint") == ckpt:
        options = {**options, "checkpoint": str(here.resolve())}
    return {**row, "checkpoint": str(here.resolve()), "options": options}


def _names(store: Store) -> list[dict[str, Any]]:
    from prm_viewer import queries

    return [{"name": n} for n in queries.datasets(store)["name"].tolist()]
