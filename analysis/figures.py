"""The papers' figures from run records (matplotlib, saved as PNG and PDF).

Every point is a mean over seeds with its 95% Student-t interval (``analysis.stats``) drawn as an
error bar or a band, and every legend entry carries ``n`` (seeds).

* ``fig3_length``: pass@1 by response-length bucket (buckets = the config's
  ``eval.length_edges``, sample-level success rate within the bucket, as ``prmlab.evaluate``
  computes it), with vs without PRM, and the per-bucket difference paired by seed. The bucket
  sample counts are printed under the axis: a bucket with few samples has a wide interval.
* ``fig4_data``: final pass@1 against the PRM data amount, measured as the paper does: average
  responses collected per prompt (``prm_collect/n_responses / prm_collect/n_prompts``, i.e.
  checkpoints × ``prm.samples_per_prompt``); the RL baseline, when present, is a band.
* ``training_curves``: any ``metrics.jsonl`` metric against the RL step, per condition.
* ``reward_density``: share of prompt groups with reward variance > 0 and share of non-zero
  rewards over training, binary vs pass-rate (the pass-rate study's density analysis).
* ``hacking_monitors``: response length (tokens) and comment-line share over training.
* ``prm_calibration``: held-out share of completable lines per PRM-score bin
  (``prm_train/<key>/calibration.json``) against the calibrated line: an MSE-trained PRM on ±1
  labels predicts ``2 P(completable) - 1``, so a calibrated PRM lies on ``P = (score + 1) / 2``.
* ``sweep_figure``: pass@1 against a swept numeric factor (e.g. ``prm.lambda_fail``).
* ``gradient_direction``: the pass-rate study's gradient-direction analysis per checkpoint of the
  analysed run: cosine of the batch policy gradient under each reward x baseline to the full-pass
  log-likelihood gradient, and the change of the full-pass log-probability after one step.
* ``gradient_conflict``: within-group conflict among partial-pass responses' advantage-weighted
  gradients (pairwise cosine, cancellation ratio), per reward x baseline, pooled over groups.
* ``mde_vs_seeds``: the noise study's minimum detectable difference (paired and unpaired)
  against the seed count per condition, with the target line (``analysis.power``).
* ``passrate_calibration``: progress toward full correctness (completable share of lines) per
  pass-rate bin of failing responses, with Spearman's rho per run.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import stats
from analysis.tables import PASS1, with_labels


def _figure(nrows: int = 1, ncols: int = 1, **kw):
    """A ``Figure`` outside pyplot: no backend or display needed, never shown or kept by pyplot
    behind the caller's back (a notebook's inline backend would otherwise show every one)."""
    fig = Figure(figsize=kw.pop("figsize", (5.5, 3.8)))
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def save(fig, out_dir: str | Path, stem: str) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _no_data(title: str, why: str):
    fig, ax = _figure(figsize=(5, 3))
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def length_buckets(edges: Sequence[int]) -> list[str]:
    """Bucket names for ``eval.length_edges``, as ``prmlab.evaluate.length_bucket`` names them."""
    names, lo = [], 0
    for e in edges:
        names.append(f"{lo}-{e}")
        lo = e
    return names + [f"{lo}+"]


def config_edges(runs: pd.DataFrame) -> list[int]:
    """The runs' common ``eval.length_edges``; a mix of edges cannot share one x axis."""
    vals = {tuple(v) for v in runs["cfg.eval.length_edges"].dropna()} if "cfg.eval.length_edges" in runs else set()
    if len(vals) != 1:
        raise ValueError(f"runs must share eval.length_edges to be plotted together; found {sorted(vals)}")
    return list(vals.pop())


