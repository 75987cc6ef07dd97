"""Typed configuration schemas, registered in Hydra's ConfigStore.

Every YAML file under ``conf/`` is merged into one of these dataclasses, so a typo in a key
(``algo.lr_rate=…``) or a wrong type (``algo.steps=abc``) fails when Hydra composes the config,
before any stage runs. Each field has a one-line doc in its trailing comment, and its valid values
in its definition: ``positive(60)`` (> 0), ``nonneg`` (>= 0), ``prob`` (in [0, 1]), ``in_range``,
``choice(...)`` / ``choice_of("module:NAMES")`` (names taken from where they are defined),
``unbounded(default, why)`` for numbers that may deliberately be anything (prmlab/rules.py,
which checks them, and the cross-field rules, at compose time; ``python -m prmlab.run`` exits 2).
Values stay plain str/int/float/bool/list: the stage cache keys hash them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import II, MISSING

from prmlab.sandbox.config import SandboxConfig
from prmlab.rules import (choice, choice_of, date, each, existing_file, hf_checkpoint, in_range, nonneg,
                               positive, prob, unbounded)


@dataclass
class TaskConfig:
    name: str = choice_of("synthetic", "prmlab.tasks:SOURCES")  # task source: synthetic | humaneval | livecodebench
    seed: int = nonneg(0)  # seed of the synthetic generator (and of splits of external sources)
    n_train: int = positive(600)  # synthetic: SFT problems (and RL's when n_rl=0)
    n_rl: int = nonneg(600)  # synthetic: RL prompts (RL, PRM data, gradient analyses), disjoint from SFT's; 0 = reuse train
    n_val: int = nonneg(60)  # synthetic: validation problems (PRM held-out metrics)
    n_test: int = positive(150)  # synthetic: held-out test problems (evaluation)
    # synthetic: share of every split drawn from the long tier (step-by-step programs of 15-28 code lines,
    # references of ~100-200 tokens; the long-horizon regime). 0 = off. > 0 needs room for the long
    # references: sft.max_len and the rollout/eval max_new_tokens (checked at compose time)
    long_share: float = prob(0.0)
    # synthetic, long tier: how its per-problem int constants are written. null = as literals in the comments
    # and the body; named = as keyword parameters with defaults in the def header (def f(xs, c=3, a=2):), named
    # in the comments and the body. A long program holds 1-4 constants written 1-9 times each, and one miscopied
    # constant fails it: the tiny policy's long-tier pass rate (~0-4%) is mostly copying mistakes. Same problems
    # and tests either way
    long_constants: Optional[str] = choice_of(None, "prmlab.tasks.synthetic:LONG_CONSTANTS")
    # synthetic, long tier: comment lines in the references. null = none (no reference of any tier has a comment
    # or blank line, so the PRM's neutral label and dense_norm=code_lines have nothing to act on); parts = a
    # comment opening each block of the body (# mapped). Same problems, tests and code lines either way
    long_comments: Optional[str] = choice_of(None, "prmlab.tasks.synthetic:LONG_COMMENTS")
    path: Optional[str] = existing_file(None)  # livecodebench: JSONL file of code_generation rows
    date_from: Optional[str] = date(None)  # livecodebench: keep problems with contest_date >= this (YYYY-MM-DD)
    date_to: Optional[str] = date(None)  # livecodebench: keep problems with contest_date <= this (YYYY-MM-DD)
    train_fraction: float = prob(0.0)  # external sources: share of problems used for training (rest is test)
    limit: Optional[int] = positive(None)  # keep only the first N problems of each split (quick runs)


@dataclass
class ModelConfig:
    name: str = choice("tiny", "hf")  # tiny (built locally) | hf (any local HF causal LM via model.path)
    path: Optional[str] = hf_checkpoint(None)  # hf: local checkpoint directory (config, weights, tokenizer)
    arch: str = choice("gpt2", "llama")  # tiny: gpt2 | llama
    n_layer: int = positive(2)  # tiny: transformer blocks
    n_head: int = positive(4)  # tiny: attention heads
    n_embd: int = positive(128)  # tiny: hidden size
    vocab_size: int = positive(512)  # tiny: BPE vocabulary trained on the task suite's text
    n_positions: int = positive(512)  # tiny: context length
    # auto = fp32 + bf16 autocast on CUDA, fp32 on CPU; amp_bf16 = that mixed precision on any device; else no autocast
    dtype: str = choice("auto", "amp_bf16", "float32", "bfloat16", "float16")


@dataclass
class SFTConfig:
    epochs: int = nonneg(30)  # passes over the training problems' reference solutions
    lr: float = positive(3e-3)  # peak AdamW learning rate (linear warmup, cosine decay)
    batch_size: int = positive(32)  # sequences per optimiser step
    weight_decay: float = nonneg(0.01)  # AdamW weight decay
    warmup_frac: float = prob(0.05)  # share of steps spent in linear warmup
    max_len: int = positive(384)  # truncate prompt+solution to this many tokens
    # seed of the tiny model's init and the SFT data order; defaults to the run's seed. Fix it (sft.seed=0)
    # to start every RL seed of a sweep from one SFT policy: the SFT stage is then computed once.
    seed: int = nonneg(II("seed"))


@dataclass
class AlgoConfig:
    name: str = choice_of("none", "prmlab.algos:ALGOS", extra=("none",))  # none (evaluate SFT) | ppo | grpo | rloo
    steps: int = positive(60)  # RL updates (each on prompts_per_step x group_size rollouts)
    prompts_per_step: int = positive(16)  # prompt groups trained on per update
    # DAPO dynamic sampling: sample oversample x prompts_per_step prompts, train on prompts_per_step groups,
    # those whose rewards disagree first (prmlab.rewards.select_groups). 1 = off, both papers' recipe
    # (every sampled group is trained on); > 1 is an ablation (its own rows in the reports)
    oversample: int = positive(1)
    group_size: int = positive(8)  # responses per prompt (G for GRPO/RLOO)
    lr: float = positive(1e-4)  # policy learning rate (AdamW; constant after warm-up); calibrated, see docs/results/default_testbed.md
    # linear warm-up of both optimisers' learning rates over this many first updates (null = constant from
    # the first). Adam's first bias-corrected steps move every weight by about lr whatever the gradient's
    # noise; neither paper states a schedule (prmlab.rl.loop.learning_rate)
    warmup_steps: Optional[int] = positive(None)
    value_lr: float = positive(1e-3)  # critic learning rate (PPO)
    epochs: int = positive(1)  # optimisation epochs over each batch
    minibatch_size: int = positive(64)  # rollouts per minibatch
    clip_eps: float = positive(0.2)  # PPO/GRPO ratio clip
    value_clip: Optional[float] = positive(0.2)  # PPO value clip range (null = unclipped)
    vf_coef: float = nonneg(0.5)  # weight of the value loss (PPO)
    gamma: float = prob(1.0)  # GAE discount
    lam: float = prob(0.95)  # GAE lambda (< 1 so the critic's estimates enter PPO's advantages; 1 = Monte-Carlo, an ablation)
    kl_coef: float = nonneg(0.02)  # beta: KL penalty to the reference (SFT) policy; 0 turns it off
    # k1 | k2 | k3 (Schulman's estimators). PPO adds it to the reward (conf/algo/ppo.yaml: k1, the only one whose
    # reward-form gradient is the KL's); GRPO/RLOO add it to the loss (k3; k1 is refused there: zero expected gradient)
    kl_estimator: str = choice_of("k3", "prmlab.algos.core:KL_ESTIMATORS")
    whiten_advantages: bool = True  # PPO: normalise advantages over the batch
    scale_by_std: bool = True  # GRPO: divide group-centred rewards by the group std
    loss_agg: str = choice_of("token_mean", "prmlab.algos.core:LOSS_AGGS")  # token_mean | seq_mean_token_mean | seq_mean_token_sum_norm
    max_grad_norm: float = nonneg(1.0)  # gradient clipping (0 = measure the norm, do not clip)
    temperature: float = positive(1.0)  # rollout sampling temperature
    top_p: float = in_range(1.0, 0, 1, lo_open=True)  # rollout nucleus sampling
    top_k: int = nonneg(0)  # rollout top-k (0 = off)
    max_new_tokens: int = positive(160)  # rollout response length cap
    n_checkpoints: int = positive(4)  # C: evenly spaced policy+value checkpoints kept for PRM collection
    entropy_coef: float = nonneg(0.0)  # entropy bonus
    # forward/backward passes over rollouts run in length-sorted micro-batches of at most this many padded
    # positions (rows x columns), gradients accumulated: the same minibatches and losses, far less padding
    # (prmlab.algos.core.length_chunks). 0 = whole minibatches as padded. Changes float rounding only.
    micro_tokens: int = nonneg(4096)
    # run each distinct prompt's columns once per forward and the group's responses on its cached keys/values
    # (prmlab.algos.core.response_outputs): the same function and gradients, about half the positions on the
    # long testbed. Changes float rounding only. Off under torchrun (DDP expects one forward per backward).
    share_prompts: bool = True


@dataclass
class RewardConfig:
    name: str = choice_of("binary", "prmlab.rewards:OUTCOME_REWARDS")  # binary (all tests pass) | pass_rate (fraction of tests passed)
    pass_value: float = unbounded(1.0, "a reward level; only pass_value > fail_value matters")  # binary: reward when every test passes
    fail_value: float = unbounded(0.0, "negative on purpose in the paper's -1/1 variant")  # binary: reward otherwise (the paper also uses -1)


@dataclass
class PRMConfig:
    dense: bool = False  # DenseReward: add lambda * PRM(prefix_j) / M at each line end
    value_init: bool = False  # ValueInit: initialise the PPO critic from the PRM
    # ValueInit's output scale: reward (the PRM's [-1, 1] mapped affinely onto the outcome reward's range, so
    # the critic starts on the scale of the returns it predicts) | label (the PRM's ±1 as is: an ablation)
    value_scale: str = choice_of("reward", "prmlab.prm.use:VALUE_SCALES")
    lambda_fail: float = nonneg(0.5)  # dense weight when the response fails the tests
    lambda_pass: float = nonneg(0.0)  # dense weight when it passes (paper: 0)
    length_norm: bool = True  # divide dense rewards by the number of lines M
    # what M counts: all_lines (the paper: every line, comments and blanks too) | code_lines (an ablation:
    # comment padding cannot dilute a failing response's penalty)
    dense_norm: str = choice_of("all_lines", "prmlab.prm.use:DENSE_NORMS")
    # completability credit for GRPO/RLOO (prmlab/prm/credit.py): null = off | step (a per-line advantage
    # term, the PRM's step differences) | shaped (binary reward raised by the PRM's completable share)
    credit: Optional[str] = choice_of(None, "prmlab.prm.credit:CREDITS")
    # beta (step) or kappa (shaped, < 1 so a failing response never reaches a pass); null = 0.5
    credit_coef: Optional[float] = nonneg(None)
    neutral_label: bool = True  # comment/blank lines get label 0
    skip_neutral: bool = True  # only check prefixes that end on a code line (saves checks)
    samples_per_prompt: int = positive(4)  # N: responses per training prompt and checkpoint
    completions: int = positive(4)  # K: completions per prefix check (best-of-K)
    # temperature of those K completions (null = algo.temperature, the responses' own). Neither paper states
    # it; best-of-K stands in for an oracle, and at T = 1 the long tier's completions miscopy a constant
    # almost always, so a correct prefix reads as not completable (docs/RESULTS.md)
    completion_temperature: Optional[float] = positive(None)
    search: str = choice_of("binary", "prmlab.prm.label:SEARCH_MODES")  # binary | linear (labels every prefix; for checking monotonicity)
    # prompts used for collection (seeded choice from the rl split; null = all). 128 x N=4 x C=4 = 2048 responses
    # keeps prm_collect at a few minutes on 2 CPU cores; all 600 prompts cost ~5x that (docs/BENCHMARKS.md)
    max_prompts: Optional[int] = positive(128)
    loss: str = choice("mse", "ce")  # mse | ce
    init: str = choice("value", "sft", "fresh")  # PRM initialisation: value (baseline critic) | sft | fresh
    epochs: int = positive(4)  # PRM training epochs
    lr: float = positive(1e-3)  # PRM learning rate
    batch_size: int = positive(32)  # PRM training batch size
    val_fraction: float = in_range(0.1, 0, 1, hi_open=True)  # share of prompts held out for PRM metrics
    # when the strategy keeps no response: null = stop with an error (a PRM cannot be trained on
    # nothing); full = keep every labelled response, flagged prm_select/fallback_full=1 in the records.
    # For wiring checks only (experiment=smoke sets it: its policy solves nothing, so every prompt is Hard)
    empty_selection: Optional[str] = choice("full", default=None)


@dataclass
class StrategyConfig:
    name: str = choice_of("revised_only", "prmlab.prm.select:STRATEGIES")  # full | remove_hard | medium_only | revised_only


@dataclass
class EvalConfig:
    n_samples: int = positive(10)  # responses per problem
    temperature: float = nonneg(0.2)  # sampling temperature (0 = greedy) temperature
    top_p: float = in_range(0.95, 0, 1, lo_open=True)  # nucleus sampling
    top_k: int = nonneg(0)  # top-k (0 = off)
    max_new_tokens: int = positive(160)  # response length cap
    ks: List[int] = each(lambda: [1, 5, 10], positive(1))  # pass@k reported
    length_edges: List[int] = each(lambda: [40, 80, 120], positive(1), increasing=True)  # response-length bucket edges (tokens)
    split: str = choice("test", "train", "rl", "val")  # which split to evaluate
    batch_size: int = positive(256)  # sequences sampled at once


@dataclass
class GradientsConfig:
    enabled: bool = False  # run the pass-rate study's gradient analyses on the baseline's checkpoints
    prompts: int = positive(16)  # prompt groups per checkpoint
    group_size: int = positive(8)  # responses per prompt
    step_size: float = positive(0.05)  # norm of the probe update used for the change in full-pass log-prob


@dataclass
class LoggerConfig:
    name: str = choice("wandb", "none")  # wandb | none
    project: str = "prmlab"  # W&B project
    entity: Optional[str] = None  # W&B entity (user or team)
    mode: str = choice("offline", "online", "disabled")  # offline (no network needed) | online | disabled
    dir: Optional[str] = None  # where wandb writes (default: the run dir)


@dataclass
class Config:
    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    prm: PRMConfig = field(default_factory=PRMConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    gradients: GradientsConfig = field(default_factory=GradientsConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    seed: int = nonneg(0)  # seed of training and sampling
    device: str = choice("auto", "cpu", "cuda")  # auto | cpu | cuda
    cache_dir: str = "${oc.env:PRMLAB_CACHE,${hydra:runtime.cwd}/.prmlab_cache}"  # stage cache root
    experiment: str = "default"  # experiment name (W&B group)
    tags: List[str] = field(default_factory=list)  # W&B tags
    progress: bool = True  # progress bars
    threads: int = nonneg(0)  # torch CPU threads (0 = torch default)
    # decode loop of every stage: fast (prmlab.sampling.fast, preallocated KV cache) or hf (the HF forward
    # with its own cache, the reference). Same seeds -> same samples up to float near-ties, so not a cache key.
    sampler: str = choice("fast", "hf")
    # sampled responses (RL steps, PRM collection, eval) go to the sandbox the moment their row finishes
    # decoding, so execution runs while the other rows are still sampled (prmlab.sandbox.pool.Stream). Same
    # verdicts, so not a cache key. Off by default: on 2 CPU cores the sandbox and the decode loop compete for
    # the same cores and the step got no faster (docs/BENCHMARKS.md); meant for decoding on a GPU.
    overlap: bool = False
    # stop after this stage of the run's plan (null = the whole plan, up to eval); e.g. until=prm_collect
    # computes the PRM data only (benchmarks/prm_regime.py reads it). Not a cache key.
    until: Optional[str] = choice_of(None, "prmlab.stages:STAGES")


def register_configs() -> None:
    cs = ConfigStore.instance()
    # Only the primary schema: its typed fields (TaskConfig, ...) type every group file merged into
    # them, and per-group schema entries would show up as bogus options in Hydra's error messages.
    cs.store(name="config_schema", node=Config)
