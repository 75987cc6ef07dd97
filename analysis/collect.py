"""Load run records into pandas: one row per run, plus training curves and evaluation samples.

Sources
-------
* **Local sweep dirs** (``outputs/sweeps/<experiment>/<time>/``, or any dir holding run dirs): a
  *run dir* is a dir holding ``summary.json``, ``config.yaml`` or ``.hydra/overrides.yaml``; the
  walk does not descend into run dirs. A run without ``summary.json`` failed or is still running:
  it is listed in ``Collection.incomplete`` with its overrides and the reason, and a warning is
  issued; it is never silently dropped. Where a sweep dir holds Hydra's ``multirun.yaml``, the
  jobs the basic sweeper would have launched are recomputed from it and the ones with no run dir
  at all (a sweep killed before reaching them) are listed too.
* **W&B** (``load_wandb``): the runs of one group (= experiment) of a project through the public
  API; finished runs become rows, the others are reported as incomplete. Offline, it raises
  ``CollectError`` saying so before trying anything slow.

Row layout (``Collection.runs``): ``run_id``, ``source``, ``run_dir``, ``experiment``, ``seed``,
``wall_time_s``, ``overrides`` (one string), one column per override key with its parsed value
(``prm.dense`` → ``True``; group overrides such as ``algo=ppo`` → column ``algo``), the resolved
config flattened under ``cfg.`` (``cfg.algo.name``, ``cfg.eval.length_edges``, …), every scalar
summary figure under its own name (``eval/pass@1``, ``prm_collect/n_responses``, …) and, per
stage, ``stage.<name>.key|status|seconds|path``.

Curves and reused stages
------------------------
A run's ``metrics.jsonl`` only holds records of the stages it *computed*; a stage it reused from
the cache (another job of the sweep, or an earlier sweep, computed it) left its records in that
other run's ``metrics.jsonl``. Since a stage's cache key fully determines its output, the curves
of stage ``s`` with key ``k`` are the same wherever they were logged: ``load_curves`` therefore
looks them up by ``(s, k)`` across every run of the collection (and in ``<entry>/metrics.jsonl``
should the cache entry hold one), and says in the ``curve_source`` column which run they came
from. Curves found nowhere are reported, not invented.
"""
from __future__ import annotations

import json
import math
import os
import socket
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import pandas as pd

SUMMARY = "summary.json"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
SAMPLES = "samples.jsonl"
HYDRA_OVERRIDES = Path(".hydra") / "overrides.yaml"
# The stages whose records are the training curves of the evaluated policy.
POLICY_STAGES = ("rl_baseline", "rl")
# Keys of a run's Hydra overrides that are bookkeeping rather than factors of the experiment.
NON_FACTOR_KEYS = ("experiment", "logger", "seed", "cache_dir", "progress", "threads", "device")


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

    def describe(self) -> str:
        lines = [f"{len(self.runs)} complete run(s) from {', '.join(self.sources) or '(nothing)'}"]
        if self.incomplete:
            lines.append(f"{len(self.incomplete)} incomplete run(s):")
            lines += [f"  - {i}" for i in self.incomplete]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# parsing helpers


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


def latest_sweep(root: str | os.PathLike, experiment: str) -> Path:
    """The newest sweep dir of ``experiment`` under ``root`` (``outputs/sweeps`` layout:
    ``<root>/<experiment>/<time>/``; ``<root>/<experiment>`` itself when it is the sweep)."""
    d = Path(root) / experiment
    if (d / "multirun.yaml").is_file():
        return d
    sweeps = sorted(p for p in d.iterdir() if p.is_dir() and (p / "multirun.yaml").is_file()) if d.is_dir() else []
    if not sweeps:
        raise CollectError(f"no sweep of {experiment!r} under {root} (expected {d}/<time>/multirun.yaml)")
    return sweeps[-1]  # sweep dirs are named by start time, so the last one is the newest


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


