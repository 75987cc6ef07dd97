"""Parallel jobs racing for the same upstream stage through a shared stage cache, and the sweep
launchers (joblib, submitit) that start such jobs.

The race tests start several real processes at the same instant (they spin on a "go" file) on one
cache dir, as sweep jobs on a shared file system do. Each runs a two-stage plan: a shared ``up``
stage (same key everywhere; it counts its own executions in a side file, sleeps to widen the race
window and writes a multi-file payload) and a per-job ``down`` stage that checks the payload it
reads. Required: ``up`` computed exactly once, every job reuses that one entry, the entry is
complete, and no ``.tmp-*`` dir is left; if the computing job is SIGKILLed mid-stage, a waiting
job takes over and the entry is still complete.
"""
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
N_FILES, FILE_BYTES = 4, 200_000

WORKER = textwrap.dedent(f"""
    import hashlib, os, sys, time
    from pathlib import Path
    from omegaconf import OmegaConf
    from prmlab.pipeline import PlannedStage, Stage, StageCache, run_plan

    cache, job, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    counter = Path(cache).parent / "up_runs.txt"

    class Tracker:
        stage = ""
        def log(self, *a, **k): pass

    def payload(i):
        return hashlib.sha256(str(i).encode()).digest() * ({FILE_BYTES} // 32)

    def up(ctx):
        with open(counter, "a") as f:  # O_APPEND: one whole line per execution
            f.write(f"{{os.getpid()}}\\n")
        first = len(counter.read_text().splitlines()) == 1
        for i in range({N_FILES}):
            (ctx.out / f"part{{i}}.bin").write_bytes(payload(i))
            if mode == "kill_first" and first:
                print("HOLDING", flush=True)
                time.sleep(120)  # the test kills this job here, half-way through its output
            time.sleep(0.1)  # keep the race window open while the other jobs arrive
        return {{"files": {N_FILES}}}

    def down(ctx):
        parts = sorted(ctx.inputs["up"].glob("part*.bin"))
        assert [p.read_bytes() for p in parts] == [payload(i) for i in range({N_FILES})], "corrupt upstream"
        (ctx.out / "ok").write_text(ctx.cfg.job)

    go = Path(cache).parent / "go"
    while not go.exists():  # start together
        time.sleep(0.01)
    plan = [PlannedStage(Stage("up", 1, ("shared",), up), {{}}),
            PlannedStage(Stage("down", 1, ("shared", "job"), down), {{"up": "up"}})]
    res = run_plan(OmegaConf.create({{"shared": 7, "job": job}}), plan, StageCache(cache), None, Tracker())
    print("RESULT", " ".join(f"{{r.name}}={{r.status}}" for r in res), res[0].path, flush=True)
""")


def _start(tmp_path, n, mode):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), f"job{i}", mode],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(n)]
    time.sleep(1.0)  # let every interpreter import and reach the start line
    (tmp_path / "go").touch()
    return procs


def _finish(procs, timeout=120):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-2000:]
        outs.append(next(l for l in out.splitlines() if l.startswith("RESULT")).split())
    return outs


