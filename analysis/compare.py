"""Paired comparisons of any metric between the levels of a factor, from run records, with verdicts.

    python -m analysis.compare SWEEP_DIR [...] --factor strategy --ref full
    python -m analysis.compare docs/results/rl_core/runs.csv --factor cfg.reward.name --ref binary \\
        --by cfg.algo.name --where cfg.prm.dense=False
    python -m analysis.compare SWEEP_DIR --factor prm.dense,prm.value_init --ref False,False \\
        --where algo=ppo --metric eval/pass@1/len_120+
    python -m analysis.compare docs/results/passrate_gradients/runs.csv --by cfg.model.arch \\
        --metric grad/pass_rate_grpo/cos_to_full --against grad/binary_grpo/cos_to_full

The reports (``analysis.report``) compare each experiment's own rows against its own reference. This
asks the questions they do not: another split's evaluation of the same runs (``eval.split=rl``), one
length bucket, an old run table re-read under the current statistics. Sources are sweep or run dirs
(loaded by ``analysis.collect.load_sweeps``, duplicate computations counted once) or run tables
(``runs.csv`` of a report). ``--where COL=VALUE`` keeps rows whose column reads VALUE (compared as
text, so ``False``, ``0.5`` and ``ppo`` all work); ``--by`` compares within each group of those
columns. For every level of ``--factor`` other than ``--ref``: the mean over seeds [95% t], the
difference to the reference paired by seed [95% paired t], the comparison's own MDE and the verdict of
``analysis.stats`` (resolved / bounded within ``--bound`` / unresolved), and the per-seed values.
With ``--against METRIC`` the two levels are two figures of the same runs (``--metric`` minus
``--against``, paired by seed), e.g. one batch's gradient analysis under two rewards. Pass@k metrics are shown in points (×100) and bounded by the design MDE, 1.5 points, unless
``--scale``/``--bound`` say otherwise. A column or level that is not there exits 2 and names it.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

import pandas as pd

from analysis.collect import CollectError, dedupe, load_sweeps
from analysis.stats import compare_runs, estimate, per_seed
from analysis.tables import Table, bound_for


class CompareError(ValueError):
    """Bad input: the message names the column, level or file and what was expected."""


def load_rows(sources: Sequence[str]) -> pd.DataFrame:
    """The run table of ``sources`` (sweep dirs, run dirs, ``runs.csv`` run tables), duplicate
    computations counted once."""
    try:
        runs = dedupe(load_sweeps(list(sources), warn=False).runs)
    except CollectError as e:
        raise CompareError(str(e)) from None
    if runs.empty:
        raise CompareError("no finished run in the sources")
    return runs


def _need(runs: pd.DataFrame, col: str, what: str) -> None:
    if col not in runs.columns:
        near = sorted(c for c in runs.columns if col.split(".")[-1] in c)[:8]
        raise CompareError(f"{what} {col!r}: no such column in the run table" +
                           (f" (columns like it: {', '.join(near)})" if near else ""))


def select(runs: pd.DataFrame, where: Sequence[str]) -> pd.DataFrame:
    """The rows whose column reads VALUE (as text) for every ``COL=VALUE``."""
    for cond in where:
        col, sep, value = cond.partition("=")
        if not sep:
            raise CompareError(f"--where {cond!r}: expected COL=VALUE")
        _need(runs, col, "--where")
        runs = runs[runs[col].astype(str) == value]
    return runs


def metrics_as_levels(runs: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """The run table with one row per (run, metric): column ``metric`` names it, ``value`` holds it."""
    for m in metrics:
        _need(runs, m, "--metric" if m == metrics[0] else "--against")
    runs = runs.copy()  # one defragmented block, so assign does not warn per column
    return pd.concat([runs.assign(metric=m, value=runs[m]) for m in metrics], ignore_index=True)


def comparisons(runs: pd.DataFrame, factor: Sequence[str], ref: Sequence[str], metric: str,
                by: Sequence[str] = (), scale: float = 100.0, bound: Optional[float] = 1.5,
                digits: int = 1) -> pd.DataFrame:
    """One row per (group of ``by``, level of ``factor``): mean [t] and the paired comparison to ``ref``
    (in displayed units: the metric × ``scale``; ``bound`` in the same units)."""
    for col in (*factor, *by):
        _need(runs, col, "--factor" if col in factor else "--by")
    _need(runs, metric, "--metric")
    if len(ref) != len(factor):
        raise CompareError(f"--ref {','.join(ref)!r}: expected one value per --factor column ({', '.join(factor)})")
    level = runs[list(factor)].astype(str).agg(",".join, axis=1)
    ref_level = ",".join(ref)
    out = []
    groups = runs.groupby(list(by), dropna=False, sort=True) if by else [((), runs)]
    for keys, g in groups:
        keys = keys if isinstance(keys, tuple) else (keys,)
        lv = level.loc[g.index]
        base = g[lv == ref_level]
        if base.empty:
            raise CompareError(f"--ref {ref_level!r}: no run at this level of {', '.join(factor)}"
                               f"{' in ' + str(dict(zip(by, keys))) if by else ''} (levels: {', '.join(sorted(set(lv)))})")
        for name in sorted(set(lv), key=lambda x: (x != ref_level, x)):
            rows = g[lv == name]
            e = estimate(rows, metric)
            seeds = per_seed(rows, metric)
            row = {**dict(zip(by, keys)), "level": name, "n": e.n,
                   "mean": e.mean * scale, "lo": e.lo * scale, "hi": e.hi * scale,
                   "per_seed": " / ".join(f"{seeds[s] * scale:.{digits + 1}f}" for s in sorted(seeds))}
            if name != ref_level:
                c = compare_runs(rows, base, metric, bound=None if bound is None else bound / scale)
                row.update(diff=c.fmt(scale, digits), mde=c.fmt_mde(scale, digits), verdict=c.verdict, n_pairs=c.n_pairs)
            out.append(row)
    return pd.DataFrame(out)


def to_table(table: pd.DataFrame, factor: Sequence[str], ref: str, by: Sequence[str], metric: str,
             digits: int = 1) -> Table:
    """The comparisons as an ``analysis.tables.Table`` (Markdown, LaTeX and CSV like the reports')."""
    head = [*by, " / ".join(factor), "n", "mean [95% t]", f"Δ vs {ref} [95% paired t]", "MDE", "verdict", "per seed"]
    rows = []
    for _, r in table.iterrows():
        ci = (f"{r['mean']:.{digits}f} [{r['lo']:.{digits}f}, {r['hi']:.{digits}f}]" if r["n"] > 1
              else f"{r['mean']:.{digits}f}")
        text = {k: (r.get(k) if isinstance(r.get(k), str) else None) for k in ("diff", "mde", "verdict")}
        rows.append([*(str(r[b]) for b in by), r["level"], str(r["n"]), ci, text["diff"] or "(ref)",
                     text["mde"] or "–", text["verdict"] or "–", r["per_seed"]])
    return Table("compare", metric, head, rows, table)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.compare", description=__doc__.split("\n")[0])
    ap.add_argument("sources", nargs="+", help="sweep dirs, run dirs or runs.csv run tables")
    ap.add_argument("--factor", help="the column(s) whose levels are compared, comma-separated")
    ap.add_argument("--ref", help="the reference level (one value per --factor column, comma-separated)")
    ap.add_argument("--against", metavar="METRIC", help="compare --metric with this figure of the same runs instead")
    ap.add_argument("--metric", default="eval/pass@1", help="a summary figure (default eval/pass@1)")
    ap.add_argument("--by", default="", help="compare within each group of these columns, comma-separated")
    ap.add_argument("--where", action="append", default=[], metavar="COL=VALUE", help="keep rows whose COL reads VALUE")
    ap.add_argument("--scale", type=float, help="display factor (default 100 for pass@k metrics, else 1)")
    ap.add_argument("--bound", type=float, help="the design MDE in displayed units (default 1.5 for pass@k, else none)")
    ap.add_argument("--digits", type=int, help="decimals shown (default 1 for pass@k in points, else 3)")
    args = ap.parse_args(argv)
    design = bound_for(args.metric)  # the reports' design MDE: pass@k metrics only
    passk = design is not None
    scale = args.scale if args.scale is not None else (100.0 if passk else 1.0)
    bound = args.bound if args.bound is not None else (design * scale if passk else None)
    digits = args.digits if args.digits is not None else (1 if passk else 3)
    if (args.factor or args.ref) if args.against else not (args.factor and args.ref):
        ap.error("give either --factor and --ref, or --against METRIC")
    by = [c for c in args.by.split(",") if c]
    try:
        runs = select(load_rows(args.sources), args.where)
        if runs.empty:
            raise CompareError(f"no run is left after --where {' '.join(args.where)}")
        if args.against:
            factor, ref, metric = ["metric"], [args.against], "value"
            runs = metrics_as_levels(runs, [args.metric, args.against])
        else:
            factor, ref, metric = [c for c in args.factor.split(",") if c], args.ref.split(","), args.metric
        table = comparisons(runs, factor, ref, metric, by, scale, bound, digits)
    except CompareError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t = to_table(table, factor, ",".join(ref), by, args.metric, digits)
    t.title = f"{args.metric} (×{scale:g})" + (f"; verdict bound ±{bound:g}" if bound is not None else "")
    print(t.to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
