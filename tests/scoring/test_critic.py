"""``critic``: the judge-answer parsers on fixed outputs (valid and malformed), the step scores
a verdict gives, and real judges end to end (a tiny random judge on vLLM whose output is not
predicted but must parse or be stored as unparsed; a judge that always stops at once, so its
empty answer is malformed by construction; AutoRace criteria written from known-wrong traces)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from prm_viewer.errors import RecipeError
from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from prm_viewer.scoring.recipes import TraceInput
from prm_viewer.scoring.recipes.critic import processbench_prompt, verdict_result
from prm_viewer.scoring.recipes.judge_parse import (
    Unparsed,
    Verdict,
    last_boxed,
    majority,
    parse_autorace,
    parse_processbench,
)
from tests.scoring.test_vllm_helpers import build_eos_prover, build_qwen_lm, cpu_env

TRACES = [
    TraceInput("c-0", "What is 7 + 5, times 3?", ["7 + 5 = 12.", "12 * 3 = 36.", "The answer is 36."]),
    TraceInput("c-1", "Let x be 3. What is 2x + 5?", ["2x = 6.", "6 + 5 = 12."]),
]


@pytest.mark.parametrize("text, n, want", [
    ("The second paragraph is wrong.\n\\boxed{1}", 3, 1),
    ("All paragraphs are right, so \\boxed{-1}.", 3, -1),
    ("first \\boxed{2} then I reconsider: \\boxed{ 0 }", 3, 0),  # the LAST box counts
    ("\\boxed{$2$}", 3, 2),
])
def test_processbench_answers_parse(text, n, want):
    assert parse_processbench(text, n) == Verdict(want)


@pytest.mark.parametrize("text, n, reason", [
    ("I think paragraph 1 is wrong.", 3, "no \\boxed"),
    ("\\boxed{one}", 3, "not a paragraph index"),
    ("\\boxed{3}", 3, "outside -1..2"),
    ("\\boxed{-2}", 3, "outside"),
    ("\\boxed{1", 3, "no \\boxed"),  # cut off: unbalanced braces
    ("", 2, "no \\boxed"),
])
def test_processbench_malformed_answers_are_unparsed_not_guessed(text, n, reason):
    got = parse_processbench(text, n)
    assert isinstance(got, Unparsed) and reason in got.reason and got.text == text


def test_nested_boxed_content():
    assert last_boxed("x \\boxed{\\frac{1}{2}} y") == "\\frac{1}{2}"


@pytest.mark.parametrize("text, n, want", [
    ("Step 1 ok. Step 2 ok.\nVerdict: CORRECT", 3, Verdict(-1)),
    ("Verdict: INCORRECT, step 2", 3, Verdict(1)),
    ("CORRECT so far... Verdict: INCORRECT, the error is in Step 3.", 3, Verdict(2)),
    ("Verdict: INCORRECT", 3, Verdict(None)),  # wrong, but no step named
    ("Verdict: INCORRECT\nStep 1 was fine", 3, Verdict(None)),  # a step on a later line is not the verdict's
])
def test_autorace_verdicts(text, n, want):
    assert parse_autorace(text, n) == want


@pytest.mark.parametrize("text", ["looks fine to me", "Verdict: INCORRECT, step 7", "verdict: correct"])
def test_autorace_malformed(text):
    assert isinstance(parse_autorace(text, 3), Unparsed)


def test_majority_vote_and_ties():
    v, c = majority([Verdict(1), Unparsed("x", ""), Verdict(1), Verdict(-1)])
    assert (v, c) == (Verdict(1), 2)
    assert majority([Verdict(2), Verdict(0)]) == (Verdict(0), 1)  # tie: the earliest error
    assert majority([Verdict(-1), Verdict(None)]) == (Verdict(-1), 1)
    assert majority([Unparsed("a", "a")]) == (None, 0)


def test_verdict_becomes_step_scores():
    t = TraceInput("t", "p", ["a", "b", "c", "d"])
    r = verdict_result(t, [Verdict(2), Verdict(2), Verdict(0)], "processbench")
    assert r.score == [1.0, 1.0, 0.0, None]
    assert r.raw[:3] == [2 / 3] * 3 and r.raw[3] is None
    assert "first error at step 2 (2/3 samples)" in r.note[0] and "after the judge's first error" in r.note[3]
    ok = verdict_result(t, [Verdict(-1)], "processbench")
    assert ok.score == [1.0] * 4 and "no error" in ok.note[0]
    bad = verdict_result(t, [Unparsed("no \\boxed{} answer", "blah blah")], "processbench")
    assert bad.score == [None] * 4 and "unparsed" in bad.note[0] and "blah blah" in bad.note[0]
    vague = verdict_result(t, [Verdict(None)], "autorace")
    assert vague.score == [None] * 4 and "INCORRECT without naming a step" in vague.note[0]


def test_processbench_prompt_tags_paragraphs_from_zero():
    p = processbench_prompt(TRACES[0])
    assert "<paragraph_0>\n7 + 5 = 12.\n</paragraph_0>" in p and "<paragraph_2>" in p and "<paragraph_3>" not in p
    assert "\\boxed{}" in p and "[Math Problem]\n\nWhat is 7 + 5, times 3?" in p


def check_stored(rows: list[dict], traces) -> int:
    """Each trace's rows are either a valid verdict's pattern or all unscored with the judge's text."""
    parsed = 0
    for t in traces:
        mine = [r for r in rows if r["trace_id"] == t.trace_id]
        assert [r["step_idx"] for r in mine] == list(range(len(t.steps)))
        scores = [r["score"] for r in mine]
        head = mine[0]["note"]
        if "unparsed" in head:
            assert scores == [None] * len(t.steps)
            continue
        parsed += 1
        m = re.search(r"(no error|first error at step (\d+))", head)
        assert m, head
        e = -1 if m.group(1) == "no error" else int(m.group(2))
        want = [1.0] * len(t.steps) if e == -1 else [1.0] * e + [0.0] + [None] * (len(t.steps) - e - 1)
        assert scores == want
    return parsed


