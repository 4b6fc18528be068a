"""Each recipe's stored step scores against an independent computation from the model's raw
logits at positions the test finds itself (the model cards' own way), plus batching, order and
over-long traces."""

from __future__ import annotations

import random

import numpy as np
import pytest

from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from prm_viewer.scoring.recipes import TraceInput

torch = pytest.importorskip("torch")

TRACES = [
    TraceInput("d-0", "Janet's ducks lay 16 eggs per day. How many are left?",
               ["She eats three: 16 - 3 = 13.", "She sells the rest: 13 * 2 = 26.", "The answer is 26."]),
    TraceInput("d-1", "What is 7 + 5, times 3?", ["7 + 5 = 12.", "12 * 3 = 36."]),
    TraceInput("d-2", "Let x be 3. What is 2x + 5?", ["2x = 6."]),
    TraceInput("d-3", "If f(x) = x^2 - 1, what is f(3)?",
               ["f(3) = 3^2 - 1.", "3^2 = 9.", "9 - 1 = 8.", "So f(3) = 8.", "The final answer is \\boxed{8}."]),
]


def _engine(folder, recipe, **kw):
    return load_engine(ScorerSpec(recipe=recipe, checkpoint=str(folder), device="cpu", **kw))


def _scores(engine, traces) -> dict[tuple[str, int], float]:
    t = score_traces(engine, traces).to_pylist()
    return {(r["trace_id"], r["step_idx"]): r["score"] for r in t}


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# ---------------------------------------------------------------- independent computations

def qwen_expected(folder, trace: TraceInput, head_from_raw: bool = False) -> list[float]:
    """Model card: steps joined by <extra_0> + trailing one, positions = ids == <extra_0>."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    msgs = [{"role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."},
            {"role": "user", "content": trace.problem},
            {"role": "assistant", "content": "<extra_0>".join(trace.steps) + "<extra_0>"}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
    ids = tok.encode(text, add_special_tokens=False)
    tag = tok.convert_tokens_to_ids("<extra_0>")
    pos = [i for i, t in enumerate(ids) if t == tag]
    x = torch.tensor([ids])
    with torch.no_grad():
        if head_from_raw:
            logits = _raw_qwen_prm_logits(folder, x)
        else:
            model = AutoModelForTokenClassification.from_pretrained(folder, dtype=torch.float32).eval()
            logits = model(x).logits[0].numpy()
    return _softmax(logits[pos].astype(np.float64))[:, 1].tolist()


def _raw_qwen_prm_logits(folder, x) -> np.ndarray:
    """The Qwen2ForProcessRewardModel head computed by hand from the safetensors tensors."""
    from safetensors.torch import load_file
    from transformers import Qwen2Config, Qwen2Model

    w = load_file(str(folder / "model.safetensors"))
    cfg = Qwen2Config.from_pretrained(folder)
    body = Qwen2Model(cfg)
    body.load_state_dict({k[len("model."):]: v for k, v in w.items() if k.startswith("model.")})
    h = body.eval()(x).last_hidden_state[0]
    z = torch.relu(h @ w["score.0.weight"].T + w["score.0.bias"])
    return (z @ w["score.2.weight"].T + w["score.2.bias"]).numpy()


def shepherd_expected(folder, trace: TraceInput) -> list[float]:
    """Model card: f"{question} {output}", "Step k: ... ки" lines, P(+) among (+, -) at ки."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    output = "\n".join(f"Step {k}: {s} ки" for k, s in enumerate(trace.steps, start=1))
    ids = tok.encode(f"{trace.problem} {output}")
    tag = tok.convert_tokens_to_ids("ки")
    plus, minus = tok.convert_tokens_to_ids("+"), tok.convert_tokens_to_ids("-")
    pos = [i for i, t in enumerate(ids) if t == tag]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].numpy().astype(np.float64)
    return _softmax(logits[pos][:, [plus, minus]])[:, 0].tolist()


