"""``run_experiment``: the whole with-vs-without experiment from nothing, stage by stage."""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prm_viewer.experiment import artefacts, evaluate, results, train
from prm_viewer.experiment.config import ExperimentConfig
from prm_viewer.experiment.tasks import imperfect_traces, make_splits

BBM_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "BIG-Bench-Mistake" / "multistep_arithmetic.jsonl"


def run_experiment(cfg: ExperimentConfig, out: Path, say: Callable[[str], None] = print,
                   bbm: Path | None = BBM_FILE) -> dict[str, Any]:
    """Train, evaluate through the product, write every artefact under ``out``; returns
    ``results.json``'s content."""
    import torch
    from tqdm.auto import tqdm

    from prm_viewer.scoring.scorers import package_versions
    from prm_viewer.store import open_store

    started = time.perf_counter()
    timings: dict[str, float] = {}
    load_before = os.getloadavg()
    torch.set_num_threads(cfg.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(cfg.threads))  # the scoring workers inherit it
    out.mkdir(parents=True, exist_ok=True)
    ck = out / "checkpoints"

    def stage(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 1)
        say(f"[{time.perf_counter() - started:6.0f}s] {name} done in {timings[name]:.0f}s")

    t0 = time.perf_counter()
    splits = make_splits(cfg.seed, cfg.n_train, cfg.n_test_in, cfg.n_test_ood)
    tok = train.make_tokenizer(cfg, splits, ck / "tokenizer")
    stage("tasks+tokenizer", t0)

    t0 = time.perf_counter()
    say("SFT of the policy on imperfect traces")
    sft, sft_curve = train.train_sft(cfg, tok, splits, ck / "policy-sft")
    probes = {"sft": train.probe(tok, sft, splits.test_in, cfg.seed, cfg.rl_max_new_tokens)}
    say(f"SFT probe (greedy, in-domain test): {probes['sft']}")
    stage("sft", t0)

    t0 = time.perf_counter()
    say("tiny PRM: verifier-labelled traces, Trainer")
    prm_traces = train.prm_training_traces(cfg, tok, sft, splits)
    prm_curve = train.train_prm(cfg, tok, sft, prm_traces, ck / "prm")
    stage("prm", t0)

    curves: dict[str, Any] = {"sft": sft_curve, "prm": prm_curve}
    for run in train.RUNS:
        t0 = time.perf_counter()
        bar = tqdm(total=cfg.rl_steps, desc=f"RL {run} process reward", unit="step")

        def tick(rec: dict[str, float]) -> None:
            bar.update(1)
            bar.set_postfix(reward=f"{rec['reward']:.2f}", valid=f"{rec['step_valid']:.2f}")

        curves[f"rl_{run}"] = train.train_rl(cfg, tok, splits, ck / "policy-sft", ck / "prm", run,
                                             ck / f"policy-{run}", on_step=tick)
        bar.close()
        from transformers import AutoModelForCausalLM

        probes[f"rl_{run}"] = train.probe(tok, AutoModelForCausalLM.from_pretrained(str(ck / f"policy-{run}")).eval(),
                                          splits.test_in, cfg.seed, cfg.rl_max_new_tokens)
        say(f"RL {run} probe (greedy, in-domain test): {probes[f'rl_{run}']}")
        stage(f"rl_{run}", t0)
    artefacts.save_json(out / "curves.json", curves)

    t0 = time.perf_counter()
    store_dir = out / "store"
    if store_dir.exists():
        shutil.rmtree(store_dir)  # a run starts from nothing
    store = open_store(store_dir / "experiment.duckdb")
    try:
        say("sampling both policies on the test splits (generation jobs)")
        bar = tqdm(total=2 * len(splits.test()) * cfg.eval_samples, desc="generation jobs", unit="sample")
        sampled = evaluate.sample_runs(store, cfg, splits, {run: ck / f"policy-{run}" for run in train.RUNS},
                                       store_dir / "jobs", on_progress=lambda d, n: bar.update(d - bar.n))
        bar.close()
        files: list[dict[str, Any]] = []
        for run in train.RUNS:
            name = f"traces/{run}.jsonl"
            evaluate.write_jsonl(out / name, sampled[run])
            files.append({"name": evaluate.DATASET.format(run=run), "file": name, "tags": {
                "process_reward": run, "experiment": "tiny-with-vs-without", "splits": "in_domain,out_of_domain",
                "checkpoint": f"checkpoints/policy-{run}", "temperature": str(cfg.eval_temperature),
                "samples": str(cfg.eval_samples), "seed": str(cfg.seed)}})
        held = evaluate.heldout_records(splits, imperfect_traces(splits.test(), 0.5, cfg.seed + 4, "heldout"))
        evaluate.write_jsonl(out / "traces/prm-heldout.jsonl", held)
        files.append({"name": evaluate.HELDOUT, "file": "traces/prm-heldout.jsonl",
                      "tags": {"experiment": "tiny-with-vs-without", "role": "prm-heldout"}})
        stage("sampling", t0)

        t0 = time.perf_counter()
        for f in files:
            f["dataset_id"] = evaluate.import_traces(store, out / f["file"], f["name"], f["tags"])
        prm_id, ver_id = evaluate.register_scorers(store, ck / "prm", cfg.threshold)
        # the held-out set's gold labels already are the verifier's: only the PRM scores it
        pairs = [(s, f["dataset_id"]) for f in files for s in (prm_id, ver_id)
                 if s == prm_id or f["name"] != evaluate.HELDOUT]
        bbm_note = None
        if bbm is not None and bbm.is_file():
            from prm_viewer.ingest import import_file

            bbm_id = import_file(store, bbm, fmt="bbm", name="bbm-multistep-arithmetic").dataset_id
            pairs.append((prm_id, bbm_id))
        else:
            bbm_note = f"skipped: {bbm} is not there"
        bar = tqdm(total=len(pairs), desc="scoring jobs", unit="job")
        evaluate.score_all(store, pairs, store_dir / "jobs", on_progress=lambda d, n: bar.update(d - bar.n))
        bar.close()
        stage("scoring jobs", t0)

        t0 = time.perf_counter()
        with_, without = evaluate.DATASET.format(run="with"), evaluate.DATASET.format(run="without")
        cmp = results.comparison(store, without, with_, prm_id, ver_id, cfg.seed)
        loc = {name: results.localisation(store, name, prm_id, cfg.threshold,
                                          tune_on="in_domain" if name == evaluate.HELDOUT else None)
               for name in (evaluate.HELDOUT, without, with_)}
        if bbm_note is None:
            loc["bbm-multistep-arithmetic"] = results.localisation(store, "bbm-multistep-arithmetic", prm_id, cfg.threshold)
        n_scores = artefacts.export_scores(store, out, files, [prm_id, ver_id])
        stage("analysis", t0)
    finally:
        store.close()
    from prm_viewer.experiment.figures import write_figures
    from prm_viewer.experiment.models import n_params

    figures, fig_note = write_figures(curves, out / "figures")

    res = {
        "headline": results.headline(cmp), "comparison": cmp, "localisation": loc,
        "bbm": bbm_note or "scored", "prm_training": train.label_stats(prm_traces), "probes": probes,
        "figures": figures, "figures_note": fig_note, "scores_exported": n_scores,
    }
    artefacts.save_json(out / "results.json", res)
    artefacts.save_json(out / "run.json", {
        "config": cfg.to_dict(), "timings_s": timings, "total_s": round(time.perf_counter() - started, 1),
        "load_average_before": load_before, "load_average_after": os.getloadavg(), "cpus": os.cpu_count(),
        "machine": platform.platform(), "packages": package_versions(), "policy_params": n_params(sft),
    })
    say(f"done in {time.perf_counter() - started:.0f}s; artefacts in {out}")
    return res
