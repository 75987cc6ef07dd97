"""One RL step in-process, through the loop's named steps (prmlab.rl.loop), checked by number.

Real SFT policy (smoke size), real sampling and a real update. The sandbox's verdicts are replaced
by planted ones so that the rewards, the dynamic-sampling choice and the metrics have values
worked out by hand (the smoke policy solves nothing, which would make every score 0).
"""

import pytest
import torch
from omegaconf import OmegaConf

from prmlab.layout import policy_dir
from prmlab.models import ScalarHeadModel
from prmlab.pipeline import NullTracker, StageCache, StageContext, run_plan, select_fields
from prmlab.prm.use import DenseReward
from prmlab.rl import clock as C
from prmlab.rl import loop
from prmlab.rl.clock import StepClock
from prmlab.rl.state import setup
from prmlab.runtime import Runtime
from prmlab.stages import STAGES, build_plan
from prmlab.types import TestOutcome as Outcome
from prmlab.types import Verdict

PROMPTS, OVERSAMPLE, G = 4, 2, 4  # experiment=smoke: prompts_per_step, group_size; algo.oversample=2 (dynamic sampling on)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """tasks and sft of experiment=smoke, computed once for the module."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from prmlab.config import register_configs
    from prmlab.run import _register_resolvers
    from tests.conftest import ROOT

    tmp = tmp_path_factory.mktemp("rl_loop")
    _register_resolvers()
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=smoke", "algo=grpo", "prm=none", "logger=none", "progress=false",
                                           f"cache_dir={tmp / 'cache'}", "reward=pass_rate",
                                           f"algo.oversample={OVERSAMPLE}"])
    GlobalHydra.instance().clear()
    rt = Runtime(cfg)
    results = run_plan(cfg, build_plan(cfg)[:2], StageCache(cfg.cache_dir), rt, NullTracker())
    yield cfg, rt, {r.name: r.path for r in results}, tmp
    rt.close()


def make_ctx(cfg, rt, inputs, out):
    fields = select_fields(cfg, STAGES["rl_baseline"].reads)
    return StageContext("rl_baseline", OmegaConf.create(fields), out, inputs, rt, NullTracker(), scratch=None)


def planted_verdicts(draw):
    """Group g: every row passes 1 of 2 tests when g is even; odd groups alternate 0 and 2 of 2
    except group 1, where every row passes nothing. So groups 0, 2 agree (0.5 each), group 1
    agrees (0.0), groups 3, 5, 7 disagree (0 / 1)."""
    out = []
    for i, g in enumerate(draw.group_ids.tolist()):
        if g % 2 == 0:
            passed = [True, False]
        elif g == 1:
            passed = [False, False]
        else:
            passed = [i % 2 == 0] * 2
        out.append(Verdict([Outcome(p) for p in passed]))
    return out


def test_one_rl_step_by_its_named_steps(upstream, tmp_path):
    cfg, rt, inputs, _ = upstream
    ctx = make_ctx(cfg, rt, inputs, tmp_path)
    s = setup(ctx, value_init=None)
    before = {k: v.clone() for k, v in s.policy.state_dict().items()}

    # 1. draw: prompts_per_step x oversample prompts, each repeated group_size times, consecutive groups
    draw = loop.draw_prompts(ctx.cfg, s, step=0)
    assert len(draw.reps) == PROMPTS * OVERSAMPLE * G
    assert draw.group_ids.tolist() == [g for g in range(PROMPTS * OVERSAMPLE) for _ in range(G)]
    assert all(draw.reps[i].id == draw.reps[i - i % G].id for i in range(len(draw.reps)))
    again = loop.draw_prompts(ctx.cfg, s, step=0)  # seeded by (seed, step): a resumed run draws the same
    assert [p.id for p in again.reps] == [p.id for p in draw.reps] and again.seeds == draw.seeds
    # 2. roll out (real sampling); verdicts planted
    rollouts = loop.generate(s, draw)
    assert len(rollouts) == len(draw.reps)
    verdicts = planted_verdicts(draw)
    # 3. score: the pass rate on each response's last token, nothing elsewhere
    sc = loop.score(ctx, s, rollouts, verdicts, draw, dense=None)
    want = [0.5 if g % 2 == 0 else 0.0 if g == 1 else float(i % 2 == 0) for i, g in enumerate(draw.group_ids.tolist())]
    assert sc.scores.tolist() == want
    for i, r in enumerate(rollouts):
        n = len(r.response_ids)
        assert sc.mask[i].sum() == n
        assert sc.token_rewards[i, n - 1] == want[i] and sc.token_rewards[i].sum() == want[i]
    # 4. select: the 3 groups whose outcomes disagree (3, 5, 7) come first, then the first uniform one (0)
    trained, varied = loop.select_for_update(ctx.cfg.algo, s, sc)
    assert varied == 3
    assert sorted(set(trained.group_ids.tolist())) == [0, 3, 5, 7]
    assert trained.ids.shape[0] == PROMPTS * G
    assert trained.mask.shape[1] == int(trained.mask.sum(1).max())  # padding only dropped rows used is trimmed
    # 5. batch: before any update the policy is the reference, so the log-probs agree exactly
    batch = loop.build_batch(ctx.cfg.algo, s, trained)
    assert torch.equal(batch.logprobs, batch.ref_logprobs)
    assert batch.values is None  # GRPO has no critic
    # 6. update: the policy moves, the reference does not; the first of 4 warm-up updates runs at lr / 4
    stats = loop.update(OmegaConf.merge(ctx.cfg.algo, {"warmup_steps": 4}), s, batch, 0)
    assert s.opt.param_groups[0]["lr"] == pytest.approx(ctx.cfg.algo.lr / 4)
    assert any(not torch.equal(before[k], v) for k, v in s.policy.state_dict().items())
    assert all(torch.equal(before[k], v) for k, v in s.ref.state_dict().items())
    assert "losses/policy" in stats or any(k.startswith("losses/") for k in stats)
    # 7. metrics describe every sampled rollout; density over all 8 groups: 3 of 8 carry a gradient
    clock = StepClock()
    clock.now.update(generate=2.0, execute=0.5)
    m = loop.step_metrics(ctx.cfg.algo, s, rollouts, verdicts, sc, batch, varied, stats, clock)
    assert m["perf/time_execute"] == 0.5
    assert m["perf/tokens_per_s_generate"] == pytest.approx(sum(len(r.response_ids) for r in rollouts) / 2.0)
    assert m["reward/mean"] == pytest.approx(sum(want) / len(want))
    assert m["reward/nonzero_group_var_frac"] == pytest.approx(3 / 8)
    assert m["rollout/trained_varied_group_frac"] == pytest.approx(3 / 4)
    assert m["reward/all_pass_rate"] == pytest.approx(sum(w == 1.0 for w in want) / len(want))
    assert m["rollout/kl"] == 0.0


