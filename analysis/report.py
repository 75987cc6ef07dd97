"""One results folder per experiment: tables, figures and an ``index.md`` that ties them to records.

    python -m analysis.report SWEEP_DIR [SWEEP_DIR...] --name table1 --out results/table1
    python -m analysis.report --index results              # results/index.md over every experiment

Layout written (the folder's own ``tables/``, ``figures/``, ``index.md`` and ``runs.csv`` are
replaced; nothing else in it is touched)::

    results/NAME/index.md            what was run (commands, machine, wall time, records, seeds),
                                     incomplete runs, compute by stage, every table inline, every
                                     figure linked, and each paper claim against this testbed
    results/NAME/tables/*.md|.tex|.csv
    results/NAME/figures/*.png|.pdf
    results/NAME/runs.csv            the run table the numbers come from (one row per run)

What each experiment gets is the ``BUILDERS`` entry of its name (the runs' ``experiment`` if
``--name`` is not given); an unknown name (``smoke``, your own) gets a generic table over the
swept factors and the training curves. Claims are checked through each difference's three-way
verdict (``analysis.stats``): *reproduced (resolved)* when the 95% paired t-interval excludes 0 in
the paper's direction, *opposite (resolved)* in the other; *bounded* when the interval lies
within ± the design MDE (``analysis.stats.TARGET`` for pass@1: any effect is smaller); *unresolved* (with
the mean's sign) otherwise. A "does not reliably beat" claim (``NOT_BETTER``) is contradicted only
by a resolved gain.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd

from analysis import artifacts, collect, conf, figures, stats, tables
from analysis.collect import Collection
from analysis.overrides import factors


@dataclass
class Figure:
    stem: str
    title: str
    fig: object  # matplotlib Figure
    caption: str = ""


@dataclass
class Claim:
    paper: str  # what the paper reports
    here: str  # the testbed's figure
    verdict: str


@dataclass
class Report:
    name: str
    tables: list[tables.Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# claims


VERDICT_NOTE = ("Verdicts: *resolved* = the 95% interval of the difference excludes 0 (*reproduced* in the "
                "paper's direction, *opposite* otherwise); *bounded* = the interval lies within "
                f"±{tables.TARGET * 100:g} points, the design MDE of pass@1 (a measured null: any effect is smaller); *unresolved* = "
                "neither (the sign of the mean is given). The papers' numbers are on their benchmarks and "
                "models; only directions transfer.")
NOT_BETTER = "not_better"  # a claim that a is *not* reliably better than b (e.g. pass-rate vs binary)


def verdict(c: stats.Comparison, expected_sign: int | str) -> str:
    """The paper's direction (``+1``/``-1``; ``0`` = "no notable difference"; ``NOT_BETTER`` = "a
    does not reliably beat b", contradicted only by a resolved gain) against ``c``, read through
    its three-way verdict (``stats.Comparison.verdict``: resolved / bounded / unresolved)."""
    if c.n_pairs == 0 or math.isnan(c.diff):
        return "not measured (no paired seeds)"
    sign = "same" if expected_sign in (1, -1) and c.diff * expected_sign > 0 else "opposite"
    if c.n_pairs < 2:
        what = f"{sign} sign" if expected_sign in (1, -1) else "no interval"
        return f"not measured (1 paired seed, {what})"
    v = c.verdict
    if v == stats.RESOLVED:
        if expected_sign == NOT_BETTER:
            return "differs (resolved gain)" if c.diff > 0 else "consistent (resolved loss)"
        if expected_sign == 0:
            return "differs (resolved)"
        return "reproduced (resolved)" if sign == "same" else "opposite (resolved)"
    if v == stats.BOUNDED:
        if expected_sign in (1, -1):
            return f"not reproduced (bounded: |effect| < {c.bound * 100:g} points)"
        return f"consistent (bounded: |effect| < {c.bound * 100:g} points)"
    if expected_sign in (1, -1):
        return f"unresolved ({sign} sign)"
    return "unresolved"


def _claim(paper: str, runs_a: pd.DataFrame, runs_b: pd.DataFrame, metric: str, sign: int | str,
           what: str = "Δ pass@1", scale: float = 100.0, unit: str = " points", digits: int = 1) -> Claim:
    """A null is bounded by ``tables.bound_for(metric)`` (the noise study's target for pass@k, none
    otherwise); the MDE printed is the comparison's own (observed SD of the paired differences)."""
    c = stats.compare_runs(runs_a, runs_b, metric, bound=tables.bound_for(metric))
    here = (f"{what} = {c.fmt(scale, digits)}{unit} (n={c.n_pairs} paired seeds, MDE {c.fmt_mde(scale, digits)}, "
            f"Welch p={stats.fmt_p(c.p_welch)})")
    return Claim(paper, here, verdict(c, sign))


def _sign_claim(paper: str, runs: pd.DataFrame, metric: str, sign: int, what: str, digits: int = 3) -> Claim:
    """A claim about the sign of one figure: its per-seed values against 0 (the paired t-interval
    against a zero baseline is the one-sample t-interval of the mean). No design bound: a figure
    that is not pass@k is never called bounded."""
    values = stats.per_seed(runs, metric)
    c = stats.compare(values, dict.fromkeys(values, 0.0))
    here = f"{what} = {c.fmt(1.0, digits)} (n={c.n_pairs} seeds, 95% t-interval of the mean)"
    return Claim(paper, here, verdict(c, sign))


# ---------------------------------------------------------------------------------------------
# per-experiment builders


def _curves(coll: Collection) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing curves are listed in the index instead
        return artifacts.load_curves(coll)


def _recipe(runs: pd.DataFrame, ablation: str = "none") -> pd.DataFrame:
    """The runs of one recipe: ``ablation=none`` (the paper's) unless told otherwise."""
    df = tables.with_labels(runs)
    return df[df["ablation"] == ablation] if not df.empty else df


