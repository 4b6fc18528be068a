"""bench/bench_gpu.py in its tiny CPU configuration, so the GPU benchmark cannot rot between the
runs on a GPU: it runs end to end, reports every field, and the naive loop, the transformers
engine and vLLM (when importable) give the same scores, and the naive side's scores equal an
independent computation (the model card's formula with the PRM head applied by hand to the
saved checkpoint's raw tensors, ``test_recipes._raw_qwen_prm_logits``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prm_viewer.scoring.recipes import TraceInput
from tests.scoring import test_recipes as ref

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_run_reports_every_field_and_the_sides_agree(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    out, ckpt = tmp_path / "report.json", tmp_path / "ckpt"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_gpu.py"), "--tiny", "--limit", "6",
                        "--json", str(out), "--keep", str(ckpt)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["tiny"] is True and report["device"] == "CPU" and report["dtype"] == "float32"
    try:
        import vllm  # noqa: F401
        want = {"naive", "engine", "vllm"}
    except ImportError:
        want = {"naive", "engine"}
    assert set(report["sides"]) == want, report["sides"]
    for name, side in report["sides"].items():
        assert "error" not in side, (name, side)
        assert side["traces"] == 6 and side["compared_traces"] == 6
        assert side["tokens"] > 6 * 50 and side["seconds"] > 0
        assert side["tokens_per_s"] == pytest.approx(side["tokens"] / side["seconds"])
        assert side["max_abs_diff_vs_naive"] < 1e-4, (name, side["max_abs_diff_vs_naive"])
        assert side["peak_fraction"] is None and side["peak_gpu_gib"] is None  # CPU: no GPU peak to compare
    # every side computed the same number of tokens (the same traces, each encoded the same way)
    assert len({s["tokens"] for s in report["sides"].values()}) == 1
    # the printed table carries the same sides
    assert all(f"| {name} | 6 |" in r.stdout for name in want)
    # the naive loop is the model card's computation (so agreeing with it means something)
    traces = _bench().load_traces(6)[0]
    naive = report["sides"]["naive"]["scores"]
    for t in traces[:2]:
        want_scores = ref.qwen_expected(ckpt, TraceInput(t["trace_id"], t["problem"], t["steps"]), head_from_raw=True)
        np.testing.assert_allclose(naive[t["trace_id"]], want_scores, atol=1e-5)
        assert len(want_scores) == len(t["steps"])


def _bench():  # bench/ is not a package
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_gpu
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return bench_gpu


def test_peak_lookup_by_device_name() -> None:
    flops, peak_tflops = _bench().flops, _bench().peak_tflops
    assert peak_tflops("NVIDIA H200") == 989.0 and peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert peak_tflops("NVIDIA A10G") == 70.0  # the longest matching name wins over "A10"
    assert peak_tflops("Some Unknown GPU") is None

    class Cfg:  # a hand-checkable shape: 1 layer, hidden 4, 2 heads of 2, 1 kv head, ffn 8
        hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads = 4, 8, 1, 2, 1

    # linear weights: q 4x4 + k 2x4 + v 2x4 + o 4x4 + gate/up/down 3 x 4x8 = 16+8+8+16+96 = 144
    # 3 tokens: 2*144*3 = 864; attention QK^T and AV over 3*4/2 causal pairs: 2*3*4 * 2 heads * 2 dims = 96
    assert flops(Cfg(), [3]) == 864 + 96
