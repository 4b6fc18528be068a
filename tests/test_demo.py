"""The synthetic demo: the exact verifier, error injection at labelled positions, the loader.

The test re-parses problems and steps with its own small parser (``_ops``, ``_step``), so the
checks do not reuse the demo's verifier or generator to judge themselves.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from pathlib import Path

import pytest

from prm_viewer import queries
from prm_viewer.cli import main
from prm_viewer.demo import SYNTHETIC_PRM_SCORER, VERIFIER_SCORER, demo_records, load_demo
from prm_viewer.demo.traces import ERROR_TYPES
from prm_viewer.demo.verifier import solve, verify_steps
from prm_viewer.store import Store, problem_key
from tests.conftest import TEST_DATA, snapshot

PROBLEM = "[synthetic demo] Start with 7. Then add 5, multiply by 3, subtract 4. What is the result?"

# ------------------------------------------------------------------ an independent reader

_WORDS = {"add": "+", "subtract": "-", "multiply by": "*", "divide by": "/", "take the remainder modulo": "mod"}
_FN = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.floordiv, "mod": operator.mod}


def _ops(problem: str) -> tuple[int, list[tuple[str, int]]]:
    start = int(re.search(r"Start with (-?\d+)", problem).group(1))
    body = problem.split("Then ", 1)[1].split(". What", 1)[0]
    ops = []
    for part in body.split(", "):
        word, num = part.rsplit(" ", 1)
        ops.append((_WORDS[word], int(num)))
    return start, ops


def _step(text: str) -> tuple[int, str, int, int]:
    lhs, c = text.split(" = ")
    a, sym, b = lhs.split(" ")
    return int(a), sym, int(b), int(c)


def _answer(problem: str) -> int:
    value, ops = _ops(problem)
    for sym, b in ops:
        value = _FN[sym](value, b)
    return value


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [r for _, recs in demo_records() for r in recs]


# ------------------------------------------------------------------ the verifier


def test_verifier_accepts_a_correct_chain_and_solves_it() -> None:
    assert verify_steps(PROBLEM, ["7 + 5 = 12", "12 * 3 = 36", "36 - 4 = 32"]) == [True, True, True]
    assert solve(PROBLEM) == 32


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (["7 + 5 = 13", "13 * 3 = 39", "39 - 4 = 35"], [False, True, True]),  # arithmetic slip, then valid from 13
        (["7 + 5 = 12", "21 * 3 = 63", "63 - 4 = 59"], [True, False, True]),  # copied 21 instead of 12
        (["7 + 5 = 12", "12 + 3 = 15", "15 - 4 = 11"], [True, False, True]),  # wrong operator
        (["7 + 5 = 12", "12 - 4 = 8"], [True, False]),  # skipped "multiply by 3"
        (["7 + 5 = 12", "12 * 4 = 48", "48 - 4 = 44"], [True, False, True]),  # wrong operand
        (["7 + 5 = 12", "12 * 3 = 36", "36 - 4 = 32", "32 + 1 = 33"], [True, True, True, False]),  # extra step
        # Unparseable: it states no result, so the next step cannot be checked as continuing from it.
        (["7 + 5 = 12", "twelve times three is 36", "36 - 4 = 32"], [True, False, False]),
        (["7 + 5 = 12", "12 * 3 = 36", "36 - 4 = 34"], [True, True, False]),  # slip in the last step
    ],
)
def test_verifier_rejects_exactly_the_corrupted_steps(steps: list[str], expected: list[bool]) -> None:
    assert verify_steps(PROBLEM, steps) == expected


def test_verifier_unseen_operators_are_exact() -> None:
    p = "[synthetic demo] Start with 30. Then divide by 4, add 1. What is the result?"
    assert verify_steps(p, ["30 / 4 = 7", "7 + 1 = 8"]) == [False, True]  # 30/4 is not exact
    p = "[synthetic demo] Start with 30. Then divide by 5, take the remainder modulo 4. What is the result?"
    assert verify_steps(p, ["30 / 5 = 6", "6 mod 4 = 2"]) == [True, True]
    assert verify_steps(p, ["30 / 5 = 6", "6 mod 4 = 1"]) == [True, False]
    assert solve(p) == 2


def test_verifier_on_a_non_demo_problem_marks_everything_invalid() -> None:
    assert verify_steps("What is 2+2?", ["2 + 2 = 4"]) == [False]


# ------------------------------------------------------------------ the generated traces


def test_every_error_type_appears_in_both_splits(records: list[dict]) -> None:
    seen = Counter((r["error_type"], r["split"]) for r in records)
    for kind in ERROR_TYPES:
        assert seen[(kind, "in_domain")] > 0 and seen[(kind, "out_of_domain")] > 0, kind
    assert seen[(None, "in_domain")] > 0
    assert {r["category"] for r in records} == {"arithmetic", "long-chain", "unseen-operator"}
    unseen_ops = {sym for r in records if r["category"] == "unseen-operator" for sym, _ in _ops(r["problem"])[1]}
    in_ops = {sym for r in records if r["split"] == "in_domain" for sym, _ in _ops(r["problem"])[1]}
    assert in_ops == {"+", "-", "*"} and {"/", "mod"} <= unseen_ops
    long = [len(_ops(r["problem"])[1]) for r in records if r["category"] == "long-chain"]
    short = [len(_ops(r["problem"])[1]) for r in records if r["split"] == "in_domain"]
    assert min(long) > max(short)


def test_each_error_sits_at_its_labelled_position(records: list[dict]) -> None:
    for r in records:
        start, ops = _ops(r["problem"])
        steps = [_step(s) for s in r["steps"]]
        k = r["gold_first_error"]
        answer = _answer(r["problem"])
        final = steps[-1][3]
        assert r["final_answer"] == str(final) and r["reference_answer"] == str(answer)
        kind = r["error_type"]
        if kind is None:
            assert k == -1 and final == answer and r["final_answer_correct"] is True
            assert all(lab == 1 for lab in r["step_labels"])
            continue
        prev = start if k == 0 else steps[k - 1][3]
        a, sym, b, c = steps[k]
        # Steps before the error are exactly the correct chain.
        v = start
        for i in range(k):
            assert steps[i] == (v, ops[i][0], ops[i][1], _FN[ops[i][0]](v, ops[i][1])), r["id"]
            v = steps[i][3]
        if kind == "arithmetic_slip":
            assert (a, sym, b) == (prev, *ops[k]) and c != _FN[sym](a, b)
        elif kind == "copied_wrong_value":
            assert a != prev and (sym, b) == ops[k] and c == _FN[sym](a, b)
        elif kind == "wrong_operator":
            assert a == prev and b == ops[k][1] and sym != ops[k][0] and c == _FN[sym](a, b)
        elif kind == "skipped_step":
            assert len(steps) == len(ops) - 1 and (a, sym, b) == (prev, *ops[k + 1]) and c == _FN[sym](a, b)
        elif kind == "right_answer_wrong_step":
            assert (a, sym, b) == (prev, *ops[k]) and c != _FN[sym](a, b)
        else:  # pragma: no cover - a new type needs a check here
            pytest.fail(f"unchecked error type {kind}")
        assert r["step_labels"][k] == -1 and all(lab == 1 for lab in r["step_labels"][:k])
        assert r["final_answer_correct"] is (kind == "right_answer_wrong_step")
        assert (final == answer) is (kind == "right_answer_wrong_step")


def test_gold_labels_and_first_error_agree_with_the_verifier(records: list[dict]) -> None:
    for r in records:
        verdicts = verify_steps(r["problem"], r["steps"])
        assert [1 if ok else -1 for ok in verdicts] == r["step_labels"], r["id"]
        first_rejected = next((i for i, ok in enumerate(verdicts) if not ok), -1)
        assert first_rejected == r["gold_first_error"], r["id"]


def test_policies_share_problems_and_differ_as_designed() -> None:
    (with_p, with_r), (without_p, without_r) = demo_records()
    assert (with_p.key, without_p.key) == ("with", "without")
    assert {r["problem"] for r in with_r} == {r["problem"] for r in without_r}
    per_problem = Counter(r["problem_id"] for r in with_r)
    assert max(per_problem.values()) > 1 and min(per_problem.values()) == 1
    for split in ("in_domain", "out_of_domain"):
        w = [r for r in with_r if r["split"] == split]
        wo = [r for r in without_r if r["split"] == split]
        err = lambda rs: sum(r["gold_first_error"] != -1 for r in rs) / len(rs)  # noqa: E731
        assert err(w) < err(wo)
    rel = lambda rs: [r["gold_first_error"] / len(r["steps"]) for r in rs if r["gold_first_error"] >= 0]  # noqa: E731
    assert sum(rel(with_r)) / len(rel(with_r)) > sum(rel(without_r)) / len(rel(without_r))  # later errors
    raws = lambda rs: sum(r["error_type"] == "right_answer_wrong_step" for r in rs)  # noqa: E731
    assert raws(with_r) < raws(without_r)
    assert 200 <= len(with_r) <= 600 and len(with_r) == len(without_r)


def test_generation_is_deterministic() -> None:
    assert demo_records() == demo_records()


# ------------------------------------------------------------------ loading into the store


def test_load_demo_fills_an_empty_store_and_is_idempotent(store: Store) -> None:
    names = load_demo(store)
    assert sorted(names) == ["synthetic-demo-with-process-reward", "synthetic-demo-without-process-reward"]
    before = snapshot(store)
    assert load_demo(store) == []
    assert snapshot(store) == before

    ds = queries.datasets(store).set_index("name")
    assert ds["synthetic"].all()
    assert ds.loc["synthetic-demo-with-process-reward", "tags"]["process_reward"] == "with"
    assert ds.loc["synthetic-demo-without-process-reward", "tags"]["process_reward"] == "without"
    (_, with_r), (_, without_r) = demo_records()
    assert ds.loc["synthetic-demo-with-process-reward", "n_traces"] == len(with_r)
    assert ds.loc["synthetic-demo-with-process-reward", "n_steps"] == sum(len(r["steps"]) for r in with_r)

    sc = queries.scorers(store).set_index("name")
    assert sc.loc[VERIFIER_SCORER["name"], "recipe"] == "verifier"
    assert sc.loc[SYNTHETIC_PRM_SCORER["name"], "synthetic"] and sc.loc[VERIFIER_SCORER["name"], "synthetic"]
    assert "demo" in SYNTHETIC_PRM_SCORER["name"] and "synthetic" in SYNTHETIC_PRM_SCORER["name"]

    cur = store.cursor()
    # Same problems in both runs: the store pairs them by problem key.
    pairs = cur.execute(
        """SELECT count(DISTINCT problem_id) FROM traces t1
           WHERE dataset_id = (SELECT dataset_id FROM datasets WHERE name = 'synthetic-demo-with-process-reward')
             AND problem_id IN (SELECT problem_id FROM traces WHERE dataset_id =
                 (SELECT dataset_id FROM datasets WHERE name = 'synthetic-demo-without-process-reward'))"""
    ).fetchone()[0]
    assert pairs == len({r["problem"] for r in with_r})
    assert problem_key(with_r[0]["problem"]) in {r[0] for r in cur.execute("SELECT problem_id FROM problems").fetchall()}

    # Every step has both scores; the verifier's score is 1 exactly on the gold-valid steps.
    rows = cur.execute(
        """SELECT st.gold_label, v.score, p.score FROM steps st
           LEFT JOIN step_scores v ON v.trace_id = st.trace_id AND v.step_idx = st.step_idx AND v.scorer_id = ?
           LEFT JOIN step_scores p ON p.trace_id = st.trace_id AND p.step_idx = st.step_idx AND p.scorer_id = ?""",
        [VERIFIER_SCORER["scorer_id"], SYNTHETIC_PRM_SCORER["scorer_id"]],
    ).fetchall()
    assert len(rows) == sum(len(r["steps"]) for r in with_r + without_r)
    assert all(v == (1.0 if lab == 1 else 0.0) for lab, v, _ in rows)
    assert all(p is not None and 0.0 <= p <= 1.0 for _, _, p in rows)
    good = [p for lab, _, p in rows if lab == 1]
    bad = [p for lab, _, p in rows if lab == -1]
    assert sum(good) / len(good) > sum(bad) / len(bad) + 0.2  # informative but noisy

    # The stored traces carry error types and splits as generated.
    stored = Counter(cur.execute("SELECT error_type, split FROM traces").fetchall())
    generated = Counter((r["error_type"], r["split"]) for r in with_r + without_r)
    assert stored == generated


def test_deleted_demo_dataset_comes_back_on_load(store: Store) -> None:
    load_demo(store)
    store.delete_dataset("synthetic-demo-without-process-reward")
    assert load_demo(store) == ["synthetic-demo-without-process-reward"]
    n = store.cursor().execute(
        "SELECT count(*) FROM step_scores WHERE trace_id IN (SELECT trace_id FROM traces)").fetchone()[0]
    assert n == 2 * store.cursor().execute("SELECT count(*) FROM steps").fetchone()[0]


def test_cli_demo_and_import_into_empty_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.duckdb")
    assert main(["--db", db, "import", str(TEST_DATA / "processbench" / "valid.jsonl")]) == 0
    with Store(db) as s:
        assert list(queries.datasets(s)["name"]) == ["valid"]  # a CLI import does not add the demo
    assert main(["--db", db, "demo", "--synthetic"]) == 0
    assert "synthetic-demo-with-process-reward" in capsys.readouterr().out
    assert main(["--db", db, "demo", "--synthetic"]) == 0
    assert "the synthetic demo: already loaded" in capsys.readouterr().out
    with Store(db) as s:
        assert len(queries.datasets(s)) == 3


def test_cli_demo_loads_what_the_app_opens_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``demo`` without ``--synthetic`` is the CLI twin of the app's first start: the experiment's
    real results when ``data/experiment`` holds them, else the synthetic demo."""
    import json

    from prm_viewer.experiment import DEFAULT_OUT, has_results

    db = str(tmp_path / "exp.duckdb")
    assert main(["--db", db, "demo"]) == 0
    out = capsys.readouterr().out
    with Store(db) as s:
        names = sorted(queries.datasets(s)["name"])
    if has_results():
        expected = sorted(d["name"] for d in json.loads((DEFAULT_OUT / "datasets.json").read_text(encoding="utf-8")))
        assert names == expected
        assert out.startswith("loaded the with-vs-without experiment's results")
    else:
        assert "synthetic-demo-with-process-reward" in names
    # a folder without a finished run falls back to the synthetic demo
    db2 = str(tmp_path / "syn.duckdb")
    assert main(["--db", db2, "demo", "--experiment", str(tmp_path / "nothing")]) == 0
    assert "loaded the synthetic demo" in capsys.readouterr().out