def build_table1(coll: Collection, runs: pd.DataFrame) -> Report:
    r = Report("table1")
    df = _recipe(runs)
    r.tables.append(tables.table1(df))
    curves = _curves(coll)
    rl = df[df["algo"] != "none"]
    r.figures += [
        Figure("fig3_length", "Figure 3 (from the Table 1 runs): pass@1 by response length",
               figures.fig3_length(rl), "RL baseline vs DenseReward + ValueInit; length edges from eval.length_edges."),
        Figure("curves", "Training curves", figures.training_curves(
            curves, rl, ["reward/all_pass_rate", "reward/mean", "rollout/kl"], hue="setting")),
        Figure("hacking_monitors", "Reward-hacking monitors", figures.hacking_monitors(curves, rl, hue="setting")),
        Figure("prm_calibration", "PRM calibration", figures.prm_calibration(
            artifacts.load_calibration(coll), rl, hue="setting")),
    ]
    base = df[df["setting"] == "RL baseline"]
    for setting, sign, text in (
            ("DenseReward + ValueInit", +1, "DenseReward + ValueInit beats the RL baseline (LCB 28.2 → 29.8, IHB 31.8 → 35.8)"),
            ("DenseReward", +1, "DenseReward alone beats the RL baseline (LCB +0.7, IHB +0.5)"),
            ("ValueInit", 0, "ValueInit alone gives no notable benefit (LCB +0.0, IHB −0.4)")):
        r.claims.append(_claim(text, df[df["setting"] == setting], base, tables.PASS1, sign,
                               what=f"{setting} − RL baseline"))
    sft = df[df["setting"] == "SFT"]
    r.claims.append(_claim("RL improves on SFT (LCB 23.5 → 28.2)", base, sft, tables.PASS1, +1,
                           what="RL baseline − SFT"))
    return r


def build_table2(coll: Collection, runs: pd.DataFrame) -> Report:
    r = Report("table2")
    r.tables.append(tables.table2(runs))
    df = tables.with_labels(runs)
    df = df[df["uses_prm"]]
    curves = _curves(coll)
    r.figures += [
        Figure("curves", "Training curves by strategy", figures.training_curves(
            curves, df, ["reward/all_pass_rate", "reward/dense_mean"], hue="strategy")),
        Figure("prm_calibration", "PRM calibration by strategy", figures.prm_calibration(
            artifacts.load_calibration(coll), df, hue="strategy")),
        Figure("hacking_monitors", "Reward-hacking monitors", figures.hacking_monitors(curves, df, hue="strategy")),
    ]
    full = df[df["strategy"] == "full"]
    r.claims.append(_claim("revised_only beats full (LCB 26.9 → 29.8, IHB 34.6 → 35.8)",
                           df[df["strategy"] == "revised_only"], full, tables.PASS1, +1, what="revised_only − full"))
    return r


def _length_claims(df: pd.DataFrame, with_rows: pd.DataFrame, without_rows: pd.DataFrame) -> list[Claim]:
    edges = figures.config_edges(pd.concat([with_rows, without_rows]))
    out = []
    for b in figures.length_buckets(edges):
        lo = int(b.split("-")[0].rstrip("+"))
        long = lo >= 100
        out.append(_claim(f"bucket {b} tokens: PRM " + ("helps (responses > 100 tokens)" if long else
                          "is neutral or slightly worse (responses < 100 tokens)"),
                          with_rows, without_rows, f"{tables.PASS1}/len_{b}", +1 if long else 0,
                          what="with − without PRM"))
    return out


def build_fig3(coll: Collection, runs: pd.DataFrame) -> Report:
    r = Report("fig3_length")
    df = tables.with_labels(runs)
    df = df[df["algo"] != "none"]
    r.figures.append(Figure("fig3_length", "Figure 3: pass@1 by response length, with vs without PRM",
                            figures.fig3_length(df, with_prm=None),
                            "Buckets from eval.length_edges; sample counts per bucket under the axis."))
    r.tables.append(length_table(df))
    with_rows, without = df[df["uses_prm"]], df[df["setting"] == "RL baseline"]
    if not with_rows.empty and not without.empty:
        r.claims += _length_claims(df, with_rows, without)
        r.claims.append(_claim("PRM improves overall pass@1", with_rows, without, tables.PASS1, +1,
                               what="with − without PRM"))
    return r


def length_table(df: pd.DataFrame) -> tables.Table:
    """Pass@1 per length bucket (rows) with and without PRM, and the paired difference."""
    if df.empty:
        return tables._empty("length", "Pass@1 by response length")
    edges = figures.config_edges(df)
    with_rows, without = df[df["uses_prm"]], df[df["setting"] == "RL baseline"]
    head = ["Length (tokens)", "n", "without PRM", "with PRM", "Δ (with − without)", "p", "samples (without/with)"]
    rows, data = [], []
    for b in figures.length_buckets(edges):
        m = f"{tables.PASS1}/len_{b}"
        a, w = stats.estimate(without, m), stats.estimate(with_rows, m)
        c = stats.compare_runs(with_rows, without, m)
        na = without.get(f"eval/n_samples/len_{b}", pd.Series(dtype=float)).sum()
        nw = with_rows.get(f"eval/n_samples/len_{b}", pd.Series(dtype=float)).sum()
        rows.append([b, f"{a.n}/{w.n}", a.fmt(100), w.fmt(100), c.fmt(100), stats.fmt_p(c.p_welch), f"{na:.0f}/{nw:.0f}"])
        data.append({"bucket": b, "n_without": a.n, "n_with": w.n, "without_mean": a.mean * 100,
                     "without_lo": a.lo * 100, "without_hi": a.hi * 100, "with_mean": w.mean * 100,
                     "with_lo": w.lo * 100, "with_hi": w.hi * 100, "diff": c.diff * 100, "diff_lo": c.lo * 100,
                     "diff_hi": c.hi * 100, "p_welch": c.p_welch, "samples_without": na, "samples_with": nw})
    return tables.Table("length", "Pass@1 (%) by response-length bucket, with vs without PRM", head, rows,
                        pd.DataFrame(data), [tables.STAT_NOTE.replace("the reference row", "the run without PRM"),
                                             "A bucket's pass@1 is the success rate of the samples whose length "
                                             "falls in it; a run with no sample in a bucket does not count there."])


