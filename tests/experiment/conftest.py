"""A tiny tokenizer and models built from configs for the experiment's tests (no downloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prm_viewer.experiment.config import ModelSize
from prm_viewer.experiment.tasks import Splits, make_splits

TINY = ModelSize(hidden=64, layers=2, heads=2, kv_heads=1, intermediate=128, max_positions=512)


@pytest.fixture(scope="session")
def splits() -> Splits:
    return make_splits(3, n_train=60, n_test_in=6, n_test_ood=2)


@pytest.fixture(scope="session")
def tok(splits: Splits) -> Any:
    import torch

    from prm_viewer.experiment import models

    torch.set_num_threads(1)
    from prm_viewer.experiment.train import tokenizer_corpus

    return models.build_tokenizer(tokenizer_corpus(splits, 1), 360)


@pytest.fixture(scope="session")
def prm_dir(tmp_path_factory: pytest.TempPathFactory, tok: Any) -> Path:
    from prm_viewer.experiment import models

    prm = models.new_prm(tok, None, TINY, seed=1)
    return models.save(prm, tok, tmp_path_factory.mktemp("exp") / "tiny-prm")
