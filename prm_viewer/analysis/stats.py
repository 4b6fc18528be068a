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
_NORMAL_MIN = 20_000
"""From this many items with continuous values on, the resampled means are drawn from the
bootstrap distribution's large-n limit, N(column means, covariance / n), in O(n) instead of
O(n x resamples). The limit differs from the exact bootstrap distribution of a mean by its
skewness, gamma / sqrt(n) (Edgeworth): while that is at most :data:`_MAX_MEAN_SKEW` the 2.5% /
97.5% quantiles move by < 0.01 standard errors, against ~0.06 standard errors of Monte-Carlo
error in 2,000 resamples; a more skewed column (rare large values) is resampled item by item. Resampling item by item cost Compare's headline 30 s of 42
at 100,000 problems, growing with n x resamples (BENCHMARKS.md, "Scale (10x)")."""


_MAX_MEAN_SKEW = 0.02
"""Largest |skewness| / sqrt(n) of a column for the normal limit (|skewness| <= 2.8 at 20,000
items, <= 20 at 1,000,000)."""


def _normal_limit_fits(values: np.ndarray) -> bool:
    """Whether every column's mean is close enough to normal: |sample skewness| / sqrt(n) small."""
    n = values.shape[0]
    centred = values - values.mean(axis=0)
    m2 = (centred ** 2).mean(axis=0)
    m3 = (centred ** 3).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(m2 > 0, np.abs(m3) / np.where(m2 > 0, m2, 1.0) ** 1.5, 0.0)
    return bool(np.all(skew / np.sqrt(n) <= _MAX_MEAN_SKEW))


def _resampled_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap means of each column of ``values`` (items x k), resampling rows with replacement.

    When the rows take few distinct values (0/1 accuracies, per-problem rates over a few samples)
    drawing how many times each distinct row is picked -- a multinomial -- gives exactly the same
    distribution as drawing items, in O(resamples x distinct) instead of O(resamples x items).
    Many continuous rows (:data:`_NORMAL_MIN` or more) draw from the distribution's normal limit.
    """
    n = values.shape[0]
    rows = _distinct_rows(values)
    if rows is not None:
        uniq, counts = rows
        picks = rng.multinomial(n, counts / n, size=n_resamples)
        return picks @ uniq / n
    if n >= _NORMAL_MIN and _normal_limit_fits(values):
        return _normal_means(values, n_resamples, rng)
    return _gathered_means(values, n_resamples, rng)


def _distinct_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(distinct rows, their counts)`` when there are at most :data:`_MAX_CATEGORIES`, else None.
    Each column is coded by a 1-D unique and the rows by one integer code (``np.unique(axis=0)``
    sorts structured rows instead: 13 s of Compare's 130 at 1,000,000 problems)."""
    code = np.zeros(values.shape[0], dtype=np.int64)
    for j in range(values.shape[1]):
        col, inverse = np.unique(values[:, j], return_inverse=True)
        if col.size > _MAX_CATEGORIES:
            return None
        code = code * col.size + inverse.reshape(-1)
        if col.size and code.max() > 2 ** 40:  # too many combinations to code: fall back to the row sort
            uniq, counts = np.unique(values, axis=0, return_counts=True)
            return (uniq, counts) if uniq.shape[0] <= _MAX_CATEGORIES else None
    codes, first, counts = np.unique(code, return_index=True, return_counts=True)
    return (values[first], counts) if codes.size <= _MAX_CATEGORIES else None


def _gathered_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Resampled column means, drawing n rows with replacement per resample (in chunks)."""
    n = values.shape[0]
    out = np.empty((n_resamples, values.shape[1]))
    step = max(1, _CHUNK // n)
    for lo in range(0, n_resamples, step):  # a few chunks, each fully vectorised
        idx = rng.integers(0, n, size=(min(step, n_resamples - lo), n))
        out[lo:lo + idx.shape[0]] = values[idx].mean(axis=1)
    return out


def _normal_means(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of the column means from the bootstrap's large-n limit: multivariate normal with the
    columns' means and their covariance / n (the population form, ``bias=True``, which is the
    bootstrap distribution's own covariance), so paired columns keep their correlation."""
    n = values.shape[0]
    cov = np.atleast_2d(np.cov(values, rowvar=False, bias=True)) / n
    return rng.multivariate_normal(values.mean(axis=0), cov, size=n_resamples, method="eigh")


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


