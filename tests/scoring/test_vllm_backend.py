"""The offline ``vllm`` backend (real vLLM CPU engines on the tiny checkpoints): every PRM recipe
agrees with the transformers backend and with the model cards' own computation within 1e-3;
markers inside step text, over-long traces and a missing vLLM behave as specified."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from prm_viewer.errors import MissingDependency, RecipeError
from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from prm_viewer.scoring.recipes import TraceInput
from tests.scoring import test_recipes as ref
from tests.scoring.test_vllm_helpers import cpu_env

TRACES = ref.TRACES + [
    TraceInput("d-4", "What is ки and <extra_0> here?", ["a ки b <extra_0> c = 2.", "So the answer is 2."]),
]
LONG = TraceInput("d-long", "Count to a big number.", [f"Step {k}: we add {k} + {k} = {2 * k} apples." for k in range(40)])
CASES = {  # recipe -> (tiny checkpoint, independent computation from test_recipes)
    "qwen-prm": ("qwen-prm", lambda folder, t: ref.qwen_expected(folder, t, head_from_raw=True)),
    "math-shepherd": ("shepherd", ref.shepherd_expected),
    "rlhflow": ("rlhflow", ref.rlhflow_expected),
}


def _scores(engine, traces) -> dict[tuple[str, int], tuple[float | None, str | None]]:
    return {(r["trace_id"], r["step_idx"]): (r["score"], r["note"]) for r in score_traces(engine, traces).to_pylist()}


@pytest.fixture(scope="module", params=list(CASES))
def pair(request, tiny):
    """(recipe, folder, transformers engine, vllm engine), one vLLM engine per recipe."""
    pytest.importorskip("vllm", reason="vllm is not installed (pip install -r requirements-vllm.txt)")
    cpu_env()
    recipe = request.param
    folder = tiny[CASES[recipe][0]]
    spec = dict(recipe=recipe, checkpoint=str(folder), device="cpu", dtype="float32")
    tr = load_engine(ScorerSpec(backend="transformers", **spec))
    vl = load_engine(ScorerSpec(backend="vllm", **spec))
    yield recipe, folder, tr, vl
    vl.close()
    tr.close()


@pytest.mark.vllm
def test_vllm_agrees_with_transformers_and_the_model_card(pair):
    recipe, folder, tr, vl = pair
    a, b = _scores(tr, TRACES), _scores(vl, TRACES)
    assert a.keys() == b.keys()
    assert all(b[k][0] is not None for k in b), "every step placed by the recipe gets a score"
    diff = max(abs(a[k][0] - b[k][0]) for k in a)
    assert diff < 1e-3, f"{recipe}: vllm vs transformers differ by {diff}"
    for t in ref.TRACES[:2]:  # the card's own computation, independent of our code
        want = CASES[recipe][1](folder, t)
        got = [b[(t.trace_id, i)][0] for i in range(len(t.steps))]
        np.testing.assert_allclose(got, want, atol=1e-3)
    # the step-tag text inside step 0 of d-4 is not a step: still exactly two scored steps
    assert [k for k in b if k[0] == "d-4"] == [("d-4", 0), ("d-4", 1)]


@pytest.mark.vllm
def test_vllm_over_long_trace_scores_what_fits_and_says_why(pair):
    recipe, folder, tr, vl = pair
    assert vl.runner.max_length == 256  # max_position_embeddings of the tiny models
    a, b = _scores(tr, [LONG]), _scores(vl, [LONG])
    scored = [k for k, v in b.items() if v[0] is not None]
    skipped = [k for k, v in b.items() if v[0] is None]
    assert scored and skipped, "some steps fit in 256 tokens, some do not"
    assert all("context of 256" in b[k][1] for k in skipped)
    assert [k for k, v in a.items() if v[0] is None] == skipped
    assert max(abs(a[k][0] - b[k][0]) for k in scored) < 1e-3


def test_missing_vllm_says_how_to_install(monkeypatch):
    from prm_viewer.scoring.backends.vllm_backend import import_vllm

    monkeypatch.setitem(sys.modules, "vllm", None)  # what an environment without vllm looks like
    with pytest.raises(MissingDependency, match="requirements-vllm.txt"):
        import_vllm()


def test_rows_that_do_not_fit_the_positions_are_an_error_not_a_guess():
    from prm_viewer.scoring.backends.vllm_backend import rows_at_positions

    ids = [5, 7, 9, 7, 3]
    rows = np.arange(10, dtype=float).reshape(5, 2)
    np.testing.assert_array_equal(rows_at_positions(rows, ids, [1, 3], None, "x"), rows[[1, 3]])  # every token
    tagged = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(rows_at_positions(tagged, ids, [3], 7, "x"), tagged[[1]])  # one row per tag
    with pytest.raises(RecipeError, match="step_tag_id=9"):
        rows_at_positions(tagged, ids, [2], 9, "server")  # 2 rows but only one tag 9 and 5 tokens