def test_dense_reward_terms_match_an_unpadded_prm_pass(upstream, tmp_path):
    """DenseReward in the score step: lambda_fail * PRM(prefix_j) / M at each line end of a failing
    response, nothing on a passing one (lambda_pass = 0); PRM scores recomputed row by row without
    padding, as an independent check of the batch's columns."""
    cfg, rt, inputs, _ = upstream
    ctx = make_ctx(cfg, rt, inputs, tmp_path)
    s = setup(ctx, value_init=None)
    draw = loop.draw_prompts(ctx.cfg, s, step=1)
    rollouts = loop.generate(s, draw)
    verdicts = planted_verdicts(draw)
    torch.manual_seed(0)
    prm = ScalarHeadModel.from_causal_lm(policy_dir(inputs["sft"]), rt.device, rt.dtype).eval()
    dense = DenseReward(prm, "mse", lambda_fail=0.5, lambda_pass=0.0, length_norm=True)
    with_dense = loop.score(ctx, s, rollouts, verdicts, draw, dense=dense)
    plain = loop.score(ctx, s, rollouts, verdicts, draw, dense=None)
    terms = with_dense.token_rewards - plain.token_rewards
    for i, (r, v) in enumerate(zip(rollouts, verdicts)):
        if v.all_passed:
            assert terms[i].abs().sum() == 0
            continue
        ids = torch.tensor([r.prompt_ids + r.response_ids])
        with torch.no_grad():
            out = prm(ids, torch.ones_like(ids))[0]
        expect = torch.zeros(terms.shape[1])
        for t in r.line_end_tokens:
            expect[t] += 0.5 * float(out[len(r.prompt_ids) + t].clamp(-1, 1)) / len(r.lines)
        assert torch.allclose(terms[i], expect, atol=1e-5), i
        assert with_dense.dense_sum[i] == pytest.approx(float(expect.sum()), abs=1e-5)


def test_learning_rate_warms_up_linearly_then_stays():
    # by hand: peak 1e-4 over 4 updates -> 2.5e-5, 5e-5, 7.5e-5, 1e-4, then 1e-4; null = constant
    got = [loop.learning_rate(1e-4, step, 4) for step in range(6)]
    assert got == pytest.approx([2.5e-5, 5e-5, 7.5e-5, 1e-4, 1e-4, 1e-4])
    assert [loop.learning_rate(1e-4, step, None) for step in range(3)] == [1e-4] * 3


def test_step_clock_splits_a_step_into_its_phases(monkeypatch):

    t = iter([0.0, 1.0, 3.0, 3.5, 7.5, 8.0,  # step 1: other 1, generate 2, execute 0.5, train 4, end
              10.0, 10.0, 11.0, 11.0, 12.0, 12.0])  # step 2: generate 1, train 1
    monkeypatch.setattr(C.time, "perf_counter", lambda: next(t))
    c = C.StepClock()
    for phases in (("other", "generate", "execute", "train"), ("other", "generate", "execute", "train")):
        c.start()
        for p in phases:
            c.lap(p)
        if c.steps == 0:
            assert c.step_metrics() == {"perf/time_generate": 2.0, "perf/time_execute": 0.5,
                                        "perf/time_prm_score": 0.0, "perf/time_train": 4.0}
        c.stop()
    assert c.total == {"generate": 3.0, "execute": 0.5, "prm_score": 0.0, "train": 5.0, "other": 1.5}
    s = c.summary("rl")
    assert s["rl/steps_timed"] == 2 and s["rl/time_other_s"] == 1.5
    line = C.breakdown_line(s, "rl")
    assert line.startswith("  rl step 5.00s over 2 steps") and "train 2.50s (50%)" in line
    assert C.breakdown_line({}, "rl") is None