def fig3_length(runs: pd.DataFrame, with_prm: Optional[str] = "DenseReward + ValueInit",
                without_prm: str = "RL baseline"):
    """Figure 3: pass@1 against response-length bucket, with vs without PRM (``setting`` labels;
    ``with_prm=None`` pools every PRM setting)."""
    df = with_labels(runs)
    if df.empty:
        return _no_data("Figure 3", "no runs")
    with_rows = df[df["uses_prm"]] if with_prm is None else df[df["setting"] == with_prm]
    groups = [(without_prm, df[df["setting"] == without_prm]), (with_prm or "with PRM", with_rows)]
    groups = [(n, g) for n, g in groups if not g.empty]
    if not groups:
        return _no_data("Figure 3", "no RL runs with or without PRM")
    buckets = length_buckets(config_edges(pd.concat([g for _, g in groups])))
    fig, (ax, axd) = _figure(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(buckets))
    for i, (name, g) in enumerate(groups):
        est = [stats.estimate(g, f"{PASS1}/len_{b}") for b in buckets]
        _errorbar(ax, x + (i - 0.5) * 0.12, est, f"{name} (n={max(e.n for e in est)})", scale=100)
        counts = [g.get(f"eval/n_samples/len_{b}", pd.Series(dtype=float)).sum() for b in buckets]
        for xi, c in zip(x, counts):
            # anchored to the axes' bottom edge (not y = 0, which sits above it), below the tick labels
            ax.annotate(f"{int(c)}", (xi, 0), xycoords=("data", "axes fraction"), xytext=(0, -26 - 10 * i),
                        textcoords="offset points",
                        ha="center", fontsize=7, color=f"C{i}", annotation_clip=False)
    ax.set_xticks(x, buckets)
    ax.set_xlabel("response length (tokens)   [samples per bucket below]", labelpad=22)
    ax.set_ylabel("pass@1 (%)")
    ax.set_title("Pass@1 by response length")
    ax.legend(fontsize=8)
    if len(groups) == 2:
        diffs = [stats.compare_runs(groups[1][1], groups[0][1], f"{PASS1}/len_{b}") for b in buckets]
        _errorbar(axd, x, [stats.Estimate(d.diff, d.lo, d.hi, d.n_pairs) for d in diffs], "paired by seed",
                  scale=100, color="C2")
        axd.axhline(0, color="grey", lw=0.8)
        axd.set_xticks(x, buckets, rotation=30)
        axd.set_title(f"{groups[1][0]} − {groups[0][0]}", fontsize=9)
        axd.set_ylabel("Δ pass@1 (points)")
    else:
        axd.set_axis_off()
    fig.tight_layout()
    return fig


def _errorbar(ax, x, est: Sequence[stats.Estimate], label: str, scale: float = 1.0, **kw):
    m = np.array([e.mean for e in est]) * scale
    lo = np.array([e.lo for e in est]) * scale
    hi = np.array([e.hi for e in est]) * scale
    # seeds with one run (or none) have no interval: draw the mean without a bar
    yerr = np.vstack([np.where(np.isnan(lo), 0, m - lo), np.where(np.isnan(hi), 0, hi - m)])
    ax.errorbar(x, m, yerr=yerr, marker="o", capsize=3, label=label, **kw)


def responses_per_prompt(runs: pd.DataFrame) -> pd.Series:
    """PRM data amount as the paper plots it: responses collected per prompt (all checkpoints)."""
    if "prm_collect/n_responses" in runs and "prm_collect/n_prompts" in runs:
        return runs["prm_collect/n_responses"] / runs["prm_collect/n_prompts"]
    return runs["cfg.prm.samples_per_prompt"] * runs["cfg.algo.n_checkpoints"]