# --------------------------------------------------------------------------- effect sizes


def cohens_h(p_a: float, p_b: float) -> float:
    """Cohen's h of two proportions, B relative to A: ``2 asin(sqrt(p_b)) - 2 asin(sqrt(p_a))``
    (0.2 small, 0.5 medium, 0.8 large, by Cohen's convention)."""
    return float(2 * np.arcsin(np.sqrt(p_b)) - 2 * np.arcsin(np.sqrt(p_a)))


@dataclass(frozen=True)
class PairedEffects:
    """Effect of B over A on paired per-problem accuracies, from one set of bootstrap resamples."""

    diff: Interval
    """mean(b) - mean(a) (same resamples, hence the same interval, as :func:`paired_bootstrap`)."""
    cohens_h: Interval
    """Cohen's h of mean(b) against mean(a), percentile interval over the same resamples."""


def paired_effects(
    a: np.ndarray, b: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> PairedEffects:
    """Difference and Cohen's h of two paired proportions (values in [0, 1], one pair per problem)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0:
        empty = Interval(None, None, None)
        return PairedEffects(empty, empty)
    m = _resampled_means(np.column_stack([a, b]), n_resamples, np.random.default_rng(seed))
    alpha = (1 - confidence) / 2
    q = [alpha, 1 - alpha]
    d_lo, d_hi = np.quantile(m[:, 1] - m[:, 0], q)
    hs = 2 * np.arcsin(np.sqrt(np.clip(m[:, 1], 0, 1))) - 2 * np.arcsin(np.sqrt(np.clip(m[:, 0], 0, 1)))
    h_lo, h_hi = np.quantile(hs, q)
    return PairedEffects(
        Interval(_clean(b.mean() - a.mean()), _clean(d_lo), _clean(d_hi)),
        Interval(_clean(cohens_h(a.mean(), b.mean())), _clean(h_lo), _clean(h_hi)),
    )


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion k/n."""
    from scipy.stats import beta

    alpha = 1 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def paired_odds_ratio(a_only: int, b_only: int, confidence: float = 0.95) -> Interval:
    """McNemar's conditional odds ratio ``b_only / a_only`` (how much likelier B is the one that
    is right when the two disagree) with the exact interval obtained from the Clopper-Pearson
    interval of ``b_only / (a_only + b_only)`` through ``p / (1 - p)``. None where undefined
    (no discordant pair; an estimate or bound that is infinite)."""
    n = a_only + b_only
    if n == 0:
        return Interval(None, None, None)
    lo, hi = clopper_pearson(b_only, n, confidence)

    def odds(p: float) -> float | None:
        return None if p >= 1 else p / (1 - p)

    return Interval(None if a_only == 0 else b_only / a_only, odds(lo), odds(hi))


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of k/n (no continuity correction)."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def proportion_diff(k_a: int, n_a: int, k_b: int, n_b: int, confidence: float = 0.95) -> Interval:
    """``k_b/n_b - k_a/n_a`` for two independent samples with Newcombe's hybrid score interval
    (method 10 of Newcombe 1998: Wilson intervals of each side combined)."""
    if n_a == 0 or n_b == 0:
        return Interval(None, None, None)
    pa, pb = k_a / n_a, k_b / n_b
    la, ua = wilson(k_a, n_a, confidence)
    lb, ub = wilson(k_b, n_b, confidence)
    d = pb - pa
    return Interval(d, d - float(np.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)), d + float(np.sqrt((ub - pb) ** 2 + (pa - la) ** 2)))


# --------------------------------------------------------------------------- reporting


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_p(p: float | None, digits: int = 2) -> str:
    """A p-value as a reader wants it: ``n/a``; two significant digits from 0.001 up
    (``0.69``, ``0.034``, ``0.0012``); below, scientific (``9.8 × 10⁻¹⁶``); a p-value that
    underflowed to 0 as ``< 1 × 10⁻³⁰⁰``."""
    if p is None or not np.isfinite(p):
        return "n/a"
    if p <= 0:
        return "< 1 × 10⁻³⁰⁰"
    if p >= 0.001:
        text = f"{p:.{digits}g}"
        return "1" if float(text) >= 1 else text
    mantissa, exponent = f"{p:.{digits - 1}e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