def sweep_jobs(params: dict, overrides: Sequence[str] = ()) -> list[list[str]]:
    """The jobs of a basic-sweeper multirun: ``hydra.sweeper.params`` then the command line's
    overrides (a key given in both takes the command line's values), expanded as a product."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = [f"{k}={v}" for k, v in params.items()] + [str(o) for o in overrides]
    parsed = OverridesParser.create().parse_overrides(args)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


# overrides that do not change a run's results (the keys Hydra's override_dirname leaves out of job
# dir names, conf/config.yaml): a job rerun with other values of these is still that job
NON_RESULT_KEYS = frozenset({"experiment", "logger", "progress", "threads", "cache_dir", "device"})


def _override_set(overrides: Iterable[str]) -> frozenset:
    return frozenset((k, str(v).lower() if isinstance(v, bool) else str(v))
                     for k, v in parse_overrides(overrides).items() if k not in NON_RESULT_KEYS)


def load_sweeps(paths: Sequence[str | os.PathLike] | str | os.PathLike, *, cache_dirs: Sequence = (),
                warn: bool = True) -> Collection:
    """Every run under the given sweep dirs (or run dirs) as one ``Collection``.

    Raises ``CollectError`` when a path does not exist or holds no run at all; runs without final
    records are listed in ``incomplete`` (and warned about unless ``warn=False``).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows, incomplete, sources = [], [], []
    for p in map(Path, paths):
        if not p.exists():
            raise CollectError(f"no such sweep dir: {p}")
        dirs = find_run_dirs(p)
        if not dirs:
            raise CollectError(f"no run dirs under {p} (expected <job>/summary.json or .hydra/overrides.yaml)")
        sources.append(str(p))
        seen = []
        for d in dirs:
            rid = f"{p.name}/{d.relative_to(p)}" if d != p else p.name
            rec = read_run(d, rid)
            seen.append(_override_set(run_overrides(d)))
            (incomplete if isinstance(rec, Incomplete) else rows).append(rec)
        jobs = expected_jobs(p)
        if jobs is not None:
            for job in jobs:
                if _override_set(job) not in seen:
                    incomplete.append(Incomplete(str(p), job, "never started (no run dir)"))
    runs = pd.DataFrame(rows)
    if runs.empty:
        runs = pd.DataFrame(columns=["run_id", "source", "run_dir", "experiment", "seed", "overrides"])
    elif runs["run_id"].duplicated().any():
        runs["run_id"] = runs["run_dir"]
    coll = Collection(runs.reset_index(drop=True), incomplete, sources, _cache_dirs(cache_dirs))
    if warn and incomplete:
        warnings.warn(f"{len(incomplete)} incomplete run(s) (not in the table):\n"
                      + "\n".join(f"  - {i}" for i in incomplete), stacklevel=2)
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


# ---------------------------------------------------------------------------------------------
# curves, samples, stage entries


