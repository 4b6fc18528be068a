"""The app's one error boundary: every page run (and every fragment rerun) goes through it.

- A :class:`~prm_viewer.errors.PrmViewerError` is the user's problem or the environment's: it is
  shown as one ``st.error`` with the message and, for the common kinds, what to do about it.
- Any other exception is a bug: one ``st.error`` says so (with the exception's type and an id),
  and the traceback goes to the server log (``logging``, logger ``prm_viewer.ui``) under that id.
  Streamlit's own traceback box is never shown.
- Streamlit's control flow passes untouched: ``st.stop()``, ``st.rerun()`` and
  ``st.switch_page()`` raise ``StopException`` / ``RerunException``, which derive from
  ``BaseException`` precisely so that ``except Exception`` does not catch them; a fragment's
  ``FragmentHandledException`` (Streamlit already showed that error) is re-raised as it is.

Pages therefore do not catch ``PrmViewerError`` to show it; they catch it only to do something
more (keep a form on screen, show the error in place and carry on with the rest of the page).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.errors import FragmentHandledException

from prm_viewer.errors import ImportFailed, MissingDependency, NotFound, PrmViewerError, RecipeError, StoreBusy
from prm_viewer.ui.text import plain

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

LOG = logging.getLogger("prm_viewer.ui")

# What to do, by error kind (the first matching class wins; the message says what happened).
HINTS: tuple[tuple[type[PrmViewerError], str], ...] = (
    (StoreBusy, "Let it finish or stop it; then reload this page."),
    (NotFound, "It may have been deleted, or the link is out of date: pick it again on the Library or "
               "Explorer page."),
    (MissingDependency, "Install it on the machine running the app, then restart the app."),
    (ImportFailed, "Fix the file (or the column mapping) and import it again; nothing was stored."),
    (RecipeError, "Check the checkpoint, the recipe and the backend options."),
)


def hint_for(exc: PrmViewerError) -> str | None:
    """What the user can do about ``exc``, or ``None`` when the message says it all."""
    return next((hint for cls, hint in HINTS if isinstance(exc, cls)), None)


def show_user_error(exc: PrmViewerError) -> None:
    """One ``st.error``: the message (as plain text, it may quote file content) and the hint."""
    hint = hint_for(exc)
    st.error(plain(str(exc)) + (f"\n\n{hint}" if hint else ""), icon=":material/error:")


def show_bug(exc: Exception, where: str) -> None:
    """Log the traceback under a short id and show one message naming the bug and the id."""
    bug_id = uuid.uuid4().hex[:8]
    if not LOG.handlers and not logging.getLogger().handlers:
        # Nothing configured logging in this process: make sure the traceback reaches the server log.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        LOG.addHandler(handler)
    LOG.error("bug %s on %s: %s: %s", bug_id, where, type(exc).__name__, exc, exc_info=exc)
    st.error(f"This is a bug in prm_viewer ({type(exc).__name__}), not something you did. Its traceback is "
             f"in the server log under id `{bug_id}`; please report it with what you were doing.",
             icon=":material/bug_report:")


@contextmanager
def error_boundary(where: str = "page") -> Iterator[None]:
    """Run the block; a user error or a bug inside it ends the block with one clean message."""
    try:
        yield
    except FragmentHandledException:
        raise
    except PrmViewerError as exc:
        show_user_error(exc)
    except Exception as exc:  # noqa: BLE001 - the boundary: anything else is a bug, shown as one
        show_bug(exc, where)


def run_page(page: StreamlitPage) -> None:
    """Run the page chosen by ``st.navigation`` inside the boundary."""
    with error_boundary(f"page {page.title!r}"):
        page.run()


def guarded(fn: Callable[[], None]) -> Callable[[], None]:
    """``fn`` inside the boundary, for ``st.fragment`` bodies: a fragment's own reruns do not go
    through the page run, so without this its errors would reach Streamlit's traceback box."""

    @functools.wraps(fn)
    def run() -> None:
        with error_boundary(f"fragment {fn.__qualname__}"):
            fn()

    return run
