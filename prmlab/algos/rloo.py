"""RLOO: critic-free clipped policy optimisation with a leave-one-out baseline.

Algorithm (REINFORCE with k samples and the leave-one-out baseline of Kool et al., 2019, "Buy 4
REINFORCE samples, get a baseline for free!"; applied to LLM RL by Ahmadian et al., 2024, "Back to
Basics"):

1. As in GRPO, each response gets one scalar score s_i = sum_t rewards[i, t] (the outcome reward,
   plus the dense PRM terms when DenseReward is on, as part of the sequence return).
2. Advantage, broadcast to every response token:
       A_i = s_i - 1/(G-1) sum_{j != i} s_j      ( = G/(G-1) (s_i - mean(s_group)) )
   The baseline excludes the sample itself, so it is independent of o_i and the estimator stays
   unbiased; there is no std division (``cfg.scale_by_std`` is ignored). A group of one sample
   has no baseline and gets A = 0.
3. Optimisation is GRPO's: ``cfg.epochs`` passes over minibatches with the clipped ratio (with
   one epoch and one minibatch the ratio is 1 and this is exactly on-policy RLOO), the KL to the
   reference as a loss term with ``cfg.kl_estimator`` (off when ``kl_coef == 0``), and
   ``cfg.loss_agg`` aggregation. See prmlab.algos.grpo.update.

Choice: KL as a loss term, not in the reward. Ahmadian et al. fold beta * KL into the sequence
reward before the leave-one-out baseline. We keep it in the loss, exactly as GRPO does, because
the pass-rate study compares GRPO and RLOO as advantage estimators: with the same KL treatment
the baseline is the *only* difference between the two, and a prompt group whose task scores are
all equal gives exactly zero policy-gradient signal in both (the reward-density analysis relies
on that; with KL in the reward, sampling noise in the KL would make every group "non-zero").
"""
from __future__ import annotations

import torch
from torch import Tensor

from prmlab.algos.core import rloo_advantages
from prmlab.algos.grpo import sequence_scores
from prmlab.algos.grpo import update  # identical clipped-ratio + KL-loss step; only the baseline differs

__all__ = ["compute_advantages", "update"]


@torch.no_grad()
def compute_advantages(batch, cfg) -> tuple[Tensor, None]:
    """Leave-one-out advantages ``[B, T]`` (constant over each response's tokens); no returns."""
    adv = rloo_advantages(sequence_scores(batch), batch.group_ids)
    adv = adv[:, None] * batch.response_mask.float()
    # prm.credit=step: the PRM's per-line completability credit (prmlab.prm.credit), 0 off the response
    return (adv if batch.credit is None else adv + batch.credit * batch.response_mask.float()), None