def build_fig4(coll: Collection, runs: pd.DataFrame) -> Report:
    r = Report("fig4_data")
    df = tables.with_labels(runs)
    df["prm/responses_per_prompt"] = figures.responses_per_prompt(df) if not df.empty else []
    r.figures.append(Figure("fig4_data", "Figure 4: pass@1 against PRM data amount", figures.fig4_data(df)))
    prm = df[df["uses_prm"]] if not df.empty else df
    ns = sorted(prm["cfg.prm.samples_per_prompt"].unique()) if not prm.empty else []
    r.tables.append(tables.sweep_table(
        prm, "cfg.prm.samples_per_prompt", name="fig4_data", reference=ns[0] if len(ns) > 1 else None,
        title="Pass@1 (%) by PRM data amount (N = prm.samples_per_prompt)",
        extra={"responses / prompt": ("prm/responses_per_prompt", 1), "PRM lines": ("prm_collect/n_lines", 0),
               "PRM val AUC": ("prm/val_auc", 2)}))
    if len(ns) > 1:
        r.claims.append(_claim(f"more PRM data helps (N={ns[-1]} vs N={ns[0]})",
                               prm[prm["cfg.prm.samples_per_prompt"] == ns[-1]],
                               prm[prm["cfg.prm.samples_per_prompt"] == ns[0]], tables.PASS1, +1,
                               what=f"N={ns[-1]} − N={ns[0]}"))
    # the figure's reference line: each data amount against the RL baseline (Table 1's direction)
    base = df[df["setting"] == "RL baseline"] if not df.empty else df
    if not base.empty:
        for n in ns:
            r.claims.append(_claim(f"PRM-RL (DenseReward + ValueInit) beats the RL baseline, N={n:g}",
                                   prm[prm["cfg.prm.samples_per_prompt"] == n], base, tables.PASS1, +1,
                                   what=f"N={n:g} − RL baseline"))
    return r


def build_reward_weighting(coll: Collection, runs: pd.DataFrame) -> Report:
    r = Report("reward_weighting")
    df = tables.with_labels(runs)
    prm = df[df["uses_prm"]] if not df.empty else df
    ref = 0.5 if not prm.empty and (prm.get("cfg.prm.lambda_fail") == 0.5).any() else None
    r.tables.append(tables.sweep_table(
        prm, "cfg.prm.lambda_fail", name="reward_weighting", reference=ref,
        title="Pass@1 (%) by dense-reward weight λ_fail (DenseReward + ValueInit)",
        extra={"tokens": ("eval/mean_tokens", 1), "lines": ("eval/mean_lines", 1)}))
    curves = _curves(coll)
    r.figures += [
        Figure("lambda", "Pass@1 against λ_fail", figures.sweep_figure(
            prm, "cfg.prm.lambda_fail", xlabel="λ_fail (dense PRM reward weight)", title="Pass@1 vs λ_fail")),
        Figure("hacking_monitors", "Reward-hacking monitors by λ_fail",
               figures.hacking_monitors(curves, prm, hue="cfg.prm.lambda_fail")),
        Figure("curves", "Training curves by λ_fail", figures.training_curves(
            curves, prm, ["reward/all_pass_rate", "reward/dense_mean"], hue="cfg.prm.lambda_fail")),
    ]
    return r


def build_passrate(coll: Collection, runs: pd.DataFrame) -> Report:
    r = Report("passrate_study")
    curves = _curves(coll)
    density = figures.training_means(curves, ["reward/nonzero_group_var_frac", "reward/nonzero_frac"])
    labelled = tables.with_labels(runs)
    # primary rows: the study's recipe (every sampled group trained on); each departure its own table
    r.tables.append(tables.passrate_table(labelled[labelled["ablation"] == "none"] if not labelled.empty else labelled,
                                          density))
    for ab in sorted(a for a in labelled.get("ablation", pd.Series(dtype=str)).dropna().unique() if a != "none"):
        r.tables.append(tables.passrate_table(
            labelled[labelled["ablation"] == ab], density, name=f"passrate_{ab}",
            title=f"Pass-rate study, ablation {ab}: binary vs pass-rate reward, held-out pass@1 (%)"))
    df = labelled[(labelled["algo"] != "none") & (labelled["ablation"] == "none")] if not labelled.empty else labelled
    r.figures += [
        Figure("reward_density", "Reward density over training: binary vs pass-rate",
               figures.reward_density(curves, df, hue=("model", "algo", "reward"))),
        Figure("curves", "Training curves", figures.training_curves(
            curves, df, ["reward/all_pass_rate", "reward/pass_rate"], hue=("model", "algo", "reward"))),
        Figure("hacking_monitors", "Response length and comment share",
               figures.hacking_monitors(curves, df, hue=("algo", "reward"))),
    ]
    if not df.empty:
        for (model, algo), g in df.groupby(["model", "algo"]):
            b, p = g[g["reward"] == "binary"], g[g["reward"] == "pass_rate"]
            r.claims.append(_claim(f"{model} {algo.upper()}: pass-rate reward does not reliably beat binary",
                                   p, b, tables.PASS1, NOT_BETTER, what="pass_rate − binary"))
            if not density.empty:
                d = g.merge(density, on="run_id")
                r.claims.append(_claim(f"{model} {algo.upper()}: pass-rate rewards are denser",
                                       d[d["reward"] == "pass_rate"], d[d["reward"] == "binary"],
                                       "reward/nonzero_group_var_frac", +1, what="Δ share of groups with signal",
                                       scale=1.0, unit=""))
    # each departure (e.g. dynamic sampling) against the study's recipe, cell by cell, paired by seed
    if not labelled.empty:
        rl = labelled[labelled["algo"] != "none"]
        for ab in sorted(a for a in rl["ablation"].dropna().unique() if a != "none"):
            for (model, algo, reward), g in rl[rl["ablation"] == ab].groupby(["model", "algo", "reward"]):
                base = rl[(rl["ablation"] == "none") & (rl["model"] == model) & (rl["algo"] == algo)
                          & (rl["reward"] == reward)]
                if not base.empty:
                    r.claims.append(_claim(f"{model} {algo.upper()} {reward}: {ab} leaves the result unchanged "
                                           "(the study trains on every group)", g, base, tables.PASS1, 0,
                                           what=f"{ab} − none"))
    return r


