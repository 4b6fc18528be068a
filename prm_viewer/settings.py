"""Settings: one table of ``Setting(name, default, help)``.

Each setting can be overridden by an environment variable ``PRM_VIEWER_<NAME>`` (upper case);
the database path also by ``PRM_VIEWER_DB`` and the CLI's ``--db``. Unknown names are rejected.
README.md lists every setting (a test checks that it does).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prm_viewer.errors import PrmViewerError

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    """One configurable value."""

    name: str
    """Lower-case identifier; the environment variable is ``PRM_VIEWER_`` + name upper-cased."""
    default: Any
    """Value used when nothing overrides it; its type is the setting's type."""
    help: str
    """One line shown in the README and ``python -m prm_viewer settings``."""


SETTINGS: tuple[Setting, ...] = (
    Setting("db", str(ROOT / "data" / "prm_viewer.duckdb"), "Path of the DuckDB store (also PRM_VIEWER_DB or --db)."),
    Setting("jobs_dir", "", "Folder for scoring job folders; empty = a 'jobs' folder beside the store."),
    Setting("upload_dir", "", "Folder where uploads are streamed to disk; empty = an 'uploads' folder beside the store."),
    Setting("upload_limit_mb", 1024, "Largest file the upload widget accepts, in MB (also set in .streamlit/config.toml)."),
    Setting("threshold", 0.5, "Default step-score threshold: a step scoring below it is a predicted error."),
    Setting("demo_on_empty", True, "Load the demo (the experiment's results, else the synthetic demo) when the app starts on an empty store."),
    Setting("batch_tokens", 0, "Token budget of one scoring batch (transformers backend); 0 = auto (4096 on CPU, 16384 on GPU)."),
    Setting("page_size", 200, "Rows per page in the Explorer table and heatmap."),
    Setting("max_workers", 1, "Scoring worker processes the app runs at once."),
    Setting("vllm_endpoints", "", "Comma-separated vLLM server URLs that override a vllm-server scorer's own (re-point it)."),
    Setting("vllm_api_key", "", "Bearer token sent to vLLM servers (never stored in the scorer)."),
    Setting("recipe_modules", "", "Comma-separated dotted modules that register plug-in scoring recipes."),
    Setting("trace_page_steps", 25, "Steps per page on the Trace page (a longer trace is paged)."),
    Setting("allow_anonymous", False, "Serve on a non-loopback address without an [auth] login (anyone on the network may use the app)."),
    Setting("admins", "", "Comma-separated e-mails that may register checkpoints and enable trust_remote_code in the app when login is configured."),
    Setting("checkpoint_roots", "", "Comma-separated folders the app accepts checkpoints from (and their subfolders); empty = any path."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, raw: str) -> Any:
    kind = type(setting.default)
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    try:
        return kind(raw)
    except ValueError as exc:
        raise PrmViewerError(f"setting {setting.name}: cannot read {raw!r} as {kind.__name__}") from exc


def get(name: str) -> Any:
    """Return a setting's value (environment override, else default)."""
    setting = _BY_NAME.get(name)
    if setting is None:
        raise PrmViewerError(f"unknown setting '{name}'; known: {', '.join(_BY_NAME)}")
    env = os.environ.get("PRM_VIEWER_" + name.upper())
    if env is None or env == "":
        return setting.default
    return _coerce(setting, env)


def db_path() -> Path:
    """The store path: ``PRM_VIEWER_DB`` or the default."""
    return Path(get("db")).expanduser()


def jobs_dir(db: Path | None = None) -> Path:
    """Where job folders live: the setting, else ``jobs/`` beside the store."""
    value = get("jobs_dir")
    return Path(value) if value else Path(db or db_path()).parent / "jobs"


def upload_dir(db: Path | None = None) -> Path:
    """Where uploads are written: the setting, else ``uploads/`` beside the store."""
    value = get("upload_dir")
    return Path(value) if value else Path(db or db_path()).parent / "uploads"


def list_setting(name: str) -> list[str]:
    """A comma-separated setting as a list of its non-empty, stripped items."""
    return [item.strip() for item in str(get(name)).split(",") if item.strip()]
