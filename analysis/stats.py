"""Statistics over seeds: means with 95% bootstrap intervals, and differences to a baseline.

Choices
-------
* **Unit of replication = the seed.** Each seed is one independent training run (``seed`` drives
  SFT, RL, PRM collection and evaluation sampling), so intervals are over seeds, never over
  problems or samples of one run; the number of seeds ``n`` is reported with every estimate.
* **Mean interval:** percentile bootstrap of the mean. With few seeds the bootstrap distribution
  has only ``C(2n-1, n)`` distinct resamples (10 for n = 3), so when ``n**n`` is at most
  ``n_resamples`` every ordered resample is enumerated (the *exact* bootstrap distribution: no
  Monte-Carlo noise, fully deterministic); beyond that ``n_resamples`` resamples are drawn with a
  seeded ``numpy`` generator. ``n = 1`` gives no interval (NaN bounds), never a fake zero-width one.
  Percentile intervals from 2–5 seeds are narrow-biased (they cannot exceed the observed range);
  that is the honest limit of few seeds and why ``n`` is always shown.
* **Difference to a baseline:** (i) *paired bootstrap over seeds*: seed ``s`` of the condition
  and seed ``s`` of the baseline share SFT, tasks and (where the stages allow) upstream RL, so
  the per-seed differences ``d_s`` are bootstrapped as above (only seeds present in both);
  (ii) *Welch's t-test* (``scipy.stats.ttest_ind(equal_var=False)``) on the two unpaired sets,
  which does not assume the pairing helps and gives a p-value. Both are reported.
"""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
N_RESAMPLES = 10_000


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its bootstrap interval."""

    mean: float
    lo: float
    hi: float
    n: int

    def fmt(self, scale: float = 1.0, digits: int = 1, interval: bool = True) -> str:
        if self.n == 0 or math.isnan(self.mean):
            return "–"
        m = f"{self.mean * scale:.{digits}f}"
        if not interval:
            return m
        if math.isnan(self.lo):
            return f"{m} (n={self.n})"
        return f"{m} [{self.lo * scale:.{digits}f}, {self.hi * scale:.{digits}f}]"


@dataclass(frozen=True)
class Comparison:
    """Condition minus baseline."""

    diff: float  # mean of the paired per-seed differences (NaN when no seed is shared)
    lo: float  # paired-bootstrap interval of ``diff``
    hi: float
    n_pairs: int  # seeds present in both
    p_welch: float  # Welch's two-sided t-test p-value on the unpaired sets (NaN if n < 2 in either)
    t_welch: float
    n_a: int
    n_b: int

    def fmt(self, scale: float = 1.0, digits: int = 1) -> str:
        if self.n_pairs == 0 or math.isnan(self.diff):
            return "–"
        d = _signed(self.diff * scale, digits)
        ci = "" if math.isnan(self.lo) else f" [{_signed(self.lo * scale, digits)}, {_signed(self.hi * scale, digits)}]"
        return d + ci


def _clean(values) -> np.ndarray:
    a = np.asarray(list(values), dtype=float)
    return a[~np.isnan(a)]


def bootstrap_means(values: Sequence[float], n_resamples: int = N_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Means of bootstrap resamples: all ``n**n`` ordered resamples if that is ≤ ``n_resamples``."""
    a = _clean(values)
    n = len(a)
    if n == 0:
        return np.array([])
    if n ** n <= n_resamples:
        idx = np.array(list(itertools.product(range(n), repeat=n)))
    else:
        idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    return a[idx].mean(axis=1)


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
            seed: int = 0) -> Estimate:
    """Mean and percentile-bootstrap interval (NaNs dropped; ``n`` = values kept)."""
    a = _clean(values)
    if len(a) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if len(a) == 1:
        return Estimate(float(a[0]), math.nan, math.nan, 1)
    means = bootstrap_means(a, n_resamples, seed)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Estimate(float(a.mean()), float(lo), float(hi), len(a))


