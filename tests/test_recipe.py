"""The papers' recipes as composed, their guards, and ValueInit on the reward's scale.

* Composed defaults are each paper's recipe: every sampled group trained on (no dynamic sampling),
  PPO with k1 in the reward and GAE lambda < 1, GRPO/RLOO with k3 in the loss.
* Each named departure (conf/ablation/) changes exactly its own fields.
* Guards: k1 as a loss term (zero expected gradient) and a CE PRM for ValueInit are refused.
* ValueInit's critic outputs the PRM's [-1, 1] mapped onto the reward range, exactly.
* The long tier's references pass their tests in the real sandbox.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from prmlab import rewards
from prmlab.errors import ConfigError
from prmlab.models import ScalarHeadModel, build_tiny
from prmlab.prm.use import label_to_reward, make_critic, to_reward_scale, write_prm_meta
from prmlab.validation import validate

ROOT = Path(__file__).resolve().parents[1]
ABLATIONS = sorted(p.stem for p in (ROOT / "conf" / "ablation").glob("*.yaml"))


def _flat(cfg) -> dict:
    out = {}

    def walk(node, prefix):
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                out[f"{prefix}{k}"] = v

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return {k: v for k, v in out.items() if not k.startswith("hydra.")}


def test_ppo_runs_the_prm_papers_recipe(compose):
    a = compose(["algo=ppo"]).algo
    assert a.oversample == 1  # every sampled group is trained on
    assert a.kl_estimator == "k1"  # the per-token log-ratio, in the reward
    assert 0 < a.lam < 1  # the critic's estimates enter the advantages
    assert compose([]).prm.value_scale == "reward" and compose([]).prm.dense_norm == "all_lines"


@pytest.mark.parametrize("algo", ["grpo", "rloo"])
def test_critic_free_runs_the_pass_rate_studys_recipe(compose, algo):
    a = compose([f"algo={algo}"]).algo
    assert a.oversample == 1 and a.kl_estimator == "k3"


@pytest.mark.parametrize("name", [n for n in ABLATIONS if n != "none"])
def test_each_ablation_changes_only_its_own_fields(compose, name):
    base, changed = _flat(compose(["ablation=none"])), _flat(compose([f"ablation={name}"]))
    diff = {k for k in base if base[k] != changed.get(k)}
    spelled = _flat(OmegaConf.load(ROOT / "conf" / "ablation" / f"{name}.yaml"))
    assert diff == set(spelled) and len(diff) == 1, (name, diff)


def test_ablation_none_is_the_default(compose):
    assert _flat(compose([])) == _flat(compose(["ablation=none"]))


@pytest.mark.parametrize("algo", ["grpo", "rloo"])
def test_k1_as_a_loss_is_refused(compose, algo):
    with pytest.raises(ConfigError, match="algo.kl_estimator"):
        validate(compose([f"algo={algo}", "algo.kl_estimator=k1"]))
    validate(compose([f"algo={algo}", "algo.kl_estimator=k1", "algo.kl_coef=0"]))  # no KL term: nothing to refuse


def test_k1_in_ppos_reward_is_allowed(compose):
    validate(compose(["algo=ppo", "algo.kl_estimator=k1"]))


def test_ce_prm_for_value_init_is_refused(compose):
    with pytest.raises(ConfigError, match="prm.loss"):
        validate(compose(["algo=ppo", "prm.value_init=true", "prm.loss=ce"]))
    validate(compose(["algo=ppo", "prm.value_init=false", "prm.dense=true", "prm.loss=ce"]))  # DenseReward only


def test_long_tier_needs_room(compose):
    with pytest.raises(ConfigError, match="sft.max_len"):
        validate(compose(["task.long_share=0.3"]))
    with pytest.raises(ConfigError, match="eval.max_new_tokens"):
        validate(compose(["task.long_share=0.3", "sft.max_len=512", "algo.max_new_tokens=224"]))
    validate(compose(["task.long_share=0.3", "sft.max_len=512", "algo.max_new_tokens=224", "eval.max_new_tokens=224"]))


def test_reward_ranges(compose):
    assert rewards.reward_range(compose([]).reward) == (0.0, 1.0)
    assert rewards.reward_range(compose(["reward.fail_value=-1"]).reward) == (-1.0, 1.0)
    assert rewards.reward_range(compose(["reward=pass_rate"]).reward) == (0.0, 1.0)


def test_label_to_reward_by_hand():
    v = torch.tensor([-1.0, -0.5, 0.0, 1.0])
    assert label_to_reward(v, 0.0, 1.0).tolist() == [0.0, 0.25, 0.5, 1.0]
    assert label_to_reward(v, -1.0, 1.0).tolist() == v.tolist()  # the paper's ±1 reward: identity
    # CE logits go through 2·sigmoid − 1 first (the DenseReward path): logit 0 is label 0
    assert to_reward_scale(torch.tensor([0.0]), "ce").item() == 0.0


@pytest.fixture(scope="module")
def prm_dir(tmp_path_factory):
    """A tiny PRM dir with a non-trivial head (random weights), as prm_train writes it."""
    tmp = tmp_path_factory.mktemp("recipe")
    cfg = OmegaConf.create({"arch": "gpt2", "n_layer": 1, "n_head": 2, "n_embd": 32, "vocab_size": 300,
                            "n_positions": 64})
    lm = build_tiny(cfg, ["def f(x):\n    return x + 1\n"] * 20, tmp / "sft", seed=0)
    prm = ScalarHeadModel.from_causal_lm(lm, torch.device("cpu"))
    torch.manual_seed(1)
    torch.nn.init.normal_(prm.head.weight, std=0.5)
    torch.nn.init.normal_(prm.head.bias, std=0.5)
    prm.save(tmp / "prm")
    write_prm_meta(tmp / "prm", "mse", "sft")
    return lm, tmp / "prm"


def test_value_init_maps_the_prm_onto_the_reward_range(prm_dir):
    lm, prm_path = prm_dir
    cpu = torch.device("cpu")
    ids = torch.randint(0, 200, (3, 10))
    attn = torch.ones_like(ids)
    prm = ScalarHeadModel.load(prm_path, cpu).eval()
    raw = ScalarHeadModel.load(prm_path, cpu).eval()  # what make_critic without a range gives
    mapped = make_critic(lm, prm_path, cpu, torch.float32, reward_range=(0.0, 1.0)).eval()
    as_is = make_critic(lm, prm_path, cpu, torch.float32).eval()
    with torch.no_grad():
        p = prm(ids, attn)
        assert torch.allclose(mapped(ids, attn), label_to_reward(p, 0.0, 1.0), atol=1e-6)
        assert torch.allclose(mapped(ids, attn), 0.5 + 0.5 * p, atol=1e-6)
        assert torch.equal(as_is(ids, attn), raw(ids, attn))
        pm = make_critic(lm, prm_path, cpu, torch.float32, reward_range=(-1.0, 1.0)).eval()
        assert torch.allclose(pm(ids, attn), p, atol=1e-6)  # ±1 reward: the PRM as is
    fresh = make_critic(lm, None, cpu, torch.float32, reward_range=(0.0, 1.0))
    assert float(fresh.head.weight.detach().abs().sum()) == 0.0  # no PRM: a fresh zero head, whatever the range


def test_value_init_refuses_a_ce_prm_it_cannot_map(prm_dir, tmp_path):
    import shutil

    lm, prm_path = prm_dir
    ce = tmp_path / "ce"
    shutil.copytree(prm_path, ce)
    write_prm_meta(ce, "ce", "sft")
    with pytest.raises(ValueError, match="CE"):
        make_critic(lm, ce, torch.device("cpu"), torch.float32, reward_range=(0.0, 1.0))


def test_long_references_pass_their_tests_in_the_sandbox():
    """A seeded sample of long-tier references, two per family, run by the real sandbox."""
    from prmlab.sandbox import Sandbox
    from prmlab.sandbox.config import SandboxConfig
    from prmlab.tasks.synthetic import LONG_TIER, generate_suite, tier_of

    long = [p for p in generate_suite(3, 60, 10, 30, 60, long_share=0.5) if tier_of(p) == LONG_TIER]
    by_family: dict[str, list] = {}
    for p in long:
        by_family.setdefault(p.meta["family"], []).append(p)
    rng = random.Random(0)
    chosen = [q for ps in by_family.values() for q in rng.sample(ps, min(2, len(ps)))]
    assert len(by_family) >= 10
    with Sandbox(SandboxConfig(workers=2)) as box:
        verdicts = box.evaluate(chosen, [p.reference for p in chosen])
    failing = [(p.meta["family"], p.id) for p, v in zip(chosen, verdicts) if not v.all_passed]
    assert failing == []
    # a reference with its last return line cut is no longer a passing program
    cut = [p.reference.rstrip().rsplit("\n", 1)[0] + "\n" for p in chosen]
    with Sandbox(SandboxConfig(workers=2)) as box:
        assert not any(v.all_passed for v in box.evaluate(chosen, cut))
