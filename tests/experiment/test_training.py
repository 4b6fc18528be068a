"""Training loops on tiny settings: SFT loss goes down, RL reward goes up on a trivial task,
the token -> step map follows the text, the PRM rows put labels where the recipe puts markers."""

from __future__ import annotations

from typing import Any

import numpy as np

from prm_viewer.demo.tasks import Task
from prm_viewer.demo.verifier import verify_steps
from prm_viewer.experiment import models, policy, trainer
from prm_viewer.experiment.prm import prm_rows
from prm_viewer.experiment.rl import RLSettings, rl_train
from prm_viewer.experiment.tasks import Splits, imperfect_traces, parse_completion
from tests.experiment.conftest import TINY

TRIVIAL = Task("trivial-0", 2, (("+", 3),), "in_domain", "arithmetic")  # answer 5


def test_sft_loss_goes_down(tok: Any, splits: Splits) -> None:
    recs = imperfect_traces(splits.train, 0.3, 2, "sft")
    rows = [policy.sft_row(tok, r["problem"], r["steps"]) for r in recs]
    model = models.new_policy(tok, TINY, seed=0)
    curve = trainer.train(model, rows, tok.pad_token_id, steps=40, lr=3e-3, batch=8, seed=0, desc="test-sft")
    first, last = curve[0]["loss"], np.mean([c["loss"] for c in curve[-3:]])
    assert last < 0.6 * first, curve


def test_sft_row_masks_the_prompt(tok: Any) -> None:
    row = policy.sft_row(tok, TRIVIAL.text, ["2 + 3 = 5"])
    n_prompt = len(policy.prompt_ids(tok, TRIVIAL.text))
    assert row["labels"][:n_prompt] == [-100] * n_prompt
    assert tok.decode(row["labels"][n_prompt:]) == "2 + 3 = 5<|im_end|>"


def test_rl_reward_goes_up_on_a_trivial_task(tok: Any) -> None:
    # SFT to a coin flip between the right answer and a wrong one, then outcome-only RL.
    rows = [policy.sft_row(tok, TRIVIAL.text, ["2 + 3 = 5" if i % 2 else "2 + 3 = 6"]) for i in range(256)]
    model = models.new_policy(tok, TINY, seed=0)
    trainer.train(model, rows, tok.pad_token_id, steps=60, lr=3e-3, batch=16, seed=0, desc="test-coin")
    rl = RLSettings(steps=12, prompts=2, group=16, lr=1e-3, temperature=1.0, max_new_tokens=12, beta=0.0,
                    credit="progress", seed=0)
    curve = rl_train(model, tok, [TRIVIAL], rl, prm=None)
    early = curve[0]["reward"]  # sampled before the first update: the coin flip
    late = np.mean([c["reward"] for c in curve[-3:]])
    assert late > early + 0.25, [c["reward"] for c in curve]


def test_prm_learns_to_tell_a_right_step_from_a_wrong_one(tok: Any, tmp_path: Any) -> None:
    from prm_viewer.experiment.prm import PrmScorer, class_weights, token_classification_loss

    right, wrong = ["2 + 3 = 5", "5 - 2 = 3"], ["2 + 3 = 6", "6 - 2 = 4"]
    problem = "Start with 2. Then add 3, subtract 2. What is the result?"
    traces = [(problem, right if i % 2 else wrong) for i in range(64)]
    rows = prm_rows(tok, traces)
    prm = models.new_prm(tok, None, TINY, seed=0)
    curve = trainer.train(prm, rows, tok.pad_token_id, steps=100, lr=3e-3, batch=16, seed=0,
                          compute_loss=token_classification_loss(class_weights(rows)), desc="test-prm")
    assert np.mean([c["loss"] for c in curve[-3:]]) < 0.5 * curve[0]["loss"], curve
    models.save(prm, tok, tmp_path / "prm")
    scorer = PrmScorer(tmp_path / "prm")
    try:
        good, bad = scorer.score([(problem, right), (problem, wrong)])
    finally:
        scorer.close()
    # gold (the verifier): right = [valid, valid]; wrong = [invalid, valid] (6 - 2 = 4 is right from 6)
    assert verify_steps(problem, wrong) == [False, True]
    assert good[0] > 0.5 > bad[0], (good, bad)


def test_token_steps_follow_the_lines(tok: Any) -> None:
    text = "2 + 3 = 5\n\n5 * 2 = 10\n10 - 1 = 9"
    ids = list(tok(text, add_special_tokens=False)["input_ids"]) + [tok.eos_token_id]
    steps = policy.token_steps(tok, ids)
    # independent: rebuild each step's text from its tokens
    pieces = ["".join(tok.decode([t]) for t, s in zip(ids[:-1], steps) if s == k) for k in range(3)]
    assert [p.strip() for p in pieces] == parse_completion(text)
    assert steps[-1] == 2  # the end-of-turn token belongs to the last step
    assert policy.token_steps(tok, [tok.eos_token_id]).tolist() == [-1]


