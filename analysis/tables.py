"""The papers' tables from a run table: Markdown, LaTeX and CSV, with seeds and intervals.

Every cell is ``mean [95% Student-t interval]`` over seeds (``analysis.stats``), in percent for
pass@1; every table has an ``n`` column (seeds behind each row) and, where a reference row exists,
the difference to it with a paired t-interval, Welch's p-value, the minimum detectable difference
(MDE) it is judged against and its verdict (resolved / bounded / unresolved). The CSV holds the
numbers (``<column>_mean|lo|hi``, ``diff``, ``diff_lo|hi``, ``sd_diff``, ``mde``, ``verdict``),
the Markdown/LaTeX the formatted cells.

Paper columns: the PRM paper's Table 1 and Table 2 numbers (their in-house model on
LiveCodeBench "LCB" and their InHouseBench "IHB", copied from the paper's text) sit in side
columns marked †. They are on other benchmarks with a far larger model, so only the *direction*
of differences between rows can be compared with ours, never the values. The pass-rate study
reports no numbers in the text we have, so its table has no paper column; its finding is quoted
in the notes.

Row labels:

* Table 1: ``SFT`` (``algo=none``), ``RL baseline`` (RL without PRM), ``ValueInit``,
  ``DenseReward``, ``DenseReward + ValueInit`` (from ``prm.dense`` / ``prm.value_init``).
* Table 2: the four data-selection strategies (runs with a PRM).
* Pass-rate study: (model, algorithm) rows × reward columns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import pandas as pd

from analysis import stats
from analysis.stats import TARGET
from prmlab.prm.select import STRATEGIES
from prmlab.types import DIFFICULTIES

PASS1 = "eval/pass@1"


def bound_for(metric: str) -> Optional[float]:
    """The design MDE a null difference of ``metric`` is ``bounded`` by: the noise study's target
    (``analysis.stats.TARGET``) for pass@k metrics, none for others (they read resolved/unresolved)."""
    return TARGET if metric.startswith("eval/pass@") else None


TABLE1_ROWS = ("SFT", "RL baseline", "ValueInit", "DenseReward", "DenseReward + ValueInit")
# PRM paper, Table 1 (Ours-SFT, Ours-RL and the three PRM settings): LCB easy/medium/hard/overall, IHB
# contest/NL2Alg/overall, in %.
PAPER_TABLE1 = {
    "SFT": {"LCB easy": 55.3, "LCB medium": 9.3, "LCB hard": 0.3, "LCB": 23.5, "IHB contest": 10.4,
            "IHB nl2alg": 41.4, "IHB": 20.0},
    "RL baseline": {"LCB easy": 70.0, "LCB medium": 7.2, "LCB hard": 1.7, "LCB": 28.2, "IHB contest": 24.4,
                    "IHB nl2alg": 48.7, "IHB": 31.8},
    "ValueInit": {"LCB easy": 67.9, "LCB medium": 8.9, "LCB hard": 1.9, "LCB": 28.2, "IHB contest": 25.0,
                  "IHB nl2alg": 45.4, "IHB": 31.4},
    "DenseReward": {"LCB easy": 68.5, "LCB medium": 9.9, "LCB hard": 2.5, "LCB": 28.9, "IHB contest": 25.2,
                    "IHB nl2alg": 48.1, "IHB": 32.3},
    "DenseReward + ValueInit": {"LCB easy": 69.3, "LCB medium": 12.0, "LCB hard": 1.6, "LCB": 29.8,
                                "IHB contest": 27.9, "IHB nl2alg": 53.5, "IHB": 35.8},
}
# PRM paper, Table 2 (DenseReward + ValueInit with each selection strategy), in %.
PAPER_TABLE2 = {"full": {"LCB": 26.9, "IHB": 34.6}, "remove_hard": {"LCB": 27.8, "IHB": 33.8},
                "medium_only": {"LCB": 26.9, "IHB": 32.5}, "revised_only": {"LCB": 29.8, "IHB": 35.8}}
PAPER_NOTE = ("† The PRM paper's own numbers (pass@1 %, their in-house LLM on LiveCodeBench = LCB and "
              "InHouseBench = IHB). Other benchmarks and a far larger model: compare the direction of "
              "differences between rows, not values.")
STAT_NOTE = ("Cells: mean pass@1 (%) over seeds [95% Student-t interval over seeds]; n = seeds. "
             "Δ: paired difference to the reference row (paired by seed) [95% paired t-interval]; "
             "p: Welch's t-test; MDE: the comparison's minimum detectable difference (two-sided 5%, 80% power, "
             f"from the SD of its paired differences and their number); verdict: resolved = the interval "
             f"excludes 0, bounded = it lies within ±{TARGET * 100:g} points (the design MDE: any effect is "
             f"smaller), unresolved = neither, not measured = fewer than 2 paired seeds.")
PASSRATE_FINDING = ("The pass-rate study's finding (no numbers in the text we have): pass-rate rewards are "
                    "denser but do not reliably beat binary rewards in GRPO/RLOO, across base models.")


@dataclass
class Table:
    """A rendered table: display cells for Markdown/LaTeX, numbers for CSV."""

    name: str  # file stem
    title: str
    columns: list[str]
    rows: list[list[str]]
    data: pd.DataFrame  # numeric, one row per table row
    notes: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        def cell(s) -> str:
            return str(s).replace("|", "\\|")

        out = [f"**{self.title}**", "", "| " + " | ".join(map(cell, self.columns)) + " |",
               "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.columns))) + "|"]
        out += ["| " + " | ".join(map(cell, r)) + " |" for r in self.rows]
        if self.notes:
            out += [""] + [f"{n}  " for n in self.notes]
        return "\n".join(out) + "\n"

    def to_latex(self) -> str:
        spec = "l" + "r" * (len(self.columns) - 1)
        out = ["\\begin{table}[t]", "\\centering", "\\small", f"\\caption{{{latex_escape(self.title)}}}",
               f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
               " & ".join(latex_escape(c) for c in self.columns) + " \\\\", "\\midrule"]
        out += [" & ".join(latex_escape(c) for c in r) + " \\\\" for r in self.rows]
        out += ["\\bottomrule", "\\end{tabular}"]
        if self.notes:
            out.append("\\par\\smallskip\\footnotesize " + " ".join(latex_escape(n) for n in self.notes))
        out.append("\\end{table}")
        return "\n".join(out) + "\n"

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"md": out_dir / f"{self.name}.md", "tex": out_dir / f"{self.name}.tex",
                 "csv": out_dir / f"{self.name}.csv"}
        paths["md"].write_text(self.to_markdown())
        paths["tex"].write_text(self.to_latex())
        self.data.to_csv(paths["csv"], index=False)
        return paths


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "Δ": r"$\Delta$", "λ": r"$\lambda$", "×": r"$\times$", "–": "--", "−": "-", "†": r"$^\dagger$",
          "≥": r"$\geq$", "≤": r"$\leq$", "→": r"$\rightarrow$", "±": r"$\pm$", "ρ": r"$\rho$"}


def latex_escape(s) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(s))


# ---------------------------------------------------------------------------------------------
# row labels


def prm_setting(row) -> str:
    """Table 1's row label of a run."""
    if row.get("cfg.algo.name", "none") == "none":
        return "SFT"
    dense, vi = bool(row.get("cfg.prm.dense")), bool(row.get("cfg.prm.value_init"))
    return {(False, False): "RL baseline", (False, True): "ValueInit", (True, False): "DenseReward",
            (True, True): "DenseReward + ValueInit"}[(dense, vi)]


