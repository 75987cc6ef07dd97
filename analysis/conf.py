"""Lists of names the analysis reads from the repository's Hydra config (``conf/``), not retyped.

* ``experiments()``: the experiments ``./multirun.sh NAME`` runs, i.e. the files
  ``conf/experiment/NAME.yaml`` that declare a sweep (``hydra.sweeper.params``), in the order
  ``./multirun.sh all`` runs them. ``smoke.yaml`` declares none: it is the seconds-scale size
  overlay that ``SMOKE=1 ./multirun.sh NAME`` composes as ``experiment=[smoke,NAME]``, not an
  experiment of its own.
* ``ablations()``: the named departures from the papers' recipes, i.e. the files
  ``conf/ablation/NAME.yaml``, ``none`` (the recipe itself) first.
* ``non_result_keys()``: the override keys that do not change a run's results (bookkeeping such as
  ``logger`` or ``threads``), i.e. the keys Hydra leaves out of job dir names
  (``hydra.job.config.override_dirname.exclude_keys`` in ``conf/config.yaml``).

    python -m analysis.conf experiments      # one name a line (what multirun.sh lists and runs)
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
EXCLUDE_KEYS = "hydra.job.config.override_dirname.exclude_keys"
# `./multirun.sh all` runs these first and the other experiments after them by name (an order, not
# the list of experiments): the others reuse through the stage cache what these compute (rl_core's
# SFT and RL runs, Table 1's PRM runs, the pass-rate study's GRPO-binary runs), and a stage's
# training curves are in the records of the sweep that computed it, i.e. in these reports.
RUN_FIRST = ("rl_core", "table1", "passrate_study")


def _load(path: Path):
    from omegaconf import OmegaConf

    return OmegaConf.load(path)


def experiments(conf_dir: Path = CONF_DIR) -> tuple[str, ...]:
    """The sweep experiments of ``conf_dir/experiment/*.yaml``: ``RUN_FIRST``, then by name."""
    from omegaconf import OmegaConf

    names = sorted(p.stem for p in (conf_dir / "experiment").glob("*.yaml")
                   if OmegaConf.select(_load(p), "hydra.sweeper.params") is not None)
    return tuple(sorted(names, key=lambda n: RUN_FIRST.index(n) if n in RUN_FIRST else len(RUN_FIRST)))


def sweep_values(experiment: str, key: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """The values ``conf_dir/experiment/EXPERIMENT.yaml`` sweeps ``key`` over, in its order ([] if none)."""
    from omegaconf import OmegaConf

    v = OmegaConf.select(_load(conf_dir / "experiment" / f"{experiment}.yaml"), f"hydra.sweeper.params.{key}")
    return [x.strip() for x in str(v).split(",")] if v is not None else []


def ablations(conf_dir: Path = CONF_DIR) -> tuple[str, ...]:
    """``none`` then the departures of ``conf_dir/ablation/*.yaml`` by name."""
    names = sorted(p.stem for p in (conf_dir / "ablation").glob("*.yaml"))
    return tuple(sorted(names, key=lambda n: n != "none"))


def non_result_keys(conf_dir: Path = CONF_DIR) -> frozenset[str]:
    """The override keys Hydra's ``override_dirname`` excludes (``conf/config.yaml``)."""
    from omegaconf import OmegaConf

    keys = OmegaConf.select(_load(conf_dir / "config.yaml"), EXCLUDE_KEYS)
    if keys is None:
        raise KeyError(f"{conf_dir / 'config.yaml'} sets no {EXCLUDE_KEYS}")
    return frozenset(str(k) for k in keys)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m analysis.conf", description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["experiments", "ablations", "non_result_keys"])
    args = ap.parse_args(argv)
    names = {"experiments": experiments, "ablations": ablations,
             "non_result_keys": lambda: sorted(non_result_keys())}[args.what]()
    sys.stdout.write("".join(f"{n}\n" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
