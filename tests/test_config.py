"""Every config composes; typos and wrong types fail at compose time; values are validated."""
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from prmlab.errors import PrmlabError
from prmlab.run import validate

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
GROUPS = {g.name: sorted(p.stem for p in g.glob("*.yaml")) for g in (ROOT / "conf").iterdir()
          if g.is_dir() and g.name not in ("experiment", "hydra")}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_validates(compose, name):
    cfg = compose([f"experiment={name}"])
    assert cfg.experiment == name
    validate(cfg)


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_group_option_composes(compose, group, option):
    overrides = [f"{group}={option}"]
    if (group, option) == ("model", "hf"):
        overrides.append("model.path=/some/dir")
    if (group, option) == ("task", "livecodebench"):
        overrides.append("task.path=x.jsonl")
    cfg = compose(overrides)
    assert OmegaConf.select(cfg, group) is not None


def test_defaults(compose):
    cfg = compose()
    validate(cfg)
    assert cfg.task.name == "synthetic" and cfg.model.name == "tiny" and cfg.strategy.name == "revised_only"
    assert cfg.eval.n_samples == 10 and cfg.eval.temperature == 0.2


def test_unknown_key_fails_at_compose(compose):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="algo.lr_rate"):
        compose(["algo.lr_rate=1"])


def test_wrong_type_fails_at_compose(compose):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="steps"):
        compose(["algo.steps=abc"])


def test_unknown_group_option_fails(compose):
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match="strategy/bogus"):
        compose(["strategy=bogus"])


@pytest.mark.parametrize("override,field", [
    ("algo.name=foo", "algo.name"), ("reward.name=dense", "reward.name"), ("eval.n_samples=0", "eval.n_samples"),
    ("strategy.name=half", "strategy.name"), ("model=hf", "model.path"),
])
def test_validate_names_the_field(compose, override, field):
    overrides = [override] + (["model.path=/nonexistent/ckpt"] if override == "model=hf" else [])
    with pytest.raises(PrmlabError, match=field.replace(".", r"\.")):
        validate(compose(overrides))
