"""analysis.stats: bootstrap intervals over seeds and paired comparisons, on hand-checked numbers."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import stats


def test_exact_bootstrap_of_three_seeds():
    # The 27 ordered resamples of {1, 2, 3} have means 1 (x1), 4/3 (x3), 5/3 (x6), 2 (x7), 7/3 (x6),
    # 8/3 (x3), 3 (x1); numpy's linear quantiles at 2.5% / 97.5% sit at positions 0.65 and 25.35.
    e = stats.mean_ci([1, 2, 3])
    assert e.n == 3 and e.mean == 2.0
    assert e.lo == pytest.approx(1 + 0.65 / 3)
    assert e.hi == pytest.approx(8 / 3 + 0.35 / 3)
    assert e.fmt() == "2.0 [1.2, 2.8]"


def test_bootstrap_drops_nan_and_handles_tiny_samples():
    one = stats.mean_ci([0.25, math.nan])
    assert one.n == 1 and one.mean == 0.25 and math.isnan(one.lo)
    assert one.fmt(100) == "25.0 (n=1)"
    none = stats.mean_ci([])
    assert none.n == 0 and none.fmt() == "–"
    const = stats.mean_ci([0.3, 0.3, 0.3])
    assert (const.lo, const.hi) == pytest.approx((0.3, 0.3))


def test_monte_carlo_bootstrap_is_seeded_and_close_to_normal_theory():
    x = np.random.default_rng(1).normal(0.0, 1.0, size=60)
    a, b = stats.mean_ci(x), stats.mean_ci(x)
    assert (a.lo, a.hi) == (b.lo, b.hi)  # deterministic
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    assert (a.hi - a.lo) / 2 == pytest.approx(half, rel=0.15)


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
    # two seeds: the 4 ordered resamples have means {1, 2, 2, 3} at step 0
    assert band["lo"].iloc[0] == pytest.approx(1.075) and band["hi"].iloc[0] == pytest.approx(2.925)


def test_fmt_p():
    assert stats.fmt_p(0.0001) == "<0.001" and stats.fmt_p(0.04321) == "0.043" and stats.fmt_p(math.nan) == "–"
