"""Load run records into pandas: one row per run, from local sweep dirs or a W&B group.

Sources
-------
* **Local sweep dirs** (``outputs/sweeps/<experiment>/<time>/``, or any dir holding run dirs): a
  *run dir* is a dir holding ``summary.json``, ``config.yaml`` or ``.hydra/overrides.yaml``; the
  walk does not descend into run dirs. A run without ``summary.json`` failed or is still running:
  it is listed in ``Collection.incomplete`` with its overrides and the reason, and a warning is
  issued; it is never silently dropped. Where a sweep dir holds Hydra's ``multirun.yaml``, the
  jobs the basic sweeper would have launched are recomputed from it and the ones with no run dir
  at all (a sweep killed before reaching them) are listed too.
* **Run tables** (a report's ``runs.csv``, or any ``*.csv`` with a ``seed`` column):
  their rows as written, so that a committed report can be extended with new seeds after its sweep
  dirs are gone; config columns written as tuples (``(40, 80, 120)``) are read back as tuples.
  Their runs' curves and samples are read from ``run_dir`` where it still exists (else reported
  missing, as for any run), and their cache entries from ``cache_dirs`` by key.
* **W&B** (``load_wandb``): the runs of one group (= experiment) of a project through the public
  API; finished runs become rows, the others are reported as incomplete. Offline, it raises
  ``CollectError`` saying so before trying anything slow.

Row layout (``Collection.runs``): ``run_id``, ``source``, ``run_dir``, ``experiment``, ``seed``,
``wall_time_s``, ``overrides`` (one string), one column per override key with its parsed value
(``prm.dense`` → ``True``; group overrides such as ``algo=ppo`` → column ``algo``), the resolved
config flattened under ``cfg.`` (``cfg.algo.name``, ``cfg.eval.length_edges``, …), every scalar
summary figure under its own name (``eval/pass@1``, ``prm_collect/n_responses``, …) and, per
stage, ``stage.<name>.key|status|seconds|path``.

The records beyond the run table (training curves, evaluation samples, stage-cache entries) are
read by ``analysis.artifacts``; overrides are parsed and sweeps expanded by ``analysis.overrides``.

    python -m analysis.collect SWEEP_DIR [...] [--out runs.csv]     # the run table of sweeps
"""
from __future__ import annotations

import ast
import json
import math
import os
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from analysis.overrides import override_set, parse_overrides, sweep_jobs

SUMMARY = "summary.json"
CONFIG = "config.yaml"
HYDRA_OVERRIDES = Path(".hydra") / "overrides.yaml"
RUN_TABLE = "runs.csv"  # the run table a report writes into its results folder (analysis.report.write)


class CollectError(RuntimeError):
    """Records cannot be read (no runs, W&B unreachable, malformed files)."""


@dataclass
class Incomplete:
    """A run that was expected but has no final records."""

    where: str  # run dir, W&B run path, or the sweep dir for jobs that never started
    overrides: list[str]
    reason: str

    def __str__(self) -> str:
        return f"{self.where} [{' '.join(self.overrides) or 'defaults'}]: {self.reason}"


@dataclass
class Collection:
    """Complete runs as a DataFrame (one row each) and the incomplete ones as a list."""

    runs: pd.DataFrame
    incomplete: list[Incomplete] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    cache_dirs: list[Path] = field(default_factory=list)  # where to look for moved stage entries
    superseded: int = 0  # incomplete runs of one sweep that another sweep of the collection completed

    def describe(self) -> str:
        lines = [f"{len(self.runs)} complete run(s) from {', '.join(self.sources) or '(nothing)'}"]
        if self.incomplete:
            lines.append(f"{len(self.incomplete)} incomplete run(s):")
            lines += [f"  - {i}" for i in self.incomplete]
        if self.superseded:
            lines.append(f"{self.superseded} incomplete run(s) of an interrupted sweep completed by another sweep given")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# one run's row


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts → dotted keys; lists become tuples so the columns stay hashable (groupby)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        else:
            out[key] = v
    return out


