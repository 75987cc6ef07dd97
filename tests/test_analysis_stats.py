"""analysis.stats: Student-t intervals over seeds, paired comparisons, MDE and verdicts, on
hand-checked numbers and against independent computations (normal theory, Monte Carlo)."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import stats


def test_t_interval_of_three_seeds():
    # {1, 2, 3}: mean 2, SD 1, t_{0.975, 2} = 4.302653 (tables) -> half-width 4.302653 / sqrt(3) = 2.48414
    e = stats.mean_ci([1, 2, 3])
    assert e.n == 3 and e.mean == 2.0
    assert e.lo == pytest.approx(2 - 2.48414, abs=1e-5) and e.hi == pytest.approx(2 + 2.48414, abs=1e-5)
    assert e.fmt() == "2.0 [-0.5, 4.5]"
    # two seeds: t_{0.975, 1} = 12.7062
    two = stats.mean_ci([0.0, 1.0])
    assert two.hi - two.lo == pytest.approx(2 * 12.7062 * math.sqrt(0.5) / math.sqrt(2), rel=1e-5)


def test_interval_drops_nan_and_handles_tiny_samples():
    one = stats.mean_ci([0.25, math.nan])
    assert one.n == 1 and one.mean == 0.25 and math.isnan(one.lo)
    assert one.fmt(100) == "25.0 (n=1)"
    none = stats.mean_ci([])
    assert none.n == 0 and none.fmt() == "–"
    const = stats.mean_ci([0.3, 0.3, 0.3])
    assert (const.lo, const.hi) == pytest.approx((0.3, 0.3))


def test_t_interval_approaches_normal_theory_and_covers_at_95_percent():
    x = np.random.default_rng(1).normal(0.0, 1.0, size=400)
    e = stats.mean_ci(x)
    assert (e.hi - e.lo) / 2 == pytest.approx(1.959964 * x.std(ddof=1) / math.sqrt(len(x)), rel=0.01)
    # coverage with 3 seeds (where a percentile bootstrap undercovers): ~95% of 4000 draws
    rng = np.random.default_rng(0)
    hits = sum(e.lo <= 0.0 <= e.hi for e in (stats.mean_ci(rng.normal(0, 1, 3)) for _ in range(4000)))
    assert 0.935 <= hits / 4000 <= 0.965


def test_paired_comparison_and_welch():
    # constant per-seed difference: the paired interval collapses, Welch (unpaired) does not
    c = stats.compare({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.5, 1: 1.5, 2: 2.5})
    assert c.diff == 0.5 and (c.lo, c.hi) == (0.5, 0.5) and c.n_pairs == 3
    assert c.t_welch == pytest.approx(0.6123724356957945)
    assert c.p_welch == pytest.approx(0.5733922538253555)
    assert c.fmt() == "+0.5 [+0.5, +0.5]"


def test_pairing_uses_shared_seeds_only():
    c = stats.compare({0: 0.4, 1: 0.6, 5: 0.9}, {0: 0.3, 1: 0.3, 2: 0.1})
    assert c.n_pairs == 2 and c.diff == pytest.approx(0.2)
    assert (c.n_a, c.n_b) == (3, 3)
    assert stats.compare({0: 1.0}, {1: 1.0}).fmt() == "–"


def test_welch_with_zero_variance():
    assert stats.compare({0: 0.0, 1: 0.0}, {0: 0.0, 1: 0.0}).p_welch == 1.0
    assert stats.compare({0: 1.0, 1: 1.0}, {0: 0.0, 1: 0.0}).p_welch == 0.0


def test_summarize_and_duplicate_seed_warning():
    runs = pd.DataFrame({"cond": ["a", "a", "b", "b", "b"], "seed": [0, 1, 0, 1, 1],
                         "m": [0.1, 0.3, 0.5, 0.6, 0.8]})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        s = stats.summarize(runs, ["cond"], "m")
    assert any("several runs for seed(s) [1]" in str(x.message) for x in w)
    a, b = s.set_index("cond").loc["a"], s.set_index("cond").loc["b"]
    assert a["mean"] == pytest.approx(0.2) and a["n"] == 2 and a["seeds"] == "0,1"
    assert b["mean"] == pytest.approx((0.5 + 0.7) / 2)  # seed 1's two rows averaged first


def test_curve_band_per_step():
    curves = pd.DataFrame({"run_id": ["r0", "r0", "r1", "r1"], "seed": [0, 0, 1, 1], "step": [0, 1, 0, 1],
                           "x": [1.0, 2.0, 3.0, 4.0], "h": ["k"] * 4})
    band = stats.curve_band(curves, "x", by=["h"])
    assert band["mean"].tolist() == [2.0, 3.0] and band["n"].tolist() == [2, 2]
    # two seeds 1 and 3 at step 0: SD sqrt(2), half-width 12.7062 * sqrt(2) / sqrt(2) = 12.7062
    assert band["lo"].iloc[0] == pytest.approx(2 - 12.7062, abs=1e-4)
    assert band["hi"].iloc[0] == pytest.approx(2 + 12.7062, abs=1e-4)


def test_fmt_p():
    assert stats.fmt_p(0.0001) == "<0.001" and stats.fmt_p(0.04321) == "0.043" and stats.fmt_p(math.nan) == "–"


# ------------------------------------------------------------------------------------------
# minimum detectable difference


def test_mde_matches_normal_approximation_for_many_seeds():
    # n = 200 paired: (z_0.975 + z_0.8) * sd / sqrt(n) = (1.959964 + 0.841621) / sqrt(200)
    approx = (1.959964 + 0.841621) / math.sqrt(200)
    assert stats.mde(1.0, 200) == pytest.approx(approx, rel=0.015)
    # unpaired arms: SD of the difference sqrt(2/n)
    assert stats.mde(1.0, 200, paired=False) == pytest.approx(approx * math.sqrt(2), rel=0.015)
    # few seeds: the t quantiles make it larger than the normal approximation
    assert stats.mde(1.0, 3) > (1.959964 + 0.841621) / math.sqrt(3) * 1.5


def test_mde_has_80_percent_power_by_monte_carlo():
    # a true paired difference of exactly the MDE is detected by the two-sided t-test ~80% of the time
    from scipy import stats as st

    n, sd = 5, 1.0
    delta = stats.mde(sd, n)
    rng = np.random.default_rng(0)
    d = rng.normal(delta, sd, size=(20000, n))
    p = st.ttest_1samp(d, 0.0, axis=1).pvalue
    assert (p < 0.05).mean() == pytest.approx(0.80, abs=0.012)


def test_mde_edge_cases_and_monotone():
    assert math.isnan(stats.mde(1.0, 1)) and math.isnan(stats.mde(math.nan, 5))
    assert stats.mde(0.0, 4) == 0.0
    seq = [stats.mde(1.0, n) for n in range(2, 12)]
    assert all(a > b for a, b in zip(seq, seq[1:]))
    assert stats.mde(2.0, 6) == pytest.approx(2 * stats.mde(1.0, 6))  # linear in the SD
    with pytest.raises(ValueError):
        stats.mde(1.0, 5, alpha=0.5, power=0.4)


def test_classify():
    assert stats.classify(0.01, 0.05, 0.015) == stats.RESOLVED
    assert stats.classify(-0.05, -0.01, 0.015) == stats.RESOLVED
    assert stats.classify(-0.01, 0.014, 0.015) == stats.BOUNDED
    assert stats.classify(-0.01, 0.02, 0.015) == stats.UNRESOLVED
    assert stats.classify(-0.01, 0.01, math.nan) == stats.UNRESOLVED  # no design MDE: never bounded
    assert stats.classify(math.nan, math.nan, 0.015) == stats.NOT_MEASURED


def test_comparison_reports_own_mde_and_judges_by_the_bound():
    a = {0: 0.30, 1: 0.32, 2: 0.31, 3: 0.29}
    b = {0: 0.30, 1: 0.31, 2: 0.315, 3: 0.29}
    c = stats.compare(a, b, bound=0.015)
    dd = np.array([0.0, 0.01, -0.005, 0.0])
    assert c.sd_diff == pytest.approx(dd.std(ddof=1))
    assert c.mde == pytest.approx(stats.mde(dd.std(ddof=1), 4))
    assert c.bound == 0.015 and c.verdict == stats.BOUNDED  # [-0.0085, +0.011] within ±0.015
    assert stats.compare(a, b).verdict == stats.UNRESOLVED  # without a bound
    assert stats.compare({0: 0.1}, {0: 0.0}, bound=0.015).verdict == stats.NOT_MEASURED
    assert c.fmt_mde(100) == f"{c.mde * 100:.1f}"
