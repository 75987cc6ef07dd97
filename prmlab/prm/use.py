"""Using a trained PRM in RL: the dense per-line reward (DenseReward) and the critic's
initialisation (ValueInit). The last step of label → collect → select → train → use.

DenseReward (PRM paper, Sec. 4.1): for a response of M lines s_1..s_M to prompt x, add at the
line-end token of line j

    r_j = lambda * PRM(x, s_1..s_j) / M        (length normalisation; without it: lambda * PRM)

with lambda = ``prm.lambda_fail`` when the response fails the unit tests and ``prm.lambda_pass``
(paper: 0) when it passes, so the PRM stops pushing once a solution is found. The outcome reward
(``prmlab.rewards``) still sits on the last token; the RL loop adds the two ``[B, T]`` tensors.

ValueInit (PRM paper, Sec. 4.1): PPO's critic starts from the PRM's weights (backbone and scalar
head) instead of a fresh head on the SFT backbone.

Departures from the paper (each a choice the paper does not spell out, or a known gap):
  1. PRM scores are clamped to [-1, 1], the range of the labels, so with length normalisation
     the dense sum is bounded by |lambda| however many lines the policy writes.
  2. A CE-trained PRM (``prm.loss=ce``) outputs logits; ``to_reward_scale`` maps them to
     2·sigmoid − 1 for the dense reward and the PRM's held-out metrics. ValueInit copies the
     weights as they are, so a CE PRM starts the critic on the logit scale.
  3. M counts every line, comment and blank lines included, as the paper writes it
     (``prm.dense_norm=all_lines``). With the neutral label 0 those lines add little, but they
     enlarge M and so shrink the other lines' terms: comment padding dilutes a failing response's
     negative dense sum. ``prm.dense_norm=code_lines`` (an ablation) divides by the number of
     code lines instead, which padding cannot change.
  4. ValueInit (``prm.value_scale=reward``): the PRM predicts a prefix's label on [-1, 1], the critic
     the return on the outcome reward's scale [fail, pass] (0/1 by default). The critic's head is
     the PRM's head mapped affinely, V = lo + (hi - lo)(PRM + 1)/2 (``label_to_reward``), so -1
     (not completable) starts at the failing reward and +1 at the passing one. The returns also
     hold the KL penalty and the dense terms, which this map ignores (both are small). The paper
     states no map; with its ±1 reward the map is the identity. ``prm.value_scale=label`` keeps
     the PRM's head as is (an ablation; with a 0/1 reward its step-0 explained variance is
     negative). A CE PRM's logits cannot be mapped by a linear head, so ValueInit refuses
     ``prm.loss=ce`` (prmlab.validation).
  5. Several lines whose newlines fall in one token (BPE merges ``"\\n\\n"``) add their terms at
     that token; a last line without a newline ends at the last response token.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch import Tensor

from prmlab.algos.core import chunked_response_forward, token_values
from prmlab.layout import PRM_META_FILE, prm_dir
from prmlab.models import ScalarHeadModel
from prmlab.prm.label import is_neutral_line
from prmlab.types import Rollout

PRM_LOSSES: tuple[str, ...] = ("mse", "ce")
DENSE_NORMS: tuple[str, ...] = ("all_lines", "code_lines")  # what M counts in lambda * PRM_j / M
VALUE_SCALES: tuple[str, ...] = ("reward", "label")  # ValueInit's output: mapped to the reward's range | as is


def to_reward_scale(scores: Tensor, loss: str) -> Tensor:
    """A PRM's raw output on the label scale [-1, 1]: as is for MSE, 2·sigmoid − 1 for CE logits."""
    if loss not in PRM_LOSSES:
        raise ValueError(f"unknown PRM loss {loss!r}; expected one of {', '.join(PRM_LOSSES)}")
    return scores if loss == "mse" else 2 * torch.sigmoid(scores) - 1


