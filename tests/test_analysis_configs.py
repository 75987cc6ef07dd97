"""The paper experiments' config files and multirun.sh's command-line surface (no training)."""
import subprocess
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from analysis.collect import sweep_jobs

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = {
    # name: (jobs of the sweep, {config path: value every job shares})
    "rl_core": (4 * 2 * 3, {"sft.seed": 0}),
    "table1": (2 * 2 * 2 * 3, {}),
    "table2": (4 * 3, {"algo.name": "ppo", "prm.dense": True, "prm.value_init": True}),
    "fig3_length": (2 * 3, {"algo.name": "ppo", "eval.n_samples": 20}),
    "fig4_data": (2 * 4 * 3, {"algo.name": "ppo", "sft.seed": 0}),
    "reward_weighting": (4 * 3, {"algo.name": "ppo", "prm.dense": True}),
    "passrate_study": (2 * 2 * 2 * 3, {"sft.seed": 0}),
    "passrate_gradients": (2 * 3, {"algo.name": "grpo", "reward.name": "binary", "gradients.enabled": True,
                                   "sft.seed": 0}),
}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_file_composes_and_sweeps_three_seeds(name, compose):
    path = ROOT / "conf" / "experiment" / f"{name}.yaml"
    head = path.read_text().splitlines()
    assert head[0] == "# @package _global_"  # Hydra reads the package header before any other comment
    assert f"python -m prmlab.run -m experiment={name}" in head[1]
    cfg = compose([f"experiment={name}"], return_hydra_config=True)
    assert cfg.experiment == name
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params["seed"] == "0,1,2"
    n_jobs, shared = EXPERIMENTS[name]
    assert len(sweep_jobs(params)) == n_jobs
    for key, value in shared.items():
        assert OmegaConf.select(cfg, key) == value, key


def test_every_swept_value_composes(compose):
    # every value of every swept key, as the basic sweeper passes it, must compose (a typo in a key or
    # a group option fails here); one job per value keeps this fast, the product adds no new values
    for name in EXPERIMENTS:
        params = OmegaConf.to_container(compose([f"experiment={name}"], return_hydra_config=True).hydra.sweeper.params)
        jobs = sweep_jobs(params)
        needed = {o for j in jobs for o in j if not o.startswith("seed=")}
        while needed:
            job = max(jobs, key=lambda j: len(needed & set(j)))
            cfg = compose([f"experiment={name}", *job])
            assert cfg.experiment == name and cfg.seed in (0, 1, 2)
            needed -= set(job)


def test_passrate_study_covers_two_base_models_and_both_rewards(compose):
    jobs = sweep_jobs(OmegaConf.to_container(
        compose(["experiment=passrate_study"], return_hydra_config=True).hydra.sweeper.params))
    values = lambda key: {o.split("=", 1)[1] for j in jobs for o in j if o.startswith(key + "=")}  # noqa: E731
    assert values("reward") == {"binary", "pass_rate"} and values("algo") == {"grpo", "rloo"}
    archs = {compose(["experiment=passrate_study", f"model={m}"]).model.arch for m in values("model")}
    assert archs == {"gpt2", "llama"}


def test_smoke_composition_keeps_the_sweep(compose):
    # SMOKE=1 ./multirun.sh NAME runs experiment=[smoke,NAME]: smoke sizes, NAME's sweep and name
    cfg = compose(["experiment=[smoke,table2]"], return_hydra_config=True)
    assert cfg.experiment == "table2" and cfg.algo.steps == 2 and cfg.algo.name == "ppo"
    assert "strategy" in cfg.hydra.sweeper.params


def test_multirun_sh_usage_errors():
    r = subprocess.run(["bash", str(ROOT / "multirun.sh")], capture_output=True, text=True)
    assert r.returncode == 2 and "multirun.sh NAME" in r.stdout
    r = subprocess.run(["bash", str(ROOT / "multirun.sh"), "nope"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown experiment 'nope'" in r.stdout


def test_multirun_sh_has_one_commented_line_per_experiment():
    text = (ROOT / "multirun.sh").read_text().splitlines()
    for name in EXPERIMENTS:
        i = next(k for k, line in enumerate(text) if line.strip().startswith(f"{name})"))
        assert text[i - 1].strip().startswith("#"), name
