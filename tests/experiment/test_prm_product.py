"""The saved tiny PRM through the real qwen-prm recipe equals an independent computation; the
experiment's trace files import with their tags, get scored in real scoring jobs, the comparison
runs on them, and ``load_experiment`` puts them into another store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from prm_viewer.experiment import artefacts, evaluate, results
from prm_viewer.experiment.prm import PrmScorer
from prm_viewer.experiment.tasks import Splits, imperfect_traces, trace_record
from prm_viewer.store import open_store



def independent_scores(folder: Path, tok: Any, problem: str, steps: list[str]) -> np.ndarray:
    """transformers' Qwen2Model + the two-layer head from the safetensors file, by hand."""
    import torch
    from safetensors.torch import load_file
    from transformers import Qwen2Config, Qwen2Model

    w = load_file(str(folder / "model.safetensors"))
    cfg = Qwen2Config.from_pretrained(str(folder))
    body = Qwen2Model(cfg)
    body.load_state_dict({k[len("model."):]: v for k, v in w.items() if k.startswith("model.")})
    body.eval()
    # the tiny models' chat template has no system turn (models.CHAT_TEMPLATE drops it)
    text = (f"<|im_start|>user\n{problem}<|im_end|>\n"
            f"<|im_start|>assistant\n" + "".join(s + "<extra_0>" for s in steps) + "<|im_end|>\n")
    ids = tok(text, add_special_tokens=False)["input_ids"]
    marker = tok.convert_tokens_to_ids("<extra_0>")
    with torch.no_grad():
        h = body(input_ids=torch.tensor([ids])).last_hidden_state[0]
        x = torch.relu(h @ w["score.0.weight"].T + w["score.0.bias"]) @ w["score.2.weight"].T + w["score.2.bias"]
        p = torch.softmax(x.double(), dim=-1)[:, 1].numpy()
    return p[[i for i, t in enumerate(ids) if t == marker]]


def test_saved_prm_scores_through_the_recipe(prm_dir: Path, tok: Any, splits: Splits) -> None:
    assert json.loads((prm_dir / "config.json").read_text())["architectures"] == ["Qwen2ForProcessRewardModel"]
    traces = [(r["problem"], r["steps"]) for r in imperfect_traces(splits.test_in[:3], 0.5, 9, "t")]
    scorer = PrmScorer(prm_dir)
    try:
        got = scorer.score(traces)
    finally:
        scorer.close()
    for (problem, steps), g in zip(traces, got):
        np.testing.assert_allclose(g, independent_scores(prm_dir, tok, problem, steps), atol=1e-5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, splits: Splits) -> tuple[Path, list[dict[str, Any]]]:
    """Two 'policies' = injected traces at two error rates, written as the experiment writes them."""
    out = tmp_path_factory.mktemp("artefacts")
    files = []
    for run, rate in (("without", 0.8), ("with", 0.2)):
        recs = [trace_record(next(t for t in splits.test() if t.problem_id == r["problem_id"]), r["steps"], f"p-{run}",
                             i, run) for i, r in enumerate(imperfect_traces(splits.test(), rate, 4, run))]
        evaluate.write_jsonl(out / f"traces/{run}.jsonl", recs)
        files.append({"name": evaluate.DATASET.format(run=run), "file": f"traces/{run}.jsonl",
                      "tags": {"process_reward": run}, "records": recs})
    return out, files


def test_import_score_compare_and_load(runs: tuple[Path, list[dict[str, Any]]], prm_dir: Path, tmp_path: Path) -> None:
    out, files = runs
    store = open_store(tmp_path / "s.duckdb")
    try:
        for f in files:
            f["dataset_id"] = evaluate.import_traces(store, out / f["file"], f["name"], f["tags"])
            row = store.resolve_dataset(f["name"])
            tags = row["tags"] if isinstance(row["tags"], dict) else json.loads(row["tags"])
            assert tags == f["tags"]
        prm_id, ver_id = evaluate.register_scorers(store, prm_dir, 0.5)
        jobs = evaluate.score_all(store, [(s, f["dataset_id"]) for f in files for s in (prm_id, ver_id)], tmp_path / "jobs")
        assert [j["status"] for j in jobs] == ["done"] * 4
        cmp = results.comparison(store, files[0]["name"], files[1]["name"], prm_id, ver_id, seed=0)
        # independent: per-problem mean correctness, then the mean over problems, per run
        for key, f in (("a", files[0]), ("b", files[1])):
            d = pd.DataFrame(f["records"])
            assert cmp["accuracy"][key]["estimate"] == pytest.approx(d.groupby("problem_id")["correct"].mean().mean())
        split_sizes = pd.DataFrame(files[0]["records"]).groupby("split")["problem_id"].nunique().to_dict()
        assert {k: v["n_problems"] for k, v in cmp["accuracy_by_split"].items()} == split_sizes
        # the exact verifier localises its own labels perfectly: F1 = 100 wherever both kinds exist
        loc = results.localisation(store, files[0]["name"], ver_id, 0.5)
        assert loc["overall"][0]["f1"] == pytest.approx(100.0)
        n = artefacts.export_scores(store, out, [{k: f[k] for k in ("name", "file", "tags", "dataset_id")} for f in files],
                                    [prm_id, ver_id])
        assert n == 2 * sum(len(r["steps"]) for f in files for r in f["records"])
    finally:
        store.close()
    other = open_store(tmp_path / "other.duckdb")
    try:
        assert artefacts.has_results(out)
        # the app's default demo on an empty store: the experiment, since its artefacts exist
        assert sorted(artefacts.load_default_demo(other, out)) == sorted(f["name"] for f in files)
        ds = {r["name"]: r for r in other.cursor().execute("SELECT name, tags, synthetic FROM datasets").df().to_dict("records")}
        for f in files:
            # sampled from trained policies: not the synthetic demo's generated records
            assert not ds[f["name"]]["synthetic"]
            tags = ds[f["name"]]["tags"]
            assert (tags if isinstance(tags, dict) else json.loads(tags))["process_reward"] == f["tags"]["process_reward"]
        splits_stored = dict(other.cursor().execute(
            "SELECT split, count(*) FROM traces t JOIN datasets d USING (dataset_id) WHERE d.name = ? GROUP BY split",
            [files[0]["name"]]).fetchall())
        assert splits_stored == pd.DataFrame(files[0]["records"])["split"].value_counts().to_dict()
        assert artefacts.load_experiment(other, out) == []  # idempotent
        again = results.comparison(other, files[0]["name"], files[1]["name"], prm_id, ver_id, seed=0)
        assert again["accuracy"] == cmp["accuracy"]
    finally:
        other.close()


def test_default_demo_falls_back_to_the_synthetic_demo(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.duckdb")
    try:
        assert not artefacts.has_results(tmp_path / "nothing")
        names = artefacts.load_default_demo(store, tmp_path / "nothing")
        assert sorted(names) == ["synthetic-demo-with-process-reward", "synthetic-demo-without-process-reward"]
        assert store.cursor().execute("SELECT bool_and(synthetic) FROM datasets").fetchone() == (True,)
    finally:
        store.close()


def test_load_experiment_without_a_run_names_the_command(tmp_path: Path) -> None:
    from prm_viewer.errors import NotFound

    store = open_store(tmp_path / "s.duckdb")
    try:
        with pytest.raises(NotFound, match="python -m prm_viewer experiment run"):
            artefacts.load_experiment(store, tmp_path / "nothing")
    finally:
        store.close()
