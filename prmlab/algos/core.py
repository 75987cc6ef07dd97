"""Shared RL math for PPO, GRPO and RLOO, as small pure functions (no base classes).

Conventions (all three algorithms)
----------------------------------
* Tensors over response tokens are ``[B, T]`` with a float ``mask`` (1 on real response tokens,
  right-padded). Every reduction is masked; padded positions never contribute to a loss or a stat.
* Token alignment. A row of ``input_ids`` is ``prompt (left-padded to P) + response (right-padded
  to T)``; response token ``t`` sits at column ``P + t``. A causal LM's output at column ``i`` is a
  function of tokens ``0..i`` only, so:
    - ``logprobs[:, t]`` = log pi(token P+t | tokens < P+t) is read from the logits at column
      ``P + t - 1``;
    - ``values[:, t]`` = V(s_t), the value of the state *in which token t is chosen* (prompt plus
      response tokens ``< t``), is read from the value model at the same column ``P + t - 1``.
  So the network's output at column ``i`` always means "the state made of tokens 0..i". This is
  the convention of GAE (A_t uses V(s_t) and V(s_{t+1})) and of the usual RLHF PPO codebases; it
  also agrees with the PRM, which scores the prefix that ends at a line-end token by reading the
  output *at* that token's column (so ValueInit reuses the PRM's meaning of every position).
* Position ids are rebuilt from the attention mask (``cumsum - 1``, as ``model.generate`` does),
  so left padding does not shift positions between sampling and training.
* Shared prompts (``algo.share_prompts``). The G responses of a group share one prompt, and a
  causal model's outputs over the prompt do not depend on what follows it. So a forward over a
  set of rows can run the prompt columns once per distinct prompt (keeping their keys/values in a
  HF ``DynamicCache``), index that cache out to the rows, and run only the response columns of
  each row on top (``response_outputs``). The same function of the same tokens, gradients
  included (the cache's indexing is differentiable, so each prompt receives the sum of its rows'
  gradients); only float rounding changes. On the long testbed prompts are about 60% of the
  trained positions.

KL estimators (Schulman, "Approximating KL Divergence", 2020), with ``log r = log pi_ref - log pi``
and samples drawn from pi:
    k1 = -log r = log pi - log pi_ref              (unbiased, can be negative, high variance)
    k2 = (log r)^2 / 2                             (biased, low variance, >= 0)
    k3 = (r - 1) - log r                           (unbiased, low variance, >= 0)

Loss aggregation (``loss_agg``), for a per-token loss matrix L and mask m over a minibatch:
    token_mean              sum_{i,t} m L / sum_{i,t} m            DAPO (Yu et al., 2025): every
                            token weighs the same, so long responses are not under-weighted.
    seq_mean_token_mean     mean_i [ sum_t m L / sum_t m ]         original GRPO (Shao et al.,
                            2024, DeepSeekMath): each sequence weighs the same.
    seq_mean_token_sum_norm mean_i [ sum_t m L / T_max ]           Dr. GRPO (Liu et al., 2025):
                            a constant normaliser removes the length bias of per-sequence means.
"""
from __future__ import annotations

import functools
import inspect

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

import torch
from torch import Tensor

from prmlab.models import cache_keyword

LOSS_AGGS = ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm")
KL_ESTIMATORS = ("k1", "k2", "k3")


# ----------------------------------------------------------------------------- masked reductions
def masked_sum(x: Tensor, mask: Tensor, dim: Optional[int] = None) -> Tensor:
    return (x * mask).sum() if dim is None else (x * mask).sum(dim)


def masked_mean(x: Tensor, mask: Tensor, dim: Optional[int] = None) -> Tensor:
    count = mask.sum() if dim is None else mask.sum(dim)
    # clamp: an all-padding selection gives 0, not NaN (it then contributes nothing)
    return masked_sum(x, mask, dim) / count.clamp(min=1e-8)


def masked_var(x: Tensor, mask: Tensor) -> Tensor:
    """Population variance of the masked entries."""
    mean = masked_mean(x, mask)
    return masked_mean((x - mean) ** 2, mask)


