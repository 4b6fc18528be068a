"""Run a page of the real app with Streamlit's AppTest, through app.py (so inside the app's error
boundary, as a user gets there), and fail on any exception the page raised."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


def run_page(page: str, timeout: float = 120) -> AppTest:
    """``pages/<page>`` run once through ``app.py``; asserts it raised nothing."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.switch_page(f"pages/{page}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
