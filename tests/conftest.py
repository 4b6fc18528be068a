"""Shared fixtures: a real DuckDB store in tmp_path, paths to sample files and ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from prm_viewer.store import Store

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests using it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent (real public trace sets)")
    return SHARED_DATA


def snapshot(store: Store) -> dict[str, list]:
    """Every row of every table, to assert that a failed operation changed nothing."""
    cur = store.cursor()
    tables = [r[0] for r in cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
    return {t: sorted(map(repr, cur.execute(f"SELECT * FROM {t}").fetchall())) for t in tables if t != "meta"}
