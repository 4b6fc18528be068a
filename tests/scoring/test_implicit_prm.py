"""``implicit-prm`` (PRIME / EurusPRM): per-step rewards from two tiny causal LMs against a hand
computation (HF models called directly, step boundaries found by string search), on the
transformers backend (both modes) and on a real vLLM CPU engine."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from prm_viewer.scoring.recipes import TraceInput
from tests.scoring.test_vllm_helpers import build_qwen_lm, cpu_env

torch = pytest.importorskip("torch")

BETA = 0.5
TRACES = [
    TraceInput("i-0", "Janet's ducks lay 16 eggs per day. How many are left?",
               ["She eats three: 16 - 3 = 13.", "She sells the rest: 13 * 2 = 26.", "The answer is 26."]),
    TraceInput("i-1", "What is 7 + 5, times 3?", ["7 + 5 = 12.", "12 * 3 = 36."]),
    TraceInput("i-2", "Let x be 3. What is 2x + 5?", ["2x = 6."]),
]


@pytest.fixture(scope="module")
def lms(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("implicit")
    return build_qwen_lm(root / "prm", seed=11), build_qwen_lm(root / "ref", seed=12)


def expected(prm: Path, refm: Path, trace: TraceInput, mode: str) -> list[float]:
    """The EurusPRM recipe written out by hand."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(prm)
    content = "\n\n".join(trace.steps)
    text = tok.apply_chat_template([{"role": "user", "content": trace.problem}, {"role": "assistant", "content": content}],
                                   tokenize=False)
    ids = tok.encode(text, add_special_tokens=False)
    c0 = text.index(content)
    start = len(tok.encode(text[:c0], add_special_tokens=False))
    ends = [len(tok.encode(text[:c0 + len("\n\n".join(trace.steps[:k + 1]))], add_special_tokens=False)) - 1
            for k in range(len(trace.steps))]
    x = torch.tensor([ids])
    lps = []
    for folder in (prm, refm):
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        with torch.no_grad():
            logp = torch.log_softmax(model(x).logits[0], -1)
        lps.append([float(logp[i - 1, ids[i]]) for i in range(1, len(ids))])
    q_at = []
    for e in ends:
        q_at.append(sum(BETA * (lps[0][i - 1] - lps[1][i - 1]) for i in range(start, e + 1)))
    if mode == "accumulative":
        return q_at
    return [q_at[0]] + [q_at[k] - q_at[k - 1] for k in range(1, len(q_at))]


def _rows(engine, traces):
    return {(r["trace_id"], r["step_idx"]): (r["score"], r["raw"]) for r in score_traces(engine, traces).to_pylist()}


def _check(rows, want_by_trace):
    for t, want in want_by_trace.items():
        got = [rows[(t, k)] for k in range(len(want))]
        np.testing.assert_allclose([g[1] for g in got], want, atol=1e-3)
        np.testing.assert_allclose([g[0] for g in got], [1 / (1 + math.exp(-w)) for w in want], atol=1e-3)


@pytest.mark.parametrize("mode", ["single", "accumulative"])
def test_transformers_matches_hand_computation(lms, mode):
    prm, refm = lms
    eng = load_engine(ScorerSpec(recipe="implicit-prm", checkpoint=str(prm), device="cpu",
                                 recipe_options={"reference": str(refm), "beta": BETA, "mode": mode}))
    _check(_rows(eng, TRACES), {t.trace_id: expected(prm, refm, t, mode) for t in TRACES})
    eng.close()


@pytest.mark.vllm
def test_vllm_matches_hand_computation(lms):
    pytest.importorskip("vllm", reason="vllm is not installed (pip install -r requirements-vllm.txt)")
    cpu_env()
    prm, refm = lms
    eng = load_engine(ScorerSpec(recipe="implicit-prm", checkpoint=str(prm), backend="vllm", device="cpu",
                                 recipe_options={"reference": str(refm), "beta": BETA}))
    try:
        _check(_rows(eng, TRACES), {t.trace_id: expected(prm, refm, t, "single") for t in TRACES})
    finally:
        eng.close()


def test_reference_is_required_and_must_share_the_tokenizer(lms, tiny):
    prm, _ = lms
    with pytest.raises(RecipeError, match="reference"):
        load_engine(ScorerSpec(recipe="implicit-prm", checkpoint=str(prm), device="cpu"))
    eng = load_engine(ScorerSpec(recipe="implicit-prm", checkpoint=str(prm), device="cpu",
                                 recipe_options={"reference": str(tiny["shepherd"])}))
    with pytest.raises(RecipeError, match="another tokenizer"):
        score_traces(eng, TRACES[:1])
    eng.close()