def compare(a: Mapping[int, float], b: Mapping[int, float], confidence: float = CONFIDENCE,
            n_resamples: int = N_RESAMPLES, seed: int = 0) -> Comparison:
    """Condition ``a`` minus baseline ``b``, both given as ``{seed: value}``."""
    from scipy import stats

    a = {s: v for s, v in a.items() if v is not None and not math.isnan(v)}
    b = {s: v for s, v in b.items() if v is not None and not math.isnan(v)}
    shared = sorted(set(a) & set(b))
    d = mean_ci([a[s] - b[s] for s in shared], confidence, n_resamples, seed)
    va, vb = np.array(list(a.values())), np.array(list(b.values()))
    t = p = math.nan
    if len(va) >= 2 and len(vb) >= 2:
        if np.ptp(va) == 0 and np.ptp(vb) == 0:
            # zero variance in both: the t statistic is undefined; equal constants differ by nothing
            p = 1.0 if va[0] == vb[0] else 0.0
        else:
            res = stats.ttest_ind(va, vb, equal_var=False)
            t, p = float(res.statistic), float(res.pvalue)
    return Comparison(d.mean, d.lo, d.hi, d.n, p, t, len(va), len(vb))


def per_seed(runs: pd.DataFrame, metric: str, seed_col: str = "seed") -> dict[int, float]:
    """``{seed: value}`` of one condition's rows; several rows of one seed are averaged (with a
    warning: they usually mean the grouping misses a factor, or duplicates were not removed)."""
    if metric not in runs:
        return {}
    g = runs.groupby(seed_col)[metric]
    if (g.size() > 1).any():
        dup = sorted(int(s) for s in g.size()[g.size() > 1].index)
        warnings.warn(f"{metric}: several runs for seed(s) {dup} in one condition; averaging them", stacklevel=2)
    return {int(s): float(v) for s, v in g.mean().items()}


def summarize(runs: pd.DataFrame, by: Sequence[str], metric: str, seed_col: str = "seed") -> pd.DataFrame:
    """One row per condition (the ``by`` columns): ``mean``, ``lo``, ``hi``, ``n``, ``seeds``."""
    out = []
    for keys, g in runs.groupby(list(by), dropna=False, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        vals = per_seed(g, metric, seed_col)
        e = mean_ci(list(vals.values()))
        out.append({**dict(zip(by, keys)), "metric": metric, "mean": e.mean, "lo": e.lo, "hi": e.hi, "n": e.n,
                    "seeds": ",".join(str(s) for s in sorted(vals))})
    return pd.DataFrame(out)


def estimate(runs: pd.DataFrame, metric: str, seed_col: str = "seed") -> Estimate:
    return mean_ci(list(per_seed(runs, metric, seed_col).values()))


def compare_runs(runs: pd.DataFrame, baseline: pd.DataFrame, metric: str, seed_col: str = "seed") -> Comparison:
    return compare(per_seed(runs, metric, seed_col), per_seed(baseline, metric, seed_col))


def curve_band(curves: pd.DataFrame, metric: str, by: Sequence[str] = (), step_col: str = "step",
               seed_col: str = "seed", confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per (condition, step): mean over seeds of ``metric`` and its bootstrap interval."""
    rows = []
    keys = list(by) + [step_col]
    if metric not in curves:
        return pd.DataFrame(columns=keys + ["mean", "lo", "hi", "n"])
    for k, g in curves.dropna(subset=[metric]).groupby(keys, sort=True):
        k = k if isinstance(k, tuple) else (k,)
        e = mean_ci(g.groupby(seed_col)[metric].mean().tolist(), confidence, n_resamples=2000)
        rows.append({**dict(zip(keys, k)), "mean": e.mean, "lo": e.lo, "hi": e.hi, "n": e.n})
    return pd.DataFrame(rows, columns=keys + ["mean", "lo", "hi", "n"])


def _signed(x: float, digits: int) -> str:
    """``+1.2`` / ``-1.2``; a value that rounds to zero prints as ``+0.0`` (never ``-0.0``)."""
    r = round(x, digits)
    return f"{r + 0.0 if r != 0 else 0.0:+.{digits}f}"


def fmt_p(p: Optional[float]) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