def _metric_as(runs: pd.DataFrame, metric: str, name: str = "value") -> pd.DataFrame:
    """``runs`` with ``metric`` copied to column ``name``: two metrics of the same runs become two
    conditions for a paired-by-seed comparison."""
    out = runs[["run_id", "seed"]].copy()
    out[name] = runs[metric] if metric in runs else float("nan")
    return out


def build_passrate_gradients(coll: Collection, runs: pd.DataFrame) -> Report:
    """Gradient direction, conflict and calibration on the checkpoints of GRPO-binary runs."""
    r = Report("passrate_gradients")
    df = tables.with_labels(runs)
    df = df[df["algo"] != "none"] if not df.empty else df
    r.tables += [tables.gradients_table(df), tables.calibration_table(df)]
    r.figures += [
        Figure("gradient_direction", "Gradient direction per checkpoint",
               figures.gradient_direction(artifacts.load_gradients(coll), df),
               "Solid: binary reward, dashed: pass-rate reward; the same sampled batch at each checkpoint."),
        Figure("gradient_conflict", "Conflicting gradients within groups",
               figures.gradient_conflict(artifacts.load_gradient_groups(coll), df)),
        Figure("passrate_calibration", "Pass rate against progress (completable share)",
               figures.passrate_calibration(artifacts.load_progress(coll), df)),
    ]
    if df.empty:
        return r
    for model, g in df.groupby("model"):
        for algo in ("grpo", "rloo"):
            for key, what in (("cos_to_full", "cos to full-pass gradient"),
                              ("delta_logp_full", "Δ log π(full-pass)")):
                pr = _metric_as(g, tables.gradient_metric("pass_rate", algo, key))
                bi = _metric_as(g, tables.gradient_metric("binary", algo, key))
                c = _claim(f"{model} {algo.upper()}: the pass-rate reward's update points less toward full-pass "
                           f"responses than the binary reward's ({what}; the mechanism the study's analyses probe)",
                           pr, bi, "value", -1, what=f"pass_rate − binary {what}", scale=1.0, unit="", digits=3)
                r.claims.append(c)
        # the study's conflict claim, read off its direct measure: partial-pass responses' advantage-
        # weighted gradients oppose each other within a group (mean pairwise cosine < 0); GRPO and RLOO
        # give the same cosines (a positive factor per group), so one claim per model
        r.claims.append(_sign_claim(
            f"{model}: under the pass-rate reward, partial-pass responses' gradients conflict within a group "
            "(mean pairwise cosine of the advantage-weighted gradients < 0)",
            g, tables.gradient_metric("pass_rate", "grpo", "partial_mean_cos"), -1, what="mean pairwise cosine"))
    return r


def build_rl_core(coll: Collection, runs: pd.DataFrame) -> Report:
    """SFT vs PPO / GRPO / RLOO under each outcome reward: does RL beat its SFT start (paired by seed)?"""
    r = Report("rl_core")
    df = tables.with_labels(runs)
    if df.empty:
        return r
    df["condition"] = [("SFT" if a == "none" else f"{a.upper()} {w}") for a, w in zip(df["algo"], df["reward"])]
    order = ["SFT"] + [f"{a} {w}" for w in ("binary", "pass_rate") for a in ("PPO", "GRPO", "RLOO")]
    r.tables.append(tables.condition_table(
        df, by="condition", order=order, columns=tables.pass_columns(df), reference="SFT", name="rl_core",
        title="RL core: held-out pass@1 (%) of SFT and RL, mean [95% Student-t interval] over seeds",
        notes=["Δ vs SFT: paired by seed (t interval of the per-seed differences); p: Welch's t-test."]))
    sft = df[df["condition"] == "SFT"]
    for cond in order[1:]:
        g = df[df["condition"] == cond]
        if not g.empty and not sft.empty:
            r.claims.append(_claim(f"{cond}: RL improves held-out pass@1 over SFT", g, sft, tables.PASS1, +1,
                                   what="RL − SFT"))
    curves = _curves(coll)
    rl = df[df["algo"] != "none"]
    r.figures += [
        Figure("curves", "Training curves", figures.training_curves(
            curves, rl, ["reward/all_pass_rate", "reward/pass_rate"], hue=("algo", "reward"))),
        Figure("reward_density", "Reward density over training",
               figures.reward_density(curves, rl, hue=("algo", "reward"))),
        Figure("hacking_monitors", "Response length and comment share",
               figures.hacking_monitors(curves, rl, hue=("algo", "reward"))),
    ]
    return r


