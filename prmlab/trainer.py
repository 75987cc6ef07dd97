"""The RL loop shared by PPO, GRPO and RLOO, and the ``rl_baseline`` / ``rl`` stages.

Each step: sample ``prompts_per_step`` training problems, ``group_size`` responses each, from the
current policy → execute them in the sandbox → outcome scores (binary or pass rate) placed on the
last response token, plus PRM dense terms at line ends when ``prm.dense`` → advantages and update
by ``prmlab.algos.<algo.name>`` → metrics. With ``algo.oversample = k > 1`` (DAPO's dynamic
sampling), k × ``prompts_per_step`` prompts are sampled and executed and the update trains on
``prompts_per_step`` of their groups, those whose returns disagree first
(``prmlab.rewards.select_groups``); the ``reward/*`` and ``rollout/*`` metrics describe every
sampled rollout, so reward density stays comparable across settings. The frozen reference for
the KL penalty is the SFT policy. ``algo.n_checkpoints`` (C) policy + value checkpoints are kept at evenly spaced steps
(the last one is the final model) for PRM data collection, and a resume checkpoint is written to
the stage's scratch dir so a killed run continues from its last checkpoint.

Data parallel (torchrun): every rank draws the same prompts, takes its contiguous share of the
prompt groups (groups never straddle ranks, so GRPO/RLOO advantages are exact), samples with the
same per-row seeds a single process would use, executes in its own sandbox pool, and updates a
DDP-wrapped policy (gradients all-reduced). ``algo.minibatch_size`` is global (divided by the
world size per rank). Logged metrics are means of the ranks' means (equal shares). PPO's
advantage whitening uses each rank's own batch statistics, and dynamic sampling selects among each
rank's own share of the prompts (same batch size, but not the groups one process would pick; the
1-vs-2-process equivalence test therefore runs with ``algo.oversample=1``).

The old log-probs are recomputed with a full forward pass after sampling rather than taken from
the sampler, so ratios start at exactly 1 (the KV-cache path differs in the last bits).
"""
from __future__ import annotations

import importlib
import json
import logging
import random
import time
from pathlib import Path
from typing import Optional

import torch

from prmlab import distributed as D
from prmlab.errors import PrmlabError
from prmlab.models import ScalarHeadModel, load_policy, load_tokenizer
from prmlab.prm.label import is_neutral_line
from prmlab.rollout import SamplingParams, row_seeds, sample
from prmlab.tasks import PROBLEMS_FILE, rl_problems
from prmlab.types import Rollout, RolloutBatch

log = logging.getLogger(__name__)


def checkpoint_steps(steps: int, n: int) -> list[int]:
    """Steps (1-based counts of finished updates) after which checkpoint c = 0..n-1 is saved."""
    n = max(1, min(n, steps))
    return sorted({round((c + 1) * steps / n) for c in range(n)})


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


@torch.no_grad()
def prm_line_scores(prm: torch.nn.Module, ids: torch.Tensor, attn: torch.Tensor, P: int,
                    rollouts: list[Rollout], loss: str = "mse", batch_size: int = 64) -> list[list[float]]:
    """PRM(x, s_1..s_j) for every line j: the PRM's output at line j's line-end token, in [-1, 1]
    scale (a CE-trained PRM's logits go through 2·sigmoid - 1)."""
    from prmlab.prm.train import to_reward_scale

    out = []
    for i in range(0, len(rollouts), batch_size):
        v = to_reward_scale(prm(ids[i : i + batch_size], attn[i : i + batch_size]).float(), loss).cpu()
        for b, r in enumerate(rollouts[i : i + batch_size]):
            out.append([float(v[b, P + t]) for t in r.line_end_tokens])
    return out


