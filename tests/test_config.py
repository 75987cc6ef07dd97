"""Every config composes; every field's declared range is enforced at compose time (exit 2, one line)."""
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from prmlab.errors import ConfigError
from prmlab.run import preflight, validate
from prmlab.rules import Choice
from prmlab.validation import schema_fields, show

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
GROUPS = {g.name: sorted(p.stem for p in g.glob("*.yaml")) for g in (ROOT / "conf").iterdir()
          if g.is_dir() and g.name not in ("experiment", "hydra")}
FIELDS = list(schema_fields())


def _base(tp):
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Union:
        tp = next(a for a in args if a is not type(None))
    return tp


def wrong_type(tp) -> str:
    """An override value of the wrong type for a field of type ``tp``."""
    tp = _base(tp)
    if typing.get_origin(tp) in (list, tuple):
        return "abc"
    return {int: "abc", float: "abc", bool: "maybe", str: "[1,2]"}[tp]


def config_error(overrides) -> ConfigError:
    """Compose and validate like ``python -m prmlab.run`` does, in process; the ConfigError raised."""
    with pytest.raises(ConfigError) as info:
        preflight(list(overrides))
    err = info.value
    assert "\n" not in str(err)
    return err


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_validates(compose, name):
    cfg = compose([f"experiment={name}"])
    assert cfg.experiment == name
    validate(cfg)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_sweep_job_of_every_experiment_validates(name):
    assert preflight(["-m", f"experiment={name}"]) >= 1


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_smoke_sweep_job_validates(name):
    """SMOKE=1 ./multirun.sh NAME composes experiment=[smoke,NAME]; the smoke sizes must fit every testbed."""
    assert preflight(["-m", f"experiment=[smoke,{name}]"]) >= 1


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_group_option_composes(compose, group, option):
    overrides = [f"{group}={option}"]
    if (group, option) == ("model", "hf"):
        overrides.append("model.path=/some/dir")
    if (group, option) == ("task", "livecodebench"):
        overrides.append("task.path=x.jsonl")
    cfg = compose(overrides)
    if group in ("ablation", "testbed", "arm"):
        validate(cfg)  # a global option (an ablation, a testbed, an arm) sets fields across groups; it must still validate
    else:
        assert OmegaConf.select(cfg, group) is not None


def test_defaults(compose):
    cfg = compose()
    validate(cfg)
    assert cfg.task.name == "synthetic" and cfg.model.name == "tiny" and cfg.strategy.name == "revised_only"
    assert cfg.eval.n_samples == 10 and cfg.eval.temperature == 0.2


# ----------------------------------------------------------------------------- every field, invalid
# `experiment=...` on the command line selects the experiment group, so it never sets the field directly
TYPED = [(p, t) for p, _, t in FIELDS if p != "experiment"]


@pytest.mark.parametrize("path,tp", TYPED, ids=[p for p, _ in TYPED])
def test_every_field_refuses_a_wrong_type(path, tp):
    err = config_error([f"{path}={wrong_type(tp)}"])
    assert err.field == path and str(err).startswith(path), str(err)


INTERPOLATED_BY = {"seed": ("sft.seed",)}
RULED = [(p, f.metadata["rule"]) for p, f, _ in FIELDS if "rule" in f.metadata and f.metadata["rule"].bad is not None]


@pytest.mark.parametrize("path,rule", RULED, ids=[p for p, _ in RULED])
def test_every_field_refuses_a_value_out_of_its_range(path, rule):
    err = config_error([f"{path}={show(rule.bad)}"])
    # sft.seed is ${seed}, so a bad seed is first seen there; a float field prints -1 as -1.0
    assert err.field in (path, *INTERPOLATED_BY.get(path, ())), str(err)
    assert str(err).startswith(f"{err.field}=") and " is not valid: expected" in str(err), str(err)


def test_every_numeric_field_declares_its_range():
    """A new int/float field must say what it accepts (``unbounded(default, why)`` when anything goes)."""
    missing = [p for p, f, tp in FIELDS if _base(tp) in (int, float) and "rule" not in f.metadata]
    assert not missing


def test_choices_come_from_where_the_names_are_defined():
    from prmlab.algos import ALGOS
    from prmlab.algos.core import KL_ESTIMATORS, LOSS_AGGS
    from prmlab.prm.label import SEARCH_MODES
    from prmlab.prm.select import STRATEGIES
    from prmlab.rewards import OUTCOME_REWARDS
    from prmlab.sandbox.pool import ISOLATION_LEVELS
    from prmlab.tasks import SOURCES
    from prmlab.tasks.synthetic import LONG_COMMENTS, LONG_CONSTANTS

    rules = {p: f.metadata["rule"] for p, f, _ in FIELDS if isinstance(f.metadata.get("rule"), Choice)}
    assert set(rules["algo.name"].names()) == set(ALGOS) | {"none"}
    assert rules["reward.name"].names() == tuple(OUTCOME_REWARDS)
    assert rules["strategy.name"].names() == tuple(STRATEGIES)
    assert rules["prm.search"].names() == tuple(SEARCH_MODES)
    assert rules["algo.kl_estimator"].names() == tuple(KL_ESTIMATORS)
    assert rules["algo.loss_agg"].names() == tuple(LOSS_AGGS)
    assert rules["sandbox.isolation"].names() == tuple(ISOLATION_LEVELS)
    assert rules["task.name"].names() == tuple(SOURCES)
    assert rules["task.long_constants"].names() == tuple(LONG_CONSTANTS)
    assert rules["task.long_comments"].names() == tuple(LONG_COMMENTS)
    import prmlab.run

    assert not hasattr(prmlab.run, "CHOICES") and not hasattr(prmlab.run, "POSITIVE")


