"""Statistics over seeds: Student-t intervals, paired differences with their minimum detectable
difference (MDE), and a three-way verdict for each difference.

Choices
-------
* **Unit of replication = the seed.** Each seed is one independent training run (``seed`` drives
  SFT, RL, PRM collection and evaluation sampling), so intervals are over seeds, never over
  problems or samples of one run; the number of seeds ``n`` is reported with every estimate.
* **Mean interval:** Student-t, ``mean ± t_{0.975, n-1} · sd / √n`` (``scipy.stats.t.ppf``).
  With 2–5 seeds the t quantile is large (12.7 for n = 2, 4.30 for n = 3): that width is the
  honest uncertainty of few seeds. A percentile bootstrap over 3 seeds can never be wider than
  the seeds' range and so understates it; it is not used. ``n = 1`` gives no interval (NaN
  bounds), never a fake zero-width one; zero variance gives a zero-width interval.
* **Difference to a baseline:** (i) *paired t-interval over seeds*: seed ``s`` of the condition
  and seed ``s`` of the baseline share SFT, tasks and (where the stages allow) upstream RL, so
  the interval is the t interval of the per-seed differences ``d_s`` (only seeds present in
  both); (ii) *Welch's t-test* (``scipy.stats.ttest_ind(equal_var=False)``) on the two unpaired
  sets, which does not assume the pairing helps and gives a p-value. Both are reported.
* **MDE** (``mde``): the smallest true difference that a two-sided test at level ``alpha``
  (5%) detects with probability ``power`` (80%), solved exactly from the noncentral t
  distribution. ``Comparison.mde`` is the comparison's own (achieved) MDE, from the observed SD
  of its paired differences and its number of pairs.
* **Bound** (``Comparison.bound``): the MDE the experiment was designed for (the noise study's
  target, ``analysis.stats.TARGET`` for pass@1), given by the caller. A verdict is never
  ``bounded`` by the comparison's own MDE: with it, nearly every interval that includes 0 lies
  within ±MDE (the MDE exceeds the t half-width by the power quantile), which would call every
  underpowered null "bounded".
* **Verdict** of a difference (``classify``, ``Comparison.verdict``):

  - ``resolved``: the 95% interval excludes 0;
  - ``bounded``: the interval includes 0 and lies entirely within ±bound, so any true effect is
    smaller than the design MDE (a measured null, not just an absence of evidence);
  - ``unresolved``: neither (the interval includes 0 and reaches beyond ±bound, or no bound);
  - ``not measured``: fewer than 2 paired seeds (no interval).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
TARGET = 0.015  # the design MDE: 1.5 points of pass@1 (the seed count is chosen so that MDE <= TARGET)
POWER = 0.8

RESOLVED, BOUNDED, UNRESOLVED, NOT_MEASURED = "resolved", "bounded", "unresolved", "not measured"


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its Student-t interval."""

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


def classify(lo: float, hi: float, mde_value: float) -> str:
    """``resolved`` / ``bounded`` / ``unresolved`` / ``not measured`` for the interval
    ``[lo, hi]`` of a difference and the MDE it is judged against (see the module docstring)."""
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return NOT_MEASURED
    if lo > 0 or hi < 0:
        return RESOLVED
    if mde_value is not None and not math.isnan(mde_value) and -mde_value <= lo and hi <= mde_value:
        return BOUNDED
    return UNRESOLVED


@dataclass(frozen=True)
class Comparison:
    """Condition minus baseline."""

    diff: float  # mean of the paired per-seed differences (NaN when no seed is shared)
    lo: float  # paired t-interval of ``diff`` (NaN when fewer than 2 pairs)
    hi: float
    n_pairs: int  # seeds present in both
    p_welch: float  # Welch's two-sided t-test p-value on the unpaired sets (NaN if n < 2 in either)
    t_welch: float
    n_a: int
    n_b: int
    sd_diff: float = math.nan  # SD of the paired differences (NaN for n_pairs < 2)
    mde: float = math.nan  # the comparison's own minimum detectable difference (observed SD, n_pairs)
    bound: float = math.nan  # the design MDE a null is bounded by (NaN: none, never "bounded")

    @property
    def verdict(self) -> str:
        """``resolved`` / ``bounded`` / ``unresolved`` / ``not measured``."""
        if self.n_pairs < 2:
            return NOT_MEASURED
        return classify(self.lo, self.hi, self.bound)

    def fmt(self, scale: float = 1.0, digits: int = 1) -> str:
        if self.n_pairs == 0 or math.isnan(self.diff):
            return "–"
        d = _signed(self.diff * scale, digits)
        ci = "" if math.isnan(self.lo) else f" [{_signed(self.lo * scale, digits)}, {_signed(self.hi * scale, digits)}]"
        return d + ci

    def fmt_mde(self, scale: float = 1.0, digits: int = 1) -> str:
        return "–" if math.isnan(self.mde) else f"{self.mde * scale:.{digits}f}"


def _clean(values) -> np.ndarray:
    a = np.asarray(list(values), dtype=float)
    return a[~np.isnan(a)]


