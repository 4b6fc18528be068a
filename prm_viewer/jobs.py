"""Scoring jobs: one scorer x one dataset, run by a worker process, owned by the store's owner.

The database owner (the app, or the CLI when the app is not running) is the only process that
opens the DuckDB file. A :class:`JobRunner` in that process:

- ``submit(scorer, dataset) -> job_id`` writes the job folder ``<jobs_dir>/<job_id>/`` (the
  contract is ``jobfolder.py``: a versioned spec naming its kind, the input Parquet) and a
  ``queued`` row;
- ``poll()`` launches queued jobs (at most ``max_workers`` at once) as
  ``python -m <the kind's worker module> --job DIR``, ingests new result shards idempotently
  (``store.insert_step_scores``: ON CONFLICT DO NOTHING), copies ``progress.json`` into the row
  and, when a worker exits, records done / failed (with the reason) / cancelled and timings;
- ``cancel(job_id)``, ``retry(job_id)`` (failed or cancelled jobs resume, keeping their scores);
- ``resume()`` at start-up: jobs left ``running`` by a previous owner are re-queued (or adopted,
  when their worker is still alive) and run again; the worker skips traces already in shards;
- ``start()`` / ``stop()``: a daemon thread calling ``poll()`` every second, for the Streamlit
  app (the Jobs page only reads the table: ``queries.jobs(store)``);
- ``wait(job_id, on_progress)``: poll until the job ends (the CLI's foreground ``score``).

Why no queue library: the durable queue IS the ``jobs`` table plus the job folders, and the
transport is Parquet files, which the architecture requires anyway (a worker may run on another
machine with the same folder). Celery/RQ/Huey would add a broker process (Redis, a second
database) without removing any of that; ``subprocess`` with ``start_new_session`` gives process
isolation (a GPU crash or OOM kills the worker, not the app) and killing by pid gives cancel.

Job ids are deterministic (scorer x dataset), so scoring the same pair again resumes or reuses
the same job instead of scoring twice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prm_viewer import jobfolder as jf
from prm_viewer import settings
from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.jobfolder import JobSpec, ScorePayload
from prm_viewer.store import Store

STATUSES = ("queued", "running", "interrupted", "done", "failed", "cancelled")
# "interrupted": the worker died without a status while no owner watched it (both killed);
# resume() (and the app at start) runs it again, retry() too.
FINISHED = jf.FINAL_STATES


def job_key(scorer_id: str, dataset_id: str) -> str:
    """The deterministic id of the job scoring ``dataset_id`` with ``scorer_id``."""
    return "j-" + hashlib.sha256(f"{scorer_id}\0{dataset_id}".encode()).hexdigest()[:12]


def _pid_alive(pid: int | None, job_dir: str | None) -> bool:
    """Whether ``pid`` is a live worker of this job folder (pids get reused: check the command)."""
    if not pid:
        return False
    try:
        import psutil

        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmd = " ".join(proc.cmdline())
        return "worker" in cmd and (job_dir is None or str(job_dir) in cmd)
    except Exception:  # no such process, access denied, psutil missing
        return False


class JobRunner:
    """Launches and monitors scoring workers for one store (see the module docstring)."""

    def __init__(self, store: Store, jobs_root: str | Path | None = None, max_workers: int | None = None,
                 python: str | None = None) -> None:
        self.store = store
        self.root = Path(jobs_root) if jobs_root else settings.jobs_dir(store.path)
        self.max_workers = int(max_workers or settings.get("max_workers"))
        self.python = python or sys.executable
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._ingested: dict[str, set[str]] = {}
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ public API

    def submit(self, scorer: str, dataset: str, shard_traces: int = 256) -> str:
        """Queue scoring of ``dataset`` (name or id) by ``scorer`` (name or id); returns the job id.

        The same pair again: a queued/running/done job is returned as it is; a failed or
        cancelled one is re-queued (resuming)."""
        from prm_viewer import queries
        from prm_viewer.scoring.scorers import scorer_spec

        sc = self.store.resolve_scorer(scorer)
        ds = self.store.resolve_dataset(dataset)
        spec = scorer_spec(sc)
        job_id = job_key(sc["scorer_id"], ds["dataset_id"])
        with self._lock:
            existing = self.store.get_job(job_id)
            if existing is not None:
                if existing["status"] in ("failed", "cancelled", "interrupted"):
                    self.retry(job_id)
                return job_id
            job_dir = self.root / job_id
            if job_dir.exists():  # a folder left without a row (e.g. the dataset was deleted): start clean
                shutil.rmtree(job_dir)
            traces = queries.scoring_traces(self.store, ds["dataset_id"])
            payload = ScorePayload(scorer_id=sc["scorer_id"], dataset_id=ds["dataset_id"], scorer=spec.to_dict(),
                                   shard_traces=int(shard_traces))
            jf.create(job_dir, JobSpec(job_id=job_id, payload=payload), traces)
            self.store.insert_job({"job_id": job_id, "scorer_id": sc["scorer_id"], "dataset_id": ds["dataset_id"],
                                   "status": "queued", "job_dir": str(job_dir), "traces_total": traces.num_rows})
        return job_id

    def refresh(self) -> None:
        """Ingest new shards and record finished workers, launching nothing."""
        with self._lock:
            for job in self.store.jobs_with_status(["running"]):
                self._watch(job)

    def poll(self) -> list[dict[str, Any]]:
        """One monitoring round: ingest, record exits, launch queued jobs. Returns active jobs."""
        with self._lock:
            self.refresh()
            running = len(self.store.jobs_with_status(["running"]))
            for job in self.store.jobs_with_status(["queued"]):
                if running >= self.max_workers:
                    break
                running += self._launch(job)
            return self.store.jobs_with_status(["queued", "running"])

    def cancel(self, job_id: str) -> None:
        """Stop a queued or running job; scores already ingested stay."""
        with self._lock:
            job = self._job(job_id)
            if job["status"] in FINISHED:
                return
            jf.request_cancel(Path(job["job_dir"]))
            proc = self._procs.pop(job_id, None)
            if proc is not None:
                _terminate(proc.pid)
                proc.wait(timeout=30)
            elif _pid_alive(job["pid"], job["job_dir"]):
                _terminate(int(job["pid"]))
            self._ingest(job)
            self.store.update_job(job_id, status="cancelled", finished_at=True, pid=None, eta_s=None)

    def retry(self, job_id: str) -> None:
        """Re-queue a failed or cancelled job; it resumes after the traces already scored."""
        with self._lock:
            job = self._job(job_id)
            if job["status"] not in ("failed", "cancelled", "interrupted"):
                raise PrmViewerError(f"job {job_id} is {job['status']}; only failed, cancelled or interrupted jobs "
                                     "can be retried")
            jf.clear_cancel(Path(job["job_dir"]))
            self.store.update_job(job_id, status="queued", error=None, finished_at=None, pid=None)

    def resume(self) -> list[str]:
        """At start-up: adopt live workers of ``running`` jobs, re-queue the rest and the
        ``interrupted`` ones; returns the ids."""
        out: list[str] = []
        with self._lock:
            for job in self.store.jobs_with_status(["running", "interrupted"]):
                if job["status"] == "interrupted" or not _pid_alive(job["pid"], job["job_dir"]):
                    self._ingest(job)
                    self.store.update_job(job["job_id"], status="queued", pid=None)
                out.append(job["job_id"])
            out += [j["job_id"] for j in self.store.jobs_with_status(["queued"]) if j["job_id"] not in out]
        return out

    def wait(self, job_id: str, on_progress: Callable[[dict[str, Any]], None] | None = None,
             interval: float = 0.5) -> dict[str, Any]:
        """Poll until ``job_id`` finishes; returns its final row."""
        while True:
            self.poll()
            job = self._job(job_id)
            if on_progress:
                on_progress(job)
            if job["status"] in FINISHED or job["status"] == "interrupted":
                return job
            time.sleep(interval)

    def start(self, interval: float = 1.0) -> None:
        """Poll in a daemon thread (for the app); idempotent."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.poll()
                except Exception:  # keep monitoring; the error shows in the app's log
                    import logging

                    logging.getLogger(__name__).exception("job runner poll failed")

        self._thread = threading.Thread(target=loop, name="prm-viewer-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the polling thread (waits up to 5 s)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def progress(self, job_id: str) -> dict[str, Any]:
        """The worker's latest progress record as a dict (empty when none yet)."""
        return load_progress(self._job(job_id)["job_dir"])

    # ------------------------------------------------------------------ internals

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFound(f"no job '{job_id}'")
        return job

    def _launch(self, job: dict[str, Any]) -> bool:
        """Start the job's worker; ``False`` when the folder cannot be run (the job fails)."""
        job_dir = Path(job["job_dir"])
        try:
            module = jf.read_spec(job_dir).payload.worker_module  # the kind's worker
        except PrmViewerError as exc:  # no spec, or one written by a newer prm_viewer: the job cannot run here
            self.store.update_job(job["job_id"], status="failed", error=str(exc), finished_at=True, pid=None)
            return False
        jf.clear_status(job_dir)
        jf.clear_cancel(job_dir)
        log = open(jf.log_path(job_dir), "ab")
        env = dict(os.environ)
        # the worker imports prm_viewer from the same tree as this process
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            proc = subprocess.Popen(
                [self.python, "-m", module, "--job", str(job_dir)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,  # Ctrl-C in a terminal or a Streamlit rerun does not reach it
            )
        finally:
            log.close()
        self._procs[job["job_id"]] = proc
        self.store.update_job(job["job_id"], status="running", pid=proc.pid, started_at=True, finished_at=None, error=None)
        return True

    def _ingest(self, job: dict[str, Any], **fields: Any) -> None:
        """Add the scores of shards not ingested yet by this runner (idempotent anyway) and set
        ``fields`` in the same transaction."""
        if job.get("kind") == "generate":  # job-kind dispatch: generation jobs write a dataset when done
            self._ingest_generation(job, **fields)
            return
        job_dir = Path(job["job_dir"])
        seen = self._ingested.setdefault(job["job_id"], set())
        for name, table in jf.iter_shards(job_dir, skip=seen):
            self.store.update_job(job["job_id"], ingest=table)
            seen.add(name)
        update = {**_progress_fields(job_dir), **fields}
        if update:
            self.store.update_job(job["job_id"], **update)

    def _watch(self, job: dict[str, Any]) -> None:
        job_id = job["job_id"]
        proc = self._procs.get(job_id)
        if proc is not None:
            code = proc.poll()
            alive = code is None
        else:  # adopted from a previous owner: no exit code, only the pid
            code = None
            alive = _pid_alive(job["pid"], job["job_dir"])
        self._ingest(job)
        if alive:
            return
        self._procs.pop(job_id, None)
        status = jf.read_status(Path(job["job_dir"]))
        if status is not None and status.state in FINISHED:
            state, error = status.state, status.error
        elif code is not None and code < 0:
            sig = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -code == signal.SIGKILL else ""
            state, error = "failed", f"the worker was killed by {sig}{hint}; scores written so far are kept, retry resumes"
        elif code is None:  # adopted (no exit code): its worker died with the previous owner
            state, error = "interrupted", "the worker stopped without a status (killed with its owner?); resume runs it again"
        else:
            state, error = "failed", f"the worker exited (code {code}) without a status; see {jf.log_path(job['job_dir'])}"
        done = state == "done"
        self._ingest(job, status=state, error=error, finished_at=True, pid=None,
                     **({"traces_done": job["traces_total"], "eta_s": 0.0} if done else {}))

    def _ingest_generation(self, job: dict[str, Any], **fields: Any) -> None:
        """A ``generate`` job: copy progress into the row; when it is done, write its dataset and
        the final fields in one transaction (a failure to write fails the job with the reason)."""
        from prm_viewer.generation.dataset import write_job_dataset

        update = {**_progress_fields(Path(job["job_dir"])), **fields}
        if update.get("status") != "done":
            if update:
                self.store.update_job(job["job_id"], **update)
            return
        try:
            write_job_dataset(self.store, job, **update)
        except PrmViewerError as exc:
            self.store.update_job(job["job_id"], **{**update, "status": "failed", "error": f"writing the dataset: {exc}"})


def _progress_fields(job_dir: Path) -> dict[str, Any]:
    """The job-row fields a worker's ``progress.json`` sets (the ones it has reported so far)."""
    prog = jf.read_progress(job_dir)
    if prog is None:
        return {}
    return {k: v for k, v in (("traces_done", prog.traces_done), ("tokens_per_s", prog.tokens_per_s),
                              ("eta_s", prog.eta_s), ("device", prog.device), ("dtype", prog.dtype))
            if v is not None}


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def job_summary(job: dict[str, Any]) -> str:
    """One line for people."""
    done, total = job.get("traces_done") or 0, job.get("traces_total") or 0
    text = f"job {job['job_id']}: {job['status']}, {done}/{total} traces"
    if job.get("device"):
        text += f" on {job['device']}" + (f" ({job['dtype']})" if job.get("dtype") else "")
    if job.get("error"):
        text += f": {job['error']}"
    return text


def load_progress(job_dir: str | Path) -> dict[str, Any]:
    """The worker's latest progress record of ``job_dir`` as a dict (empty when none yet); the
    keys are ``jobfolder.Progress``'s fields."""
    prog = jf.read_progress(Path(job_dir))
    return prog.to_dict() if prog is not None else {}


__all__ = ["FINISHED", "STATUSES", "JobRunner", "job_key", "job_summary", "load_progress"]
