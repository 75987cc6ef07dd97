"""The RL loop shared by PPO, GRPO and RLOO: each step is one named function.

    for step in 1..algo.steps:
        1. draw prompts      prompts_per_step x oversample problems, seeded by (seed, step)
        2. roll out          group_size responses per prompt from the current policy;
                             execute every response in the sandbox (with ``overlap``: each
                             as soon as it is sampled, while the rest decode)
        3. score             outcome reward on the last token (binary or pass rate), plus the
                             PRM's dense per-line terms under DenseReward, or its
                             completability credit under prm.credit (GRPO/RLOO)     -> [B, T]
        4. select            dynamic sampling (oversample > 1): keep prompts_per_step groups,
                             those whose outcomes disagree first
        5. build the batch   old log-probs, reference log-probs, critic values      -> RolloutBatch
        6. update            the algorithm's advantages and its clipped update, at the step's
                             learning rate (algo.warmup_steps: linear warm-up, then constant)
        7. metrics           reward density, KL, lengths, losses, step times
        8. checkpoint        C evenly spaced policy (+ value) checkpoints; resume file

Set-up, checkpoints and resume are in ``state.py``; the algorithms in ``prmlab.algos``; the PRM's
dense reward and ValueInit in ``prmlab.prm.use``, its completability credit in ``prmlab.prm.credit``.

Notes on the recipe (where it is a choice the algorithms' papers do not make):
  1. The KL reference is the SFT policy.
  2. The ``reward/*`` and ``rollout/*`` metrics describe every *sampled* rollout, so reward density
     stays comparable with and without dynamic sampling; the update sees the selected groups.
  3. Old log-probs are recomputed with a full forward pass after sampling rather than taken from
     the sampler, so PPO ratios start at exactly 1 (the KV-cache path differs in the last bits).

Data parallel (torchrun): every rank draws the same prompts, takes its contiguous share of the
prompt groups (groups never straddle ranks, so GRPO/RLOO advantages are exact), samples with the
same per-row seeds a single process would use, executes in its own sandbox pool, and updates a
DDP-wrapped policy (gradients all-reduced once per minibatch, after its last micro-batch:
``core.gradient_sync``). ``algo.minibatch_size`` is global. Logged metrics are
means of the ranks' means (equal shares). PPO's advantage whitening uses each rank's own batch
statistics, and dynamic sampling selects among each rank's own share of the prompts (same batch
size, but not the groups one process would pick).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from prmlab import distributed as D
from prmlab import rewards
from prmlab.algos import core
from prmlab.prm.credit import CompletabilityCredit
from prmlab.prm.use import DenseReward
from prmlab.rl.batch import pad_batch, rollout_stats
from prmlab.rl.clock import StepClock
from prmlab.rl.state import RLState, finish, save_checkpoints, setup
from prmlab.sampling import row_seeds, sample
from prmlab.sandbox.pool import Stream
from prmlab.types import Problem, Rollout, RolloutBatch, Verdict


@dataclass
class Draw:
    """This rank's prompts of one step, each repeated group_size times."""

    reps: list[Problem]  # [B] the problem of each row
    seeds: list[int]  # [B] per-row sampling seeds (the same a single process would use)
    group_ids: Tensor  # [B] long, index of the prompt each row answers


@dataclass
class Scored:
    """Rollouts of one step as padded tensors with their rewards."""

    ids: Tensor  # [B, P+T] long
    attn: Tensor  # [B, P+T] long
    mask: Tensor  # [B, T] float, 1 on response tokens
    P: int  # prompt columns
    scores: Tensor  # [B] outcome reward
    token_rewards: Tensor  # [B, T] outcome (last token) + dense PRM terms (line ends)
    dense_sum: Tensor  # [B] sum of the dense (or shaped-credit) reward terms (0 without them), on the CPU
    group_ids: Tensor  # [B] long
    credit: Optional[Tensor] = None  # [B, T] advantage term of prm.credit=step (None without it)


