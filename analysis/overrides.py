"""A run's Hydra overrides: typed values, the jobs of a sweep, and which keys are its factors.

* ``parse_overrides``: ``["algo=ppo", "+prm.dense=true"]`` → ``{"algo": "ppo", "prm.dense": True}``.
* ``sweep_jobs``: the override lists Hydra's basic sweeper launches for a sweep.
* ``override_set``: what identifies a job, its overrides less the keys that do not change results
  (``NON_RESULT_KEYS``, read from ``conf/config.yaml`` by ``analysis.conf``).
* ``factors``: the override keys that vary across the runs of a table, less ``NON_FACTOR_KEYS``
  (``NON_RESULT_KEYS`` plus ``seed``: a seed changes results but is a replicate, not a factor).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import pandas as pd

from analysis import conf

# overrides that do not change a run's results (the keys Hydra's override_dirname leaves out of job
# dir names): a job rerun with other values of these is still that job
NON_RESULT_KEYS = conf.non_result_keys()
# keys of a run's overrides that are not factors of the experiment: bookkeeping, and the seed (the
# replicate that intervals are taken over)
NON_FACTOR_KEYS = NON_RESULT_KEYS | {"seed"}


def parse_value(text: str):
    """An override's value as Hydra would type it for the common cases: bool, null, int, float, str."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":  # Hydra's null; "none" stays a string (algo=none)
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip().strip("'\"")


def parse_overrides(overrides: Sequence[str]) -> dict:
    """``["algo=ppo", "+prm.dense=true"]`` → ``{"algo": "ppo", "prm.dense": True}`` (hydra.* kept out)."""
    out = {}
    for o in overrides:
        if "=" not in o:
            continue
        key, value = o.split("=", 1)
        key = key.lstrip("+~")
        if key.startswith("hydra.") or key.startswith("hydra/"):
            continue
        out[key] = parse_value(value)
    return out


def sweep_jobs(params: dict, overrides: Sequence[str] = ()) -> list[list[str]]:
    """The jobs of a basic-sweeper multirun: ``hydra.sweeper.params`` then the command line's
    overrides (a key given in both takes the command line's values), expanded as a product."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = [f"{k}={v}" for k, v in params.items()] + [str(o) for o in overrides]
    parsed = OverridesParser.create().parse_overrides(args)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def override_set(overrides: Iterable[str]) -> frozenset:
    """The overrides that identify a job: typed (``progress=False`` = ``progress=false``), without
    ``NON_RESULT_KEYS``, in no order."""
    return frozenset((k, str(v).lower() if isinstance(v, bool) else str(v))
                     for k, v in parse_overrides(overrides).items() if k not in NON_RESULT_KEYS)


def factors(runs: pd.DataFrame) -> list[str]:
    """Override keys that vary across runs (the sweep's factors), seed and bookkeeping excluded."""
    keys = []
    for o in runs.get("overrides", pd.Series(dtype=str)).dropna():
        for k in parse_overrides(o.split(" ")):
            if k not in keys and k.split(".")[0] not in NON_FACTOR_KEYS and k in runs:
                keys.append(k)
    return [k for k in keys if runs[k].astype(str).nunique() > 1]
