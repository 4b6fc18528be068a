"""The app process's shared objects: the one store, the one job runner, version-keyed caching.

Every page (including the analysis pages) uses these:

- :func:`get_store` -- the ONE :class:`~prm_viewer.store.Store` of this process
  (``st.cache_resource`` keyed on the configured path). On first open of an empty store it
  loads the demo (the experiment's results, else the synthetic demo) when the ``demo_on_empty`` setting is true.
- :func:`get_runner` -- the job runner owned by the app process (scoring runs in worker
  processes, never in the script run).
- :func:`cached` -- call a read function ``fn(store, *args)`` through ``st.cache_data`` keyed on
  ``store.data_version()``, so any committed write invalidates the cached result.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st

from prm_viewer import settings
from prm_viewer.store import Store
from prm_viewer.store.base import APP_HOLDER

if TYPE_CHECKING:
    from prm_viewer.jobs import JobRunner

T = TypeVar("T")


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> Store:
    store = Store(Path(path), owner=f"{APP_HOLDER} (streamlit run app.py)")
    if settings.get("demo_on_empty") and store.is_empty():
        from prm_viewer.experiment.artefacts import load_default_demo

        load_default_demo(store)  # the experiment's real results when built, else the synthetic demo
    return store


def ensure_app_entry() -> None:
    """Make sure this run went through ``app.py`` (login, page config, navigation).

    Streamlit starts in its legacy multipage mode when a ``pages/`` folder exists, and until some
    session has run ``st.navigation`` a deep link such as ``/explorer`` on a fresh server runs
    ``pages/explorer.py`` directly, skipping ``app.py`` (and so the login). Leaving legacy mode and
    rerunning sends this and every later run through ``app.py``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def get_store() -> Store:
    """The app's one store (opened once per process and path)."""
    ensure_app_entry()
    return _open_store(str(settings.db_path().resolve()))


@st.cache_resource(show_spinner=False)
def _make_runner(path: str) -> JobRunner:
    from prm_viewer.jobs import JobRunner

    runner = JobRunner(_open_store(path))
    # A restarted app resumes unfinished jobs; the runner monitors workers in its own thread.
    runner.resume()
    runner.start()
    # Stop polling before the interpreter exits: a thread inside DuckDB at shutdown aborts it.
    atexit.register(runner.stop)
    return runner


def get_runner() -> JobRunner:
    """The job runner owned by this app process."""
    return _make_runner(str(settings.db_path().resolve()))


@st.cache_data(show_spinner=False, max_entries=256)
def _cached_call(module: str, name: str, path: str, version: int, args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]) -> Any:
    fn = getattr(import_module(module), name)
    return fn(_open_store(path), *args, **dict(kwargs))


def cached(fn: Callable[..., T], store: Store, *args: Any, **kwargs: Any) -> T:
    """``fn(store, *args, **kwargs)`` cached until the store's next committed write.

    ``fn`` must be a module-level function (it is looked up by module and name) and its
    arguments hashable by ``st.cache_data``.
    """
    return _cached_call(fn.__module__, fn.__qualname__, str(store.path.resolve()), store.data_version(),
                        args, tuple(sorted(kwargs.items())))
