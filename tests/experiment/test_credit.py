"""Per-step credit assignment against a hand computation on a fixed batch."""

from __future__ import annotations

import numpy as np
import pytest

from prm_viewer.experiment.credit import outcome_advantages, step_advantages, token_advantages

# Two groups of two samples. Group 0: sample 0 right (3 steps), sample 1 wrong (2 steps).
# Group 1: sample 2 wrong (2 steps), sample 3 wrong with no step at all.
REWARDS = np.array([1.0, 0.0, 0.0, 0.0])
GROUPS = np.array([0, 0, 1, 1])
SCORES = [np.array([0.9, 0.8, 0.7]), np.array([0.5, 0.1]), np.array([0.6, 0.2]), np.array([])]
TOKENS = [np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([-1, -1])]


def test_outcome_advantage_is_reward_minus_group_mean() -> None:
    # group 0 mean = 0.5, group 1 mean = 0
    assert outcome_advantages(REWARDS, GROUPS).tolist() == [0.5, -0.5, 0.0, 0.0]


def test_progress_by_hand() -> None:
    got = step_advantages(SCORES, GROUPS, "progress")
    # group 0: value before step 0 = mean(0.9, 0.5) = 0.7
    np.testing.assert_allclose(got[0], [0.9 - 0.7, 0.8 - 0.9, 0.7 - 0.8])
    np.testing.assert_allclose(got[1], [0.5 - 0.7, 0.1 - 0.5])
    # group 1: only sample 2 has steps; before = 0.6
    np.testing.assert_allclose(got[2], [0.0, 0.2 - 0.6])
    assert got[3].size == 0


def test_min_form_by_hand() -> None:
    got = step_advantages(SCORES, GROUPS, "min-form")
    # returns: s0 = [min(.9,.8,.7), min(.8,.7), .7] = [.7,.7,.7]; s1 = [.1,.1]; baseline = mean(.7,.1) = .4
    np.testing.assert_allclose(got[0], [0.3, 0.3, 0.3])
    np.testing.assert_allclose(got[1], [-0.3, -0.3])
    np.testing.assert_allclose(got[2], [0.0, 0.0])  # returns [.2,.2], baseline .2


def test_token_advantages_by_hand() -> None:
    got = token_advantages(REWARDS, GROUPS, SCORES, TOKENS, beta=0.5, mode="progress")
    np.testing.assert_allclose(got[0], [0.5 + 0.5 * 0.2, 0.5 + 0.5 * 0.2, 0.5 - 0.5 * 0.1, 0.5 - 0.5 * 0.1, 0.5 - 0.5 * 0.1])
    np.testing.assert_allclose(got[1], [-0.5 - 0.5 * 0.2, -0.5 - 0.5 * 0.4, -0.5 - 0.5 * 0.4])
    np.testing.assert_allclose(got[2], [0.0, 0.0, -0.5 * 0.4])
    np.testing.assert_allclose(got[3], [0.0, 0.0])


def test_outcome_only_ignores_scores() -> None:
    got = token_advantages(REWARDS, GROUPS, SCORES, TOKENS, beta=0.0, mode="progress")
    assert [g.tolist() for g in got] == [[0.5] * 5, [-0.5] * 3, [0.0] * 3, [0.0] * 2]


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown credit mode"):
        step_advantages(SCORES, GROUPS, "sum")
