"""Set-up, checkpoints and resume of an RL run: the plumbing around the loop in ``loop.py``.

``setup`` builds an ``RLState``: the policy and its frozen reference (both the SFT policy), AdamW,
PPO's critic (fresh, or the PRM's weights under ValueInit), DDP wrappers under torchrun, and the
step to resume from when the stage's scratch dir holds a resume checkpoint of a killed attempt.

Checkpoints: ``algo.n_checkpoints`` (C) policy + value checkpoints at evenly spaced steps (the last
is the final model) feed PRM data collection and the gradient analyses. Every 5 steps and at each
checkpoint a resume file is written atomically to the scratch dir (which survives a killed attempt,
unlike the stage's temp entry), with copies of the checkpoints saved so far.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import torch

from prmlab import distributed as D
from prmlab import rewards
from prmlab.algos import get_algo
from prmlab.errors import PrmlabError
from prmlab.layout import CHECKPOINTS_DIR, PROBLEMS_FILE, checkpoint_dir, policy_dir, value_dir
from prmlab.models import load_policy, load_tokenizer
from prmlab.prm.use import make_critic
from prmlab.sampling import SamplingParams
from prmlab.tasks import rl_problems
from prmlab.types import Problem

log = logging.getLogger(__name__)

RESUME_EVERY = 5  # steps between resume checkpoints (and at every kept checkpoint)


@dataclass
class RLState:
    """Everything one RL run holds across steps."""

    algo: ModuleType  # prmlab.algos.<name>: compute_advantages, update
    problems: list[Problem]  # the RL prompts
    tokenizer: Any
    policy: torch.nn.Module  # trained; sampling and old log-probs use it unwrapped
    ref: torch.nn.Module  # frozen SFT policy: the KL reference
    opt: torch.optim.Optimizer
    value_model: Optional[torch.nn.Module]  # PPO's critic, None for critic-free algorithms
    value_opt: Optional[torch.optim.Optimizer]
    train_policy: torch.nn.Module  # the policy, DDP-wrapped under torchrun
    train_value: Optional[torch.nn.Module]
    update_cfg: Any  # algo config with the per-rank minibatch size
    params: SamplingParams  # rollout sampling settings
    ckpts: list[int]  # steps after which checkpoint c = 0..C-1 is saved
    start: int  # first step to run (> 0 when resuming)
    resume: Optional[Path]  # resume file in the stage's scratch dir
    world: int
    rank: int


def checkpoint_steps(steps: int, n: int) -> list[int]:
    """Steps (1-based counts of finished updates) after which checkpoint c = 0..n-1 is saved."""
    n = max(1, min(n, steps))
    return sorted({round((c + 1) * steps / n) for c in range(n)})


def setup(ctx, value_init: Optional[Path]) -> RLState:
    cfg, rt, acfg = ctx.cfg, ctx.runtime, ctx.cfg.algo
    problems = rl_problems(ctx.inputs["tasks"] / PROBLEMS_FILE)
    sft_policy = policy_dir(ctx.inputs["sft"])
    tokenizer = load_tokenizer(sft_policy)
    torch.manual_seed(cfg.seed)  # a fresh critic head draws its init from here
    policy = load_policy(sft_policy, rt.device, rt.dtype)
    ref = load_policy(sft_policy, rt.device, rt.dtype).eval().requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=acfg.lr, weight_decay=0.0)
    value_model = value_opt = None
    if acfg.name == "ppo":
        # the critic's scale matters only for ValueInit (the rl stage reads prm.value_scale; the
        # baseline's stage does not, so its config has no ``prm`` group)
        scale = (rewards.reward_range(cfg.reward)
                 if value_init is not None and cfg.prm.value_scale == "reward" else None)
        value_model = make_critic(sft_policy, value_init, rt.device, rt.dtype, reward_range=scale)
        value_opt = torch.optim.AdamW(value_model.parameters(), lr=acfg.value_lr, weight_decay=0.0)
    world, rank = D.world(), D.rank()
    if acfg.prompts_per_step % world:
        raise PrmlabError(f"algo.prompts_per_step={acfg.prompts_per_step} must be divisible by the {world} ranks")
    update_cfg, train_policy, train_value = acfg, policy, value_model
    if world > 1:
        from omegaconf import OmegaConf
        from torch.nn.parallel import DistributedDataParallel as DDP

        update_cfg = OmegaConf.merge(acfg, {"minibatch_size": max(1, acfg.minibatch_size // world)})
        ids_ = [rt.device.index] if rt.device.type == "cuda" else None
        train_policy = DDP(policy, device_ids=ids_)
        if value_model is not None:
            train_value = DDP(value_model, device_ids=ids_)
    params = SamplingParams(acfg.temperature, acfg.top_p, acfg.top_k, acfg.max_new_tokens, batch_size=512,
                            fast=rt.fast_sampler)
    state = RLState(get_algo(acfg.name), problems, tokenizer, policy, ref, opt, value_model, value_opt,
                    train_policy, train_value, update_cfg, params, checkpoint_steps(acfg.steps, acfg.n_checkpoints),
                    start=0, resume=ctx.scratch / "resume.pt" if ctx.scratch is not None else None,
                    world=world, rank=rank)
    load_resume(state, rt.device, ctx.name)
    return state


def load_resume(s: RLState, device, name: str) -> None:
    """Continue a killed attempt from its last resume checkpoint, when there is one."""
    if s.resume is None or not s.resume.is_file():
        return
    saved = torch.load(s.resume, map_location=device, weights_only=False)
    s.policy.load_state_dict(saved["policy"])
    s.opt.load_state_dict(saved["opt"])
    if s.value_model is not None:
        s.value_model.load_state_dict(saved["value"])
        s.value_opt.load_state_dict(saved["value_opt"])
    s.start = saved["step"]
    log.info("resuming %s from step %d (%s)", name, s.start, s.resume)


def save_models(path: Path, s: RLState) -> None:
    s.policy.save_pretrained(policy_dir(path))
    s.tokenizer.save_pretrained(policy_dir(path))
    if s.value_model is not None:
        s.value_model.save(value_dir(path))


def save_checkpoints(ctx, s: RLState, done: int, total: int) -> None:
    """After ``done`` updates: the kept checkpoint due now, and the resume file (rank 0 only)."""
    if done in s.ckpts:
        save_models(checkpoint_dir(ctx.out, s.ckpts.index(done)), s)
    if s.resume is None or not (done % RESUME_EVERY == 0 or done in s.ckpts) or done >= total:
        return
    s.resume.parent.mkdir(parents=True, exist_ok=True)
    saved = {"policy": s.policy.state_dict(), "opt": s.opt.state_dict(), "step": done}
    if s.value_model is not None:
        saved.update(value=s.value_model.state_dict(), value_opt=s.value_opt.state_dict())
    torch.save(saved, s.resume.with_suffix(".tmp"))
    s.resume.with_suffix(".tmp").replace(s.resume)  # atomic: a kill never leaves a torn resume file
    # Checkpoints saved so far live in the temp entry that a kill deletes: keep copies too.
    if done in s.ckpts:
        save_models(checkpoint_dir(ctx.scratch, s.ckpts.index(done)), s)


def finish(ctx, s: RLState) -> None:
    """Bring checkpoints written before an interruption into the entry; save the final models."""
    kept = ctx.scratch / CHECKPOINTS_DIR if ctx.scratch is not None else None
    if kept is not None and kept.is_dir():
        for d in kept.iterdir():
            if not (ctx.out / CHECKPOINTS_DIR / d.name).exists():
                shutil.copytree(d, ctx.out / CHECKPOINTS_DIR / d.name)
    save_models(ctx.out, s)
