"""The RL math against hand-computed numbers, and one real update per algorithm on a tiny GPT-2."""
from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from prmlab.algos import core, get_algo, grpo, ppo, rloo
from prmlab.config import AlgoConfig
from prmlab.rewards import outcome_reward_tensor
from prmlab.types import RolloutBatch

transformers = pytest.importorskip("transformers")


# ----------------------------------------------------------------------------- GAE
def test_gae_two_ragged_sequences_by_hand():
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.1, -1.0, 5.0]])  # 5.0 sits on padding: must be ignored
    values = torch.tensor([[0.5, 0.4, 0.2], [0.3, 0.6, 9.0]])  # 9.0 on padding: must not be bootstrapped
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    adv, ret = core.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    # row 0: d2 = 1 - .2 = .8; d1 = .9*.2 - .4 = -.22; d0 = .9*.4 - .5 = -.14; gl = .45
    #        A2 = .8; A1 = -.22 + .45*.8 = .14; A0 = -.14 + .45*.14 = -.077
    # row 1 (ends at t=1): d1 = -1 - .6 = -1.6; d0 = .1 + .9*.6 - .3 = .34; A0 = .34 - .45*1.6 = -.38
    expected_adv = torch.tensor([[-0.077, 0.14, 0.8], [-0.38, -1.6, 0.0]])
    expected_ret = torch.tensor([[0.423, 0.54, 1.0], [-0.08, -1.0, 0.0]])
    assert torch.allclose(adv, expected_adv, atol=1e-6)
    assert torch.allclose(ret, expected_ret, atol=1e-6)


def test_gae_gamma_lambda_one_is_return_minus_value():
    rewards = torch.tensor([[0.2, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.4, 0.2, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, ret = core.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    assert torch.allclose(adv, torch.tensor([[1.2 - 0.5, 1.0 - 0.4, 1.0 - 0.2, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[1.2, 1.0, 1.0, 0.0]]))


# ----------------------------------------------------------------------------- group baselines
def test_group_advantages_with_and_without_std():
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.2, 0.6])
    groups = torch.tensor([3, 3, 3, 3, 7, 7, 7, 9, 9])
    # group 3: mean .25, Bessel std sqrt((.5625 + 3*.0625)/3) = .5; group 7: constant; group 9: mean .4,
    # std sqrt(.08/1) = .2828
    no_std = core.group_advantages(scores, groups, scale_by_std=False)
    assert torch.allclose(no_std, torch.tensor([0.75, -0.25, -0.25, -0.25, 0, 0, 0, -0.2, 0.2]), atol=1e-6)
    with_std = core.group_advantages(scores, groups, scale_by_std=True)
    s = 1 / math.sqrt(2)
    assert torch.allclose(with_std, torch.tensor([1.5, -0.5, -0.5, -0.5, 0, 0, 0, -s, s]), atol=1e-5)


def test_group_advantages_do_not_need_consecutive_groups():
    scores = torch.tensor([1.0, 0.2, 0.0, 0.6])
    groups = torch.tensor([0, 1, 0, 1])
    assert torch.allclose(core.group_advantages(scores, groups, False), torch.tensor([0.5, -0.2, -0.5, 0.2]))


def test_rloo_advantages_by_hand():
    scores = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.2, 0.6, 0.9])
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    adv = core.rloo_advantages(scores, groups)
    third = 1 / 3
    # 1 - mean(0,0,0) = 1; 0 - mean(1,0,0) = -1/3; .2 - .6; .6 - .2; a lone sample has no baseline
    assert torch.allclose(adv, torch.tensor([1.0, -third, -third, -third, -0.4, 0.4, 0.0]), atol=1e-6)
    # identity: A = G/(G-1) (s - group mean)
    assert torch.allclose(adv[:4], 4 / 3 * core.group_advantages(scores[:4], groups[:4], False), atol=1e-6)


# ----------------------------------------------------------------------------- losses
def test_clipped_policy_loss_inside_and_outside_clip_both_signs():
    ratios = torch.tensor([1.1, 1.5, 0.5, 1.1, 1.5, 0.5])
    adv = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    old = torch.zeros(6)
    new = torch.log(ratios).requires_grad_(True)
    loss, clipped, ratio = core.clipped_policy_loss(new, old, adv, clip_eps=0.2)
    assert torch.allclose(ratio, ratios)
    # A>0: r=1.5 is capped at 1.2; r=.5 keeps the (worse) unclipped -.5. A<0 mirrors it.
    assert torch.allclose(loss, torch.tensor([-1.1, -1.2, -0.5, 1.1, 1.5, 0.8]), atol=1e-6)
    assert clipped.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    loss.sum().backward()
    # d(-A r)/d log r = -A r where the unclipped term is active; 0 where clipping is
    assert torch.allclose(new.grad, torch.tensor([-1.1, 0.0, -0.5, 1.1, 1.5, 0.0]), atol=1e-6)