# ----------------------------------------------------------------------------- Hydra's own errors, one line
@pytest.mark.parametrize("overrides,field", [
    (["algo.lr_rate=1"], "algo.lr_rate"), (["+foo=1"], "foo"), (["+algo.zz=1"], "algo.zz"),
    (["algo.steps=abc"], "algo.steps"), (["strategy=bogus"], "strategy"), (["eval.ks=[a]"], "eval.ks[0]"),
    (["algo.steps=null"], "algo.steps"), (["algo.steps=1,2"], "algo.steps"), (["hydra.foo=1"], "hydra.foo"),
    (["-m", "algo.steps=5,-1"], "algo.steps"), (["-m", "experiment=table2", "prm.lambda_fail=-1"], "prm.lambda_fail"),
])
def test_composition_errors_name_the_field(overrides, field):
    err = config_error(overrides)
    assert err.field == field and field in str(err)


def test_unknown_key_suggests_the_field():
    assert "did you mean algo.lr?" in str(config_error(["algo.lrr=1"]))


def test_cfg_job_still_prints_an_invalid_config():
    assert preflight(["--cfg", "job", "algo.steps=-1"]) == 0


# ----------------------------------------------------------------------------- cross-field checks
@pytest.mark.parametrize("overrides,field", [
    (["algo=grpo", "algo.kl_estimator=k1"], "algo.kl_estimator"),
    (["algo=rloo", "algo.kl_estimator=k1"], "algo.kl_estimator"),
    (["algo=grpo", "algo.group_size=1"], "algo.group_size"),
    (["algo.n_checkpoints=5", "algo.steps=4"], "algo.n_checkpoints"),
    (["eval.ks=[1,20]"], "eval.ks"),
    (["eval.length_edges=[80,40]"], "eval.length_edges"),
    (["model.n_head=3"], "model.n_embd"),
    (["sft.max_len=1000"], "sft.max_len"),
    (["model=hf"], "model.path"),
    (["task=livecodebench"], "task.path"),
    (["task.date_from=2024-05-01", "task.date_to=2024-01-01"], "task.date_from"),
    (["eval.split=val", "task.n_val=0"], "eval.split"),
    (["task=humaneval", "eval.split=val"], "eval.split"),
    (["reward.fail_value=1"], "reward.fail_value"),
    (["algo=none", "gradients.enabled=true"], "gradients.enabled"),
])
def test_cross_field_checks(overrides, field):
    assert config_error(overrides).field == field


@pytest.mark.parametrize("field, value", [("task.long_constants", "named"), ("task.long_comments", "parts")])
def test_task_long_tier_renderings_are_choices_for_the_long_tier(field, value):
    """null (the default rendering) or the named option; it renders the long tier only, so it needs one."""
    err = config_error(["testbed=long", f"{field}=bogus"])
    assert err.field == field and value in str(err), str(err)
    assert preflight(["testbed=long", f"{field}={value}"]) == 1
    assert preflight([f"{field}=null"]) == 1
    for overrides in ([f"{field}={value}"], ["task=humaneval", f"{field}={value}"]):
        err = config_error(overrides)
        assert err.field == field and "task.long_share > 0" in str(err), str(err)


def test_prompts_per_step_divisible_by_the_ranks(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert config_error(["algo.prompts_per_step=16"]).field == "algo.prompts_per_step"
    assert preflight(["algo.prompts_per_step=15"]) == 1


@pytest.mark.parametrize("overrides", [
    ["algo=ppo", "algo.kl_estimator=k1"],  # in the reward, k1 is the classic estimator
    ["algo=grpo", "algo.kl_estimator=k1", "algo.kl_coef=0"],  # no KL term at all
    ["reward.fail_value=-1"],  # the paper's -1/1 rewards
    ["algo.value_clip=null", "prm.max_prompts=null", "task.limit=null"],
])
def test_deliberate_values_pass(overrides):
    assert preflight(overrides) == 1


# ----------------------------------------------------------------------------- the real entry point
def run_prmlab(tmp_path, *args):
    env = dict(os.environ, PRMLAB_CACHE=str(tmp_path / "cache"), WANDB_MODE="offline")
    return subprocess.run([sys.executable, "-m", "prmlab.run", *args, f"hydra.run.dir={tmp_path}/run",
                           f"hydra.sweep.dir={tmp_path}/sweep", "progress=false", "logger=none"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,field", [
    (["algo.steps=-1"], "algo.steps"), (["algo.lr_rate=1"], "algo.lr_rate"), (["algo.steps=abc"], "algo.steps"),
    (["-m", "experiment=smoke", "prm.lambda_fail=0.5,-3"], "prm.lambda_fail"),
])
def test_entry_point_exits_2_with_one_line_and_writes_nothing(tmp_path, args, field):
    r = run_prmlab(tmp_path, *args)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), r.stderr
    for d in ("cache", "run", "sweep"):
        assert not (tmp_path / d).exists() or not any((tmp_path / d).rglob("*")), d
    assert not json.dumps([str(p) for p in tmp_path.rglob("*")]).count("summary.json")
