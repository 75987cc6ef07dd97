"""The stage registry and the plan a config asks for (docs/DESIGN.md, "The flow").

    tasks ─► sft ─► rl_baseline ─► prm_collect ─► prm_select ─► prm_train ─► rl ─► eval

* ``algo=none``: tasks → sft → eval (the SFT policy is evaluated).
* an RL algorithm without PRM: tasks → sft → rl_baseline → eval.
* with ``prm.dense``, ``prm.value_init`` or ``prm.credit``: the whole chain; eval evaluates ``rl``.
* ``gradients.enabled``: the pass-rate study's gradient analyses on the baseline's checkpoints
  (with prm_collect for the calibration analysis).

``reads`` lists every config field a stage uses; it *is* the stage's cache key (with the
upstream keys and the stage version), so e.g. ``strategy`` only enters at ``prm_select``, and a
``strategy=full,revised_only`` sweep shares tasks, sft, rl_baseline and prm_collect.
"""
from __future__ import annotations

import importlib
from typing import Callable

from prmlab.pipeline import PlannedStage, Stage

# Sandbox limits change verdicts, so they are part of the key of every stage that executes code.
SANDBOX_READS = ("sandbox.test_timeout", "sandbox.program_timeout", "sandbox.memory_mb", "sandbox.float_tol",
                 "sandbox.max_result_bytes", "sandbox.max_processes", "sandbox.file_size_mb", "sandbox.open_files")
ROLLOUT_READS = ("algo", "reward", "seed") + SANDBOX_READS
# options of the ``algo`` group added later with a null default: left out of the key while null
ROLLOUT_OPTIONAL = ("algo.warmup_steps",)


def _lazy(target: str) -> Callable:
    mod, fn = target.split(":")

    def call(ctx):
        return getattr(importlib.import_module(mod), fn)(ctx)

    call.__name__ = fn
    return call


STAGES: dict[str, Stage] = {
    s.name: s
    for s in [
        # task.long_constants, task.long_comments: added to the ``task`` group with a null default, left out of
        # the key while null
        Stage("tasks", 1, ("task",), _lazy("prmlab.tasks:tasks_stage"),
              optional_reads=("task.long_constants", "task.long_comments")),
        Stage("sft", 1, ("model", "sft"), _lazy("prmlab.sft:sft_stage")),  # sft.seed defaults to seed
        Stage("rl_baseline", 1, ROLLOUT_READS, _lazy("prmlab.rl.stages:rl_baseline_stage"), distributed=True,
              optional_reads=ROLLOUT_OPTIONAL),
        Stage("prm_collect", 1,
              ("prm.samples_per_prompt", "prm.completions", "prm.search", "prm.max_prompts", "prm.neutral_label", "prm.skip_neutral",
               "algo.n_checkpoints", "algo.max_new_tokens", "algo.temperature", "algo.top_p", "algo.top_k", "seed")
              + SANDBOX_READS, _lazy("prmlab.prm.collect:prm_collect_stage"),
              optional_reads=("prm.completion_temperature",)),
        Stage("prm_select", 1, ("strategy",), _lazy("prmlab.prm.select:prm_select_stage"),
              optional_reads=("prm.empty_selection",)),
        Stage("prm_train", 1,
              ("prm.loss", "prm.init", "prm.epochs", "prm.lr", "prm.batch_size", "prm.val_fraction", "seed"),
              _lazy("prmlab.prm.train:prm_train_stage")),
        # v2: dynamic sampling ranks groups on outcome disagreement before dense-only disagreement
        Stage("rl", 2,
              ROLLOUT_READS + ("prm.dense", "prm.value_init", "prm.lambda_fail", "prm.lambda_pass", "prm.length_norm",
                              "prm.dense_norm", "prm.value_scale"),
              _lazy("prmlab.rl.stages:rl_stage"), distributed=True,
              optional_reads=("prm.credit", "prm.credit_coef") + ROLLOUT_OPTIONAL),
        Stage("gradients", 1, ("gradients", "algo", "seed") + SANDBOX_READS,
              _lazy("prmlab.gradients:gradients_stage"), optional_reads=("prm.credit_coef",) + ROLLOUT_OPTIONAL),
        Stage("eval", 1, ("eval", "seed") + SANDBOX_READS, _lazy("prmlab.evaluate:eval_stage")),
    ]
}


def uses_prm(cfg) -> bool:
    return cfg.algo.name != "none" and bool(cfg.prm.dense or cfg.prm.value_init or cfg.prm.credit)


def build_plan(cfg) -> list[PlannedStage]:
    """The stages ``cfg`` needs, in order, up to and including ``cfg.until`` when it is set."""
    plan = full_plan(cfg)
    until = cfg.get("until")
    names = [p.stage.name for p in plan]
    return plan if until is None else plan[: names.index(until) + 1]


def full_plan(cfg) -> list[PlannedStage]:
    """Every stage ``cfg`` needs, in order, ending with eval. A stage's inputs are named by the upstream
    stage they come from (``ctx.inputs["rl_baseline"]``), except eval's ``policy``, the stage it evaluates."""
    P = lambda name, *ups, **inputs: PlannedStage(STAGES[name], {**{u: u for u in ups}, **inputs})  # noqa: E731
    plan = [P("tasks"), P("sft", "tasks")]
    policy = "sft"
    if cfg.algo.name != "none":
        plan.append(P("rl_baseline", "tasks", "sft"))
        policy = "rl_baseline"
        if uses_prm(cfg):
            plan += [
                P("prm_collect", "tasks", "rl_baseline"),
                P("prm_select", "prm_collect"),
                P("prm_train", "tasks", "prm_select", "rl_baseline", "sft"),
                P("rl", "tasks", "sft", "rl_baseline", "prm_train"),
            ]
            policy = "rl"
    if cfg.algo.name != "none" and cfg.gradients.enabled:
        # (c) calibration needs the PRM labels of the baseline's samples
        if not uses_prm(cfg):
            plan.append(P("prm_collect", "tasks", "rl_baseline"))
        # with a trained PRM (a PRM run) the analyses add the completability credits (prmlab/gradients.py)
        plan.append(P("gradients", "tasks", "rl_baseline", "prm_collect", *(["prm_train"] if uses_prm(cfg) else [])))
    plan.append(P("eval", "tasks", policy=policy))
    return plan
