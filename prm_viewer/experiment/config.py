"""The experiment's settings: one frozen dataclass, a full and a ``--quick`` preset.

Every number that changes a result lives here and is written to ``results.json`` with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class ModelSize:
    """A small Qwen2 body (policy and PRM share the shape; head_dim = hidden / heads)."""

    hidden: int = 64
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 192
    max_positions: int = 512
    init_std: float = 0.1
    """Standard deviation of the initial weights (``initializer_range``). Qwen2's default 0.02 is
    sized for widths in the thousands; at width 64 it makes the attention logits ~0 and the
    gradients of queries and keys tiny, so SFT sat on a copy-nothing plateau (loss ~1.2) for
    hundreds of steps and the PRM never left ln 2. ~1/sqrt(hidden) trains at once."""


@dataclass(frozen=True)
class ExperimentConfig:
    """What one run of ``python -m prm_viewer experiment run`` does."""

    seed: int = 0
    """Seeds every split, sampler, initialisation and data order."""
    n_train: int = 8000
    """Training problems (in-domain: 2-4 operations among + -, values 0-99)."""
    n_test_in: int = 150
    """In-domain test problems (same kind, none of the training texts)."""
    n_test_ood: int = 50
    """Out-of-domain test problems per category (long chains, unseen operator, larger numbers)."""
    model: ModelSize = ModelSize()
    vocab_size: int = 360
    """BPE vocabulary of the task-alphabet tokenizer (digits stay one token each)."""
    sft_error_rate: float = 0.25
    """Share of SFT traces with an injected error (the "imperfect traces")."""
    sft_steps: int = 1000
    sft_lr: float = 3e-3
    sft_batch: int = 32
    prm_policy_samples: int = 2
    """Samples of the SFT policy per PRM training problem, labelled by the verifier."""
    prm_problems: int = 1500
    """Training problems whose SFT samples and constructed traces train the PRM."""
    prm_error_rate: float = 0.7
    """Share of injected-error traces among the PRM's constructed training traces."""
    prm_steps: int = 400
    """Unchanged after issue 14's probes (EXPERIMENT.md, "Debugging" 6, 8, 9 and 10): 2 or 4 extra
    layers on the SFT body, a 128-wide body, shifted targets, auxiliary targets from the SFT policy
    and minimal pairs stayed at held-out AUC 0.51-0.63 in 300-400 steps. 600 steps reached
    0.68-0.70 in PRM-only probes (two seeds) but not in a full run (in-domain held-out AUC 0.58,
    F1 37.8, against 0.62 / 37.5 at 400): not adopted. No setting learns the arithmetic check
    itself (slips stay at chance), which caps the AUC near 0.76."""
    prm_dense_weight: float = 1.0
    """Weight of the per-token targets (``prm.DENSE``: 1 while the step's text so far is a prefix
    of the right step, 0 from its first wrong token). Probe on the same data and held-out set
    (EXPERIMENT.md, "Debugging" 8): 0 -> held-out step AUC 0.519, ProcessBench F1 0.30; 1 -> AUC
    0.596, F1 0.425, same model and steps; the full run: in-domain held-out AUC 0.54 -> 0.62.
    The marker's verdict is within 0.01-0.04 AUC of the per-token head on the step's last token
    ("Debugging" 10): what the PRM misses is the arithmetic, not the carry to the marker."""
    prm_lr: float = 2e-3
    prm_batch: int = 32
    rl_steps: int = 80
    """Probes from the SFT checkpoint (EXPERIMENT.md, "Debugging"): 30 steps at 2e-5 moved nothing;
    100 steps at 5e-5 raised the training reward (0.27 -> 0.35 at temperature 1, 0.45 -> 0.51 at
    0.7) without moving test accuracy; 80 steps keeps the full run inside the time budget."""
    rl_prompts: int = 12
    """Problems per RL step."""
    rl_group: int = 8
    """Samples per problem (the group whose mean is the baseline)."""
    rl_lr: float = 5e-5
    """Adam moves every weight by ~lr per step whatever the gradient's size: 1e-4 (temperature 1)
    took greedy accuracy 0.75 -> 0.66 in 60 steps and 3e-4 (temperature 0.7) to 0.29; 3e-5 and
    5e-5 kept it (0.70 / 0.75)."""
    rl_temperature: float = 0.7
    """RL samples at the evaluation temperature; the loss uses log-probabilities of logits / T, so
    the update is on-policy for the tempered distribution."""
    rl_max_new_tokens: int = 64
    process_weight: float = 1.0
    """beta: each step's tokens get outcome advantage + beta x step advantage (run "with")."""
    credit: str = "progress"
    """Step advantage: ``progress`` (PAV-style, p_k - p_(k-1)) or ``min-form`` (PURE)."""
    eval_samples: int = 4
    """Samples per test problem and policy."""
    eval_temperature: float = 0.7
    eval_max_new_tokens: int = 128
    threshold: float = 0.5
    """The tiny PRM's step threshold for predicted errors."""
    threads: int = 1
    """torch threads here and in the scoring workers (on a shared 2-core machine one thread is
    several times faster than two: measured 14 ms vs 110-210 ms per decoding step)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = ExperimentConfig()
QUICK = replace(
    FULL, n_train=200, n_test_in=8, n_test_ood=3,
    model=ModelSize(hidden=64, layers=2, heads=2, kv_heads=1, intermediate=128, max_positions=512),
    sft_steps=20, prm_problems=40, prm_policy_samples=1, prm_steps=10, rl_steps=3, rl_prompts=4, rl_group=4,
    rl_max_new_tokens=48, eval_samples=2, eval_max_new_tokens=64,
)
"""A smoke run of the whole pipeline in about a minute (numbers mean nothing)."""


def preset(quick: bool, seed: int) -> ExperimentConfig:
    return replace(QUICK if quick else FULL, seed=seed)
