"""The training stages: tokenizer, SFT policy, tiny PRM, and the two RL runs from one start.

Each stage writes a normal checkpoint folder under ``<out>/checkpoints/`` and returns its curve.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from prm_viewer.demo.verifier import verify_steps
from prm_viewer.experiment import models, policy, trainer
from prm_viewer.experiment.config import ExperimentConfig
from prm_viewer.experiment.prm import DENSE, PrmScorer, class_weights, prm_rows, token_classification_loss
from prm_viewer.experiment.rl import RLSettings, rl_train
from prm_viewer.experiment.tasks import Splits, imperfect_traces, shuffled

RUNS = ("without", "with")
"""RL runs: outcome reward only, and outcome + the tiny PRM's process reward."""


def tokenizer_corpus(splits: Splits, seed: int) -> list[str]:
    """Problem texts of every split, step lines (with injected errors), the chat role names."""
    corpus = [t.text for t in splits.train + splits.test()]
    corpus += ["\n".join(r["steps"]) for r in imperfect_traces(splits.train + splits.test(), 0.5, seed, "tok")]
    return corpus + ["user\nassistant\n"] * 100  # the chat template's role names, one token each


def make_tokenizer(cfg: ExperimentConfig, splits: Splits, folder: Path) -> Any:
    """Trained on the alphabet of every split (problem texts, step lines); the test splits'
    words (``multiply by``) are in the vocabulary, but the models never train on them."""
    tok = models.build_tokenizer(tokenizer_corpus(splits, cfg.seed), cfg.vocab_size)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(folder)
    return tok


def train_sft(cfg: ExperimentConfig, tok: Any, splits: Splits, folder: Path) -> tuple[Any, list[dict[str, float]]]:
    """SFT on imperfect traces (``sft_error_rate`` of them carry an injected error)."""
    records = imperfect_traces(splits.train, cfg.sft_error_rate, cfg.seed + 1, "sft")
    rows = [policy.sft_row(tok, r["problem"], r["steps"]) for r in shuffled(records, cfg.seed)]
    model = models.new_policy(tok, cfg.model, cfg.seed)
    curve = trainer.train(model, rows, tok.pad_token_id, cfg.sft_steps, cfg.sft_lr, cfg.sft_batch, cfg.seed, desc="sft")
    models.save(model, tok, folder)
    return model, curve


def prm_training_traces(cfg: ExperimentConfig, tok: Any, sft_model: Any, splits: Splits) -> list[tuple[str, list[str]]]:
    """Verifier-labelled traces for the PRM: the SFT policy's own samples on ``prm_problems``
    training problems (the errors the RL policies make) plus constructed traces with injected
    errors on the same problems."""
    problems = splits.train[:cfg.prm_problems]
    samples = policy.sample(sft_model, tok, [t.text for t in problems], cfg.prm_policy_samples, 1.0,
                            cfg.rl_max_new_tokens, seed=cfg.seed + 7)
    owners = [t for t in problems for _ in range(cfg.prm_policy_samples)]
    traces = [(t.text, s.steps) for t, s in zip(owners, samples) if s.steps]
    injected = imperfect_traces(problems, cfg.prm_error_rate, cfg.seed + 2, "prm")
    traces += [(r["problem"], r["steps"]) for r in injected]
    return shuffled(traces, cfg.seed + 3)


def train_prm(cfg: ExperimentConfig, tok: Any, sft_model: Any, traces: list[tuple[str, list[str]]],
              folder: Path) -> list[dict[str, float]]:
    """The tiny PRM (qwen-prm layout, body initialised from the SFT policy), trained on the step
    labels at the markers plus, with ``prm_dense_weight``, the per-token targets (``prm.DENSE``)."""
    rows = prm_rows(tok, traces, dense=cfg.prm_dense_weight > 0)
    prm = models.new_prm(tok, sft_model, cfg.model, cfg.seed + 5)
    loss = token_classification_loss(class_weights(rows), cfg.prm_dense_weight, class_weights(rows, offset=DENSE))
    curve = trainer.train(prm, rows, tok.pad_token_id, cfg.prm_steps, cfg.prm_lr, cfg.prm_batch, cfg.seed,
                          compute_loss=loss, desc="prm")
    models.save(prm, tok, folder)
    return curve


def probe(tok: Any, model: Any, tasks: list[Any], seed: int, max_new_tokens: int) -> dict[str, float]:
    """Greedy answers of ``model`` on ``tasks``: share of valid steps (exact verifier), share of
    exactly right answers, share of traces whose every step is valid."""
    from prm_viewer.experiment.tasks import outcome

    samples = policy.sample(model, tok, [t.text for t in tasks], 1, 0.0, max_new_tokens, seed=seed)
    valid = [verify_steps(t.text, s.steps) for t, s in zip(tasks, samples)]
    flat = [ok for v in valid for ok in v]
    return {"problems": float(len(tasks)), "step_valid": float(np.mean(flat)) if flat else 0.0,
            "accuracy": float(np.mean([outcome(t, s.steps) for t, s in zip(tasks, samples)])),
            "clean_traces": float(np.mean([bool(v) and all(v) for v in valid]))}


def label_stats(traces: list[tuple[str, list[str]]]) -> dict[str, float]:
    valid = [ok for p, s in traces for ok in verify_steps(p, s)]
    return {"traces": float(len(traces)), "steps": float(len(valid)), "valid_share": float(np.mean(valid)) if valid else 0.0}


def train_rl(cfg: ExperimentConfig, tok: Any, splits: Splits, sft_dir: Path, prm_dir: Path, run: str,
             folder: Path, on_step: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
    """One RL run from the SFT checkpoint; ``run`` is ``without`` (beta = 0) or ``with``."""
    import torch
    from transformers import AutoModelForCausalLM

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(str(sft_dir)).eval()
    beta = cfg.process_weight if run == "with" else 0.0
    scorer = PrmScorer(prm_dir) if beta else None
    settings = RLSettings(steps=cfg.rl_steps, prompts=cfg.rl_prompts, group=cfg.rl_group, lr=cfg.rl_lr,
                          temperature=cfg.rl_temperature, max_new_tokens=cfg.rl_max_new_tokens, beta=beta,
                          credit=cfg.credit, seed=cfg.seed)
    try:
        curve = rl_train(model, tok, splits.train, settings, scorer.score if scorer else None, on_step)
    finally:
        if scorer:
            scorer.close()
    models.save(model, tok, folder)
    return curve