def train_rl(ctx, dense: Optional[DenseReward] = None, value_init=None,
             credit: Optional[CompletabilityCredit] = None) -> dict:
    """Run the RL stage ``ctx`` (rl_baseline or rl); returns its summary figures."""
    acfg = ctx.cfg.algo
    s = setup(ctx, value_init)
    bar = ctx.runtime.progress(acfg.steps if D.is_main() else 0, ctx.name if D.is_main() else "")
    bar.update(s.start)
    last: dict = {}
    clock = StepClock()  # plumbing: the step-time breakdown of the run summary (rl/clock.py)
    for step in range(s.start, acfg.steps):
        clock.start()
        draw = draw_prompts(ctx.cfg, s, step)  # 1
        clock.lap("other")
        execution = ctx.runtime.execution()
        rollouts = generate(s, draw, execution)  # 2
        clock.lap("generate")
        verdicts = execution.verdicts()  # the rest of 2: what the sandbox has not finished yet
        clock.lap("execute")
        scored = score(ctx, s, rollouts, verdicts, draw, dense, credit)  # 3
        clock.lap("prm_score")
        trained, varied = select_for_update(acfg, s, scored)  # 4
        clock.lap("other")
        batch = build_batch(acfg, s, trained)  # 5
        stats = update(acfg, s, batch, step)  # 6
        clock.lap("train")
        m = step_metrics(acfg, s, rollouts, verdicts, scored, batch, varied, stats, clock)  # 7
        ctx.tracker.log(m, step=step)
        last = m
        bar.update(1)
        bar.set_postfix(reward=f"{m['reward/mean']:.3f}", all_pass=f"{m['reward/all_pass_rate']:.2f}")
        if D.is_main():
            save_checkpoints(ctx, s, step + 1, acfg.steps)  # 8
        clock.stop()
    bar.close()
    if not D.is_main():
        return {}
    finish(ctx, s)
    out = {f"{ctx.name}/final_{k.split('/')[-1]}": v for k, v in last.items() if k.startswith("reward/")}
    return {**out, **clock.summary(ctx.name)}


def drawn_prompts(problems: list[Problem], seed: int, step: int, n: int) -> list[Problem]:
    """The n prompts (without replacement) that update ``step`` of run ``seed`` samples, before any
    rank's share is taken: what benchmarks/rl_transfer.py replays to know which prompts RL saw."""
    return random.Random(seed * 100003 + step).sample(problems, min(n, len(problems)))


def draw_prompts(cfg, s: RLState, step: int) -> Draw:
    """1. The step's prompts, seeded by (seed, step) so a resumed run draws what an uninterrupted
    one draws; this rank keeps its contiguous share of the groups."""
    acfg = cfg.algo
    chosen = drawn_prompts(s.problems, cfg.seed, step, acfg.prompts_per_step * acfg.oversample)
    first = sum(len(D.shard(chosen, r, s.world)) for r in range(s.rank)) * acfg.group_size
    seeds = row_seeds(cfg.seed * 100003 + step, len(chosen) * acfg.group_size)
    chosen = D.shard(chosen, s.rank, s.world)
    seeds = seeds[first : first + len(chosen) * acfg.group_size]
    reps = [p for p in chosen for _ in range(acfg.group_size)]
    group_ids = torch.tensor([i for i in range(len(chosen)) for _ in range(acfg.group_size)])
    return Draw(reps, seeds, group_ids)


def generate(s: RLState, draw: Draw, execution: Optional[Stream] = None) -> list[Rollout]:
    """2. One response per row from the current policy, each handed to ``execution`` (the sandbox's
    ``Stream``) the moment it ends; with ``overlap`` it runs its tests while later rows decode."""
    s.policy.eval()
    on_rollout = None if execution is None else execution.feed(draw.reps)
    return sample(s.policy, s.tokenizer, [p.prompt for p in draw.reps], s.params, stops=[p.stop for p in draw.reps],
                  problem_ids=[p.id for p in draw.reps], seeds=draw.seeds, on_rollout=on_rollout)