def build_noise(coll: Collection, runs: pd.DataFrame) -> Report:
    """The noise study: seed-to-seed SD of the faithful baseline and the MDE against seed count."""
    from analysis import power

    r = Report("noise")
    df = tables.with_labels(runs)
    study = power.noise_study(df) if not df.empty else power.noise_study(pd.DataFrame({"seed": []}))
    r.tables += power.tables(study)
    r.figures.append(Figure("mde_vs_seeds", "Minimum detectable difference against seeds",
                            figures.mde_vs_seeds(study, stats.TARGET),
                            f"Dotted: the {stats.TARGET * 100:g}-point target; paired comparisons take the SD "
                            f"of a difference as √2 × the measured seed-to-seed SD (no pairing benefit assumed)."))
    if not df.empty:
        r.figures.append(Figure("curves", "Training curves of the noise-study seeds", figures.training_curves(
            _curves(coll), df, ["reward/all_pass_rate", "reward/mean", "rollout/kl"], hue="seed")))
    return r


def build_recipe_ablations(coll: Collection, runs: pd.DataFrame) -> Report:
    """Each named departure from the PRM paper's PPO recipe against the recipe (ablation=none), on
    the method the sweep ran (the experiment's PPO + DenseReward + ValueInit, or e.g. the plain
    baseline with ``prm=none``: the titles name it from the runs)."""
    r = Report("recipe_ablations")
    df = tables.with_labels(runs)
    if df.empty:
        return r
    method = " / ".join(f"{str(a).upper()}, {s}" for a, s in sorted(set(zip(df["algo"], df["setting"]))))
    curves = _curves(coll)
    ev0 = "losses/explained_variance@0"  # the initial critic's explained variance (step 0)
    df = df.merge(figures.first_step_values(curves, ["losses/explained_variance"]), on="run_id", how="left")
    # the hacking monitors (no_length_norm, no_neutral_label): rollout length and comment share, means over training
    monitors = {"tokens": ("rollout/response_tokens", 0), "comment share": ("rollout/comment_line_frac", 3)}
    df = df.merge(figures.training_means(curves, [m for m, _ in monitors.values()]), on="run_id", how="left")
    extra = {t: v for t, v in {"step-0 explained var.": (ev0, 2), **monitors}.items() if v[0] in df}
    order = list(conf.ablations())
    order += [a for a in df["ablation"].unique() if a not in order]
    r.tables.append(tables.condition_table(
        df, by="ablation", order=order, columns=tables.pass_columns(df, cats=False), reference="none",
        name="recipe_ablations", title=f"Recipe departures ({method}), held-out pass@1 (%)",
        extra=extra or None,
        notes=["none: the paper's recipe; every other row switches on one named departure (conf/ablation/). "
               "Step-0 explained var.: the critic's explained variance of the returns at the first step, "
               "before any update (mean over seeds). Tokens and comment share: the training rollouts' mean "
               "response length and share of comment lines, means over steps and seeds (the hacking monitors)."]))
    r.figures.append(Figure("curves", "Training curves by recipe departure", figures.training_curves(
        curves, df, ["reward/all_pass_rate", "reward/mean", "losses/explained_variance", "rollout/response_tokens",
                     "rollout/comment_line_frac"], hue="ablation")))
    base = df[df["ablation"] == "none"]
    for ab in order[1:]:
        g = df[df["ablation"] == ab]
        if not g.empty and not base.empty:
            r.claims.append(_claim(f"departure {ab} leaves the result unchanged (our recipe choice)", g, base,
                                   tables.PASS1, 0, what=f"{ab} − recipe"))
    return r


SPLIT_TITLE = {"test": "held-out pass@1 (%)", "rl": "pass@1 (%) on the RL prompts (`eval.split=rl`)"}


