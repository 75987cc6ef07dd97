"""A collection's records beyond its run table: training curves, evaluation samples, and what the
stage-cache entries its runs name hold (PRM calibration, gradient analyses, PRM labels).

Curves and reused stages
------------------------
A run's ``metrics.jsonl`` only holds records of the stages it *computed*; a stage it reused from
the cache (another job of the sweep, or an earlier sweep, computed it) left its records in that
other run's ``metrics.jsonl``. Since a stage's cache key fully determines its output, the curves
of stage ``s`` with key ``k`` are the same wherever they were logged: ``load_curves`` therefore
looks them up by ``(s, k)`` across every run of the collection, then in the cache entry's own
``metrics.jsonl`` (the pipeline copies a computed stage's records there; entries written before
it did have none), and says in the ``curve_source`` column where they came from: ``own``, the
run id that computed them, or ``cache entry``. Curves found nowhere are reported, not invented.

Stage entries
-------------
``stage_entry`` finds the cache entry of a run's stage: the path its summary recorded if it still
exists, else ``<cache_dir>/<stage>/<key>`` under the collection's ``cache_dirs`` (records copied
off a cluster). Runs whose entry is not found are skipped; the tables and figures say when
nothing was found.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from analysis.collect import Collection

METRICS = "metrics.jsonl"
SAMPLES = "samples.jsonl"
# The stages whose records are the training curves of the evaluated policy.
POLICY_STAGES = ("rl_baseline", "rl")
ENTRY_SOURCE = "cache entry"  # curve_source of curves read from a stage's cache entry


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
            if not recs.empty:
                found[(stage, key)] = (row["run_id"], _last_per_step(recs))
    # Stages no run of the collection computed: the records the cache entry keeps.
    for _, row in coll.runs.iterrows():
        for stage in stages:
            key = row.get(f"stage.{stage}.key")
            if not isinstance(key, str) or (stage, key) in found:
                continue
            entry = stage_entry(coll, row, stage)
            if entry is not None and (entry / METRICS).is_file():
                recs = read_metrics(entry)
                recs = recs[recs["stage"] == stage] if "stage" in recs else recs
                if not recs.empty:
                    found[(stage, key)] = (ENTRY_SOURCE, _last_per_step(recs))
    return found


def _last_per_step(recs: pd.DataFrame) -> pd.DataFrame:
    """A resumed stage may have logged a step twice: the last record of a step wins."""
    return recs.drop_duplicates("step", keep="last").sort_values("step")


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