def score(ctx, s: RLState, rollouts: list[Rollout], verdicts: list[Verdict], draw: Draw,
          dense: Optional[DenseReward], credit: Optional[CompletabilityCredit] = None) -> Scored:
    """3. Per-token rewards [B, T]: the outcome score on the last token, plus DenseReward's terms or
    the shaped credit's bonus; and the step credit's advantage term [B, T] (prm.credit=step)."""
    device = ctx.runtime.device
    ids, attn, mask, P = pad_batch(rollouts, s.tokenizer.pad_token_id)
    ids, attn, mask = ids.to(device), attn.to(device), mask.to(device)
    scores = rewards.outcome_scores(verdicts, ctx.cfg.reward).to(device)
    token_rewards = rewards.outcome_reward_tensor(scores, mask)
    dense_sum = torch.zeros(len(rollouts))
    if dense is not None:
        dense_r = dense(ids, attn, P, rollouts, [v.all_passed for v in verdicts], mask.shape[1]).to(device)
        token_rewards = token_rewards + dense_r
        dense_sum = dense_r.sum(-1).cpu()
    credit_t = None
    if credit is not None:
        bonus, credit_t = credit(ids, attn, P, rollouts, [v.all_passed for v in verdicts], draw.group_ids, mask.shape[1])
        token_rewards = token_rewards + bonus.to(device)
        dense_sum = bonus.sum(-1)
        credit_t = credit_t.to(device) if credit.kind == "step" else None
    return Scored(ids, attn, mask, P, scores, token_rewards, dense_sum, draw.group_ids, credit_t)


