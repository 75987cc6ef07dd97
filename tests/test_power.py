"""analysis.power: the noise study on hand-made run tables, seed counts against brute force, the CLI."""
import math

import numpy as np
import pandas as pd
import pytest

from analysis import power, stats


def _runs(values, se=0.002):
    return pd.DataFrame({"run_id": [f"r{i}" for i in range(len(values))], "seed": range(len(values)),
                         "eval/pass@1": values, "eval/pass@1_se": [se] * len(values)})


def test_noise_study_numbers():
    vals = [0.20, 0.22, 0.19, 0.23, 0.21, 0.20, 0.24, 0.18]
    st = power.noise_study(_runs(vals), seeds_range=range(2, 9))
    sd = float(np.std(vals, ddof=1))
    assert st.n == 8 and st.mean == pytest.approx(np.mean(vals)) and st.sd == pytest.approx(sd)
    assert st.eval_se == pytest.approx(0.002) and st.sampling_share == pytest.approx(0.002 ** 2 / sd ** 2)
    row = st.mde.set_index("seeds").loc[5]
    assert row["mde_paired"] == pytest.approx(stats.mde(math.sqrt(2) * sd, 5, paired=True))
    assert row["mde_unpaired"] == pytest.approx(stats.mde(sd, 5, paired=False))
    assert st.mde["seeds"].tolist() == list(range(2, 9))
    md = st.to_markdown(0.015)
    assert "| eval/pass@1 | 8 | 20.88 |" in md and "MDE ≤ 1.50 points" in md and "| 5 |" in md


def test_seeds_for_matches_brute_force():
    for sd in (0.005, 0.01, 0.02, 0.03):
        brute = next(n for n in range(2, 400) if stats.mde(math.sqrt(2) * sd, n) <= 0.015)
        assert power.seeds_for(0.015, sd) == brute
    assert power.seeds_for(0.015, math.nan) is None
    assert power.seeds_for(0.0001, 0.05, max_n=50) is None


def test_noise_study_of_one_seed_has_no_sd():
    st = power.noise_study(_runs([0.2]))
    assert st.n == 1 and math.isnan(st.sd) and st.mde["mde_paired"].isna().all()
    assert st.seeds_for() is None


def test_cli_refuses_missing_dir(tmp_path, capsys):
    assert power.main([str(tmp_path / "no_such_sweep")]) == 2
    assert "error" in capsys.readouterr().err


def _ppo_runs(rows):
    """Run-table rows (seed, pass@1, ablation or None) of PPO + DenseReward + ValueInit."""
    out = []
    for i, (s, p, ab) in enumerate(rows):
        r = {"run_id": f"r{i}", "seed": s, "cfg.algo.name": "ppo", "cfg.prm.dense": True, "cfg.prm.value_init": True,
             "cfg.model.name": "tiny", "cfg.model.arch": "gpt2", "cfg.reward.name": "binary",
             "cfg.strategy.name": "revised_only", "eval/pass@1": p, "eval/pass@1_se": 0.002, "experiment": "x"}
        if ab is not None:
            r["ablation"] = ab
        out.append(r)
    return pd.DataFrame(out)


def test_noise_report_tables_and_figure(tmp_path):
    from analysis import report
    from analysis.collect import Collection

    vals = [0.20, 0.22, 0.19, 0.23, 0.21, 0.20, 0.24, 0.18]
    runs = _ppo_runs([(s, v, None) for s, v in enumerate(vals)])
    rep = report.build_noise(Collection(runs), runs)
    noise, mde = rep.tables
    assert noise.rows[0][1] == "8" and noise.rows[0][3] == f"{np.std(vals, ddof=1) * 100:.2f}"
    k = power.seeds_for(power.TARGET, float(np.std(vals, ddof=1)))
    assert f"{k} paired" in mde.notes[0]
    assert [f.stem for f in rep.figures] == ["mde_vs_seeds", "curves"]
    index = report.write(rep, Collection(runs), tmp_path / "noise").read_text()
    assert "Minimum detectable difference" in index and (tmp_path / "noise/figures/mde_vs_seeds.png").is_file()
    assert "Torch threads" not in index  # records without the field: no line


def test_report_flags_runs_evaluated_on_another_split_than_test():
    from analysis import report

    runs = _ppo_runs([(s, 0.2, None) for s in range(2)])
    assert report.eval_split_note(runs) == ""  # no split recorded
    runs["cfg.eval.split"] = "test"
    assert report.eval_split_note(runs) == ""
    runs["cfg.eval.split"] = "rl"
    assert "Evaluated on split rl" in report.eval_split_note(runs)


def test_report_names_the_thread_counts_and_flags_a_mixed_sweep():
    from analysis import report

    runs = _ppo_runs([(s, 0.2, None) for s in range(3)])
    runs["stage.sft.threads"] = 2
    runs["stage.rl_baseline.threads"] = [1, 1, 1]
    line = report.thread_counts(runs)
    assert line.startswith("Torch threads that computed the stage entries: sft 2, rl_baseline 1") and "mixed" not in line
    runs["stage.rl_baseline.threads"] = [1, 2, None]
    assert "rl_baseline 1/2 (**mixed**" in report.thread_counts(runs)


def test_recipe_ablation_report_compares_each_departure_with_the_recipe():
    from analysis import report
    from analysis.collect import Collection

    rows = [(s, 0.30 + 0.01 * s, "none") for s in range(3)]
    rows += [(s, 0.30 + 0.01 * s + 0.05 + 0.001 * s, "dynamic_sampling") for s in range(3)]
    rows += [(s, 0.30 + 0.01 * s + (0.002, -0.002, 0.001)[s], "kl_k3_reward") for s in range(3)]
    runs = _ppo_runs(rows)
    rep = report.build_recipe_ablations(Collection(runs), runs)
    t = rep.tables[0]
    by = {r[0]: dict(zip(t.columns, r)) for r in t.rows}
    assert list(by) == ["none", "dynamic_sampling", "kl_k3_reward"]  # conf/ablation order, present only
    assert by["none"]["Δ vs none"] == "(ref)"
    assert by["dynamic_sampling"]["verdict"] == "resolved"
    # differences +0.2, -0.2, +0.1 points: interval ~[-0.5, +0.6] within ±1.5 points
    assert by["kl_k3_reward"]["verdict"] == "bounded"
    claims = {c.paper.split()[1]: c.verdict for c in rep.claims}
    assert claims["dynamic_sampling"] == "differs (resolved)"
    assert claims["kl_k3_reward"].startswith("consistent (bounded")
    assert "(PPO, DenseReward + ValueInit)" in t.title  # the method the runs used
    # the same departures on the plain baseline (prm=none): the title says so
    plain = runs.assign(**{"cfg.prm.dense": False, "cfg.prm.value_init": False})
    assert "(PPO, RL baseline)" in report.build_recipe_ablations(Collection(plain), plain).tables[0].title
