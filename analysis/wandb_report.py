"""A W&B Report with one section per paper table and figure, over a group of W&B runs.

    python -m analysis.wandb_report --entity E --project P --group table1 [--results results/table1]

prmlab logs every run with ``group`` = experiment name, the resolved config and the run records'
metric names (``eval/pass@1``, ``reward/...``, ``rollout/...``), and ``<stage>/step`` as the step
of each stage's curves. The report built here (``wandb-workspaces``' Reports API) has, for the
experiment named by the group, the panels that mirror ``analysis.report``:

* tables → bar panels of the final figures (``eval/pass@1`` and its slices) with the runs grouped
  by the table's factors (mean over seeds, standard-error bars: W&B draws no t intervals); with
  ``--results`` the locally built Markdown tables (t intervals, n seeds, MDE and verdicts, paper columns) are
  embedded above them;
* figures → Figure 3 as bars per length bucket (edges read from the experiment's config), Figure 4
  and λ sweeps as scatter plots against the swept config value, training curves, reward density
  and hacking monitors as line plots against ``<stage>/step``.

``build_report`` only builds the object (no network); ``main`` checks that W&B is reachable
first and otherwise says so and exits with status 3, before saving anything.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from analysis.collect import CollectError, check_online

CONF = Path(__file__).resolve().parents[1] / "conf"
PASS1 = "eval/pass@1"
SLICES = [f"{PASS1}/{s}" for s in ("easy", "medium", "hard", "contest", "nl2alg")]
CURVES = ["reward/all_pass_rate", "reward/mean", "rollout/kl"]
DENSITY = ["reward/nonzero_group_var_frac", "reward/nonzero_frac"]
MONITORS = ["rollout/response_tokens", "rollout/comment_line_frac"]
# the gradients stage's summary names (prmlab/gradients.py): grad/<reward>_<algo>/<figure>
GRAD = lambda key: [f"grad/{r}_{a}/{key}" for r in ("binary", "pass_rate") for a in ("grpo", "rloo")]  # noqa: E731

# Per experiment: the config keys that label its conditions, its RL stages, and its panels.
LAYOUT = {
    "rl_core": {"groupby": ["algo.name", "reward.name"], "stages": ["rl_baseline"],
                "bars": [("RL core: pass@1 of SFT and RL", [PASS1] + SLICES)], "lines": [DENSITY, CURVES, MONITORS]},
    "table1": {"groupby": ["algo.name", "prm.dense", "prm.value_init"], "stages": ["rl_baseline", "rl"],
               "bars": [("Table 1: pass@1 by setting", [PASS1] + SLICES)], "lines": [CURVES, MONITORS]},
    "table2": {"groupby": ["strategy.name"], "stages": ["rl"],
               "bars": [("Table 2: pass@1 by data-selection strategy", [PASS1, *SLICES[:3]]),
                        ("PRM held-out quality", ["prm/val_auc", "prm/val_sign_acc"])], "lines": [CURVES, MONITORS]},
    "fig3_length": {"groupby": ["prm.dense", "prm.value_init"], "stages": ["rl_baseline", "rl"],
                    "bars": [("Figure 3: pass@1 by response length", "length")], "lines": []},
    "fig4_data": {"groupby": ["prm.samples_per_prompt"], "stages": ["rl"],
                  "scatter": [("Figure 4: pass@1 vs PRM data", "prm.samples_per_prompt")], "lines": [CURVES]},
    "reward_weighting": {"groupby": ["prm.lambda_fail"], "stages": ["rl"],
                         "scatter": [("Pass@1 vs lambda_fail", "prm.lambda_fail")], "lines": [CURVES, MONITORS]},
    "passrate_study": {"groupby": ["model.arch", "algo.name", "reward.name"], "stages": ["rl_baseline"],
                       "bars": [("Pass-rate study: pass@1", [PASS1, "eval/pass_rate"])],
                       "lines": [DENSITY, CURVES, MONITORS]},
    "passrate_gradients": {"groupby": ["model.arch"], "stages": ["gradients"],
                           "bars": [("Gradient direction: cos to the full-pass gradient", GRAD("cos_to_full")),
                                    ("Gradient direction: change of full-pass log-prob per step",
                                     GRAD("delta_logp_full")),
                                    ("Conflict among partial-pass responses: cancellation ratio",
                                     GRAD("partial_cancel_ratio")),
                                    ("Calibration: Spearman rho of pass rate vs progress",
                                     ["grad/calibration_spearman_rho"])],
                           "lines": [GRAD("cos_to_full"), GRAD("delta_logp_full")]},
}
GENERIC = {"groupby": [], "stages": ["rl_baseline", "rl"], "bars": [("pass@1", [PASS1] + SLICES)],
           "lines": [CURVES, MONITORS]}


def length_metrics(experiment: str) -> list[str]:
    """``eval/pass@1/len_<bucket>`` names for the experiment's ``eval.length_edges``."""
    from omegaconf import OmegaConf

    from analysis.figures import length_buckets
    from prmlab.config import EvalConfig

    edges = list(EvalConfig().length_edges)
    path = CONF / "experiment" / f"{experiment}.yaml"
    if path.is_file():
        found = OmegaConf.select(OmegaConf.load(path), "eval.length_edges")
        edges = list(found) if found is not None else edges
    return [f"{PASS1}/len_{b}" for b in length_buckets(edges)]