def label_to_reward(v: Tensor, lo: float, hi: float) -> Tensor:
    """The PRM's label scale [-1, 1] mapped affinely onto the reward range [lo, hi]."""
    return lo + (hi - lo) * (v + 1) / 2


def write_prm_meta(prm_path: Path, loss: str, init: str) -> None:
    (prm_path / PRM_META_FILE).write_text(json.dumps({"loss": loss, "init": init}))


def prm_loss_of(prm_path: Path) -> str:
    """The training loss a saved PRM was fit with (decides its output scale)."""
    return json.loads((prm_path / PRM_META_FILE).read_text())["loss"]


def load_prm(prm_train_entry: Path, device, dtype) -> tuple[ScalarHeadModel, str]:
    """The frozen PRM of a prm_train entry, and the loss it was trained with (its output scale)."""
    path = prm_dir(prm_train_entry)
    return ScalarHeadModel.load(path, device, dtype).eval().requires_grad_(False), prm_loss_of(path)


@torch.no_grad()
def prm_line_scores(prm: torch.nn.Module, ids: Tensor, attn: Tensor, P: int, rollouts: Sequence[Rollout],
                    loss: str = "mse", micro_tokens: int = 0, share_prompts: bool = False) -> list[list[float]]:
    """PRM(x, s_1..s_j) for every line j of every rollout: the PRM's output at line j's line-end
    token, on the label scale. ``ids``/``attn`` [B, P+T] are the padded batch of ``rollouts``;
    the forward runs in length-sorted micro-batches of ``micro_tokens`` positions (0: one pass),
    each distinct prompt once with ``share_prompts`` (``prmlab.algos.core.response_outputs``)."""
    if micro_tokens <= 0:  # fixed slices of 64 padded rows
        v = torch.cat([prm(ids[i : i + 64], attn[i : i + 64]).float()[:, P:] for i in range(0, len(rollouts), 64)])
    else:
        mask = attn[:, P:].float()  # pad_batch: the attention mask past column P is the response mask
        # response-aligned: column t is the PRM's output at token P + t (the prefix ending with it)
        v, = chunked_response_forward(lambda i, a, p: (token_values(prm, i, a, p, share_prompts),), ids, attn, mask, P,
                                      micro_tokens, share_prompts)
    v = to_reward_scale(v, loss).cpu()
    return [[float(v[b, t]) for t in r.line_end_tokens] for b, r in enumerate(rollouts)]


def dense_prm_rewards(prm_scores: Sequence[Sequence[float]], line_end_tokens: Sequence[Sequence[int]],
                      passed: Sequence[bool], T: int, lambda_fail: float, lambda_pass: float,
                      length_norm: bool = True, lines: Optional[Sequence[Sequence[str]]] = None,
                      norm: str = "all_lines") -> Tensor:
    """``[B, T]`` DenseReward terms: lambda * PRM_j / M at the line-end token of line j.

    ``prm_scores[i][j]`` is the PRM score of the prefix ending with line j of response i and
    ``line_end_tokens[i][j]`` the index (into response tokens) of the token covering that line's
    newline. When several lines end in one token, their terms add up. M is the number of lines
    (``norm="all_lines"``) or of code lines, at least 1 (``norm="code_lines"``, which needs
    ``lines``, the responses' lines).
    """
    if norm not in DENSE_NORMS:
        raise ValueError(f"unknown dense normaliser {norm!r}; expected one of {', '.join(DENSE_NORMS)}")
    if norm == "code_lines" and lines is None:
        raise ValueError("norm='code_lines' needs the responses' lines")
    if not (len(prm_scores) == len(line_end_tokens) == len(passed)):
        raise ValueError("prm_scores, line_end_tokens and passed must have one entry per response")
    rewards = torch.zeros(len(prm_scores), T, dtype=torch.float32)
    for i, (scores, ends, ok) in enumerate(zip(prm_scores, line_end_tokens, passed)):
        if len(scores) != len(ends):
            raise ValueError(f"response {i}: {len(scores)} PRM scores for {len(ends)} line ends")
        if not scores:
            continue
        if min(ends) < 0 or max(ends) >= T:
            raise ValueError(f"response {i}: line-end token index out of [0, {T})")
        M = len(scores) if norm == "all_lines" else max(1, sum(not is_neutral_line(l) for l in lines[i]))
        weight = (lambda_pass if ok else lambda_fail) / (M if length_norm else 1)
        values = torch.tensor(scores, dtype=torch.float32).clamp(-1.0, 1.0) * weight
        rewards[i].index_add_(0, torch.tensor(ends, dtype=torch.long), values)
    return rewards


