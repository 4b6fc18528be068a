"""Statistics against scipy on fixed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from prm_viewer.analysis.stats import bootstrap_mean_ci, mcnemar_exact, paired_bootstrap, two_sample


def test_mcnemar_matches_scipy_binomtest():
    rng = np.random.default_rng(1)
    a = rng.random(200) < 0.6
    b = rng.random(200) < 0.45
    r = mcnemar_exact(a, b)
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert (r.a_only, r.b_only, r.both_right, r.both_wrong) == (n10, n01, int(np.sum(a & b)), int(np.sum(~a & ~b)))
    assert r.p_value == pytest.approx(sps.binomtest(n10, n10 + n01, 0.5).pvalue, rel=1e-9)
    # small hand case: 1 vs 1 discordant -> p = 1; 0 vs 5 -> 2 * 0.5**5
    assert mcnemar_exact(np.array([1, 0, 1], bool), np.array([0, 1, 1], bool)).p_value == pytest.approx(1.0)
    assert mcnemar_exact(np.zeros(5, bool), np.ones(5, bool)).p_value == pytest.approx(2 * 0.5 ** 5)
    assert mcnemar_exact(np.ones(3, bool), np.ones(3, bool)).p_value is None


def test_bootstrap_against_scipy():
    rng = np.random.default_rng(2)
    a = (rng.random(400) < 0.55).astype(float)
    b = np.clip(a + (rng.random(400) < 0.15) - (rng.random(400) < 0.05), 0, 1)
    ref = sps.bootstrap((a,), np.mean, n_resamples=5000, method="percentile", random_state=3).confidence_interval
    mine = bootstrap_mean_ci(a, n_resamples=5000, seed=0)
    assert mine.estimate == pytest.approx(a.mean())
    assert (mine.low, mine.high) == pytest.approx((ref.low, ref.high), abs=0.01)
    ref_d = sps.bootstrap((a, b), lambda x, y: np.mean(y) - np.mean(x), paired=True, n_resamples=5000,
                          method="percentile", random_state=3).confidence_interval
    ca, cb, cd = paired_bootstrap(a, b, n_resamples=5000)
    assert cd.estimate == pytest.approx(b.mean() - a.mean())
    assert (cd.low, cd.high) == pytest.approx((ref_d.low, ref_d.high), abs=0.01)
    assert cb.low < b.mean() < cb.high


def test_two_sample_matches_scipy():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1, 250)
    r = two_sample(a, b)
    assert r.mann_whitney_p == pytest.approx(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert r.ks_p == pytest.approx(sps.ks_2samp(a, b).pvalue)
    assert (r.n_a, r.median_b) == (300, pytest.approx(np.median(b)))
    assert two_sample(a, np.array([])).mann_whitney_p is None


def test_item_resampling_path_against_scipy():
    # > 4096 distinct values: resampled item by item (in chunks), not by category counts
    rng = np.random.default_rng(5)
    a = rng.normal(0, 1, 5000)
    ref = sps.bootstrap((a,), np.mean, n_resamples=2000, method="percentile", random_state=1).confidence_interval
    mine = bootstrap_mean_ci(a, n_resamples=2000)
    assert (mine.low, mine.high) == pytest.approx((ref.low, ref.high), abs=0.005)


def test_normal_limit_for_many_continuous_items():
    # >= 20,000 continuous items: draws from the bootstrap's normal limit instead of resampling
    # items. Checked against the normal interval computed here (scipy's normal quantile), within
    # the Monte-Carlo error of 2000 resamples (~0.06 standard errors at the 2.5% quantile), and
    # against the item-by-item bootstrap (400 resamples: ~0.13 standard errors of its own); and
    # paired: the interval of the difference of two strongly correlated runs is the width of the
    # differences', far narrower than either run's own.
    from prm_viewer.analysis import stats

    rng = np.random.default_rng(6)
    n = stats._NORMAL_MIN
    a = rng.gamma(2.0, 1.0, n)  # skewed, continuous
    b = a + rng.normal(0.05, 0.2, n)
    se_a, se_d = a.std(ddof=1) / np.sqrt(n), (b - a).std(ddof=1) / np.sqrt(n)
    mine = bootstrap_mean_ci(a, n_resamples=2000)
    z = sps.norm.ppf(0.975)
    assert (mine.low, mine.high) == pytest.approx((a.mean() - z * se_a, a.mean() + z * se_a), abs=0.2 * se_a)
    ca, cb, cd = paired_bootstrap(a, b, n_resamples=2000)
    d = (b - a).mean()
    assert cd.estimate == pytest.approx(d)
    assert (cd.low, cd.high) == pytest.approx((d - z * se_d, d + z * se_d), abs=0.2 * se_d)
    exact = stats._gathered_means(np.column_stack([a, b]), 400, np.random.default_rng(2))
    e_lo, e_hi = np.quantile(exact[:, 0], [0.025, 0.975])
    assert (ca.low, ca.high) == pytest.approx((e_lo, e_hi), abs=0.4 * se_a)
    e_lo, e_hi = np.quantile(exact[:, 1] - exact[:, 0], [0.025, 0.975])
    assert (cd.low, cd.high) == pytest.approx((e_lo, e_hi), abs=0.4 * se_d)
    assert (ca.high - ca.low) > 5 * (cd.high - cd.low)


def test_very_skewed_items_are_resampled_item_by_item():
    # The normal limit only where the mean is close to normal: a column of rare large values
    # (skewness ~40 at 20,000 items: 0.28 per sqrt(n)) gets the item-by-item bootstrap, a
    # moderately skewed one (gamma(2): skewness 1.4) the normal limit; both exactly.
    from prm_viewer.analysis import stats

    rng = np.random.default_rng(7)
    n = stats._NORMAL_MIN
    rare = np.where(rng.random(n) < 0.001, rng.random(n) * 1000, rng.random(n))[:, None]
    skew = ((rare - rare.mean()) ** 3).mean() / rare.var() ** 1.5
    assert skew / np.sqrt(n) > stats._MAX_MEAN_SKEW
    got = stats._resampled_means(rare, 50, np.random.default_rng(0))
    assert np.array_equal(got, stats._gathered_means(rare, 50, np.random.default_rng(0)))
    mild = rng.gamma(2.0, 1.0, (n, 1))
    got = stats._resampled_means(mild, 50, np.random.default_rng(0))
    assert np.array_equal(got, stats._normal_means(mild, 50, np.random.default_rng(0)))


def test_distinct_rows_by_integer_codes_equal_numpys_row_unique():
    from prm_viewer.analysis import stats

    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 3, (2000, 2)) / 2, rng.integers(0, 5, (300, 1)).astype(float),
                   np.column_stack([rng.integers(0, 4, 500) / 4, rng.random(500) < 0.5]).astype(float)):
        uniq, counts = np.unique(values, axis=0, return_counts=True)
        mine = stats._distinct_rows(values)
        assert mine is not None and np.array_equal(mine[0], uniq) and np.array_equal(mine[1], counts)
    assert stats._distinct_rows(rng.random((stats._MAX_CATEGORIES + 1, 2))) is None  # continuous
