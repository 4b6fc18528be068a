"""A tiny tokenizer and models built from configs for the experiment's tests (no downloads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prm_viewer.experiment.config import ModelSize
from prm_viewer.experiment.tasks import Splits, imperfect_traces, make_splits

TINY = ModelSize(hidden=64, layers=2, heads=2, kv_heads=1, intermediate=128, max_positions=512)


@pytest.fixture(scope="session")
def splits() -> Splits:
    return make_splits(3, n_train=60, n_test_in=6, n_test_long=3, n_test_unseen=3)


@pytest.fixture(scope="session")
def tok(splits: Splits) -> Any:
    import torch

    from prm_viewer.experiment import models

    torch.set_num_threads(1)
    corpus = [t.text for t in splits.train + splits.test()]
    corpus += ["\n".join(r["steps"]) for r in imperfect_traces(splits.train, 0.5, 1, "tok")]
    return models.build_tokenizer(corpus, 400)


@pytest.fixture(scope="session")
def prm_dir(tmp_path_factory: pytest.TempPathFactory, tok: Any) -> Path:
    from prm_viewer.experiment import models

    prm = models.new_prm(tok, None, TINY, seed=1)
    return models.save(prm, tok, tmp_path_factory.mktemp("exp") / "tiny-prm")
