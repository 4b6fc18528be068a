"""Benchmark tables: PRMBench PRMScore against the official formula on the real files (fixed
scores), ProcessBench against hand-computed metrics, and the LaTeX/CSV output."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prm_viewer.analysis import benchmarks as bm
from prm_viewer.analysis.runs import Run
from prm_viewer.cli.entry import main
from prm_viewer.store import Store
from tests.analysis.test_bestofn import make_store


def _fixed_score(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def _official(samples: list[dict], scores: dict[str, list[float]], threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """mr_eval/tasks/prmtest_classified/task.py, transcribed: eval_on_hallucination_step's counts
    per class and the F1 arithmetic of evaluate_function."""
    conf: dict[str, dict[str, int]] = {}
    for smp in samples:
        labels = [s > threshold for s in scores[smp["idx"]]]
        err = [i - 1 for i in smp["error_steps"]]
        c = conf.setdefault(smp["classification"], dict(TP=0, FP=0, TN=0, FN=0))
        for idx in range(len(labels)):
            if idx in err:
                c["FP" if labels[idx] == 1 else "TN"] += 1
            else:
                c["TP" if labels[idx] == 1 else "FN"] += 1
    out = {}
    for cls, c in conf.items():
        p = c["TP"] / (c["TP"] + c["FP"]) if c["TP"] + c["FP"] else -1
        r = c["TP"] / (c["TP"] + c["FN"]) if c["TP"] + c["FN"] else -1
        f1 = 2 * p * r / (p + r) if p + r else -1
        npr = c["TN"] / (c["TN"] + c["FN"]) if c["TN"] + c["FN"] else -1
        nr = c["TN"] / (c["TN"] + c["FP"]) if c["TN"] + c["FP"] else -1
        nf1 = 2 * npr * nr / (npr + nr) if npr + nr else -1
        out[cls] = {"f1": f1, "negative_f1": nf1, "prm_score": 0.5 * f1 + 0.5 * nf1}
    return out


def _load_official(folder: Path) -> list[dict]:
    """load_data_function: class_idx keys, the redundency originals added once as class 'correct'."""
    meta, seen = [], set()
    for f in sorted(folder.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item["classification"] == "redundency" and f"correct_{item['idx']}" not in seen:
                seen.add(f"correct_{item['idx']}")
                meta.append({"idx": f"correct_{item['idx']}", "steps": item["original_process"], "error_steps": [],
                             "classification": "correct"})
            key = f"{item['classification']}_{item['idx']}"
            if key not in seen:
                seen.add(key)
                meta.append({"idx": key, "steps": item["modified_process"], "error_steps": item["error_steps"],
                             "classification": item["classification"]})
    return meta


def test_prmscore_matches_official_on_real_files(shared_data: Path) -> None:
    folder = shared_data / "PRMBench"
    if not folder.is_dir():
        pytest.skip("../shared/data/PRMBench is absent")
    samples = _load_official(folder)
    scores = {s["idx"]: [_fixed_score(f"{s['idx']}:{i}") for i in range(len(s["steps"]))] for s in samples}
    official = _official(samples, scores)
    rows = [{"category": s["classification"], "gold_label": -1 if i + 1 in s["error_steps"] else 1, "score": v}
            for s in samples for i, v in enumerate(scores[s["idx"]])]
    ours = bm.prmbench_scores(pd.DataFrame(rows)).set_index("category")
    assert set(official) <= set(ours.index) and "correct" in official
    for cls, o in official.items():
        assert ours.loc[cls, "f1_correct"] == pytest.approx(o["f1"] * 100)
        assert ours.loc[cls, "f1_error"] == pytest.approx(o["negative_f1"] * 100)
        assert ours.loc[cls, "prm_score"] == pytest.approx(o["prm_score"] * 100)
    # The overall row sums every class but 'correct', as the official total does.
    rest = [s for s in samples if s["classification"] != "correct"]
    total = _official([dict(s, classification="all") for s in rest], scores)["all"]
    assert ours.loc["overall", "prm_score"] == pytest.approx(total["prm_score"] * 100)
    # A score exactly at the threshold is not valid (strict >), as in the official models.
    edge = bm.prmbench_scores(pd.DataFrame({"category": ["x", "x"], "gold_label": [1, -1], "score": [0.5, 0.2]}))
    assert edge.set_index("category").loc["x", "f1_correct"] == 0


def _pb_store(store: Store) -> list[Run]:
    runs = []
    # Two subsets; scores chosen so gsm8k's best tau is in (0.3, 0.6].
    cases = {
        "gsm8k": [(-1, [0.9, 0.8]), (1, [0.9, 0.3]), (0, [0.2, 0.9]), (-1, [0.7, 0.6])],
        "math": [(-1, [0.55, 0.9]), (1, [0.8, 0.4]), (0, [0.35, 0.9]), (-1, [0.9, 0.9])],
    }
    for name, rows in cases.items():
        traces = [{"problem": f"{name}{i}", "answer": "1", "correct": g == -1, "gold": g, "n_steps": 2}
                  for i, (g, _) in enumerate(rows)]
        did = make_store(store, traces, {"prm": {i: s for i, (_, s) in enumerate(rows)}}, name=name)
        runs.append(Run(did, name))
    return runs


def test_processbench_table_by_hand(store: Store, tmp_path: Path) -> None:
    runs = _pb_store(store)
    t = bm.processbench_table(store, runs, ["prm"], tune_on="GSM8K")
    g = t.set_index("subset")
    # gsm8k: every trace right for tau in (0.3, 0.6]; the exact search returns the end point 0.6.
    assert g.loc["gsm8k", "tau"] == pytest.approx(0.6) and g.loc["gsm8k", "f1"] == 100.0
    # math at 0.6: trace 0 (0.55 < 0.6) raises a false alarm; the others are right.
    assert (g.loc["math", "acc_error"], g.loc["math", "acc_correct"]) == (100.0, 50.0)
    assert g.loc["math", "f1"] == pytest.approx(2 * 100 * 50 / 150)
    # math's own best: 0.55 (0.55 is not below 0.55), F1 100: the in-sample oracle column.
    assert (g.loc["math", "best_tau"], g.loc["math", "best_f1"]) == (pytest.approx(0.55), 100.0)
    assert g.loc["average", "f1"] == pytest.approx(t[t["subset"] != "average"]["f1"].mean())
    tex = bm.latex_table(bm.processbench_wide(t), "ProcessBench & co")
    assert r"\begin{tabular}" in tex and r"ProcessBench \& co" in tex and "gsm8k F1" in tex
    with pytest.raises(Exception, match="no subset"):
        bm.processbench_table(store, runs, ["prm"], tune_on="olympiad")


def test_benchmark_cli_writes_csv_and_latex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "b.duckdb"
    with Store(db) as s:
        _pb_store(s)
    csv, tex = tmp_path / "t.csv", tmp_path / "t.tex"
    assert main(["--db", str(db), "benchmark", "processbench", "--dataset", "gsm8k", "--dataset", "math",
                 "--scorer", "prm", "--csv", str(csv), "--latex", str(tex), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["subset"] for r in out["table"]} == {"gsm8k", "math", "average"}
    assert pd.read_csv(csv)["subset"].tolist() == ["gsm8k", "math", "average"]
    assert r"\toprule" in tex.read_text()
