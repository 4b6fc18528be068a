"""The RL loop: a group-baseline policy gradient with optional per-step credit from the PRM.

Each step draws ``rl_prompts`` training problems (the same draws in both runs: the problem
order comes from the seed alone), samples ``rl_group`` answers per problem, rewards each answer
with its exact outcome (1 right answer, 0 otherwise) and, in the run "with", the tiny PRM's
step scores; ``credit.token_advantages`` gives every completion token its advantage; the loss
is ``-sum(adv * log p) / n_tokens`` (token mean, as Dr. GRPO / DAPO), one on-policy update per
batch (so the importance ratio is 1 and PPO clipping would be a no-op), no KL term.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from prm_viewer.demo.tasks import Task
from prm_viewer.demo.verifier import verify_steps
from prm_viewer.experiment.credit import token_advantages
from prm_viewer.experiment.policy import completion_logprobs, sample, token_steps
from prm_viewer.experiment.tasks import outcome


@dataclass(frozen=True)
class RLSettings:
    steps: int
    prompts: int
    group: int
    lr: float
    temperature: float
    max_new_tokens: int
    beta: float
    """Weight of the step advantage; 0 = outcome reward only."""
    credit: str
    seed: int


StepScorer = Callable[[list[tuple[str, list[str]]]], list[np.ndarray]]


def rl_train(model: Any, tok: Any, tasks: list[Task], rl: RLSettings, prm: StepScorer | None,
             on_step: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
    """Train ``model`` in place; returns one record per step: ``reward`` (mean outcome),
    ``step_valid`` (share of steps the exact verifier accepts), ``prm_mean`` (mean PRM step
    score, run "with" only), ``loss``, ``tokens``, ``seconds``."""
    import torch

    if rl.beta and prm is None:
        raise ValueError("a process weight needs a PRM")
    opt = torch.optim.AdamW(model.parameters(), lr=rl.lr, betas=(0.9, 0.99), weight_decay=0.0)
    draw = random.Random(rl.seed)
    pad = int(tok.pad_token_id)
    curve: list[dict[str, float]] = []
    for step in range(rl.steps):
        t0 = time.perf_counter()
        batch = [tasks[draw.randrange(len(tasks))] for _ in range(rl.prompts)]
        samples = sample(model, tok, [t.text for t in batch], rl.group, rl.temperature, rl.max_new_tokens,
                         seed=rl.seed * 100_003 + step * 1009)
        owners = [t for t in batch for _ in range(rl.group)]
        groups = np.repeat(np.arange(rl.prompts), rl.group)
        steps = [s.steps for s in samples]
        rewards = np.asarray([float(outcome(t, st)) for t, st in zip(owners, steps)])
        valid = [verify_steps(t.text, st) for t, st in zip(owners, steps)]
        n_valid = sum(sum(v) for v in valid)
        n_steps = sum(len(v) for v in valid)
        scores = [np.zeros(len(st)) for st in steps]
        prm_mean = float("nan")
        if rl.beta and prm is not None:
            scored_idx = [i for i, st in enumerate(steps) if st]
            got = prm([(owners[i].text, steps[i]) for i in scored_idx])
            for i, sc in zip(scored_idx, got):
                scores[i] = sc
            flat = np.concatenate([scores[i] for i in scored_idx]) if scored_idx else np.zeros(0)
            prm_mean = float(flat.mean()) if flat.size else float("nan")
        tsteps = [token_steps(tok, s.completion_ids) for s in samples]
        adv = token_advantages(rewards, groups, scores, tsteps, rl.beta, rl.credit)
        model.train()
        logp, mask = completion_logprobs(model, samples, pad, rl.temperature)
        a = torch.zeros_like(mask)
        for r, x in enumerate(adv):
            a[r, : len(x)] = torch.as_tensor(x, dtype=torch.float32)
        n_tok = mask.sum().clamp(min=1.0)
        loss = -(a * logp * mask).sum() / n_tok
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.eval()
        rec = {"step": float(step + 1), "reward": float(rewards.mean()),
               "step_valid": n_valid / n_steps if n_steps else 0.0, "prm_mean": prm_mean,
               "loss": float(loss.item()), "tokens": float(n_tok.item()), "seconds": time.perf_counter() - t0}
        curve.append(rec)
        if on_step:
            on_step(rec)
    return curve
