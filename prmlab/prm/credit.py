"""Completability credit for critic-free RL (GRPO, RLOO): the PRM's per-line signal without a critic.

Neither paper combines these pieces. The PRM paper uses its PRM inside PPO (DenseReward, ValueInit);
the pass-rate study asks for a reward that tracks progress toward full correctness rather than the
share of tests passed. Both variants below use the trained PRM's score of each prefix,

    v_{i,j} = clamp(PRM(x_i, s_1..s_j), -1, 1)     (label scale: +1 completable, -1 not; use.py)

on *failing* responses only (a passing response keeps its outcome reward, as DenseReward's
lambda_pass = 0 does), and only at *code* lines: a comment or blank line (``is_neutral_line``, the
PRM's neutral label) earns nothing, so padding a response with comments cannot raise what it gets.

``prm.credit=step`` (variant a, a per-token advantage term). Line j's step credit is how much it
changed the prefix's completability,

    d_{i,j} = v_{i,j} - v_{i,prev(j)}     for code line j, where prev(j) is the previous code line
                                          and v_{i,prev} = 0 before the first one (the label scale's
                                          neutral point: the first line earns what it establishes)
    d_{i,j} = 0                           for neutral lines and for every line of a passing response,

so the d's of a failing response telescope to its last code line's score. Within each prompt
group g the credits are scaled by their root mean square over the group's failing code lines,

    c_{i,j} = d_{i,j} / max(rms_g(d), RMS_FLOOR),

not centred: a line that leaves completability unchanged keeps credit 0 (centring would give every
comment line the negative of the mean, i.e. a reward for padding when the group's lines mostly lose
completability). RMS_FLOOR keeps a group whose PRM scores barely move from being blown up to
full-size credit. Every token of line j, from the token after line j-1's line-end token through
line j's own line-end token, gets beta * c_{i,j} (beta = ``prm.credit_coef``), and the algorithm adds
this ``[B, T]`` term to its group-relative outcome advantage:

    A_{i,t} = A^outcome_i + beta * c_{i,line(t)}.

An all-fail group has A^outcome = 0, so this is the only signal its responses carry.

``prm.credit=shaped`` (variant b, a reward). A failing response's outcome reward is raised by the
PRM's completable share of its code lines, calibrated so that it never reaches a pass:

    share_i = mean over code lines j of (v_{i,j} + 1) / 2    in [0, 1]
    R_i = pass_value                               if response i passes,
    R_i = fail_value + kappa (pass_value - fail_value) share_i   otherwise,  kappa = prm.credit_coef < 1,

placed on the last response token like the outcome reward (``prmlab.rewards``), so GRPO and RLOO see
it in the sequence score. It needs ``reward=binary`` (a pass-rate reward can already be near a
pass on a failing response); ``prmlab.validation`` refuses the rest.

Departures and choices (none of them from a paper; this is an extension):
  1. v_0 = 0 rather than a PRM score of the empty prefix: the PRM is trained at line ends only.
  2. When several lines end in one token (BPE merges "\\n\\n"), the later lines' credits add to that
     token, as DenseReward's terms do.
  3. beta and kappa default to 0.5 (``CREDIT_COEF``), the PRM paper's lambda_fail, chosen before any
     run and not tuned.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from prmlab.prm.label import is_neutral_line
from prmlab.prm.use import load_prm, prm_line_scores
from prmlab.rewards import outcome_reward_tensor, reward_range
from prmlab.types import Rollout

CREDITS: tuple[str, ...] = ("step", "shaped")  # prm.credit (null: off)
CREDIT_COEF = 0.5  # beta (step) or kappa (shaped) when prm.credit_coef is null (departure 3)
RMS_FLOOR = 0.1  # the least scale a group's step credits are divided by


def credit_coef(prm_cfg) -> float:
    """``prm.credit_coef``, or CREDIT_COEF when it is null."""
    coef = prm_cfg.get("credit_coef")  # absent from a stage's cfg when null (an optional read)
    return CREDIT_COEF if coef is None else float(coef)


def step_differences(scores: Sequence[float], lines: Sequence[str]) -> list[float]:
    """d_j per line of one failing response: v_j - v_prev(j) at code lines, 0 at neutral lines."""
    if len(scores) != len(lines):
        raise ValueError(f"{len(scores)} PRM scores for {len(lines)} lines")
    out, prev = [], 0.0
    for v, line in zip(scores, lines):
        if is_neutral_line(line):
            out.append(0.0)
            continue
        v = min(1.0, max(-1.0, float(v)))
        out.append(v - prev)
        prev = v
    return out


def step_credit_tensor(prm_scores: Sequence[Sequence[float]], lines: Sequence[Sequence[str]],
                       line_end_tokens: Sequence[Sequence[int]], passed: Sequence[bool], group_ids: Tensor,
                       T: int, coef: float) -> Tensor:
    """``[B, T]`` beta * c_{i,line(t)}: each failing response's group-scaled step credits spread over
    the tokens of their lines (variant a of the module docstring); 0 on passing responses."""
    B = len(prm_scores)
    if not (len(lines) == len(line_end_tokens) == len(passed) == B == len(group_ids)):
        raise ValueError("prm_scores, lines, line_end_tokens, passed and group_ids need one entry per response")
    diffs = [[0.0] * len(s) if ok else step_differences(s, ls) for s, ls, ok in zip(prm_scores, lines, passed)]
    sq: dict[int, list[float]] = {}  # group -> squared credits of its failing code lines
    for d, ls, ok, g in zip(diffs, lines, passed, group_ids.tolist()):
        if not ok:
            sq.setdefault(g, []).extend(x * x for x, line in zip(d, ls) if not is_neutral_line(line))
    scale = {g: max(math.sqrt(sum(v) / len(v)) if v else 0.0, RMS_FLOOR) for g, v in sq.items()}
    out = torch.zeros(B, T, dtype=torch.float32)
    for i, (d, ends, ok, g) in enumerate(zip(diffs, line_end_tokens, passed, group_ids.tolist())):
        if ok or not d:
            continue
        if len(ends) != len(d):
            raise ValueError(f"response {i}: {len(d)} lines for {len(ends)} line ends")
        if min(ends) < 0 or max(ends) >= T:
            raise ValueError(f"response {i}: line-end token index out of [0, {T})")
        start = 0
        for c, end in zip(d, ends):
            c = coef * c / scale[g]
            if end >= start:
                out[i, start : end + 1] += c
            else:  # this line ends in the token the previous line ended in (departure 2)
                out[i, end] += c
            start = max(start, end + 1)
    return out


def completable_share(scores: Sequence[float], lines: Sequence[str]) -> float:
    """share_i: mean of (v_j + 1) / 2 over the code lines of one response (0 when it has none)."""
    vals = [(min(1.0, max(-1.0, float(v))) + 1) / 2 for v, line in zip(scores, lines) if not is_neutral_line(line)]
    return sum(vals) / len(vals) if vals else 0.0


def shaped_bonus(prm_scores: Sequence[Sequence[float]], lines: Sequence[Sequence[str]], passed: Sequence[bool],
                 kappa: float, reward_lo: float, reward_hi: float) -> Tensor:
    """``[B]`` what variant b adds to a failing response's outcome reward: kappa (hi - lo) share_i;
    0 for a passing response. With kappa < 1 a failing response stays below ``reward_hi``."""
    return torch.tensor([0.0 if ok else kappa * (reward_hi - reward_lo) * completable_share(s, ls)
                         for s, ls, ok in zip(prm_scores, lines, passed)], dtype=torch.float32)


@dataclass
class CompletabilityCredit:
    """A frozen PRM and one of the two variants (``kind`` in CREDITS), as the RL loop calls it."""

    prm: torch.nn.Module
    loss: str  # the PRM's training loss: how its output maps to [-1, 1] (use.to_reward_scale)
    kind: str  # step | shaped
    coef: float  # beta (step) or kappa (shaped)
    reward_range: tuple[float, float]  # (fail_value, pass_value) of the binary reward
    micro_tokens: int = 0
    share_prompts: bool = False  # the PRM's forward as in DenseReward (algo.share_prompts)

    @classmethod
    def load(cls, prm_train_entry: Path, cfg, device, dtype) -> Optional["CompletabilityCredit"]:
        """The credit ``cfg.prm.credit`` asks for, or None when it is off."""
        kind = cfg.prm.get("credit")
        if kind is None:
            return None
        if kind not in CREDITS:
            raise ValueError(f"unknown prm.credit {kind!r}; expected one of {', '.join(CREDITS)}")
        prm, loss = load_prm(prm_train_entry, device, dtype)
        return cls(prm, loss, kind, credit_coef(cfg.prm), reward_range(cfg.reward), cfg.algo.micro_tokens,
                   cfg.algo.share_prompts)

    def __call__(self, ids: Tensor, attn: Tensor, P: int, rollouts: Sequence[Rollout], passed: Sequence[bool],
                 group_ids: Tensor, T: int) -> tuple[Tensor, Tensor]:
        """(reward terms ``[B, T]``, advantage terms ``[B, T]``) for the padded batch ``ids``/``attn``
        [B, P+T] of ``rollouts``: the shaped bonus on the last token, or the step credit."""
        scores = prm_line_scores(self.prm, ids, attn, P, rollouts, self.loss, self.micro_tokens, self.share_prompts)
        lines = [r.lines for r in rollouts]
        zeros = torch.zeros(len(rollouts), T, dtype=torch.float32)
        if self.kind == "step":
            ends = [r.line_end_tokens for r in rollouts]
            return zeros, step_credit_tensor(scores, lines, ends, passed, group_ids.cpu(), T, self.coef)
        mask = attn[:, P:].cpu().float()  # pad_batch: past column P the attention mask is the response mask
        bonus = shaped_bonus(scores, lines, passed, self.coef, *self.reward_range)
        return outcome_reward_tensor(bonus, mask), zeros