def uses_prm(row) -> bool:
    return row.get("cfg.algo.name", "none") != "none" and bool(row.get("cfg.prm.dense") or row.get("cfg.prm.value_init"))


def model_label(row) -> str:
    """``tiny-gpt2`` / ``tiny-llama`` for the built-in models, the checkpoint dir name for ``hf``."""
    if row.get("cfg.model.name") == "hf":
        return Path(str(row.get("cfg.model.path"))).name
    return f"{row.get('cfg.model.name', 'tiny')}-{row.get('cfg.model.arch', 'gpt2')}"


def with_labels(runs: pd.DataFrame) -> pd.DataFrame:
    """The run table plus ``setting``, ``uses_prm``, ``model``, ``algo``, ``reward``, ``strategy``,
    ``ablation``."""
    df = runs.copy()
    if df.empty:
        for c in ("setting", "uses_prm", "model", "algo", "reward", "strategy", "ablation"):
            df[c] = pd.Series(dtype=object)
        return df
    df["setting"] = df.apply(prm_setting, axis=1)
    df["uses_prm"] = df.apply(uses_prm, axis=1)
    df["model"] = df.apply(model_label, axis=1)
    df["algo"] = df.get("cfg.algo.name")
    df["reward"] = df.get("cfg.reward.name")
    df["strategy"] = df.get("cfg.strategy.name")
    # the recipe departure (conf/ablation/): the group override's column; a run without it ran the recipe
    df["ablation"] = df["ablation"].fillna("none") if "ablation" in df else "none"
    return df