def masked_whiten(x: Tensor, mask: Tensor, shift_mean: bool = True, eps: float = 1e-8) -> Tensor:
    """(x - mean) / std over the masked entries; zero outside the mask.

    ``shift_mean=False`` only rescales (keeps the sign of every entry).
    """
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) if shift_mean else x
    return out * torch.rsqrt(var + eps) * mask


# ----------------------------------------------------------------------------- advantages
def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al., 2016) over response tokens.

        delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)
        A_t     = delta_t + gamma * lam * A_{t+1}
    with V(s_{t+1}) = 0 and A_{t+1} = 0 after the last real token (the episode ends there: the
    outcome is known, nothing is bootstrapped). Returns ``(advantages, returns = A + V)``, both
    zero on padding.
    """
    B, T = rewards.shape
    rewards, values, mask = rewards * mask, values * mask, mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_adv = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)
    next_value = torch.zeros_like(next_adv)
    for t in reversed(range(T)):
        # mask[:, t+1] is 0 at the last real token, which cuts both the bootstrap and the trace
        cont = mask[:, t + 1] if t + 1 < T else torch.zeros_like(next_adv)
        delta = rewards[:, t] + gamma * next_value * cont - values[:, t]
        advantages[:, t] = (delta + gamma * lam * next_adv * cont) * mask[:, t]
        next_adv, next_value = advantages[:, t], values[:, t]
    return advantages, (advantages + values) * mask


def _group_index(group_ids: Tensor) -> tuple[Tensor, int]:
    """Map arbitrary group ids to 0..n_groups-1 (samples of a group need not be consecutive)."""
    _, inverse = torch.unique(group_ids, return_inverse=True)
    return inverse, int(inverse.max().item()) + 1 if inverse.numel() else 0


def group_sums(x: Tensor, group_ids: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample (sum over its group, size of its group), broadcast back to ``[B]``."""
    idx, n = _group_index(group_ids)
    sums = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, idx, x)
    counts = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, idx, torch.ones_like(x))
    return sums[idx], counts[idx]


def group_advantages(scores: Tensor, group_ids: Tensor, scale_by_std: bool, eps: float = 1e-6) -> Tensor:
    """GRPO: A_i = (s_i - mean_g) / (std_g + eps) when ``scale_by_std``, else s_i - mean_g.

    std is the sample (Bessel-corrected) std of the group, as in the DeepSeekMath GRPO reference
    code; a group of one sample has advantage 0. Groups whose scores are all equal get exactly 0
    (the numerator is 0), so ``eps`` only guards 0/0.
    """
    scores = scores.float()
    sums, counts = group_sums(scores, group_ids)
    mean = sums / counts
    adv = scores - mean
    if scale_by_std:
        sq, _ = group_sums(adv ** 2, group_ids)
        std = torch.sqrt(sq / (counts - 1).clamp(min=1))
        adv = adv / (std + eps)
    return adv


def rloo_advantages(scores: Tensor, group_ids: Tensor) -> Tensor:
    """RLOO: A_i = s_i - mean_{j != i, j in g} s_j (Kool et al., 2019; Ahmadian et al., 2024).

    Equals G/(G-1) * (s_i - mean_g). A group of one sample has no baseline and gets 0.
    """
    scores = scores.float()
    sums, counts = group_sums(scores, group_ids)
    loo_mean = (sums - scores) / (counts - 1).clamp(min=1)
    return torch.where(counts > 1, scores - loo_mean, torch.zeros_like(scores))


# ----------------------------------------------------------------------------- losses
def kl_penalty(logprobs: Tensor, ref_logprobs: Tensor, estimator: str) -> Tensor:
    """Per-token estimate of KL(pi || pi_ref) from tokens sampled from pi (see module doc)."""
    log_ratio = ref_logprobs - logprobs  # log r = log pi_ref - log pi
    if estimator == "k1":
        return -log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio ** 2
    if estimator == "k3":
        # clamp only guards exp() overflow where pi_ref >> pi (|log r| > 20 never happens in sane runs)
        log_ratio = log_ratio.clamp(-20.0, 20.0)
        return torch.exp(log_ratio) - 1.0 - log_ratio
    raise ValueError(f"unknown kl_estimator {estimator!r}; expected one of {KL_ESTIMATORS}")