def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def row_from_records(config: dict, summary: dict, overrides: Sequence[str], *, run_id: str, source: str,
                     run_dir: Optional[str] = None) -> dict:
    """One run's row from its resolved config, its summary and its overrides (local or W&B)."""
    # override columns first: the run's own fields below win where a key is both (experiment, seed)
    row = parse_overrides(overrides)
    row.update({"run_id": run_id, "source": source, "run_dir": run_dir,
                "experiment": summary.get("experiment", config.get("experiment")),
                "seed": summary.get("seed", config.get("seed")),
                "wall_time_s": summary.get("wall_time_s"),
                "overrides": " ".join(overrides)})
    row.update(flatten(config, "cfg."))
    for name, st in (summary.get("stages") or {}).items():
        for k in ("key", "status", "seconds", "path"):
            row[f"stage.{name}.{k}"] = st.get(k)
        # what computed the entry (prmlab.runtime.Runtime.numerics): NaN for records before it was kept
        threads = (st.get("computed_with") or {}).get("torch_threads")
        row[f"stage.{name}.threads"] = math.nan if threads is None else threads
    for k, v in summary.items():
        if k not in ("overrides", "experiment", "seed", "wall_time_s", "stages") and _is_scalar(v):
            row[k] = math.nan if v is None else v
    row["seed"] = row["seed"] if row["seed"] is not None else 0
    return row


def _read_yaml(path: Path):
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(path), resolve=False)


# ---------------------------------------------------------------------------------------------
# local sweep dirs


def find_run_dirs(root: str | os.PathLike) -> list[Path]:
    """Every run dir under ``root`` (``root`` itself when it is one), in a stable order."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if SUMMARY in filenames or CONFIG in filenames or (here / HYDRA_OVERRIDES).is_file():
            found.append(here)
            dirnames[:] = []  # a run's own subdirs (wandb/, .hydra/) hold no further runs
        else:
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found, key=_job_order)


def sweeps_of(root: str | os.PathLike, experiment: str) -> list[Path]:
    """Every sweep dir of ``experiment`` under ``root``, oldest first (``outputs/sweeps`` layout:
    ``<root>/<experiment>/<time>/``; ``[<root>/<experiment>]`` when that is the sweep itself).

    ``root`` may also be a results folder that ``analysis.report`` wrote (``results/``, or the
    committed ``docs/results/long``): with no sweep there, ``<root>/<experiment>/runs.csv`` is the
    experiment's record, so a notebook regenerates the committed tables on a clean checkout, where
    the sweeps that produced them are not (a run table holds final metrics, not curves)."""
    d = Path(root) / experiment
    if (d / "multirun.yaml").is_file():
        return [d]
    sweeps = sorted(p for p in d.iterdir() if p.is_dir() and (p / "multirun.yaml").is_file()) if d.is_dir() else []
    if not sweeps and (d / RUN_TABLE).is_file():
        return [d / RUN_TABLE]
    if not sweeps:
        raise CollectError(f"no sweep of {experiment!r} under {root} (expected {d}/<time>/multirun.yaml, "
                           f"or a report's {d / RUN_TABLE})")
    return sweeps  # sweep dirs are named by start time, so sorting orders them by age


def latest_sweep(root: str | os.PathLike, experiment: str) -> Path:
    """The newest sweep dir of ``experiment`` under ``root`` (see ``sweeps_of``)."""
    return sweeps_of(root, experiment)[-1]


def _job_order(p: Path):
    # Hydra job dirs are "<num>_<overrides>": order by job number, not lexicographically (10 < 2).
    head = p.name.split("_", 1)[0]
    return (str(p.parent), int(head) if head.isdigit() else math.inf, p.name)


def run_overrides(run_dir: Path) -> list[str]:
    """The run's overrides: from its summary if present, else from Hydra's ``.hydra/overrides.yaml``."""
    if (run_dir / SUMMARY).is_file():
        try:
            return list(json.loads((run_dir / SUMMARY).read_text()).get("overrides", []))
        except json.JSONDecodeError:
            pass
    if (run_dir / HYDRA_OVERRIDES).is_file():
        return [str(o) for o in (_read_yaml(run_dir / HYDRA_OVERRIDES) or [])]
    return []


def read_run(run_dir: Path, run_id: str) -> dict | Incomplete:
    """The run's row, or an ``Incomplete`` saying what is missing."""
    overrides = run_overrides(run_dir)
    if not (run_dir / SUMMARY).is_file():
        why = "no summary.json (the run failed or is still running"
        log = run_dir / "run.log"
        if log.is_file():
            errors = [l for l in log.read_text(errors="replace").splitlines() if "ERROR" in l or "error:" in l]
            if errors:
                msg = errors[-1].split("[ERROR]", 1)[-1].strip()  # drop the log line's time/logger prefix
                why += f"; last error: {msg[:240] + ' …' if len(msg) > 240 else msg}"
        return Incomplete(str(run_dir), overrides, why + ")")
    try:
        summary = json.loads((run_dir / SUMMARY).read_text())
    except json.JSONDecodeError as e:
        return Incomplete(str(run_dir), overrides, f"summary.json is not valid JSON ({e})")
    config = _read_yaml(run_dir / CONFIG) if (run_dir / CONFIG).is_file() else {}
    return row_from_records(config, summary, overrides, run_id=run_id, source=str(run_dir), run_dir=str(run_dir))


