"""The analysis of the pass-rate study's gradient records (loaders, tables, claims, figures), on
hand-built stage outputs whose numbers are known."""
import json

import pandas as pd
import pytest

from analysis import artifacts, figures, report, tables
from analysis.collect import Collection

CONDS = [(r, a) for r in ("binary", "pass_rate") for a in ("grpo", "rloo")]


def _write_jsonl(path, recs):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


def _collection(tmp_path):
    """Two models x 2 seeds of GRPO-binary runs, each with a gradients and a prm_collect entry.

    cos_to_full at checkpoint c: binary 0.5 + 0.1 c + 0.01 seed, pass_rate 0.2 lower at every point;
    per-run summary = mean over its 2 checkpoints, as the stage writes it."""
    rows = []
    for m, arch in enumerate(("gpt2", "llama")):
        for seed in (0, 1):
            rid = f"{arch}{seed}"
            grad_dir, prm_dir = tmp_path / "gradients" / rid, tmp_path / "prm_collect" / rid
            recs, groups = [], []
            for c in (0, 1):
                for reward, algo in CONDS:
                    cos = 0.5 + 0.1 * c + 0.01 * seed - (0.2 if reward == "pass_rate" else 0.0)
                    recs.append({"checkpoint": c, "reward": reward, "algo": algo, "cos_to_full": cos,
                                 "delta_logp_full": cos / 10, "partial_mean_cos": -0.1, "partial_cancel_ratio": 0.4,
                                 "n_conflict_groups": 2, "n_full_pass": 5, "n_partial": 9, "n_samples": 128,
                                 "grad_norm": 1.0, "nonzero_adv_frac": 0.3})
                    groups.append({"checkpoint": c, "reward": reward, "algo": algo, "problem_id": "p",
                                   "n": 3, "mean_cos": -0.1, "cancel_ratio": 0.4})
            _write_jsonl(grad_dir / "gradients.jsonl", recs)
            _write_jsonl(grad_dir / "groups.jsonl", groups)
            # failing responses: progress m*/M = 0/4, 1/4, 2/4, 3/4 with rising pass rate; one correct (excluded)
            labels = [{"problem_id": "p", "checkpoint": 0, "category": "wrong" if k == 0 else "revised",
                       "pass_rate": k / 4, "lines": ["a", "b", "c", "d"], "m_star": k} for k in range(4)]
            labels.append({"problem_id": "p", "checkpoint": 1, "category": "correct", "pass_rate": 1.0,
                           "lines": ["a"], "m_star": 1})
            _write_jsonl(prm_dir / "labels.jsonl", labels)
            row = {"run_id": rid, "seed": seed, "experiment": "passrate_gradients", "cfg.algo.name": "grpo",
                   "cfg.reward.name": "binary", "cfg.model.name": "tiny", "cfg.model.arch": arch,
                   "cfg.prm.dense": False, "cfg.prm.value_init": False, "eval/pass@1": 0.2,
                   "stage.gradients.key": rid, "stage.gradients.path": str(grad_dir),
                   "stage.prm_collect.key": rid, "stage.prm_collect.path": str(prm_dir),
                   "grad/calibration_spearman_rho": 0.8 + 0.1 * seed, "grad/calibration_n": 4}
            for reward, algo in CONDS:
                per_ckpt = [r for r in recs if r["reward"] == reward and r["algo"] == algo]
                for k in ("cos_to_full", "delta_logp_full", "partial_mean_cos", "partial_cancel_ratio"):
                    row[tables.gradient_metric(reward, algo, k)] = sum(r[k] for r in per_ckpt) / len(per_ckpt)
            rows.append(row)
    runs = pd.DataFrame(rows)
    return Collection(runs=runs)


def test_loaders_read_stage_entries(tmp_path):
    coll = _collection(tmp_path)
    g = artifacts.load_gradients(coll)
    assert len(g) == 4 * 2 * 4  # runs x checkpoints x (reward x algo)
    assert set(artifacts.GRADIENT_COLUMNS) <= set(g.columns)
    one = g[(g["run_id"] == "gpt21") & (g["checkpoint"] == 1) & (g["reward"] == "pass_rate") & (g["algo"] == "rloo")]
    assert one["cos_to_full"].item() == pytest.approx(0.5 + 0.1 + 0.01 - 0.2)
    assert len(artifacts.load_gradient_groups(coll)) == 32
    p = artifacts.load_progress(coll)
    assert len(p) == 4 * 4  # the correct response is not a failing one
    assert sorted(p[p["run_id"] == "llama0"]["progress"]) == [0.0, 0.25, 0.5, 0.75]


def test_loaders_without_entries_are_empty_with_columns(tmp_path):
    coll = Collection(runs=pd.DataFrame([{"run_id": "r", "seed": 0}]))
    assert artifacts.load_gradients(coll).empty and "cos_to_full" in artifacts.load_gradients(coll)
    assert artifacts.load_progress(coll).empty and "progress" in artifacts.load_progress(coll)


