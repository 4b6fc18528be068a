"""Tiny policies built once per test session (trained for a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.generation.policy_models import build_policy, train_policy


@pytest.fixture(scope="session")
def trained_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_policy(tmp_path_factory.mktemp("policy") / "tiny-policy-trained")


@pytest.fixture(scope="session")
def raw_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_policy(tmp_path_factory.mktemp("policy") / "tiny-policy")
