"""The two RL stages: ``rl_baseline`` (plain RL from SFT, outcome reward only) and ``rl`` (RL from
SFT again, with the trained PRM as DenseReward and/or ValueInit, ``prm.dense`` / ``prm.value_init``,
or as the completability credit of GRPO/RLOO, ``prm.credit``)."""
from __future__ import annotations

from prmlab.prm.credit import CompletabilityCredit
from prmlab.prm.use import DenseReward, value_init_dir
from prmlab.rl.loop import train_rl


def rl_baseline_stage(ctx) -> dict:
    return train_rl(ctx)


def rl_stage(ctx) -> dict:
    cfg, rt = ctx.cfg, ctx.runtime
    prm_train = ctx.inputs["prm_train"]
    dense = (DenseReward.load(prm_train, cfg.prm, rt.device, rt.dtype, cfg.algo.micro_tokens, cfg.algo.share_prompts)
             if cfg.prm.dense else None)
    credit = CompletabilityCredit.load(prm_train, cfg, rt.device, rt.dtype)
    return train_rl(ctx, dense=dense, value_init=value_init_dir(prm_train, cfg), credit=credit)
