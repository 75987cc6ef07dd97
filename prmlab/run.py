"""Hydra entry point: ``python -m prmlab.run [overrides]`` or ``-m`` for sweeps.

Composes the config (typed: unknown keys and wrong types fail here) and checks every value
against the ranges declared in the schema (prmlab.validation) before Hydra starts the job; an
invalid config exits 2 with one line naming the field. Then builds the stage plan, runs it
against the stage cache, writes the run records and prints a one-screen summary. Algorithm code
lives in the stage modules.
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
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from prmlab.config import register_configs
from prmlab.errors import ConfigError, PrmlabError
from prmlab.layout import SAMPLES_FILE
from prmlab.rl.clock import breakdown_line
from prmlab.validation import compose_error, validate

log = logging.getLogger("prmlab")

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
    tracker = Tracker(run_dir, cfg.logger if main_rank else None, config=resolved, group=cfg.experiment, job_type=[p for p in plan if p.stage.name != "eval"][-1].stage.name,
                      name=" ".join(overrides) or "default", tags=tuple(cfg.tags))
    runtime = None
    exit_code = 1
    try:
        runtime = Runtime(cfg)
        results = run_plan(cfg, plan, StageCache(cfg.cache_dir), runtime, tracker)
        if not main_rank:
            exit_code = 0
            return {}
        if results[-1].name == "eval" and (results[-1].path / SAMPLES_FILE).is_file():  # ``until`` may stop before eval
            shutil.copyfile(results[-1].path / SAMPLES_FILE, run_dir / SAMPLES_FILE)
        summary = {"overrides": overrides, "experiment": cfg.experiment, "seed": cfg.seed,
                   "wall_time_s": time.time() - t0,
                   "stages": {r.name: {"status": r.status, "key": r.key, "seconds": round(r.seconds, 2),
                                       "path": str(r.path), "computed_with": r.computed_with} for r in results}}
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


def numerics_note(computed_with: Optional[dict]) -> str:
    """``  (1 thread, cpu float32)``: what computed a stage's entry; results are bitwise
    reproducible only with the same (runtime.py's docstring)."""
    if not computed_with:
        return ""
    n = computed_with.get("torch_threads")
    ranks = computed_with.get("world_size") or 1
    return (f"  ({n} thread{'s' if n != 1 else ''}" + (f" x {ranks} ranks" if ranks > 1 else "")
            + f", {computed_with.get('device')} {computed_with.get('dtype')})")


def print_summary(summary: dict, run_dir: Path) -> None:
    """One screen: stages (computed/reused, time), each RL stage's step-time breakdown, held-out
    pass@k by slice, where records went."""
    lines = ["", "=" * 78, f"prmlab run ({summary['wall_time_s']:.1f}s): {' '.join(summary['overrides']) or 'defaults'}"]
    for name, st in summary["stages"].items():
        lines.append(f"  {name:<12} {st['status']:<9} {st['seconds']:>8.1f}s  key {st['key']}"
                     + numerics_note(st.get("computed_with")))
    for name, st in summary["stages"].items():  # RL stages: where a step's time went (rl/clock.py)
        line = breakdown_line(summary, name)
        if line is not None:
            lines.append(line + ("  (when it was computed)" if st["status"] == "reused" else ""))
    ev = {k[len("eval/"):]: v for k, v in summary.items() if k.startswith("eval/pass")}
    if "pass@1" in ev:
        ks = sorted({k.split("/")[0] for k in ev if re.fullmatch(r"pass@\d+", k.split("/")[0])}, key=lambda k: int(k[5:]))
        lines.append("  held-out " + "  ".join(f"{k} {ev[k]:.3f}" for k in ks if k in ev)
                     + f"   test pass rate {ev.get('pass_rate', float('nan')):.3f}")
        if "pass@1_se" in ev:  # the evaluation's own noise: same problems, new samples; and new problems too
            lines.append(f"  pass@1 standard error {ev['pass@1_se']:.3f} (sampling)   "
                         f"{ev.get('pass@1_se_problems', float('nan')):.3f} (problems and sampling)")
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


CONFIG_PATH, CONFIG_NAME = "../conf", "config"  # relative to this file, as hydra.main takes them


def _task(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except ConfigError as e:  # composed fine but invalid (a sweeper whose jobs preflight cannot list)
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    except PrmlabError as e:
        log.error("%s", e)
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)


_hydra_main = hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name=CONFIG_NAME)(_task)


