"""GRPO: critic-free clipped policy optimisation with a group-mean baseline.

Algorithm (Shao et al., 2024, "DeepSeekMath", Sec. 4.1, outcome supervision):

1. For each prompt, G responses o_1..o_G are sampled (consecutive rows sharing ``group_ids``).
   Each response gets one scalar score
       s_i = sum_t rewards[i, t]
   i.e. the sum of its per-token task rewards. With outcome rewards only this *is* the outcome
   reward (binary or pass rate, on the last token). With DenseReward the PRM terms on line-end
   tokens enter as part of this sequence return, so GRPO sees PRM shaping as a change of the
   response's score rather than as per-token credit (there is no critic to propagate it).
2. Advantage, broadcast to every response token:
       A_i = (s_i - mean(s_group)) / (std(s_group) + eps)   if ``scale_by_std``   (DeepSeekMath)
       A_i =  s_i - mean(s_group)                           otherwise            (Dr. GRPO,
   Liu et al., 2025, who argue the std division over-weights near-uniform groups).
   std is Bessel-corrected, as in the reference GRPO implementations; groups with equal scores
   get A = 0 and so contribute no gradient (the "reward density" the pass-rate study measures).
   With ``prm.credit=step`` the PRM's per-line completability credit ``batch.credit`` [B, T] is
   added per token, A_{i,t} = A_i + beta c_{i,line(t)} (prmlab.prm.credit; RLOO does the same).
3. ``cfg.epochs`` passes over shuffled minibatches, minimising per token
       L_t = max(-A r_t, -A clip(r_t, 1-eps, 1+eps)) + beta * KL_t(pi_theta || pi_ref)
   aggregated by ``cfg.loss_agg`` (prmlab.algos.core; the original paper averages per sequence,
   ``seq_mean_token_mean``). The KL term is a loss term (not a reward), estimated with
   ``cfg.kl_estimator`` (DeepSeekMath uses k3, the default), and is off when ``kl_coef == 0``.
   An optional entropy bonus ``- entropy_coef * agg(H)`` is subtracted.

Departures: the ratio uses the sampling-time log-probs ``batch.logprobs`` as pi_old for all
epochs (as in the paper's multi-iteration variant); forward passes run with dropout off.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from prmlab.algos.core import (
    Extent, StatsMean, accumulate_gradients, aggregate_loss, clipped_policy_loss, eval_mode, group_advantages,
    kl_penalty, masked_sum, minibatch_indices, select_minibatch, sequence_logprobs, share,
)

__all__ = ["compute_advantages", "update", "sequence_scores"]


def sequence_scores(batch) -> Tensor:
    """s_i = sum of the per-token task rewards of response i (outcome + dense PRM terms)."""
    return masked_sum(batch.rewards.float(), batch.response_mask.float(), dim=1)


@torch.no_grad()
def compute_advantages(batch, cfg) -> tuple[Tensor, None]:
    """Group-normalised advantages ``[B, T]`` (constant over each response's tokens); no returns."""
    adv = group_advantages(sequence_scores(batch), batch.group_ids, cfg.scale_by_std)
    adv = adv[:, None] * batch.response_mask.float()
    # prm.credit=step: the PRM's per-line completability credit (prmlab.prm.credit), 0 off the response
    return (adv if batch.credit is None else adv + batch.credit * batch.response_mask.float()), None


def update(policy, optimizer, batch, advantages: Tensor, returns, cfg, *,
           value_model=None, value_optimizer=None) -> dict[str, float]:
    """Clipped-ratio steps with a KL-to-reference loss term; returns mean ``losses/*`` stats.

    ``returns``, ``value_model`` and ``value_optimizer`` are accepted for a uniform signature
    across algorithms and ignored (GRPO has no critic).
    """
    device = next(policy.parameters()).device
    max_norm = cfg.max_grad_norm or float("inf")  # 0/null: measure the norm, do not clip
    stats = StatsMean()
    with eval_mode(policy):
        for _ in range(cfg.epochs):
            for idx in minibatch_indices(batch.input_ids.shape[0], cfg.minibatch_size):
                mb, prompt_len = select_minibatch(batch, idx, device, advantages=advantages)
                optimizer.zero_grad(set_to_none=True)
                # the minibatch's loss is the sum of its micro-batches' shares: accumulate their gradients
                sums = accumulate_gradients(lambda part, p, whole: _loss_share(policy, part, p, whole, cfg),
                                            mb, prompt_len, cfg.micro_tokens, policy, share_prompts=cfg.share_prompts)
                grad_norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), max_norm)
                optimizer.step()
                stats.add(**sums, **{"losses/grad_norm": grad_norm})
    out = stats.means()
    # share of rollouts whose advantage is non-zero: the ones that carry any gradient
    out["losses/nonzero_adv_frac"] = float((advantages.abs().sum(1) > 0).float().mean())
    return out


def _loss_share(policy, mb: dict, prompt_len: int, whole: Optional[Extent], cfg) -> tuple[Tensor, dict]:
    """One micro-batch's share of the minibatch's clipped-ratio + KL loss, and its share of each
    logged statistic (``whole=None``: the micro-batch is the whole minibatch)."""
    mask = mb["mask"]
    logprobs, entropy = sequence_logprobs(policy, mb["input_ids"], mb["attention_mask"], prompt_len,
                                          temperature=cfg.temperature, entropy_grad=bool(cfg.entropy_coef),
                                          share_prompts=cfg.share_prompts)
    pg_mat, clipped, ratio = clipped_policy_loss(logprobs, mb["old_logprobs"], mb["advantages"], cfg.clip_eps)
    kl_mat = kl_penalty(logprobs, mb["ref_logprobs"], cfg.kl_estimator)
    loss_mat = pg_mat + cfg.kl_coef * kl_mat if cfg.kl_coef else pg_mat
    loss = aggregate_loss(loss_mat, mask, cfg.loss_agg, cfg.max_new_tokens, whole)
    if cfg.entropy_coef:
        loss = loss - cfg.entropy_coef * aggregate_loss(entropy, mask, cfg.loss_agg, cfg.max_new_tokens, whole)
    with torch.no_grad():
        stats = {
            "losses/policy": aggregate_loss(pg_mat, mask, cfg.loss_agg, cfg.max_new_tokens, whole),
            "losses/total": loss,
            "losses/kl": share(kl_mat, mask, whole),
            "losses/entropy": share(entropy, mask, whole),
            # KL(pi_old || pi_theta), k3 estimate from pi_old's samples: how far this step moved
            "losses/approx_kl": share(kl_penalty(mb["old_logprobs"], logprobs, "k3"), mask, whole),
            "losses/clip_frac": share(clipped, mask, whole),
            "losses/ratio": share(ratio, mask, whole),
        }
    return loss, stats
