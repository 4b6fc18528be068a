"""Statistics used by the comparison: paired bootstrap, exact McNemar, two-sample tests.

Everything here is vectorised numpy / scipy over arrays, no per-item Python loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval."""

    estimate: float | None
    low: float | None
    high: float | None


def _clean(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


_CHUNK = 20_000_000
"""Largest index matrix drawn at once when resampling item by item (memory bound)."""
_MAX_CATEGORIES = 4096


def _resampled_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap means of each column of ``values`` (items x k), resampling rows with replacement.

    When the rows take few distinct values (0/1 accuracies, per-problem rates over a few samples)
    drawing how many times each distinct row is picked -- a multinomial -- gives exactly the same
    distribution as drawing items, in O(resamples x distinct) instead of O(resamples x items).
    """
    n = values.shape[0]
    uniq, counts = np.unique(values, axis=0, return_counts=True)
    if uniq.shape[0] <= _MAX_CATEGORIES:
        picks = rng.multinomial(n, counts / n, size=n_resamples)
        return picks @ uniq / n
    out = np.empty((n_resamples, values.shape[1]))
    step = max(1, _CHUNK // n)
    for lo in range(0, n_resamples, step):  # a few chunks, each fully vectorised
        idx = rng.integers(0, n, size=(min(step, n_resamples - lo), n))
        out[lo:lo + idx.shape[0]] = values[idx].mean(axis=1)
    return out


def bootstrap_mean_ci(values: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap CI of a mean (resampling items with replacement)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return Interval(None, None, None)
    means = _resampled_means(x[:, None], n_resamples, np.random.default_rng(seed))[:, 0]
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Interval(_clean(x.mean()), _clean(lo), _clean(hi))


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[Interval, Interval, Interval]:
    """CIs of mean(a), mean(b) and mean(b) - mean(a), resampling the PAIRS (problems) together,
    so the CI of the difference accounts for the pairing."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0:
        empty = Interval(None, None, None)
        return empty, empty, empty
    m = _resampled_means(np.column_stack([a, b]), n_resamples, np.random.default_rng(seed))
    ma, mb = m[:, 0], m[:, 1]
    alpha = (1 - confidence) / 2
    q = [alpha, 1 - alpha]

    def iv(point: float, samples: np.ndarray) -> Interval:
        lo, hi = np.quantile(samples, q)
        return Interval(_clean(point), _clean(lo), _clean(hi))

    return iv(a.mean(), ma), iv(b.mean(), mb), iv(b.mean() - a.mean(), mb - ma)


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test on paired binary outcomes."""

    both_right: int
    a_only: int
    """Pairs where A is right and B wrong."""
    b_only: int
    """Pairs where B is right and A wrong."""
    both_wrong: int
    p_value: float | None
    """Two-sided exact binomial p-value on the discordant pairs; None when there are none."""


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> McNemar:
    """Exact (binomial) McNemar test: under H0 the discordant pairs split 50/50."""
    from scipy.stats import binom

    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    n10 = int(np.sum(a & ~b))
    n01 = int(np.sum(~a & b))
    n = n10 + n01
    p = None if n == 0 else float(min(1.0, 2.0 * binom.cdf(min(n10, n01), n, 0.5)))
    return McNemar(int(np.sum(a & b)), n10, n01, int(np.sum(~a & ~b)), p)


@dataclass(frozen=True)
class TwoSample:
    """Two-sample comparison of a continuous quantity."""

    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    median_a: float | None
    median_b: float | None
    mann_whitney_p: float | None
    ks_p: float | None


def two_sample(a: np.ndarray, b: np.ndarray, ks: bool = True) -> TwoSample:
    """Mann-Whitney U (two-sided, asymptotic with continuity correction for large samples) and
    two-sample Kolmogorov-Smirnov p-values; None where a side has no values (KS also when
    ``ks`` is False: one test per position bin is enough and KS costs a second sort)."""
    from scipy.stats import ks_2samp, mannwhitneyu

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    mw = ks_p = None
    if a.size and b.size:
        # Identical constant samples make the U statistic's variance zero: no evidence either way.
        if np.unique(np.concatenate([a, b])).size > 1:
            mw = _clean(mannwhitneyu(a, b, alternative="two-sided").pvalue)
        else:
            mw = 1.0
        ks_p = _clean(ks_2samp(a, b).pvalue) if ks else None
    return TwoSample(
        int(a.size), int(b.size),
        _clean(a.mean()) if a.size else None, _clean(b.mean()) if b.size else None,
        _clean(np.median(a)) if a.size else None, _clean(np.median(b)) if b.size else None,
        mw, ks_p,
    )