def _check_entry(cache: Path):
    """The one ``up`` entry is complete and nothing temporary is left anywhere in the cache."""
    entries = [e for e in (cache / "up").iterdir() if not e.name.endswith(".lock")]
    assert [e.name for e in entries if e.name.startswith(".")] == []  # no .tmp-* / .scratch-*
    assert len(entries) == 1
    entry = entries[0]
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["stage"] == "up" and manifest["summary"] == {"files": N_FILES}
    for i in range(N_FILES):
        data = (entry / f"part{i}.bin").read_bytes()
        assert data == hashlib.sha256(str(i).encode()).digest() * (FILE_BYTES // 32)
    assert not [p for p in cache.rglob(".tmp-*")]
    return entry


def test_parallel_jobs_compute_the_shared_stage_once(tmp_path):
    n = 4
    outs = _finish(_start(tmp_path, n, "plain"))
    runs = (tmp_path / "up_runs.txt").read_text().splitlines()
    assert len(runs) == 1  # computed exactly once ...
    statuses = sorted(o[1] for o in outs)
    assert statuses == ["up=computed"] + ["up=reused"] * (n - 1)  # ... and reused by every other job
    assert all(o[2] == "down=computed" for o in outs)  # each job's own stage read a sound entry
    entry = _check_entry(tmp_path / "cache")
    assert {o[3] for o in outs} == {str(entry)}
    downs = [e for e in (tmp_path / "cache" / "down").iterdir() if not e.name.endswith(".lock")]
    assert sorted((d / "ok").read_text() for d in downs) == [f"job{i}" for i in range(n)]


def test_a_killed_job_is_taken_over_by_a_waiting_one(tmp_path):
    """SIGKILL the job that holds the lock half-way through writing the shared stage: one of the
    jobs blocked on the lock computes it from scratch, the others reuse that entry."""
    n = 3
    procs = _start(tmp_path, n, "kill_first")
    counter = tmp_path / "up_runs.txt"
    deadline = time.time() + 60
    while not (counter.exists() and counter.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    victim_pid = int(counter.read_text().split()[0])
    victim = next(p for p in procs if p.pid == victim_pid)
    assert victim.stdout.readline().strip() == "HOLDING"
    assert list((tmp_path / "cache" / "up").glob(".tmp-*"))  # its half-written output exists now
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    outs = _finish([p for p in procs if p is not victim])
    runs = counter.read_text().splitlines()
    assert len(runs) == 2 and runs[0] == str(victim_pid)  # the victim's attempt + one takeover
    assert sorted(o[1] for o in outs) == ["up=computed"] + ["up=reused"] * (n - 2)
    _check_entry(tmp_path / "cache")


# ---------------------------------------------------------------------------------------------
# real sweeps through Hydra's launchers


def _sweep(tmp_path, launcher_args, timeout=300):
    env = dict(os.environ, PRMLAB_CACHE=str(tmp_path / "cache"), WANDB_MODE="offline", PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT))
    args = [sys.executable, "-m", "prmlab.run", "-m", *launcher_args, "experiment=smoke",
            "eval.temperature=0.2,0.5,0.8", "sft.epochs=1", "eval.n_samples=1", "eval.ks=[1]", "task.n_test=6",
            "logger=none", "threads=1", "progress=false",
            f"hydra.sweep.dir={tmp_path}/sweep"]
    r = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    summaries = [json.loads(p.read_text()) for p in sorted((tmp_path / "sweep").glob("*/summary.json"))]
    assert len(summaries) == 3
    for stage in ("tasks", "sft"):  # shared upstream: computed by one job, reused by the others
        st = [s["stages"][stage] for s in summaries]
        assert sorted(x["status"] for x in st) == ["computed", "reused", "reused"]
        assert len({x["key"] for x in st}) == 1
        entries = [e for e in (tmp_path / "cache" / stage).iterdir() if not e.name.endswith(".lock")]
        assert len(entries) == 1 and (entries[0] / "manifest.json").is_file()
    assert [s["stages"]["eval"]["status"] for s in summaries] == ["computed"] * 3
    assert len({s["stages"]["eval"]["key"] for s in summaries}) == 3
    assert not list((tmp_path / "cache").rglob(".tmp-*"))


def test_joblib_sweep_shares_upstream_stages(tmp_path):
    """Three smoke jobs in parallel processes (joblib launcher) that differ only in evaluation."""
    _sweep(tmp_path, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=3"])


@pytest.mark.slow
def test_submitit_local_sweep_shares_upstream_stages(tmp_path):
    """The submitit launcher's local executor: the SLURM launcher's code path minus the scheduler."""
    _sweep(tmp_path, ["hydra/launcher=submitit_local"])


@pytest.mark.parametrize("launcher,target", [
    ("joblib", "JoblibLauncher"), ("submitit_slurm", "SlurmLauncher"), ("submitit_local", "LocalLauncher"),
    ("slurm_cpu", "SlurmLauncher"), ("slurm_gpu", "SlurmLauncher")])
def test_launchers_compose_with_prmlab_config(compose, launcher, target):
    cfg = compose([f"hydra/launcher={launcher}", "experiment=smoke", "strategy=full"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith(target)
    assert cfg.strategy.name == "full" and cfg.experiment == "smoke"


@pytest.mark.parametrize("launcher,flags", [
    ("slurm_cpu", ["--cpus-per-task=8", "--mem=16GB", "--time=240", "--partition=cpu"]),
    ("slurm_gpu", ["--gpus-per-node=1", "--cpus-per-task=16", "--mem=64GB", "--time=720", "--partition=cpu"])])
def test_project_slurm_presets_make_valid_sbatch_files(compose, tmp_path, launcher, flags):
    """Turn the preset into sbatch parameters as the launcher and submitit do (generic names such
    as ``timeout_min`` through submitit's SLURM equivalence table, the rest by their own name) and
    render the sbatch header submitit would submit; an unknown parameter raises there."""
    pytest.importorskip("submitit")
    from omegaconf import OmegaConf
    from submitit.slurm.slurm import SlurmExecutor, _make_sbatch_string

    cfg = compose([f"hydra/launcher={launcher}", "hydra.launcher.partition=cpu"], return_hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    for k in ("_target_", "submitit_folder", "max_num_timeout", "name"):  # used by the launcher itself
        params.pop(k)
    eq = SlurmExecutor._equivalence_dict()
    sbatch = {eq.get(k, k): v for k, v in params.items() if v is not None}
    sbatch["mem"] = f"{sbatch['mem']}GB"
    text = _make_sbatch_string(command="python -m prmlab.run", folder=str(tmp_path), **sbatch)
    for flag in flags:
        assert f"#SBATCH {flag}" in text, text