def categories(runs: pd.DataFrame, metric: str = PASS1) -> list[str]:
    """Problem categories present as ``<metric>/<category>`` columns (not difficulties, not lengths)."""
    cats = set()
    for c in runs.columns:
        if c.startswith(metric + "/"):
            s = c[len(metric) + 1:]
            if s not in DIFFICULTIES and not s.startswith("len_") and "/" not in s:
                cats.add(s)
    return sorted(cats)


# ---------------------------------------------------------------------------------------------
# building blocks


def _pct(x: float) -> float:
    return x * 100 if x is not None and not math.isnan(x) else math.nan


def condition_table(runs: pd.DataFrame, *, by: str, order: Sequence, columns: dict[str, str],
                    reference=None, compare_metric: str = PASS1, scale: float = 100.0,
                    paper: Optional[dict] = None, paper_columns: Sequence[str] = (),
                    label: Callable = str, name: str, title: str, notes: Sequence[str] = (),
                    extra: Optional[dict[str, tuple[str, int]]] = None) -> Table:
    """Rows = values of ``by`` (in ``order``, those present); ``columns`` = {title: metric}.

    ``reference``: the ``by`` value the Δ column compares against (paired by seed); the verdict
    bounds a null by ``bound_for(compare_metric)``.
    ``extra``: {title: (metric, digits)} columns shown as plain means over seeds (counts, shares).
    """
    head = [by.replace("_", " ").capitalize() if by.islower() else by, "n"] + list(columns)
    extra = extra or {}
    head += list(extra)
    if reference is not None:
        head += [f"Δ vs {label(reference)}", "p", "MDE", "verdict"]
    head += [f"{c} †" for c in paper_columns] if paper else []
    present = [v for v in order if (runs[by] == v).any()] if by in runs else []
    ref_runs = runs[runs[by] == reference] if reference is not None and by in runs else None
    rows, data = [], []
    for v in present:
        g = runs[runs[by] == v]
        ests = {t: stats.estimate(g, m) for t, m in columns.items()}
        n = max((e.n for e in ests.values()), default=0)
        cells = [label(v), str(n)] + [e.fmt(scale) for e in ests.values()]
        rec = {by: v, "n": n, "seeds": ",".join(str(s) for s in sorted(stats.per_seed(g, compare_metric)))}
        for t, e in ests.items():
            rec.update({f"{t}_mean": e.mean * scale, f"{t}_lo": e.lo * scale, f"{t}_hi": e.hi * scale})
        for t, (m, digits) in extra.items():
            e = stats.estimate(g, m)
            cells.append(e.fmt(1.0, digits, interval=False))
            rec[t] = e.mean
        if reference is not None:
            if v == reference or ref_runs is None or ref_runs.empty:
                cells += ["(ref)" if v == reference else "–", "–", "–", "–"]
                rec.update({"diff": math.nan, "diff_lo": math.nan, "diff_hi": math.nan, "p_welch": math.nan,
                            "sd_diff": math.nan, "mde": math.nan, "bound": math.nan, "verdict": ""})
            else:
                c = stats.compare_runs(g, ref_runs, compare_metric, bound=bound_for(compare_metric))
                cells += [c.fmt(scale), stats.fmt_p(c.p_welch), c.fmt_mde(scale), c.verdict]
                rec.update(comparison_record(c, scale))
        if paper:
            for pc in paper_columns:
                pv = paper.get(v, {}).get(pc)
                cells.append("–" if pv is None else f"{pv:.1f}")
                rec[f"paper {pc}"] = pv
        rows.append(cells)
        data.append(rec)
    all_notes = [STAT_NOTE] + ([PAPER_NOTE] if paper else []) + list(notes)
    return Table(name, title, head, rows, pd.DataFrame(data), all_notes)


