"""The worker side of the contract that every job kind shares: take the folder's lock, turn
SIGTERM into a cancel, run the kind's body, and always leave a ``status.json`` that says how it
ended (done, cancelled, or failed with a one-line reason). A kind supplies only its body:
``body(job_dir, payload, progress)``, which writes shards and progress as it goes."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from prm_viewer.errors import PrmViewerError
from prm_viewer.jobfolder.files import LOG_FILE, cancel_requested, clear_status, read_spec, try_lock, write_progress, write_status
from prm_viewer.jobfolder.records import Progress, Status

__all__ = ["EXIT_BUSY", "EXIT_CANCELLED", "EXIT_DONE", "EXIT_FAILED", "Cancelled", "check_cancel", "failure_reason",
           "prepare_worker_process", "run_job_folder"]

EXIT_DONE, EXIT_FAILED, EXIT_CANCELLED, EXIT_BUSY = 0, 3, 4, 5
"""Worker exit codes: done, failed (status says why), cancelled, another worker holds the folder."""

P = TypeVar("P")


class Cancelled(Exception):
    """The job was asked to stop (``CANCEL`` file or SIGTERM)."""


def check_cancel(job_dir: Path) -> None:
    """Raise :class:`Cancelled` when the owner asked this job to stop (call between shards)."""
    if cancel_requested(job_dir):
        raise Cancelled()


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Cancelled()


def failure_reason(exc: BaseException) -> str:
    """The one line a failed job's status carries: a user's error as it is, else the crash."""
    if isinstance(exc, PrmViewerError):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, MemoryError) or "OutOfMemory" in name or "out of memory" in text.lower():
        return f"out of memory ({name}: {first[:200]}); lower --batch-tokens or use a smaller dtype"
    return f"worker crashed: {name}: {first[:300]} (traceback in {LOG_FILE})"


def _finish(job_dir: Path, progress: Progress, state: str, error: str | None) -> None:
    progress.state = state
    if state == "done":
        progress.eta_s = 0.0
    write_progress(job_dir, progress)
    write_status(job_dir, Status(state=state, error=error, device=progress.device, dtype=progress.dtype))


def run_job_folder(job_dir: Path, payload_type: type[P], body: Callable[[Path, P, Progress], Any],
                   worker: str) -> int:
    """Run (or resume) the job in ``job_dir`` whose payload must be a ``payload_type``; returns
    the process exit code (:data:`EXIT_DONE`, ``EXIT_FAILED``, ``EXIT_CANCELLED``, ``EXIT_BUSY``).
    ``worker`` names this worker in messages (e.g. "scoring")."""
    job_dir = Path(job_dir)
    lock = try_lock(job_dir)
    if lock is None:
        print(f"another worker is running the job in {job_dir}", file=sys.stderr)
        return EXIT_BUSY
    # SIGTERM (cancel from the runner) becomes an exception so the status gets written.
    previous = signal.signal(signal.SIGTERM, _on_term)
    progress = Progress(state="starting", pid=os.getpid())
    try:
        clear_status(job_dir)
        spec = read_spec(job_dir)
        if not isinstance(spec.payload, payload_type):
            raise PrmViewerError(f"job folder {job_dir}: the {worker} worker cannot run a '{spec.kind}' job")
        body(job_dir, spec.payload, progress)
        _finish(job_dir, progress, "done", None)
        return EXIT_DONE
    except Cancelled:
        _finish(job_dir, progress, "cancelled", None)
        return EXIT_CANCELLED
    except BaseException as exc:  # the job fails with the reason; shards written so far stay
        traceback.print_exc()
        _finish(job_dir, progress, "failed", failure_reason(exc))
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
        lock.close()


def prepare_worker_process() -> None:
    """A worker is a child process: no tokenizer thread pools, no library progress bars in its log."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
