"""Submitting a generation job: validate the request, write the job folder, add a queued row.

The owner's :class:`~prm_viewer.jobs.JobRunner` launches it (``poll``), watches it like a scoring
job, and writes the dataset when it is done. The job id is deterministic (problems x checkpoint x
sampling x prompt x backend), so submitting the same request again returns the same job, which
resumes (failed or cancelled) or is already there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from prm_viewer import jobfolder as jf
from prm_viewer import settings as app_settings
from prm_viewer.errors import PrmViewerError
from prm_viewer.generation.dataset import generated_dataset_id
from prm_viewer.generation.policies import POLICY_BACKENDS
from prm_viewer.generation.problems import load_problems
from prm_viewer.generation.prompts import check_template
from prm_viewer.generation.sampling import SamplingSettings
from prm_viewer.generation.steps import DEFAULT_RULE, splitter
from prm_viewer.store import Store


def generation_job_id(problems: pa.Table, payload: jf.GeneratePayload) -> str:
    """Deterministic id of a generation job (everything that changes its samples)."""
    d = {k: v for k, v in payload.__dict__.items() if k not in ("dataset_name", "split_rule", "shard_samples")}
    key = json.dumps(d, sort_keys=True, default=str) + "\0" + "\0".join(problems.column("problem_id").to_pylist())
    return "g-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def submit_generation(store: Store, problems: str | Path | pa.Table, checkpoint: str,
                      sampling: SamplingSettings | Mapping[str, Any] | None = None, *,
                      backend: str = "transformers", dataset_name: str | None = None,
                      prompt_template: str | None = None, system_prompt: str | None = None,
                      use_chat_template: bool = True, split_rule: str = DEFAULT_RULE,
                      tags: Mapping[str, str] | None = None, device: str = "auto", dtype: str = "auto",
                      batch_size: int = 16, backend_options: Mapping[str, Any] | None = None,
                      trust_remote_code: bool = False, mapping: Mapping[str, str] | None = None,
                      limit: int | None = None, shard_samples: int = 64,
                      jobs_root: str | Path | None = None) -> str:
    """Queue sampling of ``checkpoint`` on ``problems`` (a file, ``demo``, a dataset name, or a
    ``generation.problems.PROBLEM_SCHEMA`` table); returns the job id. Run it with a
    ``JobRunner`` (``wait``/``start``); the dataset appears when the job is done."""
    s = sampling if isinstance(sampling, SamplingSettings) else SamplingSettings.from_dict(dict(sampling or {}))
    if backend not in POLICY_BACKENDS:
        raise PrmViewerError(f"unknown generation backend '{backend}'; use one of: {', '.join(POLICY_BACKENDS)}")
    if not str(checkpoint).strip():
        raise PrmViewerError("no checkpoint given")
    splitter(split_rule)
    check_template(prompt_template)
    table, what = load_problems(problems, store, mapping, limit)
    payload = jf.GeneratePayload(
        checkpoint=str(checkpoint), dataset_name=dataset_name or f"gen-{Path(str(checkpoint).rstrip('/')).name}",
        n=s.n, temperature=s.temperature, top_p=s.top_p, max_new_tokens=s.max_new_tokens, seed=s.seed, stop=s.stop,
        prompt_template=prompt_template, system_prompt=system_prompt, use_chat_template=use_chat_template,
        backend=backend, device=device, dtype=dtype, batch_size=int(batch_size),
        backend_options=dict(backend_options or {}), trust_remote_code=trust_remote_code, split_rule=split_rule,
        shard_samples=int(shard_samples))
    job_id = generation_job_id(table, payload)
    existing = store.get_job(job_id)
    if existing is not None:
        if existing["status"] in ("failed", "cancelled"):
            jf.clear_cancel(Path(existing["job_dir"]))
            store.update_job(job_id, status="queued", error=None, finished_at=None, pid=None)
        return job_id
    root = Path(jobs_root) if jobs_root else app_settings.jobs_dir(store.path)
    job_dir = root / job_id
    if job_dir.exists():  # a folder without a row (its dataset was deleted): start clean
        shutil.rmtree(job_dir)
    jf.create(job_dir, jf.JobSpec(job_id=job_id, payload=payload), table)
    settings = {**payload.sampling(), "checkpoint": payload.checkpoint, "backend": backend,
                "dataset_name": payload.dataset_name, "split_rule": split_rule, "prompt_template": prompt_template,
                "system_prompt": system_prompt, "use_chat_template": use_chat_template, "problems": what,
                "n_problems": table.num_rows, "tags": dict(tags or {})}
    store.insert_generation_job({"job_id": job_id, "dataset_id": generated_dataset_id(job_id, split_rule),
                                 "job_dir": str(job_dir), "traces_total": table.num_rows * s.n, "settings": settings})
    return job_id


def set_split_rule(store: Store, job_id: str, rule: str) -> None:
    """Change how a generation job's samples are split, until its dataset is written (afterwards,
    re-split the dataset: ``dataset.resplit_dataset``)."""
    splitter(rule)
    job = store.get_job(job_id)
    if job is None or job.get("kind") != "generate":
        raise PrmViewerError(f"no generation job '{job_id}'")
    if job["status"] == "done":
        raise PrmViewerError(f"job {job_id} has written its dataset already; re-split the dataset instead")
    settings = {**json.loads(job.get("settings") or "{}"), "split_rule": rule}
    store.set_job_settings(job_id, settings, generated_dataset_id(job_id, rule))


__all__ = ["generation_job_id", "set_split_rule", "submit_generation"]
