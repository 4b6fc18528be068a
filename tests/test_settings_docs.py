"""Every setting is documented in the README, and bad values are rejected clearly."""

from __future__ import annotations

import pytest

from prm_viewer import settings
from prm_viewer.errors import PrmViewerError
from tests.conftest import ROOT


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [s.name for s in settings.SETTINGS if f"PRM_VIEWER_{s.name.upper()}" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


def test_env_override_and_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRM_VIEWER_THRESHOLD", "0.25")
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "no")
    assert settings.get("threshold") == 0.25
    assert settings.get("demo_on_empty") is False
    monkeypatch.setenv("PRM_VIEWER_PAGE_SIZE", "many")
    with pytest.raises(PrmViewerError, match="page_size"):
        settings.get("page_size")
    with pytest.raises(PrmViewerError, match="unknown setting"):
        settings.get("nope")