def read_metrics(run_dir: str | os.PathLike) -> pd.DataFrame:
    """A run's ``metrics.jsonl`` as a DataFrame (one row per logged step; empty if absent)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return pd.DataFrame(columns=["stage", "step", "time"])
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return pd.DataFrame(recs, columns=None) if recs else pd.DataFrame(columns=["stage", "step", "time"])


def _stage_records(coll: Collection, stages: Sequence[str]) -> dict[tuple[str, str], tuple[str, pd.DataFrame]]:
    """(stage, key) → (run_id it was found in, its records), over every run of the collection."""
    found: dict[tuple[str, str], tuple[str, pd.DataFrame]] = {}
    for _, row in coll.runs.iterrows():
        if not row.get("run_dir"):
            continue
        df = read_metrics(row["run_dir"])
        for stage in stages:
            key = row.get(f"stage.{stage}.key")
            if not isinstance(key, str) or (stage, key) in found:
                continue
            recs = df[df["stage"] == stage]
            if recs.empty:
                entry = stage_entry(coll, row, stage)
                if entry is not None and (entry / METRICS).is_file():
                    recs = read_metrics(entry)
                    recs = recs[recs["stage"] == stage] if "stage" in recs else recs
            if not recs.empty:
                # A resumed stage may have logged a step twice: the last record of a step wins.
                recs = recs.drop_duplicates("step", keep="last").sort_values("step")
                found[(stage, key)] = (row["run_id"], recs)
    return found


def policy_stage(row) -> Optional[str]:
    """The stage that trained the evaluated policy: ``rl`` (with PRM), ``rl_baseline``, or None (SFT)."""
    for stage in reversed(POLICY_STAGES):
        if isinstance(row.get(f"stage.{stage}.key"), str):
            return stage
    return None


def load_curves(coll: Collection, stages: Sequence[str] | str = "policy", *, warn: bool = True) -> pd.DataFrame:
    """Training curves, long by step: ``run_id``, ``stage``, ``step``, metrics…, ``curve_source``.

    ``stages="policy"`` takes, per run, the stage that trained its evaluated policy (``rl`` for PRM
    runs, ``rl_baseline`` otherwise); or name stages explicitly (``["sft"]``, ``["prm_train"]``).
    Curves of reused stages are taken from whichever run computed them (see module doc).
    """
    wanted = list(POLICY_STAGES) if stages == "policy" else [stages] if isinstance(stages, str) else list(stages)
    index = _stage_records(coll, wanted)
    parts, missing = [], []
    for _, row in coll.runs.iterrows():
        for stage in ([policy_stage(row)] if stages == "policy" else wanted):
            key = row.get(f"stage.{stage}.key") if stage else None
            if not isinstance(key, str):
                continue
            if (stage, key) not in index:
                missing.append(f"{row['run_id']} ({stage} {key})")
                continue
            src, recs = index[(stage, key)]
            part = recs.copy()
            part.insert(0, "run_id", row["run_id"])
            part["curve_source"] = "own" if src == row["run_id"] else src
            parts.append(part)
    if missing and warn:
        warnings.warn(f"no curve records for {len(missing)} run stage(s) (computed outside this collection, "
                      f"e.g. by an earlier sweep sharing the cache): {', '.join(missing[:5])}"
                      + (" …" if len(missing) > 5 else ""), stacklevel=2)
    if not parts:
        return pd.DataFrame(columns=["run_id", "stage", "step", "curve_source"])
    return pd.concat(parts, ignore_index=True)


def load_samples(coll: Collection, *, text: bool = False) -> pd.DataFrame:
    """Every evaluation sample of every run: ``run_id`` + the ``samples.jsonl`` fields.

    ``outcomes`` (per-test details) are reduced to ``n_tests``; ``response`` is kept only with
    ``text=True`` (it dominates the size).
    """
    parts = []
    for _, row in coll.runs.iterrows():
        path = Path(row["run_dir"]) / SAMPLES if row.get("run_dir") else None
        if path is None or not path.is_file():
            continue
        with open(path) as f:
            recs = [json.loads(line) for line in f if line.strip()]
        for r in recs:
            if "outcomes" in r:  # records reduced beforehand (the tests' fixture) carry n_tests already
                r["n_tests"] = len(r.pop("outcomes") or [])
            if not text:
                r.pop("response", None)
        df = pd.DataFrame(recs)
        df.insert(0, "run_id", row["run_id"])
        parts.append(df)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run_id"])


def stage_entry(coll: Collection, row, stage: str) -> Optional[Path]:
    """The cache entry dir of ``stage`` for this run: the recorded path if it still exists, else
    ``<cache_dir>/<stage>/<key>`` under each of ``coll.cache_dirs`` (records copied off a cluster)."""
    key = row.get(f"stage.{stage}.key")
    if not isinstance(key, str):
        return None
    recorded = row.get(f"stage.{stage}.path")
    if isinstance(recorded, str) and Path(recorded).is_dir():
        return Path(recorded)
    for d in coll.cache_dirs:
        if (Path(d) / stage / key).is_dir():
            return Path(d) / stage / key
    return None


def load_calibration(coll: Collection) -> pd.DataFrame:
    """PRM calibration bins (``prm_train/<key>/calibration.json``) per run that trained a PRM.

    Columns: ``run_id``, ``score_lo``, ``score_hi``, ``n``, ``completable_frac`` — the share of
    held-out code lines labelled completable among those whose PRM score fell in the bin.
    """
    parts = []
    for _, row in coll.runs.iterrows():
        entry = stage_entry(coll, row, "prm_train")
        if entry is None or not (entry / "calibration.json").is_file():
            continue
        df = pd.DataFrame(json.loads((entry / "calibration.json").read_text()))
        if df.empty:
            continue
        df.insert(0, "run_id", row["run_id"])
        parts.append(df)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["run_id", "score_lo", "score_hi", "n", "completable_frac"])


GRADIENT_COLUMNS = ["run_id", "checkpoint", "reward", "algo", "cos_to_full", "delta_logp_full", "partial_mean_cos",
                    "partial_cancel_ratio", "n_conflict_groups", "n_full_pass", "n_partial", "n_samples",
                    "grad_norm", "nonzero_adv_frac"]


def _stage_jsonl(coll: Collection, stage: str, filename: str, columns: Sequence[str]) -> pd.DataFrame:
    """``<stage entry>/<filename>`` of every run that has it, one row per record plus ``run_id``.
    Runs without the file (the stage did not run, or its entry was not copied) are skipped: the
    figures and tables say when nothing was found."""
    parts = []
    for _, row in coll.runs.iterrows():
        entry = stage_entry(coll, row, stage)
        if entry is None or not (entry / filename).is_file():
            continue
        with open(entry / filename) as f:
            recs = [json.loads(line) for line in f if line.strip()]
        if recs:
            df = pd.DataFrame(recs)
            df.insert(0, "run_id", row["run_id"])
            parts.append(df)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))


def load_gradients(coll: Collection) -> pd.DataFrame:
    """The gradient analyses (``gradients/<key>/gradients.jsonl``): one row per run x checkpoint x
    reward x algorithm with ``cos_to_full`` (cosine of the batch policy gradient to the full-pass
    log-likelihood gradient), ``delta_logp_full`` (change of the full-pass responses' mean
    log-probability after one normalised step), ``partial_mean_cos`` / ``partial_cancel_ratio``
    (within-group conflict among partial-pass responses, averaged over groups) and the counts."""
    return _stage_jsonl(coll, "gradients", "gradients.jsonl", GRADIENT_COLUMNS)


def load_gradient_groups(coll: Collection) -> pd.DataFrame:
    """Per-group conflict figures (``gradients/<key>/groups.jsonl``): ``run_id``, ``checkpoint``,
    ``reward``, ``algo``, ``problem_id``, ``n`` (partial-pass responses with a non-zero gradient),
    ``mean_cos`` (mean pairwise cosine), ``cancel_ratio`` (‖Σ g_i‖ / Σ ‖g_i‖)."""
    return _stage_jsonl(coll, "gradients", "groups.jsonl",
                        ["run_id", "checkpoint", "reward", "algo", "problem_id", "n", "mean_cos", "cancel_ratio"])


def load_progress(coll: Collection) -> pd.DataFrame:
    """Pass rate against progress toward full correctness, one row per *failing* labelled response
    of each run's PRM collection (``prm_collect/<key>/labels.jsonl``): ``pass_rate`` (share of
    tests passed), ``progress`` (share of the response's lines the binary search labels
    completable, m* / M), ``checkpoint``, ``category`` (revised | wrong). The population of the
    gradients stage's Spearman's rho (``grad/calibration_spearman_rho``)."""
    cols = ["run_id", "checkpoint", "category", "pass_rate", "progress"]
    df = _stage_jsonl(coll, "prm_collect", "labels.jsonl", ["run_id", "checkpoint", "category", "pass_rate",
                                                              "lines", "m_star"])
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df[(df["category"] != "correct") & (df["lines"].map(len) > 0)].copy()
    df["progress"] = [max(int(m), 0) / len(lines) for m, lines in zip(df["m_star"], df["lines"])]
    return df[cols].reset_index(drop=True)


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
