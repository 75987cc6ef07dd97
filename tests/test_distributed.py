"""torchrun data parallel on CPU (gloo): a 2-process run's first update matches the 1-process run's.

Both runs use the same global batch (4 prompts x 4 samples), the same per-row sampling seeds
(counter-based, so a sample does not depend on which rank draws it), one epoch with one global
minibatch and per-sequence loss averaging, so the DDP-averaged gradient equals the single-process
gradient up to float summation order. Tolerance: relative L2 difference of the parameter update
below 1e-3. The smoke policy rarely passes a test, so an entropy bonus guarantees a
non-zero gradient whatever the rewards.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["experiment=smoke", "algo=grpo", "prm=none", "reward=pass_rate", "algo.entropy_coef=0.01", "algo.steps=1", "algo.n_checkpoints=1", "algo.epochs=1",
        "algo.prompts_per_step=4", "algo.group_size=4", "algo.minibatch_size=16", "algo.oversample=1",
        "algo.loss_agg=seq_mean_token_mean", "logger=none", "progress=false", "eval.n_samples=1", "eval.ks=[1]"]


def _run(cmd, cache, run_dir, extra=()):
    env = dict(os.environ, PRMLAB_CACHE=str(cache), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    r = subprocess.run(cmd + ARGS + list(extra) + [f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.mark.parametrize("micro_tokens", [4096, 256])
def test_two_process_first_update_matches_one_process(tmp_path, micro_tokens):
    """micro_tokens=256: each rank splits its 8 rows into several length-sorted pieces, as many as
    its own lengths need; DDP must still all-reduce once per minibatch (core.gradient_sync)."""
    extra = [f"algo.micro_tokens={micro_tokens}"]
    _run([sys.executable, "-m", "prmlab.run"], tmp_path / "c1", tmp_path / "r1", extra)
    # share the upstream stages (tasks, sft): only the data-parallel stage differs
    shutil.copytree(tmp_path / "c1", tmp_path / "c2")
    shutil.rmtree(tmp_path / "c2" / "rl_baseline")
    shutil.rmtree(tmp_path / "c2" / "eval")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                "-m", "prmlab.run"]
    _run(torchrun, tmp_path / "c2", tmp_path / "r2", extra)
    s1 = json.loads((tmp_path / "r1" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "r2" / "summary.json").read_text())
    assert s2["stages"]["sft"]["status"] == "reused" and s2["stages"]["rl_baseline"]["status"] == "computed"
    assert s1["stages"]["rl_baseline"]["key"] == s2["stages"]["rl_baseline"]["key"]
    sft = _weights(Path(s1["stages"]["sft"]["path"]) / "policy")
    w1 = _weights(Path(s1["stages"]["rl_baseline"]["path"]) / "policy")
    w2 = _weights(Path(s2["stages"]["rl_baseline"]["path"]) / "policy")
    d1 = torch.cat([(w1[k] - sft[k]).flatten() for k in sft])
    d2 = torch.cat([(w2[k] - sft[k]).flatten() for k in sft])
    assert d1.norm() > 0  # the update did something
    rel = ((d1 - d2).norm() / d1.norm()).item()
    print(f"2-process vs 1-process first update: relative L2 difference {rel:.2e}")
    assert rel < 1e-3, rel
    # the logged step metrics agree too (same samples, same verdicts)
    m1 = [json.loads(l) for l in (tmp_path / "r1" / "metrics.jsonl").read_text().splitlines() if '"rl_baseline"' in l]
    m2 = [json.loads(l) for l in (tmp_path / "r2" / "metrics.jsonl").read_text().splitlines() if '"rl_baseline"' in l]
    assert m1[0]["rollout/response_tokens"] == m2[0]["rollout/response_tokens"]
    assert m1[0]["reward/pass_rate"] == m2[0]["reward/pass_rate"]
