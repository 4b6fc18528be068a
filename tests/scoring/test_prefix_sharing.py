"""Shared prefixes: which traces are grouped, and that scores computed through a shared prefix
equal the model cards' own per-trace computation (so an off-by-one in the continuation's
positions, or a cache slot left unmasked, fails here)."""

from __future__ import annotations

import numpy as np
import pytest

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.prefix import Group, share_groups
from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from prm_viewer.scoring.recipes import TraceInput
from tests.scoring.test_recipes import CASES


# ---------------------------------------------------------------- grouping (pure)

def test_traces_of_one_problem_share_up_to_their_first_scored_position():
    system = list(range(100, 120))  # 20 tokens every trace starts with
    p1, p2 = list(range(200, 240)), list(range(300, 330))
    seqs = [system + p1 + [1, 2, 3, 9], system + p2 + [4, 5, 9], system + p1 + [7, 8, 9],
            system + p1 + [1, 2, 6, 9], system + p2 + [4, 6, 9], [5] * 30]
    limits = [len(s) - 1 for s in seqs]
    groups = sorted(share_groups(seqs, limits), key=lambda g: g.members)
    # per problem, not one big group over the system prompt: (3-1)*60 + (2-1)*51 > (5-1)*20
    assert groups == [Group(60, (0, 2, 3)), Group(51, (1, 4))]
    # a first scored position inside the problem caps what that trace may share
    limits[2] = 45
    assert Group(45, (0, 2, 3)) in share_groups(seqs, limits)


def test_no_group_below_the_minimum_or_for_traces_without_scored_positions():
    a, b = list(range(10)) + [1, 2], list(range(10)) + [3, 4]
    assert share_groups([a, b], [11, 11]) == []  # 10 shared tokens < 16
    long_a, long_b = list(range(40)) + [1], list(range(40)) + [2]
    assert share_groups([long_a, long_b], [40, -1]) == []  # the second has nothing to score
    assert share_groups([long_a, long_b], [40, 40]) == [Group(40, (0, 1))]
    # identical traces: the share stops before the first scored position
    assert share_groups([long_a, list(long_a)], [30, 30]) == [Group(30, (0, 1))]


def test_groups_never_overlap_on_many_random_traces():
    rng = np.random.default_rng(3)
    prefixes = [rng.integers(0, 50, rng.integers(5, 40)).tolist() for _ in range(12)]
    seqs = [prefixes[rng.integers(0, 12)] + rng.integers(0, 50, rng.integers(1, 30)).tolist() for _ in range(300)]
    limits = [len(s) - 1 for s in seqs]
    groups = share_groups(seqs, limits)
    seen = [i for g in groups for i in g.members]
    assert len(seen) == len(set(seen)) and groups
    for g in groups:
        assert len(g.members) >= 2 and g.shared >= 16
        first = seqs[g.members[0]][: g.shared]
        assert all(seqs[i][: g.shared] == first and g.shared <= limits[i] for i in g.members)


# ---------------------------------------------------------------- scores through shared prefixes

PROBLEMS = [
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast and bakes muffins with four. "
    "She sells the rest at two dollars each. How much does she make every day?",
    "If f(x) = x^2 - 1 and g(x) = 2x + 3, what is f(g(2)) minus g(f(2))? Show each step clearly.",
]
SAMPLES = [
    ["She eats three: 16 - 3 = 13.", "She bakes with four: 13 - 4 = 9.", "9 * 2 = 18. The answer is 18."],
    ["16 - 3 - 4 = 9 eggs are left.", "She makes 9 * 2 = 18 dollars."],
    ["She eats three: 16 - 3 = 13.", "13 * 2 = 26.", "The answer is 26."],
    ["She eats three: 16 - 3 = 13."],
]


def _traces() -> list[TraceInput]:
    out = [TraceInput(f"p{k}-s{j}", p, steps) for k, p in enumerate(PROBLEMS) for j, steps in enumerate(SAMPLES)]
    out.append(TraceInput("p0-dup", PROBLEMS[0], list(SAMPLES[0])))  # an exact duplicate of p0-s0
    out.append(TraceInput("solo", "What is 7 + 5, times 3?", ["7 + 5 = 12.", "12 * 3 = 36."]))
    return out


@pytest.mark.parametrize("model", list(CASES))
def test_shared_prefix_scores_equal_the_model_cards_computation(tiny, model):
    recipe, expected_fn = CASES[model]
    traces = _traces()
    engine = load_engine(ScorerSpec(recipe=recipe, checkpoint=str(tiny[model]), device="cpu", batch_tokens=300))
    assert engine.runner.prefix_sharing  # the load-time probe passed for this causal model
    groups = engine.runner._groups(engine.prepared.recipe.build_inputs(engine.prepared, traces))
    by_id = [{traces[i].trace_id for i in g.members} for g in groups]
    assert {f"p0-s{j}" for j in range(4)} | {"p0-dup"} in by_id and {f"p1-s{j}" for j in range(4)} in by_id
    got = {(r["trace_id"], r["step_idx"]): r["score"] for r in score_traces(engine, traces).to_pylist()}
    for trace in traces:
        want = expected_fn(tiny[model], trace)
        have = [got[(trace.trace_id, i)] for i in range(len(trace.steps))]
        np.testing.assert_allclose(have, want, atol=2e-5, err_msg=f"{model} {trace.trace_id}")
    assert [got[("p0-dup", i)] for i in range(3)] == pytest.approx([got[("p0-s0", i)] for i in range(3)], abs=1e-6)


def test_prefix_sharing_can_be_turned_off_and_rejects_unknown_values(tiny):
    folder = str(tiny["qwen-prm"])
    for value in ("off", "OFF", False):  # False: `--backend-option prefix_sharing=false` parses as JSON
        off = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=folder, device="cpu",
                                     backend_options={"prefix_sharing": value}))
        assert not off.runner.prefix_sharing and off.runner._groups(
            off.prepared.recipe.build_inputs(off.prepared, _traces())) == []
    with pytest.raises(RecipeError, match="prefix_sharing='sometimes'"):
        load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=folder, device="cpu",
                               backend_options={"prefix_sharing": "sometimes"}))