def compose_jobs(argv: list[str]) -> Optional[list[DictConfig]]:
    """Every config the command line asks for, composed the way Hydra will compose it: each job of a
    ``-m`` sweep (the experiment's ``hydra.sweeper.params`` crossed with the command line's sweeps),
    else the one run. Each keeps its ``hydra`` node. None for a command that runs nothing (--help,
    --info, --cfg) or a sweeper other than the basic one (it lists its own jobs). Raises ConfigError
    (one line) on an unknown key, a wrong type or a missing option."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_automatic_config_search_path, get_args_parser
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    args = get_args_parser().parse_args(argv)
    if args.help or args.hydra_help or args.info or args.shell_completion or args.experimental_rerun:
        return None
    config_name = args.config_name or CONFIG_NAME
    # as Hydra finds conf/ for ``python -m prmlab.run`` (relative to this file), also when imported
    search_path = create_automatic_config_search_path(__file__, None, args.config_path or CONFIG_PATH)
    if args.config_dir is not None:
        from hydra.core.config_search_path import SearchPathQuery

        search_path.prepend(provider="command-line", path=f"file://{os.path.abspath(args.config_dir)}",
                            anchor=SearchPathQuery(provider="schema"))
    GlobalHydra.instance().clear()
    try:
        hyd = Hydra.create_main_hydra2(task_name="run", config_search_path=search_path)
        overrides = list(args.overrides)
        mode = hyd.get_mode(config_name=config_name, overrides=overrides)
        multirun = args.multirun or mode == RunMode.MULTIRUN  # as Hydra decides it (hydra.mode, -m)
        mode = RunMode.MULTIRUN if multirun and not args.cfg else RunMode.RUN
        master = hyd.compose_config(config_name, overrides, run_mode=mode, from_shell=True, with_log_configuration=False)
        if args.cfg:
            return None
        if mode != RunMode.MULTIRUN:
            return [master]
        if master.hydra.sweeper.get("_target_") != f"{BasicSweeper.__module__}.{BasicSweeper.__name__}":
            return None
        params = master.hydra.sweeper.get("params") or {}
        sweep = [f"{k}={v}" for k, v in params.items()] + list(master.hydra.overrides.task)
        parsed = OverridesParser.create(config_loader=hyd.config_loader).parse_overrides(sweep)
        return [hyd.config_loader.load_sweep_config(master, list(job))
                for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except ConfigError:
        raise
    except Exception as e:  # Hydra's and OmegaConf's own errors: unknown key, wrong type, missing option, ...
        raise compose_error(e) from e
    finally:
        GlobalHydra.instance().clear()


def job_config(job: DictConfig) -> DictConfig:
    """One composed job (``compose_jobs``) as its run sees it: ``hydra:`` interpolations resolve
    against the job's own Hydra node, which is then dropped, and every value is validated."""
    from omegaconf import open_dict

    HydraConfig.instance().set_config(job)
    with open_dict(job):
        job.pop("hydra")
    validate(job)
    return job


def preflight(argv: list[str]) -> int:
    """Compose every config the command line asks for (``compose_jobs``) and validate it, before
    Hydra makes a run dir or any stage runs. Raises ConfigError (one line); returns the number of
    configs checked (0 for commands that run nothing: --help, --info, --cfg only composes)."""
    jobs = compose_jobs(argv) or []
    for job in jobs:
        job_config(job)
    return len(jobs)


def main(argv: list[str] | None = None) -> None:
    """``python -m prmlab.run``: a config error exits 2 with one line on stderr, before anything is written."""
    try:
        preflight(sys.argv[1:] if argv is None else argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        sys.exit(2)
    _hydra_main()


if __name__ == "__main__":
    main()
