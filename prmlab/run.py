"""Hydra entry point: ``python -m prmlab.run [overrides]`` or ``-m`` for sweeps.

Composes the config (typed: unknown keys and wrong types fail here), checks the values that a
schema cannot (choices, files), builds the stage plan, runs it against the stage cache, writes
the run records and prints a one-screen summary. Algorithm code lives in the stage modules.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from prmlab.config import register_configs
from prmlab.errors import PrmlabError

log = logging.getLogger("prmlab")

CHOICES = {
    "task.name": ("synthetic", "humaneval", "livecodebench"),
    "model.name": ("tiny", "hf"),
    "model.arch": ("gpt2", "llama"),
    "model.dtype": ("auto", "amp_bf16", "float32", "bfloat16", "float16"),
    "algo.name": ("none", "ppo", "grpo", "rloo"),
    "sampler": ("fast", "hf"),
    "algo.kl_estimator": ("k1", "k2", "k3"),
    "algo.loss_agg": ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"),
    "reward.name": ("binary", "pass_rate"),
    "prm.search": ("binary", "linear"),
    "prm.loss": ("mse", "ce"),
    "prm.init": ("value", "sft", "fresh"),
    "strategy.name": ("full", "remove_hard", "medium_only", "revised_only"),
    "logger.name": ("wandb", "none"),
    "logger.mode": ("offline", "online", "disabled"),
    "sandbox.isolation": ("auto", "namespaces", "process"),
    "device": ("auto", "cpu", "cuda"),
}
POSITIVE = ("task.n_test", "sft.batch_size", "algo.prompts_per_step", "algo.group_size", "algo.minibatch_size",
            "eval.n_samples", "eval.max_new_tokens", "algo.max_new_tokens", "prm.samples_per_prompt",
            "prm.completions", "algo.n_checkpoints")


def _slug(s: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.,=+-]+", "-", s or "")
    return (s[:120] or "default").strip("-")


def _run_name(stamp: str) -> str:
    """Run dir name: ``<time>_<pid>``; under torchrun every rank agrees on ``torchrun-<id>``
    (rank 0 writes the records there, rank r logs to ``torchrun-<id>/rank<r>``)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        base = f"torchrun-{os.environ.get('TORCHELASTIC_RUN_ID', 'none')}"
        r = int(os.environ.get("RANK", "0"))
        return base if r == 0 else f"{base}/rank{r}"
    return f"{stamp}_{os.getpid()}"


def _register_resolvers() -> None:
    if not OmegaConf.has_resolver("prmlab_pid"):
        OmegaConf.register_new_resolver("prmlab_pid", lambda: str(os.getpid()))
    if not OmegaConf.has_resolver("prmlab_run_name"):
        OmegaConf.register_new_resolver("prmlab_run_name", _run_name)
    if not OmegaConf.has_resolver("prmlab_slug"):
        OmegaConf.register_new_resolver("prmlab_slug", _slug)


def validate(cfg: DictConfig) -> None:
    """Checks a dataclass schema cannot express; each names the field and what was expected."""
    for path, allowed in CHOICES.items():
        v = OmegaConf.select(cfg, path)
        if v not in allowed:
            raise PrmlabError(f"{path}={v!r} is not valid; expected one of {', '.join(allowed)}")
    for path in POSITIVE:
        v = OmegaConf.select(cfg, path)
        if v is None or v <= 0:
            raise PrmlabError(f"{path}={v!r} is not valid; expected a positive integer")
    if cfg.model.name == "hf":
        from prmlab.models import check_checkpoint

        if not cfg.model.path:
            raise PrmlabError("model.path: model=hf needs model.path=DIR (a local Hugging Face checkpoint)")
        check_checkpoint(cfg.model.path)
    if cfg.task.name == "livecodebench" and not (cfg.task.path and Path(cfg.task.path).is_file()):
        raise PrmlabError(f"task.path: LiveCodeBench file not found: {cfg.task.path!r}")
    if cfg.eval.n_samples < 1 or any(k < 1 for k in cfg.eval.ks):
        raise PrmlabError("eval.ks: every k must be >= 1")
    if cfg.eval.length_edges != sorted(cfg.eval.length_edges):
        raise PrmlabError(f"eval.length_edges={list(cfg.eval.length_edges)} must be increasing")


