"""Scoring fixtures: the tiny checkpoints are built once per test session (see tiny_models.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scoring import tiny_models


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{name: folder}`` of the tiny checkpoints (qwen-tokcls, qwen-prm, shepherd, rlhflow)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    return tiny_models.build_all(tmp_path_factory.mktemp("tiny-checkpoints"))
