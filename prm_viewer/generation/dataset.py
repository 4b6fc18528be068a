"""From samples to a dataset: split each completion into steps, tag the run, write it in one
transaction (the owner's side of a ``generate`` job), re-split later into a new dataset, and fill
missing correctness labels of any dataset (``check-answers``).

A generated trace keeps its raw completion in ``metadata`` (``completion``, ``sample_idx``,
``seed``, ``n_tokens``, ``finish_reason``, ``job_id``), so a re-split needs nothing but the store.
Tags: ``checkpoint`` (as given), ``checkpoint_hash`` (content hash or hub commit), ``backend``,
the sampling settings (``n``, ``temperature``, ``top_p``, ``max_new_tokens``, ``seed``) and
``split_rule``; the dataset's ``options.generation`` holds the full provenance (prompt, versions,
device, dtype), like a scorer's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from prm_viewer import jobfolder as jf
from prm_viewer.errors import PrmViewerError
from prm_viewer.generation.steps import split_steps, splitter
from prm_viewer.ingest import STEP_SCHEMA, TRACE_SCHEMA
from prm_viewer.store import Store

FORMAT = "generated"
"""The ``datasets.format`` of generated runs."""


def generated_dataset_id(job_id: str, split_rule: str) -> str:
    """The dataset a job writes with a split rule (the same job and rule: the same dataset)."""
    return "gen-" + hashlib.sha256(f"{job_id}\0{split_rule}".encode()).hexdigest()[:16]


def run_tags(settings: Mapping[str, Any], revision: str | None) -> dict[str, str]:
    """The dataset's tags from a job's settings (strings, as every tag)."""
    s = settings
    tags = {"checkpoint": str(s["checkpoint"]), "backend": str(s.get("backend", "transformers")),
            "split_rule": str(s.get("split_rule", "blankline"))}
    if revision:
        tags["checkpoint_hash"] = revision
    for k in ("n", "temperature", "top_p", "max_new_tokens", "seed"):
        if k in s:
            tags[k] = str(s[k])
    tags.update({str(k): str(v) for k, v in (s.get("tags") or {}).items()})
    return tags


def _tables(rows: Iterable[dict[str, Any]], split: Callable[[str], list[str]]) -> tuple[pa.Table, pa.Table]:
    t: dict[str, list[Any]] = {f.name: [] for f in TRACE_SCHEMA}
    s: dict[str, list[Any]] = {f.name: [] for f in STEP_SCHEMA}
    for ordinal, r in enumerate(rows):
        steps = split(r["completion"]) or [r["completion"].strip()]  # an empty sample is one empty step
        for k, v in (("ordinal", ordinal), ("source_line", None), ("source_id", r["source_id"]),
                     ("problem_id", r["problem_id"]), ("problem", r["problem"]),
                     ("reference_answer", r.get("reference_answer")), ("source_problem_id", r.get("source_problem_id")),
                     ("generator", r.get("generator")), ("final_answer", r.get("final_answer")),
                     ("final_answer_correct", r.get("final_answer_correct")), ("gold_first_error", None),
                     ("error_type", None), ("category", r.get("category")), ("split", r.get("split")),
                     ("n_steps", len(steps)), ("has_step_labels", False),
                     ("metadata", json.dumps(r["metadata"], ensure_ascii=False))):
            t[k].append(v)
        s["ordinal"].extend([ordinal] * len(steps))
        s["step_idx"].extend(range(len(steps)))
        s["text"].extend(steps)
        s["gold_label"].extend([None] * len(steps))
    return pa.table(t, schema=TRACE_SCHEMA), pa.table(s, schema=STEP_SCHEMA)


def job_rows(job_dir: Path, job_id: str) -> list[dict[str, Any]]:
    """The samples of a job folder joined with their problems, ordered by problem then sample."""
    payload = jf.read_spec(job_dir).payload
    assert isinstance(payload, jf.GeneratePayload)
    problems = {p["problem_id"]: (n, p) for n, p in enumerate(jf.read_inputs(job_dir).to_pylist())}
    samples: dict[tuple[str, int], dict[str, Any]] = {}
    for _, shard in jf.iter_generation_shards(job_dir):
        for r in shard.to_pylist():
            samples.setdefault((r["problem_id"], int(r["sample_idx"])), r)  # a key twice: the first shard's
    generator = Path(payload.checkpoint.rstrip("/")).name or payload.checkpoint
    out = []
    for (pid, k), r in sorted(samples.items(), key=lambda kv: (problems[kv[0][0]][0], kv[0][1])):
        p = problems[pid][1]
        out.append({"source_id": f"{pid}#{k}", "problem_id": pid, "problem": p["problem"],
                    "reference_answer": p.get("reference_answer"), "source_problem_id": pid, "generator": generator,
                    "final_answer": r["final_answer"], "final_answer_correct": r["final_answer_correct"],
                    "category": p.get("category"), "split": p.get("split"), "completion": r["completion"],
                    "metadata": {"completion": r["completion"], "sample_idx": k, "seed": r["seed"],
                                 "n_tokens": r["n_tokens"], "finish_reason": r["finish_reason"], "job_id": job_id}})
    return out


def write_job_dataset(store: Store, job: Mapping[str, Any], **job_fields: Any) -> str:
    """Write the dataset of a finished generation job (its settings' split rule and name), and set
    ``job_fields`` on the job, in one transaction; returns the dataset id. Idempotent: a job whose
    dataset exists only gets ``job_fields``."""
    settings = json.loads(job.get("settings") or "{}")
    rule = settings.get("split_rule", "blankline")
    did = generated_dataset_id(job["job_id"], rule)
    if store.dataset_by_hash(did) is not None:
        store.update_job(job["job_id"], **job_fields)
        return did
    job_dir = Path(job["job_dir"])
    prov = jf.read_json(job_dir / jf.PROVENANCE_FILE) or {}
    rows = job_rows(job_dir, job["job_id"])
    if not rows:
        raise PrmViewerError(f"generation job {job['job_id']} produced no samples")
    traces, steps = _tables(rows, splitter(rule))
    content = hashlib.sha256("\0".join(r["completion"] for r in rows).encode()).hexdigest()[:16]
    with store.transaction():
        name = store.unique_dataset_name(settings.get("dataset_name") or job["job_id"])
        store.add_generated_dataset(
            {"dataset_id": did, "name": name, "format": FORMAT, "source_path": str(job_dir), "file_hash": content,
             "options": {"generation": {**settings, **prov, "job_id": job["job_id"]}},
             "tags": run_tags(settings, prov.get("revision"))},
            traces, steps, job_id=job["job_id"], **job_fields)
    return did


def resplit_dataset(store: Store, dataset: str, rule: str, name: str | None = None) -> str:
    """A new dataset with the same samples split by ``rule`` (scores are per dataset, so the old one
    keeps its own); returns its id. Only generated datasets keep the raw text to re-split."""
    from prm_viewer import queries

    splitter(rule)  # a bad rule fails before anything is read
    ds = store.resolve_dataset(dataset)
    if ds["format"] != FORMAT:
        raise PrmViewerError(f"dataset '{ds['name']}' was imported, not generated: only generated datasets keep the "
                             "raw text to split again")
    did = "gen-" + hashlib.sha256(f"{ds['dataset_id']}\0resplit\0{rule}".encode()).hexdigest()[:16]
    if store.dataset_by_hash(did) is not None:
        return did
    df = queries.generated_traces(store, ds["dataset_id"])
    rows = []
    for r in df.to_dict("records"):
        meta = json.loads(r["metadata"] or "{}")
        rows.append({**r, "completion": meta.get("completion", ""), "metadata": meta,
                     "final_answer_correct": None if r["final_answer_correct"] is None or r["final_answer_correct"] != r["final_answer_correct"]
                     else bool(r["final_answer_correct"])})
    traces, steps = _tables(rows, splitter(rule))
    options = json.loads(ds["options"] or "{}")
    options.setdefault("generation", {})["split_rule"] = rule
    tags = {**json.loads(ds["tags"] or "{}"), "split_rule": rule}
    with store.transaction():
        store.add_generated_dataset(
            {"dataset_id": did, "name": store.unique_dataset_name(name or f"{ds['name']}-{rule.split(':')[0]}"),
             "format": FORMAT, "source_path": ds["source_path"], "file_hash": ds["file_hash"], "options": options,
             "tags": tags}, traces, steps)
    return did


def check_dataset_answers(store: Store, dataset: str, timeout: int | None = 5,
                          progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Fill ``final_answer_correct`` of a dataset's traces that have a reference answer and no
    label, with :func:`prm_viewer.answers.check` on each trace's stated answer (else its text).
    Run in a main thread (the CLI): math-verify's time limits need it. Returns counts
    ``checked, correct, wrong, undecided``."""
    from prm_viewer import queries
    from prm_viewer.answers import check, stated_answer

    ds = store.resolve_dataset(dataset)
    df = queries.answer_check_rows(store, ds["dataset_id"])
    ids, answers, verdicts = [], [], []
    for n, r in enumerate(df.to_dict("records")):
        said = r["final_answer"] if isinstance(r["final_answer"], str) and r["final_answer"].strip() else None
        text = said if said is not None else (r["solution"] or "")
        ids.append(r["trace_id"])
        answers.append(said or stated_answer(text))
        verdicts.append(check(r["reference_answer"], text, timeout=timeout))
        if progress:
            progress(n + 1, len(df))
    table = pa.table({"trace_id": pa.array(ids, pa.string()), "final_answer": pa.array(answers, pa.string()),
                      "final_answer_correct": pa.array(verdicts, pa.bool_())})
    store.set_answer_correct(table)
    return {"checked": len(ids), "correct": sum(v is True for v in verdicts),
            "wrong": sum(v is False for v in verdicts), "undecided": sum(v is None for v in verdicts)}


def preview_split(texts: Iterable[str], rule: str) -> list[list[str]]:
    """Each text split by ``rule`` (for the preview before a dataset is written)."""
    return [split_steps(t, rule) for t in texts]


__all__ = ["FORMAT", "check_dataset_answers", "generated_dataset_id", "job_rows", "preview_split", "resplit_dataset",
           "run_tags", "write_job_dataset"]