def comparison_record(c: stats.Comparison, scale: float = 100.0) -> dict:
    """The CSV columns of one difference: ``diff``, ``diff_lo|hi``, ``p_welch``, ``n_pairs``,
    ``sd_diff``, ``mde`` (scaled) and ``verdict``."""
    return {"diff": c.diff * scale, "diff_lo": c.lo * scale, "diff_hi": c.hi * scale, "p_welch": c.p_welch,
            "n_pairs": c.n_pairs, "sd_diff": c.sd_diff * scale, "mde": c.mde * scale, "bound": c.bound * scale,
            "verdict": c.verdict}


def pass_columns(runs: pd.DataFrame, difficulties: bool = True, cats: bool = True) -> dict[str, str]:
    cols = {}
    if difficulties:
        cols.update({d.capitalize(): f"{PASS1}/{d}" for d in DIFFICULTIES if f"{PASS1}/{d}" in runs})
    cols["Overall"] = PASS1
    if cats:
        cols.update({c: f"{PASS1}/{c}" for c in categories(runs)})
    return cols


# ---------------------------------------------------------------------------------------------
# the tables


def table1(runs: pd.DataFrame, algo: str = "ppo") -> Table:
    """Table 1: SFT, RL baseline, ValueInit, DenseReward, both × easy/medium/hard/overall + categories."""
    df = with_labels(runs)
    df = df[(df["algo"] == "none") | (df["algo"] == algo)]
    return condition_table(
        df, by="setting", order=TABLE1_ROWS, columns=pass_columns(df), reference="RL baseline",
        paper=PAPER_TABLE1, paper_columns=("LCB", "IHB"), name="table1",
        title=f"Table 1: PRM as dense reward and/or value initialisation ({algo.upper()}), pass@1 (%)",
        notes=[f"Difficulty and category slices are the held-out problems' own labels; the paper's full row "
               f"(LCB easy/medium/hard, IHB contest/nl2alg) is in table1.csv."],
    ) if not df.empty else _empty("table1", "Table 1")


def table1_paper_csv(t: Table) -> pd.DataFrame:
    """Table 1's numeric data with every paper column (the Markdown shows only the overall ones)."""
    df = t.data.copy()
    for col in ("LCB easy", "LCB medium", "LCB hard", "IHB contest", "IHB nl2alg"):
        df[f"paper {col}"] = [PAPER_TABLE1.get(s, {}).get(col) for s in df["setting"]]
    return df


def table2(runs: pd.DataFrame) -> Table:
    """Table 2: the four PRM data-selection strategies (runs that use a PRM)."""
    df = with_labels(runs)
    df = df[df["uses_prm"]]
    if df.empty:
        return _empty("table2", "Table 2")
    extra = {"PRM responses": ("prm_select/n_responses", 0), "PRM val AUC": ("prm/val_auc", 2)}
    return condition_table(
        df, by="strategy", order=STRATEGIES, columns=pass_columns(df, cats=False), reference="full",
        paper=PAPER_TABLE2, paper_columns=("LCB", "IHB"), name="table2", extra=extra,
        title="Table 2: PRM data selection strategy (DenseReward + ValueInit), pass@1 (%)",
        notes=["PRM responses: labelled responses the strategy keeps (mean over seeds); PRM val AUC: "
               "held-out line-level AUC of the PRM (completable vs not)."])


def sweep_table(runs: pd.DataFrame, factor: str, *, name: str, title: str, reference=None,
                extra: Optional[dict[str, tuple[str, int]]] = None, notes: Sequence[str] = ()) -> Table:
    """One row per value of ``factor`` (a run-table column such as ``cfg.prm.lambda_fail``)."""
    if runs.empty or factor not in runs:
        return _empty(name, title)
    order = sorted(runs[factor].dropna().unique().tolist())
    extra = {k: v for k, v in (extra or {}).items() if v[0] in runs}
    return condition_table(runs, by=factor, order=order, columns=pass_columns(runs, cats=False),
                           reference=reference, name=name, title=title, extra=extra, notes=notes)


