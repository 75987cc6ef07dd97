"""kill -9 inside each stage, then a rerun, gives the final figures of an uninterrupted run.

Smoke size. An uninterrupted run fills cache A. In cache B the run is started again and again;
each attempt is killed with SIGKILL a seeded random moment after it logs "stage NAME: computing"
for the next stage not yet killed, and the last attempt runs to the end. The cache's temp-dir and
rename protocol (prmlab/pipeline.py) and the RL stages' resume checkpoints (prmlab/rl/state.py)
must make the two summaries equal in every figure but timings, and leave no temp dir behind.
"""
import json
import os
import random
import signal
import subprocess
import sys

from scripts.same_results import _clean, _close
from tests.conftest import ROOT

STAGES = ["tasks", "sft", "rl_baseline", "prm_collect", "prm_select", "prm_train", "rl", "eval"]
ARGS = ["experiment=smoke", "logger=none", "progress=false", "threads=1"]


def _cmd(tmp_path, name):
    return [sys.executable, "-m", "prmlab.run", *ARGS, f"hydra.run.dir={tmp_path}/{name}"]


def _env(cache):
    return dict(os.environ, PRMLAB_CACHE=str(cache), WANDB_MODE="offline", PYTHONUNBUFFERED="1")


def _kill_inside(tmp_path, cache, stage, delay, attempt):
    """Start a run; SIGKILL it `delay` seconds after it starts computing `stage`. Returns whether it
    was killed (a stage may finish, and the run with it, before the kill lands)."""
    p = subprocess.Popen(_cmd(tmp_path, f"attempt{attempt}"), cwd=ROOT, env=_env(cache), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if f"stage {stage}: computing" in line:
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
            break
    p.wait(timeout=300)
    p.stdout.close()
    return p.returncode == -signal.SIGKILL


def test_kill_9_in_every_stage_then_rerun_gives_the_same_summary(tmp_path):
    ref = subprocess.run(_cmd(tmp_path, "ref"), cwd=ROOT, env=_env(tmp_path / "A"), capture_output=True, text=True,
                         timeout=300)
    assert ref.returncode == 0, ref.stdout[-2000:] + ref.stderr[-2000:]
    rng = random.Random(0)
    killed = []
    for i, stage in enumerate(STAGES):
        if _kill_inside(tmp_path, tmp_path / "B", stage, rng.uniform(0.05, 0.6), i):
            killed.append(stage)
    final = subprocess.run(_cmd(tmp_path, "final"), cwd=ROOT, env=_env(tmp_path / "B"), capture_output=True,
                           text=True, timeout=300)
    assert final.returncode == 0, final.stdout[-2000:] + final.stderr[-2000:]
    # a short stage may finish before its kill lands (timing); an RL stage, resumed from its
    # checkpoint, must have been hit, and most stages at all
    assert {"rl_baseline", "rl"} & set(killed) and len(killed) >= 4, killed
    # sandbox/* counts the executions of the last process only, which after a resume is a part of the run
    a, b = ({k: v for k, v in _clean(json.loads((tmp_path / d / "summary.json").read_text())).items()
             if not k.startswith("sandbox/")} for d in ("ref", "final"))
    # NaN equals NaN here (e.g. a validation AUC over one class): _close compares exactly otherwise
    assert _close(a, b, 0.0), {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if not _close(a.get(k), b.get(k), 0.0)}
    assert not list((tmp_path / "B").rglob(".tmp-*"))