def build_report(entity: str, project: str, group: str, results: Optional[str | Path] = None):
    """The ``wandb_workspaces`` Report object for one experiment group (built offline, not saved)."""
    import wandb_workspaces.reports.v2 as wr

    layout = LAYOUT.get(group, GENERIC)
    runset = wr.Runset(entity=entity, project=project, name=group, filters=f"Metric('Group') == '{group}'",
                       groupby=list(layout["groupby"]))
    blocks = [wr.H1(f"prmlab — {group}"),
              wr.P(f"Runs of W&B group '{group}' (= prmlab experiment), grouped by "
                   f"{', '.join(layout['groupby']) or 'run'}; bars are means over seeds with standard-error "
                   f"bars. Bootstrap intervals, seed counts and the paper's numbers are in the tables built by "
                   f"`./multirun.sh {group}` (results/{group}/index.md).")]
    if results is not None:
        for md in sorted((Path(results) / "tables").glob("*.md")):
            blocks += [wr.H2(f"Table: {md.stem}"), wr.MarkdownBlock(text=md.read_text())]
    panels = []
    for title, metrics in layout.get("bars", []):
        metrics = length_metrics(group) if metrics == "length" else metrics
        panels.append(wr.BarPlot(title=title, metrics=list(metrics), groupby_aggfunc="mean",
                                 groupby_rangefunc="stderr"))
    for title, key in layout.get("scatter", []):
        panels.append(wr.ScatterPlot(title=title, x=wr.Config(key), y=wr.SummaryMetric(PASS1)))
    for stage in layout["stages"]:
        for ys in layout["lines"]:
            for y in ys:
                panels.append(wr.LinePlot(title=f"{y} ({stage})", x=f"{stage}/step", y=[y],
                                          groupby_aggfunc="mean", groupby_rangefunc="stderr"))
    blocks += [wr.H2("Panels"), wr.PanelGrid(runsets=[runset], panels=panels)]
    return wr.Report(project=project, entity=entity, title=f"prmlab: {group}",
                     description=f"Tables and figures of the prmlab experiment '{group}'.", blocks=blocks)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.wandb_report", description=__doc__.split("\n")[0])
    ap.add_argument("--entity", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--group", required=True, help=f"W&B group = experiment ({', '.join(LAYOUT)})")
    ap.add_argument("--results", help="results/<group> folder whose Markdown tables to embed")
    ap.add_argument("--draft", action="store_true", help="save as a draft")
    args = ap.parse_args(argv)
    try:
        check_online()
    except CollectError as e:
        print(f"error: cannot build the W&B report without network: {e}", file=sys.stderr)
        return 3
    report = build_report(args.entity, args.project, args.group, args.results)
    try:
        report.save(draft=args.draft)
    except Exception as e:  # auth, permissions, HTTP: all end the same way for the user
        print(f"error: W&B refused the report ({type(e).__name__}: {e}); is WANDB_API_KEY set?", file=sys.stderr)
        return 4
    print(f"report: {report.url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