def rlhflow_expected(folder, trace: TraceInput) -> list[float]:
    """RLHFlow's evaluation loop: grow the conversation one step at a time, read logits[-3]."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    cand = [tok.encode("+", add_special_tokens=False)[-1], tok.encode("-", add_special_tokens=False)[-1]]
    conv, out = [], []
    for k, step in enumerate(trace.steps):
        conv.append({"role": "user", "content": trace.problem + " " + step if k == 0 else step})
        conv.append({"role": "assistant", "content": "+"})
        text = tok.apply_chat_template(conv, tokenize=False)
        ids = tok.encode(text, add_special_tokens=False)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -3, cand].numpy().astype(np.float64)
        out.append(float(_softmax(logits)[0]))
    return out


CASES = {
    "qwen-tokcls": ("qwen-prm", lambda f, t: qwen_expected(f, t)),
    "qwen-prm": ("qwen-prm", lambda f, t: qwen_expected(f, t, head_from_raw=True)),
    "shepherd": ("math-shepherd", shepherd_expected),
    "rlhflow": ("rlhflow", rlhflow_expected),
}


@pytest.mark.parametrize("model", list(CASES))
def test_scores_match_independent_logits(tiny, model):
    recipe, expected_fn = CASES[model]
    engine = _engine(tiny[model], recipe, batch_tokens=4096)
    got = _scores(engine, TRACES)
    for trace in TRACES:
        want = expected_fn(tiny[model], trace)
        assert len(want) == len(trace.steps)
        have = [got[(trace.trace_id, i)] for i in range(len(trace.steps))]
        np.testing.assert_allclose(have, want, atol=2e-5, err_msg=f"{model} {trace.trace_id}")
    values = np.array(list(got.values()))
    assert np.all((values >= 0) & (values <= 1)) and values.std() > 1e-3  # not a constant


@pytest.mark.parametrize("model", list(CASES))
def test_batched_equals_one_by_one_and_order_free(tiny, model):
    recipe = CASES[model][0]
    batched = _scores(_engine(tiny[model], recipe, batch_tokens=100_000), TRACES)
    engine1 = _engine(tiny[model], recipe, batch_tokens=1)  # every trace its own batch
    single: dict = {}
    for t in TRACES:
        single.update(_scores(engine1, [t]))
    shuffled = list(TRACES)
    random.Random(5).shuffle(shuffled)
    again = _scores(_engine(tiny[model], recipe, batch_tokens=300), shuffled)
    assert batched.keys() == single.keys() == again.keys()
    for key in batched:
        assert batched[key] == pytest.approx(single[key], abs=2e-5)
        assert again[key] == pytest.approx(single[key], abs=2e-5)


def test_qwen_prm_layout_loads_without_remote_code(tiny):
    """The Qwen2.5-Math-PRM layout (auto_map to code that does not exist here) loads natively."""
    engine = _engine(tiny["qwen-prm"], "qwen-prm")
    assert type(engine.runner.model).__name__ == "Qwen2ForProcessRewardModel"
    assert not (tiny["qwen-prm"] / "modeling_qwen2_rm.py").exists()


def test_too_long_trace_scores_what_fits_and_says_why(tiny):
    """Context is 256 tokens: early steps are scored exactly as on the truncated input, later
    steps have no score and a note."""
    long = TraceInput("d-9", "What is 7 + 5, times 3?",
                      [f"we add 7 + 5 = 12 and multiply by 3 to get 36, round {i}." for i in range(20)])
    engine = _engine(tiny["shepherd"], "math-shepherd")
    rows = score_traces(engine, [long, TRACES[1]]).to_pylist()
    mine = [r for r in rows if r["trace_id"] == "d-9"]
    assert len(mine) == 20
    scored = [r for r in mine if r["score"] is not None]
    unscored = [r for r in mine if r["score"] is None]
    assert 0 < len(scored) < 20 and unscored
    assert [r["step_idx"] for r in scored] == list(range(len(scored)))  # a prefix
    assert all("context of 256" in r["note"] and r["raw"] is None for r in unscored)
    # the scored steps equal the independent computation on a trace cut to those steps
    want = shepherd_expected(tiny["shepherd"], TraceInput("x", long.problem, long.steps[: len(scored)]))
    np.testing.assert_allclose([r["score"] for r in scored], want, atol=2e-5)
    other = [r["score"] for r in rows if r["trace_id"] == "d-1"]
    np.testing.assert_allclose(other, shepherd_expected(tiny["shepherd"], TRACES[1]), atol=2e-5)


def test_marker_text_inside_a_step_is_not_a_step(tiny):
    """A step that itself contains '<extra_0>' still yields one score per step, read at the
    markers the recipe inserted (not at the one inside the text)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    folder = tiny["qwen-tokcls"]
    trace = TraceInput("d-7", "What is 2 + 2?", ["We write <extra_0> here: 2 + 2 = 4.", "The answer is 4."])
    got = score_traces(_engine(folder, "qwen-prm"), [trace]).to_pylist()
    assert [r["step_idx"] for r in got] == [0, 1] and all(r["score"] is not None for r in got)
    tok = AutoTokenizer.from_pretrained(folder)
    msgs = [{"role": "system", "content": "Please reason step by step, and put your final answer within \\boxed{}."},
            {"role": "user", "content": trace.problem},
            {"role": "assistant", "content": "<extra_0>".join(trace.steps) + "<extra_0>"}]
    ids = tok.encode(tok.apply_chat_template(msgs, tokenize=False), add_special_tokens=False)
    tag = tok.convert_tokens_to_ids("<extra_0>")
    pos = [i for i, t in enumerate(ids) if t == tag]
    assert len(pos) == 3  # the one in the text, then the two inserted
    model = AutoModelForTokenClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].numpy().astype(np.float64)
    want = _softmax(logits[pos[1:]])[:, 1]
    np.testing.assert_allclose([r["score"] for r in got], want, atol=2e-5)


def test_verifier_recipe_matches_gold_validity():
    """The exact checker on demo-style traces: 1.0 for valid steps, 0.0 for invalid ones."""
    engine = load_engine(ScorerSpec(recipe="verifier", backend="exact"))
    problem = "[synthetic demo] Start with 7. Then add 5, multiply by 3, subtract 4. What is the result?"
    good = TraceInput("v-0", problem, ["7 + 5 = 12", "12 * 3 = 36", "36 - 4 = 32"])
    slip = TraceInput("v-1", problem, ["7 + 5 = 12", "12 * 3 = 35", "35 - 4 = 31"])
    wrong_op = TraceInput("v-2", problem, ["7 + 5 = 12", "12 + 3 = 15", "15 - 4 = 11"])
    rows = score_traces(engine, [good, slip, wrong_op]).to_pylist()
    by = {(r["trace_id"], r["step_idx"]): r["score"] for r in rows}
    assert [by[("v-0", i)] for i in range(3)] == [1.0, 1.0, 1.0]
    assert [by[("v-1", i)] for i in range(3)] == [1.0, 0.0, 1.0]  # validity is local after a slip
    assert [by[("v-2", i)] for i in range(3)] == [1.0, 0.0, 1.0]