@dataclass
class DenseReward:
    """The PRM as a dense reward: a frozen PRM plus the weights of ``cfg.prm``."""

    prm: torch.nn.Module
    loss: str  # the PRM's training loss (mse | ce): decides how its output maps to [-1, 1]
    lambda_fail: float
    lambda_pass: float
    length_norm: bool
    norm: str = "all_lines"  # DENSE_NORMS: what M counts
    micro_tokens: int = 0  # the PRM's forward in length-sorted micro-batches (algo.micro_tokens; 0 = one pass)
    share_prompts: bool = False  # and each distinct prompt once (algo.share_prompts)

    @classmethod
    def load(cls, prm_train_entry: Path, prm_cfg, device, dtype, micro_tokens: int = 0,
             share_prompts: bool = False) -> "DenseReward":
        prm, loss = load_prm(prm_train_entry, device, dtype)
        return cls(prm, loss, prm_cfg.lambda_fail, prm_cfg.lambda_pass, prm_cfg.length_norm,
                   prm_cfg.dense_norm, micro_tokens, share_prompts)

    def __call__(self, ids: Tensor, attn: Tensor, P: int, rollouts: Sequence[Rollout],
                 passed: Sequence[bool], T: int) -> Tensor:
        """``[B, T]`` dense terms for the padded batch ``ids``/``attn`` [B, P+T] of ``rollouts``."""
        scores = prm_line_scores(self.prm, ids, attn, P, rollouts, self.loss, self.micro_tokens, self.share_prompts)
        return dense_prm_rewards(scores, [r.line_end_tokens for r in rollouts], passed, T,
                                 self.lambda_fail, self.lambda_pass, self.length_norm,
                                 lines=[r.lines for r in rollouts], norm=self.norm)


def value_init_dir(prm_train_entry: Optional[Path], cfg) -> Optional[Path]:
    """The PRM that initialises PPO's critic (ValueInit), or None (a fresh critic; critic-free
    algorithms have no critic to initialise)."""
    if prm_train_entry is None or not cfg.prm.value_init or cfg.algo.name != "ppo":
        return None
    return prm_dir(prm_train_entry)


def make_critic(sft_policy: Path, value_init: Optional[Path], device, dtype,
                reward_range: Optional[tuple[float, float]] = None) -> ScalarHeadModel:
    """PPO's value model: the PRM's weights, backbone and head, when ``value_init`` names a PRM
    dir (ValueInit); else a fresh scalar head on a copy of the SFT policy's backbone.

    ``reward_range=(lo, hi)`` puts a ValueInit critic on the reward's scale (departure 4): its head
    becomes ``label_to_reward(head, lo, hi)``, exact because the map is affine."""
    if value_init is None:
        return ScalarHeadModel.from_causal_lm(sft_policy, device, dtype)
    critic = ScalarHeadModel.load(value_init, device, dtype)
    if reward_range is not None:
        if prm_loss_of(value_init) != "mse":
            raise ValueError(f"{value_init}: ValueInit maps an MSE PRM's output; a CE PRM's logits are not affine in it")
        lo, hi = reward_range
        with torch.no_grad():
            critic.head.weight.mul_((hi - lo) / 2)
            critic.head.bias.copy_(label_to_reward(critic.head.bias, lo, hi))
    return critic
