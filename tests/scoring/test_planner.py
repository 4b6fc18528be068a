"""The execution planner (backends/planner.py) and the transformers runner's arms: the cost model
against hand-computed FLOPs, the choice rule on given timings, and the same scores as the model
card's own computation whichever arm runs (so a wrong mask, position or padding in one arm
fails here), bfloat16 within bf16 rounding of float32."""

from __future__ import annotations

import numpy as np
import pytest

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.backends.planner import PROBES, REPROBE, Planner, Shape, forward_flops
from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from tests.scoring.test_prefix_sharing import _traces
from tests.scoring.test_recipes import qwen_expected


def test_forward_flops_by_hand() -> None:
    shape = Shape(linear_params=10, layers=2, attn_width=3)
    # 4 new tokens, nothing cached: linear 2*10*4 = 80; attention 2*2*3*2 * (4*5/2) = 240
    assert forward_flops(shape, [(4, 0)]) == 80 + 240
    # 2 new tokens after 5 cached: linear 40; attention 24 * (2*5 + 2*3/2) = 24 * 13 = 312
    assert forward_flops(shape, [(2, 5)]) == 40 + 312
    assert forward_flops(shape, [(4, 0), (2, 5)]) == 80 + 240 + 40 + 312


def test_planner_probes_cheapest_first_then_keeps_the_faster_and_follows_load() -> None:
    p = Planner()
    costs = {"per-trace": 100.0, "batched": 120.0}
    # an arm costing more than SKIP_RATIO x the cheapest is never tried
    assert p.pick({"per-trace": 100.0, "batched": 1000.0}) == "per-trace"
    assert p.rates == {}
    seen = []
    for _ in range(2 * PROBES):  # probes: cheapest first, then alternating by fewest runs
        arm = p.pick(costs)
        seen.append(arm)
        # batched computes 120 FLOPs in 0.4 s (300/s), per-trace 100 in 1.0 s (100/s)
        p.record(arm, costs[arm], 0.4 if arm == "batched" else 1.0)
    assert seen[0] == "per-trace" and sorted(seen) == ["batched"] * PROBES + ["per-trace"] * PROBES
    # predicted time: per-trace 100/100 = 1.0 s, batched 120/300 = 0.4 s
    assert p.pick(costs) == "batched"
    for _ in range(6):  # the machine gets busy: batched now takes 3 s a unit
        p.record("batched", 120.0, 3.0)
    assert p.pick(costs) == "per-trace"
    assert Planner(forced="batched").pick(costs) == "batched"


def test_planner_reprobes_the_runner_up_now_and_then() -> None:
    p = Planner()
    costs = {"per-trace": 100.0, "batched": 100.0}
    for _ in range(2 * PROBES):
        arm = p.pick(costs)
        p.record(arm, 100.0, 1.0 if arm == "per-trace" else 2.0)  # per-trace twice as fast
    picks = [p.pick(costs) for _ in range(2 * REPROBE)]
    assert picks.count("batched") == 2 and picks[REPROBE - 1] == picks[-1] == "batched"


@pytest.fixture(scope="module")
def card_scores(tiny) -> dict[str, list[float]]:
    """The model card's scores of every trace (computed once for all arms)."""
    return {t.trace_id: qwen_expected(tiny["qwen-prm"], t, head_from_raw=True) for t in _traces()}


@pytest.mark.parametrize("execution", ["per-trace", "batched", "shared", "auto"])
def test_every_arm_gives_the_model_cards_scores(tiny, card_scores, execution: str) -> None:
    folder = tiny["qwen-prm"]
    traces = _traces()
    engine = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=str(folder), device="cpu", batch_tokens=300,
                                    backend_options={"execution": execution}))
    got = {(r["trace_id"], r["step_idx"]): r["score"] for r in score_traces(engine, traces).to_pylist()}
    for trace in traces:
        want = card_scores[trace.trace_id]
        np.testing.assert_allclose([got[(trace.trace_id, i)] for i in range(len(trace.steps))], want, atol=2e-5)
    chosen = {**engine.runner.plain_planner.chosen, **engine.runner.group_planner.chosen}
    if execution != "auto":
        assert chosen.get(execution, 0) >= 1, chosen  # the forced arm really ran
        others = {"per-trace": {"batched", "shared"}, "batched": {"per-trace", "shared"}, "shared": {"unshared"}}
        assert not (set(chosen) & others[execution]), chosen


def test_bfloat16_scores_within_bf16_rounding_of_float32(tiny) -> None:
    folder = str(tiny["qwen-prm"])
    traces = _traces()
    scores = {}
    for dtype in ("float32", "bfloat16"):
        engine = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=folder, device="cpu", dtype=dtype))
        assert engine.dtype == dtype
        scores[dtype] = np.array(score_traces(engine, traces).column("score").to_pylist())
    diff = np.abs(scores["float32"] - scores["bfloat16"])
    assert diff.max() < 2e-2 and diff.max() > 0  # bf16-rounded, not silently float32 weights


def test_unknown_execution_is_a_one_line_error(tiny) -> None:
    with pytest.raises(RecipeError, match="execution='fastest'"):
        load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=str(tiny["qwen-prm"]), device="cpu",
                               backend_options={"execution": "fastest"}))