def passrate_table(runs: pd.DataFrame, density: Optional[pd.DataFrame] = None, *, name: str = "passrate",
                   title: str = "Pass-rate study: binary vs pass-rate reward, held-out pass@1 (%)") -> Table:
    """Pass-rate study: rows (model, algorithm), columns binary vs pass_rate reward.

    Give it the runs of one recipe (``ablation``): the report builds the primary table from the
    ``ablation=none`` runs and one more per departure (``name``/``title`` tell them apart).

    ``density``: per-run training means of ``reward/nonzero_group_var_frac`` and
    ``reward/nonzero_frac`` (``figures.training_means``); without it the final step's figures from
    the summary are used.
    """
    df = with_labels(runs)
    df = df[df["algo"] != "none"]
    if df.empty:
        return _empty(name, title)
    if density is not None and not density.empty:
        df = df.merge(density, on="run_id", how="left")
        dens_cols = ("reward/nonzero_group_var_frac", "reward/nonzero_frac")
        how = "mean over training steps"
    else:
        dens_cols = tuple(f"{c}/final_{m}" for c in ("rl_baseline",) for m in ("nonzero_group_var_frac", "nonzero_frac"))
        how = "final training step"
    head = ["Model", "Algorithm", "n", "binary", "pass_rate", "Δ (pass_rate − binary)", "p", "MDE", "verdict",
            "groups with signal: binary", "pass_rate", "non-zero rewards: binary", "pass_rate"]
    rows, data = [], []
    algos = [a for a in ("grpo", "rloo", "ppo") if (df["algo"] == a).any()]
    for model in sorted(df["model"].unique()):
        for algo in algos:
            g = df[(df["model"] == model) & (df["algo"] == algo)]
            if g.empty:
                continue
            b, p = g[g["reward"] == "binary"], g[g["reward"] == "pass_rate"]
            eb, ep = stats.estimate(b, PASS1), stats.estimate(p, PASS1)
            c = stats.compare_runs(p, b, PASS1, bound=bound_for(PASS1))
            dens = [stats.estimate(x, m) for m in dens_cols for x in (b, p)]
            rows.append([model, algo.upper(), f"{eb.n}/{ep.n}", eb.fmt(100), ep.fmt(100), c.fmt(100),
                         stats.fmt_p(c.p_welch), c.fmt_mde(100), c.verdict] + [d.fmt(1.0, 2, interval=False) for d in dens])
            data.append({"model": model, "algo": algo, "n_binary": eb.n, "n_pass_rate": ep.n,
                         "binary_mean": _pct(eb.mean), "binary_lo": _pct(eb.lo), "binary_hi": _pct(eb.hi),
                         "pass_rate_mean": _pct(ep.mean), "pass_rate_lo": _pct(ep.lo), "pass_rate_hi": _pct(ep.hi),
                         **comparison_record(c, 100.0),
                         "group_signal_binary": dens[0].mean, "group_signal_pass_rate": dens[1].mean,
                         "nonzero_binary": dens[2].mean, "nonzero_pass_rate": dens[3].mean})
    notes = [STAT_NOTE.replace("the reference row", "the binary-reward run of the same seed"),
             f"n: seeds (binary/pass_rate). Groups with signal: share of prompt groups whose rewards differ "
             f"(non-zero advantage); non-zero rewards: share of samples whose reward is not 0 ({how}).",
             PASSRATE_FINDING]
    return Table(name, title, head, rows, pd.DataFrame(data), notes)


GRADIENT_METRICS = (("cos_to_full", "cos to full-pass gradient"),
                    ("delta_logp_full", "Δ log π(full-pass) per step"),
                    ("partial_mean_cos", "partial-pass pairwise cos"),
                    ("partial_cancel_ratio", "cancellation ratio"))


def gradient_metric(reward: str, algo: str, key: str) -> str:
    """The run-summary column of one gradient figure (mean over the analysed checkpoints)."""
    return f"grad/{reward}_{algo}/{key}"