def test_clipped_value_loss():
    old = torch.zeros(3)
    returns = torch.ones(3)
    values = torch.tensor([0.1, 0.5, -0.5])
    loss, clipped = core.clipped_value_loss(values, old, returns, value_clip=0.2)
    # .1: inside the clip, .5*.81; .5: clipped to .2 -> .5*.64 wins; -.5: clipped to -.2 (1.44) loses to 2.25
    assert torch.allclose(loss, torch.tensor([0.405, 0.32, 1.125]), atol=1e-6)
    assert clipped.tolist() == [0.0, 1.0, 0.0]
    plain, none_clipped = core.clipped_value_loss(values, old, returns, value_clip=None)
    assert torch.allclose(plain, torch.tensor([0.405, 0.125, 1.125]), atol=1e-6)
    assert none_clipped.sum() == 0


def test_kl_estimators_by_hand():
    logp, ref = torch.tensor([math.log(0.5), -1.0]), torch.tensor([math.log(0.25), -1.0])
    l2 = math.log(2)
    assert torch.allclose(core.kl_penalty(logp, ref, "k1"), torch.tensor([l2, 0.0]), atol=1e-6)
    assert torch.allclose(core.kl_penalty(logp, ref, "k2"), torch.tensor([0.5 * l2 ** 2, 0.0]), atol=1e-6)
    assert torch.allclose(core.kl_penalty(logp, ref, "k3"), torch.tensor([0.5 - 1 + l2, 0.0]), atol=1e-6)
    with pytest.raises(ValueError):
        core.kl_penalty(logp, ref, "k4")


def test_k1_and_k3_are_unbiased_kl_estimates():
    p = torch.tensor([0.5, 0.3, 0.2])
    q = torch.tensor([0.2, 0.2, 0.6])
    true_kl = float((p * (p / q).log()).sum())
    for est in ("k1", "k3"):
        expectation = float((p * core.kl_penalty(p.log(), q.log(), est)).sum())
        assert expectation == pytest.approx(true_kl, abs=1e-6)


def test_loss_agg_on_ragged_mask():
    loss = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 100.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    assert core.aggregate_loss(loss, mask, "token_mean").item() == pytest.approx(21 / 6)
    assert core.aggregate_loss(loss, mask, "seq_mean_token_mean").item() == pytest.approx((2.5 + 5.5) / 2)
    assert core.aggregate_loss(loss, mask, "seq_mean_token_sum_norm").item() == pytest.approx((10 / 4 + 11 / 4) / 2)
    assert core.aggregate_loss(loss, mask, "seq_mean_token_sum_norm", norm_len=10).item() == pytest.approx(1.05)
    with pytest.raises(ValueError):
        core.aggregate_loss(loss, mask, "sum")