def fig4_data(runs: pd.DataFrame, factor: str = "cfg.prm.samples_per_prompt"):
    """Figure 4: final pass@1 against PRM data amount (one point per ``factor`` value)."""
    df = with_labels(runs)
    prm = df[df["uses_prm"]].copy() if not df.empty else df
    if prm.empty:
        return _no_data("Figure 4", "no runs with a PRM")
    prm["_x"] = responses_per_prompt(prm)
    pts = []
    for v, g in prm.groupby(factor):
        pts.append((g["_x"].mean(), stats.estimate(g, PASS1), v))
    pts.sort(key=lambda p: p[0])
    fig, ax = _figure(figsize=(5.5, 3.8))
    _errorbar(ax, [p[0] for p in pts], [p[1] for p in pts], f"with PRM (n={max(p[1].n for p in pts)})", scale=100)
    for xv, e, v in pts:
        ax.annotate(f"N={v:g}", (xv, e.mean * 100), xytext=(4, 4), textcoords="offset points", fontsize=7)
    base = df[(df["setting"] == "RL baseline")]
    if not base.empty:
        e = stats.estimate(base, PASS1)
        ax.axhline(e.mean * 100, color="grey", ls="--", label=f"RL baseline (n={e.n})")
        if not math.isnan(e.lo):
            ax.axhspan(e.lo * 100, e.hi * 100, color="grey", alpha=0.15)
    if len(pts) > 1 and min(p[0] for p in pts) > 0:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("PRM data: responses collected per prompt")
    ax.set_ylabel("final pass@1 (%)")
    ax.set_title("Pass@1 vs PRM data amount")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _label_runs(runs: pd.DataFrame, hue: Sequence[str] | str) -> pd.DataFrame:
    df = with_labels(runs)
    hue = [hue] if isinstance(hue, str) else list(hue)
    df["_hue"] = df[hue].astype(str).agg(" ".join, axis=1) if not df.empty else pd.Series(dtype=str)
    return df[["run_id", "seed", "_hue"]]


# A curve's 95% band is drawn only at steps with this many seeds: at 2 the t multiplier is 12.7, and
# the band (runs resumed from a step checkpoint record only their resumed steps) swamps the panel.
MIN_BAND_SEEDS = 3