def clipped_policy_loss(logprobs: Tensor, old_logprobs: Tensor, advantages: Tensor,
                        clip_eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """PPO clipped surrogate (Schulman et al., 2017), per token, as a loss to minimise:

        L_t = max(-A_t * r_t, -A_t * clip(r_t, 1 - eps, 1 + eps)),   r_t = pi / pi_old

    Returns ``(loss [B,T], clipped [B,T] float, ratio [B,T])``; ``clipped`` marks the tokens
    where the clipped term is the larger one, i.e. where clipping zeroes the gradient.
    """
    # clamp the log-ratio before exp so one wild token cannot produce inf * 0 = NaN
    ratio = torch.exp((logprobs - old_logprobs).clamp(-20.0, 20.0))
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    return torch.maximum(unclipped, clipped), (clipped > unclipped).float(), ratio


def clipped_value_loss(values: Tensor, old_values: Tensor, returns: Tensor,
                       value_clip: Optional[float]) -> tuple[Tensor, Tensor]:
    """Value regression, per token: 0.5 (V - R)^2, or with ``value_clip`` the PPO2 pessimistic

        0.5 * max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)

    Returns ``(loss [B,T], clipped [B,T] float)`` with ``clipped`` marking where the clip is
    active (|V - V_old| > c) and the clipped term is the larger one. Inside the clip range the two
    terms are equal up to float rounding (V_old + (V - V_old) need not round to V), so comparing
    them alone would count rounding noise as clipping.
    """
    unclipped = (values - returns) ** 2
    if value_clip is None:
        return 0.5 * unclipped, torch.zeros_like(unclipped)
    v_clipped = old_values + (values - old_values).clamp(-value_clip, value_clip)
    clipped = (v_clipped - returns) ** 2
    active = (values - old_values).abs() > value_clip
    return 0.5 * torch.maximum(unclipped, clipped), ((clipped > unclipped) & active).float()


def aggregate_loss(loss_mat: Tensor, mask: Tensor, loss_agg: str, norm_len: Optional[int] = None,
                   whole: Optional["Extent"] = None) -> Tensor:
    """Reduce a per-token loss to a scalar (see module doc for the three modes and their papers).

    ``norm_len`` is the Dr. GRPO constant (default: the tensor's T); the updates pass the
    generation cap ``max_new_tokens`` so it does not change with the batch's longest response.
    ``whole``: these rows are one micro-batch of a minibatch of that extent; the result is then
    this piece's share, and the shares of all pieces sum to the minibatch's loss.
    """
    if loss_agg not in LOSS_AGGS:
        raise ValueError(f"unknown loss_agg {loss_agg!r}; expected one of {LOSS_AGGS}")
    if loss_agg == "token_mean":
        return share(loss_mat, mask, whole)
    if whole is None:
        if loss_agg == "seq_mean_token_mean":
            return masked_mean(loss_mat, mask, dim=1).mean()
        return (masked_sum(loss_mat, mask, dim=1) / float(norm_len or loss_mat.shape[1])).mean()
    if loss_agg == "seq_mean_token_mean":
        return masked_mean(loss_mat, mask, dim=1).sum() / whole.rows
    return (masked_sum(loss_mat, mask, dim=1) / float(norm_len or whole.width)).sum() / whole.rows


def explained_variance(predicted: Tensor, target: Tensor, mask: Tensor) -> float:
    """1 - Var(target - predicted) / Var(target) over masked entries (1 = perfect, <= 0 = useless)."""
    var_y = masked_var(target, mask)
    if var_y.item() == 0.0:
        return float("nan")
    return float(1.0 - masked_var(target - predicted, mask) / var_y)


# ----------------------------------------------------------------------------- model forward
def position_ids_from_mask(attention_mask: Tensor) -> Tensor:
    """Positions counted over real tokens only (left padding does not shift them)."""
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.clamp(min=0).masked_fill(attention_mask == 0, 1)


@functools.lru_cache(maxsize=None)
def _logits_to_keep_supported(cls: type) -> bool:
    return "logits_to_keep" in inspect.signature(cls.forward).parameters


def _takes_logits_to_keep(model) -> bool:
    """HF causal LMs (transformers >= 4.50) can skip the LM head on columns whose logits are unused:
    the prompt's, most of every RL sequence (the head is ~15% of the tiny model's training FLOPs)."""
    return _logits_to_keep_supported(type(getattr(model, "module", model)))  # DDP passes kwargs through


def cache_arg(model) -> Optional[str]:
    """The keyword by which ``model``'s forward takes a HF cache of earlier columns' keys and values
    (``cache`` in transformers >= 5.2x, ``past_key_values`` before), or None."""
    return cache_keyword(model)


def can_share_prompts(model) -> bool:
    """Whether ``response_outputs`` can run ``model`` with shared prompts: a plain (not DDP-wrapped:
    DDP expects one forward per backward) module whose forward takes a cache (``cache_arg``)."""
    return not hasattr(model, "no_sync") and cache_arg(model) is not None


def expand_cache_rows(cache, rows: Tensor) -> None:
    """Row ``i`` of every layer's keys and values becomes row ``rows[i]`` (``[U, ...] -> [B, ...]``):
    transformers' ``batch_select_indices``, but by ``index_select``, whose backward (``index_add_``)
    adds each prompt's B/U row gradients in a fixed order. Advanced indexing's backward,
    ``index_put_(accumulate=True)``, does not on a CPU with more than one thread (PyTorch lists it
    as nondeterministic): with it, two runs of one config at ``threads=2`` differed in the last bits
    from the first PPO update (docs/BENCHMARKS.md, seventeenth session)."""
    if hasattr(cache, "layers"):  # transformers >= 4.56: one object per layer
        for layer in cache.layers:
            if layer.keys is not None and layer.keys.numel():
                layer.keys, layer.values = layer.keys.index_select(0, rows), layer.values.index_select(0, rows)
        return
    for i in range(len(cache.key_cache)):  # older DynamicCache: lists of per-layer tensors
        cache.key_cache[i] = cache.key_cache[i].index_select(0, rows)
        cache.value_cache[i] = cache.value_cache[i].index_select(0, rows)


def prompt_groups(input_ids: Tensor, attention_mask: Tensor, prompt_len: int) -> tuple[Tensor, Tensor]:
    """Rows with the same prompt (its real tokens and its left padding): ``(first [U], inverse [B])``,
    one row per distinct prompt and, for every row, the index of its prompt in ``first``."""
    key = torch.where(attention_mask[:, :prompt_len].bool(), input_ids[:, :prompt_len], -1)
    _, inverse = torch.unique(key, dim=0, return_inverse=True)
    B = key.shape[0]
    first = torch.full((int(inverse.max()) + 1 if B else 0,), B, dtype=torch.long, device=key.device)
    first = first.scatter_reduce(0, inverse, torch.arange(B, device=key.device), "amin")
    return first, inverse


def response_outputs(run, input_ids: Tensor, attention_mask: Tensor, prompt_len: int,
                     share_prompts: bool = False, at_tokens: bool = False) -> Tensor:
    """A causal model's outputs at columns ``P-1 .. L-2`` (the states in which response tokens
    ``0 .. T-1`` are chosen): ``[B, T, ...]``. ``at_tokens``: at columns ``P .. L-1`` instead (the
    prefixes that end with each response token, as the PRM reads them).

    ``run(ids, attn, position_ids, cache, keep) -> [b, keep, ...]`` runs the model on ``ids`` (with
    ``cache`` holding the keys/values of earlier columns, or None) and returns its outputs at the
    last ``keep`` columns. With ``share_prompts`` and rows that share prompts, the prompt columns
    run once per distinct prompt and the response columns on top of their cache (module doc,
    "Shared prompts"); otherwise one pass over the whole rows.
    """
    P, T = prompt_len, input_ids.shape[1] - prompt_len
    pos = position_ids_from_mask(attention_mask)
    split = P if at_tokens else P - 1  # the first column the rows run themselves
    if share_prompts and split > 0:
        first, inverse = prompt_groups(input_ids, attention_mask, P)
        if len(first) < len(inverse):
            from transformers import DynamicCache  # transformers is imported by every caller already

            cache = DynamicCache()
            # columns 0..split-1 once per prompt, for their keys and values only (the outputs are unused)
            run(input_ids[first, :split], attention_mask[first, :split], pos[first, :split], cache, 1)
            expand_cache_rows(cache, inverse)  # [U, ...] -> [B, ...] per layer, differentiable
            # columns split..L-1 of every row in one call: every output comes from the same kind of call
            # as without sharing (a policy and its frozen reference then agree bit for bit, KL = 0)
            body = run(input_ids[:, split:], attention_mask, pos[:, split:], cache, input_ids.shape[1] - split)
            return body if at_tokens else body[:, :-1]
    out = run(input_ids, attention_mask, pos, None, T + 1)  # columns P-1..L-1
    return out[:, 1:] if at_tokens else out[:, :-1]


def sequence_logprobs(model, input_ids: Tensor, attention_mask: Tensor, prompt_len: int, *,
                      temperature: float = 1.0, entropy_grad: bool = False,
                      share_prompts: bool = False) -> tuple[Tensor, Tensor]:
    """Run a HF causal LM and gather the log-prob and entropy of each response token.

    Returns ``(logprobs [B,T], entropy [B,T])`` in float32, T = L - prompt_len. Logits are divided
    by ``temperature`` so the ratio pi/pi_old compares the same distribution that was sampled.
    The entropy is detached unless ``entropy_grad`` (it costs a [B,T,V] graph; only an entropy
    bonus needs its gradient). ``share_prompts``: run each distinct prompt once (``response_outputs``).
    """
    keep_arg = _takes_logits_to_keep(model)  # the prompt's logits are never used: skip the head there

    def run(ids, attn, pos, cache, keep):
        extra = {"logits_to_keep": keep} if keep_arg else {}
        if cache is not None:
            extra.update({cache_arg(model): cache, "use_cache": True})
        return model(input_ids=ids, attention_mask=attn, position_ids=pos, **extra).logits[:, -keep:]

    share = share_prompts and can_share_prompts(model)
    logits = response_outputs(run, input_ids, attention_mask, prompt_len, share).float()  # column P+t-1 predicts token t
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = torch.log_softmax(logits, dim=-1)
    targets = input_ids[:, prompt_len:]
    logprobs = logp_all.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    lp = logp_all if entropy_grad else logp_all.detach()
    entropy = -(lp.exp() * lp).sum(-1)
    return logprobs, entropy


def response_values(value_model, input_ids: Tensor, attention_mask: Tensor, prompt_len: int,
                    share_prompts: bool = False) -> Tensor:
    """V(s_t) for every response token t: the value model's output at column ``P + t - 1``.

    ``value_model(input_ids, attention_mask) -> [B, L]``. The trainer fills ``RolloutBatch.values``
    with this (under ``torch.no_grad()``) so sampling-time and training-time values share one
    alignment. ``share_prompts`` (``response_outputs``) needs a value model whose forward also takes
    ``position_ids`` and ``cache`` (``prmlab.models.ScalarHeadModel``); others run whole.
    """
    if not (share_prompts and can_share_prompts(value_model)):
        return value_model(input_ids, attention_mask)[:, prompt_len - 1:-1].float()

    def run(ids, attn, pos, cache, keep):
        return value_model(ids, attn, position_ids=pos, cache=cache)[:, -keep:]

    return response_outputs(run, input_ids, attention_mask, prompt_len, True).float()


def token_values(model, input_ids: Tensor, attention_mask: Tensor, prompt_len: int,
                 share_prompts: bool = False) -> Tensor:
    """A scalar-head model's output at every response token's own column ``P + t`` (the prefix that
    ends with token t: how the PRM scores a line at its line-end token), ``[B, T]`` float32;
    ``share_prompts`` as in ``response_values``."""
    if not (share_prompts and can_share_prompts(model)):
        return model(input_ids, attention_mask)[:, prompt_len:].float()

    def run(ids, attn, pos, cache, keep):
        return model(ids, attn, position_ids=pos, cache=cache)[:, -keep:]

    return response_outputs(run, input_ids, attention_mask, prompt_len, True, at_tokens=True).float()


# ----------------------------------------------------------------------------- minibatching
@dataclass(frozen=True)
class Extent:
    """Size of a minibatch that is run in micro-batches: its response tokens, rows and T."""

    tokens: Tensor  # [] float, sum of the response mask
    rows: int
    width: int

    @staticmethod
    def of(mask: Tensor) -> "Extent":
        return Extent(mask.sum(), mask.shape[0], mask.shape[1])


def share(x: Tensor, mask: Tensor, whole: Optional[Extent]) -> Tensor:
    """A micro-batch's share of the minibatch's masked mean of ``x`` (the shares sum to it);
    ``whole=None``: the rows are the whole minibatch, and this is its masked mean."""
    return masked_mean(x, mask) if whole is None else masked_sum(x, mask) / whole.tokens.clamp(min=1e-8)


def length_chunks(attention_mask: Tensor, response_mask: Tensor, prompt_len: int, max_tokens: int,
                  prompt_of: Optional[Tensor] = None) -> list[Tensor]:
    """Row sets for running a padded batch in micro-batches that carry little padding.

    A row's prompt is left-padded to ``prompt_len`` and its response right-padded, so a set of
    rows, trimmed (``trim_columns``), is (longest prompt + longest response) columns wide. Rows
    are sorted by prompt length, then response length, and cut greedily so that rows x width stays
    within ``max_tokens`` (each set has at least one row). ``max_tokens=0``: one set, every row in
    order (the padded batch as it is). The sets are a partition of the rows.

    ``prompt_of [B]`` (each row's prompt, ``prompt_groups``): the pieces will run with shared
    prompts, so rows are sorted by prompt length, prompt, then response length (a group's rows
    stay together) and a piece costs (distinct prompts x longest prompt + rows x longest
    response) positions.
    """
    B = attention_mask.shape[0]
    if max_tokens <= 0 or B <= 1:
        return [torch.arange(B)]
    plen = attention_mask[:, :prompt_len].sum(1).tolist()
    rlen = response_mask.sum(1).long().tolist()
    group = prompt_of.tolist() if prompt_of is not None else None
    order = sorted(range(B), key=lambda i: (plen[i], group[i], rlen[i]) if group else (plen[i], rlen[i]))
    chunks, cur, prompts, p_max, r_max = [], [], set(), 0, 0
    for i in order:
        p, r = max(p_max, plen[i]), max(r_max, rlen[i])
        seen = prompts | {group[i]} if group else prompts
        cost = len(seen) * p + (len(cur) + 1) * r if group else (len(cur) + 1) * (p + r)
        if cur and cost > max_tokens:
            chunks.append(torch.tensor(cur))
            cur, seen, p, r = [], {group[i]} if group else set(), plen[i], rlen[i]
        cur.append(i)
        prompts, p_max, r_max = seen, p, r
    chunks.append(torch.tensor(cur))
    return chunks


def trimmed_rows(tensors: dict[str, Tensor], rows: Tensor, prompt_len: int) -> tuple[dict[str, Tensor], int]:
    """Rows ``rows`` of a padded batch, trimmed to the columns they need (``trim_columns``): the
    keys ``input_ids`` and ``attention_mask`` are sequence-aligned [b, P+T], every other tensor is
    response-aligned [b, T] (``mask`` among them). Returns the piece and its prompt columns."""
    rows = rows.to(tensors["input_ids"].device)
    part = {k: v[rows] for k, v in tensors.items()}
    seq, resp, p = trim_columns(part["input_ids"], part["attention_mask"], part["mask"], prompt_len)
    return {k: (v[:, seq] if k in ("input_ids", "attention_mask") else v[:, resp]) for k, v in part.items()}, p


def micro_batches(mb: dict[str, Tensor], prompt_len: int, max_tokens: int, share_prompts: bool = False
                  ) -> Iterator[tuple[dict[str, Tensor], int, bool]]:
    """A minibatch (``select_minibatch``'s dict) as length-sorted micro-batches, each trimmed to
    the columns its rows need, with its prompt columns and whether it is the last one. With
    ``max_tokens=0`` it yields the minibatch itself. ``share_prompts``: pieces keep a prompt's
    rows together (``length_chunks``'s ``prompt_of``)."""
    if max_tokens <= 0:
        yield mb, prompt_len, True
        return
    groups = prompt_groups(mb["input_ids"], mb["attention_mask"], prompt_len)[1] if share_prompts else None
    chunks = length_chunks(mb["attention_mask"], mb["mask"], prompt_len, max_tokens, groups)
    for k, rows in enumerate(chunks):
        yield (*trimmed_rows(mb, rows, prompt_len), k == len(chunks) - 1)


def accumulate_gradients(loss_share, mb: dict[str, Tensor], prompt_len: int, max_tokens: int,
                         *models, share_prompts: bool = False) -> dict[str, float]:
    """Forward and backward over one minibatch in micro-batches (``micro_batches``), gradients
    accumulated. ``loss_share(part, prompt_len, whole) -> (loss, stats)`` gives a piece's share of
    the minibatch's loss and of each logged statistic (``whole``: the minibatch's ``Extent``, None
    when it runs whole), so the gradients and the summed stats are the minibatch's. ``models``
    (DDP-wrapped or not) all-reduce once, after the last piece. Returns the summed stats."""
    whole = Extent.of(mb["mask"]) if max_tokens > 0 else None
    sums: dict[str, float] = {}
    for part, p_len, last in micro_batches(mb, prompt_len, max_tokens, share_prompts):
        with gradient_sync(last, *models):
            loss, stats = loss_share(part, p_len, whole)
            loss.backward()
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + _scalar(v)
    return sums


@contextmanager
def gradient_sync(last: bool, *models):
    """Around one micro-batch's forward and backward: under DDP, all-reduce the gradients only on
    the minibatch's last micro-batch (``no_sync`` before it). Each rank then makes exactly one
    collective call per minibatch, however many pieces its own rows need (the ranks' counts
    differ), and the all-reduce averages the accumulated minibatch gradients. A no-op for plain
    modules and for None."""
    with ExitStack() as stack:
        if not last:
            for m in models:
                if m is not None and hasattr(m, "no_sync"):
                    stack.enter_context(m.no_sync())
        yield


@torch.no_grad()
def chunked_response_forward(fn, input_ids: Tensor, attention_mask: Tensor, response_mask: Tensor,
                             prompt_len: int, max_tokens: int, share_prompts: bool = False) -> tuple[Tensor, ...]:
    """Run ``fn(ids, attn, prompt_len) -> tuple of [b, t]`` (response-aligned outputs) over
    length-sorted micro-batches of a padded batch and reassemble each output as ``[B, T]``, zero
    past a row's micro-batch's width. Same values as one call on the whole batch up to float
    rounding (the kept columns are causal and positions come from the mask); much less padding
    when prompt and response lengths vary. ``share_prompts``: the pieces keep each prompt's rows
    together, for an ``fn`` that shares them (``response_outputs``)."""
    B, T = response_mask.shape
    groups = prompt_groups(input_ids, attention_mask, prompt_len)[1] if share_prompts else None
    chunks = length_chunks(attention_mask, response_mask, prompt_len, max_tokens, groups)
    if len(chunks) == 1:
        return tuple(fn(input_ids, attention_mask, prompt_len))
    outs: Optional[list[Tensor]] = None
    whole = {"input_ids": input_ids, "attention_mask": attention_mask, "mask": response_mask}
    for rows in chunks:
        piece, p = trimmed_rows(whole, rows, prompt_len)
        parts = fn(piece["input_ids"], piece["attention_mask"], p)
        if outs is None:
            outs = [torch.zeros(B, T, dtype=x.dtype, device=x.device) for x in parts]
        rows = rows.to(input_ids.device)
        for o, x in zip(outs, parts):
            o[rows, : x.shape[1]] = x
    return tuple(outs)


def minibatch_indices(batch_size: int, minibatch_size: int, device=None) -> Iterator[Tensor]:
    """One epoch of shuffled minibatch index sets (the last one may be smaller)."""
    perm = torch.randperm(batch_size, device=device)
    for start in range(0, batch_size, max(1, minibatch_size)):
        yield perm[start:start + minibatch_size]


def trim_columns(input_ids: Tensor, attention_mask: Tensor, response_mask: Tensor,
                 prompt_len: int) -> tuple[slice, slice, int]:
    """Columns a minibatch actually needs: drop leading columns that are padding in every row
    and response columns past the minibatch's longest response (causal, positions rebuilt from
    the mask, so the kept tokens' outputs do not change). Returns (sequence column slice,
    response column slice, new prompt_len)."""
    real_cols = attention_mask.any(0).nonzero()
    first = min(int(real_cols[0]) if len(real_cols) else 0, prompt_len - 1)
    resp_cols = response_mask.any(0).nonzero()
    t_len = int(resp_cols[-1]) + 1 if len(resp_cols) else 1
    return slice(first, prompt_len + t_len), slice(0, t_len), prompt_len - first


def _scalar(v: float | Tensor) -> float:
    """A logged stat as a Python float (a 0-d tensor is detached first)."""
    return float(v.detach()) if isinstance(v, Tensor) else float(v)


class StatsMean:
    """Running means of named scalar stats over the minibatches of an update."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, **stats: float | Tensor) -> None:
        for k, v in stats.items():
            self.sums[k] = self.sums.get(k, 0.0) + _scalar(v)
            self.counts[k] = self.counts.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


@contextmanager
def eval_mode(*modules):
    """Run forward passes with dropout off while still taking gradients.

    PPO-style ratios assume pi_old and pi are the same network at the first minibatch; dropout
    noise would make r_t != 1 there and bias the clipped objective (TRL and OpenRLHF likewise
    disable dropout for RL). The previous train/eval flags are restored on exit.
    """
    modules = [m for m in modules if m is not None]
    flags = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, flag in zip(modules, flags):
            m.train(flag)


def select_minibatch(batch, idx: Tensor, device, **per_token: Tensor) -> tuple[dict[str, Tensor], int]:
    """Rows ``idx`` of a RolloutBatch, trimmed to the columns they need and moved to ``device``.

    Returns ``(tensors, prompt_len)`` with ``input_ids``, ``attention_mask``, ``mask`` (response
    mask, float), ``old_logprobs``, ``ref_logprobs`` and every extra ``[B,T]`` tensor given by
    name (advantages, returns, values), all sliced identically.
    """
    idx_cpu = idx.to(batch.input_ids.device)
    ids, am, rm = batch.input_ids[idx_cpu], batch.attention_mask[idx_cpu], batch.response_mask[idx_cpu]
    seq, resp, prompt_len = trim_columns(ids, am, rm, batch.prompt_len)
    per_token = {"old_logprobs": batch.logprobs, "ref_logprobs": batch.ref_logprobs, **per_token}
    out = {"input_ids": ids[:, seq], "attention_mask": am[:, seq], "mask": rm[:, resp].float()}
    for name, x in per_token.items():
        out[name] = x[idx.to(x.device)][:, resp].float()
    return {k: v.to(device) for k, v in out.items()}, prompt_len