def test_masked_whiten_and_mean():
    x = torch.tensor([[1.0, 2.0, 3.0, 50.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    assert core.masked_mean(x, mask).item() == pytest.approx(2.0)
    s = 1 / math.sqrt(2 / 3)
    assert torch.allclose(core.masked_whiten(x, mask), torch.tensor([[-s, 0.0, s, 0.0]]), atol=1e-4)
    assert torch.allclose(core.masked_whiten(x, mask, shift_mean=False), torch.tensor([[s, 2 * s, 3 * s, 0.0]]),
                          atol=1e-4)


def test_explained_variance():
    y = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mask = torch.ones_like(y)
    assert core.explained_variance(y, y, mask) == pytest.approx(1.0)
    assert core.explained_variance(torch.full_like(y, 2.5), y, mask) == pytest.approx(0.0)


# ----------------------------------------------------------------------------- tiny models
VOCAB = 50


def gpt2_config():
    return transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                   bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)


def tiny_policy(seed: int):
    torch.manual_seed(seed)
    # default dropout (0.1) kept on purpose: the updates must switch it off themselves
    return transformers.GPT2LMHeadModel(gpt2_config())


class TinyValueModel(torch.nn.Module):
    """A GPT-2 backbone with a scalar head: forward(input_ids, attention_mask) -> [B, L]."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.backbone = transformers.GPT2Model(gpt2_config())
        self.head = torch.nn.Linear(32, 1)

    def forward(self, input_ids, attention_mask):
        h = self.backbone(input_ids=input_ids, attention_mask=attention_mask,
                          position_ids=core.position_ids_from_mask(attention_mask)).last_hidden_state
        return self.head(h).squeeze(-1)


def random_batch(policy, ref, value_model=None, *, n_groups=2, group_size=4, P=5, T=6, seed=0,
                 grouped=False) -> RolloutBatch:
    """Left-padded prompts + right-padded responses of random lengths; behaviour log-probs from
    ``policy`` itself (so the first ratio is exactly 1), reference log-probs from ``ref``.
    ``grouped``: the rows of a group share their prompt, as sampled groups do."""
    g = torch.Generator().manual_seed(seed)
    B = n_groups * group_size
    input_ids = torch.randint(1, VOCAB, (B, P + T), generator=g)
    attention_mask = torch.ones(B, P + T, dtype=torch.long)
    response_mask = torch.zeros(B, T)
    for i in range(B):
        p_len = int(torch.randint(2, P + 1, (1,), generator=g))
        r_len = int(torch.randint(1, T + 1, (1,), generator=g))
        if grouped and i % group_size:
            first = i - i % group_size
            input_ids[i, :P] = input_ids[first, :P]
            p_len = int(attention_mask[first, :P].sum())
        attention_mask[i, : P - p_len] = 0
        attention_mask[i, P + r_len:] = 0
        response_mask[i, :r_len] = 1
    input_ids = input_ids * attention_mask  # pad id 0
    scores = torch.randint(0, 2, (B,), generator=g).float()
    scores[0], scores[1] = 1.0, 0.0  # group 0 has reward variance for sure
    with torch.no_grad(), core.eval_mode(policy, ref, value_model):
        logprobs, _ = core.sequence_logprobs(policy, input_ids, attention_mask, P)
        ref_logprobs, _ = core.sequence_logprobs(ref, input_ids, attention_mask, P)
        values = core.response_values(value_model, input_ids, attention_mask, P) if value_model else None
    return RolloutBatch(
        input_ids=input_ids, attention_mask=attention_mask, response_mask=response_mask,
        logprobs=logprobs * response_mask, ref_logprobs=ref_logprobs * response_mask,
        rewards=outcome_reward_tensor(scores, response_mask), scores=scores,
        group_ids=torch.arange(n_groups).repeat_interleave(group_size), prompt_len=P, values=values,
    )


def test_sequence_logprobs_alignment_matches_unpadded_forward():
    policy = tiny_policy(0).eval()
    batch = random_batch(policy, policy)
    P = batch.prompt_len
    logprobs, entropy = core.sequence_logprobs(policy, batch.input_ids, batch.attention_mask, P)
    for i in range(batch.input_ids.shape[0]):
        real = batch.attention_mask[i].bool()
        ids = batch.input_ids[i][real][None]  # the row with no padding at all, default positions
        p_len = int(batch.attention_mask[i, :P].sum())
        with torch.no_grad():
            logp = torch.log_softmax(policy(ids).logits[0].float(), -1)
        n = int(batch.response_mask[i].sum())
        for t in range(n):
            tok = ids[0, p_len + t]
            assert logprobs[i, t].item() == pytest.approx(logp[p_len + t - 1, tok].item(), abs=1e-5)
            ent = -(logp[p_len + t - 1].exp() * logp[p_len + t - 1]).sum()
            assert entropy[i, t].item() == pytest.approx(ent.item(), abs=1e-5)


def test_minibatch_trimming_does_not_change_logprobs():
    policy = tiny_policy(0).eval()
    batch = random_batch(policy, policy)
    idx = torch.tensor([2, 5])
    mb, p_len = core.select_minibatch(batch, idx, "cpu")
    assert mb["input_ids"].shape[1] <= batch.input_ids.shape[1]
    with torch.no_grad():
        trimmed, _ = core.sequence_logprobs(policy, mb["input_ids"], mb["attention_mask"], p_len)
    t_len = trimmed.shape[1]
    assert torch.allclose(trimmed * mb["mask"], batch.logprobs[idx][:, :t_len], atol=1e-5)
    assert torch.equal(mb["mask"], batch.response_mask[idx][:, :t_len])


def test_response_values_read_the_column_before_each_token():
    value_model = TinyValueModel(1).eval()
    ids = torch.randint(1, VOCAB, (2, 7))
    am = torch.ones_like(ids)
    with torch.no_grad():
        full = value_model(ids, am)
        vals = core.response_values(value_model, ids, am, prompt_len=3)
    assert vals.shape == (2, 4)
    assert torch.allclose(vals, full[:, 2:6])  # V(s_t) for response token t at column P+t-1


def test_ppo_compute_advantages_adds_kl_penalty_to_rewards():
    batch = RolloutBatch(
        input_ids=torch.zeros(1, 3, dtype=torch.long), attention_mask=torch.ones(1, 3, dtype=torch.long),
        response_mask=torch.tensor([[1.0, 1.0]]), logprobs=torch.tensor([[-1.0, -2.0]]),
        ref_logprobs=torch.tensor([[-1.5, -2.2]]), rewards=torch.tensor([[0.0, 1.0]]), scores=torch.tensor([1.0]),
        group_ids=torch.tensor([0]), prompt_len=1, values=torch.zeros(1, 2),
    )
    cfg = AlgoConfig(kl_coef=0.1, kl_estimator="k1", gamma=1.0, lam=1.0, whiten_advantages=False)
    adv, ret = ppo.compute_advantages(batch, cfg)
    # k1 = [.5, .2] -> rewards [-.05, .98]; gamma = lam = 1, V = 0 -> A = reward-to-go
    assert torch.allclose(adv, torch.tensor([[0.93, 0.98]]), atol=1e-6)
    assert torch.allclose(ret, adv)
    cfg.whiten_advantages = True
    adv_w, ret_w = ppo.compute_advantages(batch, cfg)
    assert torch.allclose(adv_w, torch.tensor([[-1.0, 1.0]]), atol=1e-3)
    assert torch.allclose(ret_w, ret)  # returns are the critic's targets, never whitened


def test_critic_free_advantages_use_summed_token_rewards():
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    # outcome on the last token plus a dense term on row 1's first token; 3.0 on padding is ignored
    rewards = torch.tensor([[0.0, 0.0, 1.0], [0.25, 0.0, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    batch = RolloutBatch(
        input_ids=torch.zeros(4, 4, dtype=torch.long), attention_mask=torch.ones(4, 4, dtype=torch.long),
        response_mask=mask, logprobs=torch.zeros(4, 3), ref_logprobs=torch.zeros(4, 3), rewards=rewards,
        scores=torch.tensor([1.0, 0.0, 0.0, 1.0]), group_ids=torch.tensor([0, 0, 1, 1]), prompt_len=1,
    )
    cfg = AlgoConfig(scale_by_std=False)
    adv, ret = grpo.compute_advantages(batch, cfg)
    assert ret is None
    # group 0 scores (1, .25): +-.375; group 1 (0, 1): -+.5; constant over each response's tokens
    assert torch.allclose(adv, torch.tensor([[0.375] * 3, [-0.375, -0.375, 0], [-0.5, 0, 0], [0.5] * 3]))
    adv_loo, _ = rloo.compute_advantages(batch, cfg)
    assert torch.allclose(adv_loo, 2 * adv)  # G = 2: A_loo = G/(G-1) (s - mean)


# ----------------------------------------------------------------------------- real updates
def algo_cfg(**overrides):
    base = dict(epochs=2, minibatch_size=4, lr=1e-3, kl_coef=0.05, entropy_coef=0.01, max_new_tokens=6)
    base.update(overrides)
    return OmegaConf.structured(AlgoConfig(**base))  # the trainer passes a DictConfig


def params_vector(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()]).clone()


@pytest.mark.parametrize("name", ["grpo", "rloo"])
@pytest.mark.parametrize("loss_agg", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"])
def test_critic_free_update_changes_policy(name, loss_agg):
    policy, ref = tiny_policy(0), tiny_policy(1)
    batch = random_batch(policy, ref)
    cfg = algo_cfg(name=name, loss_agg=loss_agg)
    algo = get_algo(name)
    adv, ret = algo.compute_advantages(batch, cfg)
    before = params_vector(policy)
    stats = algo.update(policy, torch.optim.AdamW(policy.parameters(), lr=cfg.lr), batch, adv, ret, cfg)
    assert not torch.equal(before, params_vector(policy))
    assert policy.training  # eval_mode restored the flag
    for key in ("losses/policy", "losses/kl", "losses/entropy", "losses/clip_frac", "losses/approx_kl",
                "losses/grad_norm"):
        assert math.isfinite(stats[key]), key
    assert stats["losses/kl"] > 0 and stats["losses/entropy"] > 0


def test_ppo_update_changes_policy_and_critic():
    policy, ref, value_model = tiny_policy(0), tiny_policy(1), TinyValueModel(2)
    batch = random_batch(policy, ref, value_model)
    cfg = algo_cfg(name="ppo", kl_estimator="k1")
    adv, ret = ppo.compute_advantages(batch, cfg)
    before_pi, before_v = params_vector(policy), params_vector(value_model)
    stats = ppo.update(policy, torch.optim.AdamW(policy.parameters(), lr=1e-3), batch, adv, ret, cfg,
                       value_model=value_model, value_optimizer=torch.optim.AdamW(value_model.parameters(), lr=1e-3))
    assert not torch.equal(before_pi, params_vector(policy))
    assert not torch.equal(before_v, params_vector(value_model))
    for key in ("losses/policy", "losses/value", "losses/kl", "losses/entropy", "losses/clip_frac",
                "losses/approx_kl", "losses/grad_norm", "losses/value_grad_norm", "losses/value_clip_frac",
                "losses/explained_variance"):
        assert math.isfinite(stats[key]), key
    with pytest.raises(ValueError):
        ppo.update(policy, torch.optim.AdamW(policy.parameters()), batch, adv, ret, cfg)


def test_first_minibatch_is_on_policy_despite_dropout():
    policy = tiny_policy(0)
    policy.train()  # dropout active in the config: update must still see ratio == 1 on fresh data
    batch = random_batch(policy, tiny_policy(1))
    cfg = algo_cfg(name="grpo", epochs=1, minibatch_size=64)  # one minibatch = one on-policy step
    adv, ret = grpo.compute_advantages(batch, cfg)
    stats = grpo.update(policy, torch.optim.SGD(policy.parameters(), lr=0.1), batch, adv, ret, cfg)
    assert stats["losses/ratio"] == pytest.approx(1.0, abs=1e-5)
    assert stats["losses/clip_frac"] == 0.0 and stats["losses/approx_kl"] == pytest.approx(0.0, abs=1e-6)


def test_grpo_step_moves_probability_toward_positive_advantage():
    policy, ref = tiny_policy(0), tiny_policy(0)
    batch = random_batch(policy, ref, n_groups=1, group_size=4, seed=3)
    cfg = algo_cfg(name="grpo", epochs=1, minibatch_size=4, kl_coef=0.0, entropy_coef=0.0)
    adv, ret = grpo.compute_advantages(batch, cfg)

    def surrogate():  # sum_i A_i * log pi(o_i): what a policy-gradient step increases
        with torch.no_grad(), core.eval_mode(policy):
            lp, _ = core.sequence_logprobs(policy, batch.input_ids, batch.attention_mask, batch.prompt_len)
        return float((adv * lp * batch.response_mask).sum())

    before = surrogate()
    grpo.update(policy, torch.optim.SGD(policy.parameters(), lr=0.05), batch, adv, ret, cfg)
    assert surrogate() > before


def test_get_algo():
    assert get_algo("ppo") is ppo and get_algo("rloo").update is grpo.update
    with pytest.raises(ValueError):
        get_algo("dpo")


# ----------------------------------------------------------------------------- micro-batches (algo.micro_tokens)
def test_length_chunks_partition_rows_within_budget():
    policy = tiny_policy(0).eval()
    batch = random_batch(policy, policy, n_groups=4, P=9, T=8, seed=3)
    am, rm, P = batch.attention_mask, batch.response_mask, batch.prompt_len
    for budget in (1, 20, 40, 64, 10_000):
        chunks = core.length_chunks(am, rm, P, budget)
        rows = torch.cat(chunks).sort().values
        assert torch.equal(rows, torch.arange(am.shape[0]))  # a partition
        for c in chunks:
            width = int(am[c, :P].sum(1).max() + rm[c].sum(1).max())
            assert len(c) == 1 or len(c) * width <= budget
    assert len(core.length_chunks(am, rm, P, 10_000)) == 1
    assert torch.equal(core.length_chunks(am, rm, P, 0)[0], torch.arange(am.shape[0]))  # 0: off, in order


def test_loss_shares_of_micro_batches_sum_to_the_minibatch_loss():
    g = torch.Generator().manual_seed(0)
    loss = torch.randn(6, 5, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0],
                         [1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 0, 0, 0, 0]], dtype=torch.float)
    whole = core.Extent.of(mask)
    parts = [torch.tensor([0, 3]), torch.tensor([1, 2, 5]), torch.tensor([4])]
    for agg in core.LOSS_AGGS:
        full = core.aggregate_loss(loss, mask, agg, 7)
        summed = sum(core.aggregate_loss(loss[p], mask[p], agg, 7, whole) for p in parts)
        assert summed.item() == pytest.approx(full.item(), abs=1e-6), agg
    # token_mean by hand: every real token weighs 1 / 16
    assert sum(core.share(loss[p], mask[p], whole) for p in parts).item() == pytest.approx(
        float((loss * mask).sum() / 16), abs=1e-6)


def test_chunked_forward_matches_one_padded_pass():
    policy = tiny_policy(0).eval()
    batch = random_batch(policy, policy, n_groups=4, P=9, T=8, seed=4)
    fn = lambda i, a, p: core.sequence_logprobs(policy, i, a, p)  # noqa: E731
    whole = core.chunked_response_forward(fn, batch.input_ids, batch.attention_mask, batch.response_mask,
                                          batch.prompt_len, 0)
    parts = core.chunked_response_forward(fn, batch.input_ids, batch.attention_mask, batch.response_mask,
                                          batch.prompt_len, 30)
    m = batch.response_mask
    for a, b in zip(whole, parts):
        assert torch.allclose(a * m, b * m, atol=1e-5)


# ----------------------------------------------------------------------------- shared prompts (algo.share_prompts)
def scalar_head_model(seed: int):
    from prmlab.models import ScalarHeadModel

    torch.manual_seed(seed)
    model = ScalarHeadModel(transformers.GPT2Model(gpt2_config()))
    torch.nn.init.normal_(model.head.weight)  # not the zero init: the test must see the backbone
    return model


def test_prompt_groups_by_hand():
    ids = torch.tensor([[0, 5, 6, 1], [0, 5, 6, 2], [5, 5, 6, 3], [0, 5, 7, 4], [9, 5, 6, 5]])
    am = torch.tensor([[0, 1, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]])
    first, inverse = core.prompt_groups(ids, am, 3)
    # rows 0, 1 and 4 share the prompt [5, 6] (row 4's pad token differs, and padding is ignored);
    # row 2 is [5, 5, 6], row 3 [5, 7]
    assert inverse[0] == inverse[1] == inverse[4] and len({int(x) for x in inverse}) == 3
    assert sorted(first.tolist()) == [0, 2, 3]
    assert torch.equal(inverse[first], torch.arange(3))


def test_shared_prompts_give_the_same_outputs_and_gradients():
    """The prompt columns run once per distinct prompt, the responses on its cached keys and values:
    the same log-probs, entropies, values and gradients as one pass over every row."""
    policy, value_model = tiny_policy(0).eval(), scalar_head_model(2).eval()
    batch = random_batch(policy, policy, n_groups=3, group_size=4, P=9, T=8, seed=6, grouped=True)
    ids, am, P, m = batch.input_ids, batch.attention_mask, batch.prompt_len, batch.response_mask
    assert len(core.prompt_groups(ids, am, P)[0]) == 3  # the batch really shares its prompts
    outs = []
    for share in (False, True):
        policy.zero_grad(set_to_none=True)
        value_model.zero_grad(set_to_none=True)
        lp, ent = core.sequence_logprobs(policy, ids, am, P, share_prompts=share)
        v = core.response_values(value_model, ids, am, P, share)
        ((lp * m).sum() + (v * m).sum()).backward()
        grads = [p.grad.clone() for p in [*policy.parameters(), *value_model.parameters()]]
        outs.append((lp * m, ent * m, v * m, grads))
    (lp0, e0, v0, g0), (lp1, e1, v1, g1) = outs
    assert torch.allclose(lp0, lp1, atol=1e-5) and torch.allclose(e0, e1, atol=1e-5)
    assert torch.allclose(v0, v1, atol=1e-5)
    for a, b in zip(g0, g1):  # float rounding only: relative to each gradient's norm
        assert (a - b).norm() <= 1e-5 * a.norm() + 1e-7


def test_expand_cache_rows_is_batch_select_with_a_deterministic_backward():
    """The shared-prompt cache expansion selects the same rows as transformers' batch_select_indices,
    and its gradient is the same sum every time at 2 threads, where advanced indexing's backward
    (index_put_ with accumulate) sums the duplicate rows in a varying order on a CPU."""
    from transformers import DynamicCache

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        U, G = 16, 8
        rows = torch.arange(U).repeat_interleave(G)[torch.randperm(U * G, generator=torch.Generator().manual_seed(0))]
        keys = torch.randn(U, 4, 60, 32, generator=torch.Generator().manual_seed(1), requires_grad=True)
        weight = torch.randn(U * G, 4, 60, 32, generator=torch.Generator().manual_seed(2))

        def grad(expand):
            keys.grad = None
            cache = DynamicCache()
            cache.update(keys, keys * 2, 0)
            expand(cache)
            k, v = next(iter(cache.layers)).keys, next(iter(cache.layers)).values
            ((k + v) * weight).sum().backward()
            return k.detach(), keys.grad.clone()

        k_ours, g_ours = grad(lambda c: core.expand_cache_rows(c, rows))
        k_hf, _ = grad(lambda c: c.batch_select_indices(rows))
        assert torch.equal(k_ours, k_hf)
        by_hand = torch.zeros_like(keys).index_add_(0, rows, 3 * weight)  # the sum over each prompt's rows
        assert torch.allclose(g_ours, by_hand, atol=1e-5)
        assert all(torch.equal(grad(lambda c: core.expand_cache_rows(c, rows))[1], g_ours) for _ in range(10))
    finally:
        torch.set_num_threads(before)


def test_shared_prompts_expand_the_cache_by_expand_cache_rows(monkeypatch):
    """The shared-prompt forward goes through expand_cache_rows (not transformers' advanced-indexing
    batch_select_indices, whose backward made 2-thread runs differ in the last bits: the smoke
    experiment is too small to show that, so this checks the wiring)."""
    calls = []
    real = core.expand_cache_rows
    monkeypatch.setattr(core, "expand_cache_rows", lambda cache, rows: calls.append(len(rows)) or real(cache, rows))
    policy = tiny_policy(0).eval()
    batch = random_batch(policy, policy, n_groups=3, group_size=4, P=9, T=8, seed=6, grouped=True)
    core.sequence_logprobs(policy, batch.input_ids, batch.attention_mask, batch.prompt_len, share_prompts=True)
    assert calls == [12]


def test_shared_prompts_fall_back_where_the_model_cannot_take_a_cache():
    """A value model whose forward takes no cache, and a DDP-wrapped one, run the rows whole."""
    value_model = TinyValueModel(2).eval()
    batch = random_batch(tiny_policy(0), tiny_policy(0), n_groups=2, group_size=3, P=7, T=5, seed=1, grouped=True)
    ids, am, P = batch.input_ids, batch.attention_mask, batch.prompt_len
    assert not core.can_share_prompts(value_model)
    with torch.no_grad():
        assert torch.equal(core.response_values(value_model, ids, am, P, True),
                           core.response_values(value_model, ids, am, P, False))

    class Wrapped(torch.nn.Module):  # what DDP looks like to core: a module with no_sync
        def no_sync(self):
            pass
    assert not core.can_share_prompts(Wrapped()) and core.can_share_prompts(tiny_policy(0))


def test_length_chunks_keep_a_prompts_rows_together():
    policy = tiny_policy(0).eval()
    batch = random_batch(policy, policy, n_groups=4, group_size=4, P=9, T=8, seed=7, grouped=True)
    am, rm, P = batch.attention_mask, batch.response_mask, batch.prompt_len
    _, prompt_of = core.prompt_groups(batch.input_ids, am, P)
    for budget in (1, 30, 60, 10_000):
        chunks = core.length_chunks(am, rm, P, budget, prompt_of)
        assert torch.equal(torch.cat(chunks).sort().values, torch.arange(am.shape[0]))  # a partition
        for c in chunks:
            cost = len(set(prompt_of[c].tolist())) * int(am[c, :P].sum(1).max()) + len(c) * int(rm[c].sum(1).max())
            assert len(c) == 1 or cost <= budget
        if budget == 10_000:
            assert len(chunks) == 1
    # a budget that holds one group's rows never splits a group across pieces
    g0 = (prompt_of == prompt_of[0]).nonzero().flatten()
    budget = int(am[g0, :P].sum(1).max()) + len(g0) * int(rm[g0].sum(1).max())
    chunks = core.length_chunks(am, rm, P, budget, prompt_of)
    assert sum(1 for c in chunks if set(c.tolist()) & set(g0.tolist())) == 1


@pytest.mark.parametrize("name", ["ppo", "grpo"])
@pytest.mark.parametrize("micro", [0, 30])
def test_update_with_shared_prompts_equals_unshared_update(name, micro):
    """algo.share_prompts changes how a forward runs, never the update (float rounding)."""
    results = []
    for share in (False, True):
        policy, ref = tiny_policy(0), tiny_policy(1)
        value_model = scalar_head_model(2) if name == "ppo" else None
        batch = random_batch(policy, ref, value_model, n_groups=4, P=9, T=8, seed=8, grouped=True)
        cfg = algo_cfg(name=name, micro_tokens=micro, minibatch_size=8, share_prompts=share,
                       kl_estimator="k1" if name == "ppo" else "k3")
        algo = get_algo(name)
        adv, ret = algo.compute_advantages(batch, cfg)
        torch.manual_seed(7)
        extra = {}
        if value_model is not None:
            extra = dict(value_model=value_model, value_optimizer=torch.optim.AdamW(value_model.parameters(), lr=1e-3))
        stats = algo.update(policy, torch.optim.AdamW(policy.parameters(), lr=1e-3), batch, adv, ret, cfg, **extra)
        vec = params_vector(policy) if value_model is None else torch.cat([params_vector(policy), params_vector(value_model)])
        results.append((vec, stats))
    (p0, s0), (p1, s1) = results
    assert torch.allclose(p0, p1, atol=1e-5)
    for k in s0:
        assert s1[k] == pytest.approx(s0[k], rel=1e-4, abs=1e-6), k


@pytest.mark.parametrize("name", ["ppo", "grpo"])
@pytest.mark.parametrize("loss_agg", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"])
def test_micro_batched_update_equals_whole_minibatch_update(name, loss_agg):
    """Gradient accumulation over length-sorted micro-batches is the same update (float rounding)."""
    results = []
    for micro in (0, 30):
        policy, ref = tiny_policy(0), tiny_policy(1)
        value_model = TinyValueModel(2) if name == "ppo" else None
        batch = random_batch(policy, ref, value_model, n_groups=4, P=9, T=8, seed=5)
        cfg = algo_cfg(name=name, loss_agg=loss_agg, micro_tokens=micro, minibatch_size=8,
                       kl_estimator="k1" if name == "ppo" else "k3")
        algo = get_algo(name)
        adv, ret = algo.compute_advantages(batch, cfg)
        torch.manual_seed(7)  # the same minibatch permutations
        extra = {}
        if value_model is not None:
            extra = dict(value_model=value_model, value_optimizer=torch.optim.AdamW(value_model.parameters(), lr=1e-3))
        stats = algo.update(policy, torch.optim.AdamW(policy.parameters(), lr=1e-3), batch, adv, ret, cfg, **extra)
        results.append((params_vector(policy), stats))
    (p0, s0), (p1, s1) = results
    assert torch.allclose(p0, p1, atol=1e-5)
    assert s0.keys() == s1.keys()
    for k in s0:
        assert s1[k] == pytest.approx(s0[k], rel=1e-4, abs=1e-6), k


def test_gradient_sync_skips_ddp_all_reduce_until_the_last_micro_batch():
    """Under DDP every backward all-reduces unless inside ``no_sync``: ranks whose rows need a
    different number of micro-batches would make different numbers of collective calls. Only the
    last piece may sync; plain modules and None pass through."""
    from prmlab.algos.core import gradient_sync

    class Wrapped(torch.nn.Linear):
        entered = 0

        def no_sync(self):
            from contextlib import contextmanager

            @contextmanager
            def ctx():
                Wrapped.entered += 1
                yield
            return ctx()

    m, plain = Wrapped(2, 2), torch.nn.Linear(2, 2)
    lasts = [last for *_, last in core.micro_batches(
        {"input_ids": torch.ones(6, 5, dtype=torch.long), "attention_mask": torch.ones(6, 5, dtype=torch.long),
         "mask": torch.ones(6, 3)}, 2, 10)]
    assert lasts == [False, False, True]  # 6 rows of 5 columns, 10 positions per piece: 3 pieces
    for last in lasts:
        with gradient_sync(last, m, plain, None):
            pass
    assert Wrapped.entered == 2


def test_token_values_with_shared_prompts_read_each_tokens_own_column():
    """The PRM's scores (prmlab/prm/use.py:prm_line_scores) are its outputs at the response tokens'
    own columns P..L-1; with shared prompts they are the same values."""
    prm = scalar_head_model(3).eval()
    batch = random_batch(tiny_policy(0), tiny_policy(0), n_groups=3, group_size=4, P=9, T=8, seed=9, grouped=True)
    ids, am, P, m = batch.input_ids, batch.attention_mask, batch.prompt_len, batch.response_mask
    with torch.no_grad():
        full = prm(ids, am)
        whole = core.token_values(prm, ids, am, P)
        shared = core.token_values(prm, ids, am, P, share_prompts=True)
        before = core.response_values(prm, ids, am, P, share_prompts=True)
    assert torch.equal(whole, full[:, P:].float())
    assert torch.allclose(shared * m, whole * m, atol=1e-5)
    assert torch.allclose(before * m, full[:, P - 1:-1] * m, atol=1e-5)  # and the column before, for V(s_t)
