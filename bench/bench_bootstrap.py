"""Benchmark: the bootstrap of means over many continuous items (Compare's headline CIs).

Baseline: ``stats._gathered_means``, resampling item by item (random gathers of n rows per
resample, the path below ``_NORMAL_MIN`` items); measured: ``stats._resampled_means`` (from
``_NORMAL_MIN`` items on: draws from the bootstrap distribution's normal limit), same process,
same values, interleaved.

    python bench/bench_bootstrap.py [--resamples 200] [--sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prm_viewer.analysis.stats import _gathered_means, _resampled_means  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--sizes", default="100000,1000000")
    args = ap.parse_args()
    print("| items | baseline (gathers) s | library s | speed-up | sd of resampled means: baseline / library / theory | load |")
    print("|---|---|---|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        values = np.random.default_rng(1).random((n, 2))  # continuous: never the category path
        t0 = time.perf_counter()
        base = _gathered_means(values, args.resamples, np.random.default_rng(0))
        t1 = time.perf_counter()
        mine = _resampled_means(values, args.resamples, np.random.default_rng(0))
        t2 = time.perf_counter()
        theory = values[:, 0].std() / np.sqrt(n)
        print(f"| {n:,} | {t1 - t0:.2f} | {t2 - t1:.2f} | {(t1 - t0) / (t2 - t1):.1f}x | "
              f"{base[:, 0].std():.2e} / {mine[:, 0].std():.2e} / {theory:.2e} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
