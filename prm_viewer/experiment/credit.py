"""Per-step credit assignment for a group-baseline policy gradient (pure numpy).

For a group of samples of one problem, with outcome rewards ``R_i`` (1 = right answer) and the
PRM's step scores ``p_ik`` (P(step k of sample i is correct)):

- outcome advantage (Dr. GRPO: group mean baseline, no std scaling):
  ``A_i = R_i - mean_j R_j``;
- step advantage, ``progress`` (PAV-style, Setlur et al. 2024): the change of the PRM's value
  across the step, ``d_ik = p_ik - p_i(k-1)``, with ``p_i(-1) = mean_j p_j0`` (the group's mean
  first-step score stands for the value before any step);
- step advantage, ``min-form`` (PURE, Cheng et al. 2025): the min-form return
  ``g_ik = min_(k' >= k) p_ik'`` minus the group baseline ``mean_j g_j0``;
- every token of step k of sample i gets ``A_i + beta * step advantage``; tokens of a sample
  without any step get ``A_i``. With ``beta = 0`` (or mode ``none``) this is outcome-only GRPO.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MODES = ("none", "progress", "min-form")


def outcome_advantages(rewards: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``R_i`` minus the mean reward of ``i``'s group."""
    r = np.asarray(rewards, dtype=float)
    g = np.asarray(groups)
    out = np.empty_like(r)
    for key in np.unique(g):
        m = g == key
        out[m] = r[m] - r[m].mean()
    return out


def step_advantages(scores: Sequence[np.ndarray], groups: np.ndarray, mode: str) -> list[np.ndarray]:
    """Per sample, one advantage per step (see the module docstring); empty for no steps."""
    if mode not in MODES:
        raise ValueError(f"unknown credit mode {mode!r}; use one of {', '.join(MODES)}")
    s = [np.asarray(x, dtype=float) for x in scores]
    if mode == "none":
        return [np.zeros_like(x) for x in s]
    g = np.asarray(groups)
    out: list[np.ndarray] = [np.zeros(0)] * len(s)
    for key in np.unique(g):
        idx = [i for i in np.flatnonzero(g == key) if len(s[i])]
        if not idx:
            continue
        if mode == "progress":
            before = float(np.mean([s[i][0] for i in idx]))
            for i in idx:
                out[i] = np.diff(np.concatenate([[before], s[i]]))
        else:
            returns = {i: np.minimum.accumulate(s[i][::-1])[::-1] for i in idx}
            base = float(np.mean([returns[i][0] for i in idx]))
            for i in idx:
                out[i] = returns[i] - base
    return out


def token_advantages(rewards: np.ndarray, groups: np.ndarray, scores: Sequence[np.ndarray],
                     token_steps: Sequence[np.ndarray], beta: float, mode: str) -> list[np.ndarray]:
    """Each sample's per-token advantage: outcome advantage + beta x its step's advantage.
    ``token_steps[i][t]`` is the step of token t (``-1``: no step, outcome advantage only)."""
    a_out = outcome_advantages(rewards, groups)
    a_step = step_advantages(scores, groups, mode if beta else "none")
    out = []
    for i, ts in enumerate(token_steps):
        ts = np.asarray(ts, dtype=np.int64)
        adv = np.full(len(ts), a_out[i])
        k = ts >= 0
        if k.any() and len(a_step[i]):
            adv[k] += beta * a_step[i][np.minimum(ts[k], len(a_step[i]) - 1)]
        out.append(adv)
    return out