def test_prm_labels_sit_on_the_markers(tok: Any, splits: Splits) -> None:
    task = splits.train[0]
    steps = [r["steps"] for r in imperfect_traces([task], 1.0, 5, "x")][0]
    row = prm_rows(tok, [(task.text, steps)])[0]
    marker = tok.convert_tokens_to_ids("<extra_0>")
    at = [i for i, t in enumerate(row["input_ids"]) if t == marker]
    assert len(at) == len(steps)
    assert [row["labels"][i] for i in at] == [int(v) for v in verify_steps(task.text, steps)]
    assert sum(lab != -100 for lab in row["labels"]) == len(steps)


def test_dense_labels_mark_the_first_wrong_token(tok: Any) -> None:
    from prm_viewer.experiment.prm import DENSE

    problem = "Start with 91. Then add 8, subtract 9, subtract 2. What is the result?"
    steps = ["91 + 8 = 99", "99 - 9 = 87", "87 - 2 = 88"]  # by hand: valid, 99 - 9 is 90, 87 - 2 is 85
    row = prm_rows(tok, [(problem, steps)], dense=True)[0]
    marker = tok.convert_tokens_to_ids("<extra_0>")
    at = [i for i, t in enumerate(row["input_ids"]) if t == marker]
    assert [row["labels"][i] for i in at] == [1, 0, 0]
    spans = [range(at[0] - 9, at[0]), range(at[0] + 1, at[1]), range(at[1] + 1, at[2])]
    assert [tok.decode([row["input_ids"][j] for j in sp]) for sp in spans] == steps  # aligned with the text
    dense = [[row["labels"][j] - DENSE for j in sp] for sp in spans]
    assert dense[0] == [1] * 9
    assert dense[1] == [1] * 7 + [0, 0]  # "99 - 9 = " is right so far; "8" (not "9") is the first wrong token
    assert dense[2] == [1] * 8 + [0]  # "87 - 2 = 8" still begins "87 - 2 = 85"; the second "8" is wrong
    assert sum(lab != -100 for lab in row["labels"]) == 27 + 3  # nothing else is labelled


def test_loss_adds_the_dense_term_by_hand() -> None:
    import torch

    from prm_viewer.experiment.prm import DENSE, token_classification_loss

    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -0.5]]])
    labels = torch.tensor([[1, -100, DENSE + 0, DENSE + 1]])

    def nll(row: list[float], y: int) -> float:  # -log softmax by hand
        return float(np.log(np.exp(row).sum()) - row[y])

    step = nll([2.0, 0.0], 1)
    dense = (3.0 * nll([1.0, 1.0], 0) + 0.5 * nll([0.5, -0.5], 1)) / (3.0 + 0.5)  # class-weighted mean
    out = token_classification_loss((2.0, 0.7), 0.25, (3.0, 0.5))(type("O", (), {"logits": logits})(), labels)
    assert abs(float(out) - (step + 0.25 * dense)) < 1e-6
    plain = token_classification_loss((2.0, 0.7))(type("O", (), {"logits": logits})(), labels)
    assert abs(float(plain) - step) < 1e-6  # no dense weight: the step labels only


def test_completion_logprobs_follow_the_sampling_temperature(tok: Any) -> None:
    import torch

    model = models.new_policy(tok, TINY, seed=4).eval()
    prompt = policy.prompt_ids(tok, TRIVIAL.text)
    done = list(tok("2 + 3 = 5", add_special_tokens=False)["input_ids"]) + [int(tok.eos_token_id)]
    smp = [policy.Sample(prompt, done, "2 + 3 = 5"), policy.Sample(prompt, done[:3], "2 +")]
    with torch.no_grad():
        logp, mask = policy.completion_logprobs(model, smp, int(tok.pad_token_id), temperature=0.7)
        # independent: one unpadded forward pass per sample, log_softmax(logits / T) at each next token
        for r, s in enumerate(smp):
            ids = torch.tensor([s.prompt_ids + s.completion_ids])
            lp = torch.log_softmax(model(input_ids=ids).logits[0].float() / 0.7, dim=-1)
            want = [float(lp[len(s.prompt_ids) - 1 + t, tok_id]) for t, tok_id in enumerate(s.completion_ids)]
            assert np.allclose(logp[r, : len(want)].numpy(), want, atol=1e-5)
            assert mask[r].tolist() == [1.0] * len(want) + [0.0] * (mask.shape[1] - len(want))