def test_gradients_table_numbers(tmp_path):
    t = tables.gradients_table(_collection(tmp_path).runs)
    assert [r[:3] for r in t.rows][:4] == [["tiny-gpt2", "GRPO", "binary"], ["tiny-gpt2", "GRPO", "pass_rate"],
                                           ["tiny-gpt2", "RLOO", "binary"], ["tiny-gpt2", "RLOO", "pass_rate"]]
    row = dict(zip(t.columns, t.rows[0]))
    # per-seed means over checkpoints: 0.55 and 0.56 -> 0.555; SD 0.00707, t_{0.975,1} = 12.706:
    # half-width 12.706 * 0.00707 / sqrt(2) = 0.0635 -> [0.491, 0.619]
    assert row["n"] == "2" and row["cos to full-pass gradient"] == "0.555 [0.491, 0.619]"
    assert dict(zip(t.columns, t.rows[1]))["cos to full-pass gradient"].startswith("0.355 [")
    assert row["cancellation ratio"] == "0.400 [0.400, 0.400]"
    d = t.data.set_index(["model", "algo", "reward"]).loc[("tiny-llama", "rloo", "pass_rate")]
    assert d["delta_logp_full_mean"] == pytest.approx(0.0355)
    c = tables.calibration_table(_collection(tmp_path).runs)
    assert dict(zip(c.columns, c.rows[0]))["Spearman ρ (pass rate vs completable share)"] == "0.85 [0.21, 1.49]"  # 0.80, 0.90: half-width 0.635


def test_report_claims_pair_rewards_by_seed(tmp_path):
    coll = _collection(tmp_path)
    rep = report.build(coll, "passrate_gradients")
    assert [t.name for t in rep.tables] == ["gradients", "calibration"]
    assert [f.stem for f in rep.figures] == ["gradient_direction", "gradient_conflict", "passrate_calibration"]
    cos = [c for c in rep.claims if "(cos to full-pass gradient" in c.paper]
    assert len(cos) == 4  # 2 models x 2 baselines
    # pass_rate is 0.2 below binary at every seed: the paper's direction, resolved
    assert all(c.verdict == "reproduced (resolved)" for c in cos)
    assert all("-0.200 [-0.200, -0.200]" in c.here and "n=2 paired seeds" in c.here for c in cos)


def test_figures_draw_every_condition(tmp_path):
    coll = _collection(tmp_path)
    runs = coll.runs
    fig = figures.gradient_direction(artifacts.load_gradients(coll), runs)
    assert len(fig.axes) == 4  # 2 metrics x 2 models
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["GRPO binary (n=2)", "RLOO binary (n=2)", "GRPO pass_rate (n=2)", "RLOO pass_rate (n=2)"]
    fig = figures.passrate_calibration(artifacts.load_progress(coll), runs)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # rho from the runs' summaries (0.8, 0.9); 2 seeds x 4 failing responses per model
    assert legend[0].startswith("tiny-gpt2: Spearman ρ = 0.85 [0.21, 1.49] (n=2; 8 responses)")
    assert figures.gradient_conflict(artifacts.load_gradient_groups(coll), runs).axes
    empty = figures.gradient_direction(artifacts.load_gradients(Collection(runs=runs.iloc[:0])), runs)
    assert "no gradients records" in empty.axes[0].texts[0].get_text()


def test_credit_gradients_report_rows_by_arm_and_claims(tmp_path):
    """experiment=credit_gradients: rows per arm with the credit rewards after the outcome ones, and
    the credit − binary claims paired by seed (credit_step 0.1 above binary at every seed)."""
    rows = []
    for arm in ("grpo_step", "rloo_step"):
        for seed in (0, 1, 2):
            row = {"run_id": f"{arm}{seed}", "seed": seed, "experiment": "credit_gradients", "arm": arm,
                   "cfg.algo.name": arm.split("_")[0], "cfg.reward.name": "binary", "cfg.model.name": "tiny",
                   "cfg.model.arch": "gpt2", "cfg.prm.dense": False, "cfg.prm.value_init": False}
            for reward in ("binary", "pass_rate", "credit_step", "credit_shaped"):
                for algo in ("grpo", "rloo"):
                    cos = 0.3 + 0.01 * seed + {"credit_step": 0.1, "credit_shaped": 0.0}.get(reward, 0.0)
                    row[tables.gradient_metric(reward, algo, "cos_to_full")] = cos
            rows.append(row)
    coll = Collection(runs=pd.DataFrame(rows))
    rep = report.build(coll, "credit_gradients")
    t = rep.tables[0]
    assert [r[:3] for r in t.rows][:4] == [["grpo_step", "GRPO", "binary"], ["grpo_step", "GRPO", "pass_rate"],
                                           ["grpo_step", "GRPO", "credit_step"], ["grpo_step", "GRPO", "credit_shaped"]]
    assert dict(zip(t.columns, t.rows[2]))["cos to full-pass gradient"].startswith("0.410 [")
    step = [c for c in rep.claims if "credit_step" in c.paper and c.paper.startswith("GRPO")][0]
    assert step.verdict == "reproduced (resolved)" and "+0.100" in step.here
    shaped = [c for c in rep.claims if "credit_shaped" in c.paper and c.paper.startswith("RLOO")][0]
    assert "+0.000" in shaped.here