@pytest.fixture(scope="module")
def judges(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("judges")
    return {"random": build_qwen_lm(root / "judge", seed=21), "silent": build_eos_prover(root / "silent")}


@pytest.mark.vllm
def test_random_judge_on_vllm_parses_or_stores_unparsed(judges):
    pytest.importorskip("vllm", reason="vllm is not installed (pip install -r requirements-vllm.txt)")
    cpu_env()
    eng = load_engine(ScorerSpec(recipe="critic", checkpoint=str(judges["random"]), backend="vllm", device="cpu",
                                 recipe_options={"max_tokens": 24, "samples": 3, "temperature": 1.0}))
    try:
        rows = score_traces(eng, TRACES).to_pylist()
    finally:
        eng.close()
    check_stored(rows, TRACES)


def test_silent_judge_output_is_stored_as_unparsed(judges):
    eng = load_engine(ScorerSpec(recipe="critic", checkpoint=str(judges["silent"]), device="cpu",
                                 recipe_options={"max_tokens": 8}))
    rows = score_traces(eng, TRACES).to_pylist()
    eng.close()
    assert check_stored(rows, TRACES) == 0
    heads = [r["note"] for r in rows if r["step_idx"] == 0]
    assert all(h.startswith("judge (processbench) output unparsed (no \\boxed{} answer)") for h in heads)


def test_autorace_writes_criteria_once_from_wrong_traces(judges, tmp_path):
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(json.dumps({"problem": t.problem, "steps": t.steps}) + "\n" for t in TRACES))
    eng = load_engine(ScorerSpec(recipe="critic", checkpoint=str(judges["random"]), device="cpu",
                                 recipe_options={"mode": "autorace", "wrong_examples": str(wrong), "max_tokens": 12}))
    rows = score_traces(eng, TRACES).to_pylist()
    criteria = eng.cache["critic.criteria"]
    rows2 = score_traces(eng, TRACES[:1]).to_pylist()
    eng.close()
    assert eng.cache["critic.criteria"] is criteria  # written once per engine
    sha = hashlib.sha256(criteria.encode()).hexdigest()[:10]
    assert all(f"autorace (criteria sha {sha})" in r["note"] for r in rows + rows2 if r["step_idx"] == 0)
    for t in TRACES:
        mine = [r for r in rows if r["trace_id"] == t.trace_id]
        assert len(mine) == len(t.steps)
        assert all(r["score"] in (None, 0.0, 1.0) for r in mine)


def test_bad_critic_options_fail_clearly(judges, tmp_path):
    with pytest.raises(RecipeError, match="autorace"):
        load_engine(ScorerSpec(recipe="critic", checkpoint=str(judges["random"]), device="cpu",
                               recipe_options={"mode": "autorace"}))
    with pytest.raises(RecipeError, match="does not exist"):
        load_engine(ScorerSpec(recipe="critic", checkpoint=str(judges["random"]), device="cpu",
                               recipe_options={"mode": "autorace", "wrong_examples": str(tmp_path / "nope.jsonl")}))