def by_split(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The runs of each evaluated split (``cfg.eval.split``), the held-out test split first; records
    without the field count as test (the default)."""
    col = "cfg.eval.split"
    split = df[col].fillna("test") if col in df else pd.Series("test", index=df.index)
    names = sorted(split.unique(), key=lambda v: (v != "test", v))
    return [(v, df[split == v]) for v in names]


def build_credit(coll: Collection, runs: pd.DataFrame) -> Report:
    """Completability credit (prm.credit) head to head with binary, pass-rate and PRM-PPO, by arm
    (conf/arm/; rows in the order of the experiment's sweep), once per evaluated split: the held-out
    test split (the papers' protocol) and the RL prompts (what each reward teaches where it trains;
    on this testbed little of it transfers, docs/RESULTS.md)."""
    r = Report("credit")
    df = tables.with_labels(runs)
    if df.empty or "arm" not in df:
        return r
    curves = _curves(coll)
    means = figures.training_means(curves, ["reward/nonzero_group_var_frac", "losses/nonzero_adv_frac",
                                            "rollout/response_tokens", "rollout/comment_line_frac"])
    df = df.merge(means, on="run_id", how="left")
    order = conf.sweep_values("credit", "arm")
    order += [a for a in df["arm"].dropna().unique() if a not in order]
    extra = {"groups with signal": ("reward/nonzero_group_var_frac", 2), "rollouts with gradient": ("losses/nonzero_adv_frac", 2),
             "tokens": ("rollout/response_tokens", 0), "comment share": ("rollout/comment_line_frac", 3)}
    splits = by_split(df)
    for split, d in splits:
        sfx, tag = ("", "") if split == "test" else (f"_{split}", f"[{split} split] ")
        r.tables.append(tables.condition_table(
            d, by="arm", order=order, columns=tables.pass_columns(d, cats=False), reference="ppo_prm",
            name=f"credit{sfx}", title=f"Completability credit vs binary, pass-rate and PRM-PPO: {SPLIT_TITLE.get(split, split)}",
            extra={t: v for t, v in extra.items() if v[0] in d},
            notes=["Arms: conf/arm/. *_step: prm.credit=step, *_shaped: prm.credit=shaped (prmlab/prm/credit.py); "
                   "ppo_prm: PPO + DenseReward + ValueInit. Extra columns are means over training steps and seeds: "
                   "groups with signal = reward/nonzero_group_var_frac (outcome reward), rollouts with gradient = "
                   "losses/nonzero_adv_frac (non-zero advantage, credit included)."]))
        arm = lambda name, d=d: d[d["arm"] == name]  # noqa: E731
        for algo in ("grpo", "rloo"):
            base = arm(f"{algo}_binary")
            for v, what in (("step", "step credit"), ("shaped", "shaped reward")):
                g = arm(f"{algo}_{v}")
                if g.empty:
                    continue
                if not base.empty:
                    r.claims.append(_claim(f"{tag}{algo.upper()} + completability {what} beats binary {algo.upper()} "
                                           "(this experiment's hypothesis; no paper states it)", g, base, tables.PASS1, +1,
                                           what=f"{algo}_{v} − {algo}_binary"))
                if not arm("ppo_prm").empty:
                    r.claims.append(_claim(f"{tag}{algo.upper()} + completability {what} vs PRM-PPO (no direction expected)",
                                           g, arm("ppo_prm"), tables.PASS1, 0, what=f"{algo}_{v} − ppo_prm"))
            if not base.empty and not arm(f"{algo}_pass_rate").empty:
                r.claims.append(_claim(f"{tag}{algo.upper()}: pass-rate reward does not reliably beat binary (pass-rate study)",
                                       arm(f"{algo}_pass_rate"), base, tables.PASS1, NOT_BETTER,
                                       what=f"{algo}_pass_rate − {algo}_binary"))
    first, test = splits[0]  # the test split when evaluated
    edges = figures.config_edges(test)
    r.tables.append(tables.condition_table(
        test, by="arm", order=order, columns={b: f"{tables.PASS1}/len_{b}" for b in figures.length_buckets(edges)},
        name="credit_length", title="Completability credit: pass@1 (%) by response length (tokens), "
                                    f"{SPLIT_TITLE.get(first, first)}"))
    r.figures += [  # one split's runs: one curve per training run (the other splits' runs share it)
        Figure("curves", "Training curves by arm", figures.training_curves(
            curves, test, ["reward/all_pass_rate", "reward/mean", "losses/nonzero_adv_frac"], hue="arm")),
        Figure("hacking_monitors", "Response length and comment share by arm",
               figures.hacking_monitors(curves, test, hue="arm")),
    ]
    return r


def build_credit_gradients(coll: Collection, runs: pd.DataFrame) -> Report:
    """The gradient analyses with every reward, the completability credits included, on the checkpoints
    of each critic-free binary baseline (one row group per arm: grpo_step analyses GRPO's)."""
    r = Report("credit_gradients")
    df = tables.with_labels(runs)
    r.tables.append(tables.gradients_table(df, by="arm", name="credit_gradients",
                                           title="Gradient direction under each reward, the completability credits "
                                                 "included (checkpoints of the arm's binary baseline)"))
    if df.empty or "arm" not in df:
        return r
    r.figures.append(Figure("gradient_direction", "Gradient direction per checkpoint",
                            figures.gradient_direction(artifacts.load_gradients(coll), df, by="arm")))
    for arm_name, g in df.groupby("arm"):
        algo = arm_name.split("_")[0]
        for reward in ("credit_step", "credit_shaped"):
            cr = _metric_as(g, tables.gradient_metric(reward, algo, "cos_to_full"))
            bi = _metric_as(g, tables.gradient_metric("binary", algo, "cos_to_full"))
            r.claims.append(_claim(f"{algo.upper()}: the {reward} update points more toward full-pass responses than "
                                   "the binary one (this experiment's hypothesis)", cr, bi, "value", +1,
                                   what=f"{reward} − binary cos to full-pass gradient", scale=1.0, unit="", digits=3))
    return r


def build_generic(coll: Collection, runs: pd.DataFrame, name: str) -> Report:
    r = Report(name)
    df = tables.with_labels(runs)
    fs = factors(df)
    if not df.empty:
        df["condition"] = df[fs].astype(str).agg(" ".join, axis=1) if fs else "all runs"
        order = list(dict.fromkeys(df["condition"]))
        r.tables.append(tables.condition_table(df, by="condition", order=order, columns=tables.pass_columns(df),
                                               name="conditions", title=f"{name}: pass@1 (%) by condition"))
        curves = _curves(coll)
        r.figures.append(Figure("curves", "Training curves", figures.training_curves(
            curves, df, ["reward/all_pass_rate", "reward/mean"], hue="condition")))
        r.figures.append(Figure("hacking_monitors", "Reward-hacking monitors",
                                figures.hacking_monitors(curves, df, hue="condition")))
    return r


# one builder per experiment of conf/experiment (analysis.conf.experiments(); a test checks both ways)
BUILDERS: dict[str, Callable[[Collection, pd.DataFrame], Report]] = {
    "table1": build_table1, "table2": build_table2, "fig3_length": build_fig3, "fig4_data": build_fig4,
    "reward_weighting": build_reward_weighting, "passrate_study": build_passrate, "rl_core": build_rl_core,
    "passrate_gradients": build_passrate_gradients, "noise": build_noise,
    "recipe_ablations": build_recipe_ablations, "credit": build_credit,
    "credit_gradients": build_credit_gradients,
}


def build(coll: Collection, name: Optional[str] = None) -> Report:
    """The report (tables, figures, claims) of one experiment's collection."""
    runs = coll.runs
    if name is None:
        names = runs["experiment"].dropna().unique().tolist() if "experiment" in runs else []
        name = names[0] if len(names) == 1 else "runs"
    if "experiment" in runs and (runs["experiment"] == name).any():
        # other experiments' sweeps in the collection only lend their curves (shared stages)
        runs = runs[runs["experiment"] == name]
    runs = collect.dedupe(runs)
    builder = BUILDERS.get(name)
    return builder(coll, runs) if builder else build_generic(coll, runs, name)


# ---------------------------------------------------------------------------------------------
# writing


def stage_compute(runs: pd.DataFrame) -> pd.DataFrame:
    """Seconds spent computing each stage (reused stages cost nothing), summed over runs."""
    rows = []
    for c in runs.columns:
        if c.startswith("stage.") and c.endswith(".seconds"):
            stage = c[len("stage."):-len(".seconds")]
            computed = runs.get(f"stage.{stage}.status") == "computed"
            rows.append({"stage": stage, "computed": int(computed.sum()), "seconds": float(runs.loc[computed, c].sum())})
    df = pd.DataFrame(rows, columns=["stage", "computed", "seconds"])
    total = df["seconds"].sum()
    df["share"] = df["seconds"] / total if total > 0 else 0.0
    return df.sort_values("seconds", ascending=False).reset_index(drop=True)


def thread_counts(runs: pd.DataFrame) -> str:
    """One line: the torch thread counts that computed each stage's entries (``stage.S.threads``).
    Results are bitwise reproducible only at the same counts (prmlab/runtime.py); '' when the
    records predate the field."""
    cells = []
    for c in runs.columns:
        if c.startswith("stage.") and c.endswith(".threads"):
            vals = sorted({int(v) for v in runs[c].dropna()})
            if vals:
                cells.append(f"{c[len('stage.'):-len('.threads')]} {'/'.join(map(str, vals))}")
    if not cells:
        return ""
    mixed = any("/" in x for x in cells)
    return ("Torch threads that computed the stage entries: " + ", ".join(cells)
            + (" (**mixed**: entries of one stage computed at different thread counts are different draws of"
               " the same config; a rerun reproduces each only at its own count)" if mixed else
               " (a rerun reproduces these results bitwise only at the same counts)"))


def eval_split_note(runs: pd.DataFrame) -> str:
    """A warning when the runs evaluated another split than the held-out test split (``eval.split``):
    with one split, the tables' "held-out pass@1" then reads pass@1 on that split; with several, each
    table says which split it reads."""
    col = "cfg.eval.split"
    splits = sorted(set(runs[col].dropna())) if col in runs else []
    if not splits or splits == ["test"]:
        return ""
    if len(splits) > 1:
        return (f"Evaluated on the splits {', '.join(splits)} (`eval.split`): each table's title says which split "
                "it reads; claims on a split other than test are marked with it.")
    return (f"**Evaluated on split {', '.join(splits)} (`eval.split`), not the held-out test split: "
            f"read every \"held-out pass@1\" below as pass@1 on that split.**")


def machine() -> str:
    try:
        import torch

        tv = f", torch {torch.__version__}" + (f", CUDA {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", CPU")
    except Exception:  # torch missing or broken: the machine line is informational
        tv = ""
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}{tv}"


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def write(report: Report, coll: Collection, out_dir: str | Path, *, commands: Sequence[str] = (),
          sweep_seconds: Optional[float] = None) -> Path:
    out = Path(out_dir)
    for sub in ("tables", "figures"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    runs = collect.dedupe(coll.runs)
    runs.to_csv(out / collect.RUN_TABLE, index=False)
    lines = [f"# {report.name}", ""]
    if commands:
        lines += ["Reproduce:", ""] + [f"    {c}" for c in commands] + [""]
    seeds = sorted({int(s) for s in runs["seed"].dropna()}) if "seed" in runs else []
    lines += [f"- Machine: {machine()}"]
    if sweep_seconds is not None:
        lines.append(f"- Sweep wall time: {_hms(sweep_seconds)}")
    if "wall_time_s" in runs and runs["wall_time_s"].notna().any():
        lines.append(f"- Sum of run wall times: {_hms(runs['wall_time_s'].sum())} over {len(runs)} runs")
    lines += [f"- Records: {', '.join(f'`{s}`' for s in coll.sources)} — {len(coll.runs)} complete run(s)"
              + (f", {len(coll.runs) - len(runs)} duplicate computation(s) counted once" if len(coll.runs) > len(runs) else "")
              + (f", {coll.superseded} run(s) of an interrupted sweep that another sweep here completed"
                 if coll.superseded else "")
              + f"; seeds {', '.join(map(str, seeds)) or '–'}; run table: [runs.csv](runs.csv)"]
    if coll.incomplete:
        lines += ["", f"**{len(coll.incomplete)} incomplete run(s), not in the tables:**", ""]
        lines += [f"- {i}" for i in coll.incomplete]
    split = eval_split_note(runs)
    if split:
        lines.append(f"- {split}")
    threads = thread_counts(runs)
    if threads:
        lines.append(f"- {threads}")
    comp = stage_compute(runs)
    if not comp.empty and comp["seconds"].sum() > 0:
        lines += ["", "Compute by stage (computed entries only; reused ones cost nothing): "
                  + ", ".join(f"{r.stage} {_hms(r.seconds)} ({r.share:.0%}, ×{r.computed})"
                              for r in comp.itertuples() if r.seconds > 0)]
    lines += ["", "## Tables", ""]
    for t in report.tables:
        t.save(out / "tables")
        if t.name == "table1" and not t.data.empty:
            tables.table1_paper_csv(t).to_csv(out / "tables" / "table1.csv", index=False)
        lines += [t.to_markdown(), f"Files: [md](tables/{t.name}.md), [tex](tables/{t.name}.tex), "
                  f"[csv](tables/{t.name}.csv)", ""]
    lines += ["## Figures", ""]
    for f in report.figures:
        figures.save(f.fig, out / "figures", f.stem)
        lines += [f"### {f.title}", "", f"![{f.title}](figures/{f.stem}.png)", "",
                  (f.caption + " " if f.caption else "") + f"[pdf](figures/{f.stem}.pdf)", ""]
    if report.claims:
        lines += ["## The papers' claims on this testbed", "",
                  "| paper | here (95% paired t-interval) | verdict |", "|---|---|---|"]
        lines += [f"| {c.paper} | {c.here} | {c.verdict} |" for c in report.claims]
        lines += ["", VERDICT_NOTE, ""]
    index = out / "index.md"
    index.write_text("\n".join(lines) + "\n")
    return index


def write_index(results: str | Path) -> Path:
    """``results/index.md``: one line per experiment folder, linking its index."""
    results = Path(results)
    lines = ["# Results", "", "| experiment | index | tables | figures |", "|---|---|---|---|"]
    for d in sorted(p for p in results.iterdir() if (p / "index.md").is_file()):
        tabs = sorted(p.stem for p in (d / "tables").glob("*.md")) if (d / "tables").is_dir() else []
        figs = sorted(p.stem for p in (d / "figures").glob("*.png")) if (d / "figures").is_dir() else []
        lines.append(f"| {d.name} | [{d.name}/index.md]({d.name}/index.md) | {', '.join(tabs)} | {', '.join(figs)} |")
    path = results / "index.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def show(records: str | Path, experiment: str, *, also: Sequence[str] = (), cache_dirs: Sequence = (),
         out: str | Path = "results", every_sweep: bool = False) -> tuple[Optional[Collection], Optional[Report]]:
    """For notebooks: load the newest sweep of ``experiment`` under ``records`` (plus the sweeps of
    the experiments in ``also``, e.g. the one whose runs computed the shared training stages and so
    hold their curves), build its report, write it to ``out/<experiment>`` and display it.
    ``every_sweep``: load all of their sweeps instead, for an experiment run in parts (extra seeds,
    one model per session; duplicate computations count once). The newest alone is the default because
    an older sweep may be of an older config (the pass-rate study's default-testbed sweeps, say).

    An experiment not run yet is said so, with the command that runs it, and gives ``(None, None)``:
    a notebook over a partly swept records folder shows what exists instead of stopping at the
    first missing sweep. A sweep with no complete run yet is described and gives ``(coll, None)``
    (the ``also`` runs are never its rows). A missing ``also`` sweep only drops the curves it would
    have added."""
    from IPython.display import Image, Markdown, display

    try:
        pick = collect.sweeps_of if every_sweep else (lambda r, e: [collect.latest_sweep(r, e)])
        sweeps = pick(records, experiment)
        own = collect.load_sweeps(sweeps, cache_dirs=cache_dirs, warn=False)
    except collect.CollectError as e:  # no sweep, or one that has not started a job yet
        display(Markdown(f"**Not run yet:** {e}. Run it with `./multirun.sh {experiment}`."))
        return None, None
    if own.runs.empty:  # a sweep still running: the ``also`` runs must not stand in for its rows
        display(Markdown(f"**No complete run yet** in the newest sweep of {experiment}:\n```\n{own.describe()}\n```"))
        return own, None
    for e in also:
        try:
            sweeps.extend(pick(records, e))
        except collect.CollectError:
            pass  # the report then lacks only the training curves that sweep's runs logged
    coll = collect.load_sweeps(sweeps, cache_dirs=cache_dirs, warn=False)
    rep = build(coll, experiment)
    folder = Path(out) / experiment
    write(rep, coll, folder)
    display(Markdown("```\n" + coll.describe() + "\n```"))
    for t in rep.tables:
        display(Markdown(t.to_markdown()))
    for f in rep.figures:
        display(Markdown(f"**{f.title}**"))
        display(Image(filename=str(folder / "figures" / f"{f.stem}.png")))
    if rep.claims:
        display(Markdown("\n".join(["| paper | here | verdict |", "|---|---|---|"]
                                   + [f"| {c.paper} | {c.here} | {c.verdict} |" for c in rep.claims])))
    return coll, rep


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.split("\n")[0])
    ap.add_argument("sweeps", nargs="*", help="sweep dir(s) of one experiment, or run tables (a report's runs.csv) to extend")
    ap.add_argument("--name", help=f"experiment ({', '.join(conf.experiments())}); default: the runs' experiment")
    ap.add_argument("--out", help="results folder (default results/<name>)")
    ap.add_argument("--cache-dir", action="append", default=[], help="stage cache root(s), for moved records")
    ap.add_argument("--command", action="append", default=[], help="command line(s) to print as 'Reproduce'")
    ap.add_argument("--sweep-seconds", type=float, help="wall time of the sweep (from multirun.sh)")
    ap.add_argument("--index", metavar="RESULTS", help="only write RESULTS/index.md over existing folders")
    args = ap.parse_args(argv)
    if args.index:
        print(f"wrote {write_index(args.index)}")
        return 0
    if not args.sweeps:
        ap.error("give sweep dir(s) or --index RESULTS")
    try:
        coll = collect.load_sweeps(args.sweeps, cache_dirs=args.cache_dir, warn=False)
    except collect.CollectError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rep = build(coll, args.name)
    index = write(rep, coll, args.out or f"results/{rep.name}", commands=args.command,
                  sweep_seconds=args.sweep_seconds)
    print(coll.describe())
    print(f"wrote {index}")
    return 1 if coll.incomplete else 0


if __name__ == "__main__":
    raise SystemExit(main())
