"""Padding rollouts into tensors, and the rollout-shape monitors logged every RL step."""
from __future__ import annotations

import torch

from prmlab.prm.label import is_neutral_line
from prmlab.types import Rollout


def pad_batch(rollouts: list[Rollout], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Left-pad prompts to P, right-pad responses to T: input_ids/attention [B,P+T], response mask [B,T]."""
    P = max(len(r.prompt_ids) for r in rollouts)
    T = max(1, max(len(r.response_ids) for r in rollouts))
    B = len(rollouts)
    ids = torch.full((B, P + T), pad_id, dtype=torch.long)
    attn = torch.zeros((B, P + T), dtype=torch.long)
    mask = torch.zeros((B, T))
    for b, r in enumerate(rollouts):
        p, n = len(r.prompt_ids), len(r.response_ids)
        ids[b, P - p : P] = torch.tensor(r.prompt_ids)
        ids[b, P : P + n] = torch.tensor(r.response_ids, dtype=torch.long)
        attn[b, P - p : P + n] = 1
        mask[b, :n] = 1
    return ids, attn, mask, P


def rollout_stats(rollouts: list[Rollout]) -> dict:
    """The reward-hacking monitors: response length (tokens, lines), comment-line share, truncation."""
    n_lines = [len(r.lines) for r in rollouts]
    comments = sum(sum(1 for l in r.lines if l.strip() and is_neutral_line(l)) for r in rollouts)
    return {
        "rollout/response_tokens": sum(len(r.response_ids) for r in rollouts) / len(rollouts),
        "rollout/response_lines": sum(n_lines) / len(rollouts),
        "rollout/comment_line_frac": comments / max(1, sum(n_lines)),
        "rollout/truncated_frac": sum(not r.finished for r in rollouts) / len(rollouts),
    }
