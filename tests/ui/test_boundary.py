"""The app's one error boundary (``prm_viewer.ui.boundary``, around the page run in ``app.py``):
a user error is one clean ``st.error`` with what to do, anything else one "this is a bug"
message with its traceback in the server log, and Streamlit's control flow passes untouched."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY_APP = Path(__file__).with_name("boundary_app.py")


def _run(case: str) -> AppTest:
    at = AppTest.from_file(str(BOUNDARY_APP), default_timeout=60)
    at.query_params["case"] = case
    return at.run()


def _texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_a_user_error_is_one_clean_message_with_what_to_do() -> None:
    at = _run("user_error")
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "the store /tmp/x.duckdb is open in another process" in message
    assert "then reload this page" in message  # the hint for StoreBusy
    assert "drawn before the error" in _texts(at)  # what the page drew before stays


def test_a_bug_is_one_message_naming_its_type_and_its_traceback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="prm_viewer.ui"):
        at = _run("bug")
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "This is a bug in prm_viewer (RuntimeError)" in message and "server log" in message
    assert "boom" not in message  # internals go to the log, not the page
    records = [r for r in caplog.records if r.name == "prm_viewer.ui"]
    assert len(records) == 1 and records[0].exc_info is not None
    assert records[0].exc_info[0] is RuntimeError and "boom: an internal detail" in records[0].getMessage()
    bug_id = records[0].getMessage().split()[1]
    assert f"`{bug_id}`" in message  # the page names the log entry


@pytest.mark.parametrize(("case", "shown"), [
    ("stops", "stopped here"),          # st.stop()
    ("reruns", "run 2"),                # st.rerun()
    ("switches", "the page switched to"),  # st.switch_page()
])
def test_streamlit_control_flow_passes_through(case: str, shown: str) -> None:
    at = _run(case)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert shown in _texts(at)
    assert "never drawn" not in _texts(at)


def test_a_fragment_carries_the_boundary_too() -> None:
    at = _run("fragment_error")
    assert not at.exception
    assert [e.value.split("\n")[0] for e in at.error] == ["no trace 'x'"]
    assert "after the fragment" in _texts(at)  # the page goes on after the failed fragment


def test_the_real_app_shows_a_busy_store_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store held by another process (a CLI command, say): the page shows one message naming
    it, not Streamlit's traceback box."""
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from prm_viewer.store import Store
        s = Store({str(db)!r})
        print("ready", flush=True)
        sys.stdin.read()
    """)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("PRM_VIEWER_DB", str(db))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.switch_page("pages/explorer.py")
        at.run()
        assert not at.exception and not at.error
        # one message naming the holder and its pid; the page retries by itself (issue 12, item 3)
        assert len(at.warning) == 1
        assert f"(pid {holder.pid})" in at.warning[0].value and "opens by itself" in at.warning[0].value
    finally:
        holder.communicate("", timeout=30)
