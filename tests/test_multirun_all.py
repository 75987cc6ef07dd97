"""Slow: ``SMOKE=1 ./multirun.sh all`` on a fresh clone of the committed tree runs every
experiment's sweep and its analysis, i.e. the wiring of each ``./multirun.sh NAME`` at smoke size,
with no cache, outputs or results present. 132 jobs, about 21 min of CPU time (docs/BENCHMARKS.md).
Run with ``python -m pytest -m slow tests/test_multirun_all.py``."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.conf import experiments

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_smoke_multirun_all_on_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = dict(os.environ, SMOKE="1", PRMLAB_CACHE=str(tmp_path / "cache"), PYTHON=sys.executable,
               WANDB_MODE="offline")
    r = subprocess.run(["bash", "multirun.sh", "all", "logger=none", "progress=false"], cwd=clone, env=env,
                       capture_output=True, text=True, timeout=3 * 3600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    top = (clone / "results" / "index.md").read_text()
    for name in experiments(clone / "conf"):
        index = (clone / "results" / name / "index.md").read_text()
        assert f"({name}/index.md)" in top, name
        assert "incomplete" not in index.lower(), (name, index[:2000])
        assert (clone / "results" / name / "runs.csv").is_file(), name