def t_halfwidth(sd: float, n: int, confidence: float = CONFIDENCE) -> float:
    """``t_{(1+confidence)/2, n-1} · sd / √n`` (NaN for n < 2)."""
    from scipy import stats

    if n < 2 or math.isnan(sd):
        return math.nan
    return float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """Mean and Student-t interval over the values (NaNs dropped; ``n`` = values kept)."""
    a = _clean(values)
    if len(a) == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    m = float(a.mean())
    if len(a) == 1:
        return Estimate(m, math.nan, math.nan, 1)
    sd = float(a.std(ddof=1)) if np.ptp(a) > 0 else 0.0
    h = t_halfwidth(sd, len(a), confidence)
    return Estimate(m, m - h, m + h, len(a))


def mde(sd: float, n: int, *, alpha: float = 0.05, power: float = POWER, paired: bool = True) -> float:
    """Minimum detectable difference of a two-sided t-test at level ``alpha`` with ``power``.

    ``paired=True``: one-sample t-test on ``n`` differences of SD ``sd`` (df = n - 1,
    noncentrality δ√n / sd). ``paired=False``: two independent arms of ``n`` each, each of SD
    ``sd`` (df = 2n - 2, noncentrality δ / (sd·√(2/n))). Power = P(T > t_crit) + P(T < -t_crit)
    under the noncentral t (``scipy.stats.nct``), solved for δ with ``scipy.optimize.brentq``.
    NaN for n < 2 or an unknown sd; 0 for sd = 0.
    """
    from scipy import optimize, stats

    if sd is None or n is None or n < 2 or math.isnan(sd):
        return math.nan
    if sd == 0:
        return 0.0
    if not 0 < alpha < power < 1:
        raise ValueError(f"need 0 < alpha < power < 1, got alpha={alpha}, power={power}")
    df = n - 1 if paired else 2 * n - 2
    se = 1 / math.sqrt(n) if paired else math.sqrt(2 / n)  # SE of the difference per unit sd
    tc = float(stats.t.ppf(1 - alpha / 2, df))

    def gap(nc: float) -> float:
        lower = float(stats.nct.cdf(-tc, df, nc))  # NaN where it underflows (large nc): it is ~0 there
        return float(stats.nct.sf(tc, df, nc)) + (0.0 if math.isnan(lower) else lower) - power

    hi = tc + float(stats.norm.ppf(power)) + 1.0
    while gap(hi) < 0:
        hi *= 2
    nc = optimize.brentq(gap, 0.0, hi, xtol=1e-10, rtol=1e-12)
    return nc * se * sd


def compare(a: Mapping[int, float], b: Mapping[int, float], confidence: float = CONFIDENCE, *,
            bound: Optional[float] = None, power: float = POWER) -> Comparison:
    """Condition ``a`` minus baseline ``b``, both given as ``{seed: value}``.

    ``bound``: the design MDE (metric units, e.g. the noise study's target) a null result is
    ``bounded`` by; without it the verdict is ``resolved`` or ``unresolved`` only. The
    comparison's own MDE (observed SD of the paired differences, number of pairs) is always
    computed and reported as ``Comparison.mde``.
    """
    from scipy import stats

    a = {s: v for s, v in a.items() if v is not None and not math.isnan(v)}
    b = {s: v for s, v in b.items() if v is not None and not math.isnan(v)}
    shared = sorted(set(a) & set(b))
    dd = np.array([a[s] - b[s] for s in shared], dtype=float)
    d = mean_ci(dd, confidence)
    sd_d = (float(dd.std(ddof=1)) if np.ptp(dd) > 0 else 0.0) if len(dd) >= 2 else math.nan
    own = mde(sd_d, len(dd), alpha=1 - confidence, power=power, paired=True)
    va, vb = np.array(list(a.values())), np.array(list(b.values()))
    t = p = math.nan
    if len(va) >= 2 and len(vb) >= 2:
        if np.ptp(va) == 0 and np.ptp(vb) == 0:
            # zero variance in both: the t statistic is undefined; equal constants differ by nothing
            p = 1.0 if va[0] == vb[0] else 0.0
        else:
            res = stats.ttest_ind(va, vb, equal_var=False)
            t, p = float(res.statistic), float(res.pvalue)
    return Comparison(d.mean, d.lo, d.hi, d.n, p, t, len(va), len(vb), sd_d, own,
                      math.nan if bound is None else float(bound))


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


def compare_runs(runs: pd.DataFrame, baseline: pd.DataFrame, metric: str, seed_col: str = "seed", *,
                 bound: Optional[float] = None) -> Comparison:
    return compare(per_seed(runs, metric, seed_col), per_seed(baseline, metric, seed_col), bound=bound)


def curve_band(curves: pd.DataFrame, metric: str, by: Sequence[str] = (), step_col: str = "step",
               seed_col: str = "seed", confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per (condition, step): mean over seeds of ``metric`` and its Student-t interval."""
    rows = []
    keys = list(by) + [step_col]
    if metric not in curves:
        return pd.DataFrame(columns=keys + ["mean", "lo", "hi", "n"])
    for k, g in curves.dropna(subset=[metric]).groupby(keys, sort=True):
        k = k if isinstance(k, tuple) else (k,)
        e = mean_ci(g.groupby(seed_col)[metric].mean().tolist(), confidence)
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