def gradients_table(runs: pd.DataFrame, by: str = "model", name: str = "gradients",
                    title: str = "Gradient analyses of the pass-rate study (GRPO-binary checkpoints)") -> Table:
    """The gradient analyses: rows (``by`` value, baseline, reward), per-seed values = the run
    summary's mean over the analysed checkpoints; mean [95% interval] over seeds. Rewards: the
    outcome rewards, then the completability credits where a PRM was upstream (prmlab.gradients)."""
    from prmlab.gradients import CREDIT_REWARDS, OUTCOME_REWARDS  # torch: imported only when a table is built

    df = with_labels(runs)
    if df.empty or not any(c.startswith("grad/") for c in df.columns) or by not in df:
        return _empty(name, "Gradient analyses")
    head = [by.capitalize(), "Baseline", "Reward", "n"] + [label for _, label in GRADIENT_METRICS]
    rows, data = [], []
    for model in sorted(df[by].dropna().unique()):
        g = df[df[by] == model]
        for algo in ("grpo", "rloo"):
            for reward in OUTCOME_REWARDS + CREDIT_REWARDS:
                est = [stats.estimate(g, gradient_metric(reward, algo, k)) for k, _ in GRADIENT_METRICS]
                if all(e.n == 0 for e in est):
                    continue
                rows.append([model, algo.upper(), reward, str(max(e.n for e in est))] +
                            [e.fmt(1.0, 3) for e in est])
                rec = {by: model, "algo": algo, "reward": reward, "n": max(e.n for e in est)}
                for e, (k, _) in zip(est, GRADIENT_METRICS):
                    rec.update({f"{k}_mean": e.mean, f"{k}_lo": e.lo, f"{k}_hi": e.hi})
                data.append(rec)
    notes = ["Cells: mean over seeds [95% Student-t interval]; each seed's value is its run's mean "
             "over the analysed checkpoints (gradients.prompts groups x gradients.group_size responses each). "
             "n = seeds.",
             "cos to full-pass gradient: cosine between the batch policy gradient Σ A_i ∇log π(y_i) / n and "
             "the gradient of the mean log-likelihood of the batch's full-pass responses. Δ log π(full-pass): "
             "change of their mean log-probability after one step of norm gradients.step_size along the batch "
             "gradient. Partial-pass pairwise cos and cancellation ratio ‖Σ g_i‖ / Σ ‖g_i‖: among the "
             "advantage-weighted gradients g_i of one group's partial-pass responses (0 < pass rate < 1), "
             "averaged over groups with 2+ of them (1 = aligned; near 0 = they cancel)."]
    if any(r["reward"] in CREDIT_REWARDS for r in data):
        notes.append("credit_shaped: the shaped binary reward as the sequence score; credit_step: the binary "
                     "advantage plus the PRM's per-token step credit (prmlab/prm/credit.py), its gradient "
                     "Σ_i A_i ∇log π(y_i) / n + ∇ Σ_{i,t} c_{i,t} log π(y_{i,t}) / n. No conflict figures for them.")
    return Table(name, title, head, rows, pd.DataFrame(data), notes)


def calibration_table(runs: pd.DataFrame) -> Table:
    """Spearman's rho between a failing response's pass rate and its completable share of lines."""
    df = with_labels(runs)
    m = "grad/calibration_spearman_rho"
    if df.empty or m not in df:
        return _empty("calibration", "Pass-rate calibration")
    head = ["Model", "n", "Spearman ρ (pass rate vs completable share)", "failing responses per seed"]
    rows, data = [], []
    for model in sorted(df["model"].unique()):
        g = df[df["model"] == model]
        e = stats.estimate(g, m)
        nresp = stats.estimate(g, "grad/calibration_n")
        rows.append([model, str(e.n), e.fmt(1.0, 2), nresp.fmt(1.0, 0, interval=False)])
        data.append({"model": model, "n": e.n, "rho_mean": e.mean, "rho_lo": e.lo, "rho_hi": e.hi,
                     "responses_mean": nresp.mean})
    notes = ["Failing responses of the PRM collection on the analysed run's checkpoints: pass rate (share "
             "of tests passed) against progress (share of lines whose prefix the binary search finds "
             "completable, m*/M). ρ per seed, mean [95% Student-t interval] over seeds; n = seeds."]
    return Table("calibration", "Is pass rate calibrated to progress toward full correctness?", head, rows,
                 pd.DataFrame(data), notes)


def _empty(name: str, title: str) -> Table:
    return Table(name, title, ["(no runs)"], [], pd.DataFrame(), ["No complete runs matched this table."])
