"""Smoke tests of the Localisation and Compare pages with Streamlit's AppTest on the synthetic
demo (two runs tagged process_reward=with/without, two scorers, in/out-of-domain splits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apptest import run_page

demo = pytest.importorskip("prm_viewer.demo")


@pytest.fixture
def demo_db(tmp_path, monkeypatch) -> Path:
    from prm_viewer.store import Store

    path = tmp_path / "demo.duckdb"
    with Store(path) as s:
        demo.load_demo(s)
    monkeypatch.setenv("PRM_VIEWER_DB", str(path))
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "0")
    return path




def test_localisation_page(demo_db):
    at = run_page("localisation.py")
    text = " ".join(m.value for m in at.markdown)
    assert "Reading:" in text and "ProcessBench F1" in text
    assert any("tau =" in c.value for c in at.caption)
    at.radio(key="loc-mode").set_value("tune on a split").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("tuned on split" in c.value for c in at.caption) or at.error


def test_compare_page(demo_db):
    at = run_page("compare.py")
    text = " ".join(m.value for m in at.markdown)
    assert "final-answer accuracy A" in text and "McNemar" in text
    assert len(at.metric) == 4
    assert any(list(d.value.columns) == ["", "B right", "B wrong"] for d in at.dataframe)  # McNemar's table
    assert not any("right_flawed" in d.value.columns for d in at.dataframe)  # other sections are not drawn
    at.button_group(key="cmp-section").set_value("Process quality").run()
    assert any("right_flawed" in d.value.columns for d in at.dataframe)