def training_curves(curves: pd.DataFrame, runs: pd.DataFrame, metrics: Sequence[str],
                    hue: Sequence[str] | str = "setting", title: str = "Training curves",
                    ylabels: Optional[dict[str, str]] = None,
                    limits: Optional[dict[str, tuple[Optional[float], Optional[float]]]] = None):
    """One panel per metric: mean over seeds per step with its 95% band (where ``MIN_BAND_SEEDS`` seeds
    have the step), one line per ``hue`` value. ``limits`` gives a metric's possible range (a share is
    (0, 1)): its band is clipped there, since a t interval over 3 seeds can reach past what the metric can be."""
    metrics = [m for m in metrics if m in curves]
    if curves.empty or not metrics:
        return _no_data(title, "no curve records")
    df = curves.merge(_label_runs(runs, hue), on="run_id")
    fig, axes = _figure(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        band = stats.curve_band(df, m, by=["_hue"])
        for i, (h, g) in enumerate(band.groupby("_hue", sort=True)):
            ax.plot(g["step"], g["mean"], color=f"C{i}", label=f"{h} (n={int(g['n'].max())})")
            ok = g["lo"].notna() & (g["n"] >= MIN_BAND_SEEDS)
            lo, hi = (limits or {}).get(m, (None, None))
            ax.fill_between(g["step"][ok], g["lo"][ok].clip(lower=lo), g["hi"][ok].clip(upper=hi),
                            color=f"C{i}", alpha=0.2, lw=0)
        ax.set_xlabel("RL step")
        ax.set_ylabel((ylabels or {}).get(m, m))
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def reward_density(curves: pd.DataFrame, runs: pd.DataFrame, hue: Sequence[str] = ("algo", "reward")):
    """Reward density over training, binary vs pass-rate rewards."""
    return training_curves(curves, runs, ["reward/nonzero_group_var_frac", "reward/nonzero_frac"], hue=hue,
                           title="Reward density over training",
                           ylabels={"reward/nonzero_group_var_frac": "groups with reward variance > 0",
                                    "reward/nonzero_frac": "samples with non-zero reward"},
                           limits={"reward/nonzero_group_var_frac": (0.0, 1.0), "reward/nonzero_frac": (0.0, 1.0)})


def hacking_monitors(curves: pd.DataFrame, runs: pd.DataFrame, hue: Sequence[str] | str = "setting"):
    """Response length and comment-line share over training (reward-hacking monitors)."""
    return training_curves(curves, runs, ["rollout/response_tokens", "rollout/comment_line_frac"], hue=hue,
                           title="Reward-hacking monitors",
                           ylabels={"rollout/response_tokens": "response length (tokens)",
                                    "rollout/comment_line_frac": "comment-line share"},
                           limits={"rollout/response_tokens": (0.0, None), "rollout/comment_line_frac": (0.0, 1.0)})


def training_means(curves: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per run, the mean of each metric over its training steps (``run_id`` + metric columns)."""
    metrics = [m for m in metrics if m in curves]
    if curves.empty or not metrics:
        return pd.DataFrame(columns=["run_id", *metrics])
    return curves.groupby("run_id")[metrics].mean().reset_index()


def first_step_values(curves: pd.DataFrame, metrics: Sequence[str], step_col: str = "step") -> pd.DataFrame:
    """Per run, each metric at its first logged training step (``run_id`` + ``<metric>@0`` columns),
    e.g. the critic's explained variance before any update (``losses/explained_variance`` of step 0
    is measured on the sampling-time values, i.e. the initial critic)."""
    metrics = [m for m in metrics if m in curves]
    cols = ["run_id", *[f"{m}@0" for m in metrics]]
    if curves.empty or not metrics:
        return pd.DataFrame(columns=cols)
    first = curves.sort_values(step_col).groupby("run_id")[metrics].first().reset_index()
    return first.rename(columns={m: f"{m}@0" for m in metrics})


def prm_calibration(calib: pd.DataFrame, runs: pd.DataFrame, hue: Sequence[str] | str = "strategy"):
    """Held-out completable share per PRM-score bin, per ``hue`` (mean over seeds, 95% interval)."""
    if calib.empty:
        return _no_data("PRM calibration", "no prm_train calibration records")
    df = calib.merge(_label_runs(runs, hue), on="run_id")
    df = df.dropna(subset=["completable_frac"])
    df["mid"] = (df["score_lo"] + df["score_hi"]) / 2
    fig, ax = _figure(figsize=(5, 4))
    s = np.linspace(-1, 1, 50)
    ax.plot(s, (s + 1) / 2, color="grey", ls="--", lw=1, label="calibrated: P = (score + 1) / 2")
    for i, (h, g) in enumerate(df.groupby("_hue", sort=True)):
        band = stats.curve_band(g, "completable_frac", step_col="mid")
        _errorbar(ax, band["mid"] + (i - 1) * 0.02, [stats.Estimate(*r) for r in
                  band[["mean", "lo", "hi", "n"]].itertuples(index=False)], f"{h} (n={int(band['n'].max())})",
                  color=f"C{i}")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("PRM score (bin centre)")
    ax.set_ylabel("held-out share of completable lines")
    ax.set_title("PRM calibration")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def sweep_figure(runs: pd.DataFrame, factor: str, metric: str = PASS1, xlabel: Optional[str] = None,
                 title: str = "", hue: Optional[str] = None, scale: float = 100.0, ylabel: str = "pass@1 (%)"):
    """``metric`` (mean over seeds, 95% interval) against a numeric swept ``factor``."""
    if runs.empty or factor not in runs:
        return _no_data(title, f"no runs with {factor}")
    df = with_labels(runs)
    fig, ax = _figure(figsize=(5.5, 3.8))
    groups = [("all", df)] if hue is None else list(df.groupby(hue, sort=True))
    for i, (h, g) in enumerate(groups):
        vals = sorted(g[factor].dropna().unique())
        est = [stats.estimate(g[g[factor] == v], metric) for v in vals]
        label = f"{h} (n={max((e.n for e in est), default=0)})" if hue else f"n={max((e.n for e in est), default=0)}"
        _errorbar(ax, vals, est, label, scale=scale, color=f"C{i}")
    ax.set_xlabel(xlabel or factor.replace("cfg.", ""))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


GRAD_CONDITIONS = [(r, a) for r in ("binary", "pass_rate") for a in ("grpo", "rloo")]


def gradient_direction(grads: pd.DataFrame, runs: pd.DataFrame, by: str = "model"):
    """Per ``by`` value (columns; the model, or a credit experiment's arm): cos(g_R, g_full) and
    Δ log π(full-pass) against the checkpoint, one line per reward x baseline (the outcome rewards,
    and the completability credits where the records hold them), mean over seeds with its 95% interval."""
    from prmlab.gradients import CREDIT_REWARDS  # torch: imported only when this figure is drawn

    title = "Gradient direction: does the update favour full-pass responses?"
    if grads.empty:
        return _no_data(title, "no gradients records (run with gradients.enabled=true)")
    df = grads.merge(_label_runs(runs, by), on="run_id").rename(columns={"_hue": "model"})
    conditions = GRAD_CONDITIONS + [(r, a) for r in CREDIT_REWARDS for a in ("grpo", "rloo")
                                    if (df["reward"] == r).any()]
    models = sorted(df["model"].unique())
    metrics = [("cos_to_full", "cos(batch gradient, full-pass gradient)"),
               ("delta_logp_full", "Δ log π(full-pass) after one step")]
    fig, axes = _figure(len(metrics), len(models), figsize=(4.4 * len(models), 6.4), squeeze=False, sharex=True)
    for j, model in enumerate(models):
        g = df[df["model"] == model]
        for i, (m, ylabel) in enumerate(metrics):
            ax = axes[i][j]
            for k, (reward, algo) in enumerate(conditions):
                c = g[(g["reward"] == reward) & (g["algo"] == algo)]
                band = stats.curve_band(c, m, step_col="checkpoint")
                if band.empty:
                    continue
                _errorbar(ax, band["checkpoint"] + (k - (len(conditions) - 1) / 2) * 0.06,
                          [stats.Estimate(*r) for r in band[["mean", "lo", "hi", "n"]].itertuples(index=False)],
                          f"{algo.upper()} {reward} (n={int(band['n'].max())})", color=f"C{k}",
                          ls="-" if reward == "binary" else "--")
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_ylabel(ylabel, fontsize=8)
            if i == 0:
                ax.set_title(model)
            if i == len(metrics) - 1:
                ax.set_xlabel("checkpoint of the analysed run")
        if axes[0][j].get_legend_handles_labels()[0]:
            axes[0][j].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def gradient_conflict(groups: pd.DataFrame, runs: pd.DataFrame):
    """Per reward x baseline x model: the distribution over prompt groups of the mean pairwise
    cosine and of the cancellation ratio among partial-pass responses' advantage-weighted gradients
    (tick labels end with the number of groups). GRPO and RLOO give identical boxes: within one
    group both advantages are positive multiples of r - mean(r), and cosines and the ratio are
    scale-free; they are drawn both so that the layout matches the other panels."""
    title = "Conflicting gradients among partial-pass responses"
    if groups.empty:
        return _no_data(title, "no per-group gradient records (no group had 2+ partial-pass responses "
                               "with a non-zero advantage)")
    df = groups.merge(_label_runs(runs, "model"), on="run_id").rename(columns={"_hue": "model"})
    fig, axes = _figure(1, 2, figsize=(12, 4.6))
    conds = [(m, r, a) for m in sorted(df["model"].unique()) for r, a in GRAD_CONDITIONS]
    for ax, (col, label) in zip(axes, [("mean_cos", "mean pairwise cosine within a group"),
                                       ("cancel_ratio", "cancellation ratio ‖Σ g_i‖ / Σ ‖g_i‖")]):
        data, names = [], []
        for m, r, a in conds:
            v = df[(df["model"] == m) & (df["reward"] == r) & (df["algo"] == a)][col].dropna()
            if len(v):
                data.append(v.to_numpy())
                names.append(f"{m} {a.upper()} {r} ({len(v)})")
        if not data:
            ax.set_axis_off()
            continue
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(names) + 1), names, fontsize=7, rotation=35, ha="right")
        ax.set_ylabel(label, fontsize=8)
        ax.axhline(0 if col == "mean_cos" else 1, color="grey", lw=0.8, ls=":")
    fig.suptitle(title + " (box: quartiles, line: median, triangle: mean; tick: groups)", fontsize=10)
    fig.tight_layout()
    return fig


def passrate_calibration(progress: pd.DataFrame, runs: pd.DataFrame, bins: int = 5):
    """Failing responses: mean completable share of lines per pass-rate bin, per model (mean over
    seeds with its 95% interval), with each model's Spearman's rho (the runs' summary, mean over seeds)."""
    title = "Is pass rate calibrated to progress? (failing responses)"
    if progress.empty:
        return _no_data(title, "no labelled PRM responses (the gradients stage's prm_collect)")
    df = progress.merge(_label_runs(runs, "model"), on="run_id").rename(columns={"_hue": "model"})
    edges = np.linspace(0, 1, bins + 1)
    # pass rate 0 gets its own bin: most failing responses pass no test at all
    df["bin"] = np.where(df["pass_rate"] <= 0, -1, np.clip(np.digitize(df["pass_rate"], edges[1:-1]), 0, bins - 1))
    centres = {-1: 0.0, **{b: (edges[b] + edges[b + 1]) / 2 for b in range(bins)}}
    fig, ax = _figure(figsize=(5.5, 4))
    labels = with_labels(runs)
    for i, (model, g) in enumerate(df.groupby("model", sort=True)):
        per_seed = g.groupby(["seed", "bin"])["progress"].mean().reset_index()
        band = stats.curve_band(per_seed, "progress", step_col="bin")
        # the gradients stage's own rho over the same responses (grad/calibration_spearman_rho)
        rho = stats.estimate(labels[labels["model"] == model], "grad/calibration_spearman_rho")
        _errorbar(ax, [centres[int(b)] + (i - 0.5) * 0.01 for b in band["bin"]],
                  [stats.Estimate(*r) for r in band[["mean", "lo", "hi", "n"]].itertuples(index=False)],
                  f"{model}: Spearman ρ = {rho.fmt(1.0, 2)} (n={rho.n}; {len(g)} responses)", color=f"C{i}")
    ax.set_xlabel("test pass rate of the failing response (0 = its own bin)")
    ax.set_ylabel("completable share of lines (m* / M)")
    ax.set_xlim(-0.05, 1.0)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def mde_vs_seeds(study, target: Optional[float] = None, scale: float = 100.0):
    """The noise study's MDE (paired, unpaired) against the number of seeds per condition, the
    target as a horizontal line and the smallest paired seed count that meets it marked."""
    if study.n < 2 or study.mde.empty or study.mde["mde_paired"].isna().all():
        return _no_data("MDE vs seeds", f"{study.n} seed(s): no seed-to-seed SD")
    fig, ax = _figure(figsize=(5.5, 3.8))
    m = study.mde
    ax.plot(m["seeds"], m["mde_paired"] * scale, "o-", color="C0", label="paired (SD of a difference = √2·SD)")
    ax.plot(m["seeds"], m["mde_unpaired"] * scale, "s--", color="C1", label="unpaired")
    if target is not None:
        ax.axhline(target * scale, color="0.4", lw=1, ls=":", label=f"target {target * scale:g}")
        k = study.seeds_for(target)
        if k is not None and k <= m["seeds"].max():
            ax.axvline(k, color="C0", lw=1, ls=":")
            ax.annotate(f"{k} seeds", (k, target * scale), textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.set_xlabel("seeds per condition")
    ax.set_ylabel("MDE (points)" if scale == 100 else "MDE")
    ax.set_title(f"MDE vs seeds (two-sided {study.alpha:.0%}, {study.power:.0%} power; "
                 f"measured SD {study.sd * scale:.2f} from {study.n} seeds)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