def expected_jobs(sweep_dir: Path) -> Optional[list[list[str]]]:
    """The override lists Hydra's basic sweeper launches for the sweep saved in ``multirun.yaml``.

    Recomputed with Hydra's own override parser and the basic sweeper's expansion (command-line
    overrides after ``hydra.sweeper.params``, last value of a key wins, cartesian product), so
    the list is exactly what a complete sweep produced. ``None`` when there is no multirun.yaml
    or the sweep used another sweeper.
    """
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    cfg = _read_yaml(path)
    hydra = cfg.get("hydra", {})
    sweeper = hydra.get("sweeper", {}) or {}
    if "BasicSweeper" not in str(sweeper.get("_target_", "")):
        return None
    return sweep_jobs(sweeper.get("params") or {}, hydra.get("overrides", {}).get("task", []))


def read_run_table(path: str | os.PathLike) -> pd.DataFrame:
    """A run table written by ``analysis.report`` (``runs.csv``) read back as rows; ``CollectError``
    names the file when it is not one."""
    path = Path(path)
    try:
        runs = pd.read_csv(path, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CollectError(f"{path}: not a run table (expected a report's runs.csv): {e}") from None
    if "seed" not in runs.columns:  # the replicate every interval pairs on
        raise CollectError(f"{path}: not a run table: no column seed (expected a report's runs.csv)")
    if "run_id" not in runs.columns:  # a hand-made table: its rows are its runs
        runs.insert(0, "run_id", [f"{path.name}:{i}" for i in range(len(runs))])
    for c in runs.columns:  # flatten() stored list-valued config fields as tuples; CSV wrote their repr
        if c.startswith("cfg.") and not pd.api.types.is_numeric_dtype(runs[c]):  # object or str dtype
            runs[c] = runs[c].map(_tuple_or_text).astype(object)
    return runs


def _tuple_or_text(v):
    if isinstance(v, str) and v.startswith("(") and v.endswith(")"):
        try:
            parsed = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            return v
        return parsed if isinstance(parsed, tuple) else v
    return v


def load_sweeps(paths: Sequence[str | os.PathLike] | str | os.PathLike, *, cache_dirs: Sequence = (),
                warn: bool = True) -> Collection:
    """Every run under the given sweep dirs (or run dirs, or run tables) as one ``Collection``.

    Raises ``CollectError`` when a path does not exist or holds no run at all; runs without final
    records are listed in ``incomplete`` (and warned about unless ``warn=False``), except those that
    another of the given sweeps or run tables completed (the same overrides): an interrupted sweep
    and the rerun that finished it read as one experiment, and only their count is kept
    (``superseded``). A run table's rows are complete runs by construction.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows, incomplete, sources, complete, tables = [], [], [], set(), []
    for p in map(Path, paths):
        if not p.exists():
            raise CollectError(f"no such sweep dir or run table: {p}")
        if p.is_file():
            if p.suffix != ".csv":
                raise CollectError(f"{p}: a file must be a run table (.csv, as a report's runs.csv)")
            table = read_run_table(p)
            if table.empty:
                raise CollectError(f"{p}: the run table has no rows")
            tables.append(table)
            sources.append(str(p))
            complete.update(override_set(str(o).split()) for o in table.get("overrides", pd.Series(dtype=str)).fillna(""))
            continue
        dirs = find_run_dirs(p)
        if not dirs:
            raise CollectError(f"no run dirs under {p} (expected <job>/summary.json or .hydra/overrides.yaml)")
        sources.append(str(p))
        seen = []
        for d in dirs:
            rid = f"{p.name}/{d.relative_to(p)}" if d != p else p.name
            rec = read_run(d, rid)
            seen.append(override_set(run_overrides(d)))
            (incomplete if isinstance(rec, Incomplete) else rows).append(rec)
            if not isinstance(rec, Incomplete):
                complete.add(seen[-1])
        jobs = expected_jobs(p)
        if jobs is not None:
            for job in jobs:
                if override_set(job) not in seen:
                    incomplete.append(Incomplete(str(p), job, "never started (no run dir)"))
    runs = pd.concat([pd.DataFrame(rows), *tables], ignore_index=True) if tables else pd.DataFrame(rows)
    if runs.empty:
        runs = pd.DataFrame(columns=["run_id", "source", "run_dir", "experiment", "seed", "overrides"])
    elif runs["run_id"].duplicated().any():
        runs["run_id"] = runs["run_dir"]
    missing = [i for i in incomplete if override_set(i.overrides) not in complete]
    coll = Collection(runs.reset_index(drop=True), missing, sources, _cache_dirs(cache_dirs),
                      superseded=len(incomplete) - len(missing))
    if warn and missing:
        warnings.warn(f"{len(missing)} incomplete run(s) (not in the table):\n"
                      + "\n".join(f"  - {i}" for i in missing), stacklevel=2)
    return coll


def _cache_dirs(extra: Sequence) -> list[Path]:
    dirs = [Path(d) for d in extra]
    if os.environ.get("PRMLAB_CACHE"):
        dirs.append(Path(os.environ["PRMLAB_CACHE"]))
    return dirs


def dedupe(runs: pd.DataFrame, stage: str = "eval") -> pd.DataFrame:
    """Drop rows whose ``stage`` has the same cache key as an earlier row: the same computation.

    A sweep that crosses ``algo=none`` with PRM switches, say, runs the SFT evaluation once per
    switch value; those jobs share the eval key and must count as one seed, not several.
    """
    col = f"stage.{stage}.key"
    if col not in runs:
        return runs
    keep = runs[col].isna() | ~runs[col].duplicated()
    return runs[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# W&B


def check_online(host: Optional[str] = None, timeout: float = 3.0) -> None:
    """Raise ``CollectError`` unless a TCP connection to the W&B API host can be opened."""
    from urllib.parse import urlparse

    url = host or os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai"
    parsed = urlparse(url if "://" in url else f"https://{url}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()
    except OSError as e:
        raise CollectError(
            f"W&B is not reachable ({parsed.hostname}:{port}: {e}). This machine looks offline: runs "
            "logged with logger.mode=offline must be uploaded with `wandb sync <run_dir>/wandb/offline-run-*` "
            "from a machine with network, or analysed from their local records (python -m analysis.collect "
            "SWEEP_DIR).") from e


def load_wandb(path: str, group: str, *, timeout: float = 3.0) -> Collection:
    """The runs of W&B ``ENTITY/PROJECT`` in ``group`` (prmlab's group = experiment name)."""
    if path.count("/") != 1:
        raise CollectError(f"--wandb expects ENTITY/PROJECT, got {path!r}")
    check_online(timeout=timeout)
    import wandb

    try:
        api_runs = list(wandb.Api(timeout=30).runs(path, filters={"group": group}))
    except Exception as e:  # the API raises several unrelated types (auth, HTTP, value)
        raise CollectError(f"W&B API error for {path} group {group!r}: {type(e).__name__}: {e}") from e
    rows, incomplete = [], []
    for r in api_runs:
        where = f"wandb:{path}/{r.id}"
        overrides = [] if r.name in (None, "", "default") else r.name.split(" ")
        summary = {k: v for k, v in dict(r.summary).items() if not k.startswith("_")}
        if r.state != "finished" or "eval/pass@1" not in summary:
            incomplete.append(Incomplete(where, overrides, f"state {r.state}, no final eval figures"
                                         if "eval/pass@1" not in summary else f"state {r.state}"))
            continue
        rows.append(row_from_records(dict(r.config), summary, overrides, run_id=r.id, source=where))
    if not rows and not incomplete:
        raise CollectError(f"no runs in W&B {path} with group {group!r}")
    return Collection(pd.DataFrame(rows), incomplete, [f"wandb:{path}?group={group}"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m analysis.collect", description=__doc__.split("\n")[0])
    ap.add_argument("sweeps", nargs="*", help="sweep dirs (outputs/sweeps/<experiment>/<time>) or run dirs")
    ap.add_argument("--wandb", metavar="ENTITY/PROJECT", help="load from the W&B API instead")
    ap.add_argument("--group", help="W&B group (= experiment name); with --wandb")
    ap.add_argument("--cache-dir", action="append", default=[], help="stage cache root(s) for moved records")
    ap.add_argument("--out", help="write the run table here (.csv)")
    args = ap.parse_args(argv)
    try:
        if args.wandb:
            if not args.group:
                ap.error("--wandb needs --group")
            coll = load_wandb(args.wandb, args.group)
        elif args.sweeps:
            coll = load_sweeps(args.sweeps, cache_dirs=args.cache_dir, warn=False)
        else:
            ap.error("give sweep dirs or --wandb ENTITY/PROJECT --group G")
    except CollectError as e:
        print(f"error: {e}", flush=True)
        return 2
    print(coll.describe())
    cols = ["run_id", "seed", "eval/pass@1"]
    print(coll.runs[[c for c in cols if c in coll.runs]].to_string(index=False))
    if args.out:
        coll.runs.to_csv(args.out, index=False)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