def select_for_update(acfg, s: RLState, sc: Scored) -> tuple[Scored, Optional[int]]:
    """4. Dynamic sampling: with oversample > 1 keep prompts_per_step groups (per rank), those whose
    outcomes disagree first (``rewards.select_groups``), and drop the padding columns only dropped
    rows used. Returns the trained rows and how many kept groups disagree (None when off)."""
    if acfg.oversample <= 1:
        return sc, None
    rows, varied = rewards.select_groups(core.masked_sum(sc.token_rewards, sc.mask, dim=1), sc.group_ids,
                                         acfg.prompts_per_step // s.world, outcomes=sc.scores)
    group_ids, rows = sc.group_ids[rows], rows.to(sc.ids.device)
    ids, attn, mask, token_rewards = sc.ids[rows], sc.attn[rows], sc.mask[rows], sc.token_rewards[rows]
    seq, resp, P = core.trim_columns(ids, attn, mask, sc.P)
    credit = None if sc.credit is None else sc.credit[rows][:, resp]
    kept = Scored(ids[:, seq], attn[:, seq], mask[:, resp], P, sc.scores[rows], token_rewards[:, resp],
                  sc.dense_sum[rows.cpu()], group_ids, credit)
    return kept, varied


@torch.no_grad()
def build_batch(acfg, s: RLState, sc: Scored) -> RolloutBatch:
    """5. The update's batch: behaviour and reference log-probs [B, T], critic values [B, T] (PPO)."""
    share = acfg.share_prompts  # each distinct prompt's columns run once (core.response_outputs)

    def per_token(fn):  # [B, T] over length-sorted micro-batches (algo.micro_tokens): less padding
        return core.chunked_response_forward(fn, sc.ids, sc.attn, sc.mask, sc.P, acfg.micro_tokens, share)

    logprobs, _ = per_token(lambda i, a, p: core.sequence_logprobs(s.policy, i, a, p, temperature=acfg.temperature,
                                                                   share_prompts=share))
    ref_logprobs, _ = per_token(lambda i, a, p: core.sequence_logprobs(s.ref, i, a, p, temperature=acfg.temperature,
                                                                       share_prompts=share))
    values = (per_token(lambda i, a, p: (core.response_values(s.value_model, i, a, p, share),))[0]
              if s.value_model is not None else None)
    return RolloutBatch(input_ids=sc.ids, attention_mask=sc.attn, response_mask=sc.mask, logprobs=logprobs,
                        ref_logprobs=ref_logprobs, rewards=sc.token_rewards, scores=sc.scores,
                        group_ids=sc.group_ids.to(sc.ids.device), prompt_len=sc.P, values=values, credit=sc.credit)


def learning_rate(peak: float, step: int, warmup_steps: Optional[int]) -> float:
    """The learning rate of update ``step`` (0-based): linear warm-up to ``peak`` over the first
    ``warmup_steps`` updates (peak * (step + 1) / warmup_steps), then constant; constant if null."""
    return peak * min(1.0, (step + 1) / warmup_steps) if warmup_steps else peak


def update(acfg, s: RLState, batch: RolloutBatch, step: int) -> dict:
    """6. Advantages (and PPO's returns), then the algorithm's optimisation epochs at this step's
    learning rates (``learning_rate``: warm-up, then constant)."""
    for opt, peak in ((s.opt, acfg.lr), (s.value_opt, acfg.value_lr)):
        for g in opt.param_groups if opt is not None else ():
            g["lr"] = learning_rate(peak, step, acfg.get("warmup_steps"))  # null: not in the stage's fields
    advantages, returns = s.algo.compute_advantages(batch, acfg)
    s.policy.train()
    return s.algo.update(s.train_policy, s.opt, batch, advantages, returns, s.update_cfg,
                         value_model=s.train_value, value_optimizer=s.value_opt)


def step_metrics(acfg, s: RLState, rollouts: list[Rollout], verdicts: list[Verdict], sampled: Scored,
                 batch: RolloutBatch, varied: Optional[int], stats: dict, clock: StepClock) -> dict:
    """7. The step's metrics: rewards and density over every sampled rollout, KL over the trained
    batch, lengths, losses and step times (``perf/time_<phase>``, rl/clock.py); under torchrun the
    mean of the ranks' means."""
    scores = sampled.scores
    n_tok = sum(len(r.response_ids) for r in rollouts)
    m = {
        "reward/mean": scores.mean().item(), "reward/std": scores.std().item() if len(scores) > 1 else 0.0,
        "reward/pass_rate": sum(v.pass_rate for v in verdicts) / len(verdicts),
        "reward/all_pass_rate": sum(v.all_passed for v in verdicts) / len(verdicts),
        "reward/dense_mean": sampled.dense_sum.mean().item(),
        "rollout/kl": core.masked_mean(batch.logprobs - batch.ref_logprobs, batch.response_mask).item(),
        **clock.step_metrics(),
        "perf/tokens_per_s_generate": n_tok / max(clock.now["generate"], 1e-9), "perf/lr": s.opt.param_groups[0]["lr"],
        # the step's real (unpadded) tokens, for the machine bound (benchmarks/bench_bound.py)
        "perf/tokens_sampled_prompt": sum(len(r.prompt_ids) for r in rollouts), "perf/tokens_sampled_response": n_tok,
        "perf/tokens_trained": int(batch.attention_mask.sum()), "perf/tokens_trained_response": int(batch.response_mask.sum()),
    }
    m.update(rewards.reward_density(scores.cpu(), sampled.group_ids))
    if sampled.credit is not None:  # prm.credit=step: the per-response sum of its advantage term
        m["reward/step_credit_mean"] = sampled.credit.sum(-1).mean().item()
    if varied is not None:  # dynamic sampling: share of the trained groups that carry a gradient
        m["rollout/trained_varied_group_frac"] = varied / max(1, acfg.prompts_per_step // s.world)
    m.update(rollout_stats(rollouts))
    m.update(stats)
    if s.world > 1:  # every rank had an equal share: the mean of the ranks' means
        ms = D.all_gather(m)
        m = {k: sum(x[k] for x in ms) / s.world for k in m}
    return m