def run(cfg: DictConfig) -> dict:
    from prmlab import distributed as D
    from prmlab.pipeline import StageCache, run_plan
    from prmlab.runtime import Runtime
    from prmlab.stages import build_plan
    from prmlab.tracking import Tracker

    t0 = time.time()
    validate(cfg)
    D.init(cfg.device)
    main_rank = D.is_main()
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if main_rank:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(resolved)))
    overrides = [o for o in hc.overrides.task]
    plan = build_plan(cfg)
    tracker = Tracker(run_dir, cfg.logger if main_rank else None, config=resolved, group=cfg.experiment, job_type=plan[-2].stage.name,
                      name=" ".join(overrides) or "default", tags=tuple(cfg.tags))
    runtime = None
    exit_code = 1
    try:
        runtime = Runtime(cfg)
        results = run_plan(cfg, plan, StageCache(cfg.cache_dir), runtime, tracker)
        if not main_rank:
            exit_code = 0
            return {}
        eval_dir = results[-1].path
        if (eval_dir / "samples.jsonl").is_file():
            shutil.copyfile(eval_dir / "samples.jsonl", run_dir / "samples.jsonl")
        summary = {"overrides": overrides, "experiment": cfg.experiment, "seed": cfg.seed,
                   "wall_time_s": time.time() - t0,
                   "stages": {r.name: {"status": r.status, "key": r.key, "seconds": round(r.seconds, 2),
                                       "path": str(r.path)} for r in results}}
        for r in results:
            summary.update(r.summary)
        if runtime._sandbox is not None:
            summary.update(runtime.sandbox.stats())
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        tracker.summary(summary)
        exit_code = 0
        print_summary(summary, run_dir)
        return summary
    finally:
        if runtime is not None:
            runtime.close()
        tracker.finish(exit_code)
        D.destroy()


def print_summary(summary: dict, run_dir: Path) -> None:
    """One screen: stages (computed/reused, time), held-out pass@k by slice, where records went."""
    lines = ["", "=" * 78, f"prmlab run ({summary['wall_time_s']:.1f}s): {' '.join(summary['overrides']) or 'defaults'}"]
    for name, st in summary["stages"].items():
        lines.append(f"  {name:<12} {st['status']:<9} {st['seconds']:>8.1f}s  key {st['key']}")
    ev = {k[len("eval/"):]: v for k, v in summary.items() if k.startswith("eval/pass")}
    if "pass@1" in ev:
        ks = sorted({k.split("/")[0] for k in ev if k.startswith("pass@")}, key=lambda k: int(k[5:]))
        lines.append("  held-out " + "  ".join(f"{k} {ev[k]:.3f}" for k in ks if k in ev)
                     + f"   test pass rate {ev.get('pass_rate', float('nan')):.3f}")
        for title, keys in (("difficulty", ("easy", "medium", "hard")), ("category", None), ("length", None)):
            if keys is None:
                pref = "len_" if title == "length" else None
                # length buckets in the order of their lower edge ("0-40" < "40-80" < "120+"), not as strings
                keys = sorted((k.split("/", 1)[1] for k in ev if k.startswith("pass@1/") and
                              (k.split("/", 1)[1].startswith("len_") if pref else
                               not k.split("/", 1)[1].startswith("len_") and k.split("/", 1)[1] not in ("easy", "medium", "hard"))),
                              key=lambda k: (int(re.match(r"len_(\d+)", k)[1]) if k.startswith("len_") else 0, k))
            cells = [f"{k.replace('len_', '')} {ev[f'pass@1/{k}']:.3f}" for k in keys if f"pass@1/{k}" in ev]
            if cells:
                lines.append(f"  pass@1 by {title:<10} " + "  ".join(cells))
    lines.append(f"  records: {run_dir}")
    lines.append("=" * 78)
    print("\n".join(lines), flush=True)


_register_resolvers()
register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except PrmlabError as e:
        log.error("%s", e)
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