def rollout_stats(rollouts: list[Rollout]) -> dict:
    n_lines = [len(r.lines) for r in rollouts]
    comments = sum(sum(1 for l in r.lines if l.strip() and is_neutral_line(l)) for r in rollouts)
    return {
        "rollout/response_tokens": sum(len(r.response_ids) for r in rollouts) / len(rollouts),
        "rollout/response_lines": sum(n_lines) / len(rollouts),
        "rollout/comment_line_frac": comments / max(1, sum(n_lines)),
        "rollout/truncated_frac": sum(not r.finished for r in rollouts) / len(rollouts),
    }


def make_critic(sft_path: Path, value_init: Optional[Path], device, dtype) -> "ScalarHeadModel":
    """PPO's value model: the PRM's weights, backbone and head, when ``value_init`` names a PRM
    dir (ValueInit); else a fresh scalar head on a copy of the SFT policy's backbone."""
    if value_init is not None:
        return ScalarHeadModel.load(value_init, device, dtype)
    return ScalarHeadModel.from_causal_lm(sft_path, device, dtype)


def train_rl(ctx, *, prm: Optional[torch.nn.Module] = None, prm_loss: str = "mse",
             value_init: Optional[Path] = None) -> dict:
    from prmlab import rewards
    from prmlab.algos import core

    cfg, rt, acfg = ctx.cfg, ctx.runtime, ctx.cfg.algo
    algo = importlib.import_module(f"prmlab.algos.{acfg.name}")
    problems = rl_problems(ctx.inputs["tasks"] / PROBLEMS_FILE)
    sft_path = ctx.inputs["sft"] / "policy"
    tokenizer = load_tokenizer(sft_path)
    torch.manual_seed(cfg.seed)
    policy = load_policy(sft_path, rt.device, rt.dtype)
    ref = load_policy(sft_path, rt.device, rt.dtype).eval().requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=acfg.lr, weight_decay=0.0)
    value_model = value_opt = None
    if acfg.name == "ppo":
        value_model = make_critic(sft_path, value_init, rt.device, rt.dtype)
        value_opt = torch.optim.AdamW(value_model.parameters(), lr=acfg.value_lr, weight_decay=0.0)
    dense = prm is not None and bool(cfg.prm.dense)
    world, rank = D.world(), D.rank()
    if acfg.prompts_per_step % world:
        raise PrmlabError(f"algo.prompts_per_step={acfg.prompts_per_step} must be divisible by the {world} ranks")
    update_cfg = acfg
    train_policy, train_value = policy, value_model
    if world > 1:
        from omegaconf import OmegaConf
        from torch.nn.parallel import DistributedDataParallel as DDP

        update_cfg = OmegaConf.merge(acfg, {"minibatch_size": max(1, acfg.minibatch_size // world)})
        ids_ = [rt.device.index] if rt.device.type == "cuda" else None
        train_policy = DDP(policy, device_ids=ids_)
        if value_model is not None:
            train_value = DDP(value_model, device_ids=ids_)

    start = 0
    resume = ctx.scratch / "resume.pt" if ctx.scratch is not None else None
    if resume is not None and resume.is_file():
        state = torch.load(resume, map_location=rt.device, weights_only=False)
        policy.load_state_dict(state["policy"])
        opt.load_state_dict(state["opt"])
        if value_model is not None:
            value_model.load_state_dict(state["value"])
            value_opt.load_state_dict(state["value_opt"])
        start = state["step"]
        log.info("resuming %s from step %d (%s)", ctx.name, start, resume)

    ckpts = checkpoint_steps(acfg.steps, acfg.n_checkpoints)
    params = SamplingParams(acfg.temperature, acfg.top_p, acfg.top_k, acfg.max_new_tokens, batch_size=512,
                            fast=rt.fast_sampler)
    pad = tokenizer.pad_token_id
    bar = rt.progress(acfg.steps, ctx.name) if D.is_main() else rt.progress(0, "")
    bar.update(start)
    last: dict = {}
    for step in range(start, acfg.steps):
        # Seeded per step, so a resumed run draws the same prompts and samples as an uninterrupted one.
        rng = random.Random(cfg.seed * 100003 + step)
        chosen = rng.sample(problems, min(acfg.prompts_per_step * acfg.oversample, len(problems)))
        first = sum(len(D.shard(chosen, r, world)) for r in range(rank)) * acfg.group_size
        seeds = row_seeds(cfg.seed * 100003 + step, len(chosen) * acfg.group_size)
        chosen = D.shard(chosen, rank, world)
        seeds = seeds[first : first + len(chosen) * acfg.group_size]
        reps = [p for p in chosen for _ in range(acfg.group_size)]
        group_ids = torch.tensor([i for i in range(len(chosen)) for _ in range(acfg.group_size)])

        t0 = time.time()
        policy.eval()
        rollouts = sample(policy, tokenizer, [p.prompt for p in reps], params, stops=[p.stop for p in reps],
                          problem_ids=[p.id for p in reps], seeds=seeds)
        t1 = time.time()
        verdicts = rt.sandbox.evaluate(reps, [r.response for r in rollouts])
        t2 = time.time()

        ids, attn, mask, P = pad_batch(rollouts, pad)
        ids, attn, mask = ids.to(rt.device), attn.to(rt.device), mask.to(rt.device)
        scores = rewards.outcome_scores(verdicts, cfg.reward).to(rt.device)
        token_rewards = rewards.outcome_reward_tensor(scores, mask)
        dense_sum = torch.zeros(len(reps))
        if dense:
            line_scores = prm_line_scores(prm, ids, attn, P, rollouts, prm_loss)
            dense_r = rewards.dense_prm_rewards(
                line_scores, [r.line_end_tokens for r in rollouts], [v.all_passed for v in verdicts], mask.shape[1],
                cfg.prm.lambda_fail, cfg.prm.lambda_pass, cfg.prm.length_norm).to(rt.device)
            token_rewards = token_rewards + dense_r
            dense_sum = dense_r.sum(-1).cpu()
        # metrics describe every sampled rollout; the update sees the selected groups only
        all_scores, all_groups = scores, group_ids
        varied = None
        if acfg.oversample > 1:
            rows, varied = rewards.select_groups(core.masked_sum(token_rewards, mask, dim=1), group_ids,
                                                 acfg.prompts_per_step // world, outcomes=scores)
            group_ids, rows = group_ids[rows], rows.to(rt.device)
            ids, attn, mask, scores, token_rewards = ids[rows], attn[rows], mask[rows], scores[rows], token_rewards[rows]
            seq, resp, P = core.trim_columns(ids, attn, mask, P)  # drop columns only dropped rows used
            ids, attn, mask, token_rewards = ids[:, seq], attn[:, seq], mask[:, resp], token_rewards[:, resp]
        with torch.no_grad():
            logprobs, _ = core.sequence_logprobs(policy, ids, attn, P, temperature=acfg.temperature)
            ref_logprobs, _ = core.sequence_logprobs(ref, ids, attn, P, temperature=acfg.temperature)
            values = core.response_values(value_model, ids, attn, P) if value_model is not None else None
        batch = RolloutBatch(input_ids=ids, attention_mask=attn, response_mask=mask, logprobs=logprobs,
                             ref_logprobs=ref_logprobs, rewards=token_rewards, scores=scores,
                             group_ids=group_ids.to(rt.device), prompt_len=P, values=values)
        advantages, returns = algo.compute_advantages(batch, acfg)
        policy.train()
        stats = algo.update(train_policy, opt, batch, advantages, returns, update_cfg, value_model=train_value,
                            value_optimizer=value_opt)
        t3 = time.time()

        n_tok = sum(len(r.response_ids) for r in rollouts)
        scores, group_ids = all_scores, all_groups
        m = {
            "reward/mean": scores.mean().item(), "reward/std": scores.std().item() if len(scores) > 1 else 0.0,
            "reward/pass_rate": sum(v.pass_rate for v in verdicts) / len(verdicts),
            "reward/all_pass_rate": sum(v.all_passed for v in verdicts) / len(verdicts),
            "reward/dense_mean": dense_sum.mean().item(),
            "rollout/kl": core.masked_mean(logprobs - ref_logprobs, mask).item(),
            "perf/time_generate": t1 - t0, "perf/time_execute": t2 - t1, "perf/time_train": t3 - t2,
            "perf/tokens_per_s_generate": n_tok / max(t1 - t0, 1e-9), "perf/lr": opt.param_groups[0]["lr"],
        }
        m.update(rewards.reward_density(scores.cpu(), group_ids))
        if varied is not None:  # dynamic sampling: share of the trained groups that carry a gradient
            m["rollout/trained_varied_group_frac"] = varied / max(1, acfg.prompts_per_step // world)
        m.update(rollout_stats(rollouts))
        m.update(stats)
        if world > 1:  # every rank had an equal share: the mean of the ranks' means
            ms = D.all_gather(m)
            m = {k: sum(x[k] for x in ms) / world for k in m}
        ctx.tracker.log(m, step=step)
        last = m
        bar.update(1)
        bar.set_postfix(reward=f"{m['reward/mean']:.3f}", all_pass=f"{m['reward/all_pass_rate']:.2f}")

        done = step + 1
        if not D.is_main():
            continue
        if done in ckpts:
            c = ckpts.index(done)
            _save(ctx.out / "checkpoints" / f"c{c}", policy, tokenizer, value_model)
        if resume is not None and (done % 5 == 0 or done in ckpts) and done < acfg.steps:
            resume.parent.mkdir(parents=True, exist_ok=True)
            state = {"policy": policy.state_dict(), "opt": opt.state_dict(), "step": done}
            if value_model is not None:
                state.update(value=value_model.state_dict(), value_opt=value_opt.state_dict())
            torch.save(state, resume.with_suffix(".tmp"))
            resume.with_suffix(".tmp").replace(resume)  # atomic: a kill never leaves a torn resume file
            # Checkpoints saved so far live in the temp entry that a kill deletes: keep copies too.
            if done in ckpts:
                _save(ctx.scratch / "checkpoints" / f"c{ckpts.index(done)}", policy, tokenizer, value_model)
    bar.close()
    if not D.is_main():
        return {}
    # Checkpoints written before an interruption were kept in scratch; bring them into the entry.
    if ctx.scratch is not None and (ctx.scratch / "checkpoints").is_dir():
        import shutil

        for d in (ctx.scratch / "checkpoints").iterdir():
            if not (ctx.out / "checkpoints" / d.name).exists():
                shutil.copytree(d, ctx.out / "checkpoints" / d.name)
    _save(ctx.out, policy, tokenizer, value_model)
    return {f"{ctx.name}/final_{k.split('/')[-1]}": v for k, v in last.items() if k.startswith("reward/")}


def _save(path: Path, policy, tokenizer, value_model) -> None:
    policy.save_pretrained(path / "policy")
    tokenizer.save_pretrained(path / "policy")
    if value_model is not None:
        value_model.save(path / "value")


def rl_baseline_stage(ctx) -> dict:
    return train_rl(ctx)


def rl_stage(ctx) -> dict:
    rt = ctx.runtime
    prm_dir = ctx.inputs["prm"] / "prm"
    prm = ScalarHeadModel.load(prm_dir, rt.device, rt.dtype).eval().requires_grad_(False) if ctx.cfg.prm.dense else None
    value_init = prm_dir if (ctx.cfg.prm.value_init and ctx.cfg.algo.name == "ppo") else None
    meta = json.loads((prm_dir / "prm_meta.json").read_text())
    return train_rl(ctx, prm=prm, prm_loss=meta["loss"], value_init=value_init)
