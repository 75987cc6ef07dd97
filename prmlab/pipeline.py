"""The stage pipeline and its content-addressed cache (docs/DESIGN.md, "The flow").

A run is a chain of stages; each stage is a pure function of (the config fields it declares in
``reads``, the outputs of its upstream stages). Its cache key is

    sha256(stage name, stage version, the values of its ``reads`` fields, upstream keys)

so two jobs of a sweep that differ only downstream share every upstream entry, and changing any
field a stage reads (or bumping its ``version`` when its code changes meaning) recomputes it and
everything after it. A stage function only ever *sees* its declared fields (``ctx.cfg`` is built
from ``reads`` alone), so the key cannot miss a field the stage uses.

Atomicity: a stage writes into ``<root>/<stage>/.tmp-<key>-<uuid>`` and is renamed to
``<root>/<stage>/<key>`` when it finished, under a file lock on ``<key>.lock`` (fcntl locks are
released by the kernel when a holder dies, even by SIGKILL). A killed job therefore leaves at
most a ``.tmp-*`` dir, which the next holder of the lock deletes; an entry that exists is complete.
Parallel sweep jobs (joblib, SLURM on a shared file system) block on the lock and then reuse.

Records: what a stage logs goes to the computing run's ``metrics.jsonl``, and a copy of those
records goes into the entry (``layout.STAGE_METRICS_FILE``), so a run that reuses the entry (a
later sweep sharing the cache) can still show the stage's training curves. A stage resumed after
a kill holds the records of its last attempt only.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from filelock import FileLock
from omegaconf import DictConfig, OmegaConf

from prmlab.layout import COMPUTED_LOG, REUSED_LOG
from prmlab.layout import MANIFEST_FILE as MANIFEST
from prmlab.layout import STAGE_METRICS_FILE

log = logging.getLogger(__name__)


@dataclass
class StageContext:
    """What a stage function gets: its own config subtree, a dir to write, its inputs."""

    name: str
    cfg: DictConfig  # only the fields the stage declared in ``reads``
    out: Path  # empty temp dir; everything written here becomes the cache entry
    inputs: dict[str, Path]  # upstream alias -> finished cache entry dir
    runtime: Any  # settings that do not change results (device, sandbox pool, progress bars)
    tracker: Any  # prmlab.tracking.Tracker (metrics of this stage go to the run records)
    scratch: Optional[Path] = None  # survives a killed attempt (resume checkpoints); deleted on success


@dataclass
class Stage:
    name: str
    version: int  # bump when the stage's code changes what it computes
    reads: tuple[str, ...]  # dotted config paths the stage reads (all of them)
    fn: Callable[[StageContext], Optional[dict]]  # returns summary figures (JSON-able) or None
    distributed: bool = False  # under torchrun every rank runs it (RL); else rank 0 alone
    # Read like ``reads``, but a path enters the key (and ctx.cfg) only when its value is not null:
    # an option added later with a null default keeps every existing cache entry valid.
    optional_reads: tuple[str, ...] = ()


@dataclass
class PlannedStage:
    stage: Stage
    inputs: dict[str, str]  # alias -> upstream planned-stage name
    key: str = ""


@dataclass
class StageResult:
    name: str
    key: str
    path: Path
    status: str  # computed | reused
    seconds: float
    summary: dict = field(default_factory=dict)
    computed_with: dict = field(default_factory=dict)  # the entry's numerics (Runtime.numerics), {} if unknown


def select_fields(cfg: DictConfig, reads: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """The sub-config made of exactly the dotted paths in ``reads`` (resolved, plain data), plus
    those in ``optional`` whose value is not null. An optional path inside a group that ``reads``
    takes whole (``algo.warmup_steps`` in ``algo``) is left out of it while null, too."""
    out: dict = {}
    for path in (*reads, *optional):
        value = OmegaConf.select(cfg, path, throw_on_missing=True)
        if value is None and path in optional:
            _drop(out, path.split("."))
            continue
        if isinstance(value, DictConfig) or OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        node = out
        parts = path.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _drop(tree: dict, parts: list[str]) -> None:
    """Remove the dotted path ``parts`` from the nested dict ``tree`` where it is there."""
    for p in parts[:-1]:
        tree = tree.get(p)
        if not isinstance(tree, dict):
            return
    tree.pop(parts[-1], None)


def stage_key(stage: Stage, fields: dict, upstream_keys: dict[str, str]) -> str:
    payload = json.dumps(
        {"stage": stage.name, "version": stage.version, "fields": fields, "upstream": upstream_keys},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


class StageCache:
    """``<root>/<stage>/<key>/`` directories, written atomically under a file lock."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def entry(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def lock(self, stage: str, key: str) -> Path:
        """The file lock held while the entry is computed."""
        return self.root / stage / f"{key}.lock"

    def scratch(self, stage: str, key: str) -> Path:
        """The dir that survives a killed attempt (resume checkpoints); deleted when the entry is done."""
        return self.root / stage / f".scratch-{key}"

    def is_complete(self, stage: str, key: str) -> bool:
        return (self.entry(stage, key) / MANIFEST).is_file()

    def get_or_compute(self, stage: str, key: str, compute: Callable[[Path], dict], meta: dict) -> tuple[Path, str, dict]:
        final = self.entry(stage, key)
        if self.is_complete(stage, key):
            return final, "reused", _read_manifest(final).get("summary", {})
        final.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.lock(stage, key))):
            if self.is_complete(stage, key):  # another job finished it while we waited
                return final, "reused", _read_manifest(final).get("summary", {})
            # We hold the lock, so any temp dir for this key belongs to a dead job.
            for stale in final.parent.glob(f".tmp-{key}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            if final.exists():  # a dir without manifest cannot come from us; never trust it
                shutil.rmtree(final, ignore_errors=True)
            tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                t0 = time.time()
                summary = compute(tmp) or {}
                # seconds: what computing the entry took (analysis.plan projects a sweep's cost from it)
                manifest = dict(meta, summary=summary, seconds=round(time.time() - t0, 1), finished=time.time())
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
                os.rename(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return final, "computed", summary


def _read_manifest(path: Path) -> dict:
    return json.loads((path / MANIFEST).read_text())


def _records_end(tracker: Any) -> Optional[int]:
    """Where the run's metrics file ends now; None for a tracker that keeps no file."""
    path = getattr(tracker, "metrics_path", None)
    return Path(path).stat().st_size if path is not None and Path(path).is_file() else None


def _copy_stage_records(tracker: Any, stage: str, start: Optional[int], entry: Path) -> None:
    """Copy the records ``stage`` logged (the run's metrics file from byte ``start`` on) into the entry.

    The tracker writes line-buffered, so every record logged so far is in the file."""
    if start is None:
        return
    with open(tracker.metrics_path, "rb") as f:
        f.seek(start)
        lines = [line for line in f.read().splitlines() if line.strip()]
    mine = [line for line in lines if json.loads(line).get("stage") == stage]
    if mine:
        (entry / STAGE_METRICS_FILE).write_bytes(b"\n".join(mine) + b"\n")


def plan_keys(cfg: DictConfig, plan: list[PlannedStage]) -> list[PlannedStage]:
    """Fill in every planned stage's cache key, upstream first."""
    keys: dict[str, str] = {}
    for p in plan:
        upstream = {alias: keys[name] for alias, name in p.inputs.items()}
        p.key = stage_key(p.stage, select_fields(cfg, p.stage.reads, p.stage.optional_reads), upstream)
        keys[p.stage.name] = p.key
    return plan


class NullTracker:
    """What non-main ranks log to: nothing (rank 0 writes the records)."""

    stage = ""

    def log(self, *args, **kwargs) -> None:
        pass


def run_plan(cfg: DictConfig, plan: list[PlannedStage], cache: StageCache, runtime: Any, tracker: Any) -> list[StageResult]:
    """Run (or reuse) every planned stage in order. Under torchrun, rank 0 owns the cache and
    tells the other ranks, by one broadcast per stage (two for a data-parallel stage it
    computes: "compute" before, "done" after), whether to join the computation or to read the
    finished entry."""
    from prmlab import distributed as D

    plan_keys(cfg, plan)
    paths: dict[str, Path] = {}
    results = []
    for p in plan:
        st = p.stage
        fields = select_fields(cfg, st.reads, st.optional_reads)
        inputs = {alias: paths[name] for alias, name in p.inputs.items()}
        scratch = cache.scratch(st.name, p.key)
        t0 = time.time()

        def call(out: Path, trk: Any, st=st, fields=fields, inputs=inputs, scratch=scratch) -> dict:
            ctx = StageContext(st.name, OmegaConf.create(fields), out, inputs, runtime, trk, scratch)
            trk.stage = st.name
            with runtime.autocast() if runtime is not None else contextlib.nullcontext():
                return st.fn(ctx) or {}

        if D.is_main():
            def compute(tmp: Path, st=st, call=call, scratch=scratch) -> dict:
                log.info("stage %s: computing (key %s)", st.name, p.key)
                if st.distributed:
                    D.broadcast(("compute",))
                start = _records_end(tracker)
                summary = call(tmp, tracker)
                _copy_stage_records(tracker, st.name, start, tmp)
                shutil.rmtree(scratch, ignore_errors=True)
                return summary

            meta = {"stage": st.name, "version": st.version, "key": p.key, "fields": fields,
                    "inputs": {a: str(v) for a, v in inputs.items()},
                    "computed_with": runtime.numerics() if runtime is not None else {}}
            path, status, summary = cache.get_or_compute(st.name, p.key, compute, meta)
            computed_with = _read_manifest(path).get("computed_with") or {}  # a reused entry's own
            if D.world() > 1:
                D.broadcast(("done", path, status, summary))
        else:
            msg = D.broadcast(None)
            if msg[0] == "compute":  # join the data-parallel computation; rank 0 keeps the output
                import tempfile

                with tempfile.TemporaryDirectory(prefix=f"prmlab-rank{D.rank()}-") as tmp:
                    call(Path(tmp), NullTracker())
                msg = D.broadcast(None)
            _, path, status, summary = msg
            computed_with = {}
        dt = time.time() - t0
        if status == "reused":
            log.info(REUSED_LOG, st.name, path)
        else:
            log.info(COMPUTED_LOG, st.name, dt, path)
        paths[st.name] = path
        results.append(StageResult(st.name, p.key, path, status, dt, summary, computed_with))
    return results
