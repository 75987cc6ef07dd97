"""PPO with a learned critic, per-token KL penalty and GAE (the PRM paper's RL baseline).

Algorithm (Schulman et al., 2017, "Proximal Policy Optimization Algorithms"; the RLHF form of
Ziegler et al., 2019 and Ouyang et al., 2022, which the PRM paper follows):

1. Per-token reward on response tokens t = 0..T-1 of each rollout:
       r_t = task_t - beta * kl_t,   kl_t = KL-estimator(log pi_old(a_t|s_t), log pi_ref(a_t|s_t))
   ``task_t`` is ``batch.rewards``: the outcome reward on the last response token plus any dense
   PRM terms on line-end tokens (prmlab.rewards). The KL penalty sits on every token, as in
   Ouyang et al. (2022). The estimator is ``cfg.kl_estimator``; the recipe (conf/algo/ppo.yaml)
   is k1 = log pi_old - log pi_ref (Ziegler et al., 2019; Stiennon et al., 2020), whose sum over
   the response is the sampled log-ratio of the whole sequence. Why k1 and not k3: a penalty in
   the reward is detached, so what reaches the policy is its score-function gradient
   E_pi[k(a) ∇ log pi(a)]. For k1 this is exactly ∇ KL(pi‖ref) (E_pi[∇ log pi] = 0). For
   k3 = ref/pi - 1 - log(ref/pi) it is ∇ KL(pi‖ref) - ∇ KL(ref‖pi): the two terms agree to
   second order near the reference and nearly cancel, leaving a few percent of the true KL
   gradient. k3's low variance and non-negativity matter for its *value*, not for this
   gradient, so k3 (or k2) in PPO's reward is an ablation, not the recipe.
2. GAE (Schulman et al., 2016) with the critic values V(s_t) recorded at sampling time:
       delta_t = r_t + gamma V(s_{t+1}) - V(s_t),   A_t = delta_t + gamma lam A_{t+1},
   V = 0 after the last token (the episode ends there); returns R_t = A_t + V(s_t) (the lambda-
   return) are the critic's targets. Optionally A is whitened over all response tokens of the
   batch (``cfg.whiten_advantages``; standard in PPO implementations, Huang et al., 2022,
   "The 37 implementation details of PPO").
3. ``cfg.epochs`` passes over shuffled minibatches of ``cfg.minibatch_size`` rollouts, each step
   minimising
       L = agg(max(-A r, -A clip(r, 1-eps, 1+eps))) - c_H agg(H) + c_V agg(L_V),
       r = pi_theta(a_t|s_t) / pi_old(a_t|s_t),
       L_V = 0.5 max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)   (plain 0.5 (V-R)^2 when
             ``value_clip`` is null; value clipping as in OpenAI baselines' PPO2),
   where agg is ``cfg.loss_agg`` (prmlab.algos.core). Policy and critic are separate networks
   with separate optimisers; each has its gradient clipped to ``max_grad_norm``.

Alignment: ``values[:, t]`` is V(s_t), the value model's output at the column just before
response token t (the column whose logits score token t); see prmlab.algos.core. Fill
``RolloutBatch.values`` with ``response_values`` so sampling and training agree.

Departures from the paper's recipe:
  1. The policy and critic are run with dropout off during updates (see ``core.eval_mode``).
  2. The value loss uses the same ``loss_agg`` as the policy loss.
  3. Advantages are whitened over the batch (``algo.whiten_advantages``), as PPO implementations
     do; the paper does not say.
  Ablations measured against the recipe: ``algo.lam=1.0`` (Monte-Carlo advantages: the critic is
  then only a baseline), ``algo.kl_estimator=k3`` (algorithm step 1), ``algo.oversample>1`` (dynamic
  sampling, which drops the all-fail groups DenseReward exists for).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from prmlab.algos.core import (
    Extent, StatsMean, accumulate_gradients, aggregate_loss, clipped_policy_loss, clipped_value_loss, eval_mode,
    explained_variance, gae, kl_penalty, masked_mean, masked_whiten, minibatch_indices, response_values,
    select_minibatch, sequence_logprobs, share,
)

__all__ = ["compute_advantages", "update", "response_values"]


@torch.no_grad()
def compute_advantages(batch, cfg) -> tuple[Tensor, Tensor]:
    """GAE advantages and lambda-returns ``[B, T]`` from KL-penalised per-token rewards."""
    if batch.values is None:
        raise ValueError("PPO needs batch.values (fill them with prmlab.algos.core.response_values)")
    mask = batch.response_mask.float()
    rewards = batch.rewards.float()
    if cfg.kl_coef:
        rewards = rewards - cfg.kl_coef * kl_penalty(batch.logprobs.float(), batch.ref_logprobs.float(),
                                                     cfg.kl_estimator)
    advantages, returns = gae(rewards * mask, batch.values.float(), mask, cfg.gamma, cfg.lam)
    if cfg.whiten_advantages:
        advantages = masked_whiten(advantages, mask)
    return advantages, returns


def update(policy, optimizer, batch, advantages: Tensor, returns: Tensor, cfg, *,
           value_model=None, value_optimizer=None) -> dict[str, float]:
    """Clipped-ratio policy steps and (clipped) value regression; returns mean ``losses/*`` stats."""
    if value_model is None or value_optimizer is None:
        raise ValueError("PPO update needs value_model and value_optimizer")
    if returns is None or batch.values is None:
        raise ValueError("PPO update needs returns and batch.values (see compute_advantages)")
    device = next(policy.parameters()).device
    max_norm = cfg.max_grad_norm or float("inf")  # 0/null: measure the norm, do not clip
    stats = StatsMean()
    with eval_mode(policy, value_model):
        for _ in range(cfg.epochs):
            for idx in minibatch_indices(batch.input_ids.shape[0], cfg.minibatch_size):
                mb, prompt_len = select_minibatch(batch, idx, device, advantages=advantages, returns=returns,
                                                  values=batch.values)
                optimizer.zero_grad(set_to_none=True)
                value_optimizer.zero_grad(set_to_none=True)
                # the minibatch's loss is the sum of its micro-batches' shares: accumulate their gradients
                sums = accumulate_gradients(lambda part, p, whole: _loss_share(policy, value_model, part, p, whole, cfg),
                                            mb, prompt_len, cfg.micro_tokens, policy, value_model,
                                            share_prompts=cfg.share_prompts)
                grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), max_norm)
                value_grad_norm = torch.nn.utils.clip_grad_norm_(value_model.parameters(), max_norm)
                optimizer.step()
                value_optimizer.step()
                stats.add(**sums, **{"losses/grad_norm": grad_norm, "losses/value_grad_norm": value_grad_norm})
    out = stats.means()
    # CleanRL's definition: how much of the return variance the sampling-time critic explained
    out["losses/explained_variance"] = explained_variance(
        batch.values.float(), returns.float(), batch.response_mask.float())
    out["losses/value_mean"] = float(masked_mean(batch.values.float(), batch.response_mask.float()))
    out["losses/return_mean"] = float(masked_mean(returns.float(), batch.response_mask.float()))
    return out


def _loss_share(policy, value_model, mb: dict, prompt_len: int, whole: Optional[Extent], cfg) -> tuple[Tensor, dict]:
    """One micro-batch's share of the minibatch's PPO loss (algorithm step 3), and its share of
    each logged statistic (``whole=None``: the micro-batch is the whole minibatch)."""
    mask = mb["mask"]
    # policy: clipped surrogate (+ optional entropy bonus)
    logprobs, entropy = sequence_logprobs(policy, mb["input_ids"], mb["attention_mask"], prompt_len,
                                          temperature=cfg.temperature, entropy_grad=bool(cfg.entropy_coef),
                                          share_prompts=cfg.share_prompts)
    pg_mat, clipped, ratio = clipped_policy_loss(logprobs, mb["old_logprobs"], mb["advantages"], cfg.clip_eps)
    pg_loss = aggregate_loss(pg_mat, mask, cfg.loss_agg, cfg.max_new_tokens, whole)
    entropy_loss = aggregate_loss(entropy, mask, cfg.loss_agg, cfg.max_new_tokens, whole)

    # critic: regression to the lambda-returns, pessimistically clipped around V_old
    new_values = response_values(value_model, mb["input_ids"], mb["attention_mask"], prompt_len, cfg.share_prompts)
    vf_mat, v_clipped = clipped_value_loss(new_values, mb["values"], mb["returns"], cfg.value_clip)
    vf_loss = aggregate_loss(vf_mat, mask, cfg.loss_agg, cfg.max_new_tokens, whole)

    loss = pg_loss - cfg.entropy_coef * entropy_loss + cfg.vf_coef * vf_loss
    with torch.no_grad():
        stats = {
            "losses/policy": pg_loss,
            "losses/value": vf_loss,
            "losses/total": loss,
            "losses/entropy": share(entropy, mask, whole),
            "losses/kl": share(kl_penalty(logprobs, mb["ref_logprobs"], cfg.kl_estimator), mask, whole),
            # KL(pi_old || pi_theta), k3 estimate from pi_old's samples: how far this step moved
            "losses/approx_kl": share(kl_penalty(mb["old_logprobs"], logprobs, "k3"), mask, whole),
            "losses/clip_frac": share(clipped, mask, whole),
            "losses/ratio": share(ratio, mask, whole),
            "losses/value_clip_frac": share(v_clipped, mask, whole),
        }
    return loss, stats
