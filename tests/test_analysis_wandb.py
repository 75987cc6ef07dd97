"""analysis.wandb_report: the Report object is built offline (never saved); offline main exits non-zero."""
from pathlib import Path

import pytest

wr = pytest.importorskip("wandb_workspaces.reports.v2", reason="dev dependency: pip install wandb-workspaces")

from analysis import wandb_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _panels(report):
    return [p for b in report.blocks if isinstance(b, wr.PanelGrid) for p in b.panels]


def test_table1_report_has_a_panel_per_table_and_figure(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "table1.md").write_text("| Setting | n |\n|---|---:|\n| SFT | 3 |\n")
    rep = wandb_report.build_report("ent", "proj", "table1", results=tmp_path)
    assert rep.entity == "ent" and rep.project == "proj" and rep.title == "prmlab: table1"
    md = [b for b in rep.blocks if isinstance(b, wr.MarkdownBlock)]
    assert len(md) == 1 and "| SFT | 3 |" in md[0].text  # the local table, with intervals and n
    grid = next(b for b in rep.blocks if isinstance(b, wr.PanelGrid))
    rs = grid.runsets[0]
    assert rs.filters == "Metric('Group') == 'table1'" and rs.groupby == ["algo.name", "prm.dense", "prm.value_init"]
    panels = _panels(rep)
    bars = [p for p in panels if isinstance(p, wr.BarPlot)]
    assert bars[0].metrics[0] == "eval/pass@1" and "eval/pass@1/nl2alg" in bars[0].metrics
    lines = {(p.x, p.y[0]) for p in panels if isinstance(p, wr.LinePlot)}
    # curves and hacking monitors of both RL stages, against each stage's own step counter
    assert ("rl/step", "rollout/comment_line_frac") in lines and ("rl_baseline/step", "reward/all_pass_rate") in lines


def test_runset_filter_parses_offline():
    from wandb_workspaces import expr

    f = expr.expr_to_filters(wandb_report.build_report("e", "p", "table2").blocks[-1].runsets[0].filters)
    leaf = f.filters[0] if f.filters else f
    assert leaf.key.name == "group" and leaf.value == "table2"


def test_fig3_bars_follow_the_experiments_length_edges():
    bars = [p for p in _panels(wandb_report.build_report("e", "p", "fig3_length")) if isinstance(p, wr.BarPlot)]
    assert bars[0].metrics == [f"eval/pass@1/len_{b}" for b in ("0-25", "25-50", "50-75", "75-100", "100-125", "125+")]


def test_passrate_and_unknown_groups():
    ys = {p.y[0] for p in _panels(wandb_report.build_report("e", "p", "passrate_study")) if isinstance(p, wr.LinePlot)}
    assert {"reward/nonzero_group_var_frac", "reward/nonzero_frac"} <= ys
    generic = wandb_report.build_report("e", "p", "my_sweep")
    assert _panels(generic) and generic.blocks[-1].runsets[0].groupby == []


def test_gradient_panels_use_the_stage_summary_names():
    panels = _panels(wandb_report.build_report("e", "p", "passrate_gradients"))
    bars = {p.title: p.metrics for p in panels if isinstance(p, wr.BarPlot)}
    cos = bars["Gradient direction: cos to the full-pass gradient"]
    assert cos == ["grad/binary_grpo/cos_to_full", "grad/binary_rloo/cos_to_full",
                   "grad/pass_rate_grpo/cos_to_full", "grad/pass_rate_rloo/cos_to_full"]
    assert ["grad/calibration_spearman_rho"] in bars.values()
    lines = [p for p in panels if isinstance(p, wr.LinePlot)]
    assert lines and all(p.x == "gradients/step" for p in lines)


def test_offline_main_says_so_and_exits_nonzero(monkeypatch, capsys):
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    code = wandb_report.main(["--entity", "e", "--project", "p", "--group", "table1"])
    assert code == 3
    assert "without network" in capsys.readouterr().err
