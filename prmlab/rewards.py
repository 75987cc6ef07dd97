"""Outcome rewards as per-token tensors ``[B, T]`` (docs/DESIGN.md, "Contracts"), reward density,
and the group selection of dynamic sampling.

* Outcome reward, one scalar per response, from its sandbox ``Verdict``:
    binary     pass_value if every test passes else fail_value   (PRM paper: 1/0, or +1/-1)
    pass_rate  fraction of the problem's tests that pass, in [0, 1] (the pass-rate study)
  placed on the *last real response token* (the action that completes the program), so the
  per-token tensor sums to the score.
* DenseReward, the PRM's per-line terms added to these tensors, lives with the PRM's other use
  in RL: ``prmlab.prm.use``.
* The KL penalty is *not* here: it depends on the algorithm (PPO adds it to these rewards,
  GRPO/RLOO use it as a loss term), see prmlab.algos.

``reward_density`` gives the pass-rate study's density measures for a batch of scores.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from prmlab.types import Verdict

OUTCOME_REWARDS = ("binary", "pass_rate")


def outcome_scores(verdicts: Sequence[Verdict], cfg) -> Tensor:
    """Scalar outcome reward per response ``[B]`` (float32) for ``cfg.name`` in OUTCOME_REWARDS."""
    if cfg.name == "binary":
        values = [cfg.pass_value if v.all_passed else cfg.fail_value for v in verdicts]
    elif cfg.name == "pass_rate":
        values = [v.pass_rate for v in verdicts]
    else:
        raise ValueError(f"unknown reward {cfg.name!r}; expected one of {OUTCOME_REWARDS}")
    return torch.tensor(values, dtype=torch.float32)


def reward_range(cfg) -> tuple[float, float]:
    """The outcome reward's (lowest, highest) value: (fail_value, pass_value) or (0, 1) for pass_rate."""
    if cfg.name == "binary":
        return float(cfg.fail_value), float(cfg.pass_value)
    if cfg.name == "pass_rate":
        return 0.0, 1.0
    raise ValueError(f"unknown reward {cfg.name!r}; expected one of {OUTCOME_REWARDS}")


def last_token_index(response_mask: Tensor) -> Tensor:
    """Column of the last real token of each row ``[B]`` (-1 for an empty response)."""
    cols = torch.arange(response_mask.shape[1], device=response_mask.device)
    return torch.where(response_mask > 0, cols, torch.full_like(cols, -1)).amax(dim=1)


def outcome_reward_tensor(scores: Tensor, response_mask: Tensor) -> Tensor:
    """``[B, T]`` zeros with ``scores[i]`` on the last real token of response i.

    An empty response (no token at all) has no action to credit and gets no reward; the sampler
    always emits at least one token (EOS), so this does not happen in training.
    """
    rewards = torch.zeros(response_mask.shape, dtype=torch.float32, device=response_mask.device)
    last = last_token_index(response_mask)
    rows = (last >= 0).nonzero(as_tuple=True)[0]
    rewards[rows, last[rows]] = scores.to(rewards)[rows]
    return rewards


def _group_range(scores: Tensor, group_ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(group index of each sample [B], max score of each group [n], min score of each group [n])."""
    _, idx = torch.unique(group_ids.flatten(), return_inverse=True)
    n = int(idx.max()) + 1 if idx.numel() else 0
    hi = torch.full((n,), -float("inf"), device=scores.device).scatter_reduce(0, idx, scores, "amax")
    lo = torch.full((n,), float("inf"), device=scores.device).scatter_reduce(0, idx, scores, "amin")
    return idx, hi, lo


def reward_density(scores: Tensor, group_ids: Tensor) -> dict[str, float]:
    """The pass-rate study's reward-density measures for one batch.

    ``reward/nonzero_group_var_frac``: share of prompt groups whose scores are not all equal
    (variance > 0), i.e. groups that give a group-relative algorithm any gradient;
    ``reward/nonzero_frac``: share of samples whose score is not 0.
    """
    scores = scores.float().flatten()
    _, hi, lo = _group_range(scores, group_ids)
    n = len(hi)
    return {
        "reward/nonzero_group_var_frac": float((hi > lo).float().mean()) if n else 0.0,
        "reward/nonzero_frac": float((scores != 0).float().mean()) if scores.numel() else 0.0,
    }


def select_groups(returns: Tensor, group_ids: Tensor, n_groups: int,
                  outcomes: Optional[Tensor] = None) -> tuple[Tensor, int]:
    """Rows of ``n_groups`` prompt groups: those whose outcomes disagree first.

    DAPO's dynamic sampling (Yu et al., 2025): a group whose samples all score the same gets zero
    advantage under GRPO/RLOO and only dilutes the batch, so the trainer samples
    ``algo.oversample`` times more prompts than it trains on and keeps the groups that disagree.
    Departure from DAPO, which keeps sampling until the batch is full of such groups: the
    oversampling factor is fixed, and when too few groups disagree the batch is filled with the
    others (in order), so every step trains on the same number of rollouts (and data-parallel
    ranks stay in step).

    Priority, in three tiers, each in order of first appearance: groups whose *outcome* scores
    (``outcomes``, the unit-test reward) disagree; then groups whose sequence ``returns`` (outcome
    plus dense PRM terms) disagree although their outcomes do not, i.e. all-failing groups the PRM
    tells apart; then uniform groups. Ranking on outcomes first keeps DenseReward runs on the same
    outcome signal as their baseline: ranking on returns alone would count nearly every group as
    varied under a dense reward and silently turn dynamic sampling off (the first Table 1 runs
    did). Without ``outcomes`` (or when they equal the returns) this is plain DAPO selection.
    Returns ``(sorted row indices [n_rows] long, number of kept groups whose outcomes disagree)``.
    """
    outcomes = returns if outcomes is None else outcomes
    idx, hi, lo = _group_range(outcomes.detach().float().flatten().cpu(), group_ids.cpu())
    _, rhi, rlo = _group_range(returns.detach().float().flatten().cpu(), group_ids.cpu())
    order = list(dict.fromkeys(idx.tolist()))  # group indices in order of first appearance
    varied = [g for g in order if hi[g] > lo[g]]
    dense_only = [g for g in order if not hi[g] > lo[g] and rhi[g] > rlo[g]]
    rest = [g for g in order if not hi[g] > lo[g] and not rhi[g] > rlo[g]]
    keep = (varied + dense_only + rest)[:n_groups]
    rows = torch.isin(idx, torch.tensor(keep, dtype=idx.dtype)).nonzero().flatten()
    return rows, min(len(varied), n_groups)
