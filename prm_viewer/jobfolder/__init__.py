"""The job-folder contract: what a worker reads and writes. THE seam between the database owner
(``jobs.py``) and a worker process, which may run on another machine with the same folder.

A job folder ``<jobs_dir>/<job_id>/`` holds::

    spec.json            JobSpec: {version, kind, job_id, <kind>: payload}   (owner writes, once)
    traces.parquet       the input rows (score: trace_id, problem, steps, reference_answer)
    CANCEL               present = the worker stops before its next shard     (owner touches)
    shards/NNNNN.parquet numbered output shards, each complete or absent      (worker writes)
    progress.json        Progress, replaced atomically while the worker runs  (worker writes)
    status.json          Status, written once when the worker exits           (worker writes)
    worker.log           the worker's stdout/stderr (tracebacks of crashes)   (owner redirects)
    worker.lock          an exclusive flock: one worker per folder            (worker holds)

Every file is written to a temporary name and renamed, so a reader never sees half a file and a
worker killed at any point (SIGKILL included) leaves only complete files behind. A restarted
worker reads :func:`done_trace_ids` and skips what the shards already hold, and the owner ingests
shards idempotently, so nothing is lost and nothing is produced twice.

Versioning: ``spec.json``, ``progress.json`` and ``status.json`` carry ``version``
(:data:`CONTRACT_VERSION`). A file without one was written before the contract was versioned and
reads as version 1; a file of a newer version fails with a clear :class:`PrmViewerError` instead
of being half-understood.

Job kinds: the spec's ``kind`` names its payload (:class:`ScorePayload`, :class:`GeneratePayload`).
A new kind (``"train"``) adds a payload dataclass to :data:`PAYLOADS` (``records.py``) and
its output schema (``results.py``); the header, the files and the progress/status records stay the same.

This module imports only the standard library, pyarrow and ``prm_viewer.errors``: a worker of any
kind, or a tool on another machine, can use it without the scoring stack.

The package: ``results.py`` (shard schemas), ``records.py`` (spec/progress/status and payloads),
``files.py`` (atomic files, folder, shards, lock), ``harness.py`` (the worker loop every kind
shares: lock, SIGTERM, status, failure reason); every name is re-exported here, so
``from prm_viewer import jobfolder as jf; jf.NAME`` reaches all of them.
"""

from __future__ import annotations

from prm_viewer.jobfolder.files import *  # noqa: F403
from prm_viewer.jobfolder.files import __all__ as _files_all
from prm_viewer.jobfolder.records import *  # noqa: F403
from prm_viewer.jobfolder.records import __all__ as _records_all
from prm_viewer.jobfolder.results import *  # noqa: F403
from prm_viewer.jobfolder.results import __all__ as _results_all
from prm_viewer.jobfolder.harness import *  # noqa: F403
from prm_viewer.jobfolder.harness import __all__ as _harness_all

__all__ = [*_results_all, *_records_all, *_files_all, *_harness_all]
