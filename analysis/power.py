"""The noise study: how many seeds a comparison needs to detect a difference of a given size.

    python -m analysis.power SWEEP_DIR [SWEEP_DIR...] [--metric eval/pass@1] [--target 0.015]

Input: the runs of ONE condition (the ``noise`` experiment: the faithful PPO baseline, one SFT
policy, 8+ RL seeds). Output (``noise_study``):

* ``n`` seeds, the ``mean`` and the seed-to-seed ``sd`` (sample SD, ddof = 1) of the metric;
* ``eval_se``: the mean over runs of the evaluation's own standard error of pass@1 (``se_col``,
  logged by the evaluation: resampling the responses of the same problems). ``eval_se**2 /
  sd**2`` is the share of the seed-to-seed variance that evaluation sampling alone explains; the
  rest comes from training;
* for each seed count ``n`` of ``seeds_range``, the minimum detectable difference
  (``analysis.stats.mde``: two-sided 5%, 80% power, exact noncentral t) of

  - a *paired* comparison of two conditions with ``n`` seeds each, seed ``s`` of one against
    seed ``s`` of the other. The SD of a paired difference is taken as √2·SD: the two runs of a
    seed are two independent training runs, each with the seed-to-seed SD measured here. Runs
    sharing a seed may be positively correlated (same SFT policy, same problems), which would make
    the true SD of a difference smaller; one condition cannot measure that correlation, so √2·SD
    is the conservative (no pairing benefit) figure;
  - an *unpaired* comparison (Welch-style, two independent arms of ``n`` runs of SD ``sd``).

``seeds_for(target, sd)`` is the smallest seed count whose paired MDE is at most ``target``. The
CLI prints the table in Markdown, values in points (×100).
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from analysis import stats
from analysis.stats import TARGET
from analysis.tables import Table

PASS1 = "eval/pass@1"
PASS1_SE = "eval/pass@1_se"
PAIR_SD_FACTOR = math.sqrt(2)  # SD of a difference of two independent runs, per run SD


@dataclass(frozen=True)
class NoiseStudy:
    """Seed-to-seed noise of one condition and the MDE it implies per seed count."""

    metric: str
    n: int
    mean: float
    sd: float
    eval_se: float  # mean per-run evaluation standard error (NaN when not logged)
    mde: pd.DataFrame  # columns: seeds, mde_paired, mde_unpaired (metric units)
    alpha: float = 0.05
    power: float = stats.POWER

    @property
    def sampling_share(self) -> float:
        """Share of the seed-to-seed variance explained by evaluation sampling alone."""
        if math.isnan(self.eval_se) or math.isnan(self.sd) or self.sd == 0:
            return math.nan
        return self.eval_se ** 2 / self.sd ** 2

    def seeds_for(self, target: float = TARGET, paired: bool = True, max_n: int = 1000) -> Optional[int]:
        return seeds_for(target, self.sd, paired=paired, alpha=self.alpha, power=self.power, max_n=max_n)

    def to_markdown(self, target: Optional[float] = TARGET) -> str:
        return "\n".join(t.to_markdown() for t in tables(self, target))


def noise_study(runs: pd.DataFrame, metric: str = PASS1, se_col: str = PASS1_SE,
                seeds_range: Sequence[int] = range(2, 17), *, seed_col: str = "seed",
                alpha: float = 0.05, power: float = stats.POWER) -> NoiseStudy:
    """The noise study of ``runs``, the runs of ONE condition across seeds (see the module
    docstring). Several runs of one seed are averaged first (``stats.per_seed``)."""
    vals = np.array(list(stats.per_seed(runs, metric, seed_col).values()), dtype=float)
    vals = vals[~np.isnan(vals)]
    n = len(vals)
    mean = float(vals.mean()) if n else math.nan
    sd = (float(vals.std(ddof=1)) if np.ptp(vals) > 0 else 0.0) if n >= 2 else math.nan
    eval_se = math.nan
    if se_col in runs:
        se = pd.to_numeric(runs[se_col], errors="coerce").dropna()
        eval_se = float(se.mean()) if len(se) else math.nan
    rows = [{"seeds": int(k),
             "mde_paired": stats.mde(PAIR_SD_FACTOR * sd, int(k), alpha=alpha, power=power, paired=True),
             "mde_unpaired": stats.mde(sd, int(k), alpha=alpha, power=power, paired=False)}
            for k in seeds_range]
    return NoiseStudy(metric, n, mean, sd, eval_se,
                      pd.DataFrame(rows, columns=["seeds", "mde_paired", "mde_unpaired"]), alpha, power)


def seeds_for(mde_target: float, sd: float, *, paired: bool = True, alpha: float = 0.05,
              power: float = stats.POWER, max_n: int = 1000) -> Optional[int]:
    """The smallest seed count ``n`` (≥ 2) whose MDE is at most ``mde_target``; ``sd`` is the
    seed-to-seed SD of one condition (a paired difference has SD √2·sd, as in ``noise_study``).
    None when ``sd`` is unknown or even ``max_n`` seeds do not reach the target."""
    if sd is None or math.isnan(sd) or mde_target is None or math.isnan(mde_target) or mde_target < 0:
        return None

    def ok(n: int) -> bool:
        s = PAIR_SD_FACTOR * sd if paired else sd
        return stats.mde(s, n, alpha=alpha, power=power, paired=paired) <= mde_target

    if ok(2):
        return 2
    if not ok(max_n):
        return None
    lo, hi = 2, max_n  # ok(lo) false, ok(hi) true; the MDE falls with n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def fmt_points(x: Optional[float], scale: float = 100.0, digits: int = 2) -> str:
    """``x`` in points (×``scale``), ``–`` when unknown."""
    return "–" if x is None or math.isnan(x) else f"{x * scale:.{digits}f}"


def tables(study: NoiseStudy, target: Optional[float] = TARGET) -> list:
    """The study as two ``analysis.tables.Table``: the noise (n, mean, SD, eval SE, its share of the
    variance) and the MDE per seed count, in points; the CLI prints them, the report saves them."""

    share = study.sampling_share
    noise = Table("noise", "Noise study: seed-to-seed variation of the faithful RL baseline (points)",
                  ["metric", "seeds", "mean", "seed-to-seed SD", "eval SE (per run)", "eval share of variance"],
                  [[study.metric, str(study.n), fmt_points(study.mean), fmt_points(study.sd),
                    fmt_points(study.eval_se), "–" if math.isnan(share) else f"{share:.0%}"]],
                  pd.DataFrame([{"metric": study.metric, "n": study.n, "mean": study.mean * 100,
                                 "sd": study.sd * 100, "eval_se": study.eval_se * 100, "eval_share": share}]),
                  ["SD: sample SD over seeds (ddof 1). Eval SE: the evaluation's own standard error per run "
                   "(resampling responses to the same problems), mean over runs; its square over the SD's "
                   "square is the share of the seed-to-seed variance that evaluation sampling alone explains, "
                   "the rest comes from training."])
    note = (f"Two-sided {study.alpha:.0%} test, {study.power:.0%} power, exact noncentral t (analysis.stats.mde). "
            "Paired: SD of a difference = √2 × SD.")
    if target is not None:
        k, ku = study.seeds_for(target), study.seeds_for(target, paired=False)
        note += (f" Seeds for an MDE ≤ {fmt_points(target)} points: {k if k is not None else '–'} paired, "
                 f"{ku if ku is not None else '–'} unpaired.")
    m = study.mde
    mde = Table("mde_vs_seeds", "Minimum detectable difference (points) against seeds per condition",
                ["seeds", "MDE paired", "MDE unpaired"],
                [[str(r.seeds), fmt_points(r.mde_paired), fmt_points(r.mde_unpaired)] for r in m.itertuples()],
                m.assign(mde_paired=m["mde_paired"] * 100, mde_unpaired=m["mde_unpaired"] * 100), [note])
    return [noise, mde]


def main(argv: Optional[Sequence[str]] = None) -> int:
    from analysis import collect

    ap = argparse.ArgumentParser(prog="python -m analysis.power", description=__doc__.split("\n")[0])
    ap.add_argument("sweeps", nargs="+", help="sweep dir(s) of one condition across seeds")
    ap.add_argument("--metric", default=PASS1)
    ap.add_argument("--se-col", default=PASS1_SE, help="per-run evaluation standard error column")
    ap.add_argument("--target", type=float, default=TARGET, help="MDE target in metric units (0.015 = 1.5 points)")
    ap.add_argument("--max-seeds", type=int, default=16, help="largest seed count in the table")
    ap.add_argument("--cache-dir", action="append", default=[], help="stage cache root(s), for moved records")
    args = ap.parse_args(argv)
    try:
        coll = collect.load_sweeps(args.sweeps, cache_dirs=args.cache_dir, warn=False)
    except collect.CollectError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runs = collect.dedupe(coll.runs)
    if args.metric not in runs:
        print(f"error: no column {args.metric!r} in the runs", file=sys.stderr)
        return 2
    study = noise_study(runs, args.metric, args.se_col, range(2, max(args.max_seeds, 2) + 1))
    print(study.to_markdown(args.target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
