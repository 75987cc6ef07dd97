"""1 vs 2 processes (torchrun, gloo) on CPU: RL step time and agreement of the first update.

    python benchmarks/bench_distributed.py [--steps 3] [--prompts 8] [--group 8]

Runs the smoke-size GRPO job twice on the same global batch and seed: one process with
``threads`` torch threads (default 2, the whole machine here) and ``torchrun --nproc_per_node 2``
with one thread per rank, each from the same cached SFT policy. Prints the per-step time split
(generate / execute / train, from ``metrics.jsonl``) of each, the speed-up, and the relative L2
difference of the parameter update after the run (same samples: per-row counter-based noise).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], args: list[str], cache: Path, run_dir: Path, threads: int) -> float:
    env = dict(os.environ, PRMLAB_CACHE=str(cache), OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    r = subprocess.run(cmd + args + [f"hydra.run.dir={run_dir}", f"threads={threads}"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def steps(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "perf/time_train" in r]


def update(summary: dict):
    from safetensors.torch import load_file

    sft = load_file(str(Path(summary["stages"]["sft"]["path"]) / "policy" / "model.safetensors"))
    rl = load_file(str(Path(summary["stages"]["rl_baseline"]["path"]) / "policy" / "model.safetensors"))
    import torch

    return torch.cat([(rl[k] - sft[k]).flatten() for k in sft])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the 1-process run")
    a = ap.parse_args()
    args = ["experiment=smoke", "algo=grpo", "reward=pass_rate", "algo.entropy_coef=0.01", f"algo.steps={a.steps}",
            "algo.n_checkpoints=1", "algo.epochs=1", f"algo.prompts_per_step={a.prompts}", f"algo.group_size={a.group}",
            f"algo.minibatch_size={a.prompts * a.group}", "algo.loss_agg=seq_mean_token_mean", "logger=none",
            "progress=false", "eval.n_samples=1", "eval.ks=[1]"]
    tmp = Path(tempfile.mkdtemp(prefix="prmlab-bench-dist-"))
    try:
        wall1 = run([sys.executable, "-m", "prmlab.run"], args, tmp / "c1", tmp / "r1", a.threads)
        shutil.copytree(tmp / "c1", tmp / "c2")  # same tasks and SFT; only the RL stage (and eval) recomputed
        shutil.rmtree(tmp / "c2" / "rl_baseline")
        shutil.rmtree(tmp / "c2" / "eval")
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29541",
                    "-m", "prmlab.run"]
        wall2 = run(torchrun, args, tmp / "c2", tmp / "r2", 1)
        print(f"GRPO, {a.prompts} prompts x {a.group} samples per step, {a.steps} steps (smoke-size model)")
        print(f"{'run':<26} {'step s':>7} {'generate':>9} {'execute':>8} {'train':>7} {'wall s':>7}")
        med = {}
        for name, d, wall in (("1 process", tmp / "r1", wall1), ("2 processes (gloo)", tmp / "r2", wall2)):
            rows = steps(d)
            parts = {k: statistics.median(r[f"perf/time_{k}"] for r in rows) for k in ("generate", "execute", "train")}
            med[name] = sum(parts.values())
            threads = a.threads if name == "1 process" else 1
            print(f"{name + f' x{threads} thr':<26} {med[name]:>7.2f} {parts['generate']:>9.2f} {parts['execute']:>8.2f} "
                  f"{parts['train']:>7.2f} {wall:>7.1f}")
        print(f"speed-up of the step: {med['1 process'] / med['2 processes (gloo)']:.2f}x")
        s1, s2 = (json.loads((tmp / r / "summary.json").read_text()) for r in ("r1", "r2"))
        d1, d2 = update(s1), update(s2)
        print(f"parameter update after {a.steps} steps: relative L2 difference {((d1 - d2).norm() / d1.norm()).item():.2e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
